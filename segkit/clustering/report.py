"""Figures and tables for notebook 03 (cluster comparison).

Figures are :class:`~segkit.data.report.ReportFigure` objects built without
``pyplot``, so a notebook cell that returns one shows it exactly once.
:func:`compare_artifacts` loads everything the notebook shows from a run folder.
"""

from __future__ import annotations

from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from segkit.clustering.metrics import elbow
from segkit.clustering.recommend import leaderboard
from segkit.data.report import Note, ReportFigure, Table
from segkit.exceptions import SchemaError

__all__ = [
    "compare_artifacts",
    "samples_table",
    "leaderboard_table",
    "recommendation_note",
    "metric_curves",
    "penalty_curve",
    "segment_sizes",
    "segment_map",
]

_TAB10 = matplotlib.colormaps["tab10"]


def _colour(segment: int) -> Any:
    return "lightgrey" if segment == -1 else _TAB10(segment % 10)


def compare_artifacts(ctx: Any) -> dict[str, Any]:
    """Everything notebook 03 shows, read from a run folder's artifacts.

    Returns
    -------
    dict
        ``scored`` (comparison.csv), ``sizes`` (comparison_sizes.csv),
        ``recommendation`` (recommendation.json), ``embedding``
        (embedding.parquet) and ``labels`` (labels.parquet ``segment`` Series).
    """
    scored = ctx.load_frame("comparison.csv")
    scored["reason"] = scored["reason"].fillna("")
    return {
        "scored": scored,
        "sizes": ctx.load_frame("comparison_sizes.csv"),
        "recommendation": ctx.load_json("recommendation.json"),
        "embedding": ctx.load_frame("embedding.parquet"),
        "labels": ctx.load_frame("labels.parquet")["segment"],
    }


def samples_table(recommendation: dict[str, Any]) -> Table:
    """How many customers each stage of the comparison used."""
    samples = recommendation["samples"]
    what = {
        "customers": "customers in the run",
        "fit": "customers every candidate was fitted on (stratified sample)",
        "metric": "customers the quality indices were computed on",
        "stability_subsample": "customers in each reseeded stability refit",
        "dbcv": "customers used for HDBSCAN's DBCV",
        "ward": "customers Ward's tree was built on (the rest: nearest centre)",
    }
    rows = [(what.get(k, k), int(v)) for k, v in samples.items()]
    model = recommendation.get("model", {})
    if model:
        rows.append(
            ("customers the chosen model was fitted on", model["fit_customers"])
        )
    rows.append(("customers drawn on the 2-D map", recommendation["map"]["customers"]))
    return Table(rows, columns=["stage", "customers"])


def leaderboard_table(scored: pd.DataFrame, *, top: int = 12) -> Table:
    """The leaderboard (see :func:`segkit.clustering.recommend.leaderboard`) as a report table."""
    return Table(leaderboard(scored, top=top))


def recommendation_note(recommendation: dict[str, Any]) -> Note:
    """The recommendation paragraph and the rule, as Markdown."""
    reasons = "\n".join(f"- {r}" for r in recommendation["reasons"])
    head = (
        f"**Chosen segmentation: `{recommendation['chosen']}`** "
        f"({recommendation['eligible']} of {recommendation['candidates']} candidates "
        "met the constraints)."
    )
    return Note(f"{head}\n\n{reasons}\n\n**The rule.** {recommendation['rule']}")


_LABELS = {
    "silhouette": "Silhouette (higher is better)",
    "calinski_harabasz": "Calinski-Harabasz (higher is better)",
    "davies_bouldin": "Davies-Bouldin (lower is better)",
    "wcss": "Within-segment spread (elbow marked)",
    "bic": "GMM BIC (lower is better)",
    "stability": "Stability, ARI of refits (higher is better)",
}


def _need(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"{what} lacks the columns {missing}; pass the comparison.csv frame "
            "written by the compare step"
        )


