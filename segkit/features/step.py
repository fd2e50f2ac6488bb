"""The ``features`` step (notebook 02): describe every customer, score RFM, preprocess.

The pure building lives in :mod:`segkit.features.build`
(:func:`~segkit.features.build.customer_features`: nothing fitted, used by scoring;
:func:`~segkit.features.build.fit_matrix`: the preprocessor). :func:`build` joins
both (with the CLV columns of :mod:`segkit.features.value_features` when
``value.as_features`` is true, estimated at the same ``as_of``) and is reused by validation and profiles to rebuild the features for an earlier
``as_of``; :func:`run` reads the data-step artifacts of a run folder and writes
``features.parquet``, ``rfm.parquet``, ``lifecycle.parquet``, ``matrix.parquet``,
``preprocessor.joblib``, ``feature_definitions.csv``, ``preprocess_notes.csv`` and
``preprocess_plan.csv`` (what happened to each column). The join rules of behaviour
and attributes are documented in :mod:`segkit.features.build`.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import joblib
import pandas as pd

from segkit.context import RunContext
from segkit.data.clean import default_as_of
from segkit.data.engine import connect_engine, engine_kind
from segkit.features import build as pure
from segkit.features import extra, lifecycle, value_features

__all__ = ["build", "run", "resolve_as_of"]

logger = logging.getLogger(__name__)


def build(
    config: dict[str, Any],
    transactions: Any,
    returns: Any,
    customers: pd.DataFrame | None,
    *,
    as_of: dt.date | None,
    values: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Build features, RFM table, definitions and the fitted preprocessing matrix.

    Parameters
    ----------
    config : dict
        Validated config (sections ``features``, ``rfm``, ``preprocess``,
        ``customers``).
    transactions : DataFrame, Parquet path or None
        Clean canonical transactions (None for attribute-only data).
    returns : DataFrame, Parquet path or None
        Returns set aside by cleaning.
    customers : DataFrame or None
        Customers table indexed by ``customer_id``.
    as_of : date or None
        Analysis date; None with transactions: the day after the last one.
    values : DataFrame, optional
        With ``value.as_features``: CLV per customer already estimated at
        ``as_of`` from purchases before it (e.g. the value step's holdout fit at
        ``t0``, ``values_t0.parquet``); None fits BG/NBD + Gamma-Gamma on the
        ``transactions`` before ``as_of``
        (:func:`segkit.features.value_features.value_features`). Ignored when
        ``value.as_features`` is false.

    Returns
    -------
    dict
        ``features`` (DataFrame, index ``customer_id``), ``rfm`` (DataFrame or None
        without transactions), ``lifecycle`` (DataFrame or None, see
        :func:`segkit.features.lifecycle.lifecycle_table`), ``definitions`` (name,
        group, unit, definition), ``notes`` (source, rule, count, detail),
        ``preprocessor`` (fitted :class:`segkit.features.preprocess.Preprocessor`),
        ``matrix`` (float64 DataFrame), ``as_of`` (date or None).
    """
    if transactions is not None and as_of is None:
        as_of = default_as_of(transactions)
    value = None
    value_features.check_config(config, has_transactions=transactions is not None)
    if value_features.uses_value_features(config):
        value = (
            value_features.value_features(
                config, transactions, as_of=as_of, seed=config["seed"]
            )
            if values is None
            else value_features.from_values(values)
        )
    features, notes = pure.customer_features(
        config, transactions, returns, customers, as_of=as_of, value=value
    )
    table = pure.rfm_frame(config, features)
    if table is not None:
        notes = pd.concat([notes, _rfm_notes(table)], ignore_index=True)
    states = None
    if lifecycle.has_columns(features):
        states = lifecycle.lifecycle_table(features, lifecycle.settings_of(config))
    pre, matrix, fit_notes = pure.fit_matrix(config, features)
    notes = pd.concat([notes, fit_notes], ignore_index=True)
    return {
        "features": features,
        "rfm": table,
        "lifecycle": states,
        "definitions": pure.definitions(features, config),
        "notes": notes,
        "preprocessor": pre,
        "matrix": matrix,
        "as_of": as_of,
    }


def _rfm_notes(table: pd.DataFrame) -> pd.DataFrame:
    """The RFM scoring warnings (``table.attrs["notes"]``) as step notes."""
    rows = [
        pure.note("rfm", str(rule), int(count), str(detail))
        for rule, count, detail in table.attrs.get("notes", [])
    ]
    return pd.DataFrame(rows, columns=pure.NOTE_COLUMNS).astype(
        {"source": "str", "rule": "str", "count": "int64", "detail": "str"}
    )


