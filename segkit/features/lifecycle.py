"""Lifecycle states by documented rules (new / active / at risk / lapsed).

A behavioural segmentation built on cumulative counts (orders, active months)
cannot see a valuable customer stop buying: the counts never go down. Lifecycle
layering (the Optimove practice) puts a rule-based state first, so such a customer
is "at risk", not "loyal", and leaves the behavioural segments to describe the
active base. The rules, evaluated in this order (first match wins), with the
thresholds of the ``lifecycle`` config section
(:class:`segkit.config.LifecycleSettings`):

1. **new**: first order within ``new_days`` of ``as_of`` (``tenure_days <=
   new_days``). Without a tenure column (an RFM table) a one-order customer whose
   order is within ``new_days`` is new.
2. **lapsed**: no order for more than ``lapsed_days`` (``recency_days >
   lapsed_days``).
3. **at risk**: no order for more than ``at_risk_days``, or -- for repeat buyers --
   for more than ``at_risk_gap_factor`` times the customer's own typical gap
   (``mean_interpurchase_days``) and at least ``at_risk_min_days`` (the floor
   keeps a weekly buyer who skipped a fortnight out of "at risk").
4. **active**: everyone else.

``cluster_within`` (None: everyone) names the states a segmentation may be limited
to; :func:`active_base` gives that mask. Whether the clustering uses it is the
clustering step's decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from segkit.config import LIFECYCLE_STATES, LifecycleSettings
from segkit.exceptions import SchemaError

__all__ = [
    "STATES",
    "LifecycleSettings",
    "active_base",
    "has_columns",
    "lifecycle_states",
    "lifecycle_table",
    "settings_of",
]

#: The states, in lifecycle order.
STATES = LIFECYCLE_STATES

_RECENCY = ("recency_days", "recency")
_TENURE = ("tenure_days",)


def settings_of(config: Mapping[str, Any] | None) -> LifecycleSettings:
    """The ``lifecycle`` section of a config (defaults when it has none)."""
    return LifecycleSettings.of(None if config is None else config.get("lifecycle"))


def _column(frame: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    return next((n for n in names if n in frame.columns), None)


def has_columns(frame: pd.DataFrame) -> bool:
    """True when ``frame`` has the columns the rules need (recency, frequency)."""
    return _column(frame, _RECENCY) is not None and "frequency" in frame.columns


def _rules(
    frame: pd.DataFrame, s: LifecycleSettings
) -> list[tuple[str, str, pd.Series]]:
    rec_col = _column(frame, _RECENCY)
    if rec_col is None or "frequency" not in frame.columns:
        raise SchemaError(
            f"lifecycle states need recency ('recency_days' or 'recency') and "
            f"'frequency' columns; got {list(frame.columns)}: pass the features or "
            "the RFM table"
        )
    recency = pd.to_numeric(frame[rec_col]).astype("float64")
    orders = pd.to_numeric(frame["frequency"]).astype("float64")
    ten_col = _column(frame, _TENURE)
    if ten_col is not None:
        new = pd.to_numeric(frame[ten_col]).astype("float64") <= s.new_days
        new_rule = f"first order within {s.new_days} days"
    else:
        new = (orders <= 1) & (recency <= s.new_days)
        new_rule = f"one order, within {s.new_days} days (no tenure column)"
    lapsed = recency > s.lapsed_days
    at_risk = recency > s.at_risk_days
    if "mean_interpurchase_days" in frame.columns:
        gap = pd.to_numeric(frame["mean_interpurchase_days"]).astype("float64")
        late = (
            (orders >= 2)
            & (recency > s.at_risk_gap_factor * gap)
            & (recency >= s.at_risk_min_days)
        )
        at_risk = at_risk | late.fillna(False)
    risk_rule = (
        f"no order for > {s.at_risk_days} days or > {s.at_risk_gap_factor:g}x the "
        f"own typical gap (and >= {s.at_risk_min_days} days)"
    )
    return [
        ("new", new_rule, new),
        ("lapsed", f"no order for > {s.lapsed_days} days", lapsed),
        ("at risk", risk_rule, at_risk),
        ("active", "ordered recently, none of the above", pd.Series(True, frame.index)),
    ]


def lifecycle_table(
    frame: pd.DataFrame, settings: LifecycleSettings | None = None
) -> pd.DataFrame:
    """Each customer's lifecycle state and the rule that gave it.

    Parameters
    ----------
    frame : DataFrame
        Features (``recency_days``, ``frequency``, ``tenure_days``,
        ``mean_interpurchase_days``) or an RFM table (``recency``, ``frequency``).
    settings : LifecycleSettings, optional
        Thresholds (defaults: :class:`LifecycleSettings`).

    Returns
    -------
    DataFrame
        Same index; ``state`` (ordered categorical of :data:`STATES`) and ``rule``
        (str, the rule that matched first).
    """
    s = settings or LifecycleSettings()
    state = pd.Series(np.nan, index=frame.index, dtype="object")
    rule = pd.Series(np.nan, index=frame.index, dtype="object")
    for name, text, mask in _rules(frame, s):
        take = state.isna() & mask.fillna(False).astype(bool)
        state[take] = name
        rule[take] = text
    return pd.DataFrame(
        {
            "state": pd.Categorical(state, categories=list(STATES), ordered=True),
            "rule": rule.astype("str"),
        },
        index=frame.index,
    )


def lifecycle_states(
    frame: pd.DataFrame, settings: LifecycleSettings | None = None
) -> pd.Series:
    """Each customer's lifecycle state (new / active / at risk / lapsed).

    See :func:`lifecycle_table` (this is its ``state`` column, named
    ``lifecycle``).
    """
    return lifecycle_table(frame, settings)["state"].rename("lifecycle")


def active_base(
    states: pd.Series, settings: LifecycleSettings | None = None
) -> pd.Series:
    """Boolean mask of the customers a segmentation is limited to.

    All True when ``settings.cluster_within`` is None.
    """
    s = settings or LifecycleSettings()
    if s.cluster_within is None:
        return pd.Series(True, index=states.index, name="in_base")
    return states.astype("str").isin(s.cluster_within).rename("in_base")
