"""Figures and tables for notebook 03 (cluster comparison).

Figures are :class:`~segkit.data.report.ReportFigure` objects built without
``pyplot``, so a notebook cell that returns one shows it exactly once.
:func:`compare_artifacts` loads everything the notebook shows from a run folder.
"""

from __future__ import annotations

from typing import Any

import matplotlib
import matplotlib.lines
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from segkit.clustering.recommend_text import reason_sentence, silhouette_words
from segkit.data.report import Note, ReportFigure, Table
from segkit.display import segment_colour, segment_name
from segkit.exceptions import SchemaError
from segkit.figure_cache import cached

__all__ = [
    "compare_artifacts",
    "samples_table",
    "leaderboard",
    "leaderboard_table",
    "recommendation_note",
    "metric_curves",
    "k_profile_table",
    "k_profile_chart",
    "near_miss_table",
    "structure_note",
    "segment_sizes",
    "segment_map",
]

_TAB10 = matplotlib.colormaps["tab10"]


def _colour(segment: int) -> Any:
    return segment_colour(segment)


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


def leaderboard(scored: pd.DataFrame, *, top: int = 15) -> pd.DataFrame:
    """The first ``top`` rows of a scored comparison, with readable columns.

    Parameters
    ----------
    scored : DataFrame
        :func:`segkit.clustering.recommend.score_table` output (or ``comparison.csv`` written by the step).
    top : int
        Rows kept (the RFM baseline is always appended when present).

    Returns
    -------
    DataFrame
        Index ``rank``; columns candidate, segments, prediction strength (median),
        worst Jaccard, silhouette, CH, R-squared and its null, smallest / noise
        share (percent), and why the candidate does not qualify.
    """
    data = scored.sort_values("rank")
    head = data.head(top)
    baseline = data[(data["algorithm"] == "rfm") & ~data["rank"].isin(head["rank"])]
    view = pd.concat([head, baseline])
    out = pd.DataFrame(
        {
            "candidate": view["candidate"],
            "segments": view["n_segments"].astype(int),
            "prediction_strength": view["ps_median"].round(2),
            "worst_jaccard": view["jaccard_min"].round(2),
            "silhouette": view["silhouette"].round(3),
            "calinski_harabasz": view["calinski_harabasz"].round(0),
            "r2": view["r2"].round(3),
            "r2_null": view["r2_null"].round(3),
            "smallest_%": (100 * view["smallest_share"]).round(1),
            "noise_%": (100 * view["noise_share"]).round(1),
            "not_qualified_because": view["reason"].fillna(""),
        }
    )
    out.index = pd.Index(view["rank"].astype(int), name="rank")
    return out


_LEADERBOARD_LABELS = {
    "rank": "rank",
    "prediction_strength": "prediction strength",
    "worst_jaccard": "worst segment Jaccard",
    "calinski_harabasz": "Calinski-Harabasz",
    "r2": "R²",
    "r2_null": "R² of structureless data",
    "smallest_%": "smallest segment %",
    "noise_%": "unassigned %",
    "not_qualified_because": "not qualified because",
}


def leaderboard_table(scored: pd.DataFrame, *, top: int = 12) -> Table:
    """The leaderboard (see :func:`leaderboard`) as a report table: rank as a column,
    readable headers (the full comparison stays in ``artifacts/comparison.csv``)."""
    table = leaderboard(scored, top=top).reset_index()
    return Table(table.rename(columns=_LEADERBOARD_LABELS))


