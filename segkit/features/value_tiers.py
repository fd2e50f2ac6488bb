"""CLV tiers as a value segmentation: cut points on customer lifetime value.

:class:`ClvTiers` is a small scikit-learn-style estimator: ``fit`` learns the CLV
cut points that split the customers into the shares of ``value.tiers`` (top tier
first, e.g. ``[0.2, 0.3, 0.5]``: the top 20 % by CLV, the next 30 %, the rest);
``predict`` places any customer -- a new one included -- by those stored cut
points, so a customer's tier never depends on who else is scored. Tier ``0`` is
the most valuable (unlike clusterings, where 0 is the largest segment: the order
of value is the point here); a customer without a CLV is ``-1`` (Unassigned).

A customer whose CLV equals a cut point goes to the higher tier; with ties the
tier shares can therefore differ a little from ``value.tiers``.

Scoring needs each new customer's CLV: with the run's saved CLV models
(:func:`segkit.features.value_features.load_fit`), never refitted.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils.validation import check_is_fitted

from segkit.config_base import field_default
from segkit.config_sections import ValueSettings
from segkit.exceptions import DataError

__all__ = ["ClvTiers", "tier_names"]


def tier_names(n_tiers: int) -> dict[int, str]:
    """Display names of ``n_tiers`` tiers, most valuable first."""
    if n_tiers == 3:
        return {0: "Top value", 1: "Middle value", 2: "Low value"}
    if n_tiers == 2:
        return {0: "Top value", 1: "Low value"}
    return {i: f"Value tier {i + 1}" for i in range(n_tiers)}


def _shares(shares: Any) -> np.ndarray:
    values = np.asarray(
        field_default(ValueSettings, "tiers") if shares is None else shares,
        dtype=float,
    )
    if values.ndim != 1 or len(values) < 2 or (values <= 0).any():
        raise DataError(
            f"shares is {list(values)}; give two or more positive tier shares, top "
            "tier first (value.tiers)"
        )
    if abs(values.sum() - 1) > 1e-6:
        raise DataError(
            f"shares {list(values)} sum to {values.sum():.3f}; the tier shares "
            "(value.tiers) must sum to 1"
        )
    return values


class ClvTiers(ClusterMixin, BaseEstimator):
    """Customers in CLV tiers by cut points learned at fit.

    Parameters
    ----------
    shares : sequence of float, optional
        Tier shares, top tier first, summing to 1; None: ``value.tiers``'s default.
    column : str or int
        The CLV column: its name in a frame (``clv``, as
        :mod:`segkit.features.value_features` names it), or its position in an
        array (an int; a name gives the first column of an array). The clusterer
        ``clv_tiers`` (:func:`segkit.clustering.algorithms.make_clusterer`) passes
        the position of ``clv`` among the model's coordinates.

    Attributes
    ----------
    cuts_ : ndarray
        CLV cut points, descending: tier ``i`` holds ``cuts_[i] <= clv`` (and
        below ``cuts_[i - 1]``); the last tier holds the rest.
    labels_ : ndarray
        Tier of each fitted customer (0 = top; -1 = no CLV).
    names_ : dict
        Tier id -> display name (:func:`tier_names`).
    """

    def __init__(self, shares: Any = None, column: str | int = "clv") -> None:
        self.shares = shares
        self.column = column

    def _values(self, X: Any) -> np.ndarray:
        if isinstance(X, pd.DataFrame) and not isinstance(self.column, int):
            if self.column not in X.columns:
                raise DataError(
                    f"column {self.column!r} not found (columns: "
                    f"{list(X.columns)[:12]}); CLV tiers need each customer's CLV: "
                    "set value.as_features: true, or join values.parquet's 'clv'"
                )
            return pd.to_numeric(X[self.column], errors="coerce").to_numpy(float)
        array = np.asarray(X, dtype=float)
        if array.ndim == 1:
            return array
        position = self.column if isinstance(self.column, int) else 0
        if not -array.shape[1] <= position < array.shape[1]:
            raise DataError(
                f"column position {position} is outside the {array.shape[1]} "
                "columns given; pass the position of the CLV column (column=)"
            )
        return array[:, position]

    def fit(self, X: Any, y: Any = None) -> ClvTiers:
        """Learn the cut points on the CLV of ``X`` (customers without one ignored)."""
        shares = _shares(self.shares)
        values = self._values(X)
        known = values[~np.isnan(values)]
        if len(known) < len(shares):
            raise DataError(
                f"only {len(known)} customers have a CLV, fewer than the "
                f"{len(shares)} tiers of value.tiers"
            )
        # Top share s0 -> the (1 - s0) quantile, then (1 - s0 - s1), ...
        upper = 1.0 - np.cumsum(shares)[:-1]
        self.cuts_ = np.quantile(known, np.clip(upper, 0.0, 1.0))
        self.n_tiers_ = len(shares)
        self.names_ = tier_names(self.n_tiers_)
        if isinstance(X, pd.DataFrame) and not isinstance(self.column, int):
            self.feature_names_in_ = np.asarray([self.column], dtype=object)
        self.labels_ = self._tiers(values)
        return self

    def _tiers(self, values: np.ndarray) -> np.ndarray:
        # Number of cut points a value stays below = its tier (0: at/above cuts_[0]).
        below = (values[:, None] < self.cuts_[None, :]).sum(axis=1)
        return np.where(np.isnan(values), -1, below).astype("int64")

    def predict(self, X: Any) -> np.ndarray:
        """Tier of each customer of ``X`` by the stored cut points."""
        check_is_fitted(self, "cuts_")
        return self._tiers(self._values(X))

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit and return the tiers of ``X``."""
        return self.fit(X).labels_
