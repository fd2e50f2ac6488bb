"""Figures and tables of notebook 04-validate: stable, distinct, predictive?

Every function takes artifacts of the ``validate`` step (see
:func:`validate_artifacts`) and returns a matplotlib
:class:`~matplotlib.figure.Figure` with a title, a table ready to show, or a
:class:`~segkit.data.report.Note` (a sentence rendered as Markdown). Outcome
artifacts are ``None`` when a run has neither transactions nor an outcome column: the
outcome functions then return a figure or table that says so. No customer id is ever
shown: everything here is per segment.

Figures are built with :class:`matplotlib.figure.Figure`, not ``pyplot``, so each is
shown once, as the cell's result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from segkit.data.report import Note, ReportFigure, Table
from segkit.display import empty_figure as _empty
from segkit.display import segment_name as _name
from segkit.figure_cache import cached
from segkit.glossary import display_name
from segkit.validation.report_tables import (
    baseline_table,
    separation_table,
    shape_text,
    value_baseline_note,
)
from segkit.validation.structure import structure_banner

if TYPE_CHECKING:
    from segkit.context import RunContext

# seaborn is imported in the chart functions that use it: a page whose figures
# all come from the figure cache (segkit.figure_cache) never loads it, about
# 1.6 s of every notebook kernel's start

__all__ = [
    "validate_artifacts",
    "baseline_table",
    "separation_table",
    "sample_sizes_table",
    "stability_summary_table",
    "stability_chart",
    "prediction_strength_chart",
    "distinctness_heatmap",
    "distinctness_table",
    "outcome_chart",
    "outcome_comparison_table",
    "verdict_table",
    "thresholds_table",
    "verdict_note",
    "value_baseline_note",
    "structure_banner",
]

_FRAMES = {
    "stability": "stability.csv",
    "refits": "stability_refits.csv",
    "prediction_strength": "prediction_strength.csv",
    "distinctness": "distinctness.csv",
    "kruskal": "distinctness_features.csv",
    "effects": "segment_effects.csv",
    "outcomes": "outcomes.csv",
    "comparison": "outcome_comparison.csv",
    "heldout": "outcome_heldout.csv",
    "verdict": "verdict.csv",
}
_OUTCOME_TITLES = {
    "retention": "Share who bought again in the next horizon",
    "revenue_per_customer": "Revenue per customer in the next horizon",
    "revenue_share": "Share of the next horizon's revenue",
    "rate": "Outcome rate per segment",
}
_SCHEMES = {
    "bootstrap": "bootstrap (customers drawn with replacement)",
    "subset": "subsets of 80% of the customers (no duplicates: density-based method)",
}
_BAND_COLOURS = {
    "highly stable": "#1a9850",
    "stable": "#91cf60",
    "doubtful membership": "#fdae61",
    "not trustworthy": "#d73027",
}


def validate_artifacts(
    ctx: RunContext, *, names: Mapping[int, str] | None = None
) -> dict[str, Any]:
    """Load the artifacts of the ``validate`` step.

    Parameters
    ----------
    ctx : RunContext
        The run.
    names : mapping, optional
        Segment id -> display name (the profile stage's names, which notebook 04
        passes so that every page calls a segment the same); by default the names
        the model had when it was validated.

    Returns
    -------
    dict
        The frames of :data:`_FRAMES` (``None`` for outcome tables a run lacks),
        ``json`` (``validation.json``) and ``names`` (segment id -> name, from the
        verdict table).
    """
    out: dict[str, Any] = {
        key: ctx.load_frame(name) if ctx.has(name) else None
        for key, name in _FRAMES.items()
    }
    out["json"] = ctx.load_json("validation.json")
    verdict = out["verdict"]
    if names:
        names = {int(k): str(v) for k, v in names.items()}
        verdict["name"] = [
            names.get(int(s), n)
            for s, n in zip(verdict["segment"], verdict["name"], strict=True)
        ]
    out["names"] = dict(zip(verdict["segment"], verdict["name"], strict=True))
    return out


def sample_sizes_table(validation: Mapping[str, Any]) -> pd.DataFrame:
    """How many customers and resamples each check used (from validation.json)."""
    sizes = validation["sample_sizes"]
    rows = [
        ("customers segmented", sizes["customers"]),
        ("customers in the stability sample", sizes["stability_sample"]),
        ("bootstrap refits", sizes["bootstrap_refits"]),
        (
            "customers in the prediction-strength sample",
            sizes["prediction_strength_sample"],
        ),
        ("prediction-strength folds per k", sizes["prediction_strength_folds"]),
        ("customers followed for outcomes", sizes["outcome_customers"]),
        ("bootstrap resamples per confidence interval", sizes["ci_resamples"]),
    ]
    rows = [(what, "n/a" if n is None else f"{int(n):,}") for what, n in rows]
    rows.append(("each refit re-estimates", sizes.get("refitted", "the whole model")))
    table = pd.DataFrame(rows, columns=["what", "number"])
    return Table(table.set_index("what"))


def stability_summary_table(validation: Mapping[str, Any]) -> pd.DataFrame:
    """Global stability: mean ARI, its band, noise share and suggested k."""
    glob = validation["stability"]["global"]
    strength = validation["prediction_strength"]
    suggested = strength["suggested_k"]
    rows = [
        ("mean ARI, bootstrap vs full-data segments", f"{glob['ari_mean']:.2f}"),
        ("ARI band (Hennig)", glob["ari_band"]),
        ("resampling", _SCHEMES.get(glob.get("scheme"), "bootstrap")),
        ("10th percentile of the ARI", f"{glob['ari_q10']:.2f}"),
        (
            "shape of the refits' ARI",
            shape_text(validation["stability"].get("bimodality")),
        ),
        ("segments in the chosen model", str(strength["model_k"])),
        (
            "largest k with prediction strength >= 0.8",
            str(suggested.get("0.8") or "none"),
        ),
        (
            "largest k with prediction strength >= 0.9",
            str(suggested.get("0.9") or "none"),
        ),
        ("unassigned share (full data)", f"{glob['reference_noise_share']:.1%}"),
        (
            "unassigned share across refits (mean +/- sd)",
            f"{glob['noise_share_mean']:.1%} +/- {glob['noise_share_sd']:.1%}",
        ),
    ]
    return Table(pd.DataFrame(rows, columns=["measure", "value"]).set_index("measure"))


@cached
def stability_chart(
    stability: pd.DataFrame, *, names: Mapping[int, str] | None = None
) -> Figure:
    """Mean bootstrap Jaccard per segment (10th-90th percentile whiskers) on Hennig's bands.

    Parameters
    ----------
    stability : DataFrame
        ``stability.csv``: ``segment``, ``jaccard``, ``jaccard_q10``,
        ``jaccard_q90``, ``band``, ``size``.
    names : mapping, optional
        Segment id -> display name.
    """
    # with scikit-learn, imported only when the chart is drawn
    from segkit.clustering.stability import HENNIG_BANDS

    data = stability.sort_values("segment")
    labels = [
        f"{_name(names, s)} (n={n})"
        for s, n in zip(data["segment"], data["size"], strict=True)
    ]
    fig = ReportFigure(figsize=(8, 0.5 * len(data) + 2.2))
    ax = fig.subplots()
    edges = [1.0] + [lower for lower, _ in HENNIG_BANDS]
    for (lower, band), upper in zip(HENNIG_BANDS, edges, strict=False):
        ax.axvspan(lower, upper, color=_BAND_COLOURS[band], alpha=0.15, label=band)
    y = np.arange(len(data))
    colours = [_BAND_COLOURS.get(b, "grey") for b in data["band"]]
    ax.barh(y, data["jaccard"], color=colours, edgecolor="black", height=0.6)
    errors = np.vstack(
        [data["jaccard"] - data["jaccard_q10"], data["jaccard_q90"] - data["jaccard"]]
    ).clip(min=0)
    ax.errorbar(data["jaccard"], y, xerr=errors, fmt="none", ecolor="black", capsize=3)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.02)
    ax.set_xlabel("mean Jaccard with the best-matching segment across bootstrap refits")
    ax.set_title("Bootstrap stability per segment (Hennig's bands)")
    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.22),
        ncol=4,
        fontsize=8,
        frameon=False,
    )
    fig.tight_layout()
    return fig


@cached
def prediction_strength_chart(
    strength: pd.DataFrame,
    *,
    model_k: int | None = None,
    cutoffs: tuple[float, ...] = (0.8, 0.9),
) -> Figure:
    """Prediction strength by number of segments, with the cutoffs and the model's k.

    Parameters
    ----------
    strength : DataFrame
        ``prediction_strength.csv``: ``k``, ``strength``, ``strength_min``,
        ``strength_max``.
    model_k : int, optional
        Segments of the chosen model (marked).
    cutoffs : tuple of float
        Horizontal lines (Tibshirani & Walther: 0.8 and 0.9).
    """
    data = strength.sort_values("k")
    fig = ReportFigure(figsize=(7, 3.8))
    ax = fig.subplots()
    ax.fill_between(
        data["k"],
        data["strength_min"],
        data["strength_max"],
        alpha=0.2,
        label="min-max over folds",
    )
    ax.plot(data["k"], data["strength"], marker="o", label="mean prediction strength")
    for cutoff, style in zip(cutoffs, ("--", ":"), strict=False):
        ax.axhline(cutoff, color="grey", linestyle=style, label=f"cutoff {cutoff}")
    if model_k is not None and model_k in set(data["k"]):
        value = float(data.set_index("k").loc[model_k, "strength"])
        ax.scatter(
            [model_k],
            [value],
            s=150,
            facecolors="none",
            edgecolors="red",
            zorder=3,
            label=f"chosen k = {model_k}",
        )
    ax.set_ylim(0, 1.05)
    ax.set_xticks(data["k"])
    ax.set_xlabel("number of segments k")
    ax.set_ylabel("prediction strength")
    ax.set_title("Prediction strength across k (Tibshirani & Walther)")
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


@cached
def distinctness_heatmap(
    effects: pd.DataFrame,
    kruskal: pd.DataFrame,
    *,
    names: Mapping[int, str] | None = None,
    top: int = 12,
) -> Figure:
    """Cliff's delta of each segment vs the rest on the most separating features.

    Parameters
    ----------
    effects : DataFrame
        ``segment_effects.csv``: ``segment``, ``feature``, ``cliffs_delta``.
    kruskal : DataFrame
        ``distinctness_features.csv`` (sorted by epsilon squared); its first
        ``top`` features are shown.
    """
    import seaborn as sns

    features = list(
        kruskal.sort_values("epsilon_squared", ascending=False)["feature"][:top]
    )
    grid = effects.loc[effects["feature"].isin(features)].pivot(
        index="segment", columns="feature", values="cliffs_delta"
    )
    grid = grid[features].rename(columns=display_name)
    grid.index = [_name(names, s) for s in grid.index]
    fig = ReportFigure(figsize=(max(7, 0.7 * len(features) + 3), 0.6 * len(grid) + 3.2))
    ax = fig.subplots()
    sns.heatmap(
        grid,
        ax=ax,
        cmap="RdBu_r",
        vmin=-1,
        vmax=1,
        center=0,
        annot=True,
        fmt=".2f",
        cbar_kws={"label": "Cliff's delta vs the rest"},
    )
    ax.set_xlabel("feature (most separating first)")
    ax.set_ylabel("")
    ax.tick_params(axis="y", rotation=0)
    ax.set_title("How each segment differs from all other customers")
    fig.tight_layout()
    return fig


def _readable_effects(text: Any) -> str:
    """``"frequency -0.89; active_months +0.5"`` with display names of the features."""
    if not isinstance(text, str):
        return ""
    parts = []
    for part in text.split("; "):
        feature, _, delta = part.rpartition(" ")
        parts.append(f"{display_name(feature)} {delta}" if feature else part)
    return "; ".join(parts)


def distinctness_table(
    distinctness: pd.DataFrame, *, names: Mapping[int, str] | None = None
) -> pd.DataFrame:
    """Per segment: what sets it apart (descriptive), its nearest segment, and
    whether it is a merge candidate (no gap from another on held-out customers)."""
    table = pd.DataFrame(
        {
            "segment": [_name(names, s) for s in distinctness["segment"]],
            "sets it apart (descriptive: Cliff's delta vs the rest)": [
                _readable_effects(text) for text in distinctness["top_features"]
            ],
            "nearest segment": [
                _name(names, s) if pd.notna(s) else ""
                for s in distinctness["nearest_segment"]
            ],
            "largest difference from it": distinctness["nearest_max_delta"].round(2),
            "merge candidate (no held-out gap)": np.where(
                distinctness["merge_candidate"], "yes", "no"
            ),
        }
    )
    return Table(table.set_index("segment"))


@cached
def outcome_chart(
    outcomes: pd.DataFrame | None,
    *,
    metric: str = "auto",
    names: Mapping[int, str] | None = None,
    matching: list[dict[str, Any]] | None = None,
    ci_level: float = 0.95,
) -> Figure:
    """Next-horizon outcome per segment with confidence intervals, model vs RFM.

    Parameters
    ----------
    outcomes : DataFrame or None
        ``outcomes.csv``: ``segmentation``, ``segment``, ``name``, ``customers``,
        ``<metric>``, ``<metric>_low``, ``<metric>_high``.
    metric : str
        ``retention``, ``revenue_per_customer``, ``revenue_share``, ``rate``, or
        ``auto`` (retention when measured, else the outcome rate).
    names : mapping, optional
        Current segment id -> name.
    matching : list of dict, optional
        ``validation.json`` ``outcomes.matching``: each segment at t0 with the
        current segment it overlaps most (``segment``, ``matched``), used to label
        the t0 segments by today's names.
    ci_level : float
        Level of the intervals (``validation.ci_level``), for the title.
    """
    if metric == "auto":
        has_retention = outcomes is not None and "retention" in outcomes.columns
        metric = "retention" if has_retention else "rate"
    title = _OUTCOME_TITLES.get(metric, metric)
    if outcomes is None or metric not in outcomes.columns:
        message = "Not measured in this run (no transactions or no outcome column)."
        return _empty(title, message)
    matched = {int(m["segment"]): m["matched"] for m in matching or []}
    panels = [s for s in ("model", "rfm") if s in set(outcomes["segmentation"])]
    rows = int(outcomes.groupby("segmentation").size().max())
    fig = ReportFigure(figsize=(11 if len(panels) > 1 else 7, 0.35 * rows + 2.4))
    axes = np.atleast_1d(fig.subplots(1, len(panels), sharex=True))
    for ax, panel in zip(axes, panels, strict=True):
        part = outcomes.loc[outcomes["segmentation"] == panel].sort_values(metric)
        if panel == "model":
            labels = [
                _name(names, matched[int(s)])
                if matched.get(int(s)) is not None
                else f"t0 segment {s}"
                for s in part["segment"]
            ]
            part = part.assign(name=labels)
        y = np.arange(len(part))
        low = part[metric] - part[f"{metric}_low"]
        high = part[f"{metric}_high"] - part[metric]
        errors = np.vstack([low, high]).clip(min=0)
        ax.errorbar(part[metric], y, xerr=errors, fmt="o", capsize=3)
        if metric != "revenue_share":
            overall = np.average(part[metric], weights=part["customers"])
            ax.axvline(overall, color="grey", linestyle="--", label="all customers")
            ax.legend(fontsize=8, loc="lower right")
        ticks = [
            f"{n} (n={c:,})"
            for n, c in zip(part["name"], part["customers"], strict=True)
        ]
        ax.set_yticks(y, ticks)
        ax.set_title(
            "chosen segmentation" if panel == "model" else "RFM segments (baseline)"
        )
        ax.set_xlabel(metric.replace("_", " "))
    fig.suptitle(f"{title} ({ci_level:.0%} bootstrap intervals)")
    fig.tight_layout()
    return fig


def outcome_comparison_table(comparison: pd.DataFrame | None) -> pd.DataFrame:
    """In-sample (descriptive) omega squared and best-vs-worst lift, per labelling.

    Omega squared corrects eta squared for the number of groups; the held-out
    comparison that decides the verdict is :func:`baseline_table`.
    """
    if comparison is None:
        return Table({"note": ["no outcome was measured in this run"]})
    table = comparison.set_index("segmentation").copy()
    table = table.drop(columns=[c for c in table.columns if c.startswith("eta2_")])
    for column in table.columns:
        if column.startswith("omega2_"):
            table[column] = (100 * table[column]).round(1)
    table = table.rename(
        columns=lambda c: (
            "% explained (omega\u00b2): "
            + display_name(c.removeprefix("omega2_")).lower()
            if c.startswith("omega2_")
            else c
        )
    )
    return Table(table.round(2))


def verdict_table(verdict: pd.DataFrame) -> pd.DataFrame:
    """The verdict per segment, formatted for a reader."""
    table = pd.DataFrame(
        {
            "segment": verdict["name"],
            "customers": verdict["customers"].map("{:,}".format),
            "share": verdict["share"].map("{:.1%}".format),
            "Jaccard": verdict["jaccard"].round(2),
            "stability band": verdict["band"],
            "distinct": verdict["distinct"].fillna("n/a"),
            "outcome lift (vs all)": verdict["outcome_lift"].round(2),
            "recommendation": verdict["recommendation"],
            "why": verdict["reason"],
        }
    )
    return Table(table.set_index("segment"))


def thresholds_table(thresholds: Mapping[str, float]) -> pd.DataFrame:
    """The thresholds behind the verdict, with their config keys."""
    rows = [
        (
            "keep: mean Jaccard at least",
            thresholds["keep_jaccard"],
            "validation.keep_jaccard",
        ),
        (
            "merge: mean Jaccard below",
            thresholds["watch_jaccard"],
            "validation.watch_jaccard",
        ),
        (
            "distinct: |Cliff's delta| at least",
            thresholds["min_effect"],
            "validation.min_effect",
        ),
        ("distinct: adjusted p below", thresholds["alpha"], "validation.alpha"),
        (
            "watch: segment share below",
            thresholds["min_segment_share"],
            "clustering.min_segment_share",
        ),
    ]
    table = pd.DataFrame(rows, columns=["rule", "threshold", "config key"])
    return Table(table.set_index("rule"))


def verdict_note(validation: Mapping[str, Any]) -> Note:
    """The overall verdict sentence, in bold."""
    return Note(f"**Verdict.** {validation['verdict']['text']}")