def recommendation_note(recommendation: dict[str, Any]) -> Note:
    """The recommendation paragraph and the rule, as Markdown."""
    reasons = "\n".join(f"- {r}" for r in recommendation["reasons"])
    head = (
        f"**Chosen segmentation: `{recommendation['chosen']}`** (structure: "
        f"{recommendation['structure']}; {recommendation['eligible']} of "
        f"{recommendation['candidates']} candidates are stable and substantial; the "
        "RFM baseline is compared too but not counted)."
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


#: Metrics on each view's own scale (GMM's BIC of its fit in that view); every
#: other metric is computed on the metric sample in the preprocessed space, the
#: same for every view, so a row of panels shares its y-axis.
_OWN_SCALE = frozenset({"bic"})


@cached
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
    """Metric-vs-k curves in facets: one row per metric, one column per view.

    Each panel holds one line per algorithm (the same colour in every panel), so no
    panel carries more than a handful of lines; the elbow of each within-segment
    spread curve is marked with a black ring. The panels of a row share their
    y-axis (the views are scored on the same sample), except BIC's, which is on
    each view's own scale.

    Parameters
    ----------
    table : DataFrame
        ``comparison.csv`` (columns ``algorithm``, ``representation``, ``k`` and the
        metrics). Rows without a k (HDBSCAN, RFM) are left out.
    metrics : tuple of str
        Columns to draw, one row of panels each.
    """
    # with scikit-learn, imported only when the chart is drawn (not from the cache)
    from segkit.clustering.metrics import elbow

    _need(table, ["algorithm", "representation", "k", *metrics], "metric_curves table")
    data = table[table["k"].notna()].copy()
    data["k"] = data["k"].astype(int)
    metrics = tuple(m for m in metrics if data[m].notna().any())
    labels = dict(_LABELS)
    if "stability" in metrics and data["stability"].isna().any():
        # clustering.stability_scope: finalists, the other candidates are not refitted
        labels["stability"] = "Stability, finalists only (ARI of refits)"
    views = list(dict.fromkeys(data["representation"]))
    fig = ReportFigure(
        figsize=(2.8 * len(views) + 0.9, 1.3 * len(metrics) + 0.8), layout="constrained"
    )
    axes = fig.subplots(len(metrics), len(views), squeeze=False, sharex=True)
    colours = dict(zip(sorted(data["algorithm"].unique()), _TAB10.colors, strict=False))
    for row, metric in enumerate(metrics):
        for col, view in enumerate(views):
            ax = axes[row, col]
            for algorithm, part in data[data["representation"] == view].groupby(
                "algorithm"
            ):
                part = part.sort_values("k")
                if part[metric].isna().all():
                    continue
                ax.plot(
                    part["k"], part[metric], marker="o", ms=3, lw=1.2,
                    color=colours[algorithm], label=algorithm,
                )  # fmt: skip
                if metric == "wcss":
                    knee = elbow(part["k"].to_numpy(), part[metric].to_numpy())
                    if np.isfinite(knee):
                        y = part.loc[part["k"] == knee, metric].iloc[0]
                        ax.plot(knee, y, "o", ms=10, mfc="none", mec="black", mew=1.2)
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=7)
            if row == 0:
                ax.set_title(f"view: {view}", fontsize=9)
            if col == 0:
                ax.set_ylabel(
                    labels.get(metric, metric).replace(" (", "\n("), fontsize=7
                )
            if row == len(metrics) - 1:
                ax.set_xlabel("number of segments (k)", fontsize=8)
        if metric not in _OWN_SCALE:  # measured on the same sample in every view
            lows, highs = zip(*(ax.get_ylim() for ax in axes[row]), strict=True)
            for ax in axes[row]:
                ax.set_ylim(min(lows), max(highs))
    handles = [
        matplotlib.lines.Line2D([], [], color=c, marker="o", ms=3, label=a)
        for a, c in colours.items()
    ]
    # below the panels (bbox_inches="tight" keeps it), never over a title or data
    fig.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=len(handles),
        fontsize=8,
        frameon=False,
    )
    fig.suptitle("How each quality measure changes with the number of segments")
    return fig


def k_profile_table(recommendation: dict[str, Any]) -> Table:
    """One row per number of segments: its best finalist, stability and verdict."""
    rows = []
    for e in recommendation["k_profile"]:
        rows.append(
            {
                "k": e["k"],
                "best candidate": e["candidate"],
                "prediction strength": _fmt(e["ps_median"]),
                "worst segment Jaccard": _fmt(e["jaccard_min"]),
                "silhouette": _fmt(e["silhouette"]),
                "R2 / null": f"{_fmt(e['r2'], 3)} / {_fmt(e['r2_null'], 3)}",
                "smallest %": _fmt(100 * e["smallest_share"], 1)
                if e["smallest_share"] is not None
                else "",
                "verdict": e["verdict"]
                + (f" ({e['borderline']})" if e["borderline"] else ""),
            }
        )
    return Table(pd.DataFrame(rows).set_index("k"))


