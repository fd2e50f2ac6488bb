"""Compare clustering candidates: algorithms x k x representations, one tidy table.

Every candidate is fitted on the same stratified fit sample (all customers up to
``clustering.fit_sample``) and scored on the same fixed-seed metric sample (at most
``clustering.metric_sample`` customers) in the same space: the preprocessed matrix.
That makes silhouette, Calinski-Harabasz and Davies-Bouldin comparable across
representations (a UMAP space would flatter its own candidates). HDBSCAN is also
scored by DBCV in its own space on at most ``clustering.dbcv_sample`` customers.
Stability is the mean adjusted Rand index between the candidate and
``clustering.stability_refits`` refits on reseeded 80 % subsamples of the metric
sample. The RFM named segments, when present, are scored the same way as a baseline.

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

from segkit.clustering.metrics import ari, dbcv, partition_metrics, sizes
from segkit.clustering.model import ALGORITHMS, NOISE, SegmentationModel
from segkit.clustering.reduce import REPRESENTATIONS, make_reducer
from segkit.clustering.sampling import stratified_sample, thread_limit
from segkit.exceptions import ConfigError, DataError

__all__ = [
    "Comparison",
    "COLUMNS",
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
    "calinski_harabasz",
    "davies_bouldin",
    "wcss",
    "bic",
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


def candidate_id(algorithm: str, representation: str, k: int | None) -> str:
    """``"kmeans/scaled/5"``; HDBSCAN has no k (``"hdbscan/umap"``), RFM is ``"rfm/rules"``."""
    if algorithm == "rfm":
        return "rfm/rules"
    if algorithm == "hdbscan" or k is None:
        return f"{algorithm}/{representation}"
    return f"{algorithm}/{representation}/{int(k)}"


def parse_candidate(text: str) -> tuple[str, str, int | None]:
    """Split ``"kmeans/scaled/5"`` into ``("kmeans", "scaled", 5)``.

    Raises
    ------
    ConfigError
        When the text does not name an algorithm, a representation and (except for
        HDBSCAN) a k.
    """
    parts = str(text).strip().split("/")
    example = (
        "write it as algorithm/representation/k, e.g. kmeans/scaled/5 or hdbscan/umap"
    )
    if len(parts) not in (2, 3) or parts[0] not in ALGORITHMS:
        raise ConfigError(
            f"clustering.choice {text!r} is not a candidate; {example} "
            f"(algorithms: {list(ALGORITHMS)})"
        )
    algorithm, representation = parts[0], parts[1]
    if representation not in REPRESENTATIONS:
        raise ConfigError(
            f"clustering.choice {text!r} names representation {representation!r}; "
            f"use one of {list(REPRESENTATIONS)}"
        )
    if algorithm == "hdbscan":
        return algorithm, representation, None
    if len(parts) != 3 or not parts[2].isdigit() or int(parts[2]) < 2:
        raise ConfigError(f"clustering.choice {text!r} lacks a k >= 2; {example}")
    return algorithm, representation, int(parts[2])


def model_params(clustering: dict[str, Any]) -> dict[str, Any]:
    """SegmentationModel ``params`` from a config's ``clustering`` section."""
    return {
        "n_init": int(clustering.get("n_init", 10)),
        "fit_sample": int(clustering["fit_sample"]),
        "ward_sample": int(clustering["ward_sample"]),
        "pca_variance": float(clustering["pca_variance"]),
        "umap_components": int(clustering["umap_components"]),
        "umap_neighbors": int(clustering["umap_neighbors"]),
        "min_cluster_share": float(clustering["hdbscan_min_cluster_share"]),
    }


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
    clustering: dict[str, Any],
    seed: int = 0,
    rfm: pd.DataFrame | None = None,
) -> Comparison:
    """Fit and score every candidate of the grid on ``matrix``.

    Parameters
    ----------
    matrix : DataFrame
        The preprocessed features (``artifacts/matrix.parquet``): float columns,
        index ``customer_id``. Not modified.
    clustering : dict
        The config's ``clustering`` section (``algorithms``, ``representations``,
        ``k_min``, ``k_max``, ``fit_sample``, ``metric_sample``, ``ward_sample``,
        ``dbcv_sample``, ``stability_refits``, ...).
    seed : int
        Seed of every sample and fit; the same seed gives the same table (except
        the seconds columns).
    rfm : DataFrame, optional
        ``artifacts/rfm.parquet`` (index ``customer_id``, column ``segment``); adds
        the ``rfm/rules`` baseline row.

    Returns
    -------
    Comparison
        The table (:data:`COLUMNS`), segment sizes and sample sizes.

    Raises
    ------
    DataError
        Fewer customers than ``k_min``, fewer than two varying features, identical
        rows, or missing values in the matrix.
    """
    with thread_limit(min(len(matrix), int(clustering["fit_sample"]))):
        return _compare(matrix, clustering=clustering, seed=seed, rfm=rfm)