def metric_curves(
    table: pd.DataFrame,
    *,
    metrics: tuple[str, ...] = (
        "silhouette",
        "calinski_harabasz",
        "davies_bouldin",
        "wcss",
        "stability",
        "bic",
    ),
) -> Figure:
    """Metric-vs-k curves, one line per algorithm and representation.

    The elbow of each within-segment-spread curve is marked with a black ring.

    Parameters
    ----------
    table : DataFrame
        ``comparison.csv`` (columns ``algorithm``, ``representation``, ``k`` and the
        metrics). Rows without a k (HDBSCAN, RFM) are left out.
    metrics : tuple of str
        Columns to draw, one panel each.
    """
    _need(table, ["algorithm", "representation", "k", *metrics], "metric_curves table")
    data = table[table["k"].notna()].copy()
    data["k"] = data["k"].astype(int)
    metrics = tuple(m for m in metrics if data[m].notna().any())
    cols = 3
    rows = int(np.ceil(len(metrics) / cols))
    fig = ReportFigure(figsize=(13, 3.8 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    styles = {"scaled": "-", "pca": "--", "umap": ":"}
    colours = dict(zip(sorted(data["algorithm"].unique()), _TAB10.colors, strict=False))
    for ax, metric in zip(axes.flat, metrics, strict=False):
        for (algorithm, rep), part in data.groupby(["algorithm", "representation"]):
            part = part.sort_values("k")
            if part[metric].isna().all():
                continue
            ax.plot(
                part["k"],
                part[metric],
                styles.get(rep, "-"),
                marker="o",
                ms=3,
                color=colours[algorithm],
                label=f"{algorithm} / {rep}",
            )
            if metric == "wcss":
                knee = elbow(part["k"].to_numpy(), part[metric].to_numpy())
                if np.isfinite(knee):
                    y = part.loc[part["k"] == knee, metric].iloc[0]
                    ax.plot(knee, y, "o", ms=11, mfc="none", mec="black", mew=1.5)
        ax.set_title(_LABELS.get(metric, metric), fontsize=10)
        ax.set_xlabel("number of segments (k)")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(metrics) :]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="lower center", ncol=min(6, len(labels)), fontsize=8
    )
    fig.suptitle("How each quality measure changes with the number of segments")
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    return fig


