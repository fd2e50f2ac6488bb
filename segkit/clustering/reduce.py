"""Representations a segmentation is clustered in, and the samples that bound cost.

Three representations of the preprocessed matrix are offered:

``scaled``
    The preprocessed matrix itself (identity).
``pca``
    Principal components, as many as needed to keep a share of the variance
    (``clustering.pca_variance``).
``umap``
    A few UMAP components (``clustering.umap_components``) for clustering; 2 for maps.

UMAP is imported lazily, and only after ``NUMBA_CACHE_DIR`` points at a persistent
folder (``~/.cache/segkit/numba`` unless the variable is already set), so that the
numba functions that allow caching are compiled once per machine, not once per
process. Importing this module does no I/O.

The module also holds :func:`stratified_sample`, the sampler every bounded step uses.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors
from sklearn.utils.validation import check_is_fitted

from segkit.clustering.sampling import stratified_sample
from segkit.config_base import field_default
from segkit.config_sections import REPRESENTATIONS, ClusteringSettings
from segkit.exceptions import ConfigError

__all__ = [
    "REPRESENTATIONS",
    "Reducer",
    "ExactNeighbors",
    "make_reducer",
    "import_umap",
    "numba_cache_dir",
    "map_embedding",
    "umap_memo_disabled",
    "umap_fit_of",
    "keep_umap_fit",
]

logger = logging.getLogger(__name__)

# REPRESENTATIONS (names a config may list under ``clustering.representations``)
# is defined with the config and re-exported here.


def numba_cache_dir() -> Path:
    """Folder numba caches compiled functions in (``NUMBA_CACHE_DIR`` wins)."""
    given = os.environ.get("NUMBA_CACHE_DIR")
    if given:
        return Path(given)
    return Path.home() / ".cache" / "segkit" / "numba"


def import_umap() -> Any:
    """Import and return the ``umap`` module with a persistent numba cache.

    Sets ``NUMBA_CACHE_DIR`` (unless already set) before numba is first imported;
    if numba was imported earlier in the process its config is reloaded.
    """
    if "umap" not in sys.modules:
        folder = numba_cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("NUMBA_CACHE_DIR", str(folder))
        if "numba" in sys.modules:  # pragma: no cover - depends on import order
            from numba.core import config as numba_config

            numba_config.reload_config()
        logger.info("importing umap (numba cache: %s)", folder)
    # pynndescent's nn_descent cannot be cached by numba (dynamic globals); numba
    # says so on every first call, which is noise on a report page.
    warnings.filterwarnings("ignore", message="Cannot cache compiled function")
    import umap  # lazy on purpose, see the module docstring

    from segkit.clustering import umap_init

    _cache_numba_functions()
    umap_init.install(umap)  # UMAP.transform's start in NumPy, same result
    return umap


def _cache_numba_functions() -> None:
    """Turn on numba's on-disk cache for umap's and pynndescent's functions.

    Most of umap's ``@njit`` functions are declared without ``cache=True``, so a
    cache folder alone saves only pynndescent's share of the compile time (measured
    here: import 27 s -> 2 s, first fit still 15 s). Enabling caching on the
    dispatchers before their first call brings the first fit of a new process to
    about 5 s once the cache is warm.
    """
    try:
        from numba.core.caching import NullCache
        from numba.core.dispatcher import Dispatcher
    except ImportError:  # pragma: no cover - numba internals moved
        return
    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith(("umap", "pynndescent")):
            continue
        for value in list(vars(module).values()):
            if isinstance(value, Dispatcher) and isinstance(value._cache, NullCache):
                try:
                    value.enable_caching()
                except Exception as exc:
                    logger.debug("numba cache not enabled for %s: %s", value, exc)


class ExactNeighbors:
    """UMAP's nearest-neighbour search index, exact, from scikit-learn's trees.

    UMAP finds neighbours with pynndescent's NN-descent, whose numba functions take
    the distance function as an argument, which numba cannot cache on disk: every
    new process compiled them again (measured here: 11 s of a 16 s first UMAP fit,
    paid by every notebook kernel and every parallel worker that fits a UMAP). The
    exact Euclidean neighbours from :class:`sklearn.neighbors.NearestNeighbors`
    take milliseconds at these sizes, need no compiling, and are what NN-descent
    approximates. UMAP is given them as ``precomputed_knn`` and keeps this object
    as its search index: ``UMAP.transform`` calls only :meth:`query` (and reads
    ``_angular_trees``), so new customers are placed by exact neighbours as well.
    """

    _angular_trees = False  # read by UMAP.transform (Euclidean: not angular)
    parallel_rows = 50_000  # queries of at least this many rows use every core

    def __init__(self, values: np.ndarray) -> None:
        self._tree = NearestNeighbors().fit(np.asarray(values, dtype=np.float64))

    def query(
        self, X: np.ndarray, k: int, epsilon: float = 0.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Indices (int32) and distances (float32) of the ``k`` nearest fitted rows.

        A fitted row is its own first neighbour (distance 0), as UMAP expects.
        ``epsilon`` (NN-descent's search slack) does not apply to an exact search.
        """
        X = np.asarray(X, dtype=np.float64)
        # Placing many new customers (a fit on a sample, then every other customer)
        # is mostly this search: scikit-learn splits the queries over threads
        # (each row's answer does not depend on the split). Small queries, as in
        # the parallel refits, stay on one thread.
        self._tree.n_jobs = -1 if len(X) >= self.parallel_rows else None
        dists, indices = self._tree.kneighbors(X, k)
        return indices.astype(np.int32), dists.astype(np.float32)


