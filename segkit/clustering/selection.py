"""Screen the comparison cheaply, then spend refits on the finalists.

The comparison table scores every candidate (algorithm x representation x k) once.
Refits cost far more, so they are spent only where they decide:

1. :func:`screen` marks each candidate *substantial* or says why not (a segment
   below ``clustering.min_segment_share``, one above ``max_segment_share``, too
   many segments, too much noise), and picks the *finalists*: per number of
   segments, the best ``finalists_per_k`` substantial candidates of distinct
   algorithm families, ranked within that k by silhouette and Calinski-Harabasz
   (both comparable at equal k in the common space).
2. :func:`assess` refits each finalist: prediction strength over ``ps_splits``
   random half-splits (Tibshirani & Walther 2005; two folds each), then, where it
   passes, per-segment bootstrap Jaccard over ``jaccard_refits`` refits (Hennig
   2007) and the spread of the refits' agreement (ARI), tested for bimodality
   (competing solutions).
3. :func:`null_reference` clusters data with no segments at all but the same
   spread -- a single Gaussian with the data's covariance and a uniform box along
   its principal axes (the gap statistic's reference, Tibshirani, Walther & Hastie
   2001) -- with k-means at every k, so that a candidate's share of variance between
   segments (R-squared) can be compared with what structureless data give.

:func:`segkit.clustering.recommend.recommend` applies the rule to these tables.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from segkit.clustering.algorithms import parse_candidate
from segkit.clustering.model import SegmentationModel, settings_from_config
from segkit.clustering.refits import (
    assess_parallel,
    ps_passed,
    ps_row,
    with_bootstrap,
)
from segkit.clustering.sampling import thread_limit
from segkit.clustering.selection_settings import SelectionSettings, selection_settings
from segkit.clustering.stability import (
    bootstrap_stability,
    prediction_strength_folds,
)
from segkit.config_sections import ClusteringSettings
from segkit.exceptions import DataError

__all__ = [
    "SelectionSettings",
    "selection_settings",
    "candidate_model",
    "screen",
    "assess",
    "null_reference",
    "between_share",
    "ASSESS_COLUMNS",
]

logger = logging.getLogger(__name__)

#: Algorithms that count as one family when finalists are picked per k.
FAMILY = {"minibatch_kmeans": "kmeans"}

#: Columns of :func:`assess` output (one row per finalist).
ASSESS_COLUMNS = [
    "candidate",
    "ps_median",
    "ps_mean",
    "ps_lower",
    "ps_folds",
    "ps_low_folds",
    "jaccard_min",
    "jaccard_segments",
    "ari_mean",
    "ari_q10",
    "refits",
    "bimodal",
]


def candidate_model(
    candidate: str, clustering: Any, *, seed: int, preprocessor: Any = None
) -> SegmentationModel:
    """An unfitted :class:`SegmentationModel` for a candidate id (``kmeans/pca/4``)."""
    algorithm, representation, k = parse_candidate(candidate)
    return SegmentationModel(
        preprocessor=preprocessor,
        representation=representation,
        algorithm=algorithm,
        n_segments=k or 2,
        random_state=seed,
        **settings_from_config(clustering),
    )


def between_share(table: pd.DataFrame) -> pd.Series:
    """Share of variance between segments (R-squared) from the comparison's CH.

    ``CH = (B / (k - 1)) / (W / (n - k))`` on the metric sample, so
    ``R2 = B / (B + W) = CH (k - 1) / (CH (k - 1) + n - k)``, with ``n`` the
    assigned customers of the metric sample. Unlike CH it does not grow with n.
    """
    k = table["n_segments"].astype(float)
    n = table["n_metric"].astype(float) * (1 - table["noise_share"].fillna(0))
    ch = table["calinski_harabasz"].astype(float)
    return ch * (k - 1) / (ch * (k - 1) + n - k)


def screen(table: pd.DataFrame, clustering: Any) -> pd.DataFrame:
    """Mark substantial candidates and pick the finalists.

    Parameters
    ----------
    table : DataFrame
        The comparison table (``comparison.csv`` columns). Not modified.
    clustering : mapping
        The config's ``clustering`` section (``min_segment_share``,
        ``max_segment_share``, ``max_segments``, ``max_noise_share``).

    Returns
    -------
    DataFrame
        A copy with ``r2`` (see :func:`between_share`), ``substantial`` (bool),
        ``screen_reason`` (empty when substantial), ``k_rank`` (rank within its
        number of segments, 1 best) and ``finalist`` (bool).
    """
    settings = selection_settings(clustering)
    limits = ClusteringSettings.of(clustering)
    out = table.copy()
    out["r2"] = between_share(out)
    reasons = []
    for row in out.itertuples(index=False):
        why = []
        if row.algorithm == "rfm":
            why.append("reference baseline")
        if row.n_segments < 2:
            why.append(f"only {row.n_segments} segment")
        if row.n_segments > limits.max_segments:
            why.append(f"{row.n_segments} segments > max {limits.max_segments}")
        if not row.smallest_share >= limits.min_segment_share:
            why.append(
                f"smallest segment {row.smallest_share:.1%} < "
                f"{limits.min_segment_share:.0%}"
            )
        if row.largest_share > limits.max_segment_share:
            why.append(
                f"largest segment {row.largest_share:.0%} > "
                f"{limits.max_segment_share:.0%}"
            )
        if row.noise_share > limits.max_noise_share:
            why.append(
                f"{row.noise_share:.0%} unassigned > {limits.max_noise_share:.0%}"
            )
        if not np.isfinite(row.silhouette) or not np.isfinite(row.calinski_harabasz):
            why.append("no separation score")
        reasons.append("; ".join(why))
    out["screen_reason"] = reasons
    out["substantial"] = out["screen_reason"].eq("")
    out["k_rank"] = np.nan
    out["finalist"] = False
    for _, part in out[out["substantial"]].groupby("n_segments"):
        rank = (
            part["silhouette"].rank(ascending=False)
            + part["calinski_harabasz"].rank(ascending=False)
        ).rank(method="first")
        out.loc[part.index, "k_rank"] = rank
        order = rank.sort_values().index
        families: set[str] = set()
        for idx in order:
            family = FAMILY.get(out.at[idx, "algorithm"], out.at[idx, "algorithm"])
            if family in families:
                continue
            families.add(family)
            out.at[idx, "finalist"] = True
            if len(families) >= settings.finalists_per_k:
                break
    return out


def assess(
    candidates: list[str],
    data: pd.DataFrame,
    *,
    make_model: Callable[[str], Any],
    settings: SelectionSettings,
    seed: int = 0,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """Refit the finalists: prediction strength, then bootstrap Jaccard where it passes.

    Parameters
    ----------
    candidates : list of str
        Candidate ids (the ``finalist`` rows of :func:`screen`).
    data : DataFrame
        The frame the models are fitted on (the preprocessed matrix). Not modified.
    make_model : callable
        ``make_model(candidate)`` returns an unfitted estimator (fit / predict,
        ``sklearn.base.clone``-able), e.g. :func:`candidate_model` bound to a config.
    settings : SelectionSettings
        Splits, refits and the prediction-strength cutoff.
    seed : int
        Seed of every sample, split and refit.
    n_jobs : int
        Processes (joblib; -1: all cores). Serially the finalists of one
        representation share their refits' UMAP fits (the
        :class:`~segkit.clustering.reduce.Reducer` memo); in parallel each task is
        one split or one chunk of bootstrap draws for all the finalists of a
        representation (:mod:`segkit.clustering.refits`), so they still share them.
        Every refit is seeded, so the table does not depend on ``n_jobs``.

    Returns
    -------
    DataFrame
        :data:`ASSESS_COLUMNS`, one row per candidate. ``ps_lower`` is the mean
        strength minus 1.645 standard errors of the split means; ``ps_low_folds``
        the share of folds below the cutoff; ``jaccard_*`` and ``ari_*`` are NaN
        (``refits`` 0) when prediction strength already failed. ``bimodal`` is the
        :func:`~segkit.clustering.stability.bimodality` sentence of the refit ARIs
        (or of the folds), else "".
    """
    groups: dict[str, list[str]] = {}
    for candidate in candidates:
        groups.setdefault(parse_candidate(candidate)[1], []).append(candidate)
    if n_jobs == 1 or not candidates:
        found = [
            _assess_group(group, make_model, data, settings, seed)
            for group in groups.values()
        ]
        by_candidate = {row["candidate"]: row for rows in found for row in rows}
    else:
        by_candidate = assess_parallel(
            list(groups.values()), make_model, data, settings, seed, n_jobs=n_jobs
        )
    return pd.DataFrame([by_candidate[c] for c in candidates], columns=ASSESS_COLUMNS)


def _assess_group(
    candidates: list[str],
    make_model: Callable[[str], Any],
    data: pd.DataFrame,
    settings: SelectionSettings,
    seed: int,
) -> list[dict[str, Any]]:
    with thread_limit(min(len(data), settings.refit_sample)):
        return [
            _assess_one(candidate, make_model(candidate), data, settings, seed)
            for candidate in candidates
        ]


def _assess_one(
    candidate: str,
    model: Any,
    data: pd.DataFrame,
    settings: SelectionSettings,
    seed: int,
) -> dict[str, Any]:
    try:
        folds = prediction_strength_folds(
            model,
            data,
            n_splits=settings.ps_splits,
            sample_size=settings.refit_sample,
            random_state=seed,
        )
    except (ValueError, DataError) as exc:  # e.g. a half with fewer rows than k
        logger.info("prediction strength failed for %s: %s", candidate, exc)
        folds = np.full((1, 2), np.nan)
    row = ps_row(candidate, folds, settings)
    if ps_passed(row, settings):
        result = bootstrap_stability(
            model,
            data,
            n_boot=settings.jaccard_refits,
            sample_size=settings.refit_sample,
            random_state=seed,
        )
        row = with_bootstrap(row, result, settings)
    return row


def null_reference(
    matrix: pd.DataFrame,
    k_values: list[int] | range,
    *,
    n_refs: int = 10,
    sample_size: int = 2000,
    seed: int = 0,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """What k-means finds in structureless data with the matrix's spread.

    Two references, each ``n_refs`` data sets of ``min(sample_size, rows)`` rows:
    ``gaussian`` (one multivariate normal with the matrix's mean and covariance: a
    parametric bootstrap of "one segment") and ``uniform`` (uniform over the box of
    the matrix's principal components: the gap statistic's reference, which
    k-means splits more cleanly than a Gaussian). k-means maximises the share of
    variance between segments, so these are the best any algorithm does on such
    data: a conservative reference for every candidate.

    Parameters
    ----------
    matrix : DataFrame
        The common space of the comparison (numeric). Not modified.
    k_values : sequence of int
        Numbers of segments.
    n_refs : int
        Reference data sets per kind.
    sample_size : int
        Rows per reference data set.
    seed : int
        Seed of the draws and the fits.
    n_jobs : int
        Processes (joblib) the numbers of segments are spread over; the draws are
        made first, once, and every fit is seeded, so the table does not depend on
        it.

    Returns
    -------
    DataFrame
        One row per k: ``k``, and per kind (``gaussian``, ``uniform``) the mean and
        standard deviation of R-squared, of ``log W`` (within sum of squares, for a
        gap statistic) and the mean silhouette: ``r2_gaussian``,
        ``r2_gaussian_sd``, ``logw_gaussian``, ``logw_gaussian_sd``,
        ``silhouette_gaussian`` and the same for ``uniform``.
    """
    X = np.asarray(matrix, dtype=float)
    if len(X) < 4 or X.ndim != 2:
        raise DataError(
            f"the null reference needs a matrix of at least 4 rows, got {X.shape}; "
            "use a larger data set"
        )
    rng = np.random.default_rng(seed)
    n = min(sample_size, len(X))
    centre = X.mean(0)
    cov = np.cov(X, rowvar=False)
    _, _, vt = np.linalg.svd(X - centre, full_matrices=False)
    rotated = (X - centre) @ vt.T
    low, high = rotated.min(0), rotated.max(0)
    refs = {"gaussian": [], "uniform": []}
    for _ in range(n_refs):
        refs["gaussian"].append(
            rng.multivariate_normal(centre, np.atleast_2d(cov), size=n, method="eigh")
        )
        refs["uniform"].append(rng.uniform(low, high, size=(n, len(low))) @ vt)
    if n_jobs == 1 or len(k_values) < 2:
        with thread_limit(n):
            return pd.DataFrame([_null_row(int(k), refs, n, seed) for k in k_values])
    from joblib import Parallel, delayed

    # largest k first: its fits are the dearest
    order = sorted(k_values, reverse=True)
    rows = Parallel(n_jobs=n_jobs)(
        delayed(_null_task)(int(k), refs, n, seed) for k in order
    )
    by_k = dict(zip(order, rows, strict=True))
    return pd.DataFrame([by_k[k] for k in k_values])


def _null_task(k: int, refs: dict[str, list[np.ndarray]], n: int, seed: int) -> dict:
    with thread_limit(n):
        return _null_row(k, refs, n, seed)


def _null_row(k: int, refs: dict[str, list[np.ndarray]], n: int, seed: int) -> dict:
    row: dict[str, float] = {"k": int(k)}
    for kind, sets in refs.items():
        r2, logw, sil = [], [], []
        for i, ref in enumerate(sets):
            fit = KMeans(n_clusters=int(k), n_init=4, random_state=seed + i)
            labels = fit.fit_predict(ref)
            total = float(((ref - ref.mean(0)) ** 2).sum())
            r2.append(1 - fit.inertia_ / total)
            logw.append(np.log(fit.inertia_))
            sil.append(
                silhouette_score(ref, labels, sample_size=min(n, 1000), random_state=i)
            )
        row[f"r2_{kind}"] = float(np.mean(r2))
        row[f"r2_{kind}_sd"] = float(np.std(r2, ddof=1)) if len(r2) > 1 else 0.0
        row[f"logw_{kind}"] = float(np.mean(logw))
        row[f"logw_{kind}_sd"] = float(np.std(logw, ddof=1)) if len(logw) > 1 else 0.0
        row[f"silhouette_{kind}"] = float(np.mean(sil))
    return row
