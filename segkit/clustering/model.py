"""SegmentationModel: preprocessor + representation + clusterer + segment names.

The one object that turns a features frame (``artifacts/features.parquet``: one row
per customer, index ``customer_id``) into segment ids. The compare step fits the
chosen candidate and saves it as ``model.joblib``; the validate step clones and refits
it on bootstrap samples; ``segkit score`` loads it to score new customers.

Segment ids are integers ``0 .. k-1`` numbered by size in the fitted data (0 is the
largest segment); ``-1`` is HDBSCAN's noise, shown as "Unassigned".
"""

from __future__ import annotations

import datetime as dt
import logging
import pickle
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.base import BaseEstimator, clone

from segkit.clustering.reduce import Reducer
from segkit.clustering.sampling import nearest_centre, stratified_sample, thread_limit
from segkit.exceptions import DataError, ModelError, NotFittedError

__all__ = ["ALGORITHMS", "NOISE", "SegmentationModel", "FORMAT_VERSION"]

logger = logging.getLogger(__name__)

#: Clustering algorithms a model (and ``clustering.algorithms``) can use.
ALGORITHMS = ("kmeans", "minibatch_kmeans", "gmm", "ward", "hdbscan")
#: Segment id of HDBSCAN noise.
NOISE = -1
#: Version of the saved-model layout; bump when it changes.
FORMAT_VERSION = 1

_DEFAULT_PARAMS: dict[str, Any] = {
    "n_init": 10,  # k-means restarts: one k-means++ start lands in bad optima
    "fit_sample": None,  # fit on a stratified sample of this many rows (None: all)
    "ward_sample": 10_000,  # Ward is quadratic: bounded sample, rest -> nearest centre
    "pca_variance": 0.9,
    "umap_components": 5,
    "umap_neighbors": 30,
    "min_cluster_size": None,  # HDBSCAN; None: hdbscan_min_cluster_share of the rows
    "min_cluster_share": 0.02,
    "min_samples": 10,  # HDBSCAN core distance neighbours
    "batch_size": 4096,  # MiniBatchKMeans
}


def _versions() -> dict[str, str]:
    import hdbscan

    return {
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "hdbscan": getattr(hdbscan, "__version__", "unknown"),
    }


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