class _UmapMemo:
    """UMAP fits and transforms remembered within a process, keyed by the data.

    The stability refits of every UMAP candidate (prediction-strength halves and
    bootstrap draws) cluster the same seeded subsets, and a UMAP fit with a fixed
    seed is a pure function of (data, settings): remembering it saves one UMAP fit
    per subset per extra UMAP finalist (measured: 3 finalists x 20 halves) and
    changes no number. scikit-learn's ``Pipeline(memory=...)`` caches by pickling
    to disk, which for a fitted UMAP costs about what the fit does, hence this
    in-memory cache. Bounded: at most :attr:`size` fits of at most
    :attr:`max_rows` rows, and the latest :attr:`large_size` larger ones: the
    comparison's UMAP of the fit sample (up to ``clustering.fit_sample``
    customers, a minute at 50,000) is the very fit the chosen model makes next,
    on the same rows with the same seed (:func:`keep_umap_fit` brings it back
    from the worker that fitted it). Transforms are remembered only up to
    :attr:`max_rows` rows.
    """

    size = 64
    max_rows = 20_000
    large_size = 2

    def __init__(self) -> None:
        self.fits: OrderedDict[tuple, Any] = OrderedDict()
        self.large_fits: OrderedDict[tuple, Any] = OrderedDict()
        self.transforms: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self.enabled = True

    @staticmethod
    def digest(values: np.ndarray) -> str:
        data = np.ascontiguousarray(values, dtype=np.float64)
        return hashlib.blake2b(data.tobytes(), digest_size=16).hexdigest() + str(
            data.shape
        )

    def usable(self, values: np.ndarray) -> bool:
        return self.enabled and values.shape[0] <= self.max_rows

    @staticmethod
    def _put(store: OrderedDict, key: tuple, value: Any, size: int) -> None:
        store[key] = value
        store.move_to_end(key)
        while len(store) > size:
            store.popitem(last=False)

    def fit(self, key: tuple, make: Any, rows: int) -> Any:
        for store in (self.fits, self.large_fits):
            if key in store:
                store.move_to_end(key)
                return store[key]
        fitted = make()
        self.keep(key, fitted, rows)
        return fitted

    def keep(self, key: tuple, fitted: Any, rows: int) -> None:
        if not self.enabled:
            return
        if rows <= self.max_rows:
            self._put(self.fits, key, fitted, self.size)
        else:
            self._put(self.large_fits, key, fitted, self.large_size)

    def transform(self, key: tuple, make: Any) -> np.ndarray:
        if key in self.transforms:
            return self.transforms[key]
        out = make()
        self._put(self.transforms, key, out, 4 * self.size)
        return out


_UMAP_MEMO = _UmapMemo()


