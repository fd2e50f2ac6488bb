"""Per-customer features from a customers table, by declared attribute group.

The config declares which columns of the customers table describe a customer, by
segmentation type (``customers.attributes``: demographic, geographic,
psychographic, firmographic, behavioural). :func:`attribute_features` turns them
into model-ready columns and records every decision in a notes table. The rules:

* **numeric** columns (numbers, booleans, or text in which every value is a
  number) are kept as float64; missing values stay NaN and are counted (the
  :class:`segkit.features.preprocess.Preprocessor` imputes the median);
* **ordered bands** become ordinal codes 0, 1, 2, ... in their order: an ordered
  pandas ``Categorical``, the order declared in ``features.ordinal`` of the config,
  or text bands that all start with a number (``1-10``, ``11-50``, ``<25k``,
  ``1000+``), ordered by that number;
* **dates** become days before ``as_of``;
* **categorical** text: blanks and missing values become ``"Missing"``; in the
  *geographic* group only the ``top_countries`` most common levels are kept (ties by
  name) and the rest become ``"Other"``; in every group, levels rarer than
  ``rare_share`` become ``"Other"``;
* ``birth_year`` gives ``age`` = year of ``as_of`` minus birth year (demographic);
  ages outside 16-100 are implausible and set to NaN, counted;
* ``signup_date`` gives ``signup_tenure_days`` = days from signup to ``as_of``
  (behavioural); signups after ``as_of`` are set to NaN, counted. Without ``as_of``
  the reference date is the latest signup date, or today without a signup column.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import pandas as pd

from segkit.columns import is_numeric
from segkit.config_base import field_default
from segkit.config_sections import FeatureSettings
from segkit.config_sources import ATTRIBUTE_GROUPS
from segkit.exceptions import ConfigError, SchemaError

__all__ = ["attribute_features", "AGE_RANGE", "NOTE_COLUMNS"]

logger = logging.getLogger(__name__)

#: Plausible ages; ages outside are set to NaN.
AGE_RANGE = (16, 100)
#: Columns of the notes table.
NOTE_COLUMNS = ["column", "feature", "group", "action", "rows"]
OTHER = "Other"
MISSING = "Missing"
LEFT_NAN = "missing values left as NaN (the preprocessor imputes the median)"

_BAND = re.compile(
    r"^\s*(?P<cmp><=?|>=?|under|over|up to|less than|more than)?\s*[$€£]?\s*"
    r"(?P<num>\d[\d,]*(?:\.\d+)?)\s*(?P<unit>[kKmM]|bn)?"
)
_MULTIPLIER = {"k": 1e3, "m": 1e6, "bn": 1e9}


def _ids(customers: pd.DataFrame) -> pd.DataFrame:
    """The table indexed by customer_id (str), without missing ids."""
    if not isinstance(customers, pd.DataFrame):
        raise SchemaError(
            f"attribute_features needs the customers table as a DataFrame, got "
            f"{type(customers).__name__}"
        )
    if customers.index.name == "customer_id":
        frame = customers
    elif "customer_id" in customers.columns:
        frame = customers.set_index("customer_id")
    else:
        raise SchemaError(
            f"the customers table has no 'customer_id' index or column (columns: "
            f"{list(customers.columns)}); set customers.columns.customer_id in the "
            "config to the id column"
        )
    ids = frame.index.to_series().astype("str").str.strip()
    dupes = ids[ids.duplicated(keep=False) & ids.notna()]
    if len(dupes):
        raise SchemaError(
            f"the customers table has {dupes.nunique():,} duplicated customer ids, "
            f"e.g. {list(dupes.unique()[:3])}; it needs one row per customer: "
            "deduplicate it (e.g. keep each customer's latest row) or aggregate it"
        )
    frame = frame.set_axis(pd.Index(ids, name="customer_id", dtype="str"), axis=0)
    return frame[frame.index.notna() & (frame.index != "")]


def _check_declared(
    frame: pd.DataFrame,
    attributes: Mapping[str, Sequence[str]],
    birth_year: str | None,
    signup_date: str | None,
) -> dict[str, str]:
    """Map each declared column to its group; raise on unknown groups or columns."""
    owner: dict[str, str] = {}
    for group, cols in attributes.items():
        if group not in ATTRIBUTE_GROUPS:
            raise ConfigError(
                f"attribute group {group!r} is unknown; declare columns under "
                "customers.attributes.<group> with a group among "
                f"{list(ATTRIBUTE_GROUPS)}"
            )
        for col in cols or []:
            if col in owner and owner[col] != group:
                raise ConfigError(
                    f"column {col!r} is declared in both customers.attributes."
                    f"{owner[col]} and customers.attributes.{group}; keep it in one "
                    "group"
                )
            owner[col] = group
    extra = {"customers.birth_year": birth_year, "customers.signup_date": signup_date}
    missing = [(w, c) for c, w in owner.items() if c not in frame.columns]
    missing += [(key, c) for key, c in extra.items() if c and c not in frame.columns]
    if missing:
        where, col = missing[0]
        where = (
            where if where.startswith("customers.") else f"customers.attributes.{where}"
        )
        raise SchemaError(
            f"column {col!r} declared in {where} not found in the customers table "
            f"(columns: {list(frame.columns)}); fix the name in the config or remove it"
        )
    if not owner and not birth_year and not signup_date:
        raise ConfigError(
            "no attribute columns are declared; list columns under "
            "customers.attributes.<group> (e.g. demographic: [Income]) in the config"
        )
    return owner


def _band_key(level: str) -> float | None:
    match = _BAND.match(level)
    if match is None:
        return None
    number = float(match["num"].replace(",", ""))
    number *= _MULTIPLIER.get((match["unit"] or "").lower(), 1.0)
    if match["cmp"] in ("<", "<=", "under", "up to", "less than"):
        number -= 0.5
    return number


def _band_order(levels: Sequence[str]) -> list[str] | None:
    """Levels sorted by their leading number if every level is a numeric band."""
    if len(levels) < 2:
        return None
    looks_like_band = all(
        re.search(r"\d\s*(-|–|to|\+)|^\s*[<>]|under|over", lvl) for lvl in levels
    )
    keys = {lvl: _band_key(lvl) for lvl in levels}
    if not looks_like_band or any(k is None for k in keys.values()):
        return None
    return sorted(levels, key=lambda lvl: (keys[lvl], lvl))


class _Notes:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(
        self, column: str, feature: str, group: str, action: str, rows: int
    ) -> None:
        values = (column, feature, group, action, int(rows))
        self.rows.append(dict(zip(NOTE_COLUMNS, values, strict=True)))

    def frame(self) -> pd.DataFrame:
        notes = pd.DataFrame(self.rows, columns=NOTE_COLUMNS)
        return notes.astype({c: "str" for c in NOTE_COLUMNS[:4]} | {"rows": "int64"})


def _as_reference(
    as_of: dt.date | None, signups: pd.Series | None, notes: _Notes
) -> pd.Timestamp:
    if as_of is not None:
        try:
            return pd.Timestamp(as_of)
        except (TypeError, ValueError):
            raise ConfigError(
                f"as_of is {as_of!r}, which is not a date; write it as YYYY-MM-DD"
            ) from None
    if signups is not None and signups.notna().any():
        reference = signups.max().normalize()
        notes.add(
            "as_of", "", "", f"no as_of: latest signup {reference.date()} used", 0
        )
        return reference
    today = pd.Timestamp(dt.date.today())
    notes.add("as_of", "", "", f"no as_of: today ({today.date()}) used", 0)
    return today


def _parse_dates(series: pd.Series, date_format: str | None) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(series):
        return series.astype("datetime64[ns]")
    if date_format:
        return pd.to_datetime(series, format=date_format, errors="coerce")
    parsed = pd.to_datetime(series, format="ISO8601", errors="coerce")
    if parsed.isna().sum() > series.isna().sum():
        dayfirst = pd.to_datetime(
            series, dayfirst=True, format="mixed", errors="coerce"
        )
        if dayfirst.notna().sum() > parsed.notna().sum():
            parsed = dayfirst
    return parsed.astype("datetime64[ns]")


def _numeric(series: pd.Series) -> pd.Series | None:
    if is_numeric(series):
        return series.astype("float64")
    if isinstance(series.dtype, pd.CategoricalDtype):
        return None
    converted = pd.to_numeric(series, errors="coerce")
    if series.notna().any() and converted.notna().sum() == series.notna().sum():
        return converted.astype("float64")
    return None


def _text(series: pd.Series) -> pd.Series:
    text = series.astype("object").where(series.notna(), None)
    text = text.map(lambda v: v.strip() if isinstance(v, str) else v)
    text = text.where(text.notna() & (text != ""), None)
    return text


def _column_feature(
    col: str,
    series: pd.Series,
    group: str,
    notes: _Notes,
    *,
    reference: pd.Timestamp,
    date_format: str | None,
    ordinal: Mapping[str, Sequence[str]],
    top_countries: int,
    rare_share: float,
) -> pd.Series:
    """One declared column as a model-ready feature, with its notes."""
    n = len(series)
    note = partial(notes.add, col, col, group)
    if pd.api.types.is_datetime64_any_dtype(series):
        days = (reference - _parse_dates(series, date_format)).dt.days.astype("float64")
        notes.add(col, col, group, "date: days before as_of", n)
        return _count_missing(col, col, group, days, notes)
    numeric = None if col in ordinal else _numeric(series)
    if numeric is not None:
        notes.add(col, col, group, "numeric: kept as float64", 0)
        return _count_missing(col, col, group, numeric, notes)
    text = _text(series)
    levels = sorted(set(text.dropna()), key=str)
    order: list[str] | None = None
    if col in ordinal:
        order = [str(level) for level in ordinal[col]]
        how = "declared in features.ordinal"
    elif isinstance(series.dtype, pd.CategoricalDtype) and series.cat.ordered:
        order = [str(level) for level in series.cat.categories]
        how = "ordered categorical"
    else:
        order = _band_order([str(level) for level in levels])
        how = "numeric bands"
    if order is not None:
        codes = text.map({level: float(i) for i, level in enumerate(order)})
        unknown = int((text.notna() & codes.isna()).sum())
        if unknown:
            note(f"levels outside the order {order} set to NaN", unknown)
        note(f"ordinal codes 0..{len(order) - 1} ({how}): " + " < ".join(order), n)
        return _count_missing(col, col, group, codes.astype("float64"), notes)
    missing = int(text.isna().sum())
    text = text.fillna(MISSING).map(str)
    if missing:
        note(f"missing values set to {MISSING!r}", missing)
    if group == "geographic":
        counts = text[text != MISSING].value_counts()
        counts = counts.sort_index(kind="stable").sort_values(
            ascending=False, kind="stable"
        )
        top = set(counts.index[:top_countries])
        outside = text.ne(MISSING) & ~text.isin(top)
        if outside.any():
            beyond = int(counts.size - len(top))
            note(
                f"levels beyond the top {top_countries} set to {OTHER!r} "
                f"({beyond} levels)",
                int(outside.sum()),
            )
            text = text.where(~outside, OTHER)
    shares = text.value_counts(normalize=True)
    rare = [
        lvl for lvl, share in shares.items() if share < rare_share and lvl != MISSING
    ]
    if rare:
        affected = text.isin(rare)
        note(
            f"{len(rare)} rare levels (< {rare_share:.1%}) set to {OTHER!r}: "
            f"{sorted(rare)[:5]}",
            int(affected.sum()),
        )
        text = text.where(~affected, OTHER)
    note(f"categorical: {text.nunique()} levels", 0)
    return text.astype("str")


def _count_missing(
    col: str, feature: str, group: str, values: pd.Series, notes: _Notes
) -> pd.Series:
    missing = int(values.isna().sum())
    if missing:
        notes.add(col, feature, group, LEFT_NAN, missing)
    return values


def attribute_features(
    customers: pd.DataFrame,
    *,
    attributes: Mapping[str, Sequence[str]],
    as_of: dt.date | None = None,
    birth_year: str | None = None,
    signup_date: str | None = None,
    top_countries: int = field_default(FeatureSettings, "top_countries"),
    rare_share: float = field_default(FeatureSettings, "rare_share"),
    ordinal: Mapping[str, Sequence[str]] | None = None,
    date_format: str | None = None,
    customer_index: pd.Index | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Model-ready features from the declared attribute columns of a customers table.

    Parameters
    ----------
    customers : DataFrame
        One row per customer, indexed by ``customer_id`` (or with a
        ``customer_id`` column); attribute columns with their source names.
    attributes : mapping of group -> list of column names
        ``customers.attributes`` of the config.
    as_of : date, optional
        Reference date of ages, tenures and date columns.
    birth_year : str, optional
        Column with the year of birth; gives ``age``.
    signup_date : str, optional
        Column with the signup date; gives ``signup_tenure_days``.
    top_countries : int
        Levels kept per geographic column (the rest become ``"Other"``).
    rare_share : float
        Categorical levels rarer than this become ``"Other"``.
    ordinal : mapping of column -> ordered levels, optional
        Declared orders of band columns (``features.ordinal``).
    date_format : str, optional
        strptime format of text date columns (``customers.read.date_format``).
    customer_index : Index, optional
        The customers to describe (e.g. those with transactions): customers absent
        from the table get missing attributes and customers not in it are left out,
        both counted in the notes.

    Returns
    -------
    features : DataFrame
        Index ``customer_id`` (str); float64 numeric and ordinal columns, str
        categorical columns (source names, plus ``age`` and
        ``signup_tenure_days``).
    notes : DataFrame
        Columns ``column`` (source), ``feature`` (output), ``group``, ``action``,
        ``rows`` (rows affected): every decision taken.

    Raises
    ------
    SchemaError
        Duplicate customer ids, no id, or a declared column missing from the table.
    ConfigError
        Unknown group, a column in two groups, nothing declared, bad settings.
    """
    if not isinstance(top_countries, int) or top_countries < 1:
        raise ConfigError(
            f"features.top_countries is {top_countries!r}; use a positive integer"
        )
    if not 0 <= rare_share < 1:
        raise ConfigError(
            f"features.rare_share is {rare_share!r}; use a share in [0, 1)"
        )
    frame = _ids(customers)
    without_id = len(customers) - len(frame)
    owner = _check_declared(frame, attributes, birth_year, signup_date)
    ordinal = dict(ordinal or {})
    notes = _Notes()
    if without_id:
        notes.add(
            "customer_id", "", "", "rows without a customer id left out", without_id
        )
    signups = _parse_dates(frame[signup_date], date_format) if signup_date else None
    reference = _as_reference(as_of, signups, notes)
    out: dict[str, pd.Series] = {}
    for col, group in owner.items():
        if col in (birth_year, signup_date):
            continue  # replaced by age / signup_tenure_days below
        out[col] = _column_feature(
            col,
            frame[col],
            group,
            notes,
            reference=reference,
            date_format=date_format,
            ordinal=ordinal,
            top_countries=top_countries,
            rare_share=rare_share,
        )
    if birth_year:
        group = owner.get(birth_year, "demographic")
        age = _age(
            frame[birth_year], reference, partial(notes.add, birth_year, "age", group)
        )
        out[_free_name("age", out, frame)] = age
    if signup_date:
        group = owner.get(signup_date, "behavioural")
        note = partial(notes.add, signup_date, "signup_tenure_days", group)
        tenure = _tenure(frame[signup_date], signups, reference, note)
        out[_free_name("signup_tenure_days", out, frame)] = tenure
    features = pd.DataFrame(out, index=frame.index)
    if customer_index is not None:
        features = _align(features, customer_index, notes)
    empty = _all_missing(features)
    if empty:
        notes.add("customer_id", "", "", "customers without any attribute value", empty)
    logger.info(
        "%d attribute features for %d customers", features.shape[1], len(features)
    )
    return features, notes.frame()


