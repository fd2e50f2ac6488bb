"""Figures and tables of notebook 02-features: how each customer is described.

Every function takes artifacts of the ``features`` step (see
:func:`features_artifacts`) and returns a matplotlib
:class:`~matplotlib.figure.Figure` with a title, or a table ready to show. An
artifact a run does not have (no RFM table for attribute-only data, no attributes for
a transactions-only run) may be passed as ``None``: the function then returns a
small figure or table that says why there is nothing to show, so the notebook's
cells stay unconditional. No function shows a customer id: figures and tables are
aggregates. Figures are :class:`segkit.data.report.ReportFigure` objects, which
notebooks show as PNG without ``pyplot``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from segkit.data.report import ReportFigure
from segkit.display import empty_figure as _empty_figure
from segkit.exceptions import SchemaError
from segkit.features.behaviour import FEATURE_DEFINITIONS
from segkit.features.lifecycle import STATES
from segkit.features.rfm import rfm_summary

if TYPE_CHECKING:
    from segkit.context import RunContext

__all__ = [
    "features_artifacts",
    "definitions_table",
    "feature_summary_table",
    "notes_table",
    "treatment_table",
    "duplicates_table",
    "lifecycle_mix",
    "distributions_before_after",
    "correlation_heatmap",
    "rfm_grid",
    "rfm_segments_chart",
    "rfm_segments_table",
    "attribute_charts",
]

_FRAMES = {
    "features": "features.parquet",
    "rfm": "rfm.parquet",
    "matrix": "matrix.parquet",
    "definitions": "feature_definitions.csv",
    "notes": "preprocess_notes.csv",
    "plan": "preprocess_plan.csv",
    "lifecycle": "lifecycle.parquet",
}
_BLUE, _ORANGE = sns.color_palette("deep")[0], sns.color_palette("deep")[1]


def features_artifacts(ctx: RunContext) -> dict[str, Any]:
    """Load the artifacts of the ``features`` step that this run has.

    Parameters
    ----------
    ctx : RunContext
        The open run (the ``features`` step must have run).

    Returns
    -------
    dict
        Frames ``features``, ``rfm``, ``matrix``, ``definitions``, ``notes``,
        ``plan``, ``lifecycle`` (None when absent, e.g. no RFM for attribute-only data) and
        ``config`` (the run's config).
    """
    out: dict[str, Any] = {
        key: ctx.load_frame(name) if ctx.has(name) else None
        for key, name in _FRAMES.items()
    }
    out["config"] = ctx.config
    return out


def _need(frame: pd.DataFrame, columns: list[str], what: str, fix: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"{what} lacks the columns {missing} (columns: {list(frame.columns)}); {fix}"
        )


def _numeric(frame: pd.DataFrame) -> list[str]:
    return [
        c
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
    ]


def definitions_table(definitions: pd.DataFrame) -> pd.DataFrame:
    """The feature definitions, indexed by feature name, for display.

    Parameters
    ----------
    definitions : DataFrame
        ``feature_definitions.csv`` (columns ``name``, ``group``, ``unit``,
        ``definition``).
    """
    _need(
        definitions,
        ["name", "group", "unit", "definition"],
        "the definitions table",
        "pass feature_definitions.csv of the features step",
    )
    table = definitions.fillna("").set_index("name")
    table.index.name = "feature"
    return table


def feature_summary_table(features: pd.DataFrame) -> pd.DataFrame:
    """Median, 5th and 95th percentile and share of zeros of each numeric feature.

    Parameters
    ----------
    features : DataFrame
        ``features.parquet`` (one row per customer).

    Returns
    -------
    DataFrame
        Index ``feature``; columns ``median``, ``p5``, ``p95``, ``mean``,
        ``zeros %`` (aggregates only).
    """
    numeric = features[_numeric(features)]
    table = pd.DataFrame(
        {
            "median": numeric.median(),
            "p5": numeric.quantile(0.05),
            "p95": numeric.quantile(0.95),
            "mean": numeric.mean(),
            "zeros %": (numeric == 0).mean() * 100,
        }
    ).round(2)
    table.index.name = "feature"
    return table


def notes_table(notes: pd.DataFrame | None) -> pd.DataFrame:
    """The rules the features step applied, with how many customers or columns each hit.

    Parameters
    ----------
    notes : DataFrame or None
        ``preprocess_notes.csv`` (columns ``source``, ``rule``, ``count``, ``detail``).
    """
    if notes is None or notes.empty:
        return pd.DataFrame({"note": ["No rule was applied."]})
    _need(
        notes,
        ["source", "rule", "count", "detail"],
        "the notes table",
        "pass preprocess_notes.csv of the features step",
    )
    return (
        notes[["source", "rule", "count", "detail"]].fillna("").reset_index(drop=True)
    )


def treatment_table(plan: pd.DataFrame | None) -> pd.DataFrame:
    """What preprocessing did to each feature column, for a reviewer.

    Parameters
    ----------
    plan : DataFrame or None
        ``preprocess_plan.csv`` (the output of
        :meth:`segkit.features.preprocess.Preprocessor.describe`).

    Returns
    -------
    DataFrame
        Index ``feature``; columns ``kind``, ``action``, ``treatment``, ``reason``,
        ``correlated_with`` (blank where nothing applies).
    """
    if plan is None:
        return pd.DataFrame({"note": ["No preprocessing plan: run the features step."]})
    columns = ["column", "kind", "action", "treatment", "reason", "correlated_with"]
    _need(plan, columns, "the preprocessing plan", "pass preprocess_plan.csv")
    table = plan[columns].astype("object").fillna("").set_index("column")
    table.index.name = "feature"
    return table


def duplicates_table(plan: pd.DataFrame | None) -> pd.DataFrame:
    """The features dropped as near-duplicates of a more interpretable one.

    Parameters
    ----------
    plan : DataFrame or None
        ``preprocess_plan.csv``.

    Returns
    -------
    DataFrame
        Columns ``dropped``, ``kept instead``, ``Spearman r``; a one-row note when
        no feature was dropped as a near-duplicate.
    """
    if plan is None:
        return pd.DataFrame({"note": ["No preprocessing plan: run the features step."]})
    _need(
        plan, ["column", "reason"], "the preprocessing plan", "pass preprocess_plan.csv"
    )
    found = (
        plan["reason"]
        .fillna("")
        .astype("str")
        .str.extract(
            r"^near-duplicate of (?P<keep>.+) \(Spearman r = (?P<r>[-+0-9.]+)\)$"
        )
    )
    hit = found["keep"].notna()
    if not hit.any():
        return pd.DataFrame(
            {"note": ["No two features are near-duplicates: every one is kept."]}
        )
    return pd.DataFrame(
        {
            "dropped": plan.loc[hit, "column"].astype("str").to_numpy(),
            "kept instead": found.loc[hit, "keep"].to_numpy(),
            "Spearman r": found.loc[hit, "r"].astype("float64").round(2).to_numpy(),
        }
    )


def lifecycle_mix(lifecycle: pd.DataFrame | None) -> pd.DataFrame:
    """Customers per lifecycle state, with the rule that defines each state.

    Parameters
    ----------
    lifecycle : DataFrame or None
        ``lifecycle.parquet`` (columns ``state``, ``rule``).

    Returns
    -------
    DataFrame
        Index ``state`` (lifecycle order); columns ``customers``, ``share``,
        ``rule``.
    """
    if lifecycle is None or lifecycle.empty:
        return pd.DataFrame(
            {"note": ["No lifecycle states: they need transactions (recency, orders)."]}
        )
    _need(lifecycle, ["state", "rule"], "the lifecycle table", "pass lifecycle.parquet")
    states = lifecycle["state"].astype("str")
    counts = states.value_counts().reindex(list(STATES), fill_value=0)
    rules = lifecycle.groupby(states)["rule"].first().reindex(list(STATES))
    table = pd.DataFrame(
        {
            "customers": counts.astype("int64"),
            "share": (counts / max(len(states), 1)).round(3),
            "rule": rules.fillna("").astype("str"),
        }
    )
    table.index.name = "state"
    return table


def distributions_before_after(
    features: pd.DataFrame,
    matrix: pd.DataFrame,
    *,
    columns: list[str] | None = None,
    bins: int = 30,
) -> Figure:
    """Histogram of each numeric feature as computed and after preprocessing.

    Parameters
    ----------
    features : DataFrame
        ``features.parquet``.
    matrix : DataFrame
        ``matrix.parquet`` (preprocessed; a numeric feature keeps its name).
    columns : list of str, optional
        Features to show; default every numeric feature present in both.
    bins : int
        Histogram bins.

    Returns
    -------
    Figure
        Two panels per feature: before (blue; values above the 99th percentile
        drawn in the last bar) and after (orange).
    """
    shown = columns or [c for c in _numeric(features) if c in matrix.columns]
    if not shown:
        return _empty_figure(
            "Feature distributions", "No numeric feature survived preprocessing."
        )
    pairs_per_row = 2
    rows = int(np.ceil(len(shown) / pairs_per_row))
    fig = ReportFigure(figsize=(13, 2.1 * rows + 0.8), layout="constrained")
    axes = np.atleast_2d(fig.subplots(rows, 2 * pairs_per_row))
    for i, column in enumerate(shown):
        row, pair = divmod(i, pairs_per_row)
        before, after = axes[row, 2 * pair], axes[row, 2 * pair + 1]
        raw = features[column].dropna()
        # Long tails would squeeze every bar into one: the top 1 % share the last bar.
        before.hist(raw.clip(upper=raw.quantile(0.99)), bins=bins, color=_BLUE)
        after.hist(matrix[column].dropna(), bins=bins, color=_ORANGE)
        before.set_title(f"{column} (as computed)", fontsize=9)
        after.set_title(f"{column} (transformed)", fontsize=9)
        for ax in (before, after):
            ax.tick_params(labelsize=7)
            ax.set_yticks([])
    for j in range(len(shown), rows * pairs_per_row):
        row, pair = divmod(j, pairs_per_row)
        axes[row, 2 * pair].axis("off")
        axes[row, 2 * pair + 1].axis("off")
    fig.suptitle(
        "Feature distributions before and after transformation "
        "(as computed: the top 1 % of values are drawn in the last bar)"
    )
    return fig


def correlation_heatmap(features: pd.DataFrame, *, method: str = "spearman") -> Figure:
    """Heatmap of the pairwise correlation of the numeric features.

    Parameters
    ----------
    features : DataFrame
        ``features.parquet`` (or the matrix).
    method : {"spearman", "pearson"}
        Spearman (default) is rank-based, so it is the same before and after the
        monotone skew transforms.
    """
    numeric = _numeric(features)
    if len(numeric) < 2:
        return _empty_figure("Feature correlation", "Fewer than two numeric features.")
    corr = features[numeric].corr(method=method)
    size = max(5.0, 0.55 * len(numeric) + 2)
    fig = ReportFigure(figsize=(size + 1, size), layout="constrained")
    ax = fig.subplots()
    sns.heatmap(
        corr,
        ax=ax,
        vmin=-1,
        vmax=1,
        cmap="vlag",
        annot=len(numeric) <= 16,
        fmt=".2f",
        annot_kws={"fontsize": 7},
        square=True,
        cbar_kws={"label": f"{method.capitalize()} correlation"},
    )
    ax.set_title(f"Correlation between features ({method.capitalize()})")
    return fig


def rfm_grid(rfm: pd.DataFrame | None) -> Figure:
    """R score x F score grid coloured by the mean monetary value of each cell.

    Parameters
    ----------
    rfm : DataFrame or None
        ``rfm.parquet`` (columns ``r_score``, ``f_score``, ``monetary``); None for
        attribute-only data.

    Returns
    -------
    Figure
        Heatmap; each cell is annotated with its number of customers.
    """
    title = "RFM grid: recency score x frequency score, coloured by mean monetary"
    if rfm is None:
        return _empty_figure(title, "No transactions in this run: no RFM view.")
    _need(rfm, ["r_score", "f_score", "monetary"], "the RFM table", "pass rfm.parquet")
    mean = rfm.pivot_table(
        index="r_score", columns="f_score", values="monetary", aggfunc="mean"
    ).sort_index(ascending=False)
    count = (
        rfm.pivot_table(
            index="r_score", columns="f_score", values="monetary", aggfunc="size"
        )
        .reindex_like(mean)
        .fillna(0)
        .astype(int)
    )
    labels = count.astype("str").where(count > 0, "")
    fig = ReportFigure(figsize=(7.5, 5.5), layout="constrained")
    ax = fig.subplots()
    sns.heatmap(
        mean,
        ax=ax,
        cmap="viridis",
        annot=labels,
        fmt="",
        cbar_kws={"label": "mean monetary (net revenue)"},
    )
    ax.set_xlabel("F score (5 = most orders)")
    ax.set_ylabel("R score (5 = most recent)")
    ax.set_title(title + "\n(numbers: customers per cell)", fontsize=10)
    return fig


def rfm_segments_table(
    rfm: pd.DataFrame | None, *, scheme: str | None = None
) -> pd.DataFrame:
    """Customers and revenue of each named RFM segment (see :func:`segkit.features.rfm.rfm_summary`)."""
    if rfm is None:
        return pd.DataFrame({"note": ["No transactions in this run: no RFM segments."]})
    table = rfm_summary(rfm, scheme=scheme)
    return table[["customers", "share", "revenue", "revenue_share", "mean_recency",
                  "mean_frequency", "mean_monetary"]].round(3)  # fmt: skip


def rfm_segments_chart(
    rfm: pd.DataFrame | None, *, scheme: str | None = None
) -> Figure:
    """Share of customers and share of revenue of each named RFM segment.

    Parameters
    ----------
    rfm : DataFrame or None
        ``rfm.parquet`` (columns ``segment``, ``monetary`` and the scores).
    scheme : str, optional
        The RFM scheme (orders the segments by precedence).
    """
    title = "RFM segments: share of customers and share of revenue"
    if rfm is None:
        return _empty_figure(title, "No transactions in this run: no RFM segments.")
    table = rfm_summary(rfm, scheme=scheme)
    table = table[table["customers"] > 0]
    long = pd.concat(
        [
            pd.DataFrame(
                {
                    "segment": table.index,
                    "share": table["share"],
                    "measure": "customers",
                }
            ),  # fmt: skip
            pd.DataFrame(
                {
                    "segment": table.index,
                    "share": table["revenue_share"],
                    "measure": "revenue",
                }
            ),  # fmt: skip
        ],
        ignore_index=True,
    )
    fig = ReportFigure(figsize=(8, 0.45 * len(table) + 1.6), layout="constrained")
    ax = fig.subplots()
    sns.barplot(
        data=long,
        y="segment",
        x="share",
        hue="measure",
        ax=ax,
        palette=[_BLUE, _ORANGE],
        orient="h",
    )
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_xlabel("share of all customers / of all net revenue")
    ax.set_ylabel("")
    ax.legend(title="")
    ax.set_title(title)
    return fig


def attribute_charts(
    features: pd.DataFrame,
    config: Mapping[str, Any] | None = None,
    *,
    max_levels: int = 8,
    bins: int = 25,
) -> Figure:
    """One small chart per attribute feature (customers-table columns).

    Parameters
    ----------
    features : DataFrame
        ``features.parquet``; columns not in the behavioural definitions are
        attributes.
    config : mapping, optional
        The run's config; without a customers table a placeholder figure is returned.
    max_levels : int
        Categorical levels shown (the most common).
    bins : int
        Histogram bins of numeric attributes.
    """
    title = "Customer attributes"
    behavioural = set(FEATURE_DEFINITIONS["name"])
    columns = [c for c in features.columns if c not in behavioural]
    if not (config or {}).get("customers") or not columns:
        return _empty_figure(
            title, "No customers table: customers are described by behaviour only."
        )
    ncols = 3
    nrows = int(np.ceil(len(columns) / ncols))
    fig = ReportFigure(figsize=(12, 2.6 * nrows + 0.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    for ax, column in zip(axes, columns, strict=False):
        values = features[column]
        if column in _numeric(features):
            kept = values.dropna()
            ax.hist(kept.clip(upper=kept.quantile(0.99)), bins=bins, color=_BLUE)
            ax.set_yticks([])
        else:
            shares = values.astype("str").value_counts(normalize=True).head(max_levels)
            ax.barh(shares.index[::-1], shares.to_numpy()[::-1], color=_BLUE)
            ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
        ax.set_title(column, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes[len(columns) :]:
        ax.axis("off")
    fig.suptitle(
        title + " (share of customers per level, or distribution with the top 1 % "
        "of values in the last bar)"
    )
    return fig
