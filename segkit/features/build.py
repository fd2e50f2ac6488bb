"""Pure feature building: frames in, per-customer features out, nothing fitted.

:func:`customer_features` describes every customer from its transactions and its
customers-table attributes. It fits nothing (no median, scaler or quantile is
learned), so scoring new customers and rebuilding the features at an earlier
``as_of`` (validation, profiles) use it directly. :func:`fit_matrix` is the fitting
part the features step adds on top: the :class:`~segkit.features.preprocess.Preprocessor`
and the numeric matrix clustering works on.

Rules of the one join of behaviour and attributes (each counted in the notes):

- the population is the customers with transactions (behaviour is what a
  transactions segmentation describes); customers-table rows without any
  transaction are left out;
- customers with transactions but no row in the customers table keep their
  behavioural features; their *categorical* attributes get the explicit level
  ``"Missing"``, their *numeric* attributes are left missing (NaN) for the
  preprocessor, which imputes the median learned at fit time and counts the
  missing values in its plan (``preprocess_plan.csv``). No value is filled here;
- all that only when the customers table covers at least
  ``customers.min_coverage`` of the customers with transactions
  (:func:`attribute_coverage`; a note ``customers table coverage`` says which).
  Below it the attributes are not clustering features at all: they only describe
  the segments (:func:`describe_only_attributes`, ``attributes_describe.parquet``);
- the config-declared features (``features.extra``, ``features.mix``:
  :mod:`segkit.features.extra`) join the behaviour features.

An outcome column (``customers.outcomes``) is refused as a feature: declaring it
also as an attribute raises :class:`~segkit.exceptions.ConfigError`, because a
segmentation formed on the outcome it is later validated against proves nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from segkit.columns import is_numeric, numeric_columns
from segkit.data.clean import default_as_of
from segkit.exceptions import ConfigError, DataError
from segkit.features import attributes, preprocess, rfm, value_features
from segkit.features import extra as declared_features
from segkit.features.behaviour import compute_features_with_notes, feature_definitions

if TYPE_CHECKING:
    from segkit.config import Config
    from segkit.config_sources import CustomersSource

__all__ = [
    "NOTE_COLUMNS",
    "COVERAGE_RULE",
    "attribute_coverage",
    "customer_features",
    "describe_only_attributes",
    "definitions",
    "fit_matrix",
    "note",
    "rfm_frame",
]

#: Columns of every notes table of the features stage.
NOTE_COLUMNS = ["source", "rule", "count", "detail"]


def note(source: str, rule: str, count: int, detail: str = "") -> dict[str, Any]:
    """One row of a notes table (``source``, ``rule``, ``count``, ``detail``)."""
    return {"source": source, "rule": rule, "count": int(count), "detail": detail}


def _notes_frame(*parts: pd.DataFrame | list[dict[str, Any]]) -> pd.DataFrame:
    frames = [p if isinstance(p, pd.DataFrame) else pd.DataFrame(p) for p in parts]
    frames = [f.reindex(columns=NOTE_COLUMNS) for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(
            {
                c: pd.Series(dtype="int64" if c == "count" else "str")
                for c in NOTE_COLUMNS
            }
        )
    out = pd.concat(frames, ignore_index=True)
    out["count"] = pd.to_numeric(out["count"]).fillna(0)
    return out.astype(
        {"source": "str", "rule": "str", "count": "int64", "detail": "str"}
    )


def _declared(section: CustomersSource) -> dict[str, str]:
    """Attribute column -> its config key (``customers.attributes.<group>`` ...)."""
    out: dict[str, str] = {}
    for group, cols in section.attributes.items():
        for col in cols:
            out[col] = f"customers.attributes.{group}"
    for key in ("birth_year", "signup_date"):
        if section[key]:
            out[section[key]] = f"customers.{key}"
    return out


def _has_attributes(config: Config) -> bool:
    section = config.customers
    return section is not None and any(section.attributes.values())


def _refuse_outcomes(config: Config) -> list[str]:
    """The outcome columns; ConfigError when one is also declared as a feature."""
    section = config.customers
    if section is None:
        return []
    outcomes = list(section.outcomes)
    declared = _declared(section)
    clash = {c: declared[c] for c in outcomes if c in declared}
    if clash:
        where = ", ".join(f"{c!r} in {k}" for c, k in clash.items())
        raise ConfigError(
            f"customers.outcomes lists {sorted(clash)}, also declared as a "
            f"clustering feature ({where}); an outcome must not form the segments "
            "it validates: remove it from customers.attributes (keep it in "
            "customers.outcomes)"
        )
    return outcomes


def _attribute_features(
    config: Config,
    customers: pd.DataFrame,
    as_of: dt.date | None,
    index: pd.Index | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    section = config.customers
    feats, raw_notes = attributes.attribute_features(
        customers,
        attributes={g: list(c) for g, c in section.attributes.items()},
        as_of=as_of,
        birth_year=section.birth_year,
        signup_date=section.signup_date,
        top_countries=config.features.top_countries,
        rare_share=config.features.rare_share,
        ordinal=config.features.ordinal or None,
        date_format=section.read.date_format,
        customer_index=index,
    )
    rows = [
        note(
            "attributes",
            str(row.get("action", "")),
            int(row.get("rows", 0) or 0),
            f"{row.get('column', '')} -> {row.get('feature', '')} "
            f"({row.get('group', '')})",
        )
        for row in raw_notes.to_dict("records")
    ]
    return feats, _notes_frame(rows)


#: The rule of the preprocess note on the customers table's coverage.
COVERAGE_RULE = "customers table coverage"


def attribute_coverage(
    config: Config, customers: pd.DataFrame | None, index: pd.Index
) -> dict[str, Any]:
    """How much of the transacting base the customers table covers.

    Parameters
    ----------
    config : Config
        ``customers.min_coverage`` is the threshold.
    customers : DataFrame or None
        Customers table indexed by ``customer_id``.
    index : Index
        The customers with behaviour features (the transacting base).

    Returns
    -------
    dict
        ``covered`` (customers of ``index`` with a row), ``customers``
        (``len(index)``), ``share``, ``min_coverage`` and ``used`` (share at or
        above the threshold: the attributes join the clustering features; below,
        they only describe segments).
    """
    wanted = pd.Index(index.astype("str"))
    rows = pd.Index([] if customers is None else customers.index.astype("str"))
    covered = int(wanted.isin(rows).sum())
    share = covered / len(wanted) if len(wanted) else 0.0
    threshold = float(config.customers.min_coverage) if config.customers else 1.0
    return {
        "covered": covered,
        "customers": len(wanted),
        "share": share,
        "min_coverage": threshold,
        "used": share >= threshold,
    }


def _coverage_note(coverage: Mapping[str, Any]) -> dict[str, Any]:
    head = (
        f"of {coverage['customers']:,} customers with transactions "
        f"({coverage['share']:.1%}) have a row; customers.min_coverage is "
        f"{coverage['min_coverage']:.0%}: "
    )
    if coverage["used"]:
        tail = "the attributes are clustering features"
    else:
        tail = (
            "the attributes are NOT used for clustering (never filled in) and only "
            "describe the segments (attributes_describe.parquet)"
        )
    return note("features", COVERAGE_RULE, coverage["covered"], head + tail)


def describe_only_attributes(
    config: Config,
    customers: pd.DataFrame | None,
    *,
    as_of: dt.date | None,
    index: pd.Index,
) -> pd.DataFrame | None:
    """The attribute features kept only to describe segments, or None.

    None unless the customers table covers less than ``customers.min_coverage``
    of ``index`` (:func:`attribute_coverage`); then the attribute features of the
    covered customers only (index ``customer_id``; nobody filled in), for the
    profiles of notebook 05.
    """
    if customers is None or not _has_attributes(config):
        return None
    if attribute_coverage(config, customers, index)["used"]:
        return None
    attrs, _ = _attribute_features(config, customers, as_of, None)
    attrs.index = attrs.index.astype("str")
    attrs.index.name = "customer_id"
    return attrs.loc[attrs.index.isin(index.astype("str"))].sort_index()


def _join(behaviour: pd.DataFrame, attrs: pd.DataFrame) -> pd.DataFrame:
    """Behaviour with the (already aligned) attributes; behaviour wins a name clash."""
    attrs = attrs.drop(columns=[c for c in attrs.columns if c in behaviour.columns])
    attrs = attrs.copy()
    attrs.index = attrs.index.astype("str")
    return behaviour.join(attrs, how="left")


def _exclude(features: pd.DataFrame, exclude: list[str]) -> pd.DataFrame:
    unknown = [c for c in exclude if c not in features.columns]
    if unknown:
        raise ConfigError(
            f"features.exclude names {unknown}, which are not features (features: "
            f"{list(features.columns)}); fix the names in the config"
        )
    return features.drop(columns=list(exclude))


def customer_features(
    config: Config,
    transactions: Any,
    returns: Any,
    customers: pd.DataFrame | None,
    *,
    as_of: dt.date | None,
    value: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Behaviour and attribute features of every customer; nothing is fitted.

    Parameters
    ----------
    config : Config
        Validated config (sections ``features``, ``customers``).
    transactions : DataFrame, Parquet path or None
        Clean canonical transactions (None for attribute-only data).
    returns : DataFrame, Parquet path or None
        Returns set aside by cleaning.
    customers : DataFrame or None
        Customers table indexed by (or with a column) ``customer_id``.
    as_of : date or None
        Analysis date; None with transactions: the day after the last line.
    value : DataFrame, optional
        CLV columns per customer estimated at the same ``as_of``
        (:func:`segkit.features.value_features.value_features`), joined after the
        behaviour and attributes (``value.as_features``); a customer without a
        row keeps NaN for the preprocessor to impute.

    Returns
    -------
    features : DataFrame
        Index ``customer_id`` (str): behavioural columns (see
        :data:`segkit.features.behaviour.FEATURE_DEFINITIONS`), attribute
        columns, then the ``value`` columns; numeric attributes may hold NaN (left
        for the preprocessor), categorical ones use the level ``"Missing"``.
        ``features.exclude`` removed.
    notes : DataFrame
        Columns ``source``, ``rule``, ``count``, ``detail``.

    Raises
    ------
    DataError
        Neither transactions nor attributes, or no customer left.
    ConfigError
        An outcome column declared as an attribute, or ``features.exclude`` naming
        a column that is not a feature.
    """
    _refuse_outcomes(config)
    use_attributes = customers is not None and _has_attributes(config)
    if transactions is None and not use_attributes:
        raise DataError(
            "the features step has neither transactions nor customer attributes; "
            "declare transactions or customers.attributes in the config"
        )
    parts: list[pd.DataFrame] = []
    behaviour = None
    if transactions is not None:
        if as_of is None:
            as_of = default_as_of(transactions)
        behaviour, behaviour_notes = compute_features_with_notes(
            transactions, returns, as_of=as_of
        )
        parts.append(behaviour_notes)
        declared, declared_notes = declared_features.compute_config_features(
            transactions, config.features, as_of=as_of
        )
        if declared is not None:
            behaviour = behaviour.join(declared, how="left")
            parts.append(_notes_frame(declared_notes))
    if use_attributes and behaviour is not None:
        coverage = attribute_coverage(config, customers, behaviour.index)
        parts.append(_notes_frame([_coverage_note(coverage)]))
        use_attributes = coverage["used"]
    if use_attributes:
        index = None if behaviour is None else behaviour.index
        attrs, attr_notes = _attribute_features(config, customers, as_of, index)
        parts.append(attr_notes)
        if behaviour is not None:
            numeric_missing = int(
                attrs[numeric_columns(attrs, bool_counts=False)]
                .isna()
                .any(axis=1)
                .sum()
            )
            parts.append(
                _notes_frame(
                    [
                        note(
                            "features",
                            "numeric attributes missing: left for the preprocessor",
                            numeric_missing,
                            "not filled here; the preprocessor imputes the median "
                            "learned at fit (see preprocess_plan.csv, 'missing'); "
                            "categorical attributes use the level 'Missing'",
                        )
                    ]
                )
            )
            features = _join(behaviour, attrs)
        else:
            features = attrs.copy()
    else:
        features = behaviour
    features.index = features.index.astype("str")
    features.index.name = "customer_id"
    if value is not None:
        value = value.copy()
        value.index = value.index.astype("str")
        features = features.drop(columns=list(value.columns), errors="ignore")
        features = features.join(value, how="left")
    features = _exclude(features, config.features.exclude)
    if features.empty:
        raise DataError("no customer left to describe; check the cleaning ledger")
    return features, _notes_frame(*parts)


