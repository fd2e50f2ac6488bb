"""The ``features`` step (notebook 02): describe every customer, score RFM, preprocess.

:func:`build` is the pure part (frames in, results out), reused by validation to
rebuild the features for an earlier ``as_of``; :func:`run` reads the data-step
artifacts of a run folder and writes ``features.parquet``, ``rfm.parquet``,
``matrix.parquet``, ``preprocessor.joblib``, ``feature_definitions.csv``,
``preprocess_notes.csv`` and ``preprocess_plan.csv`` (what happened to each column).

Rules for joining behaviour and attributes (when a config has both transactions and
a customers table; each is counted in the notes):

- the population is the customers with transactions (behaviour is what a
  transactions segmentation describes); customers-table rows without any
  transaction are left out;
- customers with transactions but no row in the customers table keep their
  behavioural features; a missing numeric attribute is set to the median of the
  customers that have it, a missing categorical one to ``"Missing"``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import joblib
import pandas as pd

from segkit.context import RunContext
from segkit.exceptions import ConfigError, DataError
from segkit.features import attributes, preprocess, rfm
from segkit.features.behaviour import (
    compute_features_with_notes,
    default_as_of,
    feature_definitions,
)

__all__ = ["build", "run", "resolve_as_of"]

logger = logging.getLogger(__name__)

_NOTE_COLUMNS = ["source", "rule", "count", "detail"]


def _note(source: str, rule: str, count: int, detail: str = "") -> dict[str, Any]:
    return {"source": source, "rule": rule, "count": int(count), "detail": detail}


def _has_attributes(config: dict[str, Any]) -> bool:
    section = config.get("customers")
    return bool(section) and any(
        section["attributes"].get(g) for g in section["attributes"]
    )


def _attribute_features(
    config: dict[str, Any], customers: pd.DataFrame, as_of: dt.date | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    section = config["customers"]
    return attributes.attribute_features(
        customers,
        attributes={g: list(c) for g, c in section["attributes"].items()},
        as_of=as_of,
        birth_year=section.get("birth_year"),
        signup_date=section.get("signup_date"),
        top_countries=config["features"]["top_countries"],
        rare_share=config["features"]["rare_share"],
        ordinal=config["features"].get("ordinal") or None,
        date_format=section["read"].get("date_format"),
    )


def _attribute_notes(notes: pd.DataFrame) -> pd.DataFrame:
    """segkit.features.attributes notes (column, feature, group, action, rows) as step notes."""
    rows = [
        _note(
            "attributes",
            str(row.get("action", "")),
            int(row.get("rows", 0) or 0),
            f"{row.get('column', '')} -> {row.get('feature', '')} "
            f"({row.get('group', '')})",
        )
        for row in notes.to_dict("records")
    ]
    return pd.DataFrame(rows, columns=_NOTE_COLUMNS)


def _join(
    behaviour: pd.DataFrame, attrs: pd.DataFrame, notes: list[dict[str, Any]]
) -> pd.DataFrame:
    """Left-join attributes onto behaviour with the documented fill rules."""
    attrs = attrs.drop(columns=[c for c in attrs.columns if c in behaviour.columns])
    attrs.index = attrs.index.astype("str")
    without = ~behaviour.index.isin(attrs.index)
    not_buying = int((~attrs.index.isin(behaviour.index)).sum())
    notes.append(
        _note(
            "features",
            "customers-table rows without transactions left out",
            not_buying,
            "a behavioural segmentation describes customers who bought",
        )
    )
    notes.append(
        _note(
            "features",
            "customers with transactions but no attributes: median / 'Missing' filled",
            int(without.sum()),
            "numeric attributes get the median of the other customers, "
            "categorical ones the level 'Missing'",
        )
    )
    joined = behaviour.join(attrs, how="left")
    for column in attrs.columns:
        values = joined[column]
        if not values.isna().any():
            continue
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(
            values
        ):
            median = attrs[column].median()
            joined[column] = values.fillna(0.0 if pd.isna(median) else median)
        else:
            joined[column] = values.astype("object").fillna("Missing").astype("str")
    return joined


def _exclude(features: pd.DataFrame, exclude: list[str]) -> pd.DataFrame:
    unknown = [c for c in exclude if c not in features.columns]
    if unknown:
        raise ConfigError(
            f"features.exclude names {unknown}, which are not features (features: "
            f"{list(features.columns)}); fix the names in the config"
        )
    return features.drop(columns=list(exclude))


def _definitions(features: pd.DataFrame, config: dict[str, Any]) -> pd.DataFrame:
    table = feature_definitions(list(features.columns))
    groups: dict[str, str] = {}
    if config.get("customers"):
        for group, cols in config["customers"]["attributes"].items():
            for col in cols:
                groups[col] = group
    extra = [
        {
            "name": column,
            "group": next(
                (g for c, g in groups.items() if column == c or column.startswith(c)),
                "attribute",
            ),
            "unit": "" if pd.api.types.is_numeric_dtype(features[column]) else "level",
            "definition": "From the customers table (see segkit.features.attributes and the "
            "preprocess notes for derived columns, grouping and missing values).",
        }
        for column in features.columns
        if column not in set(table["name"])
    ]
    return pd.concat(
        [table, pd.DataFrame(extra, columns=table.columns)], ignore_index=True
    )


def _preprocess_notes(pre: Any) -> list[dict[str, Any]]:
    notes = [
        _note("preprocess", f"dropped {row.column}", 1, str(row.reason))
        for row in pre.dropped_.itertuples(index=False)
    ]
    notes += [
        _note(
            "preprocess",
            f"highly correlated: {row.a} ~ {row.b}",
            1,
            f"r = {row.r:+.2f}",
        )
        for row in pre.correlated_pairs_.itertuples(index=False)
    ]
    return notes


def _matrix(pre: Any, features: pd.DataFrame) -> pd.DataFrame:
    matrix = pre.transform(features)
    if not isinstance(matrix, pd.DataFrame):
        matrix = pd.DataFrame(
            matrix, index=features.index, columns=pre.feature_names_out_
        )
    matrix = matrix.astype("float64")
    matrix.index = features.index
    matrix.columns = [str(c) for c in matrix.columns]
    return matrix


def build(
    config: dict[str, Any],
    transactions: Any,
    returns: Any,
    customers: pd.DataFrame | None,
    *,
    as_of: dt.date | None,
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

    Returns
    -------
    dict
        ``features`` (DataFrame, index ``customer_id``), ``rfm`` (DataFrame or None
        without transactions), ``definitions`` (name, group, unit, definition),
        ``notes`` (source, rule, count, detail), ``preprocessor`` (fitted
        :class:`segkit.features.preprocess.Preprocessor`), ``matrix`` (float64 DataFrame),
        ``as_of`` (date or None).
    """
    notes: list[dict[str, Any]] = []
    extra_notes: list[pd.DataFrame] = []
    use_attributes = customers is not None and _has_attributes(config)
    if transactions is None and not use_attributes:
        raise DataError(
            "the features step has neither transactions nor customer attributes; "
            "declare transactions or customers.attributes in the config"
        )
    behaviour = None
    if transactions is not None:
        if as_of is None:
            as_of = default_as_of(transactions)
        behaviour, behaviour_notes = compute_features_with_notes(
            transactions, returns, as_of=as_of
        )
        extra_notes.append(behaviour_notes)
    attrs = None
    if use_attributes:
        attrs, attr_notes = _attribute_features(config, customers, as_of)
        extra_notes.append(_attribute_notes(attr_notes))
    if behaviour is not None and attrs is not None:
        features = _join(behaviour, attrs, notes)
    else:
        features = behaviour if behaviour is not None else attrs.copy()
        features.index = features.index.astype("str")
    features.index.name = "customer_id"
    features = _exclude(features, list(config["features"]["exclude"]))
    if features.empty:
        raise DataError("no customer left to describe; check the cleaning ledger")

    table = None
    if behaviour is not None:
        base = behaviour.loc[features.index, ["recency_days", "frequency", "monetary"]]
        table = rfm.rfm_table(
            base.rename(columns={"recency_days": "recency"}),
            bins=config["rfm"]["bins"],
            scheme=config["rfm"]["scheme"],
        )
    pre = preprocess.Preprocessor(**config["preprocess"]).set_output(transform="pandas")
    pre.fit(features)
    matrix = _matrix(pre, features)
    notes.extend(_preprocess_notes(pre))
    all_notes = pd.concat(
        [*extra_notes, pd.DataFrame(notes, columns=_NOTE_COLUMNS)], ignore_index=True
    ).astype({"source": "str", "rule": "str", "count": "int64", "detail": "str"})
    return {
        "features": features,
        "rfm": table,
        "definitions": _definitions(features, config),
        "notes": all_notes,
        "preprocessor": pre,
        "matrix": matrix,
        "as_of": as_of,
    }


def resolve_as_of(ctx: RunContext) -> dt.date | None:
    """as_of of a run: the config's, else the data step's, else day after the last line."""
    if ctx.config["as_of"] is not None:
        return ctx.config["as_of"]
    if ctx.has("data_summary.json"):
        value = ctx.load_json("data_summary.json").get("as_of")
        if value:
            return dt.date.fromisoformat(value)
    if ctx.has("transactions.parquet"):
        return default_as_of(ctx.artifact("transactions.parquet"))
    return None


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
    result = build(ctx.config, transactions, returns, customers, as_of=as_of)
    ctx.save_frame("features.parquet", result["features"])
    if result["rfm"] is not None:
        ctx.save_frame("rfm.parquet", result["rfm"])
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
    }
    logger.info("features: %s", summary)
    return summary
