"""Prediction strength (Tibshirani & Walther 2005): does a k hold on new halves?

Split a bounded sample in halves, cluster both, and measure for the worst test
cluster how many of its pairs the training clustering also puts together.
:func:`prediction_strength` scans the numbers of segments, :func:`suggested_k` reads
the largest ``k`` above the cutoff (0.8 or 0.9), :func:`prediction_strength_folds`
gives the fold strengths at the model's own settings. Re-exported by
:mod:`segkit.clustering.stability`.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.base import clone

from segkit.clustering.algorithms import NOISE
from segkit.clustering.resample import labels_of
from segkit.exceptions import DataError

__all__ = [
    "prediction_strength",
    "prediction_strength_folds",
    "suggested_k",
    "fold_halves",
    "fold_pair",
]

logger = logging.getLogger(__name__)


def _strength(test_labels: np.ndarray, predicted: np.ndarray) -> float:
    """Worst test cluster's share of pairs that the training clustering co-assigns."""
    worst = np.inf
    for cluster in np.unique(test_labels):
        if cluster == NOISE:
            continue
        members = predicted[test_labels == cluster]
        n = len(members)
        if n < 2:
            continue
        counts = np.unique(members[members != NOISE], return_counts=True)[1]
        worst = min(worst, float(np.sum(counts * (counts - 1)) / (n * (n - 1))))
    return float(worst) if np.isfinite(worst) else float("nan")


def _supports_k(model) -> bool:
    params = model.get_params(deep=False)
    # HDBSCAN finds its own number of segments and CLV tiers have theirs from
    # value.tiers: neither is refitted at each k
    return "n_segments" in params and params.get("algorithm") not in (
        "hdbscan",
        "clv_tiers",
    )


def prediction_strength_folds(
    model,
    features: pd.DataFrame,
    *,
    n_splits: int = 10,
    sample_size: int = 3000,
    random_state: int = 0,
) -> np.ndarray:
    """Prediction strength of each fold, at the model's own settings.

    Each of ``n_splits`` random half-splits of a bounded sample gives two folds
    (either half as the test half), so fold values of one split are not independent;
    :func:`prediction_strength` summarises them by split.

    Parameters
    ----------
    model : estimator
        Segmentation model (fitted or not; only its settings are used).
    features : DataFrame
        The frame the model is fitted on.
    n_splits : int
        Random half-splits.
    sample_size : int
        Bound on the customers used.
    random_state : int
        Seed of the sample and the splits.

    Returns
    -------
    ndarray
        Shape ``(n_splits, 2)``; NaN where a test half had no cluster of two.
    """
    return _folds(model, features, n_splits, sample_size, random_state)[0]


