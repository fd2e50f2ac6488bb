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

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.decomposition import PCA
from sklearn.utils.validation import check_is_fitted

from segkit.clustering.sampling import stratified_sample
from segkit.config_base import field_default
from segkit.config_sections import REPRESENTATIONS, ClusteringSettings
from segkit.exceptions import ConfigError

__all__ = [
    "REPRESENTATIONS",
    "Reducer",
    "make_reducer",
    "import_umap",
    "numba_cache_dir",
    "map_embedding",
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
    import umap  # lazy on purpose, see the module docstring

    _cache_numba_functions()
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
            umap = import_umap()
            neighbors = int(min(self.umap_neighbors, max(2, values.shape[0] - 1)))
            self.estimator_ = umap.UMAP(
                n_components=int(self.umap_components),
                n_neighbors=neighbors,
                min_dist=0.0,
                random_state=self.random_state,
                n_jobs=1,  # a fixed seed makes UMAP single-threaded anyway
            ).fit(values)
        return self

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
        else:
            out = np.asarray(self.estimator_.transform(values), dtype=np.float64)
            prefix = "pc" if self.representation == "pca" else "umap"
            columns = [f"{prefix}{i + 1}" for i in range(out.shape[1])]
        return pd.DataFrame(out, index=index, columns=columns)


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
