"""Pick a segmentation by a documented, stability-led rule -- or say there is none.

The rule, in the words the notebook prints (settings in
:class:`segkit.clustering.selection.SelectionSettings`):

1. **Substantial.** 2 to ``clustering.max_segments`` segments, the smallest at
   least ``min_segment_share`` of the customers, the largest at most
   ``max_segment_share`` (splitting off a fringe is not a segmentation), at most
   ``max_noise_share`` unassigned. The RFM rules are a baseline, never a candidate.
2. **Finalists.** Per number of segments, the best ``finalists_per_k`` substantial
   candidates of distinct algorithm families (ranked within that k by silhouette
   and Calinski-Harabasz, which are comparable at equal k).
3. **Stable.** A finalist *qualifies* when the median of its prediction-strength
   folds (``ps_splits`` random half-splits, two folds each; Tibshirani & Walther
   2005) is at least ``ps_cutoff`` (0.8) and every segment's mean bootstrap
   Jaccard (``jaccard_refits`` refits; Hennig 2007) is at least ``min_jaccard``
   (0.6: below it a segment dissolves).
4. **Choice.** Among qualified candidates the one with the highest silhouette
   wins (:data:`RANK_BY` ``"silhouette_bic"``), unless a qualified Gaussian
   mixture with more segments in the same representation has a BIC lower by at
   least :data:`BIC_MARGIN` (10, "very strong", Kass & Raftery 1995) than the
   mixture with the silhouette's number of segments: then the best silhouette at
   that finer k wins. Silhouette is bounded (-1 to 1) and reads the same in every
   space (scaled, PCA, UMAP), while the Calinski-Harabasz index grows with the
   space's spread and dimension (on the planted B2B accounts, CH preferred a 2-way
   Ward split over the planted 4 at 0.31 silhouette). But silhouette rewards
   merging two overlapping segments (centres 3-3.5 within-SDs apart); the
   mixture's likelihood, compared only within one representation and among
   stable candidates, is the model-based check of that merge. On the 17 planted
   scenarios of ``benchmarks/recovery.py`` silhouette alone among stable
   candidates found the planted k 14 times (mean ARI 0.954), CH 15 (0.964),
   the excess of R-squared over the null 16 (0.968, but it splits the B2B
   accounts into 5), GMM-BIC alone 17 (0.992); this rule 16 (0.974). Its miss (5
   segments in 4 dimensions plus 6 noise features) is read as 4 by every
   separation index; the 5-component mixture is not stable.
5. **Structure.** ``"none"`` when nothing qualifies, or when the winner's share of
   variance between segments (R-squared) is no better than k-means achieves on
   structureless data of the same spread (a single Gaussian with the data's
   covariance and a uniform box on its principal axes, ``null_refs`` draws each;
   it must beat both by ``null_z`` standard deviations and ``null_margin``).
   ``"weak"`` when it qualifies but its silhouette is below ``weak_silhouette``
   (0.25: no substantial structure, Kaufman & Rousseeuw), its stability is
   borderline (lower bound of prediction strength below the cutoff, a segment's
   Jaccard below ``stable_jaccard``) or its refits split into competing solutions
   (bimodal agreement). ``"clear"`` otherwise.
6. **No structure.** Then the recommendation is the rule-based grid (RFM / value
   tiers), not invented clusters. The step still fits and writes the most stable
   finalist, flagged ``"fallback": true`` in ``recommendation.json``, because the
   later steps and ``segkit score`` need a model that predicts; the reports say it
   is a fallback.
7. **Override.** ``clustering.choice`` (e.g. ``kmeans/scaled/5``) replaces the
   winner; the recommendation still reports what the rule picked.

The rule in words, the silhouette reading and the k-profile are in
:mod:`segkit.clustering.recommend_text` (re-exported here).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from segkit.clustering.compare import candidate_id, parse_candidate, resolve_jobs
from segkit.clustering.recommend_text import (
    BIC_MARGIN,
    describe_candidate,
    k_profile,
    number_or_none,
    reason_sentence,
    rule_text,
    silhouette_words,
)
from segkit.clustering.selection import (
    ASSESS_COLUMNS,
    SelectionSettings,
    assess,
    candidate_model,
    null_reference,
    screen,
    selection_settings,
)
from segkit.config_sections import ClusteringSettings
from segkit.exceptions import ConfigError, DataError

__all__ = [
    "RANK_BY",
    "RANK_RULES",
    "recommend",
    "select",
    "rule_text",
    "score_table",
    "silhouette_words",
]

logger = logging.getLogger(__name__)

#: How qualified candidates are ranked (see the module docstring, step 4).
RANK_BY = "silhouette_bic"
#: Rankings :func:`recommend` accepts (the benchmark compares them).
RANK_RULES = (
    "ch",
    "silhouette",
    "silhouette_bic",
    "space_ch",
    "space_excess",
    "largest_k",
    "excess",
    "stability",
)


def _null_columns(out: pd.DataFrame, null: pd.DataFrame | None, s) -> None:
    out["r2_null"] = np.nan
    out["beats_null"] = np.nan
    if null is None or null.empty:
        return
    ref = null.set_index("k")
    k = out["n_segments"].where(out["n_segments"].isin(ref.index))
    for kind in ("gaussian", "uniform"):
        mean = k.map(ref[f"r2_{kind}"])
        sd = k.map(ref[f"r2_{kind}_sd"])
        out[f"r2_{kind}"] = mean
        out[f"z_{kind}"] = (out["r2"] - mean) / sd.where(sd > 0, 1e-9)
    out["r2_null"] = out[["r2_gaussian", "r2_uniform"]].max(axis=1)
    beats = (
        (out["z_gaussian"] >= s.null_z)
        & (out["z_uniform"] >= s.null_z)
        & (out["r2"] - out["r2_null"] >= s.null_margin)
    )
    out["beats_null"] = beats.where(out["r2_null"].notna())


def score_table(
    table: pd.DataFrame,
    clustering: Any,
    *,
    assessment: pd.DataFrame | None = None,
    null: pd.DataFrame | None = None,
    rank_by: str = RANK_BY,
) -> pd.DataFrame:
    """The comparison with the screen, the finalists' refits and the verdict per row.

    Parameters
    ----------
    table : DataFrame
        ``comparison.csv`` rows (:data:`segkit.clustering.compare.COLUMNS`). Not
        modified.
    clustering : mapping
        The config's ``clustering`` section.
    assessment : DataFrame, optional
        :func:`segkit.clustering.selection.assess` output for the finalists; without
        it nothing is stable (nothing qualifies).
    null : DataFrame, optional
        :func:`segkit.clustering.selection.null_reference` output.
    rank_by : str
        One of :data:`RANK_RULES`.

    Returns
    -------
    DataFrame
        :func:`~segkit.clustering.selection.screen` columns, the
        :data:`~segkit.clustering.selection.ASSESS_COLUMNS`, ``stability`` kept from
        the comparison, ``stable_score`` (the smaller of median prediction strength
        and the worst segment's Jaccard), ``r2_null``, ``beats_null``,
        ``qualified``, ``borderline`` (text), ``reason`` (why not qualified),
        ``eligible`` (= qualified) and ``rank`` (qualified first, by the rule).
    """
    if rank_by not in RANK_RULES:
        raise ConfigError(f"rank_by is {rank_by!r}; use one of {list(RANK_RULES)}")
    s = selection_settings(clustering)
    out = screen(table, clustering)
    extra = (
        assessment if assessment is not None else pd.DataFrame(columns=ASSESS_COLUMNS)
    )
    out = out.merge(extra, on="candidate", how="left")
    out["refits"] = out["refits"].fillna(0).astype(int)
    out["bimodal"] = out["bimodal"].fillna("")
    out["jaccard_segments"] = out["jaccard_segments"].fillna("")
    out["stable_score"] = out[["ps_median", "jaccard_min"]].min(axis=1, skipna=True)
    _null_columns(out, null, s)
    reasons, borderline = [], []
    for row in out.itertuples(index=False):
        why = [row.screen_reason] if row.screen_reason else []
        flags = []
        if not why and not row.finalist:
            why.append(f"not a finalist (rank {row.k_rank:.0f} at this k)")
        elif row.finalist:
            if not np.isfinite(row.ps_median):
                why.append("no prediction strength")
            elif row.ps_median < s.ps_cutoff:
                why.append(
                    f"prediction strength {row.ps_median:.2f} < {s.ps_cutoff:.2f}"
                )
            elif not row.jaccard_min >= s.min_jaccard:
                why.append(
                    f"a segment's Jaccard {row.jaccard_min:.2f} < {s.min_jaccard:.2f}"
                )
            if row.ps_lower < s.ps_cutoff:
                flags.append(f"prediction strength lower bound {row.ps_lower:.2f}")
            if s.min_jaccard <= row.jaccard_min < s.stable_jaccard:
                flags.append(f"doubtful membership (Jaccard {row.jaccard_min:.2f})")
            if row.bimodal:
                flags.append(row.bimodal)
        reasons.append("; ".join(why))
        borderline.append("; ".join(flags))
    out["reason"] = reasons
    out["borderline"] = borderline
    out["qualified"] = out["reason"].eq("")
    out["eligible"] = out["qualified"]
    out["_key"] = _rank_key(out, rank_by, s)
    out = out.sort_values(
        ["qualified", "finalist", "_key", "stable_score", "silhouette"],
        ascending=[False, False, False, False, False],
        na_position="last",
        kind="mergesort",
    ).reset_index(drop=True)
    out = out.drop(columns="_key")
    out["rank"] = np.arange(1, len(out) + 1)
    return out


def _rank_key(out: pd.DataFrame, rank_by: str, s: SelectionSettings) -> pd.Series:
    if rank_by == "ch":
        return out["calinski_harabasz"]
    if rank_by == "silhouette":
        return out["silhouette"]
    if rank_by == "silhouette_bic":
        return _silhouette_bic_key(out)
    if rank_by == "space_ch":
        return _space_key(out, out["calinski_harabasz"])
    if rank_by == "space_excess":
        return _space_key(out, out["r2"] - out["r2_null"])
    if rank_by == "largest_k":
        return out["n_segments"] + 0.001 * out["silhouette"].fillna(0)
    if rank_by == "excess":
        return out["r2"] - out["r2_null"]
    # most stable (within the tolerance), then separation
    steps = np.floor(out["stable_score"] / s.stability_tolerance)
    return steps + 0.001 * out["silhouette"].fillna(0)


def _silhouette_bic_key(out: pd.DataFrame) -> pd.Series:
    """Silhouette, unless a stable finer Gaussian mixture is decisively likelier.

    Silhouette rewards merging two overlapping segments. Take the qualified
    candidate with the best silhouette (``k0`` segments, in its representation);
    when a *qualified* Gaussian mixture in the same representation with more
    segments has a BIC lower by at least :data:`BIC_MARGIN` than the mixture with
    ``k0`` segments there, the data support the finer split (Fraley & Raftery
    2002), and the qualified candidates with that mixture's number of segments
    (the lowest BIC among such mixtures) rank first, by silhouette. BIC is only
    compared within one representation and one algorithm, never across.
    """
    key = out["silhouette"].copy()
    pool = out[out["qualified"] & out["silhouette"].notna()]
    if pool.empty or "bic" not in out.columns:
        return key
    best = pool.loc[pool["silhouette"].idxmax()]
    space, k0 = best["representation"], best["n_segments"]
    mixtures = out[(out["algorithm"] == "gmm") & (out["representation"] == space)]
    base = mixtures.loc[mixtures["n_segments"] == k0, "bic"].dropna()
    finer = mixtures[
        mixtures["qualified"]
        & (mixtures["n_segments"] > k0)
        & (mixtures["bic"] <= (base.min() if len(base) else np.nan) - BIC_MARGIN)
    ]
    if finer.empty:
        return key
    k1 = finer.loc[finer["bic"].idxmin(), "n_segments"]
    lift = out["qualified"] & (out["n_segments"] == k1)
    lift &= out["representation"] == space
    return key + 2 * lift


def _space_key(out: pd.DataFrame, inner: pd.Series) -> pd.Series:
    """Silhouette picks the space, ``inner`` the candidate within it.

    The qualified candidate with the best silhouette names the representation;
    every candidate of that representation ranks above the others, by ``inner``
    (a score comparable within one space, on the same customers: CH, or the excess
    of R-squared over the structureless null), the others by silhouette. Keys:
    2-3 in the space, -1 to 1 outside.
    """
    pool = out[out["qualified"] & out["silhouette"].notna()]
    if pool.empty:
        return out["silhouette"]
    space = pool.loc[pool["silhouette"].idxmax(), "representation"]
    inside = (out["representation"] == space) & inner.notna()
    if not inside.any():
        return out["silhouette"]
    low, high = inner[inside].min(), inner[inside].max()
    scaled = 2 + (inner - low) / (high - low) if high > low else inner * 0 + 2
    return scaled.where(inside, out["silhouette"])


def recommend(
    table: pd.DataFrame,
    clustering: Any,
    *,
    assessment: pd.DataFrame | None = None,
    null: pd.DataFrame | None = None,
    rank_by: str = RANK_BY,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Apply the rule: the chosen candidate, the structure and the k-profile.

    Parameters
    ----------
    table : DataFrame
        The comparison table. Not modified.
    clustering : mapping
        The config's ``clustering`` section; ``choice`` overrides the winner.
    assessment, null : DataFrame, optional
        Refits of the finalists and the null reference (see :func:`score_table`).
    rank_by : str
        Ranking of qualified candidates (default :data:`RANK_BY`).

    Returns
    -------
    scored : DataFrame
        :func:`score_table` output.
    recommendation : dict
        ``winner`` (the rule's pick, or the fallback), ``runner_up`` (best qualified
        candidate with another k), ``chosen``, ``overridden``, ``structure``
        (``"clear"``, ``"weak"``, ``"none"``), ``structure_reason``, ``fallback``
        (True when no structure: the winner is only the model written for the later
        steps), ``use_rfm_grid``, ``k_profile`` (list, one entry per k),
        ``near_misses`` (candidate ids), ``bimodal`` (sentence or ""),
        ``silhouette_words``, ``null`` (the winner's R-squared against the null),
        ``rule``, ``reasons``, ``paragraph``, ``constraints``, ``eligible``
        (qualified count), ``candidates`` and ``chosen_row``.

    Raises
    ------
    DataError
        When no candidate has a separation score at all.
    ConfigError
        When ``clustering.choice`` names a candidate not in the table.
    """
    s = selection_settings(clustering)
    scored = score_table(
        table, clustering, assessment=assessment, null=null, rank_by=rank_by
    )
    models = scored[scored["algorithm"] != "rfm"]
    usable = models[np.isfinite(models["silhouette"])]
    if usable.empty:
        raise DataError(
            "no clustering candidate produced a separation score; widen the k range "
            "(clustering.k_min/k_max) or add algorithms to clustering.algorithms"
        )
    qualified = usable[usable["qualified"]]
    reasons: list[str] = []
    winner, structure, structure_reason = _winner(usable, qualified, s)
    fallback = structure == "none"
    reasons.append(
        f"{'Fallback (no clear segments)' if fallback else 'Winner'}: "
        f"{describe_candidate(winner)}."
    )
    reasons.append(f"Structure: {structure}. {reason_sentence(structure_reason)}")
    pool = qualified if len(qualified) else usable[usable["finalist"]]
    others = pool[pool["n_segments"] != winner["n_segments"]]
    runner_up = others.iloc[0] if len(others) else None
    if runner_up is not None:
        reasons.append(
            f"Runner-up with another number of segments: {describe_candidate(runner_up)}."
        )
    near = usable[
        usable["finalist"]
        & ~usable["qualified"]
        & (usable["stable_score"] >= s.ps_cutoff - 0.1)
    ]
    if len(near):
        reasons.append(
            "Near misses (stable enough to look at, but not qualified): "
            + "; ".join(
                f"{r.candidate} ({r.reason})" for r in near.head(4).itertuples()
            )
            + "."
        )
    rfm = scored[scored["algorithm"] == "rfm"]
    if len(rfm) and np.isfinite(rfm.iloc[0]["silhouette"]):
        base = rfm.iloc[0]
        reasons.append(
            f"Baseline: the {int(base['n_segments'])} RFM named segments have a "
            f"silhouette of {base['silhouette']:.2f} in the same space."
        )
    chosen = winner["candidate"]
    limits = ClusteringSettings.of(clustering)
    choice = limits.choice
    overridden = bool(choice)
    if overridden:
        algorithm, representation, k = parse_candidate(choice)
        chosen = candidate_id(algorithm, representation, k)
        if chosen not in set(scored["candidate"]):
            raise ConfigError(
                f"clustering.choice {choice!r} is not in the comparison (candidates: "
                f"{', '.join(scored['candidate'].head(12))}, ...); pick one of them or "
                "add its algorithm, representation and k to the grid"
            )
        reasons.append(
            f"The analyst chose {chosen} (clustering.choice) over the rule's "
            f"{winner['candidate']}."
        )
    chosen_row = scored[scored["candidate"] == chosen].iloc[0]
    rule = rule_text(clustering)
    paragraph = " ".join(
        [
            f"{len(qualified)} of {len(usable[usable['finalist']])} finalists "
            f"({len(usable)} candidates) are stable and substantial.",
            *reasons,
            f"The rule: {rule}",
        ]
    )
    recommendation = {
        "winner": winner["candidate"],
        "runner_up": None if runner_up is None else runner_up["candidate"],
        "chosen": chosen,
        "overridden": overridden,
        "structure": structure,
        "structure_reason": structure_reason,
        "fallback": bool(fallback),
        "use_rfm_grid": bool(fallback),
        "k_profile": k_profile(scored, winner["candidate"]),
        "near_misses": list(near["candidate"]),
        "bimodal": winner["bimodal"],
        "silhouette_words": silhouette_words(float(winner["silhouette"])),
        "null": {
            "r2": number_or_none(winner["r2"]),
            "r2_null": number_or_none(winner["r2_null"]),
            "beats_null": None
            if pd.isna(winner["beats_null"])
            else bool(winner["beats_null"]),
        },
        "rule": rule,
        "reasons": reasons,
        "paragraph": paragraph,
        "constraints": {
            key: limits[key]
            for key in (
                "max_segments",
                "min_segment_share",
                "max_segment_share",
                "max_noise_share",
            )
        }
        | {f.name: getattr(s, f.name) for f in s.__dataclass_fields__.values()},
        "eligible": int(len(qualified)),
        "candidates": int(len(usable)),
        "chosen_row": {
            key: (None if pd.api.types.is_scalar(value) and pd.isna(value) else value)
            for key, value in chosen_row.to_dict().items()
        },
    }
    return scored, recommendation


def _winner(
    usable: pd.DataFrame, qualified: pd.DataFrame, s: SelectionSettings
) -> tuple[pd.Series, str, str]:
    """The rule's pick, its structure and why (steps 4-6 of the module docstring).

    Without a qualified candidate the most stable finalist is the fallback winner
    and the structure is ``"none"``.
    """
    if len(qualified):
        winner = qualified.iloc[0]
        return (winner, *_structure(winner, s))
    pool = usable[usable["finalist"]]
    pool = pool if len(pool) else usable
    winner = pool.sort_values(
        ["substantial", "stable_score", "silhouette"], ascending=False
    ).iloc[0]
    reason = (
        "no candidate is both stable and substantial; the most stable finalist, "
        f"{winner['candidate']}, fails: {winner['reason']}"
    )
    return winner, "none", reason


def _structure(winner: pd.Series, s: SelectionSettings) -> tuple[str, str]:
    if winner["beats_null"] is False or winner["beats_null"] == 0:
        return "none", (
            f"its share of variance between segments (R-squared "
            f"{winner['r2']:.3f}) is no better than k-means reaches on structureless "
            f"data of the same spread ({winner['r2_null']:.3f})"
        )
    weak = []
    if winner["silhouette"] < s.weak_silhouette:
        weak.append(
            f"silhouette {winner['silhouette']:.2f} < {s.weak_silhouette:.2f}: "
            f"{silhouette_words(float(winner['silhouette']))}"
        )
    if winner["borderline"]:
        weak.append(winner["borderline"])
    if weak:
        return "weak", "stable and substantial, but " + "; ".join(weak)
    return "clear", (
        "stable, substantial and better separated than structureless data "
        f"(silhouette {winner['silhouette']:.2f}: "
        f"{silhouette_words(float(winner['silhouette']))})"
    )


def select(
    table: pd.DataFrame,
    matrix: pd.DataFrame,
    clustering: Any,
    *,
    seed: int = 0,
    make_model: Any = None,
    rank_by: str = RANK_BY,
) -> tuple[pd.DataFrame, dict[str, Any], dict[str, pd.DataFrame]]:
    """Screen, refit the finalists, draw the null reference and :func:`recommend`.

    The one entry point the compare step and ``benchmarks/recovery.py`` share.

    Parameters
    ----------
    table : DataFrame
        The comparison table of ``matrix``. Not modified.
    matrix : DataFrame
        The common space the comparison was computed in (index customer_id).
    clustering : mapping
        The config's ``clustering`` section.
    seed : int
        Seed of every refit and reference draw.
    make_model : callable, optional
        ``make_model(candidate)`` -> unfitted estimator; default
        :func:`segkit.clustering.selection.candidate_model` on the matrix.
    rank_by : str
        Ranking of qualified candidates.

    Returns
    -------
    scored, recommendation
        As :func:`recommend`.
    extras : dict
        ``assessment`` and ``null`` tables (for reports and the benchmark).
    """
    s = selection_settings(clustering)
    if make_model is None:

        def make_model(candidate: str) -> Any:
            return candidate_model(candidate, clustering, seed=seed)

    screened = screen(table, clustering)
    finalists = list(screened.loc[screened["finalist"], "candidate"])
    # auto (0) as in the comparison: parallel from PARALLEL_ROWS customers on
    jobs = resolve_jobs(ClusteringSettings.of(clustering).n_jobs, len(matrix))
    assessment = assess(
        finalists, matrix, make_model=make_model, settings=s, seed=seed, n_jobs=jobs
    )
    ks = sorted({int(k) for k in screened.loc[screened["finalist"], "n_segments"]})
    null = (
        null_reference(
            matrix,
            ks,
            n_refs=s.null_refs,
            sample_size=s.refit_sample,
            seed=seed,
            n_jobs=jobs,
        )
        if ks
        else None
    )
    scored, rec = recommend(
        table, clustering, assessment=assessment, null=null, rank_by=rank_by
    )
    return scored, rec, {"assessment": assessment, "null": null}
