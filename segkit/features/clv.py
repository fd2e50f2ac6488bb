"""Customer lifetime value with pymc-marketing: BG/NBD purchases, Gamma-Gamma spend.

The field's own models, fitted through pymc-marketing's CLV module (imported only
inside these functions: it takes seconds to import):

- **BG/NBD** (Fader, Hardie & Lee 2005) for the number of repeat purchases and the
  probability that a customer is still active ("alive");
- **Gamma-Gamma** (Fader, Hardie & Lee 2005, "RFM and CLV") for the mean order
  value, fitted on repeat buyers with positive spend (the model is undefined for
  spend <= 0 and, for one-time buyers, falls back to the population mean);
- CLV over ``clv_months`` months with a monthly discount rate
  (``pymc_marketing.clv.customer_lifetime_value``).

Priors are flat (``HalfFlat``) on every parameter: the library's defaults are
informative and changed between versions, and with flat priors the MAP estimate is
the maximum-likelihood estimate of the papers. MAP is the default fit (seconds,
bit-identical across runs); ``method="mcmc"`` (NUTS) gives posterior intervals.

Time is in days. Order lines are first summed per customer and calendar day (one
"purchase" per customer-day, timestamps normalised to dates before any split, so
the last day's lines are never dropped).

Revenue at risk
    The run-rate revenue of customers whose probability alive is below
    ``risk_threshold``: what they used to bring in over one horizon (their mean
    order value x their observed purchase rate x horizon days). It is the value
    that leaves with them if they have churned.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from segkit.exceptions import DataError

__all__ = [
    "VALUE_COLUMNS",
    "ClvFit",
    "clv_inputs",
    "clv_tiers",
    "fit_clv",
    "holdout_check",
    "library",
    "predict_value",
    "segment_value",
]

logger = logging.getLogger(__name__)

#: Columns of :func:`predict_value`, one row per customer.
VALUE_COLUMNS = [
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "p_alive",
    "expected_purchases",
    "expected_spend",
    "expected_revenue",
    "clv",
    "run_rate_revenue",
    "at_risk",
]

_DAYS_PER_MONTH = 30.4375  # pymc-marketing's own conversion (365.25 / 12)


def _import_clv() -> Any:
    """Import pymc-marketing's CLV module with its compile cache inside the venv."""
    # pytensor writes compiled code to ~/.pytensor unless told otherwise; keep it in
    # the environment (sys.prefix) so a fresh home folder does not recompile.
    os.environ.setdefault(
        "PYTENSOR_FLAGS", f"base_compiledir={sys.prefix}/.cache/pytensor"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pymc_marketing.clv as clv
        from pymc_extras.prior import Prior
    return clv, Prior


def library() -> Any:
    """pymc-marketing's CLV module, imported on first use (compile cache in the venv)."""
    return _import_clv()[0]


def _to_date(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).dt.normalize()


def clv_inputs(
    transactions: pd.DataFrame,
    *,
    as_of: dt.date | str,
    start: dt.date | str | None = None,
) -> pd.DataFrame:
    """Per-customer frequency, recency, T and mean repeat spend (days).

    Parameters
    ----------
    transactions : DataFrame
        Clean order lines with ``customer_id``, ``timestamp`` and ``amount``.
    as_of : date
        End of the observation period (exclusive): lines on or after it are not
        used; ``T`` is measured up to the day before.
    start : date, optional
        Lines before it are not used.

    Returns
    -------
    DataFrame
        Index ``customer_id``; columns ``frequency`` (repeat purchase days),
        ``recency`` and ``T`` (days), ``monetary_value`` (mean spend of the repeat
        purchase days; 0 for one-time buyers) and ``purchase_days`` (all days).
    """
    clv, _ = _import_clv()
    missing = [
        c for c in ("customer_id", "timestamp", "amount") if c not in transactions
    ]
    if missing:
        raise DataError(
            f"customer lifetime value needs the columns {missing} in the clean "
            "transactions; map them in the config's transactions.columns"
        )
    end = pd.Timestamp(as_of).normalize()
    frame = transactions[["customer_id", "timestamp", "amount"]].copy()
    frame["date"] = _to_date(frame["timestamp"])
    keep = frame["date"] < end
    if start is not None:
        keep &= frame["date"] >= pd.Timestamp(start).normalize()
    daily = (
        frame[keep]
        .groupby(["customer_id", "date"], observed=True, as_index=False)["amount"]
        .sum()
    )
    if daily.empty:
        raise DataError(
            f"no purchases before {end.date()} to fit customer lifetime value on; "
            "check as_of and validation.horizon_days"
        )
    summary = clv.rfm_summary(
        daily,
        customer_id_col="customer_id",
        datetime_col="date",
        monetary_value_col="amount",
        observation_period_end=end - pd.Timedelta(days=1),
        time_unit="D",
    )
    summary["customer_id"] = summary["customer_id"].astype(str)
    summary = summary.set_index("customer_id").sort_index()
    summary["purchase_days"] = summary["frequency"] + 1
    return summary[["frequency", "recency", "T", "monetary_value", "purchase_days"]]


@dataclass
class ClvFit:
    """The fitted purchase and spend models and their parameter table."""

    purchases: Any
    spend: Any
    parameters: pd.DataFrame
    method: str
    customers: int
    repeat_buyers: int
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def _flat(prior_cls: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: prior_cls("HalfFlat") for name in names}


def _parameter_table(model: Any, name_of_model: str, method: str) -> pd.DataFrame:
    if method == "map":
        values = model.fit_summary()
        return pd.DataFrame(
            {
                "model": name_of_model,
                "parameter": values.index,
                "estimate": values.to_numpy(dtype=float),
                "low": np.nan,
                "high": np.nan,
            }
        )
    # Equal-tailed 95 % posterior intervals straight from the draws.
    posterior = model.fit_result
    rows = []
    for name in posterior.data_vars:
        draws = np.asarray(posterior[name].values, dtype=np.float64).ravel()
        low, high = np.quantile(draws, [0.025, 0.975])
        rows.append(
            {
                "model": name_of_model,
                "parameter": str(name),
                "estimate": float(draws.mean()),
                "low": float(low),
                "high": float(high),
            }
        )
    return pd.DataFrame(rows)


@contextlib.contextmanager
def _compile_mode(method: str) -> Iterator[None]:
    """Compile MAP's graphs with pytensor's FAST_COMPILE mode; leave NUTS alone.

    pytensor's default mode compiles through numba, and its compiled graphs
    are keyed on the data's shape: every new horizon (a new number of
    customers) recompiled the BG/NBD and Gamma-Gamma graphs for 4-13 s, longer
    than the fit. MAP evaluates the log-density and its gradient a few hundred
    times, so the pure-Python graphs of FAST_COMPILE cost about a second. The
    estimates agree with the default mode's to five digits, except BG/NBD's b,
    which the data barely identify when a is near zero (the likelihood is flat
    in b there, and predictions do not move with it; see
    tests/features/test_clv.py::test_map_fit_is_the_same_under_the_fast_compile_mode).
    NUTS evaluates the gradient hundreds of thousands of times, where the
    compiled graphs pay for themselves.
    """
    if method != "map":
        yield
        return
    import pytensor

    with pytensor.config.change_flags(mode="FAST_COMPILE"):
        yield


def fit_clv(
    inputs: pd.DataFrame,
    *,
    method: str = "map",
    seed: int = 0,
    draws: int = 300,
    chains: int = 2,
) -> ClvFit:
    """Fit BG/NBD on every customer and Gamma-Gamma on repeat buyers.

    Parameters
    ----------
    inputs : DataFrame
        From :func:`clv_inputs`.
    method : {"map", "mcmc"}
        MAP (default; seconds) or NUTS (``chains`` x ``draws``; posterior
        intervals in the parameter table).
    seed : int
        Random seed of the optimiser / sampler.

    Returns
    -------
    ClvFit
    """
    import time

    if method not in ("map", "mcmc"):
        raise DataError(f"value.method is {method!r}; use 'map' or 'mcmc'")
    clv, prior = _import_clv()
    start = time.perf_counter()
    data = inputs.reset_index()[["customer_id", "frequency", "recency", "T"]]
    if len(data) < 50:
        raise DataError(
            f"only {len(data)} customers with purchases: too few to fit customer "
            "lifetime value (BG/NBD needs hundreds)"
        )
    if int((data["frequency"] > 0).sum()) < 20:
        raise DataError(
            "fewer than 20 customers bought on two or more days: the data hold too "
            "little repeat behaviour to fit customer lifetime value"
        )
    # The models are fitted on positions, not customer ids: pymc-marketing keeps
    # the fit data in the model and in its saved file (clv_purchases.nc), which
    # must not carry real ids into the shareable run folder. Predictions take
    # their own data, so the ids the fit saw do not matter.
    data["customer_id"] = np.arange(len(data))
    fit_kwargs: dict[str, Any] = {"progressbar": False, "random_seed": seed}
    if method == "mcmc":
        fit_kwargs |= {"draws": draws, "chains": chains, "tune": draws, "cores": 1}
    with warnings.catch_warnings(), _compile_mode(method):
        warnings.simplefilter("ignore")
        bg = clv.BetaGeoModel(model_config=_flat(prior, ("r", "alpha", "a", "b")))
        bg.fit(data, method=method, **fit_kwargs)
        repeat = inputs[(inputs["frequency"] > 0) & (inputs["monetary_value"] > 0)]
        spend_data = repeat.reset_index()[
            ["customer_id", "frequency", "monetary_value"]
        ]
        spend_data["customer_id"] = np.arange(len(spend_data))
        gg = clv.GammaGammaModel(model_config=_flat(prior, ("p", "q", "v")))
        gg.fit(spend_data, method=method, **fit_kwargs)
    parameters = pd.concat(
        [
            _parameter_table(bg, "BG/NBD", method),
            _parameter_table(gg, "Gamma-Gamma", method),
        ],
        ignore_index=True,
    )
    return ClvFit(
        purchases=bg,
        spend=gg,
        parameters=parameters,
        method=method,
        customers=len(data),
        repeat_buyers=len(spend_data),
        seconds=round(time.perf_counter() - start, 2),
    )


def _mean(values: Any) -> np.ndarray:
    """Posterior mean per customer (MAP results keep chain/draw of size 1)."""
    dims = [d for d in ("chain", "draw") if d in values.dims]
    return np.asarray(values.mean(dim=dims).values, dtype=np.float64)


def _population_spend(fit: ClvFit) -> float:
    table = fit.parameters.set_index(["model", "parameter"])["estimate"]
    p, q, v = (table[("Gamma-Gamma", name)] for name in ("p", "q", "v"))
    return float(p * v / (q - 1)) if q > 1 else float("nan")


def predict_value(
    fit: ClvFit,
    inputs: pd.DataFrame,
    *,
    horizon_days: int = 90,
    clv_months: int = 12,
    discount_rate: float = 0.01,
    risk_threshold: float = 0.5,
) -> pd.DataFrame:
    """Per customer: probability alive, expected purchases and revenue, CLV, risk.

    Parameters
    ----------
    fit : ClvFit
        From :func:`fit_clv`.
    inputs : DataFrame
        From :func:`clv_inputs` (the same customers or new ones).
    horizon_days : int
        Horizon of ``expected_purchases`` / ``expected_revenue``.
    clv_months : int
        CLV period in months.
    discount_rate : float
        Monthly discount rate of the CLV.
    risk_threshold : float
        Customers whose probability alive is below it are ``at_risk``.

    Returns
    -------
    DataFrame
        Index ``customer_id``, columns :data:`VALUE_COLUMNS`.
    """
    clv, _ = _import_clv()
    data = inputs.reset_index()[["customer_id", "frequency", "recency", "T"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p_alive = _mean(fit.purchases.expected_probability_alive(data=data))
        purchases = _mean(
            fit.purchases.expected_purchases(data=data, future_t=horizon_days)
        )
    # Gamma-Gamma spend: the posterior mean spend of each repeat buyer; one-time
    # buyers (no repeat spend observed) get the population mean p v / (q - 1).
    spend = np.full(len(data), _population_spend(fit))
    repeat = (inputs["frequency"].to_numpy() > 0) & (
        inputs["monetary_value"].to_numpy() > 0
    )
    if repeat.any():
        part = inputs[repeat].reset_index()[
            ["customer_id", "frequency", "monetary_value"]
        ]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            spend[repeat] = _mean(fit.spend.expected_customer_spend(data=part))
    frame = data.assign(future_spend=spend)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = _mean(
            clv.customer_lifetime_value(
                fit.purchases,
                frame,
                future_t=clv_months,
                discount_rate=discount_rate,
                time_unit="D",
            )
        )
    out = inputs[["frequency", "recency", "T", "monetary_value"]].copy()
    out["p_alive"] = p_alive
    out["expected_purchases"] = purchases
    out["expected_spend"] = spend
    out["expected_revenue"] = purchases * spend
    out["clv"] = value
    days = inputs["purchase_days"].to_numpy(dtype=float)
    observed = np.maximum(inputs["T"].to_numpy(dtype=float), 1.0)
    order_value = np.where(repeat, inputs["monetary_value"], spend)
    out["run_rate_revenue"] = order_value * days / observed * horizon_days
    out["at_risk"] = out["p_alive"] < risk_threshold
    return out[VALUE_COLUMNS]


def _orders_between(
    transactions: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    frame = transactions[["customer_id", "timestamp", "amount"]].copy()
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["date"] = _to_date(frame["timestamp"])
    part = frame[(frame["date"] >= start) & (frame["date"] < end)]
    daily = part.groupby(["customer_id", "date"], observed=True)["amount"].sum()
    grouped = daily.groupby(level="customer_id")
    return pd.DataFrame({"purchases": grouped.size(), "revenue": grouped.sum()})


def holdout_check(
    transactions: pd.DataFrame,
    *,
    as_of: dt.date | str,
    horizon_days: int = 90,
    method: str = "map",
    seed: int = 0,
    clv_months: int = 12,
    discount_rate: float = 0.01,
    risk_threshold: float = 0.5,
) -> dict[str, Any]:
    """Fit on the history before ``as_of - horizon`` and predict the horizon after.

    The naive baseline repeats each customer's previous period: purchases and
    revenue in the ``horizon_days`` before the split. ``clv_months``,
    ``discount_rate`` and ``risk_threshold`` only shape the ``values`` returned
    (see :func:`predict_value`).

    Returns
    -------
    dict
        ``table`` (one row per measure and predictor: total predicted, total
        actual, their ratio, mean absolute error per customer, Spearman rank
        correlation), ``calibration`` (customers in bins of predicted purchases:
        mean predicted vs mean actual), ``customers``, ``t0``, ``as_of``,
        ``horizon_days``, ``fit`` (the :class:`ClvFit` of the calibration) and
        ``values`` (:func:`predict_value` at ``t0``: what was known before the
        horizon).
    """
    from scipy.stats import spearmanr

    end = pd.Timestamp(as_of).normalize()
    t0 = end - pd.Timedelta(days=horizon_days)
    inputs = clv_inputs(transactions, as_of=t0)
    fit = fit_clv(inputs, method=method, seed=seed)
    predicted = predict_value(
        fit,
        inputs,
        horizon_days=horizon_days,
        clv_months=clv_months,
        discount_rate=discount_rate,
        risk_threshold=risk_threshold,
    )
    actual = _orders_between(transactions, t0, end).reindex(inputs.index).fillna(0.0)
    naive = (
        _orders_between(transactions, t0 - pd.Timedelta(days=horizon_days), t0)
        .reindex(inputs.index)
        .fillna(0.0)
    )
    rows = []
    for measure, model_col in (
        ("purchases", "expected_purchases"),
        ("revenue", "expected_revenue"),
    ):
        truth = actual[measure].to_numpy(dtype=float)
        for predictor, values in (
            ("BG/NBD + Gamma-Gamma", predicted[model_col].to_numpy(dtype=float)),
            ("naive (last period repeats)", naive[measure].to_numpy(dtype=float)),
        ):
            rho = spearmanr(values, truth).statistic if np.ptp(values) > 0 else np.nan
            rows.append(
                {
                    "measure": measure,
                    "predictor": predictor,
                    "predicted_total": float(values.sum()),
                    "actual_total": float(truth.sum()),
                    "ratio": float(values.sum() / truth.sum())
                    if truth.sum()
                    else np.nan,
                    "mae_per_customer": float(np.abs(values - truth).mean()),
                    "spearman": float(rho),
                }
            )
    bins = pd.qcut(
        predicted["expected_purchases"].rank(method="first"), 10, labels=False
    )
    calibration = (
        pd.DataFrame(
            {
                "bin": bins.to_numpy() + 1,
                "predicted": predicted["expected_purchases"].to_numpy(),
                "actual": actual["purchases"].to_numpy(),
            }
        )
        .groupby("bin", as_index=False)
        .agg(predicted=("predicted", "mean"), actual=("actual", "mean"))
    )
    return {
        "table": pd.DataFrame(rows),
        "calibration": calibration,
        "customers": len(inputs),
        "t0": t0.date(),
        "as_of": end.date(),
        "horizon_days": horizon_days,
        "fit": fit,
        "values": predicted,
    }


def segment_value(values: pd.DataFrame, labels: pd.Series) -> pd.DataFrame:
    """CLV, expected revenue and revenue at risk per segment.

    Parameters
    ----------
    values : DataFrame
        From :func:`predict_value`, index ``customer_id``.
    labels : Series
        Segment per customer, index ``customer_id``. Customers without a value
        row (no purchase before as_of) count in ``customers`` only.

    Returns
    -------
    DataFrame
        One row per segment: ``segment``, ``customers``, ``valued`` (customers
        with a value), ``clv_total``, ``clv_mean``, ``expected_revenue``,
        ``mean_p_alive``, ``at_risk_customers``, ``revenue_at_risk``,
        ``clv_share`` (of the total CLV).
    """
    joined = values.join(labels.rename("segment"), how="right")
    joined["segment"] = joined["segment"].astype("int64")
    grouped = joined.groupby("segment")
    out = pd.DataFrame(
        {
            "customers": grouped.size(),
            "valued": grouped["clv"].count(),
            "clv_total": grouped["clv"].sum(),
            "clv_mean": grouped["clv"].mean(),
            "expected_revenue": grouped["expected_revenue"].sum(),
            "mean_p_alive": grouped["p_alive"].mean(),
            "at_risk_customers": grouped["at_risk"].sum().astype("int64"),
            "revenue_at_risk": joined["run_rate_revenue"]
            .where(joined["at_risk"].fillna(False).astype(bool), 0.0)
            .groupby(joined["segment"])
            .sum(),
        }
    )
    total = out["clv_total"].sum()
    out["clv_share"] = out["clv_total"] / total if total else np.nan
    return out.reset_index()


#: Tier labels from the most to the least valuable.
_TIERS = {3: ["Top value", "Middle value", "Low value"]}


def clv_tiers(values: pd.DataFrame, *, tiers: int = 3) -> pd.Series:
    """A value segmentation: customers split into CLV tiers of equal size.

    Returns a Series of tier ids (0 = most valuable), index ``customer_id``, with
    the tier names in ``.attrs["names"]``.
    """
    if tiers < 2:
        raise DataError(f"value tiers must be at least 2, got {tiers}")
    rank = values["clv"].rank(method="first", ascending=False)
    tier = pd.qcut(rank, tiers, labels=False).astype("int64")
    out = pd.Series(tier.to_numpy(), index=values.index, name="segment")
    out.attrs["names"] = {
        i: name for i, name in enumerate(_TIERS.get(tiers, [])) if i < tiers
    } or {i: f"Value tier {i + 1}" for i in range(tiers)}
    return out
