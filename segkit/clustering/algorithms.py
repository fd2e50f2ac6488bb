"""The clusterer registry: the one place that turns an algorithm name into an estimator.

Both the comparison grid (:mod:`segkit.clustering.compare`) and
:class:`~segkit.clustering.model.SegmentationModel` build their clusterers with
:func:`make_clusterer`. Every estimator it returns keeps the scikit-learn contract
(``fit`` returns self, ``labels_`` after fit, ``predict`` for new rows,
``fit_predict``):

``kmeans`` / ``minibatch_kmeans``
    scikit-learn's, with ``n_init`` restarts (one k-means++ start lands in bad
    optima) and ``batch_size`` for the mini-batch variant.
``gmm``
    :class:`ContinuousGaussianMixture`: a full-covariance Gaussian mixture with
    ``gmm_n_init`` restarts, fitted on the continuous columns only (see the class
    for why two-valued columns such as one-hot indicators are left out).
``ward``
    :class:`WardClusterer`: a Ward tree on a bounded sample, the other rows
    assigned to the nearest centre; an optional shared cache builds the tree once
    when the same data are cut at several k.
``hdbscan``
    :class:`HDBSCANClusterer`: the ``hdbscan`` library's HDBSCAN; ``predict`` uses
    ``approximate_predict``; noise is :data:`NOISE` (-1). It finds its own number
    of clusters (``n_clusters`` is ignored).
``clv_tiers``
    :class:`~segkit.features.value_tiers.ClvTiers`: customers cut by their CLV
    into the shares of ``value.tiers`` (top tier first); ``value_column`` is the
    position of ``clv`` among the coordinates. A rule, not a clustering: it is
    never in the comparison grid (:data:`RULE_ALGORITHMS`), only chosen with
    ``clustering.choice: clv_tiers`` (see :mod:`segkit.clustering.tier_model`).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from segkit.clustering.reduce import REPRESENTATIONS
from segkit.clustering.sampling import nearest_centre
from segkit.config_base import field_default
from segkit.config_sections import ALGORITHMS, ClusteringSettings
from segkit.exceptions import ConfigError, DataError, ModelError
from segkit.features.value_tiers import ClvTiers

__all__ = [
    "ALGORITHMS",
    "CLV_TIERS",
    "RULE_ALGORITHMS",
    "NOISE",
    "DEFAULT_SETTINGS",
    "ContinuousGaussianMixture",
    "WardClusterer",
    "HDBSCANClusterer",
    "make_clusterer",
    "binary_columns",
    "candidate_id",
    "check_finite",
    "check_matrix",
    "parse_candidate",
]

# ALGORITHMS (what a model and ``clustering.algorithms`` can use) is defined with
# the config and re-exported here.
#: Segment id of HDBSCAN noise ("Unassigned").
NOISE = -1

#: The CLV-tier rule as a clusterer (``clustering.choice: clv_tiers``).
CLV_TIERS = "clv_tiers"
#: Rule-based "clusterers": :func:`make_clusterer` builds them, the comparison grid
#: never holds them (they would win every stability test by construction).
RULE_ALGORITHMS = (CLV_TIERS,)

#: Settings :func:`make_clusterer` accepts, with their defaults (``SegmentationModel``
#: uses them as its keyword defaults). Those the config also sets come from
#: :class:`segkit.config.ClusteringSettings`, so each default is written once.
DEFAULT_SETTINGS: dict[str, Any] = {
    "n_init": field_default(ClusteringSettings, "n_init"),  # k-means restarts
    # Gaussian-mixture EM restarts (best likelihood kept)
    "gmm_n_init": field_default(ClusteringSettings, "gmm_n_init"),
    "batch_size": 4096,  # MiniBatchKMeans
    # Ward is quadratic: tree on at most this many rows
    "ward_sample": field_default(ClusteringSettings, "ward_sample"),
    "min_cluster_size": None,  # HDBSCAN; None: min_cluster_share of the rows
    "min_cluster_share": field_default(ClusteringSettings, "hdbscan_min_cluster_share"),
    "min_samples": 10,  # HDBSCAN core-distance neighbours
    "tree_cache": None,  # dict shared by Ward clusterers of one grid
    "tiers": None,  # clv_tiers: shares, top first; None: value.tiers' default
    "value_column": None,  # clv_tiers: position of clv in the coordinates
}


def binary_columns(X: np.ndarray) -> np.ndarray:
    """Boolean mask of the columns of ``X`` holding at most two distinct values."""
    X = np.asarray(X)
    if len(X) == 0:
        return np.zeros(X.shape[1], dtype=bool)
    lo, hi = X.min(axis=0), X.max(axis=0)
    return ((X == lo) | (X == hi)).all(axis=0)


class ContinuousGaussianMixture(ClusterMixin, BaseEstimator):
    """Gaussian mixture fitted on the continuous columns of the matrix.

    A two-valued column (a one-hot indicator, a flag) is not Gaussian: a mixture
    gains likelihood without bound by giving a component zero variance on one of
    its two values (only ``reg_covar`` stops it), so components collapse onto the
    one-hot cells whatever the continuous structure is (measured in the comparison
    grid: prediction strength 0.66-0.78 for a GMM matching the truth). Columns with
    at most two distinct values in the fit data are therefore left out of the
    Gaussian model; when every column is two-valued all are used. In a PCA or UMAP
    representation the columns are mixtures of the inputs and none is left out.
    Segmentation on categorical structure is left to k-means and Ward, which see
    every column.

    Parameters
    ----------
    n_components : int
        Number of mixture components (segments).
    n_init : int
        EM restarts; the best likelihood is kept.
    covariance_type : {"full", "tied", "diag", "spherical"}
        As in :class:`sklearn.mixture.GaussianMixture`.
    reg_covar : float
        Added to the covariance diagonal.
    random_state : int, RandomState or None
        Seed.

    Attributes
    ----------
    continuous_ : ndarray of bool
        Columns the mixture is fitted on.
    mixture_ : GaussianMixture
        The fitted mixture.
    labels_ : ndarray
        Component of each training row.
    """

    def __init__(
        self,
        n_components: int = 2,
        *,
        n_init: int = DEFAULT_SETTINGS["gmm_n_init"],
        covariance_type: str = "full",
        reg_covar: float = 1e-4,
        random_state: Any = None,
    ) -> None:
        self.n_components = n_components
        self.n_init = n_init
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> ContinuousGaussianMixture:
        """Fit the mixture on the continuous columns of ``X``."""
        from sklearn.mixture import GaussianMixture

        X = validate_data(self, X, dtype=np.float64)
        keep = ~binary_columns(X)
        self.continuous_ = keep if keep.any() else np.ones(X.shape[1], dtype=bool)
        self.mixture_ = GaussianMixture(
            n_components=self.n_components,
            covariance_type=self.covariance_type,
            reg_covar=self.reg_covar,
            n_init=self.n_init,
            random_state=self.random_state,
        ).fit(X[:, self.continuous_])
        self.labels_ = self.mixture_.predict(X[:, self.continuous_])
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Most likely component of each row."""
        check_is_fitted(self, "mixture_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self.mixture_.predict(X[:, self.continuous_])

    def bic(self, X: Any) -> float:
        """Bayesian information criterion of the fitted mixture on ``X``.

        Comparable only between mixtures fitted on the same columns: the same
        representation of the same customers.
        """
        check_is_fitted(self, "mixture_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return float(self.mixture_.bic(X[:, self.continuous_]))


def _data_key(X: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(X).tobytes()).hexdigest() + str(X.shape)


class WardClusterer(ClusterMixin, BaseEstimator):
    """Ward clustering on a bounded sample; other rows go to the nearest centre.

    Ward's tree costs memory and time quadratic in rows, so it is built on at most
    ``max_sample`` rows (a seeded random sample); the tree's segments give the
    centres, and every row (sample rows too) is assigned to the nearest centre, so
    that ``predict`` on the training rows returns ``labels_``.

    Parameters
    ----------
    n_clusters : int
        Number of segments the tree is cut at.
    max_sample : int
        Rows the tree is built on at most.
    random_state : int, RandomState or None
        Seed of the sample.
    tree_cache : dict, optional
        Shared between clusterers cutting the same data at several k: the tree is
        stored under a hash of the data, the sample size and the seed, and built
        once. None: no cache.

    Attributes
    ----------
    sample_rows_ : ndarray
        Positions of the rows the tree was built on.
    cluster_centers_ : ndarray
        Mean of each segment in the sample.
    labels_ : ndarray
        Segment of each training row.
    """

    def __init__(
        self,
        n_clusters: int = 2,
        *,
        max_sample: int = DEFAULT_SETTINGS["ward_sample"],
        random_state: Any = None,
        tree_cache: dict | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.max_sample = max_sample
        self.random_state = random_state
        self.tree_cache = tree_cache

    def _tree(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from scipy.cluster.hierarchy import linkage

        key = None
        if self.tree_cache is not None and not isinstance(
            self.random_state, np.random.RandomState
        ):
            key = (_data_key(X), int(self.max_sample), repr(self.random_state))
            if key in self.tree_cache:
                return self.tree_cache[key]
        n = len(X)
        if n > self.max_sample:
            rng = check_random_state(self.random_state)
            rows = np.sort(rng.choice(n, int(self.max_sample), replace=False))
        else:
            rows = np.arange(n)
        found = (rows, linkage(X[rows], method="ward"))
        if key is not None:
            self.tree_cache[key] = found
        return found

    def fit(self, X: Any, y: Any = None) -> WardClusterer:
        """Build (or reuse) the tree, cut it at ``n_clusters``, assign every row."""
        from scipy.cluster.hierarchy import fcluster

        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        if self.n_clusters > len(X):
            raise ModelError(
                f"n_clusters={self.n_clusters} exceeds the {len(X)} rows given to "
                "Ward; lower clustering.k_max or supply more customers"
            )
        rows, tree = self._tree(X)
        part = fcluster(tree, t=self.n_clusters, criterion="maxclust") - 1
        sample = X[rows]
        self.cluster_centers_ = np.vstack(
            [sample[part == c].mean(0) for c in np.unique(part)]
        )
        # Every row, sample rows included, goes to its nearest centre: the tree
        # only places the centres. Then predict() reproduces the training labels
        # exactly, so a customer scored alone gets the segment of the run (the
        # tree cut and the nearest centre disagree for ~10 % of sample rows).
        self.sample_rows_ = rows
        self.labels_ = nearest_centre(X, self.cluster_centers_)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Nearest segment centre of each row."""
        check_is_fitted(self, "cluster_centers_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return nearest_centre(X, self.cluster_centers_)


class HDBSCANClusterer(ClusterMixin, BaseEstimator):
    """HDBSCAN (``hdbscan`` library) with ``predict`` by ``approximate_predict``.

    Parameters
    ----------
    min_cluster_size : int, optional
        Smallest cluster; None: ``min_cluster_share`` of the rows (at least 5).
    min_cluster_share : float
        Used when ``min_cluster_size`` is None.
    min_samples : int
        Core-distance neighbours (capped at the cluster size).
    core_dist_n_jobs : int
        Threads of the core-distance computation (2 beat the default on 2 cores).

    Attributes
    ----------
    hdbscan_ : hdbscan.HDBSCAN
        The fitted estimator (with prediction data).
    labels_ : ndarray
        Cluster of each training row, :data:`NOISE` for noise.
    """

    def __init__(
        self,
        *,
        min_cluster_size: int | None = DEFAULT_SETTINGS["min_cluster_size"],
        min_cluster_share: float = DEFAULT_SETTINGS["min_cluster_share"],
        min_samples: int = DEFAULT_SETTINGS["min_samples"],
        core_dist_n_jobs: int = 2,
    ) -> None:
        self.min_cluster_size = min_cluster_size
        self.min_cluster_share = min_cluster_share
        self.min_samples = min_samples
        self.core_dist_n_jobs = core_dist_n_jobs

    def fit(self, X: Any, y: Any = None) -> HDBSCANClusterer:
        """Fit HDBSCAN and keep its prediction data."""
        import hdbscan

        # copy: the hdbscan library refuses read-only (memory-mapped) arrays
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2, copy=True)
        size = self.min_cluster_size or max(
            5, round(float(self.min_cluster_share) * len(X))
        )
        size = int(min(size, len(X)))
        self.hdbscan_ = hdbscan.HDBSCAN(
            min_cluster_size=max(2, size),
            min_samples=int(max(1, min(int(self.min_samples), size))),
            prediction_data=True,
            core_dist_n_jobs=self.core_dist_n_jobs,
        ).fit(X)
        self.labels_ = np.asarray(self.hdbscan_.labels_, dtype=np.int64)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Cluster of each row, as ``hdbscan.approximate_predict`` gives it (-1:
        noise), computed for all rows at once
        (:func:`segkit.clustering.hdbscan_predict.approximate_labels`)."""
        from segkit.clustering.hdbscan_predict import approximate_labels

        check_is_fitted(self, "hdbscan_")
        X = validate_data(self, X, dtype=np.float64, reset=False, copy=True)
        if len(X) < PARALLEL_PREDICT_ROWS:
            return approximate_labels(self.hdbscan_, X)
        # the neighbour query is most of the time left and each point's label
        # depends on that point alone: chunks in parallel processes, same labels
        from joblib import Parallel, delayed, effective_n_jobs

        chunks = np.array_split(X, max(1, effective_n_jobs(-1)))
        found = Parallel(n_jobs=len(chunks))(
            delayed(approximate_labels)(self.hdbscan_, part) for part in chunks
        )
        return np.concatenate(found)


#: HDBSCAN predicts this many rows or more in parallel chunks (one per core).
PARALLEL_PREDICT_ROWS = 100_000


def make_clusterer(
    algorithm: str, n_clusters: int | None, *, random_state: Any, **settings: Any
) -> BaseEstimator:
    """An unfitted scikit-learn clusterer for ``algorithm``.

    Parameters
    ----------
    algorithm : str
        One of :data:`ALGORITHMS` or :data:`RULE_ALGORITHMS`.
    n_clusters : int or None
        Number of segments (ignored by HDBSCAN and by ``clv_tiers``, whose
        ``tiers`` shares set it).
    random_state : int or None
        Seed (HDBSCAN is deterministic and takes none).
    **settings
        Keys of :data:`DEFAULT_SETTINGS`; those an algorithm does not use are
        ignored, missing ones take the default.

    Returns
    -------
    estimator
        With ``fit``, ``predict``, ``fit_predict`` and ``labels_`` after fit.

    Raises
    ------
    ModelError
        An unknown algorithm or setting, or ``n_clusters`` < 2 where it is needed.
    """
    if algorithm not in ALGORITHMS + RULE_ALGORITHMS:
        raise ModelError(
            f"algorithm {algorithm!r} is unknown; use one of {list(ALGORITHMS)} "
            "(clustering.algorithms in the config)"
        )
    unknown = sorted(set(settings) - set(DEFAULT_SETTINGS))
    if unknown:
        raise ModelError(
            f"unknown clusterer settings {unknown}; valid keys: "
            f"{sorted(DEFAULT_SETTINGS)}"
        )
    s = {**DEFAULT_SETTINGS, **settings}
    if algorithm == CLV_TIERS:
        if s["value_column"] is None:
            raise ModelError(
                "clv_tiers needs value_column=, the position of the 'clv' column "
                "among the coordinates (segkit.clustering.tier_model.ClvTierModel "
                "finds it)"
            )
        return ClvTiers(shares=s["tiers"], column=int(s["value_column"]))
    if algorithm == "hdbscan":
        return HDBSCANClusterer(
            min_cluster_size=s["min_cluster_size"],
            min_cluster_share=s["min_cluster_share"],
            min_samples=s["min_samples"],
        )
    if n_clusters is None or int(n_clusters) < 2:
        raise ModelError(
            f"n_segments={n_clusters} is too small for {algorithm}; a segmentation "
            "needs at least 2 segments (clustering.k_min >= 2)"
        )
    k = int(n_clusters)
    if algorithm == "kmeans":
        from sklearn.cluster import KMeans

        return KMeans(n_clusters=k, n_init=s["n_init"], random_state=random_state)
    if algorithm == "minibatch_kmeans":
        from sklearn.cluster import MiniBatchKMeans

        return MiniBatchKMeans(
            n_clusters=k,
            n_init=s["n_init"],
            batch_size=s["batch_size"],
            random_state=random_state,
        )
    if algorithm == "gmm":
        return ContinuousGaussianMixture(
            n_components=k, n_init=s["gmm_n_init"], random_state=random_state
        )
    return WardClusterer(
        n_clusters=k,
        max_sample=s["ward_sample"],
        random_state=random_state,
        tree_cache=s["tree_cache"],
    )


def candidate_id(algorithm: str, representation: str, k: int | None) -> str:
    """``"kmeans/scaled/5"``; HDBSCAN and CLV tiers have no k (``"hdbscan/umap"``,
    ``"clv_tiers/scaled"``), RFM is ``"rfm/rules"``."""
    if algorithm == "rfm":
        return "rfm/rules"
    if algorithm in ("hdbscan", CLV_TIERS) or k is None:
        return f"{algorithm}/{representation}"
    return f"{algorithm}/{representation}/{int(k)}"


def parse_candidate(text: str) -> tuple[str, str, int | None]:
    """Split ``"kmeans/scaled/5"`` into ``("kmeans", "scaled", 5)``.

    ``"clv_tiers"`` (or ``"clv_tiers/scaled"``) is ``("clv_tiers", "scaled",
    None)``: the tiers cut the ``clv`` column, which only the scaled
    representation keeps (PCA and UMAP mix the columns).

    Raises
    ------
    ConfigError
        When the text does not name an algorithm, a representation and (except for
        HDBSCAN and CLV tiers) a k.
    """
    parts = str(text).strip().split("/")
    if parts[0] == CLV_TIERS:
        if parts[1:] not in ([], ["scaled"]):
            raise ConfigError(
                f"clustering.choice {text!r}: CLV tiers cut the customers' 'clv' "
                "column, which only the scaled representation keeps; write "
                "clv_tiers or clv_tiers/scaled"
            )
        return CLV_TIERS, "scaled", None
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


def check_finite(matrix: pd.DataFrame) -> None:
    """Refuse missing or infinite values, naming the columns that hold them."""
    finite = np.isfinite(matrix.to_numpy(dtype=np.float64)).all(0)
    bad = [c for c, ok in zip(matrix.columns, finite, strict=True) if not ok]
    if bad:
        raise DataError(
            f"features {bad[:10]} hold missing or infinite values; impute them "
            "with the preprocessor (pass preprocessor=) or fix the features step"
        )


def check_matrix(matrix: pd.DataFrame, k: int, algorithm: str) -> None:
    """Refuse a matrix that cannot be segmented into ``k`` segments by ``algorithm``.

    Raises
    ------
    DataError
        Missing or infinite values, fewer rows than needed, fewer than two varying
        features, or fewer distinct rows than ``k``.
    """
    check_finite(matrix)
    values = matrix.to_numpy(dtype=np.float64)
    n = len(matrix)
    need = 10 if algorithm == "hdbscan" else k
    if n < need:
        raise DataError(
            f"only {n} customers (n_samples={n}) but {algorithm} needs at least {need} "
            f"(n_segments={k}); lower clustering.k_min and k_max or supply more "
            "customers"
        )
    varying = np.ptp(values, axis=0) > 0 if n else np.zeros(0, bool)
    if not varying.any():
        raise DataError(
            f"all {n} customers have identical values in every feature "
            f"({list(matrix.columns)[:10]}); there is nothing to segment: check "
            "the input data and the features step"
        )
    if varying.sum() < 2:
        only = [c for c, v in zip(matrix.columns, varying, strict=True) if v]
        raise DataError(
            f"only one usable feature ({only[0]!r}): 1 feature(s) vary, the other "
            f"{len(matrix.columns) - 1} are constant. A segmentation needs at "
            "least two varying features: add feature groups or remove them from "
            "features.exclude in the config"
        )
    distinct = len(np.unique(values, axis=0)) if n <= 200_000 else n
    if algorithm != "hdbscan" and distinct < k:
        raise DataError(
            f"only {distinct} distinct customers but n_segments={k}; lower "
            "clustering.k_max or supply more varied customers"
        )
