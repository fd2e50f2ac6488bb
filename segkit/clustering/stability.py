"""Are the segments stable? Bootstrap Jaccard per segment and prediction strength.

Two resampling checks of a segmentation, both on a bounded sample so that their cost
does not grow with the number of customers:

* :func:`bootstrap_stability` - Hennig's (2007) clusterwise stability. The reference
  segments (the full-data assignments) are compared, on a sample of customers, with
  the segments a fresh copy of the model finds on each of ``n_boot`` bootstrap
  samples. For each reference segment the Jaccard similarity with its best-matching
  bootstrap segment is averaged over the refits and read on Hennig's bands
  (:data:`HENNIG_BANDS`). Also the adjusted Rand index (ARI) between bootstrap and
  reference assignments and, for HDBSCAN, the stability of the noise share.
* :func:`prediction_strength` - Tibshirani & Walther (2005): split the sample in
  halves, cluster both, and measure for the worst test cluster how many of its pairs
  the training clustering also puts together. The suggested number of segments is the
  largest ``k`` whose strength is above the cutoff (0.8 or 0.9).

Prediction strength lives in :mod:`segkit.clustering.strength` and the bounded
sample in :mod:`segkit.clustering.resample`; both are re-exported here.

The model is any estimator following the :class:`segkit.clustering.model.SegmentationModel`
contract: ``sklearn.base.clone`` gives an unfitted copy, ``fit(frame)`` sets
``labels_`` (a Series aligned with the frame), ``predict(frame)`` returns integer
segment ids with ``-1`` for noise.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from segkit.clustering.algorithms import NOISE
from segkit.clustering.resample import bounded_sample, fit_labels
from segkit.clustering.strength import (
    prediction_strength,
    prediction_strength_folds,
    suggested_k,
)
from segkit.exceptions import DataError

__all__ = [
    "HENNIG_BANDS",
    "StabilityResult",
    "stability_band",
    "bounded_sample",
    "bootstrap_stability",
    "BootstrapPlan",
    "bootstrap_plan",
    "bootstrap_refits",
    "bootstrap_result",
    "prediction_strength",
    "prediction_strength_folds",
    "suggested_k",
    "bimodality",
]

logger = logging.getLogger(__name__)

#: Hennig's (2007) reading of the mean bootstrap Jaccard, as (lower bound, band).
HENNIG_BANDS: tuple[tuple[float, str], ...] = (
    (0.85, "highly stable"),
    (0.75, "stable"),
    (0.60, "doubtful membership"),
    (0.0, "not trustworthy"),
)


def stability_band(jaccard: float) -> str:
    """Name Hennig's band of a mean bootstrap Jaccard.

    Parameters
    ----------
    jaccard : float
        Mean Jaccard similarity in [0, 1].

    Returns
    -------
    str
        ``"highly stable"`` (>= 0.85), ``"stable"`` (>= 0.75), ``"doubtful
        membership"`` (>= 0.6: a real pattern, but which customers belong to it is
        uncertain) or ``"not trustworthy"`` (< 0.6, also for NaN).
    """
    for lower, band in HENNIG_BANDS:
        if jaccard >= lower:
            return band
    return HENNIG_BANDS[-1][1]


@dataclass
class StabilityResult:
    """What :func:`bootstrap_stability` measured.

    Attributes
    ----------
    segments : DataFrame
        One row per reference segment: ``segment``, ``size`` (customers of the
        segment in the sample), ``jaccard`` (mean over refits), ``jaccard_q10``,
        ``jaccard_q90``, ``share_absent`` (refits whose bootstrap sample held none of
        its customers; they count as Jaccard 0), ``share_dissolved`` (Jaccard <= 0.5),
        ``share_recovered`` (Jaccard >= 0.75) and ``band``.
    refits : DataFrame
        One row per refit: ``refit``, ``ari`` (bootstrap vs reference assignments on
        the customers drawn), ``n_segments`` found and ``noise_share``.
    jaccard : DataFrame
        Refits x segments matrix of Jaccard values.
    sample_size : int
        Customers in the bounded sample the refits were drawn from.
    n_boot : int
        Number of refits.
    scheme : str
        ``bootstrap`` (drawn with replacement) or ``subset`` (80 % without).
    reference_noise_share : float
        Share of the sample the reference assignments mark as noise (-1).
    """

    segments: pd.DataFrame
    refits: pd.DataFrame
    jaccard: pd.DataFrame
    sample_size: int
    n_boot: int
    scheme: str
    reference_noise_share: float

    def summary(self) -> dict:
        """Global numbers: mean / 10th percentile ARI and the noise-share spread."""
        ari = self.refits["ari"]
        noise = self.refits["noise_share"]
        return {
            "sample_size": self.sample_size,
            "n_boot": self.n_boot,
            "scheme": self.scheme,
            "ari_mean": float(ari.mean()),
            "ari_q10": float(ari.quantile(0.1)),
            "ari_band": stability_band(float(ari.mean())),
            "reference_noise_share": self.reference_noise_share,
            "noise_share_mean": float(noise.mean()),
            "noise_share_sd": float(noise.std(ddof=0)),
        }


def _best_jaccard(reference: np.ndarray, found: np.ndarray, segment: int) -> float:
    members = reference == segment
    n_members = int(members.sum())
    if n_members == 0:
        return 0.0
    if segment == NOISE:
        candidates = [NOISE]
    else:
        candidates = [c for c in np.unique(found) if c != NOISE]
    best = 0.0
    for candidate in candidates:
        other = found == candidate
        inter = int((members & other).sum())
        union = n_members + int(other.sum()) - inter
        if union:
            best = max(best, inter / union)
    return best


def bootstrap_stability(
    model,
    features: pd.DataFrame,
    *,
    labels: pd.Series | None = None,
    n_boot: int = 50,
    sample_size: int = 3000,
    random_state: int = 0,
    resample: str = "auto",
) -> StabilityResult:
    """Clusterwise bootstrap stability (Hennig 2007) of a segmentation.

    A bounded, segment-stratified sample of ``sample_size`` customers is drawn; each
    refit clusters a bootstrap sample of it (drawn with replacement, same size) with
    an unfitted clone of ``model``. For each reference segment ``C``, restricted to
    the distinct customers the bootstrap drew, the Jaccard ``|C & D| / |C | D|`` with
    the best-matching bootstrap segment ``D`` is recorded. A segment none of whose
    customers was drawn scores 0 for that refit (counted in ``share_absent``); a
    segment of one customer scores ``1 / |D|``, so it is stable only if it stays on
    its own. Noise (-1) is matched only with the bootstrap noise and never with a
    segment.

    Parameters
    ----------
    model : estimator
        A (fitted or unfitted) segmentation model; only its settings are used.
    features : DataFrame
        The frame the model is fitted on (index customer_id).
    labels : Series, optional
        Reference assignments (index customer_id, e.g. ``labels.parquet``); by
        default a clone of ``model`` is fitted on the sample.
    n_boot : int
        Number of bootstrap refits (``validation.bootstrap``).
    sample_size : int
        Bound on the customers resampled (``validation.sample_size``).
    random_state : int
        Seed of the sample and the bootstrap draws; same seed, same result.
    resample : {"auto", "bootstrap", "subset"}
        ``bootstrap`` draws with replacement; ``subset`` draws 80 % without
        replacement (Hennig's alternative for density-based methods, where
        duplicated customers would form artificial dense spots); ``auto`` uses
        ``subset`` for HDBSCAN and ``bootstrap`` otherwise.

    Returns
    -------
    StabilityResult
    """
    plan = bootstrap_plan(
        model,
        features,
        labels=labels,
        n_boot=n_boot,
        sample_size=sample_size,
        random_state=random_state,
        resample=resample,
    )
    reference = (
        plan.reference if plan.reference is not None else fit_labels(model, plan.sample)
    )
    pieces = bootstrap_refits(model, plan, reference, range(n_boot))
    return bootstrap_result(plan, reference, pieces)


@dataclass
class BootstrapPlan:
    """What :func:`bootstrap_stability` draws before it fits anything.

    ``reference`` is None when the reference is the model's own fit on ``sample``
    (no ``labels`` given); ``draws`` holds each refit's rows of ``sample``. Splitting
    the plan from the refits lets the finalists' refits run on several workers
    (:mod:`segkit.clustering.refits`) with the very draws a serial run makes.
    """

    sample: pd.DataFrame
    reference: np.ndarray | None
    draws: list[np.ndarray]
    scheme: str


def bootstrap_plan(
    model,
    features: pd.DataFrame,
    *,
    labels: pd.Series | None = None,
    n_boot: int = 50,
    sample_size: int = 3000,
    random_state: int = 0,
    resample: str = "auto",
) -> BootstrapPlan:
    """The bounded sample, the reference (if given) and every refit's draw."""
    if resample not in ("auto", "bootstrap", "subset"):
        raise DataError(
            f"resample is {resample!r}; use 'auto', 'bootstrap' or 'subset'"
        )
    algorithm = model.get_params(deep=False).get("algorithm")
    scheme = resample
    if resample == "auto":
        scheme = "subset" if algorithm == "hdbscan" else "bootstrap"
    if n_boot < 1:
        raise DataError(f"validation.bootstrap is {n_boot}; set it to 1 or more")
    reference = None
    if labels is None:
        rng_index = np.random.default_rng(random_state)
        n = min(sample_size, len(features))
        picked = np.sort(rng_index.choice(len(features), size=n, replace=False))
        sample = features.iloc[picked]
    else:
        missing = features.index.difference(labels.index)
        if len(missing):
            raise DataError(
                f"{len(missing)} customers of the features (e.g. {missing[0]!r}) have "
                "no segment in labels; pass the labels the model assigned to these "
                "features (labels.parquet of the same run)"
            )
        aligned = labels.reindex(features.index).astype(int)
        chosen = bounded_sample(aligned, sample_size, random_state=random_state)
        sample = features.loc[chosen]
        reference = aligned.loc[chosen].to_numpy()
    n = len(sample)
    rng = np.random.default_rng(random_state)
    draws = [
        rng.integers(0, n, size=n)
        if scheme == "bootstrap"
        else np.sort(rng.choice(n, size=max(2, int(0.8 * n)), replace=False))
        for _ in range(n_boot)
    ]
    return BootstrapPlan(sample=sample, reference=reference, draws=draws, scheme=scheme)


