"""Turn the per-customer features into the numeric matrix clustering works on.

:class:`Preprocessor` is a scikit-learn transformer that builds a
``ColumnTransformer`` from the dtypes of the features table it is fitted on:

* **numeric** columns: missing values imputed with the median; heavy tails
  handled (``skew="log1p"``: ``log1p`` for non-negative columns whose skewness
  exceeds ``skew_threshold``, Yeo-Johnson for skewed columns with negative values or
  a left skew; ``skew="yeo-johnson"``: Yeo-Johnson for every skewed column;
  ``"none"``: no transform); then scaled (``RobustScaler``: median and IQR; a column
  whose IQR is zero, e.g. 80 % zeros, is standardised instead so that it is still
  put on a comparable scale);
* **categorical** columns (strings, categories, booleans stored as objects and any
  object column that is not all numbers): missing values become ``"Missing"``;
  one-hot encoded, levels rarer than ``rare_share`` grouped into one
  ``<column>_infrequent_sklearn`` column, unseen levels at transform time mapped to
  it;
* **dropped**: constant columns and near-constant ones (one value in at least
  ``near_constant_share`` of the rows), and categorical columns whose every level is
  rarer than ``rare_share`` (id-like); each with its reason in :attr:`dropped_`;
* **near-duplicates** (``|Spearman r| >= duplicate_threshold``, 0.9 by default):
  of each group only the more interpretable column is kept (RFM and behavioural
  columns first, see :mod:`segkit.features.dedupe`); the others are dropped with
  the reason ``near-duplicate of <kept> (Spearman r = ...)``, so one trait is not
  counted two or three times;
* **flagged**: remaining pairs of transformed numeric columns with ``|r| >=
  correlation_threshold`` are listed in :attr:`correlated_pairs_` (kept).

With ``set_output(transform="pandas")`` the output is a float64 DataFrame that keeps
the customer index.
"""

from __future__ import annotations

import logging
from typing import Any, get_args

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    PowerTransformer,
    RobustScaler,
    StandardScaler,
)
from sklearn.utils.validation import check_is_fitted, validate_data

from segkit.columns import is_numeric, numeric_columns
from segkit.config_base import field_default
from segkit.config_sections import PreprocessSettings
from segkit.exceptions import ConfigError, DataError, NotFittedError, SchemaError
from segkit.features.dedupe import near_duplicates

__all__ = ["Preprocessor"]

logger = logging.getLogger(__name__)

# The settings, their defaults and choices are the config's (one place):
# :class:`segkit.config.PreprocessSettings`.
_DEFAULT = {
    name: field_default(PreprocessSettings, name)
    for name in PreprocessSettings.model_fields
}
_SKEW = get_args(PreprocessSettings.model_fields["skew"].annotation)
_SCALERS = get_args(PreprocessSettings.model_fields["scaler"].annotation)
MISSING = "Missing"


def _log1p_clipped(values: np.ndarray) -> np.ndarray:
    """``log1p`` of values clipped at 0 (a negative value at scoring time maps to 0)."""
    return np.log1p(np.clip(values, 0, None))


def _is_categorical(series: pd.Series) -> bool:
    return not is_numeric(series)


