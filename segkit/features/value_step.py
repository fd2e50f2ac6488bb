"""The ``value`` step: customer lifetime value per customer, checked on the holdout.

Runs after ``features`` (notebook 02 shows the value distribution, 04 the holdout
check, 05 the value per segment). Writes to ``artifacts/``:

=========================  =====================================================
``values.parquet``         per customer (index ``customer_id``):
                           :data:`segkit.features.clv.VALUE_COLUMNS` plus
                           ``lifecycle_state`` and ``risk_source`` (``at_risk``
                           widened to silent customers, see ``_with_lifecycle``)
``clv_parameters.csv``     fitted parameters (model, parameter, estimate, low,
                           high; intervals only with ``value.method: mcmc``)
``clv_holdout.csv``        predicted vs actual purchases and revenue over the
                           holdout horizon, model beside the naive baseline
``clv_calibration.csv``    deciles of predicted purchases: mean predicted vs
                           mean actual
``values_t0.parquet``      the same columns as estimated at the holdout start
                           ``t0`` by the holdout fit (purchases before ``t0``
                           only): what validation may use at ``t0`` without
                           hindsight (CLV tiers baseline, ``value.as_features``)
``clv_purchases.nc``,      the fitted BG/NBD and Gamma-Gamma models
``clv_spend.nc``           (pymc-marketing ``save``): scoring new customers
                           predicts their CLV with them, never refitting
``value.json``             settings, sizes, seconds, or why the step skipped
=========================  =====================================================

Attribute-only runs (no transactions) and runs whose history is too short or
holds too little repeat buying skip the step: ``value.json`` says why in one
sentence and no other value artifact is written.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pandas as pd

from segkit.exceptions import DataError
from segkit.features import clv, value_features

if TYPE_CHECKING:
    from segkit.context import RunContext

__all__ = ["run", "value_available"]

logger = logging.getLogger(__name__)


def value_available(ctx: RunContext) -> bool:
    """True when the run has customer-lifetime-value artifacts."""
    return ctx.has("values.parquet")


def _skip(ctx: RunContext, reason: str) -> dict[str, Any]:
    names = ("values.parquet", "values_t0.parquet", "clv_parameters.csv")
    names += ("clv_holdout.csv", *value_features.FIT_FILES.values())
    for name in names:
        ctx.artifact(name).unlink(missing_ok=True)
    record = {"available": False, "reason": reason}
    ctx.save_json("value.json", record)
    logger.info("value step skipped: %s", reason)
    return record


def _dropout(fit: clv.ClvFit) -> float | None:
    """Mean dropout probability after a purchase, a / (a + b), of the BG/NBD fit."""
    table = fit.parameters.set_index("parameter")["estimate"]
    if {"a", "b"} <= set(table.index):
        return float(table["a"] / (table["a"] + table["b"]))
    return None


def _as_of(ctx: RunContext, transactions: pd.DataFrame) -> pd.Timestamp:
    if ctx.has("data_summary.json"):
        summary = ctx.load_json("data_summary.json")
        if summary.get("as_of"):
            return pd.Timestamp(summary["as_of"])
    if ctx.config["as_of"] is not None:
        return pd.Timestamp(ctx.config["as_of"])
    return pd.to_datetime(transactions["timestamp"]).max().normalize() + pd.Timedelta(
        days=1
    )


#: Lifecycle states (features step) that count as silent for revenue at risk.
SILENT_STATES = ("at risk", "lapsed")


def _with_lifecycle(ctx: RunContext, values: pd.DataFrame) -> pd.DataFrame:
    """Add the lifecycle state and widen ``at_risk`` to silent customers.

    BG/NBD cannot see a one-time buyer drop out, and on a short history its
    fitted dropout can be ~0 (Online Retail: a = 0.003): the model then calls
    every customer alive. A customer is therefore at risk when the model gives a
    low probability alive (``risk_source`` "model") or when the lifecycle rule of
    the features step finds them silent for longer than its at-risk / lapse
    thresholds ("silent"), or both.
    """
    out = values.copy()
    out["risk_source"] = ""
    out.loc[out["at_risk"], "risk_source"] = "model"
    if not ctx.has("lifecycle.parquet"):
        out["lifecycle_state"] = ""
        return out
    states = ctx.load_frame("lifecycle.parquet")
    if "customer_id" in states.columns:
        states = states.set_index("customer_id")
    states.index = states.index.astype(str)
    out["lifecycle_state"] = states["state"].reindex(out.index).fillna("").astype(str)
    silent = out["lifecycle_state"].isin(SILENT_STATES).to_numpy()
    model = out["at_risk"].to_numpy()
    out.loc[silent & ~model, "risk_source"] = "silent"
    out.loc[silent & model, "risk_source"] = "model and silent"
    out["at_risk"] = model | silent
    return out


def run(ctx: RunContext) -> dict[str, Any]:
    """Fit CLV on the clean transactions, predict per customer, check the holdout."""
    settings = ctx.config["value"]
    if not settings["enabled"]:
        return _skip(ctx, "customer lifetime value is switched off (value.enabled)")
    if not ctx.has_transactions or not ctx.has("transactions.parquet"):
        return _skip(
            ctx,
            "this run has no transactions, so there is no purchase history to "
            "estimate customer lifetime value from",
        )
    transactions = ctx.load_frame("transactions.parquet")
    as_of = _as_of(ctx, transactions)
    horizon = settings["horizon_days"] or ctx.config["validation"]["horizon_days"]
    try:
        inputs = clv.clv_inputs(transactions, as_of=as_of)
        fit = clv.fit_clv(inputs, method=settings["method"], seed=ctx.seed)
        values = clv.predict_value(
            fit,
            inputs,
            horizon_days=horizon,
            clv_months=settings["clv_months"],
            discount_rate=settings["discount_rate"],
            risk_threshold=settings["risk_threshold"],
        )
        check = clv.holdout_check(
            transactions,
            as_of=as_of,
            horizon_days=horizon,
            method=settings["method"],
            seed=ctx.seed,
            clv_months=settings["clv_months"],
            discount_rate=settings["discount_rate"],
            risk_threshold=settings["risk_threshold"],
        )
    except DataError as exc:
        return _skip(ctx, f"customer lifetime value was not estimated: {exc}")
    values = _with_lifecycle(ctx, values)
    values.index.name = "customer_id"
    ctx.save_frame("values.parquet", values)
    at_t0 = check["values"].copy()
    at_t0.index.name = "customer_id"
    ctx.save_frame("values_t0.parquet", at_t0)
    value_features.save_fit(fit, ctx.artifacts)
    ctx.save_frame("clv_parameters.csv", fit.parameters)
    ctx.save_frame("clv_holdout.csv", check["table"])
    ctx.save_frame("clv_calibration.csv", check["calibration"])
    record = {
        "available": True,
        "method": fit.method,
        "as_of": as_of.date().isoformat(),
        "horizon_days": int(horizon),
        "clv_months": settings["clv_months"],
        "discount_rate": settings["discount_rate"],
        "risk_threshold": settings["risk_threshold"],
        "customers": fit.customers,
        "repeat_buyers": fit.repeat_buyers,
        "holdout": {
            "t0": check["t0"].isoformat(),
            "customers": check["customers"],
        },
        "totals": {
            "clv": float(values["clv"].sum()),
            "expected_revenue": float(values["expected_revenue"].sum()),
            "at_risk_customers": int(values["at_risk"].sum()),
            "at_risk_by_model": int(values["risk_source"].str.contains("model").sum()),
            "at_risk_silent_only": int((values["risk_source"] == "silent").sum()),
            "mean_p_alive": float(values["p_alive"].mean()),
            "dropout_per_purchase": _dropout(fit),
            "revenue_at_risk": float(
                values.loc[values["at_risk"], "run_rate_revenue"].sum()
            ),
        },
    }
    ctx.save_json("value.json", record)
    # the fit's seconds live in the step marker only (value.json stays a pure
    # function of the inputs, so a reused step equals a recomputed one)
    return {**record, "fit_seconds": fit.seconds}