def fold_halves(
    features: pd.DataFrame, n_splits: int, sample_size: int, random_state: int
) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """The two halves of each random half-split of a bounded sample (no fitting).

    The same draws for every model of one seed, so the finalists' splits can be
    refitted on several workers (:mod:`segkit.clustering.refits`).
    """
    if len(features) < 4:
        raise DataError(
            f"prediction strength needs at least 4 customers, got {len(features)}; "
            "use a larger data set"
        )
    if n_splits < 1:
        raise DataError(f"n_splits is {n_splits}; use at least 1 half-split")
    rng = np.random.default_rng(random_state)
    n = min(sample_size, len(features))
    sample = features.iloc[np.sort(rng.choice(len(features), size=n, replace=False))]
    halves = []
    for _ in range(n_splits):
        order = rng.permutation(n)
        halves.append(
            (
                sample.iloc[np.sort(order[: n // 2])],
                sample.iloc[np.sort(order[n // 2 :])],
            )
        )
    return halves


def fold_pair(
    model, halves: tuple[pd.DataFrame, pd.DataFrame]
) -> tuple[list[float], list[int]]:
    """The two fold strengths of one split (either half as the test half), and the
    number of segments each test half had."""
    fitted = [clone(model).fit(half) for half in halves]
    out, found_k = [float("nan"), float("nan")], []
    for test, train in ((0, 1), (1, 0)):
        own = labels_of(fitted[test], halves[test])
        other = np.asarray(fitted[train].predict(halves[test]), dtype=int)
        out[test] = _strength(own, other)
        found_k.append(len(set(own.tolist()) - {NOISE}))
    return out, found_k


def _folds(
    model, features: pd.DataFrame, n_splits: int, sample_size: int, random_state: int
) -> tuple[np.ndarray, list[int]]:
    """Fold strengths (n_splits x 2) and the number of segments each test half had."""
    out = np.full((n_splits, 2), np.nan)
    found_k: list[int] = []
    for split, pair in enumerate(
        fold_halves(features, n_splits, sample_size, random_state)
    ):
        out[split], found = fold_pair(model, pair)
        found_k += found
    return out, found_k


def prediction_strength(
    model,
    features: pd.DataFrame,
    *,
    k_values: list[int] | range,
    n_splits: int = 2,
    sample_size: int = 3000,
    random_state: int = 0,
) -> pd.DataFrame:
    """Prediction strength (Tibshirani & Walther 2005) of the model's algorithm by k.

    For each split the sample is cut in two random halves; each half is clustered
    with a clone of ``model`` set to ``k`` segments, and the other half's model
    predicts it. The strength of one fold is the smallest, over the test clusters of
    at least two customers, share of within-cluster pairs that the other half's model
    also puts in one segment (noise never counts as together).

    Fold values are typically bimodal (about 0.5 when a split cuts a segment, about
    1 when it does not), so use at least 10 splits before reading a cut at 0.8: the
    median and the standard error of the split means are returned for that.

    Parameters
    ----------
    model : estimator
        Segmentation model with an ``n_segments`` setting; for HDBSCAN (which chooses
        its own number of segments) one row is returned for the number it finds.
    features : DataFrame
        The frame the model is fitted on.
    k_values : sequence of int
        Numbers of segments to try (e.g. ``clustering.k_min .. k_max``).
    n_splits : int
        Random half-splits per k; each gives two folds.
    sample_size : int
        Bound on the customers used.
    random_state : int
        Seed of the sample and the splits (the same splits for every k).

    Returns
    -------
    DataFrame
        ``k``, ``strength`` (mean over folds), ``strength_min``, ``strength_max``,
        ``strength_median``, ``strength_se`` (standard error of the mean over
        splits), ``folds``, ``sample_size``.
    """
    ks: list[int | None] = list(k_values) if _supports_k(model) else [None]
    n = min(sample_size, len(features))
    rows = []
    for k in ks:
        estimator = clone(model) if k is None else clone(model).set_params(n_segments=k)
        folds, found_k = _folds(
            estimator, features, n_splits, sample_size, random_state
        )
        values = folds[np.isfinite(folds)]
        if not len(values):
            values = np.array([np.nan])
        by_split = np.nanmean(folds, axis=1) if np.isfinite(folds).any() else values
        by_split = by_split[np.isfinite(by_split)]
        se = (
            float(np.std(by_split, ddof=1) / np.sqrt(len(by_split)))
            if len(by_split) > 1
            else float("nan")
        )
        rows.append(
            {
                "k": int(k) if k is not None else int(np.median(found_k)),
                "strength": float(np.mean(values)),
                "strength_min": float(np.min(values)),
                "strength_max": float(np.max(values)),
                "strength_median": float(np.median(values)),
                "strength_se": se,
                "folds": int(folds.size),
                "sample_size": n,
            }
        )
    logger.info("prediction strength over k=%s on %d customers", ks, n)
    return pd.DataFrame(rows)


def suggested_k(table: pd.DataFrame, cutoff: float) -> int | None:
    """Largest ``k`` whose prediction strength reaches ``cutoff`` (None if none does).

    Parameters
    ----------
    table : DataFrame
        Output of :func:`prediction_strength`.
    cutoff : float
        Tibshirani & Walther suggest 0.8 (moderately) or 0.9 (well separated).
    """
    passing = table.loc[table["strength"] >= cutoff, "k"]
    return int(passing.max()) if len(passing) else None