def bootstrap_refits(
    model, plan: BootstrapPlan, reference: np.ndarray, refits
) -> list[tuple[int, list[float], dict]]:
    """Fit the refits numbered ``refits`` of ``plan``: (refit, Jaccards, row) each."""
    n = len(plan.sample)
    segments = sorted(int(s) for s in np.unique(reference))
    boot_index = pd.Index([f"b{i}" for i in range(n)], name=plan.sample.index.name)
    out = []
    for refit in refits:
        draw = plan.draws[refit]
        frame = plan.sample.iloc[draw].set_axis(boot_index[: len(draw)], axis=0)
        found_all = fit_labels(model, frame)
        distinct, first = np.unique(draw, return_index=True)
        found, ref = found_all[first], reference[distinct]
        values = [_best_jaccard(ref, found, s) for s in segments]
        row = {
            "refit": refit,
            "ari": float(adjusted_rand_score(ref, found)),
            "n_segments": int(len(set(found.tolist()) - {NOISE})),
            "noise_share": float(np.mean(found == NOISE)),
            "absent": [s for s in segments if not np.any(ref == s)],
        }
        out.append((refit, values, row))
    return out


def bootstrap_result(
    plan: BootstrapPlan, reference: np.ndarray, pieces
) -> StabilityResult:
    """Summarise the refits of ``plan`` (in refit order) into a StabilityResult."""
    pieces = sorted(pieces, key=lambda piece: piece[0])
    segments = sorted(int(s) for s in np.unique(reference))
    jaccard = pd.DataFrame(
        [values for _, values, _ in pieces],
        columns=pd.Index(segments, name="segment"),
    )
    jaccard.index.name = "refit"
    refits = pd.DataFrame([row for _, _, row in pieces])
    absent = pd.Series(
        {s: np.mean([s in r for r in refits["absent"]]) for s in segments}
    )
    sizes = pd.Series(reference).value_counts()
    table = pd.DataFrame(
        {
            "segment": segments,
            "size": [int(sizes.get(s, 0)) for s in segments],
            "jaccard": jaccard.mean().to_numpy(),
            "jaccard_q10": jaccard.quantile(0.1).to_numpy(),
            "jaccard_q90": jaccard.quantile(0.9).to_numpy(),
            "share_absent": absent.to_numpy(),
            "share_dissolved": (jaccard <= 0.5).mean().to_numpy(),
            "share_recovered": (jaccard >= 0.75).mean().to_numpy(),
        }
    )
    table["band"] = table["jaccard"].map(stability_band)
    logger.info(
        "bootstrap stability: %d refits on %d customers, mean ARI %.3f",
        len(pieces),
        len(plan.sample),
        refits["ari"].mean(),
    )
    return StabilityResult(
        segments=table,
        refits=refits.drop(columns="absent"),
        jaccard=jaccard,
        sample_size=len(plan.sample),
        n_boot=len(pieces),
        scheme=plan.scheme,
        reference_noise_share=float(np.mean(reference == NOISE)),
    )