def resolve_as_of(ctx: RunContext) -> dt.date | None:
    """as_of of a run: the config's, else the data step's, else day after the last line."""
    if ctx.config.as_of is not None:
        return ctx.config.as_of
    if ctx.has("data_summary.json"):
        value = ctx.load_json("data_summary.json").get("as_of")
        if value:
            return dt.date.fromisoformat(value)
    if ctx.has("transactions.parquet"):
        return default_as_of(ctx.artifact("transactions.parquet"))
    return None


def _pin_declared(ctx: RunContext, transactions: Any, as_of: Any) -> Any:
    """The config with the spend-mix levels chosen now, saved for the later steps.

    ``declared_features.json`` holds the levels of each ``features.mix`` and the
    display names of the declared features; :func:`segkit.context.open_run`
    applies both in every later notebook (see ``FeatureSettings.with_levels``).
    """
    section = ctx.config.features
    if transactions is None or not (section.mix or section.extra):
        return ctx.config
    when = as_of or default_as_of(transactions)
    pinned = extra.pin_mix_levels(transactions, section, as_of=when)
    pinned_section = section.with_levels(pinned)
    names: dict[str, str] = {}
    for spec in pinned_section.mix:
        columns = extra.mix_columns(spec, list(spec.levels))
        names.update({k: v or "other levels" for k, v in columns.items()})
    ctx.save_json(
        "declared_features.json",
        {"mix_levels": pinned, "labels": extra.labels(pinned_section, names)},
    )
    return ctx.config.model_copy(update={"features": pinned_section})


def _on_engine(ctx: RunContext) -> bool:
    """Features run on the config's engine (CLV features read the lines in pandas)."""
    return engine_kind(ctx.config) != "pandas" and not (
        value_features.uses_value_features(ctx.config)
    )


def run(ctx: RunContext) -> dict[str, Any]:
    """Compute the features of a run folder and write the feature artifacts."""
    transactions = returns = customers = None
    if ctx.has_transactions:
        transactions = ctx.artifact("transactions.parquet")
        if ctx.has("returns.parquet"):
            returns = ctx.artifact("returns.parquet")
    if ctx.has("customers.parquet"):
        customers = ctx.load_frame("customers.parquet")
        if "customer_id" in customers.columns:
            customers = customers.set_index("customer_id")
    as_of = resolve_as_of(ctx)
    if transactions is not None and _on_engine(ctx):
        # The lines are described where the data step ran (its memory limit and
        # spill folder on DuckDB; Spark's executors with engine: spark).
        con = connect_engine(ctx.config)
        transactions = con.read_parquet(str(transactions))
        if returns is not None:
            returns = con.read_parquet(str(returns))
    config = _pin_declared(ctx, transactions, as_of)
    result = build(config, transactions, returns, customers, as_of=as_of)
    ctx.save_frame("features.parquet", result["features"])
    describe = pure.describe_only_attributes(
        ctx.config, customers, as_of=as_of, index=result["features"].index
    )
    if describe is not None:  # a partial customers table: it describes, never clusters
        ctx.save_frame("attributes_describe.parquet", describe)
    if result["rfm"] is not None:
        ctx.save_frame("rfm.parquet", result["rfm"])
    if result["lifecycle"] is not None:
        ctx.save_frame("lifecycle.parquet", result["lifecycle"])
    ctx.save_frame("matrix.parquet", result["matrix"])
    joblib.dump(result["preprocessor"], ctx.artifact("preprocessor.joblib"))
    ctx.save_frame("feature_definitions.csv", result["definitions"])
    ctx.save_frame("preprocess_notes.csv", result["notes"])
    ctx.save_frame("preprocess_plan.csv", result["preprocessor"].describe())
    summary = {
        "as_of": None if as_of is None else as_of.isoformat(),
        "customers": len(result["features"]),
        "features": len(result["features"].columns),
        "matrix_columns": len(result["matrix"].columns),
        "rfm": result["rfm"] is not None,
        "lifecycle": None
        if result["lifecycle"] is None
        else result["lifecycle"]["state"].value_counts(sort=False).to_dict(),
    }
    logger.info("features: %s", summary)
    return summary