def rfm_frame(config: Config, features: pd.DataFrame) -> pd.DataFrame | None:
    """RFM scores and named cells of the customers (None without behaviour columns).

    See :func:`segkit.features.rfm.rfm_table`; ``rfm.bins`` and ``rfm.scheme``.
    """
    needed = ["recency_days", "frequency", "monetary"]
    if not set(needed) <= set(features.columns):
        return None
    base = features[needed].rename(columns={"recency_days": "recency"})
    return rfm.rfm_table(base, bins=config.rfm.bins, scheme=config.rfm.scheme)


def definitions(features: pd.DataFrame, config: Config) -> pd.DataFrame:
    """One row per feature: ``name``, ``group``, ``unit``, ``definition``."""
    table = feature_definitions(
        [c for c in features.columns if c not in value_features.VALUE_FEATURES]
    )
    value_rows = value_features.definitions()
    value_rows = value_rows[value_rows["name"].isin(features.columns)]
    declared = declared_features.definitions(config.features, features.columns)
    for rows in (value_rows, declared):
        if len(rows):
            table = pd.concat([table, rows[table.columns]], ignore_index=True)
    section = config.customers
    groups: dict[str, str] = {}
    if section is not None:
        for group, cols in section.attributes.items():
            for col in cols:
                groups[col] = group
    extra = [
        {
            "name": column,
            "group": next(
                (g for c, g in groups.items() if column == c or column.startswith(c)),
                "attribute",
            ),
            "unit": "" if is_numeric(features[column]) else "level",
            "definition": "From the customers table (see segkit.features.attributes "
            "and the preprocess notes for derived columns, grouping and missing "
            "values).",
        }
        for column in features.columns
        if column not in set(table["name"])
    ]
    return pd.concat(
        [table, pd.DataFrame(extra, columns=table.columns)], ignore_index=True
    )


