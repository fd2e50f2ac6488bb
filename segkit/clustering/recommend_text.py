"""The recommendation in words: silhouette readings, the rule, each candidate.

:func:`rule_text` states the selection rule of :mod:`segkit.clustering.recommend`
with this config's numbers, :func:`silhouette_words` reads an average silhouette
on Kaufman & Rousseeuw's scale, :func:`describe_candidate` sums up one candidate in
a sentence and :func:`k_profile` says, per number of segments, which finalist was
best and why it won or lost. Re-exported by :mod:`segkit.clustering.recommend`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from segkit.clustering.selection_settings import selection_settings
from segkit.config_sections import ClusteringSettings

__all__ = [
    "BIC_MARGIN",
    "SILHOUETTE_WORDS",
    "silhouette_words",
    "rule_text",
    "describe_candidate",
    "k_profile",
    "number_or_none",
    "reason_sentence",
]


#: BIC difference that counts as decisive (Kass & Raftery 1995: > 10 "very strong").
BIC_MARGIN = 10.0

#: Kaufman & Rousseeuw's (1990) reading of the average silhouette.
SILHOUETTE_WORDS: tuple[tuple[float, str], ...] = (
    (0.70, "strong structure"),
    (0.50, "reasonable structure"),
    (0.25, "weak structure that could be artificial"),
    (-1.0, "no substantial structure"),
)


def silhouette_words(value: float) -> str:
    """Kaufman & Rousseeuw's words for an average silhouette (NaN: "not computed")."""
    if not np.isfinite(value):
        return "not computed"
    for lower, words in SILHOUETTE_WORDS:
        if value > lower:
            return words
    return SILHOUETTE_WORDS[-1][1]


def reason_sentence(reason: str) -> str:
    """``structure_reason`` (a clause about the winner) as a sentence of its own.

    The clause starts in lower case so that it can follow "because" or a colon;
    on its own, "its ..." names what it is about and the first letter is a capital.
    """
    reason = str(reason or "").strip().rstrip(".")
    if reason.startswith("its "):
        reason = "the chosen segmentation's " + reason[4:]
    return f"{reason[:1].upper()}{reason[1:]}." if reason else ""


def rule_text(clustering: ClusteringSettings | Mapping[str, Any]) -> str:
    """The recommendation rule in plain words, with this config's numbers."""
    s = selection_settings(clustering)
    c = ClusteringSettings.of(clustering)
    return (
        f"Substantial: 2 to {c.max_segments} segments, every segment at "
        f"least {c.min_segment_share:.0%} and none above "
        f"{c.max_segment_share:.0%} of customers, at most "
        f"{c.max_noise_share:.0%} unassigned. Per number of segments the "
        f"best {s.finalists_per_k} substantial candidates of different algorithm "
        "families are refitted. Stable: the median prediction strength over "
        f"{2 * s.ps_splits} folds ({s.ps_splits} random half-splits: how often two "
        "customers put together by a model fitted on one half are also put together "
        f"by one fitted on the other) is at least {s.ps_cutoff:.2f}, and every "
        f"segment's bootstrap Jaccard over {s.jaccard_refits} refits (how much of the "
        f"segment comes back) is at least {s.min_jaccard:.2f}. Among stable, "
        "substantial candidates the highest silhouette (how much closer customers "
        "are to their own segment than to the next; it reads the same in every "
        "representation) wins, unless a stable Gaussian mixture with more segments "
        "in the same representation is decisively likelier (BIC lower by "
        f"{BIC_MARGIN:g} or more): silhouette favours merging overlapping segments, so then the best "
        "silhouette at that finer number wins. There is no clear structure when "
        "nothing is stable, or when the winner separates customers no better than "
        "k-means separates structureless data of the same spread; then the RFM grid "
        "is recommended. The structure is weak when the silhouette is below "
        f"{s.weak_silhouette:.2f}, a segment's Jaccard is below "
        f"{s.stable_jaccard:.2f}, the lower bound of prediction strength is below the "
        "cutoff, or refits split into competing solutions."
    )


def describe_candidate(row: pd.Series) -> str:
    """One candidate in a sentence: k, stability, silhouette, CH, smallest share."""
    stab = (
        f"prediction strength {row['ps_median']:.2f}"
        if np.isfinite(row["ps_median"])
        else "not refitted"
    )
    if np.isfinite(row["jaccard_min"]):
        stab += f", worst segment Jaccard {row['jaccard_min']:.2f}"
    return (
        f"{row['candidate']} ({int(row['n_segments'])} segments, {stab}, silhouette "
        f"{row['silhouette']:.2f}, CH {row['calinski_harabasz']:.0f}, smallest "
        f"segment {row['smallest_share']:.1%})"
    )


def k_profile(scored: pd.DataFrame, winner: str | None) -> list[dict[str, Any]]:
    """One entry per number of segments: its best finalist and why it won or lost."""
    finalists = scored[scored["finalist"]]
    entries = []
    for k, part in finalists.groupby("n_segments", sort=True):
        best = part.sort_values(
            ["qualified", "stable_score", "silhouette"], ascending=False
        ).iloc[0]
        if best["candidate"] == winner:
            verdict = "chosen"
        elif best["qualified"]:
            verdict = "qualified; lower silhouette than the winner"
        else:
            verdict = f"not qualified: {best['reason']}"
        entries.append(
            {
                "k": int(k),
                "candidate": best["candidate"],
                "qualified": bool(best["qualified"]),
                "ps_median": number_or_none(best["ps_median"]),
                "ps_lower": number_or_none(best["ps_lower"]),
                "jaccard_min": number_or_none(best["jaccard_min"]),
                "ari_mean": number_or_none(best["ari_mean"]),
                "silhouette": number_or_none(best["silhouette"]),
                "calinski_harabasz": number_or_none(best["calinski_harabasz"]),
                "r2": number_or_none(best["r2"]),
                "r2_null": number_or_none(best["r2_null"]),
                "smallest_share": number_or_none(best["smallest_share"]),
                "bimodal": best["bimodal"],
                "borderline": best["borderline"],
                "verdict": verdict,
            }
        )
    return entries


def number_or_none(value: Any) -> float | None:
    """``value`` as a float for JSON, None when missing or not finite."""
    return None if value is None or not np.isfinite(value) else float(value)
