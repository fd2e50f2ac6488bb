"""The "CLV tiers" baseline: a value segmentation known at ``t0``.

When the value step (:mod:`segkit.features.value_step`) produced artifacts, the
held-out comparison also scores **CLV tiers**: customers ranked by their customer
lifetime value *as estimated at t0* and cut into as many equal-sized tiers as the
segmentation has groups (:func:`segkit.features.clv.clv_tiers`). The value must be
the one known at ``t0``: today's CLV (``values.parquet``) was fitted on the very
horizon the outcome measures, so it would predict it with hindsight.

The t0 estimate is the value step's own holdout calibration: BG/NBD + Gamma-Gamma
fitted on the purchases before ``t0`` with the same method and seed, read from
``values_t0.parquet`` (passed in the record as ``values_t0``) or, without it,
refitted here (MAP fits are bit-identical across runs, so refitting reproduces it). It is used only when
the value step's holdout starts at the same ``t0`` as the validation horizon;
otherwise, or when the fit fails, the baseline is skipped with a note saying why.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd

from segkit.exceptions import DataError

__all__ = ["CLV_TIERS", "value_tiers_at", "value_baseline"]

logger = logging.getLogger(__name__)

CLV_TIERS = "CLV tiers"


def value_tiers_at(values: pd.DataFrame, customers: pd.Index, groups: int) -> pd.Series:
    """CLV tiers of ``customers`` (0 = most valuable), ``-1`` where no value exists.

    Parameters
    ----------
    values : DataFrame
        Per-customer value with a ``clv`` column (index ``customer_id``), as
        :func:`segkit.features.clv.predict_value` returns.
    customers : Index
        The customers to label (e.g. those followed over the horizon).
    groups : int
        Number of tiers (the segmentation's number of groups, >= 2).

    Returns
    -------
    Series
        Tier per customer of ``customers``, name ``clv_tier``.
    """
    from segkit.features.clv import clv_tiers

    if "clv" not in values.columns:
        raise DataError(
            f"column 'clv' not found in the values table (columns: "
            f"{list(values.columns)}); pass the per-customer values of the value step"
        )
    values = values.copy()
    values.index = values.index.astype("str")
    known = values.loc[values.index.intersection(customers.astype("str"))]
    if len(known) < groups:
        raise DataError(
            f"only {len(known)} of {len(customers)} customers have a value at t0, "
            f"fewer than the {groups} tiers asked for"
        )
    tiers = clv_tiers(known, tiers=groups)
    out = tiers.reindex(customers.astype("str")).fillna(-1).astype("int64")
    out.index = customers
    return out.rename("clv_tier")


def value_baseline(
    transactions: pd.DataFrame,
    customers: pd.Index,
    *,
    t0: pd.Timestamp,
    groups: int,
    value: Mapping[str, Any] | None,
    seed: int,
) -> tuple[pd.Series | None, str]:
    """CLV tiers at ``t0`` for the held-out comparison, or why there are none.

    Parameters
    ----------
    transactions : DataFrame
        Clean order lines (``customer_id``, ``timestamp``, ``amount``).
    customers : Index
        Customers followed over the horizon (the outcome's index).
    t0 : Timestamp
        Start of the validation horizon.
    groups : int
        The segmentation's number of groups.
    value : mapping or None
        ``None`` when the value step produced no artifacts; else its record
        (``value.json``) with ``available``, ``method``, ``clv_months``,
        ``discount_rate`` and ``holdout.t0``, optionally ``values_t0`` (the
        holdout fit's per-customer values, ``values_t0.parquet``).
    seed : int
        The run's seed (the value step's).

    Returns
    -------
    tiers : Series or None
        Tier per customer (``-1``: no value at t0), or None when skipped.
    note : str
        One sentence: what was done, or why the baseline was skipped.
    """
    if not value or not value.get("available"):
        return None, (
            "CLV tiers are not among the baselines: the value step produced no "
            "customer lifetime values in this run"
        )
    holdout_t0 = (value.get("holdout") or {}).get("t0")
    if holdout_t0 is None or pd.Timestamp(holdout_t0) != pd.Timestamp(t0).normalize():
        return None, (
            f"CLV tiers are not among the baselines: the value step's holdout starts "
            f"on {holdout_t0}, the validation horizon on {pd.Timestamp(t0).date()}; "
            "set value.horizon_days equal to validation.horizon_days (or null) to "
            "compare with value tiers known at t0"
        )
    if groups < 2:
        return None, "CLV tiers are not among the baselines: fewer than 2 segments"
    from segkit.features import clv

    try:
        values = value.get("values_t0")
        if values is None:  # no saved holdout values: refit the same model
            inputs = clv.clv_inputs(transactions, as_of=t0)
            fit = clv.fit_clv(inputs, method=value["method"], seed=seed)
            values = clv.predict_value(
                fit,
                inputs,
                clv_months=value["clv_months"],
                discount_rate=value["discount_rate"],
            )
        tiers = value_tiers_at(values, customers, groups)
    except DataError as exc:
        logger.warning("CLV tiers baseline skipped: %s", exc)
        return None, f"CLV tiers are not among the baselines: {exc}"
    return tiers, (
        f"CLV tiers: {groups} equal-sized tiers of the customer lifetime value "
        f"estimated at t0 ({pd.Timestamp(t0).date()}, the value step's holdout "
        "calibration fit), so the tiers know nothing of the horizon they predict"
    )
