"""Customer lifetime value as clustering features (``value.as_features``).

With ``value.as_features: true`` the features step adds three columns to every
customer, from BG/NBD + Gamma-Gamma (:mod:`segkit.features.clv`) fitted on the
purchases *before* the features' ``as_of`` only:

=======================  ===================================================
``clv``                  CLV over ``value.clv_months`` months (currency;
                         the preprocessor's skew handling logs it)
``p_alive``              probability that the customer is still active,
                         rounded to 0.001 (see :func:`from_values`)
``expected_purchases``   expected purchase days over the value horizon
                         (``value.horizon_days``, else the validation's)
=======================  ===================================================

Why these three: CLV is the forward-looking value the RFM features only look
back on; ``p_alive`` is the one quantity the behaviour features do not hold (it
weighs recency against the customer's own rhythm); expected purchases separate
frequent low spenders from rare big ones at equal CLV. Expected revenue is left
out: it is expected purchases x spend, nearly collinear with CLV.

No leak: the columns are computed at the same ``as_of`` as the rest of the
features (``clv_inputs`` drops every line on or after it). The validation step
rebuilds the features at ``t0`` (the holdout start) and gets the CLV of a model
fitted before ``t0`` -- the value step's holdout fit (``values_t0.parquet``) when
its ``t0`` is the validation's, else a fresh fit on the lines before ``t0``.

Scoring new customers needs the run's fitted CLV models: the value step saves them
next to ``model.joblib`` (:data:`FIT_FILES`, pymc-marketing's own ``save``;
pickle fails on these models); :func:`load_fit` reads them back and
:func:`value_features` predicts with them, never refitting.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segkit.config_base import Section
from segkit.config_sections import ValidationSettings, ValueSettings
from segkit.exceptions import ConfigError, DataError
from segkit.features import clv

__all__ = [
    "FIT_FILES",
    "VALUE_FEATURES",
    "check_config",
    "definitions",
    "fit_available",
    "from_values",
    "horizon_days",
    "load_fit",
    "save_fit",
    "uses_value_features",
    "value_features",
]

#: The CLV columns ``value.as_features`` adds to the features.
VALUE_FEATURES = ("clv", "p_alive", "expected_purchases")

#: The saved CLV models (pymc-marketing ``save``), in the artifacts folder.
FIT_FILES = {"purchases": "clv_purchases.nc", "spend": "clv_spend.nc"}

_DEFINITIONS = {
    "clv": (
        "currency",
        "Customer lifetime value over value.clv_months months (BG/NBD + "
        "Gamma-Gamma fitted on the purchases before as_of, discounted monthly).",
    ),
    "p_alive": (
        "probability",
        "Probability that the customer is still active at as_of (BG/NBD).",
    ),
    "expected_purchases": (
        "purchase days",
        "Expected purchase days over the value horizon after as_of (BG/NBD).",
    ),
}


def _section(config: Any, name: str, model: type[Section]) -> Section:
    section = config[name]
    return section if isinstance(section, model) else model.of(section)


def uses_value_features(config: Any) -> bool:
    """True when the config asks for CLV columns among the features."""
    return bool(_section(config, "value", ValueSettings).as_features)


def horizon_days(config: Any) -> int:
    """The value horizon: ``value.horizon_days``, else ``validation.horizon_days``."""
    value = _section(config, "value", ValueSettings)
    validation = _section(config, "validation", ValidationSettings)
    return int(value.horizon_days or validation.horizon_days)


def from_values(values: pd.DataFrame) -> pd.DataFrame:
    """The :data:`VALUE_FEATURES` columns of a values table (float64, str index).

    Parameters
    ----------
    values : DataFrame
        :func:`segkit.features.clv.predict_value` output or ``values.parquet``.
    """
    missing = [c for c in VALUE_FEATURES if c not in values.columns]
    if missing:
        raise DataError(
            f"columns {missing} not found in the values table (columns: "
            f"{list(values.columns)}); pass the per-customer values of the value step"
        )
    out = values[list(VALUE_FEATURES)].astype("float64")
    # A probability to 0.001 is all a segment can use; rounding also turns the
    # 0.99999x of a fit with no dropout (Online Retail: a ~ 0.003) into a constant
    # the preprocessor drops, instead of noise its scaling would blow up.
    out["p_alive"] = out["p_alive"].round(3)
    out.index = out.index.astype("str")
    out.index.name = "customer_id"
    return out


def _frame(transactions: Any) -> pd.DataFrame:
    if isinstance(transactions, pd.DataFrame):
        return transactions
    return pd.read_parquet(transactions, columns=["customer_id", "timestamp", "amount"])


def value_features(
    config: Any,
    transactions: Any,
    *,
    as_of: dt.date | str,
    seed: int = 0,
    fit: clv.ClvFit | None = None,
) -> pd.DataFrame:
    """CLV columns of every customer with purchases before ``as_of``.

    Parameters
    ----------
    config : Config or mapping
        Sections ``value`` (method, clv_months, discount_rate, horizon) and
        ``validation`` (horizon when ``value.horizon_days`` is null).
    transactions : DataFrame or Parquet path
        Clean order lines (``customer_id``, ``timestamp``, ``amount``); lines on or
        after ``as_of`` are not used.
    as_of : date
        The features' analysis date.
    seed : int
        Seed of the CLV fit.
    fit : ClvFit, optional
        Fitted models to predict with (scoring); None fits them on the lines
        before ``as_of``.

    Returns
    -------
    DataFrame
        Index ``customer_id`` (str), columns :data:`VALUE_FEATURES`.

    Raises
    ------
    DataError
        The CLV models cannot be fitted on these purchases (too few customers or
        too little repeat buying); the message says to switch ``as_features`` off.
    """
    settings = _section(config, "value", ValueSettings)
    try:
        inputs = clv.clv_inputs(_frame(transactions), as_of=as_of)
        if fit is None:
            fit = clv.fit_clv(inputs, method=settings.method, seed=seed)
        values = clv.predict_value(
            fit,
            inputs,
            horizon_days=horizon_days(config),
            clv_months=settings.clv_months,
            discount_rate=settings.discount_rate,
            risk_threshold=settings.risk_threshold,
        )
    except DataError as exc:
        raise DataError(
            f"value.as_features is true, but the CLV features as of "
            f"{pd.Timestamp(as_of).date()} could not be computed: {exc}; set "
            "value.as_features: false to segment without them"
        ) from None
    return from_values(values)


def check_config(config: Any, *, has_transactions: bool) -> None:
    """ConfigError when ``value.as_features`` cannot be served by this run."""
    if not uses_value_features(config):
        return
    if not has_transactions:
        raise ConfigError(
            "value.as_features is true, but this run has no transactions to "
            "estimate customer lifetime value from; set value.as_features: false "
            "(attribute-only data have no CLV)"
        )


def definitions() -> pd.DataFrame:
    """Rows of ``feature_definitions.csv`` for :data:`VALUE_FEATURES`."""
    return pd.DataFrame(
        [
            {"name": name, "group": "value", "unit": unit, "definition": text}
            for name, (unit, text) in _DEFINITIONS.items()
        ]
    )


def save_fit(fit: clv.ClvFit, folder: str | Path) -> list[Path]:
    """Save the fitted BG/NBD and Gamma-Gamma models (:data:`FIT_FILES`)."""
    folder = Path(folder)
    paths = [folder / FIT_FILES["purchases"], folder / FIT_FILES["spend"]]
    fit.purchases.save(str(paths[0]))
    fit.spend.save(str(paths[1]))
    return paths


def fit_available(folder: str | Path) -> bool:
    """True when ``folder`` holds both saved CLV models."""
    return all((Path(folder) / name).exists() for name in FIT_FILES.values())


def _estimates(model: Any, name: str) -> pd.DataFrame:
    posterior = model.fit_result
    rows = [
        {
            "model": name,
            "parameter": str(p),
            "estimate": float(np.asarray(posterior[p].values, dtype=float).mean()),
        }
        for p in posterior.data_vars
    ]
    return pd.DataFrame(rows)


def load_fit(folder: str | Path) -> clv.ClvFit:
    """The CLV models saved by :func:`save_fit`, ready to predict (never refitted).

    Raises
    ------
    DataError
        A file of :data:`FIT_FILES` is missing from ``folder``.
    """
    folder = Path(folder)
    missing = [n for n in FIT_FILES.values() if not (folder / n).exists()]
    if missing:
        raise DataError(
            f"the saved CLV models {missing} are not in {str(folder)!r}; the value "
            "step writes them next to model.joblib: keep them with the model"
        )
    library = clv.library()
    purchases = library.BetaGeoModel.load(str(folder / FIT_FILES["purchases"]))
    spend = library.GammaGammaModel.load(str(folder / FIT_FILES["spend"]))
    parameters = pd.concat(
        [_estimates(purchases, "BG/NBD"), _estimates(spend, "Gamma-Gamma")],
        ignore_index=True,
    )
    draws = int(purchases.fit_result.sizes.get("draw", 1))
    return clv.ClvFit(
        purchases=purchases,
        spend=spend,
        parameters=parameters,
        method="map" if draws == 1 else "mcmc",
        customers=0,
        repeat_buyers=0,
    )