class SegmentationModel(BaseEstimator):
    """Preprocess, reduce and cluster customers; predict segments for new ones.

    Parameters
    ----------
    preprocessor : transformer, optional
        A ``segkit.features.preprocess.Preprocessor`` (or any sklearn transformer returning
        a frame); cloned and fitted by :meth:`fit`. None: the numeric columns of the
        features are used as they are.
    representation : {"scaled", "pca", "umap"}
        Space the clusterer works in.
    algorithm : {"kmeans", "minibatch_kmeans", "gmm", "ward", "hdbscan"}
        Clustering algorithm.
    n_segments : int
        Number of segments (ignored by HDBSCAN, which finds its own).
    random_state : int
        Seed of every random step; the same seed gives the same labels.
    params : dict, optional
        Extra settings: ``n_init``, ``fit_sample``, ``ward_sample``,
        ``pca_variance``, ``umap_components``, ``umap_neighbors``,
        ``min_cluster_size``, ``min_cluster_share``, ``min_samples``, ``batch_size``.

    Attributes
    ----------
    labels_ : Series
        Segment of each training customer (index ``customer_id``, name "segment").
    segment_ids_ : list of int
        Sorted segment ids present after fit (-1 included when there is noise).
    centers_ : DataFrame
        Mean of each segment in the representation space (index segment id).
    n_fit_ : int
        Customers the reducer and clusterer were fitted on (a stratified sample
        when ``fit_sample`` is smaller than the data).
    names : dict
        Segment id -> name; settable. Empty: "Segment <id>"; -1: "Unassigned".
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
        params: dict[str, Any] | None = None,
    ) -> None:
        self.preprocessor = preprocessor
        self.representation = representation
        self.algorithm = algorithm
        self.n_segments = n_segments
        self.random_state = random_state
        self.params = params

    # ------------------------------------------------------------------ names
    @property
    def names(self) -> dict[int, str]:
        """Segment id -> display name (settable)."""
        return self.__dict__.setdefault("_names", {})

    @names.setter
    def names(self, value: dict[int, str]) -> None:
        self.__dict__["_names"] = {int(k): str(v) for k, v in dict(value).items()}

    def segment_name(self, segment_id: int) -> str:
        """Display name of a segment: its name, "Unassigned" for -1, else "Segment <id>"."""
        segment_id = int(segment_id)
        if segment_id in self.names:
            return self.names[segment_id]
        if segment_id == NOISE:
            return "Unassigned"
        return f"Segment {segment_id}"

    # --------------------------------------------------------------- helpers
    def _settings(self) -> dict[str, Any]:
        settings = dict(_DEFAULT_PARAMS)
        unknown = set(self.params or {}) - set(settings)
        if unknown:
            raise ModelError(
                f"unknown SegmentationModel params {sorted(unknown)}; "
                f"valid keys: {sorted(settings)}"
            )
        settings.update(self.params or {})
        return settings

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

    def _matrix(self, features: pd.DataFrame, *, fitting: bool) -> pd.DataFrame:
        if not isinstance(features, pd.DataFrame):
            raise DataError(
                f"features must be a pandas DataFrame indexed by customer_id, got "
                f"{type(features).__name__}"
            )
        if fitting:
            if self.preprocessor is not None:
                self.preprocessor_ = clone(self.preprocessor)
                self.preprocessor_.fit(features)
                used = getattr(self.preprocessor_, "feature_names_in_", None)
                self.feature_names_in_ = [
                    str(c) for c in (used if used is not None else features.columns)
                ]
            else:
                self.preprocessor_ = None
                numeric = features.select_dtypes(include=["number", "bool"])
                self.feature_names_in_ = [str(c) for c in numeric.columns]
        else:
            missing = [c for c in self.feature_names_in_ if c not in features.columns]
            if missing:
                raise ModelError(
                    f"features lack the columns {missing} the model was fitted on; "
                    "compute them with the same config (segkit.features.step.build) "
                    "before predicting"
                )
        frame = features[self.feature_names_in_]
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
        return out

    @staticmethod
    def _check_matrix(matrix: pd.DataFrame, k: int, algorithm: str) -> None:
        values = matrix.to_numpy(dtype=np.float64)
        finite = np.isfinite(values).all(0)
        bad = [c for c, ok in zip(matrix.columns, finite, strict=True) if not ok]
        if bad:
            raise DataError(
                f"features {bad[:10]} hold missing or infinite values; impute them "
                "with the preprocessor (pass preprocessor=) or fix the features step"
            )
        n = len(matrix)
        need = 10 if algorithm == "hdbscan" else k
        if n < need:
            raise DataError(
                f"only {n} customers but {algorithm} needs at least {need} "
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
                f"only one usable feature ({only[0]!r}); the other "
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

    # ------------------------------------------------------------ clustering
    def _fit_clusterer(
        self,
        X: np.ndarray,
        s: dict[str, Any],
        cache: dict[str, Any] | None = None,
    ) -> np.ndarray:
        """Fit the clusterer on X; return raw labels of X.

        ``cache`` (used by the comparison grid) keeps Ward's tree so that cutting
        the same data at several k builds it once.
        """
        k, seed, algo = int(self.n_segments), int(self.random_state), self.algorithm
        if algo == "kmeans":
            from sklearn.cluster import KMeans

            est = KMeans(n_clusters=k, n_init=int(s["n_init"]), random_state=seed)
            raw = est.fit_predict(X)
        elif algo == "minibatch_kmeans":
            from sklearn.cluster import MiniBatchKMeans

            est = MiniBatchKMeans(
                n_clusters=k,
                n_init=int(s["n_init"]),
                batch_size=int(s["batch_size"]),
                random_state=seed,
            )
            raw = est.fit_predict(X)
        elif algo == "gmm":
            from sklearn.mixture import GaussianMixture

            est = GaussianMixture(
                n_components=k,
                covariance_type="full",
                reg_covar=1e-4,
                random_state=seed,
            )
            raw = est.fit(X).predict(X)
            self.bic_ = float(est.bic(X))
        elif algo == "ward":
            from scipy.cluster.hierarchy import fcluster, linkage

            cache = {} if cache is None else cache
            if "ward_tree" not in cache:
                rng = np.random.default_rng(seed)
                bound = int(s["ward_sample"])
                rows = (
                    np.sort(rng.choice(len(X), bound, replace=False))
                    if len(X) > bound
                    else np.arange(len(X))
                )
                cache["ward_rows"] = rows
                cache["ward_tree"] = linkage(X[rows], method="ward")
            rows, tree = cache["ward_rows"], cache["ward_tree"]
            part = fcluster(tree, t=k, criterion="maxclust") - 1
            centres = np.vstack([X[rows][part == c].mean(0) for c in np.unique(part)])
            est = {"centres": centres}
            raw = nearest_centre(X, centres)
            raw[rows] = part
            self.n_ward_ = len(rows)
        else:
            import hdbscan

            size = s["min_cluster_size"] or max(
                5, round(float(s["min_cluster_share"]) * len(X))
            )
            est = hdbscan.HDBSCAN(
                min_cluster_size=int(size),
                min_samples=int(min(int(s["min_samples"]), size)),
                prediction_data=True,
                core_dist_n_jobs=2,
            ).fit(X)
            raw = est.labels_.copy()
        self.clusterer_ = est
        return np.asarray(raw, dtype=np.int64)

    def _raw_predict(self, X: np.ndarray) -> np.ndarray:
        est = self.clusterer_
        if self.algorithm == "ward":
            return nearest_centre(X, est["centres"])
        if self.algorithm == "hdbscan":
            import hdbscan

            labels, _ = hdbscan.approximate_predict(est, X)
            return np.asarray(labels, dtype=np.int64)
        return np.asarray(est.predict(X), dtype=np.int64)

    def _relabel(self, raw: np.ndarray) -> np.ndarray:
        lookup = self._label_map_
        out = np.full(len(raw), NOISE, dtype=np.int64)
        for old, new in lookup.items():
            out[raw == old] = new
        return out

    # -------------------------------------------------------------- public
    def fit(self, features: pd.DataFrame, y: Any = None) -> SegmentationModel:
        """Fit preprocessor, representation and clusterer on ``features``.

        Parameters
        ----------
        features : DataFrame
            One row per customer, index ``customer_id``; the columns the
            preprocessor expects (or numeric columns when there is none).

        Returns
        -------
        SegmentationModel
            ``self``, fitted; ``labels_`` covers every row of ``features``.
        """
        with thread_limit(len(features)):
            return self._fit(features)

    def _fit(self, features: pd.DataFrame) -> SegmentationModel:
        self._check_settings()
        s = self._settings()
        matrix = self._matrix(features, fitting=True)
        self._check_matrix(matrix, int(self.n_segments), self.algorithm)
        n = len(matrix)
        limit = s["fit_sample"]
        rows = (
            stratified_sample(matrix, int(limit), seed=int(self.random_state))
            if limit and n > int(limit)
            else matrix.index
        )
        fit_part = matrix.loc[rows] if len(rows) < n else matrix
        self.reducer_ = Reducer(
            self.representation,
            pca_variance=float(s["pca_variance"]),
            umap_components=int(s["umap_components"]),
            umap_neighbors=int(s["umap_neighbors"]),
            random_state=int(self.random_state),
        )
        fit_coords = self.reducer_.fit_transform(fit_part)
        coords = fit_coords.to_numpy()
        raw = self._fit_clusterer(coords, s)
        values, counts = np.unique(raw[raw != NOISE], return_counts=True)
        order = np.lexsort((values, -counts))
        self._label_map_ = {int(values[i]): new for new, i in enumerate(order)}
        fit_labels = self._relabel(raw)
        self.n_fit_ = len(fit_part)
        if len(rows) < n:
            rest = matrix.index.difference(rows, sort=False)
            rest_coords = self.reducer_.transform(matrix.loc[rest]).to_numpy()
            labels = pd.concat(
                [
                    pd.Series(fit_labels, index=rows),
                    pd.Series(
                        self._relabel(self._raw_predict(rest_coords)), index=rest
                    ),
                ]
            ).reindex(matrix.index)
        else:
            labels = pd.Series(fit_labels, index=matrix.index)
        self.labels_ = labels.astype(np.int64).rename("segment")
        self.segment_ids_ = sorted(int(v) for v in np.unique(self.labels_))
        centre_frame = fit_coords.reset_index(drop=True)
        centre_frame["segment"] = fit_labels
        self.centers_ = centre_frame.groupby("segment").mean().sort_index()
        self.fit_sample_size_ = len(rows)
        return self

    def transform(self, features: pd.DataFrame) -> pd.DataFrame:
        """Coordinates of ``features`` in the clustering representation (index kept)."""
        self._check_fitted()
        matrix = self._matrix(features, fitting=False)
        return self.reducer_.transform(matrix)

    def predict(self, features: pd.DataFrame) -> pd.Series:
        """Segment id of each row of ``features`` (-1: HDBSCAN noise, "Unassigned").

        Parameters
        ----------
        features : DataFrame
            Index ``customer_id``; must hold every column the model was fitted on.

        Returns
        -------
        Series
            Integer segment ids, index ``customer_id``, name ``segment``.
        """
        with thread_limit(len(features)):
            coords = self.transform(features)
            labels = self._relabel(self._raw_predict(coords.to_numpy()))
        return pd.Series(labels, index=features.index, name="segment", dtype=np.int64)

    # ------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the fitted model (joblib, with format and library versions)."""
        self._check_fitted()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {"format_version": FORMAT_VERSION, "versions": _versions()}
        with path.open("wb") as handle:
            pickle.dump(header, handle)
            joblib.dump(self, handle)
        return path

    @classmethod
    def load(cls, path: str | Path) -> SegmentationModel:
        """Read a model written by :meth:`save`; refuse incompatible versions."""
        path = Path(path)
        if not path.exists():
            raise ModelError(
                f"model file {str(path)!r} not found; run the compare step "
                "(notebook 03) to write artifacts/model.joblib"
            )
        with path.open("rb") as handle:
            try:
                header = pickle.load(handle)
            except Exception as exc:
                raise ModelError(
                    f"{str(path)!r} is not a segkit model file ({exc}); "
                    "re-create it with SegmentationModel.save"
                ) from None
            if not isinstance(header, dict) or "format_version" not in header:
                raise ModelError(
                    f"{str(path)!r} is not a segkit model file; "
                    "re-create it with SegmentationModel.save"
                )
            if header["format_version"] != FORMAT_VERSION:
                raise ModelError(
                    f"{str(path)!r} has model format {header['format_version']}, this "
                    f"segkit reads format {FORMAT_VERSION}; refit the model"
                )
            saved, now = header["versions"], _versions()
            for lib in ("sklearn", "hdbscan"):
                if _minor(saved.get(lib, "")) != _minor(now[lib]):
                    raise ModelError(
                        f"{str(path)!r} was saved with {lib} {saved.get(lib)} but "
                        f"{now[lib]} is installed; refit the model (segkit report) or "
                        f"install {lib}=={saved.get(lib)}"
                    )
            model = joblib.load(handle)
        if not isinstance(model, cls):
            raise ModelError(
                f"{str(path)!r} holds a {type(model).__name__}, not a model"
            )
        return model