def _compare(
    matrix: pd.DataFrame,
    *,
    clustering: dict[str, Any],
    seed: int,
    rfm: pd.DataFrame | None,
) -> Comparison:
    _check_grid(clustering)
    k_min, k_max = int(clustering["k_min"]), int(clustering["k_max"])
    SegmentationModel._check_matrix(matrix, k_min, "kmeans")
    params = model_params(clustering)
    settings = SegmentationModel(params=params)._settings()
    n = len(matrix)
    fit_index = stratified_sample(matrix, int(clustering["fit_sample"]), seed=seed)
    fit_frame = matrix.loc[fit_index] if len(fit_index) < n else matrix
    metric_index = stratified_sample(
        fit_frame, int(clustering["metric_sample"]), seed=seed
    )
    metric_pos = fit_frame.index.get_indexer(metric_index)
    common = fit_frame.to_numpy(dtype=np.float64)[metric_pos]
    distinct = len(np.unique(common, axis=0))
    rng = np.random.default_rng(seed + 1)
    n_stab = len(metric_pos)
    sub_size = max(k_min + 1, int(0.8 * n_stab))
    subsets = [
        np.sort(rng.choice(n_stab, sub_size, replace=False))
        for _ in range(int(clustering["stability_refits"]))
    ]
    dbcv_rows = int(clustering.get("dbcv_sample", 3000))
    rows: list[dict[str, Any]] = []
    size_rows: list[pd.DataFrame] = []
    ks = list(range(k_min, k_max + 1))
    per_rep = sum(1 if a == "hdbscan" else len(ks) for a in clustering["algorithms"])
    bar = _progress(per_rep * len(clustering["representations"]), "candidates")
    for rep in clustering["representations"]:
        start = time.perf_counter()
        reducer = make_reducer(rep, clustering, seed)
        coords = reducer.fit_transform(fit_frame).to_numpy()
        reduce_seconds = time.perf_counter() - start
        stab_coords = coords[metric_pos]
        main_cache: dict[str, Any] = {}
        refit_caches: list[dict[str, Any]] = [{} for _ in subsets]
        for algorithm in clustering["algorithms"]:
            for k in [None] if algorithm == "hdbscan" else ks:
                bar.update(1)
                if k is not None and k > distinct:
                    logger.info(
                        "skip %s/%s/%s: only %d distinct rows",
                        algorithm,
                        rep,
                        k,
                        distinct,
                    )
                    continue
                model = SegmentationModel(
                    algorithm=algorithm,
                    representation=rep,
                    n_segments=k or 2,
                    random_state=seed,
                    params=params,
                )
                start = time.perf_counter()
                labels = model._fit_clusterer(coords, settings, main_cache)
                fit_seconds = time.perf_counter() - start
                row: dict[str, Any] = {
                    "candidate": candidate_id(algorithm, rep, k),
                    "algorithm": algorithm,
                    "representation": rep,
                    "k": k,
                    **sizes(labels),
                    **partition_metrics(common, labels[metric_pos]),
                    "bic": getattr(model, "bic_", np.nan),
                    "dbcv": (
                        dbcv(
                            stab_coords,
                            labels[metric_pos],
                            max_rows=dbcv_rows,
                            seed=seed,
                        )
                        if algorithm == "hdbscan"
                        else np.nan
                    ),
                    "stability": _stability(
                        model,
                        stab_coords,
                        labels[metric_pos],
                        subsets,
                        refit_caches,
                        settings,
                    ),
                    "fit_seconds": fit_seconds,
                    "reduce_seconds": reduce_seconds,
                    "dims": coords.shape[1],
                    "n_fit": len(coords),
                    "n_metric": n_stab,
                }
                rows.append(row)
                size_rows.append(_size_frame(row["candidate"], labels))
    bar.close()
    if rfm is not None and "segment" in rfm.columns:
        row, frame = _rfm_row(rfm, fit_frame, metric_pos, common)
        rows.append(row)
        size_rows.append(frame)
    table = pd.DataFrame(rows).reindex(columns=COLUMNS)
    table["k"] = table["k"].astype("Int64")
    samples = {
        "customers": n,
        "fit": len(fit_frame),
        "metric": n_stab,
        "stability_subsample": sub_size if subsets else 0,
        "dbcv": min(dbcv_rows, n_stab),
        "ward": min(int(clustering["ward_sample"]), len(fit_frame)),
    }
    logger.info("compared %d candidates on %s", len(table), samples)
    return Comparison(
        table=table,
        segment_sizes=pd.concat(size_rows, ignore_index=True)
        if size_rows
        else pd.DataFrame(columns=["candidate", "segment", "share"]),
        samples=samples,
    )


