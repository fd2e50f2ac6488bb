"""SegmentationModel: preprocessor + representation + clusterer + segment names.

The one object that turns a features frame (``artifacts/features.parquet``: one row
per customer, index ``customer_id``) into segment ids. The compare step fits the
chosen candidate and saves it as ``model.joblib``; the validate step clones and refits
it on bootstrap samples; ``segkit score`` loads it to score new customers.

It is a scikit-learn estimator: every setting is a keyword argument of ``__init__``
stored as given (``get_params``/``set_params``/``clone`` reach all of them, the
segment ``names`` included), ``fit`` returns ``self`` and learned state ends in
``_``. The clusterer comes from :func:`segkit.clustering.algorithms.make_clusterer`.
Numpy arrays are accepted as well as frames (columns are then named ``x0``, ``x1``
...).

Segment ids are integers ``0 .. k-1`` numbered by size in the fitted data (0 is the
largest segment); ``-1`` is HDBSCAN's noise, shown as "Unassigned".
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin, clone
from sklearn.utils import check_array

from segkit.clustering.algorithms import (
    ALGORITHMS,
    DEFAULT_SETTINGS,
    NOISE,
    check_finite,
    check_matrix,
    make_clusterer,
    parse_candidate,
)
from segkit.clustering.model_file import FORMAT_VERSION, load_model, save_model
from segkit.clustering.reduce import Reducer
from segkit.clustering.sampling import stratified_sample, thread_limit
from segkit.columns import numeric_columns
from segkit.config_sections import ClusteringSettings
from segkit.display import segment_name
from segkit.exceptions import ModelError, NotFittedError

__all__ = [
    "ALGORITHMS",
    "NOISE",
    "SegmentationModel",
    "FORMAT_VERSION",
    "settings_from_config",
]

logger = logging.getLogger(__name__)


_REDUCER = Reducer().get_params()
_CLUSTERER_KEYS = (
    "n_init",
    "gmm_n_init",
    "batch_size",
    "ward_sample",
    "min_cluster_size",
    "min_cluster_share",
    "min_samples",
)
#: config key in the ``clustering`` section -> SegmentationModel keyword
_CONFIG_KEYS = {
    "n_init": "n_init",
    "gmm_n_init": "gmm_n_init",
    "fit_sample": "fit_sample",
    "ward_sample": "ward_sample",
    "pca_variance": "pca_variance",
    "umap_components": "umap_components",
    "umap_neighbors": "umap_neighbors",
    "hdbscan_min_cluster_share": "min_cluster_share",
}


def settings_from_config(
    clustering: ClusteringSettings | Mapping[str, Any],
) -> dict[str, Any]:
    """SegmentationModel keyword settings from a config's ``clustering`` section.

    ``n_init``, ``gmm_n_init``, ``fit_sample``, ``ward_sample``, ``pca_variance``,
    ``umap_components``, ``umap_neighbors`` and ``hdbscan_min_cluster_share``
    (-> ``min_cluster_share``). A plain mapping gets the
    :class:`~segkit.config.ClusteringSettings` defaults for the keys it lacks.
    """
    section = ClusteringSettings.of(clustering)
    return {keyword: section[key] for key, keyword in _CONFIG_KEYS.items()}


def _n_rows(features: Any) -> int:
    shape = getattr(features, "shape", None)  # frames, arrays, sparse matrices
    if shape is not None:
        return int(shape[0])
    try:
        return len(features)
    except TypeError:  # array-likes with only __array__
        return int(np.asarray(features).shape[0])


class SegmentationModel(ClusterMixin, TransformerMixin, BaseEstimator):
    """Preprocess, reduce and cluster customers; predict segments for new ones.

    Parameters
    ----------
    preprocessor : transformer, optional
        A ``segkit.features.preprocess.Preprocessor`` (or any sklearn transformer
        returning a frame); cloned and fitted by :meth:`fit`. None: the numeric
        columns of the features are used as they are.
    representation : {"scaled", "pca", "umap"}
        Space the clusterer works in.
    algorithm : {"kmeans", "minibatch_kmeans", "gmm", "ward", "hdbscan"}
        Clustering algorithm (:data:`segkit.clustering.algorithms.ALGORITHMS`).
    n_segments : int
        Number of segments (ignored by HDBSCAN, which finds its own).
    random_state : int
        Seed of every random step; the same seed gives the same labels.
    n_init : int
        k-means restarts.
    gmm_n_init : int
        Gaussian-mixture EM restarts.
    batch_size : int
        MiniBatchKMeans batch size.
    ward_sample : int
        Ward's tree is built on at most this many rows, the rest go to the nearest
        centre.
    min_cluster_size : int, optional
        HDBSCAN smallest cluster; None: ``min_cluster_share`` of the rows.
    min_cluster_share : float
        HDBSCAN smallest cluster as a share of the rows.
    min_samples : int
        HDBSCAN core-distance neighbours.
    fit_sample : int, optional
        Fit reducer and clusterer on a stratified sample of this many rows and
        predict the rest; None: all rows.
    pca_variance, umap_components, umap_neighbors
        Settings of the :class:`~segkit.clustering.reduce.Reducer`.
    names : dict, optional
        Segment id -> display name (set by the profile step; survives ``clone``).

    Attributes
    ----------
    labels_ : Series
        Segment of each training customer (index ``customer_id``, name "segment");
        of the fit sample only after ``fit(..., assign_rest=False)``.
    segment_ids_ : list of int
        Sorted segment ids present after fit (-1 included when there is noise).
    centers_ : DataFrame
        Mean of each segment in the representation space (index segment id).
    fit_sample_size_ : int
        Customers the reducer and clusterer were fitted on.
    fit_index_ : Index or None
        Those customers when they are a sample (None: every customer).
    preprocessor_, reducer_, clusterer_ : estimators
        The fitted steps (``preprocessor_`` is None without a preprocessor).
    feature_names_in_ : ndarray of str
        Input columns the model uses (only when fitted on a frame).
    n_features_in_ : int
        Number of input columns the model uses.
    config_, as_of_ : dict or None, date or None
        Set by the compare step so ``segkit score`` can rebuild features.
    """

    config_: dict[str, Any] | None = None
    as_of_: dt.date | None = None

    def __init__(
        self,
        *,
        preprocessor: Any = None,
        representation: str = "scaled",
        algorithm: str = "kmeans",
        n_segments: int = 4,
        random_state: int = 0,
        n_init: int = DEFAULT_SETTINGS["n_init"],
        gmm_n_init: int = DEFAULT_SETTINGS["gmm_n_init"],
        batch_size: int = DEFAULT_SETTINGS["batch_size"],
        ward_sample: int = DEFAULT_SETTINGS["ward_sample"],
        min_cluster_size: int | None = DEFAULT_SETTINGS["min_cluster_size"],
        min_cluster_share: float = DEFAULT_SETTINGS["min_cluster_share"],
        min_samples: int = DEFAULT_SETTINGS["min_samples"],
        fit_sample: int | None = None,
        pca_variance: float = _REDUCER["pca_variance"],
        umap_components: int = _REDUCER["umap_components"],
        umap_neighbors: int = _REDUCER["umap_neighbors"],
        names: dict[int, str] | None = None,
    ) -> None:
        self.preprocessor = preprocessor
        self.representation = representation
        self.algorithm = algorithm
        self.n_segments = n_segments
        self.random_state = random_state
        self.n_init = n_init
        self.gmm_n_init = gmm_n_init
        self.batch_size = batch_size
        self.ward_sample = ward_sample
        self.min_cluster_size = min_cluster_size
        self.min_cluster_share = min_cluster_share
        self.min_samples = min_samples
        self.fit_sample = fit_sample
        self.pca_variance = pca_variance
        self.umap_components = umap_components
        self.umap_neighbors = umap_neighbors
        self.names = names

    @classmethod
    def from_config(
        cls,
        candidate: str,
        clustering: Mapping[str, Any],
        *,
        seed: int,
        preprocessor: Any = None,
    ) -> SegmentationModel:
        """The model of a comparison candidate with a config's ``clustering`` settings.

        Parameters
        ----------
        candidate : str
            ``"kmeans/scaled/5"`` or ``"hdbscan/umap"``
            (:func:`segkit.clustering.compare.parse_candidate`).
        clustering : mapping
            The config's ``clustering`` section (see :func:`settings_from_config`).
        seed : int
            ``random_state``.
        preprocessor : transformer, optional
            As in the constructor.
        """
        algorithm, representation, k = parse_candidate(candidate)
        extra = {} if k is None else {"n_segments": k}
        return cls(
            preprocessor=preprocessor,
            algorithm=algorithm,
            representation=representation,
            random_state=seed,
            **extra,
            **settings_from_config(clustering),
        )

    # ------------------------------------------------------------------ names
    def segment_name(self, segment_id: int) -> str:
        """Display name of a segment: its name, "Unassigned" for -1, else "Segment <id>"."""
        return segment_name(self.names, segment_id)

    # --------------------------------------------------------------- helpers
    def clusterer_settings(self) -> dict[str, Any]:
        """The settings this model passes to :func:`make_clusterer`."""
        return {key: getattr(self, key) for key in _CLUSTERER_KEYS}

    def _check_settings(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ModelError(
                f"algorithm {self.algorithm!r} is unknown; use one of {list(ALGORITHMS)} "
                "(clustering.algorithms in the config)"
            )
        if self.algorithm != "hdbscan" and int(self.n_segments) < 2:
            raise ModelError(
                f"n_segments={self.n_segments} is too small; a segmentation needs at "
                "least 2 segments (clustering.k_min >= 2)"
            )

    def _check_fitted(self) -> None:
        if "labels_" not in self.__dict__:
            raise NotFittedError(
                "this SegmentationModel is not fitted; call fit(features) first or "
                "load a fitted one with SegmentationModel.load(path)"
            )

    def _as_frame(self, features: Any, *, fitting: bool) -> pd.DataFrame:
        """Frames pass through; arrays (and lists) become frames ``x0``, ``x1``..."""
        if isinstance(features, pd.DataFrame):
            return features
        dtype = np.float64 if self.preprocessor is None else None
        values = check_array(features, dtype=dtype, ensure_all_finite=False)
        if fitting:
            return pd.DataFrame(
                values, columns=[f"x{i}" for i in range(values.shape[1])]
            )
        if values.shape[1] != self.n_features_in_:
            raise ModelError(
                f"X has {values.shape[1]} features, but SegmentationModel is "
                f"expecting {self.n_features_in_} features as input; pass the "
                "columns the model was fitted on"
            )
        names = self.__dict__.get("feature_names_in_")
        if names is None:
            names = [f"x{i}" for i in range(values.shape[1])]
        return pd.DataFrame(values, columns=list(names))

    def _matrix(self, features: Any, *, fitting: bool) -> pd.DataFrame:
        named = isinstance(features, pd.DataFrame)
        features = self._as_frame(features, fitting=fitting)
        if fitting:
            if self.preprocessor is not None:
                self.preprocessor_ = clone(self.preprocessor)
                self.preprocessor_.fit(features)
                used = getattr(self.preprocessor_, "feature_names_in_", None)
                used = [
                    str(c) for c in (used if used is not None else features.columns)
                ]
            else:
                self.preprocessor_ = None
                used = [str(c) for c in numeric_columns(features)]
            self.n_features_in_ = len(used)
            if named:
                self.feature_names_in_ = np.asarray(used, dtype=object)
            else:
                self.__dict__.pop("feature_names_in_", None)
            columns = used
        else:
            columns = list(self.__dict__.get("feature_names_in_", features.columns))
            missing = [c for c in columns if c not in features.columns]
            if missing:
                raise ModelError(
                    f"features lack the columns {missing} the model was fitted on; "
                    "compute them with the same config (segkit.features.step.build) "
                    "before predicting"
                )
        frame = features[columns]
        if self.preprocessor_ is not None:
            out = self.preprocessor_.transform(frame)
            if not isinstance(out, pd.DataFrame):
                names = getattr(self.preprocessor_, "feature_names_out_", None)
                if names is None and hasattr(
                    self.preprocessor_, "get_feature_names_out"
                ):
                    names = self.preprocessor_.get_feature_names_out()
                out = pd.DataFrame(np.asarray(out, dtype=np.float64), columns=names)
            out = out.astype(np.float64)
            out.index = features.index
            out.columns = [str(c) for c in out.columns]
        else:
            out = frame.astype(np.float64)
        if not fitting:  # fit checks these (and more) in check_matrix
            check_finite(out)
        return out

    def _relabel(self, raw: np.ndarray) -> np.ndarray:
        out = np.full(len(raw), NOISE, dtype=np.int64)
        for old, new in self._label_map_.items():
            out[raw == old] = new
        return out

    # -------------------------------------------------------------- public
    def fit(
        self, features: Any, y: Any = None, *, assign_rest: bool = True
    ) -> SegmentationModel:
        """Fit preprocessor, representation and clusterer on ``features``.

        Parameters
        ----------
        features : DataFrame or array
            One row per customer, index ``customer_id``; the columns the
            preprocessor expects (or numeric columns when there is none).
        y : ignored
        assign_rest : bool
            With a fit sample smaller than ``features``: predict the customers
            outside it, so that ``labels_`` covers every row (True), or leave them
            to :func:`~segkit.clustering.assign.assign_all` (False: ``labels_``
            holds the fit sample only). The compare step passes False when the
            engine assigns those customers anyway: for a UMAP model, placing a
            million new customers takes minutes, and placing them here too would
            only repeat that work.

        Returns
        -------
        SegmentationModel
            ``self``, fitted; ``labels_`` covers every row of ``features``
            (the fit sample only with ``assign_rest=False``), and
            ``segment_ids_`` the segments found in ``labels_``.
        """
        with thread_limit(_n_rows(features)):
            return self._fit(features, assign_rest=assign_rest)

    def _fit(self, features: Any, *, assign_rest: bool = True) -> SegmentationModel:
        self._check_settings()
        matrix = self._matrix(features, fitting=True)
        check_matrix(matrix, int(self.n_segments), self.algorithm)
        n = len(matrix)
        limit = self.fit_sample
        rows = (
            stratified_sample(matrix, int(limit), seed=self.random_state)
            if limit and n > limit
            else matrix.index
        )
        fit_part = matrix.loc[rows] if len(rows) < n else matrix
        self.reducer_ = Reducer(
            self.representation,
            pca_variance=self.pca_variance,
            umap_components=self.umap_components,
            umap_neighbors=self.umap_neighbors,
            random_state=self.random_state,
        )
        fit_coords = self.reducer_.fit_transform(fit_part)
        self.clusterer_ = make_clusterer(
            self.algorithm,
            self.n_segments,
            random_state=self.random_state,
            **self.clusterer_settings(),
        ).fit(fit_coords.to_numpy())
        raw = np.asarray(self.clusterer_.labels_, dtype=np.int64)
        values, counts = np.unique(raw[raw != NOISE], return_counts=True)
        order = np.lexsort((values, -counts))
        self._label_map_ = {int(values[i]): new for new, i in enumerate(order)}
        fit_labels = self._relabel(raw)
        labels = pd.Series(fit_labels, index=fit_part.index)
        if len(rows) < n and assign_rest:
            rest = matrix.index.difference(rows, sort=False)
            rest_coords = self.reducer_.transform(matrix.loc[rest]).to_numpy()
            rest_labels = self._relabel(self.clusterer_.predict(rest_coords))
            labels = pd.concat([labels, pd.Series(rest_labels, index=rest)])
            labels = labels.reindex(matrix.index)
        self.labels_ = labels.astype(np.int64).rename("segment")
        self.segment_ids_ = sorted(int(v) for v in np.unique(self.labels_))
        centre_frame = fit_coords.reset_index(drop=True)
        centre_frame["segment"] = fit_labels
        self.centers_ = centre_frame.groupby("segment").mean().sort_index()
        self.fit_sample_size_ = len(rows)
        # The sampled customers (None: every customer), whose labels come from the
        # fit itself; the compare step assigns the others on the engine.
        self.fit_index_ = pd.Index(fit_part.index) if len(rows) < n else None
        return self

    def transform(self, features: Any) -> pd.DataFrame:
        """Coordinates of ``features`` in the clustering representation (index kept)."""
        self._check_fitted()
        matrix = self._matrix(features, fitting=False)
        return self.reducer_.transform(matrix)

    def predict(self, features: Any) -> pd.Series:
        """Segment id of each row of ``features`` (-1: HDBSCAN noise, "Unassigned").

        Parameters
        ----------
        features : DataFrame or array
            Index ``customer_id``; must hold every column the model was fitted on.

        Returns
        -------
        Series
            Integer segment ids, index ``customer_id`` (a range for arrays), name
            ``segment``.
        """
        with thread_limit(_n_rows(features)):
            coords = self.transform(features)
            labels = self._relabel(self.clusterer_.predict(coords.to_numpy()))
        return pd.Series(labels, index=coords.index, name="segment", dtype=np.int64)

    # ------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the fitted model (joblib, with format and library versions)."""
        self._check_fitted()
        return save_model(self, path)

    @classmethod
    def load(cls, path: str | Path) -> SegmentationModel:
        """Read a model written by :meth:`save`; refuse incompatible versions."""
        return load_model(path, cls)
