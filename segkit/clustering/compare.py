"""Compare clustering candidates: algorithms x k x representations, one tidy table.

Every candidate is built by the registry
(:func:`segkit.clustering.algorithms.make_clusterer`), fitted on the same
stratified fit sample (all customers up to ``clustering.fit_sample``) and scored on
the same fixed-seed metric sample (at most ``clustering.metric_sample`` customers)
in the same space: the preprocessed matrix. That makes silhouette,
Calinski-Harabasz and Davies-Bouldin comparable across representations (a UMAP
space would flatter its own candidates) and across algorithms: HDBSCAN's noise
points are scored as one more group (the "Unassigned" segment customers receive),
never dropped, so density and partition methods meet on the same terms. DBCV and
BIC are information only (see :data:`COLUMN_DOCS`). Stability is the mean adjusted
Rand index between the candidate and ``clustering.stability_refits`` refits on
reseeded 80 % subsamples of the metric sample; by default
(``clustering.stability_scope: finalists``) only the finalists of the screen get
these refits, the most costly part of the comparison, which the recommendation
does not read (see :mod:`segkit.clustering.seed_stability`). The RFM named
segments, when present, are scored the same way as a baseline.

Candidates of one algorithm in one representation form one task; with
``n_jobs > 1`` (or -1, or 0 = auto on a fit sample of at least
:data:`PARALLEL_ROWS` customers) tasks run in parallel processes (joblib). Every fit
is seeded, so the table is the same for any ``n_jobs`` (the seconds columns aside).

The result feeds :func:`segkit.clustering.recommend.recommend`.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from segkit.clustering.algorithms import (
    ALGORITHMS,
    NOISE,
    candidate_id,
    check_matrix,
    make_clusterer,
    parse_candidate,
)
from segkit.clustering.metrics import (
    dbcv,
    distance_matrix,
    partition_metrics,
    sizes,
)
from segkit.clustering.model import SegmentationModel, settings_from_config
from segkit.clustering.reduce import (
    REPRESENTATIONS,
    keep_umap_fit,
    make_reducer,
    umap_fit_of,
)
from segkit.clustering.sampling import stratified_sample, thread_limit
from segkit.clustering.seed_stability import (
    COST_ORDER,
    finalist_stability,
    seed_stability,
)
from segkit.exceptions import ConfigError, DataError

__all__ = [
    "Comparison",
    "COLUMNS",
    "COLUMN_DOCS",
    "candidate_id",
    "parse_candidate",
    "model_params",
    "compare_candidates",
    "is_quiet",
]

logger = logging.getLogger(__name__)

#: Columns of ``comparison.csv`` (before the recommendation adds its own).
COLUMNS = [
    "candidate",
    "algorithm",
    "representation",
    "k",
    "n_segments",
    "silhouette",
    "silhouette_assigned",
    "calinski_harabasz",
    "davies_bouldin",
    "wcss",
    "bic",
    "bic_rank_within_representation",
    "dbcv",
    "smallest_share",
    "largest_share",
    "noise_share",
    "stability",
    "fit_seconds",
    "reduce_seconds",
    "dims",
    "n_fit",
    "n_metric",
]

#: What each column of :data:`COLUMNS` means (shown under the table in 03).
COLUMN_DOCS: dict[str, str] = {
    "candidate": "id: algorithm/representation/k (hdbscan/representation; rfm/rules)",
    "algorithm": "clustering algorithm (rfm: the named RFM segments, a baseline)",
    "representation": "space the clusterer worked in (scaled, pca, umap)",
    "k": "segments asked for (empty for HDBSCAN, which finds its own)",
    "n_segments": "segments found, noise not counted",
    "silhouette": (
        "mean silhouette on the metric sample in the preprocessed space; noise "
        "(HDBSCAN 'Unassigned') counts as one more group, so scattered noise lowers "
        "it: the same terms for density and partition methods"
    ),
    "silhouette_assigned": (
        "silhouette of the assigned customers only (noise dropped); information "
        "only: it flatters HDBSCAN, read it with noise_share"
    ),
    "calinski_harabasz": "Calinski-Harabasz on the metric sample, noise as a group",
    "davies_bouldin": "Davies-Bouldin on the metric sample, noise as a group (low: good)",
    "wcss": "mean squared distance to the own group's centre, noise as a group",
    "bic": (
        "GMM only: BIC of the mixture on its fit sample; comparable only between "
        "GMMs of the same representation (other spaces have other densities)"
    ),
    "bic_rank_within_representation": (
        "GMM only: rank of bic among the GMMs of the same representation (1: "
        "lowest); empty for other algorithms; never compare BIC across spaces"
    ),
    "dbcv": (
        "HDBSCAN only: DBCV density validity (-1..1) in its own space on at most "
        "clustering.dbcv_sample customers; information only, on another scale "
        "than silhouette, so never ranked against partition methods"
    ),
    "smallest_share": "smallest segment's share of the fit sample (noise included)",
    "largest_share": "largest segment's share of the fit sample",
    "noise_share": "share of the fit sample HDBSCAN left unassigned (0 otherwise)",
    "stability": (
        "mean ARI between the fit and reseeded refits on 80 % subsamples; the "
        "finalists only (empty for the rest) unless clustering.stability_scope is all"
    ),
    "fit_seconds": "seconds of the clusterer fit (varies run to run)",
    "reduce_seconds": "seconds of the representation fit (varies run to run)",
    "dims": "dimensions of the representation",
    "n_fit": "customers the candidate was fitted on",
    "n_metric": "customers the metrics were computed on",
}


@dataclass
class Comparison:
    """Result of :func:`compare_candidates`.

    Attributes
    ----------
    table : DataFrame
        One row per candidate, columns :data:`COLUMNS`.
    segment_sizes : DataFrame
        Long form: ``candidate``, ``segment`` (int, -1 noise), ``share`` (of the
        fit sample).
    samples : dict
        Sizes of every sample used (customers, fit, metric, stability, dbcv, ward).
    """

    table: pd.DataFrame
    segment_sizes: pd.DataFrame
    samples: dict[str, int] = field(default_factory=dict)


def is_quiet() -> bool:
    """True when progress bars should stay off (report runs, logs, pipes).

    ``SEGKIT_QUIET=1`` (set by the report runner) forces quiet; inside a Jupyter
    kernel or on a terminal bars are shown.
    """
    if os.environ.get("SEGKIT_QUIET", "").strip() not in ("", "0"):
        return True
    if "ipykernel" in sys.modules:
        return False
    return not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty())


def model_params(clustering: Any) -> dict[str, Any]:
    """SegmentationModel keyword settings from a config's ``clustering`` section.

    The same as :func:`segkit.clustering.model.settings_from_config`; use
    ``SegmentationModel(**model_params(clustering), ...)`` or, simpler,
    :meth:`SegmentationModel.from_config`.
    """
    return settings_from_config(clustering)


def _check_grid(clustering: dict[str, Any]) -> None:
    for name in clustering["algorithms"]:
        if name not in ALGORITHMS:
            raise ConfigError(
                f"clustering.algorithms lists {name!r}; use names from "
                f"{list(ALGORITHMS)}"
            )
    for name in clustering["representations"]:
        if name not in REPRESENTATIONS:
            raise ConfigError(
                f"clustering.representations lists {name!r}; use names from "
                f"{list(REPRESENTATIONS)}"
            )
    if not clustering["algorithms"] or not clustering["representations"]:
        raise ConfigError(
            "clustering.algorithms and clustering.representations must each list at "
            "least one name, e.g. algorithms: [kmeans], representations: [scaled]"
        )


def _progress(total: int, desc: str) -> Any:
    import warnings

    with warnings.catch_warnings():  # no ipywidgets: tqdm falls back to text bars
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=is_quiet(), leave=False)


def compare_candidates(
    matrix: pd.DataFrame,
    *,
    clustering: Any,
    seed: int = 0,
    rfm: pd.DataFrame | None = None,
    n_jobs: int | None = None,
) -> Comparison:
    """Fit and score every candidate of the grid on ``matrix``.

    Parameters
    ----------
    matrix : DataFrame
        The preprocessed features (``artifacts/matrix.parquet``): float columns,
        index ``customer_id``. Not modified.
    clustering : mapping
        The config's ``clustering`` section (``algorithms``, ``representations``,
        ``k_min``, ``k_max``, ``fit_sample``, ``metric_sample``, ``ward_sample``,
        ``dbcv_sample``, ``stability_refits``, and the model settings read by
        :func:`segkit.clustering.model.settings_from_config`).
    seed : int
        Seed of every sample and fit; the same seed gives the same table (except
        the seconds columns).
    rfm : DataFrame, optional
        ``artifacts/rfm.parquet`` (index ``customer_id``, column ``segment``); adds
        the ``rfm/rules`` baseline row.
    n_jobs : int, optional
        Parallel processes for the candidate fits (joblib; -1: all cores); None:
        ``clustering.n_jobs``. The table does not depend on it.

    Returns
    -------
    Comparison
        The table (:data:`COLUMNS`, described in :data:`COLUMN_DOCS`), segment
        sizes and sample sizes.

    Raises
    ------
    DataError
        Fewer customers than ``k_min``, fewer than two varying features, identical
        rows, or missing values in the matrix.
    """
    jobs = resolve_jobs(
        clustering["n_jobs"] if n_jobs is None else n_jobs,
        min(len(matrix), clustering["fit_sample"]),
    )
    with thread_limit(min(len(matrix), clustering["fit_sample"])):
        return _compare(matrix, clustering=clustering, seed=seed, rfm=rfm, n_jobs=jobs)


#: ``clustering.n_jobs: 0`` (auto) fits in parallel from this many rows on: below
#: it a candidate fits in well under a second and starting worker processes (each
#: importing the stack, about 3 s) costs more than it saves. Measured on 2 cores,
#: Online Retail (4,334 customers): the comparison took 57 s in one process and
#: 33 s on two workers (UMAP's neighbours no longer need numba compiling in each
#: worker, see :class:`segkit.clustering.reduce.ExactNeighbors`).
PARALLEL_ROWS = 2_000


def resolve_jobs(n_jobs: int, rows: int) -> int:
    """The joblib ``n_jobs`` for a setting: 0 (auto) is all cores from
    :data:`PARALLEL_ROWS` fitted rows on and 1 below; other values pass through."""
    if n_jobs == 0:
        return -1 if rows >= PARALLEL_ROWS else 1
    return n_jobs


@dataclass
class _Space:
    """One representation of the fit sample and what every candidate in it shares."""

    coords: np.ndarray  # fit sample in the representation
    common: np.ndarray  # metric sample in the preprocessed space
    metric_pos: np.ndarray  # metric sample rows within the fit sample
    subsets: list[np.ndarray]  # stability subsamples (rows of the metric sample)
    reduce_seconds: float
    distances: np.ndarray | None = None  # distance_matrix(common), shared


def _compare(
    matrix: pd.DataFrame,
    *,
    clustering: Any,
    seed: int,
    rfm: pd.DataFrame | None,
    n_jobs: int,
) -> Comparison:
    from joblib import Parallel, delayed

    _check_grid(clustering)
    k_min, k_max = clustering["k_min"], clustering["k_max"]
    check_matrix(matrix, k_min, "kmeans")
    settings = SegmentationModel(
        **settings_from_config(clustering)
    ).clusterer_settings()
    n = len(matrix)
    fit_index = stratified_sample(matrix, clustering["fit_sample"], seed=seed)
    fit_frame = matrix.loc[fit_index] if len(fit_index) < n else matrix
    metric_index = stratified_sample(fit_frame, clustering["metric_sample"], seed=seed)
    metric_pos = fit_frame.index.get_indexer(metric_index)
    common = fit_frame.to_numpy(dtype=np.float64)[metric_pos]
    distinct = len(np.unique(common, axis=0))
    distances = distance_matrix(common)
    rng = np.random.default_rng(seed + 1)
    n_stab = len(metric_pos)
    sub_size = max(k_min + 1, int(0.8 * n_stab))
    subsets = [
        np.sort(rng.choice(n_stab, sub_size, replace=False))
        for _ in range(clustering["stability_refits"])
    ]
    dbcv_rows = clustering["dbcv_sample"]
    ks = [k for k in range(k_min, k_max + 1) if k <= distinct]
    if len(ks) < k_max - k_min + 1:
        logger.info("skip k > %d: only %d distinct rows", distinct, distinct)
    all_stability = clustering["stability_scope"] == "all"

    def space_of(coords: np.ndarray, seconds: float) -> _Space:
        return _Space(
            coords=coords,
            common=common,
            metric_pos=metric_pos,
            subsets=subsets,
            reduce_seconds=seconds,
            distances=distances,
        )

    def score(index: int, rep: str, algorithm: str, space: _Space) -> Any:
        grid = [None] if algorithm == "hdbscan" else ks
        return delayed(_tagged)(
            ("score", index),
            _score_algorithm,
            algorithm,
            rep,
            grid,
            space,
            settings,
            seed=seed,
            dbcv_rows=dbcv_rows,
            with_stability=all_stability,
        )

    reps = list(clustering["representations"])
    algorithms = list(clustering["algorithms"])
    # In parallel, UMAP (seconds, one core) is fitted in a worker while the other
    # representations' candidates fit beside it; serially everything runs in order.
    slow = [rep for rep in reps if rep == "umap" and n_jobs != 1]
    spaces: dict[str, _Space] = {}
    for rep in reps:
        if rep not in slow:
            spaces[rep] = space_of(*_reduce(rep, clustering, seed, fit_frame)[:2])
    order = [(rep, algorithm) for rep in reps for algorithm in algorithms]
    # dearest first, so no worker is left with a long fit at the end
    cost = {name: rank for rank, name in enumerate(COST_ORDER)}
    queue = sorted(range(len(order)), key=lambda i: cost.get(order[i][1], 0))
    bar = _progress(len(order), "candidates")
    results: dict[int, list[tuple[dict[str, Any], np.ndarray]]] = {}
    with Parallel(n_jobs=n_jobs, return_as="generator_unordered") as parallel:
        first = [
            delayed(_tagged)(("reduce", rep), _reduce, rep, clustering, seed, fit_frame)
            for rep in slow
        ] + [
            score(i, *order[i], spaces[order[i][0]])
            for i in queue
            if order[i][0] not in slow
        ]
        for (kind, key), found in parallel(first):
            if kind == "reduce":
                *found, fit = found
                keep_umap_fit(fit)  # the chosen model's fit, if it is UMAP's
                spaces[key] = space_of(*found)
            else:
                results[key] = found
                bar.update(1)
        later = [
            score(i, *order[i], spaces[order[i][0]]) for i in queue if i not in results
        ]
        for (_, key), found in parallel(later):
            results[key] = found
            bar.update(1)
    bar.close()
    tasks = [
        (algorithm, rep, [None] if algorithm == "hdbscan" else ks, spaces[rep])
        for rep, algorithm in order
    ]
    rows: list[dict[str, Any]] = []
    size_rows: list[pd.DataFrame] = []
    found_labels: dict[str, np.ndarray] = {}
    for index in range(len(order)):
        for row, labels in results[index]:
            rows.append(row)
            size_rows.append(_size_frame(row["candidate"], labels))
            found_labels[row["candidate"]] = labels
    if rfm is not None and "segment" in rfm.columns:
        row, frame = _rfm_row(rfm, fit_frame, metric_pos, common, distances)
        rows.append(row)
        size_rows.append(frame)
    table = pd.DataFrame(rows).reindex(columns=COLUMNS)
    table["k"] = table["k"].astype("Int64")
    table["bic_rank_within_representation"] = _bic_rank(table)
    if not all_stability and subsets:
        finalist_stability(
            table, clustering, tasks, found_labels, settings, seed=seed, n_jobs=n_jobs
        )
    samples = {
        "customers": n,
        "fit": len(fit_frame),
        "metric": n_stab,
        "stability_subsample": sub_size if subsets else 0,
        "dbcv": min(dbcv_rows, n_stab),
        "ward": min(clustering["ward_sample"], len(fit_frame)),
    }
    logger.info("compared %d candidates on %s", len(table), samples)
    return Comparison(
        table=table,
        segment_sizes=pd.concat(size_rows, ignore_index=True)
        if size_rows
        else pd.DataFrame(columns=["candidate", "segment", "share"]),
        samples=samples,
    )


def _tagged(tag: Any, func: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """``(tag, func(*args, **kwargs))``: results of an unordered joblib run, named."""
    return tag, func(*args, **kwargs)


def _reduce(
    rep: str, clustering: Any, seed: int, frame: pd.DataFrame
) -> tuple[np.ndarray, float, Any]:
    """The fit sample in one representation, the seconds the fit took, and the
    UMAP fit to remember where the model is fitted (:func:`umap_fit_of`)."""
    start = time.perf_counter()
    reducer = make_reducer(rep, clustering, seed)
    coords = reducer.fit_transform(frame)
    return coords.to_numpy(), time.perf_counter() - start, umap_fit_of(reducer)


def _bic_rank(table: pd.DataFrame) -> pd.Series:
    """Rank of BIC among the GMMs of one representation (1: lowest); NaN otherwise."""
    bic = table["bic"].astype(float)
    return bic.groupby(table["representation"]).rank(method="min")


def _score_algorithm(
    algorithm: str,
    rep: str,
    grid: list[int | None],
    space: _Space,
    settings: dict[str, Any],
    *,
    seed: int,
    dbcv_rows: int,
    with_stability: bool = True,
) -> list[tuple[dict[str, Any], np.ndarray]]:
    """Fit and score one algorithm at every k of ``grid`` in one representation.

    One task keeps one Ward tree cache, so its tree (and each stability subset's)
    is built once for all k. ``with_stability`` False leaves ``stability`` NaN
    (:func:`~segkit.clustering.seed_stability.finalist_stability` fills it in for
    the finalists).
    """
    settings = {**settings, "tree_cache": {}}
    coords, pos = space.coords, space.metric_pos
    stab_coords = coords[pos]
    out = []
    for k in grid:
        clusterer = make_clusterer(algorithm, k, random_state=seed, **settings)
        start = time.perf_counter()
        labels = np.asarray(clusterer.fit(coords).labels_, dtype=np.int64)
        fit_seconds = time.perf_counter() - start
        sampled = labels[pos]
        metrics = partition_metrics(space.common, sampled, distances=space.distances)
        assigned = (
            partition_metrics(
                space.common, sampled, noise="drop", distances=space.distances
            )["silhouette"]
            if (sampled == NOISE).any()
            else metrics["silhouette"]
        )
        row: dict[str, Any] = {
            "candidate": candidate_id(algorithm, rep, k),
            "algorithm": algorithm,
            "representation": rep,
            "k": k,
            **sizes(labels),
            **metrics,
            "silhouette_assigned": assigned,
            "bic": clusterer.bic(coords) if algorithm == "gmm" else np.nan,
            "dbcv": (
                dbcv(stab_coords, sampled, max_rows=dbcv_rows, seed=seed)
                if algorithm == "hdbscan"
                else np.nan
            ),
            "stability": seed_stability(
                algorithm, k, stab_coords, sampled, space.subsets, settings, seed
            )
            if with_stability
            else np.nan,
            "fit_seconds": fit_seconds,
            "reduce_seconds": space.reduce_seconds,
            "dims": coords.shape[1],
            "n_fit": len(coords),
            "n_metric": len(pos),
        }
        out.append((row, labels))
    return out


def _size_frame(candidate: str, labels: np.ndarray) -> pd.DataFrame:
    values, counts = np.unique(labels, return_counts=True)
    # the same size order the model uses: 0 is the largest segment, noise stays -1
    order = [i for i in np.lexsort((values, -counts)) if values[i] != NOISE]
    segment = {int(values[i]): rank for rank, i in enumerate(order)}
    segment[NOISE] = NOISE
    return pd.DataFrame(
        {
            "candidate": candidate,
            "segment": [segment[int(v)] for v in values],
            "share": counts / counts.sum(),
        }
    ).sort_values("segment", ignore_index=True)


def _rfm_row(
    rfm: pd.DataFrame,
    fit_frame: pd.DataFrame,
    metric_pos: np.ndarray,
    common: np.ndarray,
    distances: np.ndarray | None = None,
) -> tuple[dict[str, Any], pd.DataFrame]:
    named = rfm["segment"].reindex(fit_frame.index)
    if named.isna().all():
        raise DataError(
            "rfm.parquet shares no customer_id with matrix.parquet; re-run the "
            "features step so both come from the same customers"
        )
    codes = pd.Series(pd.factorize(named.fillna("Other"), sort=True)[0])
    labels = codes.to_numpy(dtype=np.int64)
    row: dict[str, Any] = {
        "candidate": candidate_id("rfm", "rules", None),
        "algorithm": "rfm",
        "representation": "rules",
        "k": None,
        **sizes(labels),
        **partition_metrics(common, labels[metric_pos], distances=distances),
        "bic": np.nan,
        "bic_rank_within_representation": np.nan,
        "dbcv": np.nan,
        "stability": np.nan,
        "fit_seconds": 0.0,
        "reduce_seconds": 0.0,
        "dims": np.nan,
        "n_fit": len(labels),
        "n_metric": len(metric_pos),
    }
    row["silhouette_assigned"] = row["silhouette"]
    return row, _size_frame(row["candidate"], labels)