def _preprocess_notes(pre: preprocess.Preprocessor) -> list[dict[str, Any]]:
    rows = [
        note("preprocess", f"dropped {row.column}", 1, str(row.reason))
        for row in pre.dropped_.itertuples(index=False)
    ]
    rows += [
        note(
            "preprocess",
            f"highly correlated: {row.a} ~ {row.b}",
            1,
            f"r = {row.r:+.2f}",
        )
        for row in pre.correlated_pairs_.itertuples(index=False)
    ]
    return rows


def fit_matrix(
    config: Config, features: pd.DataFrame
) -> tuple[preprocess.Preprocessor, pd.DataFrame, pd.DataFrame]:
    """Fit the preprocessor on ``features`` and transform them (the fitting part).

    Returns
    -------
    preprocessor : Preprocessor
        Fitted with the ``preprocess`` section of the config.
    matrix : DataFrame
        float64, same index as ``features``.
    notes : DataFrame
        Dropped columns (constant, id-like, near-duplicate) and flagged pairs.
    """
    pre = preprocess.Preprocessor(**config.preprocess.to_dict()).set_output(
        transform="pandas"
    )
    pre.fit(features)
    matrix = pre.transform(features)
    if not isinstance(matrix, pd.DataFrame):
        matrix = pd.DataFrame(matrix, columns=pre.feature_names_out_)
    matrix = matrix.astype("float64")
    matrix.index = features.index
    matrix.columns = [str(c) for c in matrix.columns]
    return pre, matrix, _notes_frame(_preprocess_notes(pre))
