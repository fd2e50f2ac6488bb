"""The verdict's sentences, and the shape of the stability refits.

:func:`overall_verdict` writes the verdict: the held-out comparison with each
baseline first, worded from the interval of the difference (better /
indistinguishable / worse), then stability, then bimodality when the refits fall
in two groups (:func:`bimodality`). Every claim carries the number behind it, and
"not trustworthy" is said only for a reason it names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from segkit.validation.baselines import SHUFFLED
from segkit.validation.structure import structure_sentence

__all__ = ["bimodality", "overall_verdict"]

#: Outcomes measured over the horizon after t0 (the rest: a customers column).
_HORIZON_OUTCOMES = ("log revenue", "revenue", "bought again")


def bimodality(values: Any, *, min_share: float = 0.1, min_gap: float = 0.2) -> dict:
    """Whether refit agreements (ARI or Jaccard) fall in two groups, and where.

    The values are split where the within-group sum of squares is smallest (the
    1-D two-means split). They are called bimodal when the smaller group holds at
    least ``min_share`` of the values (and at least 2), the group means differ by
    at least ``min_gap`` and Ashman's D, ``sqrt(2) |m1 - m2| / sqrt(s1^2 + s2^2)``,
    exceeds 2 (the usual bound for a clean two-mode mixture). A bimodal stability
    means two competing solutions: one mean describes neither.

    Returns
    -------
    dict
        ``bimodal`` (bool), ``modes`` (list of ``{share, mean, low, high}``,
        lower first; one entry when not bimodal) and ``ashman_d`` (None when
        undefined: fewer than 10 values or no spread).
    """
    data = np.sort(np.asarray(values, dtype=float))
    data = data[np.isfinite(data)]

    def mode(part: np.ndarray) -> dict:
        return {
            "share": len(part) / len(data),
            "mean": float(part.mean()),
            "low": float(part.min()),
            "high": float(part.max()),
        }

    if len(data) < 10 or np.ptp(data) == 0:
        return {
            "bimodal": False,
            "modes": [mode(data)] if len(data) else [],
            "ashman_d": None,
        }
    cost = [
        ((data[:i] - data[:i].mean()) ** 2).sum()
        + ((data[i:] - data[i:].mean()) ** 2).sum()
        for i in range(1, len(data))
    ]
    cut = int(np.argmin(cost)) + 1
    low, high = data[:cut], data[cut:]
    spread = np.sqrt(low.var() + high.var())
    ashman = np.sqrt(2) * (high.mean() - low.mean()) / spread if spread else np.inf
    small = min(len(low), len(high))
    bimodal = bool(
        small >= max(2, min_share * len(data))
        and high.mean() - low.mean() >= min_gap
        and ashman > 2
    )
    modes = [mode(low), mode(high)] if bimodal else [mode(data)]
    finite = bool(np.isfinite(ashman))
    return {"bimodal": bimodal, "modes": modes, "ashman_d": ashman if finite else None}


def overall_verdict(
    verdict: pd.DataFrame,
    stability_summary: Mapping[str, Any],
    baselines: list[Mapping[str, Any]] | None = None,
    *,
    limits: Mapping[str, float],
    bimodal: Mapping[str, Any] | None = None,
    structure: Mapping[str, Any] | None = None,
) -> str:
    """The verdict in plain sentences; the outcome comparison first when measured.

    The first sentence says whether the segments beat chance on held-out
    customers: by the permutation test, and with an interval of the held-out R
    squared above 0 (otherwise it starts "Weak evidence"). Then one sentence per
    RFM baseline, whose wording its wording from the paired bootstrap interval of
    each difference (:func:`segkit.validation.baselines.wording`), never from a
    point estimate: *better*, *indistinguishable* or *worse*. The stability sentence says "not trustworthy" only for a reason it
    names: segments that fall apart, or an ARI below ``watch_jaccard``; a bimodal
    ARI (two competing solutions) is said, not averaged away.

    With ``structure`` (``recommendation.json``), its sentence comes first
    (:func:`segkit.validation.structure.structure_sentence`), and the stability
    sentence cannot contradict it: with no clear structure, stable fallback
    segments are "stable but not recommended"; with a weak one, "stable, on a weak
    structure", never "Trustworthy". When the chosen segmentation is the CLV tiers
    (``chosen: clv_tiers/scaled``), a sentence says their stability holds by
    construction.
    """
    opening = structure_sentence(structure)
    kind = None if opening is None else structure.get("structure")
    if opening is not None and (
        structure.get("use_rfm_grid") or structure.get("fallback")
    ):
        kind = "none"
    parts = [] if opening is None else [opening]
    parts += _baseline_sentences(baselines or [], limits)
    real = verdict.loc[verdict["segment"] != -1]
    n = len(real)
    unstable = int((real["jaccard"] < limits["watch_jaccard"]).sum())
    keep = int((real["recommendation"] == "keep").sum())
    merge = int(real["recommendation"].str.startswith("merge").sum())
    ari = float(stability_summary["ari_mean"])
    watch = limits["watch_jaccard"]
    if n and unstable >= n / 2:
        parts.append(
            f"Not trustworthy: {unstable} of {n} segments fall apart under "
            f"resampling (Jaccard < {watch:.2f}; mean ARI {ari:.2f}), so these "
            "segments should not be used as they are."
        )
    elif ari < watch:
        parts.append(
            f"Not trustworthy: the segmentation as a whole does not come back under "
            f"resampling (mean ARI {ari:.2f} < {watch:.2f}), even though "
            f"{n - unstable} of {n} segments keep a mean Jaccard of at least "
            f"{watch:.2f}."
        )
    elif keep == n:
        facts = (
            f"all {n} segments are stable (Jaccard >= {limits['keep_jaccard']:.2f}, "
            f"mean ARI {ari:.2f}) and separated by a gap on held-out customers"
        )
        if kind == "none":
            parts.append(
                f"Stable but not recommended: {facts}, yet the comparison found no "
                "clear structure, so they are a reference, not a segmentation to use."
            )
        elif kind == "weak":
            parts.append(f"Stable, on a weak structure: {facts}; use them with care.")
        else:
            parts.append(f"Trustworthy: {facts}.")
    elif keep == 0:
        parts.append(
            f"Not usable as they are: none of the {n} segments can be kept "
            f"({merge} should be merged, {n - merge} need watching; mean ARI "
            f"{ari:.2f})."
        )
    else:
        parts.append(
            f"Usable with caveats: {keep} of {n} segments can be kept, "
            f"{n - keep - merge} need watching and {merge} should be merged "
            f"(mean ARI {ari:.2f})."
        )
    if str((structure or {}).get("chosen", "")).startswith("clv_tiers"):
        parts.append(
            "These segments are CLV tiers, a rule the analyst chose "
            "(clustering.choice): cut points on lifetime value come back under "
            "resampling by construction, so their stability is no evidence of "
            "natural segments, and the structure above is the clustering grid's."
        )
    if bimodal and bimodal.get("bimodal"):
        low, high = bimodal["modes"][0], bimodal["modes"][-1]
        parts.append(
            f"Stability is bimodal: {low['share']:.0%} of the refits agree at ARI "
            f"{low['low']:.2f}-{low['high']:.2f} and {high['share']:.0%} at "
            f"{high['low']:.2f}-{high['high']:.2f}, so there are competing "
            "solutions and the mean ARI describes neither."
        )
    return " ".join(parts)


def _points(value: float) -> str:
    return f"{100 * value:+.1f}"


def _baseline_sentences(
    baselines: list[Mapping[str, Any]], limits: Mapping[str, float]
) -> list[str]:
    """Plain sentences on the held-out comparison with each baseline."""
    if not baselines:
        return []
    own = baselines[0]["reference"]
    what = baselines[0]["outcome"]
    if what in _HORIZON_OUTCOMES:
        what = f"next-horizon {what}"
    level = f"{limits['ci_level']:.0%}"
    measure = (
        f"held-out R\u00b2 {own['measure']:.1%}, {level} interval {own['low']:.1%} "
        f"to {own['high']:.1%}"
    )
    out = []
    p_value = own["p_value"] if own["p_value"] is not None else 1.0
    if p_value >= limits["alpha"]:
        out.append(
            f"Weak evidence: on held-out customers the segments predict {what} no "
            f"better than chance ({measure}; permutation p = {p_value:.3f})."
        )
    elif not own["low"] > 0:
        out.append(
            f"Weak evidence: on held-out customers the segments predict {what} "
            f"better than chance by a permutation test (p = {p_value:.3f}), but "
            f"the interval of their held-out R\u00b2 still includes 0 ({measure})."
        )
    else:
        out.append(
            f"On held-out customers the segments predict {what} better than chance "
            f"({measure}; permutation p = {p_value:.3f})."
        )
    for entry in baselines:
        # chance is judged by the permutation test above, not the shuffled row
        if entry["difference"] is None or entry["name"] == SHUFFLED:
            continue
        how = entry["wording"]
        detail = (
            f"held-out R\u00b2 {own['measure']:.1%} vs {entry['measure']:.1%}; "
            f"difference {_points(entry['difference'])} points, {level} interval "
            f"{_points(entry['difference_low'])} to "
            f"{_points(entry['difference_high'])}"
        )
        name = f"{entry['name']} ({entry['groups']} groups)"
        if how == "indistinguishable":
            text = f"Indistinguishable from {name} at predicting {what} ({detail})."
        else:
            text = f"{how.capitalize()} than {name} at predicting {what} ({detail})."
        out.append(text)
    return out