def _age(years: pd.Series, reference: pd.Timestamp, note: Any) -> pd.Series:
    """Age in years at ``reference``; implausible ages set to NaN."""
    age = reference.year - pd.to_numeric(years, errors="coerce").astype("float64")
    low, high = AGE_RANGE
    implausible = age.notna() & ((age < low) | (age > high))
    note(f"age = {reference.year} - birth year", len(age))
    if implausible.any():
        note(f"implausible ages (outside {low}-{high}) set to NaN", implausible.sum())
    age = age.where(~implausible)
    if age.isna().any():
        note(LEFT_NAN, age.isna().sum())
    return age


def _tenure(
    raw: pd.Series, signups: pd.Series, reference: pd.Timestamp, note: Any
) -> pd.Series:
    """Days from signup to ``reference``; unreadable or later signups set to NaN."""
    tenure = (reference - signups).dt.days.astype("float64")
    after = tenure.notna() & (tenure < 0)
    note(f"days from signup to {reference.date()}", len(tenure))
    unparsed = int((signups.isna() & raw.notna()).sum())
    if unparsed:
        note("unreadable dates set to NaN", unparsed)
    if after.any():
        note("signups after as_of set to NaN", after.sum())
    tenure = tenure.where(~after)
    if tenure.isna().any():
        note(LEFT_NAN, tenure.isna().sum())
    return tenure