def penalty_curve(scored: pd.DataFrame) -> Figure:
    """Best quality and best score per number of segments: the penalty made visible.

    Only candidates that meet the constraints are drawn; numbers of segments where
    none does are marked along the bottom.

    Parameters
    ----------
    scored : DataFrame
        ``comparison.csv`` after the recommendation (``n_segments``, ``quality``,
        ``score``, ``eligible``).
    """
    _need(scored, ["n_segments", "quality", "score", "eligible"], "penalty_curve table")
    data = scored[scored["algorithm"] != "rfm"]
    ok = data[data["eligible"].astype(bool)]
    order = "rank" if "rank" in ok.columns else "score"
    best = ok.sort_values(order, ascending=order == "rank").drop_duplicates(
        "n_segments"
    )
    best = best.set_index("n_segments").sort_index()
    fig = ReportFigure(figsize=(8, 4))
    ax = fig.subplots()
    ax.plot(best.index, best["quality"], "o-", color="grey", label="quality")
    ax.plot(
        best.index, best["score"], "o-", color="C0", label="score = quality - penalty"
    )
    ax.vlines(best.index, best["score"], best["quality"], color="C3", alpha=0.6)
    if len(best):
        k_win = best["rank"].idxmin() if order == "rank" else best["score"].idxmax()
        ax.plot(
            k_win, best.loc[k_win, "score"], "*", ms=16, color="C1", label="recommended"
        )
        for k, row in best.iterrows():
            ax.annotate(
                row["candidate"],
                (k, row["score"]),
                textcoords="offset points",
                xytext=(0, -14),
                ha="center",
                fontsize=7,
            )
    none = sorted(set(data["n_segments"]) - set(best.index) - {0, 1})
    if none:
        bottom = ax.get_ylim()[0]
        ax.plot(
            none, [bottom] * len(none), "x", color="C3", label="no eligible candidate"
        )
    ax.set_xlabel("number of segments")
    ax.set_ylabel("quality / score")
    ax.set_title(
        "Best eligible candidate per number of segments, before and after the penalty"
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def segment_sizes(
    sizes: pd.DataFrame,
    *,
    candidates: list[str] | None = None,
    scored: pd.DataFrame | None = None,
    top: int = 4,
) -> Figure:
    """Segment shares of a few candidates as horizontal bars.

    Parameters
    ----------
    sizes : DataFrame
        ``comparison_sizes.csv`` (``candidate``, ``segment``, ``share``).
    candidates : list of str, optional
        Candidates to draw, top to bottom.
    scored : DataFrame, optional
        ``comparison.csv``; when ``candidates`` is None its ``top`` best-ranked
        candidates with distinct numbers of segments are drawn, then the RFM baseline.
    top : int
        How many candidates to take from ``scored``.
    """
    _need(sizes, ["candidate", "segment", "share"], "segment_sizes table")
    if candidates is None:
        if scored is None:
            raise SchemaError(
                "segment_sizes needs candidates=[...] or scored=<comparison.csv frame>"
            )
        ranked = scored[scored["algorithm"] != "rfm"].sort_values("rank")
        candidates = list(ranked.drop_duplicates("n_segments")["candidate"].head(top))
        candidates += list(scored.loc[scored["algorithm"] == "rfm", "candidate"])
    flags: dict[str, str] = {}
    if scored is not None and "eligible" in scored.columns:
        for row in scored.itertuples(index=False):
            if not bool(row.eligible):
                flags[row.candidate] = (
                    "\n(baseline)" if row.algorithm == "rfm" else ("\n(not eligible)")
                )
    fig = ReportFigure(figsize=(9, 1.0 + 1.1 * len(candidates)))
    axes = fig.subplots(len(candidates), 1, squeeze=False)
    for ax, candidate in zip(axes[:, 0], candidates, strict=True):
        part = sizes[sizes["candidate"] == candidate].sort_values("segment")
        left = 0.0
        for row in part.itertuples(index=False):
            ax.barh(
                0, row.share, left=left, color=_colour(row.segment), edgecolor="white"
            )
            if row.share >= 0.04:
                text = (
                    "noise" if row.segment == -1 else f"{row.segment}: {row.share:.0%}"
                )
                ax.text(
                    left + row.share / 2, 0, text, ha="center", va="center", fontsize=8
                )
            left += row.share
        ax.set_xlim(0, 1)
        ax.set_yticks([0], [candidate + flags.get(candidate, "")])
        ax.set_xticks([])
    axes[-1, 0].set_xticks(
        np.linspace(0, 1, 6), [f"{x:.0%}" for x in np.linspace(0, 1, 6)]
    )
    fig.suptitle("Share of customers in each segment, top candidates")
    fig.tight_layout()
    return fig


def segment_map(
    embedding: pd.DataFrame,
    labels: pd.Series,
    *,
    names: dict[int, str] | None = None,
    max_points: int = 3000,
    seed: int = 0,
) -> Figure:
    """2-D map of customers coloured by segment (noise in grey).

    Parameters
    ----------
    embedding : DataFrame
        ``embedding.parquet`` (index ``customer_id``, columns ``x``, ``y``).
    labels : Series
        Segment per customer (``labels.parquet['segment']``).
    names : dict, optional
        Segment id -> name for the legend.
    max_points : int
        At most this many points are drawn (a fixed-seed sample).
    seed : int
        Seed of that sample.
    """
    _need(embedding, ["x", "y"], "segment_map embedding")
    data = embedding.join(labels.rename("segment"), how="inner")
    if len(data) > max_points:
        data = data.sample(max_points, random_state=seed)
    names = names or {}
    fig = ReportFigure(figsize=(7.5, 6))
    ax = fig.subplots()
    for segment, part in data.groupby("segment"):
        segment = int(segment)
        colour = _colour(segment)
        label = names.get(
            segment, "Unassigned" if segment == -1 else f"Segment {segment}"
        )
        ax.scatter(part["x"], part["y"], s=6, alpha=0.6, color=colour, label=label)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"Customers on a 2-D map, coloured by segment ({len(data):,} shown)")
    ax.legend(markerscale=3, fontsize=8, loc="best")
    fig.tight_layout()
    return fig