def umap_fit_of(reducer: Reducer) -> tuple[tuple, Any, int] | None:
    """A fitted UMAP reducer's memo entry (key, estimator, rows), to pass on.

    None for other representations, or when the memo was off during the fit.
    """
    key = getattr(reducer, "memo_key_", None)
    if reducer.representation != "umap" or key is None:
        return None
    return key, reducer.estimator_, int(reducer.rows_in_)


def keep_umap_fit(entry: tuple[tuple, Any, int] | None) -> None:
    """Remember in this process a UMAP fit made in another (:func:`umap_fit_of`).

    The key holds the data's digest and the settings, so a later fit on other
    data or with other settings does not find it.
    """
    if entry is not None:
        _UMAP_MEMO.keep(*entry)


@contextmanager
def umap_memo_disabled() -> Iterator[None]:
    """Fit every UMAP afresh inside the block (to check the memo changes nothing)."""
    before = _UMAP_MEMO.enabled
    _UMAP_MEMO.enabled = False
    try:
        yield
    finally:
        _UMAP_MEMO.enabled = before


class Reducer(TransformerMixin, BaseEstimator):
    """Map a preprocessed matrix to a clustering representation.

    Parameters
    ----------
    representation : {"scaled", "pca", "umap"}
        Which representation.
    pca_variance : float
        Share of variance the PCA keeps (0 < x <= 1).
    umap_components : int
        Number of UMAP components.
    umap_neighbors : int
        UMAP ``n_neighbors``.
    random_state : int
        Seed (UMAP with a seed is single-threaded but reproducible).
    """

    def __init__(
        self,
        representation: str = "scaled",
        *,
        pca_variance: float = field_default(ClusteringSettings, "pca_variance"),
        umap_components: int = field_default(ClusteringSettings, "umap_components"),
        umap_neighbors: int = field_default(ClusteringSettings, "umap_neighbors"),
        random_state: int = 0,
    ) -> None:
        self.representation = representation
        self.pca_variance = pca_variance
        self.umap_components = umap_components
        self.umap_neighbors = umap_neighbors
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: Any = None) -> Reducer:
        """Learn the representation from ``X`` (a float frame indexed by customer)."""
        if self.representation not in REPRESENTATIONS:
            raise ConfigError(
                f"representation {self.representation!r} is unknown; use one of "
                f"{list(REPRESENTATIONS)} in clustering.representations"
            )
        values = np.asarray(X, dtype=np.float64)
        self.n_features_in_ = values.shape[1]
        self.rows_in_ = values.shape[0]
        if self.representation == "scaled":
            self.estimator_ = None
        elif self.representation == "pca":
            n_max = min(values.shape)
            share = float(self.pca_variance)
            pca = PCA(n_components=n_max, random_state=self.random_state).fit(values)
            cumulative = np.cumsum(pca.explained_variance_ratio_)
            keep = int(np.searchsorted(cumulative, share - 1e-12) + 1)
            keep = max(2, min(keep, n_max))
            self.estimator_ = PCA(n_components=keep, random_state=self.random_state)
            self.estimator_.fit(values)
        else:
            self.estimator_ = self._fit_umap(values)
        return self

    def _umap_key(self) -> tuple:
        return (int(self.umap_components), int(self.umap_neighbors), self.random_state)

    def _fit_umap(self, values: np.ndarray) -> Any:
        def make() -> Any:
            umap = import_umap()
            neighbors = int(min(self.umap_neighbors, max(2, values.shape[0] - 1)))
            index = ExactNeighbors(values)
            knn = index.query(values, neighbors)
            with warnings.catch_warnings():
                # ExactNeighbors is not an NNDescent; UMAP warns that transform
                # will be unavailable, which is not so (it calls only query()).
                warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]")
                return umap.UMAP(
                    n_components=int(self.umap_components),
                    n_neighbors=neighbors,
                    min_dist=0.0,
                    random_state=self.random_state,
                    n_jobs=1,  # a fixed seed makes UMAP single-threaded anyway
                    # The neighbours come from ExactNeighbors at every size; this
                    # keeps UMAP on its graph path below 4,096 rows too, instead of
                    # its all-pairs distances through a numba metric called from
                    # Python (25 s for the 2,000-row refits here).
                    force_approximation_algorithm=True,
                    precomputed_knn=(*knn, index),
                ).fit(values)

        self.memo_key_ = None
        if not _UMAP_MEMO.enabled:
            return make()
        self.memo_key_ = (*self._umap_key(), _UMAP_MEMO.digest(values))
        return _UMAP_MEMO.fit(self.memo_key_, make, values.shape[0])

    def fit_transform(self, X: pd.DataFrame, y: Any = None) -> pd.DataFrame:
        """Fit and return the coordinates of ``X``.

        For UMAP these are the fitted embedding itself (no second pass through
        ``transform``, which would cost about as much as the fit).
        """
        self.fit(X)
        if self.representation != "umap":
            return self.transform(X)
        index = X.index if isinstance(X, pd.DataFrame) else None
        out = np.asarray(self.estimator_.embedding_, dtype=np.float64)
        columns = [f"umap{i + 1}" for i in range(out.shape[1])]
        return pd.DataFrame(out, index=index, columns=columns)

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Coordinates of ``X`` in the representation; the index is kept."""
        check_is_fitted(self, "n_features_in_")
        index = X.index if isinstance(X, pd.DataFrame) else None
        values = np.asarray(X, dtype=np.float64)
        if self.estimator_ is None:
            out = values
            columns = (
                list(X.columns)
                if isinstance(X, pd.DataFrame)
                else [f"x{i}" for i in range(values.shape[1])]
            )
        elif getattr(self, "memo_key_", None) and _UMAP_MEMO.usable(values):
            key = (self.memo_key_, _UMAP_MEMO.digest(values))
            out = _UMAP_MEMO.transform(key, lambda: self._transform_values(values))
            columns = [f"umap{i + 1}" for i in range(out.shape[1])]
        else:
            out = self._transform_values(values)
            prefix = "pc" if self.representation == "pca" else "umap"
            columns = [f"{prefix}{i + 1}" for i in range(out.shape[1])]
        return pd.DataFrame(out, index=index, columns=columns)

    def _transform_values(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(self.estimator_.transform(values), dtype=np.float64)


def make_reducer(
    representation: str,
    clustering: ClusteringSettings | Mapping[str, Any],
    seed: int,
) -> Reducer:
    """A :class:`Reducer` with the settings of a config's ``clustering`` section.

    ``pca_variance``, ``umap_components`` and ``umap_neighbors``; a plain mapping
    gets the :class:`~segkit.config.ClusteringSettings` defaults for keys it lacks.
    """
    section = ClusteringSettings.of(clustering)
    return Reducer(
        representation,
        pca_variance=section.pca_variance,
        umap_components=section.umap_components,
        umap_neighbors=section.umap_neighbors,
        random_state=seed,
    )


def map_embedding(
    matrix: pd.DataFrame,
    *,
    method: str = "umap",
    sample: int = field_default(ClusteringSettings, "map_sample"),
    neighbors: int = field_default(ClusteringSettings, "umap_neighbors"),
    seed: int = 0,
) -> pd.DataFrame:
    """A 2-D map of (a stratified sample of) customers for plots.

    Parameters
    ----------
    matrix : DataFrame
        Preprocessed features, index ``customer_id``.
    method : {"umap", "pca"}
        UMAP (2 components) or the first two principal components.
    sample : int
        At most this many customers are mapped.
    neighbors : int
        UMAP ``n_neighbors``.
    seed : int
        Seed for the sample and the embedding.

    Returns
    -------
    DataFrame
        Index ``customer_id`` (the sampled customers), float columns ``x`` and ``y``.
    """
    if method not in ("umap", "pca"):
        raise ConfigError(
            f"map method {method!r} is unknown; use 'umap' or 'pca' "
            "(clustering.map_method)"
        )
    rows = stratified_sample(matrix, sample, seed=seed)
    part = matrix.loc[rows]
    if method == "umap" and len(part) > 10:
        reducer = Reducer(
            "umap", umap_components=2, umap_neighbors=neighbors, random_state=seed
        )
    else:
        reducer = Reducer("pca", pca_variance=0.0, random_state=seed)
    coords = clone(reducer).fit_transform(part).iloc[:, :2]
    coords.columns = ["x", "y"]
    coords.index.name = matrix.index.name or "customer_id"
    return coords