def bimodality(
    values: np.ndarray | pd.Series | list[float],
    *,
    min_gap: float = 0.25,
    min_share: float = 0.1,
) -> dict | None:
    """Two groups in a set of agreement scores (ARI or fold strengths), if any.

    Refits of an unstable segmentation rarely spread evenly: they land on one of a
    few competing solutions, e.g. 11 of 50 refits at ARI 0.28-0.36 and the rest at
    0.9-0.98. One mean (0.76 there) hides that. The sorted values are cut at their
    widest gap; the set is bimodal when that gap is at least ``min_gap``, exceeds
    the spread within each side, and each side holds at least ``min_share`` of the
    values (and at least two of them).

    Parameters
    ----------
    values : array-like
        Scores in [0, 1]; NaNs are dropped.
    min_gap : float
        Smallest gap between the two groups that counts.
    min_share : float
        Smallest share of the values in the smaller group.

    Returns
    -------
    dict or None
        None when unimodal; else ``low`` and ``high`` groups, each with ``count``,
        ``min``, ``max`` and ``mean``, plus ``n``, ``gap`` and a ``sentence``.
    """
    x = np.sort(np.asarray(values, dtype=float))
    x = x[np.isfinite(x)]
    need = max(2, int(np.ceil(min_share * len(x))))
    if len(x) < 2 * need:
        return None
    gaps = np.diff(x)
    # only cuts that leave enough values on both sides
    allowed = np.zeros(len(gaps), dtype=bool)
    allowed[need - 1 : len(x) - need] = True
    gaps = np.where(allowed, gaps, -np.inf)
    cut = int(np.argmax(gaps))
    gap = float(gaps[cut])
    low, high = x[: cut + 1], x[cut + 1 :]
    spread = max(low.max() - low.min(), high.max() - high.min())
    if gap < min_gap or gap <= spread:
        return None

    def side(part: np.ndarray) -> dict:
        return {
            "count": int(len(part)),
            "min": float(part.min()),
            "max": float(part.max()),
            "mean": float(part.mean()),
        }

    out = {"n": int(len(x)), "gap": gap, "low": side(low), "high": side(high)}
    out["sentence"] = (
        f"competing solutions: {len(low)} of {len(x)} refits agree only "
        f"{low.min():.2f}-{low.max():.2f}, the other {len(high)} "
        f"{high.min():.2f}-{high.max():.2f}; the data support more than one "
        "split of this size"
    )
    return out
