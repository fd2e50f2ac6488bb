"""Figures of notebook 02-features: how each customer is described.

Every function takes artifacts of the ``features`` step (see
:func:`features_artifacts`) and returns a :class:`segkit.data.report.ReportFigure`
with a title (notebooks show it as a PNG without ``pyplot``), features named by the
glossary's display names. An artifact a run does not have (no RFM table for
attribute-only data, no attributes for a transactions-only run) may be passed as
``None``: the function then returns one sentence (a :class:`~segkit.display.Note`)
saying why there is nothing to show, so the notebook's cells stay unconditional.
No function shows a customer id. The tables of the same notebook live in
:mod:`segkit.features.report_tables` and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from segkit.columns import numeric_columns
from segkit.data.report import ReportFigure
from segkit.display import Note
from segkit.display import empty_figure as _empty_figure
from segkit.features.definitions import FEATURE_DEFINITIONS
from segkit.features.report_tables import (
    coverage_note,
    definitions_table,
    duplicates_table,
    feature_summary_table,
    lifecycle_mix,
    need_columns,
    notes_table,
    rfm_segments_table,
    summary_note,
    treatment_table,
)
from segkit.features.rfm import rfm_summary
from segkit.figure_cache import cached
from segkit.glossary import display_name

if TYPE_CHECKING:
    from segkit.context import RunContext

# seaborn is imported in the chart functions that use it: a page whose figures
# all come from the figure cache (segkit.figure_cache) never loads it, about
# 1.6 s of every notebook kernel's start

__all__ = [
    "features_artifacts",
    "summary_note",
    "coverage_note",
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
#: The first two colours of seaborn's "deep" palette.
_BLUE, _ORANGE = "#4c72b0", "#dd8452"


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


@cached
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
    shown = columns or [
        c for c in numeric_columns(features, bool_counts=False) if c in matrix.columns
    ]
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
        before.set_title(f"{display_name(column)} (as computed)", fontsize=9)
        after.set_title(f"{display_name(column)} (transformed)", fontsize=9)
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


@cached
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
    import seaborn as sns

    numeric = numeric_columns(features, bool_counts=False)
    if len(numeric) < 2:
        return _empty_figure("Feature correlation", "Fewer than two numeric features.")
    corr = features[numeric].corr(method=method)
    corr = corr.rename(index=display_name, columns=display_name)
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


@cached
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
    import seaborn as sns

    title = "RFM grid: recency score x frequency score, coloured by mean net revenue"
    if rfm is None:
        return _empty_figure(title, "No transactions in this run: no RFM view.")
    need_columns(
        rfm, ["r_score", "f_score", "monetary"], "the RFM table", "pass rfm.parquet"
    )
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
        cbar_kws={"label": "Mean net revenue per customer"},
    )
    ax.set_xlabel("F score (5 = most orders)")
    ax.set_ylabel("R score (5 = most recent)")
    ax.set_title(title + "\n(numbers: customers per cell)", fontsize=10)
    return fig


@cached
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
    import seaborn as sns

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


@cached
def attribute_charts(
    features: pd.DataFrame,
    config: Mapping[str, Any] | None = None,
    *,
    max_levels: int = 8,
    bins: int = 25,
) -> Figure | Note:
    """One small chart per attribute feature (customers-table columns).

    Parameters
    ----------
    features : DataFrame
        ``features.parquet``; columns not in the behavioural definitions are
        attributes.
    config : mapping, optional
        The run's config; without a customers table a one-sentence Note is returned.
    max_levels : int
        Categorical levels shown (the most common).
    bins : int
        Histogram bins of numeric attributes.
    """
    title = "Customer attributes"
    behavioural = set(FEATURE_DEFINITIONS["name"])
    columns = [c for c in features.columns if c not in behavioural]
    if not (config or {}).get("customers") or not columns:
        # a section with nothing to show says so in one sentence, not in an image
        return Note(
            "There is no customers table: customers are described by behaviour only."
        )
    ncols = 3
    nrows = int(np.ceil(len(columns) / ncols))
    fig = ReportFigure(figsize=(12, 2.6 * nrows + 0.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    for ax, column in zip(axes, columns, strict=False):
        values = features[column]
        if column in numeric_columns(features, bool_counts=False):
            kept = values.dropna()
            ax.hist(kept.clip(upper=kept.quantile(0.99)), bins=bins, color=_BLUE)
            ax.set_yticks([])
        else:
            shares = values.astype("str").value_counts(normalize=True).head(max_levels)
            ax.barh(shares.index[::-1], shares.to_numpy()[::-1], color=_BLUE)
            ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
        ax.set_title(display_name(column), fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes[len(columns) :]:
        ax.axis("off")
    fig.suptitle(
        title + " (share of customers per level, or distribution with the top 1 % "
        "of values in the last bar)"
    )
    return fig