def _numeric_or_none(series: pd.Series) -> pd.Series | None:
    """The column as float64 if every non-missing value is a number, else None."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return None
    converted = pd.to_numeric(series, errors="coerce")
    if converted.notna().sum() == series.notna().sum() and series.notna().any():
        return converted.astype("float64")
    return None


class Preprocessor(TransformerMixin, BaseEstimator):
    """Skew handling, scaling and one-hot encoding chosen from the features' dtypes.

    Parameters
    ----------
    skew : {"log1p", "yeo-johnson", "none"}
        How skewed numeric columns are transformed (see the module docstring).
    skew_threshold : float
        Absolute skewness above which a numeric column is transformed.
    scaler : {"robust", "standard"}
        Scaler of numeric columns.
    near_constant_share : float
        A column whose most common value (missing counts as a value) covers at least
        this share of rows is dropped.
    correlation_threshold : float
        Transformed numeric pairs with ``|r|`` at or above it are flagged.
    duplicate_threshold : float or None
        Numeric columns with ``|Spearman r|`` at or above it with a more
        interpretable kept column are dropped (None: keep every column).
    rare_share : float
        Categorical levels rarer than this share are grouped together.
    tied_share : float
        A numeric column whose most common value covers more than this share of rows
        (e.g. a return rate that is 0 for most customers) is standardised instead of
        robust-scaled: its IQR is too small to be a scale and would blow the few
        non-zero values up to dozens of units, letting one feature decide the
        segmentation.
    clip : float or None
        Scaled numeric values are clipped to ``[-clip, clip]`` (winsorised) so that a
        handful of extreme customers cannot dominate distances; None keeps them.

    Attributes
    ----------
    plan_ : DataFrame
        One row per input column: ``column``, ``kind`` (numeric / categorical),
        ``skewness``, ``missing``, ``transform``, ``scaler``, ``action``.
    dropped_ : DataFrame
        Columns ``column``, ``reason`` for every input column left out.
    correlated_pairs_ : DataFrame
        Columns ``a``, ``b``, ``r``: flagged pairs of output columns.
    feature_names_out_ : ndarray of str
        Output column names.
    column_transformer_ : ColumnTransformer
        The fitted transformer.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when fitted on a DataFrame with string column names.
    """

    def __init__(
        self,
        *,
        skew: str = _DEFAULT["skew"],
        skew_threshold: float = _DEFAULT["skew_threshold"],
        scaler: str = _DEFAULT["scaler"],
        near_constant_share: float = _DEFAULT["near_constant_share"],
        correlation_threshold: float = _DEFAULT["correlation_threshold"],
        duplicate_threshold: float | None = _DEFAULT["duplicate_threshold"],
        rare_share: float = _DEFAULT["rare_share"],
        tied_share: float = _DEFAULT["tied_share"],
        clip: float | None = _DEFAULT["clip"],
    ) -> None:
        self.skew = skew
        self.skew_threshold = skew_threshold
        self.scaler = scaler
        self.near_constant_share = near_constant_share
        self.correlation_threshold = correlation_threshold
        self.duplicate_threshold = duplicate_threshold
        self.rare_share = rare_share
        self.tied_share = tied_share
        self.clip = clip

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    # -- input handling ---------------------------------------------------------

    def _check_params(self) -> None:
        if self.skew not in _SKEW:
            raise ConfigError(
                f"preprocess.skew is {self.skew!r}; use one of {list(_SKEW)}"
            )
        if self.scaler not in _SCALERS:
            raise ConfigError(
                f"preprocess.scaler is {self.scaler!r}; use one of {list(_SCALERS)}"
            )
        if self.clip is not None and not self.clip > 0:
            raise ConfigError(
                f"preprocess.clip is {self.clip!r}; use a positive number of scaled "
                "units (5 by default) or null to keep extreme values"
            )
        for name in (
            "near_constant_share",
            "correlation_threshold",
            "rare_share",
            "tied_share",
            "duplicate_threshold",
        ):
            value = getattr(self, name)
            if name == "duplicate_threshold" and value is None:
                continue
            if not 0 < value <= 1:
                raise ConfigError(
                    f"preprocess.{name} is {value!r}; use a share between 0 and 1"
                )

    def _frame(self, X: Any, *, reset: bool) -> pd.DataFrame:
        """Validate ``X`` and return it as a DataFrame (arrays get x0, x1, ...)."""
        if isinstance(X, pd.DataFrame):
            if not all(isinstance(c, str) for c in X.columns):
                X = X.rename(columns=str)  # ColumnTransformer reads ints as positions
            try:
                validate_data(self, X, reset=reset, skip_check_array=True)
            except ValueError as exc:
                raise SchemaError(
                    "the features do not match the columns the Preprocessor was "
                    f"fitted on: {str(exc).strip()}\nCompute them with the same config "
                    "(same columns, same order)"
                ) from None
            if X.shape[0] == 0:
                raise DataError(
                    "the features table has 0 rows (0 samples); there is no customer "
                    "to preprocess"
                )
            frame = X
            numeric = frame[numeric_columns(frame, bool_counts=False)]
            if numeric.shape[1] and np.isinf(numeric.to_numpy(dtype=float)).any():
                cols = list(
                    numeric.columns[np.isinf(numeric.to_numpy(dtype=float)).any(0)]
                )
                raise DataError(
                    f"columns {cols} hold infinite values; replace them (e.g. a ratio "
                    "divided by zero) with NaN or a finite value before preprocessing"
                )
        else:
            array = validate_data(
                self, X, reset=reset, ensure_all_finite="allow-nan", dtype="numeric"
            )
            names = getattr(self, "feature_names_in_", None)
            columns = (
                list(names)
                if names is not None and not reset
                else [f"x{j}" for j in range(array.shape[1])]
            )
            frame = pd.DataFrame(array, columns=columns)
        return frame

    def _prepared(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The kept columns, numeric ones as float64, categorical ones as str."""
        out = {}
        for col in self.plan_.loc[self.plan_["action"] != "dropped", "column"]:
            series = frame[col]
            if self._kinds_[col] == "numeric":
                out[col] = pd.to_numeric(series, errors="coerce").astype("float64")
            else:
                text = series.astype("object").where(series.notna(), MISSING)
                out[col] = text.map(str).astype(object)
        return pd.DataFrame(out, index=frame.index)

    # -- fit ----------------------------------------------------------------------

    def fit(self, X: pd.DataFrame, y: Any = None) -> Preprocessor:
        """Learn which columns to drop, transform, scale and encode.

        Parameters
        ----------
        X : DataFrame or array-like
            One row per customer; numeric and categorical columns.
        y : ignored

        Returns
        -------
        self

        Raises
        ------
        DataError
            Fewer than 2 rows, infinite values, or every column constant.
        """
        self._check_params()
        frame = self._frame(X, reset=True)
        n = len(frame)
        if n < 2:
            raise DataError(
                f"the Preprocessor needs at least 2 customers, got {n} sample; "
                "check the data step and the as_of date"
            )
        rows, kinds = [], {}
        for col in frame.columns:
            rows.append(self._plan_column(col, frame[col], n, kinds))
        plan = self._drop_duplicates(frame, pd.DataFrame(rows), kinds)
        self._kinds_ = kinds
        self.plan_ = plan
        kept = plan[plan["action"] != "dropped"]
        if kept.empty:
            raise DataError(
                f"all {len(plan)} features are constant or near-constant (one value in "
                f">= {self.near_constant_share:.0%} of {n} rows): "
                f"{list(plan['column'])[:10]}; check the features step and the as_of "
                "date, or lower preprocess.near_constant_share"
            )
        self.dropped_ = (
            plan.loc[plan["action"] == "dropped", ["column", "reason"]]
            .reset_index(drop=True)
            .astype({"column": "str", "reason": "str"})
        )
        self.column_transformer_ = self._build(kept).set_output(transform="pandas")
        prepared = self._prepared(frame)
        output = self.column_transformer_.fit_transform(prepared)
        self.feature_names_out_ = np.asarray(output.columns, dtype=object)
        self.correlated_pairs_ = self._correlated(output, kept)
        for row in self.dropped_.itertuples():
            logger.info("dropped feature %s: %s", row.column, row.reason)
        return self

    def _drop_duplicates(
        self, frame: pd.DataFrame, plan: pd.DataFrame, kinds: dict[str, str]
    ) -> pd.DataFrame:
        """Mark near-duplicate numeric columns as dropped (see the module docstring)."""
        if self.duplicate_threshold is None:
            return plan
        kept = plan.loc[plan["action"] != "dropped", "column"]
        numeric = {c: pd.to_numeric(frame[c], errors="coerce") for c in kept}
        numeric = {c: v for c, v in numeric.items() if kinds[c] == "numeric"}
        pairs = near_duplicates(pd.DataFrame(numeric), self.duplicate_threshold)
        plan = plan.copy()
        for row in pairs.itertuples(index=False):
            at = plan["column"] == row.drop
            plan.loc[at, "action"] = "dropped"
            plan.loc[at, "reason"] = (
                f"near-duplicate of {row.keep} (Spearman r = {row.r:+.2f})"
            )
        return plan

    def _plan_column(
        self, col: str, series: pd.Series, n: int, kinds: dict[str, str]
    ) -> dict[str, Any]:
        if _is_categorical(series):
            numeric = _numeric_or_none(series)
        else:
            numeric = pd.to_numeric(series, errors="coerce").astype("float64")
        kind = "categorical" if numeric is None else "numeric"
        kinds[col] = kind
        values = numeric if numeric is not None else series
        row: dict[str, Any] = {
            "column": col,
            "kind": kind,
            "skewness": np.nan,
            "missing": int(values.isna().sum()),
            "transform": "",
            "scaler": "",
            "action": "kept",
            "reason": "",
        }
        counts = values.value_counts(dropna=False, normalize=True)
        top = float(counts.iloc[0])
        mode = counts.index[0]
        mode = mode.item() if hasattr(mode, "item") else mode
        if len(counts) <= 1:
            return {**row, "action": "dropped", "reason": "constant"}
        if top >= self.near_constant_share:
            return {
                **row,
                "action": "dropped",
                "reason": f"near-constant: {mode!r} in {top:.1%} of rows",
            }
        if kind == "categorical":
            if float(counts.max()) < self.rare_share:
                return {
                    **row,
                    "action": "dropped",
                    "reason": f"id-like: all {len(counts)} levels rarer than "
                    f"{self.rare_share:.1%}",
                }
            frequent = int((counts >= self.rare_share).sum())
            rare = len(counts) - frequent
            plural = "s" if rare > 1 else ""
            grouped = f", {rare} rare level{plural} grouped" if rare else ""
            return {**row, "transform": f"one-hot ({frequent} levels{grouped})"}
        clean = numeric.dropna().to_numpy()
        skewness = float(stats.skew(clean)) if np.ptp(clean) > 0 else 0.0
        transform = "none"
        if self.skew != "none" and abs(skewness) > self.skew_threshold:
            if self.skew == "log1p" and skewness > 0 and clean.min() >= 0:
                transform = "log1p"
            else:
                transform = "yeo-johnson"
        q1, q3 = np.percentile(clean, [25, 75])
        scaler = self.scaler
        if scaler == "robust" and q3 == q1:
            scaler = "standard (zero IQR)"
        elif scaler == "robust" and top > self.tied_share:
            scaler = f"standard ({top:.0%} tied at {mode!r})"
        return {**row, "skewness": skewness, "transform": transform, "scaler": scaler}

    def _build(self, kept: pd.DataFrame) -> ColumnTransformer:
        parts = []
        numeric = kept[kept["kind"] == "numeric"]
        # "standard (zero IQR)" and "standard (80% tied at 0)" share one pipeline.
        numeric = numeric.assign(scaler=numeric["scaler"].str.split().str[0])
        for (transform, scaler), group in numeric.groupby(
            ["transform", "scaler"], sort=True
        ):
            steps: list[Any] = [SimpleImputer(strategy="median")]
            if transform == "log1p":
                steps.append(
                    FunctionTransformer(_log1p_clipped, feature_names_out="one-to-one")
                )
            elif transform == "yeo-johnson":
                steps.append(PowerTransformer(method="yeo-johnson", standardize=False))
            steps.append(RobustScaler() if scaler == "robust" else StandardScaler())
            if self.clip is not None:
                steps.append(
                    FunctionTransformer(
                        np.clip,
                        kw_args={"a_min": -self.clip, "a_max": self.clip},
                        feature_names_out="one-to-one",
                    )
                )
            name = f"{transform}-{scaler.split()[0]}"
            parts.append((name, make_pipeline(*steps), list(group["column"])))
        categorical = list(kept.loc[kept["kind"] == "categorical", "column"])
        if categorical:
            encoder = OneHotEncoder(
                min_frequency=self.rare_share,
                handle_unknown="infrequent_if_exist",
                sparse_output=False,
                dtype=np.float64,
            )
            parts.append(("onehot", encoder, categorical))
        return ColumnTransformer(
            parts, remainder="drop", verbose_feature_names_out=False
        )

    def _correlated(self, output: pd.DataFrame, kept: pd.DataFrame) -> pd.DataFrame:
        numeric = [c for c in kept.loc[kept["kind"] == "numeric", "column"]]
        empty = pd.DataFrame(
            {
                "a": pd.Series(dtype="str"),
                "b": pd.Series(dtype="str"),
                "r": pd.Series(dtype="float64"),
            }
        )
        if len(numeric) < 2:
            return empty
        values = output[numeric].to_numpy(dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = np.corrcoef(values, rowvar=False)
        rows = [
            (numeric[i], numeric[j], float(corr[i, j]))
            for i in range(len(numeric))
            for j in range(i + 1, len(numeric))
            if np.isfinite(corr[i, j]) and abs(corr[i, j]) >= self.correlation_threshold
        ]
        if not rows:
            return empty
        pairs = pd.DataFrame(rows, columns=["a", "b", "r"]).astype(
            {"a": "str", "b": "str"}
        )
        order = pairs["r"].abs().sort_values(ascending=False, kind="stable").index
        return pairs.loc[order].reset_index(drop=True)

    # -- transform ------------------------------------------------------------------

    def _ensure_fitted(self) -> None:
        try:
            check_is_fitted(self, "column_transformer_")
        except SklearnNotFittedError:
            raise NotFittedError(
                "this Preprocessor is not fitted yet; call fit(features) first or load "
                "the fitted preprocessor.joblib of the run"
            ) from None

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Apply the fitted transformations.

        Parameters
        ----------
        X : DataFrame or array-like
            The same columns as at fit time.

        Returns
        -------
        ndarray of float64, or DataFrame with ``set_output(transform="pandas")``
            One row per input row; with pandas output the input index is kept and
            the columns are :attr:`feature_names_out_`.
        """
        self._ensure_fitted()
        frame = self._frame(X, reset=False)
        output = self.column_transformer_.transform(self._prepared(frame))
        return np.asarray(output, dtype=np.float64)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output columns."""
        self._ensure_fitted()
        return np.asarray(self.feature_names_out_, dtype=object)

    def _outputs(self, column: str, action: str) -> int:
        """Number of output columns an input column became."""
        if action == "dropped":
            return 0
        if self._kinds_[column] == "numeric":
            return 1
        encoder = self.column_transformer_.named_transformers_["onehot"]
        i = list(encoder.feature_names_in_).index(column)
        infrequent = (encoder.infrequent_categories_ or [None] * (i + 1))[i]
        rare = 0 if infrequent is None else len(infrequent)
        return len(encoder.categories_[i]) - rare + (1 if rare else 0)

    def describe(self) -> pd.DataFrame:
        """What happens to each input column, as a table for a reviewer.

        Returns
        -------
        DataFrame
            One row per input column: ``column``, ``kind``, ``missing`` (values
            imputed), ``skewness``, ``action`` (kept / dropped), ``treatment`` (e.g.
            ``log1p + robust scale``), ``reason`` (why dropped), ``outputs`` (number
            of output columns), ``correlated_with`` (flagged partners).
        """
        self._ensure_fitted()
        plan = self.plan_.copy()
        treatment = []
        for row in plan.itertuples():
            if row.action == "dropped":
                treatment.append("")
            elif row.kind == "categorical":
                treatment.append(row.transform)
            else:
                steps = [] if row.transform == "none" else [row.transform]
                treatment.append(" + ".join([*steps, f"{row.scaler} scale"]))
        plan["treatment"] = treatment
        plan["outputs"] = [
            self._outputs(c, a)
            for c, a in zip(plan["column"], plan["action"], strict=True)
        ]
        partners: dict[str, list[str]] = {c: [] for c in plan["column"]}
        for pair in self.correlated_pairs_.itertuples():
            partners[pair.a].append(f"{pair.b} ({pair.r:+.2f})")
            partners[pair.b].append(f"{pair.a} ({pair.r:+.2f})")
        plan["correlated_with"] = [", ".join(partners[c]) for c in plan["column"]]
        columns = [
            "column",
            "kind",
            "missing",
            "skewness",
            "action",
            "treatment",
            "reason",
            "outputs",
            "correlated_with",
        ]
        return plan[columns].astype({"column": "str", "kind": "str"})