def _fmt(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


@cached
def k_profile_chart(recommendation: dict[str, Any]) -> Figure:
    """Stability and separation of each k's best finalist, with the cut-offs.

    Left: median prediction strength and the worst segment's bootstrap Jaccard,
    with the qualifying lines; right: silhouette against Kaufman & Rousseeuw's
    bands. The chosen k is starred.
    """
    profile = pd.DataFrame(recommendation["k_profile"])
    constraints = recommendation["constraints"]
    fig = ReportFigure(figsize=(12, 4))
    left, right = fig.subplots(1, 2)
    if profile.empty:
        left.text(0.5, 0.5, "no finalist", ha="center")
        return fig
    profile = profile.astype({"ps_median": float, "jaccard_min": float})
    left.plot(profile["k"], profile["ps_median"], "o-", label="prediction strength")
    left.plot(profile["k"], profile["jaccard_min"], "s-", label="worst segment Jaccard")
    left.axhline(constraints["ps_cutoff"], color="C0", ls=":", lw=1)
    left.axhline(constraints["min_jaccard"], color="C1", ls=":", lw=1)
    right.plot(profile["k"], profile["silhouette"].astype(float), "o-", color="C2")
    for lower, words in ((0.70, "strong"), (0.50, "reasonable"), (0.25, "weak")):
        right.axhline(lower, color="grey", ls=":", lw=1)
        right.annotate(words, (profile["k"].max(), lower), fontsize=7, va="bottom")
    chosen = profile[profile["verdict"] == "chosen"]
    for ax, column in ((left, "ps_median"), (right, "silhouette")):
        if len(chosen):
            ax.plot(chosen["k"], chosen[column].astype(float), "*", ms=16, color="C3")
        ax.set_xlabel("number of segments (k)")
        ax.grid(alpha=0.3)
    left.set_ylim(0, 1.05)
    left.set_title("Stability of the best candidate per k (dotted: needed)")
    left.legend(fontsize=8)
    right.set_title("Silhouette (Kaufman & Rousseeuw bands)")
    fig.tight_layout()
    return fig


def near_miss_table(scored: pd.DataFrame, recommendation: dict[str, Any]) -> Table:
    """Finalists that came close (stable enough to look at) and why they lost."""
    names = set(recommendation["near_misses"]) | {
        e["candidate"] for e in recommendation["k_profile"] if e["qualified"]
    }
    names.discard(recommendation["winner"])
    part = scored[scored["candidate"].isin(names)].sort_values("rank")
    return Table(
        pd.DataFrame(
            {
                "candidate": part["candidate"],
                "segments": part["n_segments"].astype(int),
                "prediction strength": part["ps_median"].round(2),
                "worst Jaccard": part["jaccard_min"].round(2),
                "silhouette": part["silhouette"].round(2),
                "CH": part["calinski_harabasz"].round(0),
                "why not chosen": [
                    r if r else "qualified; lower silhouette than the winner"
                    for r in part["reason"].fillna("")
                ],
            }
        ).set_index("candidate")
    )


def structure_note(recommendation: dict[str, Any]) -> Note:
    """The verdict on structure first, in words, with the silhouette's reading."""
    structure = recommendation["structure"]
    row = recommendation["chosen_row"]
    sil = row.get("silhouette")
    head = {
        "clear": "**Clear segment structure.**",
        "weak": "**Weak segment structure**: usable with care.",
        "none": "**No clear segment structure.** Use the rule-based RFM grid "
        "(or value tiers) instead of clusters.",
    }[structure]
    lines = [head, "", reason_sentence(recommendation["structure_reason"])]
    if sil is not None:
        lines.append(
            f"The chosen segmentation's silhouette is {sil:.2f}: "
            f"{silhouette_words(float(sil))} on Kaufman & Rousseeuw's scale (above "
            "0.70 strong, 0.50-0.70 reasonable, 0.25-0.50 weak and possibly "
            "artificial, below 0.25 no substantial structure)."
        )
    if recommendation["bimodal"]:
        lines.append(f"Its refits show {recommendation['bimodal']}.")
    if recommendation["fallback"]:
        lines.append(
            f"The model written for the later reports, `{recommendation['chosen']}`, "
            "is a fallback (`fallback: true` in recommendation.json): the most "
            "stable candidate, not a recommendation."
        )
    return Note("\n".join(lines))


@cached
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


@cached
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
    total = len(data)
    if len(data) > max_points:
        data = data.sample(max_points, random_state=seed)
    names = names or {}
    fig = ReportFigure(figsize=(7.5, 6))
    ax = fig.subplots()
    for segment, part in data.groupby("segment"):
        segment = int(segment)
        colour = _colour(segment)
        label = segment_name(names, segment)
        # opaque, edgeless dots: a few flat colours keep the PNG small
        ax.scatter(
            part["x"], part["y"], s=5, lw=0, alpha=1.0, color=colour, label=label
        )
    ax.set_xticks([])
    ax.set_yticks([])
    shown = (
        f"{len(data):,} shown"
        if len(data) == total
        else (f"a sample of {len(data):,} of the {total:,} customers")
    )
    ax.set_title(f"Customers on a 2-D map, coloured by segment ({shown})")
    ax.legend(markerscale=3, fontsize=8, loc="best")
    fig.tight_layout()
    return fig