def _stability(
    model: SegmentationModel,
    X: np.ndarray,
    reference: np.ndarray,
    subsets: list[np.ndarray],
    caches: list[dict[str, Any]],
    settings: dict[str, Any],
) -> float:
    """Mean ARI between ``reference`` and refits on reseeded subsamples of ``X``."""
    if not subsets:
        return float("nan")
    scores = []
    for i, (rows, cache) in enumerate(zip(subsets, caches, strict=True)):
        refit = SegmentationModel(
            algorithm=model.algorithm,
            representation=model.representation,
            n_segments=model.n_segments,
            random_state=int(model.random_state) + 1 + i,
            params=model.params,
        )
        try:
            refit._fit_clusterer(X[rows], settings, cache)
            scores.append(ari(reference, refit._raw_predict(X)))
        except ValueError as exc:  # e.g. a refit with fewer points than k
            logger.info("stability refit failed for %s: %s", model.algorithm, exc)
    return float(np.mean(scores)) if scores else float("nan")


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
) -> tuple[dict[str, Any], pd.DataFrame]:
    named = rfm["segment"].reindex(fit_frame.index)
    if named.isna().all():
        raise DataError(
            "rfm.parquet shares no customer_id with matrix.parquet; re-run the "
            "features step so both come from the same customers"
        )
    codes = pd.Series(pd.factorize(named.fillna("Other"), sort=True)[0])
    labels = codes.to_numpy(dtype=np.int64)
    row = {
        "candidate": candidate_id("rfm", "rules", None),
        "algorithm": "rfm",
        "representation": "rules",
        "k": None,
        **sizes(labels),
        **partition_metrics(common, labels[metric_pos]),
        "bic": np.nan,
        "dbcv": np.nan,
        "stability": np.nan,
        "fit_seconds": 0.0,
        "reduce_seconds": 0.0,
        "dims": np.nan,
        "n_fit": len(labels),
        "n_metric": len(metric_pos),
    }
    return row, _size_frame(row["candidate"], labels)