def _free_name(name: str, out: Mapping[str, Any], frame: pd.DataFrame) -> str:
    return name if name not in out and name not in frame.columns else f"{name}_derived"


def _align(features: pd.DataFrame, index: pd.Index, notes: _Notes) -> pd.DataFrame:
    wanted = pd.Index(index.astype("str"), name="customer_id")
    absent = int((~wanted.isin(features.index)).sum())
    extra = int((~features.index.isin(wanted)).sum())
    aligned = features.reindex(wanted)
    for col in aligned.columns:
        if aligned[col].dtype == "str" or aligned[col].dtype == object:
            aligned[col] = aligned[col].fillna(MISSING).astype("str")
    if absent:
        notes.add(
            "customer_id",
            "",
            "",
            "customers absent from the customers table: "
            f"attributes missing (NaN / {MISSING!r})",
            absent,
        )
    if extra:
        notes.add(
            "customer_id",
            "",
            "",
            "customers table rows without transactions left out",
            extra,
        )
    return aligned


def _all_missing(features: pd.DataFrame) -> int:
    if features.shape[1] == 0:
        return 0
    blank = pd.DataFrame(
        {c: features[c].isna() | features[c].eq(MISSING) for c in features.columns}
    )
    return int(blank.all(axis=1).sum()) if len(blank) else 0
