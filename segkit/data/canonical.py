"""The canonical columns as Ibis expressions: :func:`segkit.data.io.to_canonical` on the engine.

:func:`canonical` maps a scanned table's roles with the rules of the pandas path
(``17850.0`` -> ``17850``, blanks and ``nan`` -> missing, text stripped, ``amount =
quantity x unit_price`` when no amount is mapped; ``transactions.extra`` columns as
float64 ``x_<column>``); :func:`check_parsed` counts, in one pass, the values that did
not parse and raises the pandas path's errors with examples. Dates are ISO 8601 or
``read.date_format`` (see :mod:`segkit.data.engine` for the fallback to pandas).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis
import ibis.expr.types as ir

from segkit.config_sources import ReadOptions
from segkit.exceptions import DataError, SchemaError

__all__ = ["canonical", "check_parsed", "unparsed_dates"]

_NUMERIC_ROLES = ("quantity", "unit_price", "amount")
_TEXT_ROLES = ("product_id", "description", "country", "category", "channel")


def _check_roles(table: ir.Table, columns: Mapping[str, str], where: str) -> None:
    missing = {role: col for role, col in columns.items() if col not in table.columns}
    if missing:
        role, col = next(iter(missing.items()))
        raise SchemaError(
            f"column {col!r} (role {role}) not found in transactions file {where} "
            f"(columns: {list(table.columns)}); set transactions.columns.{role} in the "
            "config to the column that holds it"
        )


def _as_text(column: ir.Value) -> ir.StringValue:
    return column if column.type().is_string() else column.cast("string")


def _ids(column: ir.Value) -> ir.StringValue:
    """``io.normalise_ids`` in SQL: strip, blanks and 'nan' -> missing, ``12.0`` -> ``12``."""
    text = _as_text(column).strip()
    text = ibis.ifelse(
        (text == "") | (text.lower() == "nan"), ibis.null("string"), text
    )
    # re_extract rather than a back-reference: DuckDB writes \1, Spark $1.
    return ibis.ifelse(
        text.re_search(r"^-?[0-9]+\.0+$"), text.re_extract(r"^(-?[0-9]+)\.", 1), text
    )


def _timestamp(column: ir.Value, read: ReadOptions) -> ir.TimestampValue:
    kind = column.type()
    if kind.is_timestamp():
        return column.cast("timestamp")
    if kind.is_date():
        return column.cast("timestamp")
    text = _as_text(column).strip()
    if kind.is_floating():  # 19970101.0 read as a number
        text = column.cast("int64").cast("string")
    if read.date_format:
        return text.as_timestamp(read.date_format)
    return text.try_cast("timestamp")


def _number(column: ir.Value, read: ReadOptions) -> ir.FloatingValue:
    if column.type().is_numeric():
        return column.cast("float64")
    text = _as_text(column).strip()
    if read.decimal == ",":
        text = text.replace(".", "").replace(",", ".")
    return text.try_cast("float64")


def canonical(
    raw: ir.Table,
    columns: Mapping[str, str],
    *,
    read: Any = None,
    source: str = "",
    extra: list[str] | tuple[str, ...] = (),
    carry: list[str] | tuple[str, ...] = (),
) -> ir.Table:
    """Map a scanned table to the canonical columns and types (see the module notes).

    Returns
    -------
    ibis.Table
        Columns ``customer_id`` (str), ``order_id`` (str, only when mapped),
        ``timestamp``, ``quantity``, ``unit_price``, ``amount`` (float64), the
        mapped text roles, ``x_<column>`` (float64) for each ``extra`` column and
        the ``carry`` columns as text. Values that fail to parse are missing here;
        :func:`check_parsed` counts them and raises.
    """
    read = ReadOptions.of(read)
    columns = dict(columns)
    _check_roles(raw, columns, source)
    values = _canonical_values(raw, columns, read)
    missing = [c for c in (*extra, *carry) if c not in raw.columns]
    if missing:
        raise SchemaError(
            f"column(s) {missing} of transactions.extra / transactions.lookups keys "
            f"not found in {source} (columns: {list(raw.columns)}); fix the names in "
            "the config"
        )
    for col in extra:  # transactions.extra: numbers carried as x_<column>
        values[f"x_{col}"] = _number(raw[col], read)
    for col in carry:  # a lookup key that is no role, dropped after the join
        values[col] = _as_text(raw[col])
    return raw.select(**values)


def _canonical_values(
    raw: ir.Table, columns: Mapping[str, str], read: ReadOptions
) -> dict[str, ir.Value]:
    out: dict[str, ir.Value] = {"customer_id": _ids(raw[columns["customer_id"]])}
    if "order_id" in columns:
        out["order_id"] = _as_text(raw[columns["order_id"]]).strip()
    out["timestamp"] = _timestamp(raw[columns["timestamp"]], read)
    for role in _NUMERIC_ROLES:
        out[role] = (
            _number(raw[columns[role]], read)
            if role in columns
            else ibis.null("float64")
        )
    if "amount" not in columns:
        out["amount"] = out["quantity"] * out["unit_price"]
    for role in _TEXT_ROLES:
        if role in columns:
            out[role] = _as_text(raw[columns[role]]).strip()
    return out


def check_parsed(
    raw: ir.Table, columns: Mapping[str, str], *, read: Any = None, source: str
) -> dict[str, int]:
    """One pass over the data: counts that reading needs, and the parse errors.

    Raises
    ------
    SchemaError
        A timestamp or number role holds values that do not parse (examples given).
    DataError
        No row has a customer id.

    Returns
    -------
    dict
        ``rows``, ``customers_present`` (rows with an id), ``fine`` (1 when a
        timestamp has sub-second digits).
    """
    columns = dict(columns)
    values = _canonical_values(raw, columns, ReadOptions.of(read))
    both = raw.select(
        **{f"raw_{role}": raw[col] for role, col in columns.items()},
        **{f"can_{c}": v for c, v in values.items()},
    )
    checks: dict[str, ir.Value] = {
        "rows": both.count(),
        "customers_present": both["can_customer_id"].notnull().sum(),
    }
    parsed = ["timestamp"] + [r for r in _NUMERIC_ROLES if r in columns]
    for role in parsed:
        raw_col = both[f"raw_{role}"]
        present = raw_col.notnull()
        if raw_col.type().is_string():
            present = present & (raw_col.strip() != "")
        checks[f"bad_{role}"] = (present & both[f"can_{role}"].isnull()).sum()
    stamp = both["can_timestamp"]
    # Truncation, not microsecond(): Spark cannot extract microseconds.
    checks["fine"] = (stamp != stamp.truncate("s")).fill_null(False).any()
    row = both.aggregate(**checks).execute().iloc[0]
    for role in parsed:
        bad = int(row[f"bad_{role}"] or 0)
        if not bad:
            continue
        raw_col = both[f"raw_{role}"]
        examples = (
            both.filter(raw_col.notnull() & both[f"can_{role}"].isnull())
            .select(value=_as_text(raw_col))
            .limit(50)
            .execute()["value"]
        )
        shown = list(dict.fromkeys(examples))[:3]
        where = f"column {columns[role]!r} (role {role}) of {source}"
        if role == "timestamp":
            raise SchemaError(
                f"{where}: {bad:,} values are not dates, e.g. {shown}; set "
                "read.date_format in the config (e.g. '%d-%m-%Y' or '%Y%m%d') to the "
                "format the file uses"
            )
        raise SchemaError(
            f"{where}: {bad:,} values are not numbers, e.g. {shown}; fix the file, or "
            "set read.decimal: ',' if it uses decimal commas"
        )
    if int(row["customers_present"] or 0) == 0:
        raise DataError(
            f"every row of {source} lacks a customer id (column "
            f"{columns['customer_id']!r}); map transactions.columns.customer_id to the "
            "column that identifies customers"
        )
    return {
        "rows": int(row["rows"]),
        "customers_present": int(row["customers_present"]),
        "fine": int(bool(row["fine"])),
    }


def unparsed_dates(raw: ir.Table, column: str, read: Any) -> int:
    """Values of ``column`` that are not ISO dates (nor ``read.date_format`` dates)."""
    read = ReadOptions.of(read)
    col = raw[column]
    stamp = _timestamp(col, read)
    present = col.notnull()
    if col.type().is_string():
        present = present & (col.strip() != "")
    return int((present & stamp.isnull()).sum().execute() or 0)
