"""Figures of notebook 01-explore: what data we got and what cleaning did.

Every function takes an artifact of the ``data`` step (see
:func:`segkit.data.report_tables.explore_artifacts`) and returns a
:class:`~segkit.display.ReportFigure` with a title and labelled axes. An artifact
that a run does not have (no transactions in an attribute-only run, no customers
table in a transactions run) may be passed as ``None``: the function then returns
a small figure that says why there is nothing to show, so the notebook's cells stay
unconditional.

Figures are built without ``pyplot``: a notebook shows each one once (as the cell's
PNG result) and they never pile up in ``pyplot``. The tables and sentences of the
same notebook live in :mod:`segkit.data.report_tables`; :class:`ReportFigure`,
:class:`Table` and :class:`Note` are re-exported here from :mod:`segkit.display`
for the modules that import them from this one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from segkit.data.report_tables import ABSENT, ledger_frame, need_frame
from segkit.display import Note, ReportFigure, Table
from segkit.figure_cache import cached

# seaborn is imported in the chart functions that use it: a page whose figures
# all come from the figure cache (segkit.figure_cache) never loads it, about
# 1.6 s of every notebook kernel's start

__all__ = [
    "Note",
    "ReportFigure",
    "Table",
    "ledger_chart",
    "orders_over_time",
    "customers_by_country",
    "order_value_distribution",
    "missingness_chart",
]

#: The first two colours of seaborn's "deep" palette, and a grey.
_BLUE, _ORANGE, _GREY = "#4c72b0", "#dd8452", "0.6"


def _note_figure(title: str, message: str) -> Figure:
    fig = ReportFigure(figsize=(8, 2.2), layout="constrained")
    ax = fig.subplots()
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True, color="0.3")
    ax.set_axis_off()
    return fig


def _label(value: float) -> str:
    for limit, suffix in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:,.3g}{suffix}"
    return f"{value:,.0f}"


@cached
def ledger_chart(ledger: pd.DataFrame | None) -> Figure:
    """Rows and value removed by each cleaning rule, in two panels.

    Parameters
    ----------
    ledger : DataFrame or None
        ``ledger.csv`` (columns ``rule, rows, value``; rows ``raw`` and ``kept``
        are left out of the bars).

    Returns
    -------
    Figure
        Left: rows removed per rule; right: value of the removed lines (negative
        for cancellations, whose lines carry negative amounts).
    """
    import seaborn as sns

    title = "What each cleaning rule removed"
    if ledger is None:
        return _note_figure(title, "No cleaning ledger: this run has no transactions.")
    ledger = ledger_frame(ledger)
    removed = ledger[~ledger["rule"].isin(["raw", "kept"])]
    labels = removed["rule"].astype("str").str.replace("_", " ").tolist()
    fig = ReportFigure(figsize=(11, 0.45 * len(labels) + 1.8), layout="constrained")
    with sns.axes_style("whitegrid"):
        left, right = fig.subplots(1, 2, sharey=True)
    for ax, column, colour, xlabel in (
        (left, "rows", _BLUE, "order lines removed"),
        (right, "value", _ORANGE, "value of the removed lines (returns are negative)"),
    ):
        values = removed[column].astype("float64").to_numpy()
        bars = ax.barh(labels, values, color=colour)
        ax.bar_label(bars, labels=[_label(v) for v in values], padding=3, fontsize=8)
        ax.set_xlabel(xlabel)
        ax.axvline(0, color="0.2", linewidth=0.8)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _label(v)))
        ax.margins(x=0.25)
    left.set_ylabel("cleaning rule (applied top to bottom)")
    left.invert_yaxis()
    raw, kept = int(ledger["rows"].iloc[0]), int(ledger["rows"].iloc[-1])
    fig.suptitle(f"{title}: {raw:,} lines read, {kept:,} kept")
    return fig


def _canonical(transactions: pd.DataFrame, columns: list[str]) -> None:
    need_frame(
        transactions,
        columns,
        "the transactions",
        "pass transactions.parquet (clean canonical transactions) of the data step",
    )


@cached
def orders_over_time(transactions: pd.DataFrame | None) -> Figure:
    """Orders and revenue per calendar month, in two stacked panels.

    Parameters
    ----------
    transactions : DataFrame or None
        Clean canonical transactions: ``order_id``, ``timestamp``, ``amount``.

    Returns
    -------
    Figure
        Distinct orders (top) and summed ``amount`` (bottom) per month; a month
        the data covers only in part is drawn hatched and light.
    """
    import seaborn as sns

    title = "Orders and revenue per month"
    if transactions is None:
        return _note_figure(title, "No transactions: this is attribute-only data.")
    _canonical(transactions, ["order_id", "timestamp", "amount"])
    stamps = pd.to_datetime(transactions["timestamp"])
    month = stamps.dt.to_period("M")
    monthly = (
        transactions.assign(month=month)
        .groupby("month")
        .agg(orders=("order_id", "nunique"), revenue=("amount", "sum"))
    )
    monthly = monthly.reindex(
        pd.period_range(monthly.index.min(), monthly.index.max(), freq="M"),
        fill_value=0,
    )
    first, last = stamps.min(), stamps.max()
    partial = [
        (p == first.to_period("M") and first.day > 1)
        or (p == last.to_period("M") and last.day < p.days_in_month)
        for p in monthly.index
    ]
    fig = ReportFigure(figsize=(11, 6), layout="constrained")
    with sns.axes_style("whitegrid"):
        top, bottom = fig.subplots(2, 1, sharex=True)
    x = np.arange(len(monthly))
    for ax, column, colour, ylabel in (
        (top, "orders", _BLUE, "orders (distinct invoices)"),
        (bottom, "revenue", _ORANGE, "revenue (sum of line values)"),
    ):
        bars = ax.bar(x, monthly[column], color=colour)
        for bar, is_partial in zip(bars, partial, strict=True):
            if is_partial:
                bar.set_alpha(0.45)
                bar.set_hatch("//")
        ax.set_ylabel(ylabel)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _label(v)))
    bottom.set_xticks(x, [p.strftime("%b %Y") for p in monthly.index], rotation=45)
    bottom.set_xlabel("month")
    if any(partial):
        top.annotate(
            "hatched: month only partly covered by the data",
            (0.01, 0.95),
            xycoords="axes fraction",
            va="top",
            fontsize=8,
            color="0.3",
        )
    fig.suptitle(f"{title} ({first:%d %b %Y} to {last:%d %b %Y})")
    return fig


@cached
def customers_by_country(
    transactions: pd.DataFrame | None, *, top: int = 10, min_share: float = 0.01
) -> Figure:
    """Customers per country: the largest countries, the rest grouped as "Other".

    Parameters
    ----------
    transactions : DataFrame or None
        Clean canonical transactions with ``customer_id`` and ``country``.
    top : int
        At most this many countries get their own bar.
    min_share : float
        Countries with a smaller share of customers go to "Other" as well, so
        there are no slivers.

    Returns
    -------
    Figure
        Horizontal bars of customers, each labelled with its count and share. A
        customer who ordered from several countries counts in the one with most
        of their order lines.
    """
    import seaborn as sns

    title = "Customers by country"
    if transactions is None or "country" not in transactions.columns:
        return _note_figure(title, "No country column is mapped for this data.")
    _canonical(transactions, ["customer_id", "country"])
    known = transactions.dropna(subset=["customer_id"])
    home = (
        known.groupby(["customer_id", "country"])
        .size()
        .rename("n")
        .reset_index()
        .sort_values(["customer_id", "n", "country"], ascending=[True, False, True])
        .drop_duplicates("customer_id")
    )
    counts = home["country"].value_counts()
    shares = counts / counts.sum()
    own = counts[(shares >= min_share)].head(top)
    rest = counts.drop(own.index)
    if len(rest):
        own = pd.concat(
            [own, pd.Series({f"Other ({len(rest)} countries)": rest.sum()})]
        )
    fig = ReportFigure(figsize=(9, 0.4 * len(own) + 1.5), layout="constrained")
    with sns.axes_style("whitegrid"):
        ax = fig.subplots()
    colours = [_GREY if str(c).startswith("Other (") else _BLUE for c in own.index]
    bars = ax.barh(own.index.astype("str"), own.to_numpy(), color=colours)
    total = counts.sum()
    text = [f"{v:,} ({v / total:.1%})" for v in own.to_numpy()]
    ax.bar_label(bars, labels=text, padding=3, fontsize=8)
    ax.invert_yaxis()
    ax.margins(x=0.18)
    ax.set_xlabel("customers")
    ax.set_ylabel("country")
    ax.set_title(f"{title} ({total:,} customers, {len(counts)} countries)")
    return fig


@cached
def order_value_distribution(transactions: pd.DataFrame | None) -> Figure:
    """Histogram of order totals on a logarithmic axis, with the median marked.

    Parameters
    ----------
    transactions : DataFrame or None
        Clean canonical transactions with ``order_id`` and ``amount``; an order's
        total is the sum of its lines. Orders with a total <= 0 are left out.

    Returns
    -------
    Figure
    """
    import seaborn as sns

    title = "How much is an order worth?"
    if transactions is None:
        return _note_figure(title, "No transactions: this is attribute-only data.")
    _canonical(transactions, ["order_id", "amount"])
    totals = transactions.groupby("order_id")["amount"].sum()
    totals = totals[totals > 0]
    fig = ReportFigure(figsize=(9, 4.5), layout="constrained")
    with sns.axes_style("whitegrid"):
        ax = fig.subplots()
    if totals.empty:
        ax.set_axis_off()
        ax.set_title(title)
        ax.text(0.5, 0.5, "No order has a positive total.", ha="center")
        return fig
    sns.histplot(x=totals.to_numpy(), log_scale=True, bins=50, color=_BLUE, ax=ax)
    median = float(totals.median())
    ax.axvline(median, color=_ORANGE, linewidth=2)
    ax.annotate(
        f"median order: {median:,.0f}",
        (median, 0.97),
        xycoords=("data", "axes fraction"),
        xytext=(8, 0),
        textcoords="offset points",
        va="top",
        color=_ORANGE,
        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8},
    )
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.10g}"))
    ax.set_xlabel("order total (sum of its line values, log scale)")
    ax.set_ylabel("orders")
    ax.set_title(f"{title} ({len(totals):,} orders)")
    return fig


@cached
def missingness_chart(profile: pd.DataFrame | None) -> Figure:
    """Share of missing values per column of a raw table.

    Parameters
    ----------
    profile : DataFrame or None
        ``quality.csv`` / ``quality_customers.csv`` (``column``, ``missing_share``).

    Returns
    -------
    Figure
        One horizontal bar per column, labelled with its share.
    """
    import seaborn as sns

    title = "Missing values per column"
    if profile is None:
        return _note_figure(title, ABSENT)
    need_frame(
        profile,
        ["column", "missing_share"],
        "the quality profile",
        "pass quality.csv or the output of segkit.data.quality.quality_profile",
    )
    shares = profile["missing_share"].astype("float64").to_numpy()
    fig = ReportFigure(figsize=(9, 0.35 * len(profile) + 1.5), layout="constrained")
    with sns.axes_style("whitegrid"):
        ax = fig.subplots()
    bars = ax.barh(profile["column"].astype("str"), shares, color=_BLUE)
    ax.bar_label(bars, labels=[f"{v:.1%}" for v in shares], padding=3, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, max(0.05, float(shares.max()) * 1.2 if len(shares) else 0.05))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set_xlabel("share of rows with no value")
    ax.set_ylabel("column")
    worst = int(np.argmax(shares)) if len(shares) else 0
    detail = (
        f"most: {profile['column'].iloc[worst]}, {shares[worst]:.1%}"
        if len(shares) and shares.any()
        else "none missing"
    )
    ax.set_title(f"{title} ({detail})")
    return fig
