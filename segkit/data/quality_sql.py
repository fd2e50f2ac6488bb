"""Quality counts of a raw table on the engine: the profile, duplicates and the stats of the gate.

The same tables as :mod:`segkit.data.quality` (``quality.csv``, ``duplicates.json``),
computed by aggregate queries where the data lives, so a file larger than memory is
profiled by scanning it a few times. What needs values rather than counts -- example
values and personal-data detection -- looks at the first :data:`SAMPLE_ROWS` rows.

``dtype`` is what pandas would have made of the column (``int64`` for whole numbers
without gaps, ``float64`` for other numbers, ``str`` for text) so that the page reads
the same whichever engine ran. Outlier fences use exact quartiles up to
:data:`EXACT_QUANTILE_ROWS` rows and the engine's approximate quantiles beyond (the
profile says which in its notes), since exact quantiles hold a column in memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from segkit.data.quality import PROFILE_COLUMNS, detect_pii, example_values

__all__ = [
    "SAMPLE_ROWS",
    "EXACT_QUANTILE_ROWS",
    "sample",
    "profile_table",
    "duplicate_summary_table",
    "gate_stats",
]

#: Rows read into pandas for example values and personal-data detection.
SAMPLE_ROWS = 20_000
#: Tables up to this many rows get exact quartiles.
EXACT_QUANTILE_ROWS = 20_000_000


def sample(raw: ir.Table, rows: int = SAMPLE_ROWS) -> pd.DataFrame:
    """The first ``rows`` rows of a raw table, in pandas (for detect_pii and examples)."""
    return raw.limit(rows).execute()


def _numeric_kind(column: ir.Value) -> tuple[ir.Value, ir.Value] | None:
    """(non-numbers, non-integers) counts for a text column; None for other types."""
    kind = column.type()
    if not kind.is_string():
        return None
    text = column.strip()
    present = column.notnull() & (text != "")
    as_float = text.try_cast("float64")
    # A regex, not a cast: DuckDB casts '4.95' to the integer 5.
    whole = text.re_search(r"^[+-]?[0-9]+$")
    return (
        (present & as_float.isnull()).sum(),
        (present & ~whole.fill_null(False)).sum(),
    )


def profile_table(
    raw: ir.Table,
    *,
    roles: Mapping[str, str] | None = None,
    pii: Mapping[str, str] | None = None,
    outlier_iqr: float = 3.0,
    n_examples: int = 3,
    head: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """:func:`segkit.data.quality.quality_profile` of a table on the engine.

    Returns
    -------
    (DataFrame, list of str)
        The profile (same columns and meaning) and notes (approximate quartiles).
    """
    head = sample(raw) if head is None else head
    pii = detect_pii(head) if pii is None else dict(pii)
    role_of: dict[str, list[str]] = {}
    for role, column in (roles or {}).items():
        role_of.setdefault(str(column), []).append(str(role))
    schema = raw.schema()
    metrics: dict[str, ir.Value] = {"_rows": raw.count()}
    for i, name in enumerate(raw.columns):
        col = raw[name]
        metrics[f"m{i}"] = col.isnull().sum()
        metrics[f"d{i}"] = col.nunique()
        kinds = _numeric_kind(col)
        if kinds is not None:
            metrics[f"f{i}"], metrics[f"n{i}"] = kinds
    first = raw.aggregate(**metrics).execute().iloc[0]
    rows_total = int(first["_rows"])
    numeric: dict[str, ir.Value] = {}
    dtypes: dict[str, str] = {}
    for i, name in enumerate(raw.columns):
        kind = schema[name]
        missing = int(first[f"m{i}"])
        texty = f"f{i}" in first.index
        ids = "customer_id" in role_of.get(name, []) or any(
            r in ("order_id", "product_id") for r in role_of.get(name, [])
        )
        if texty and not ids and rows_total - missing > 0 and int(first[f"f{i}"]) == 0:
            whole = int(first[f"n{i}"]) == 0
            dtypes[name] = "int64" if whole and missing == 0 else "float64"
            numeric[name] = raw[name].strip().try_cast("float64")
        elif texty or kind.is_string():
            dtypes[name] = "str"
        elif kind.is_integer():
            dtypes[name] = "int64" if missing == 0 else "float64"
            numeric[name] = raw[name].cast("float64")
        elif kind.is_floating() or kind.is_decimal():
            dtypes[name] = "float64"
            numeric[name] = raw[name].cast("float64")
        elif kind.is_timestamp() or kind.is_date():
            dtypes[name] = "datetime64[ns]"
        elif kind.is_boolean():
            dtypes[name] = "bool"
        else:
            dtypes[name] = str(kind)
    notes: list[str] = []
    outliers = _outlier_counts(raw, numeric, outlier_iqr, rows_total, notes)
    rows = []
    for i, name in enumerate(raw.columns):
        missing = int(first[f"m{i}"])
        kind = pii.get(name, "")
        if kind:
            examples = f"<hidden: {kind}>"
        elif "customer_id" in role_of.get(name, []):
            examples = "<hidden: customer id>"
        else:
            examples = example_values(head[name], n_examples) if name in head else ""
        count = outliers.get(name, np.nan)
        present = rows_total - missing
        share = (count / present if present else 0.0) if name in outliers else np.nan
        rows.append(
            {
                "column": name,
                "role": ", ".join(role_of.get(name, [])),
                "dtype": dtypes[name],
                "missing": missing,
                "missing_share": missing / rows_total if rows_total else 0.0,
                "distinct": int(first[f"d{i}"]),
                "examples": examples,
                "outliers": count,
                "outlier_share": share,
                "pii": kind,
            }
        )
    out = pd.DataFrame(rows, columns=PROFILE_COLUMNS)
    return out.astype({"missing": "int64", "distinct": "int64"}), notes


def _outlier_counts(
    raw: ir.Table,
    numeric: Mapping[str, ir.Value],
    k: float,
    rows_total: int,
    notes: list[str],
) -> dict[str, float]:
    if not numeric:
        return {}
    exact = rows_total <= EXACT_QUANTILE_ROWS
    if not exact:
        notes.append(
            f"Outlier fences use approximate quartiles ({rows_total:,} rows is more "
            f"than the {EXACT_QUANTILE_ROWS:,} exact quartiles are computed for)."
        )
    names = list(numeric)
    quartiles: dict[str, ir.Value] = {}
    for i, name in enumerate(names):
        value = numeric[name]
        for q, label in ((0.25, "q1"), (0.75, "q3")):
            quartiles[f"{label}_{i}"] = (
                value.quantile(q) if exact else value.approx_quantile(q)
            )
    fences = raw.aggregate(**quartiles).execute().iloc[0]
    counts: dict[str, ir.Value] = {}
    for i, name in enumerate(names):
        q1, q3 = fences[f"q1_{i}"], fences[f"q3_{i}"]
        if pd.isna(q1) or pd.isna(q3):
            continue
        spread = k * (float(q3) - float(q1))
        value = numeric[name]
        low, high = float(q1) - spread, float(q3) + spread
        counts[f"o{i}"] = ((value < low) | (value > high)).fill_null(False).sum()
    result = raw.aggregate(**counts).execute().iloc[0] if counts else {}
    out = {name: 0.0 for name in names}
    for i, name in enumerate(names):
        if f"o{i}" in counts:
            out[name] = float(result[f"o{i}"] or 0)
    return out


def duplicate_summary_table(raw: ir.Table) -> dict[str, Any]:
    """:func:`segkit.data.quality.duplicate_summary` by one group-by on the engine."""
    groups = raw.group_by(list(raw.columns)).aggregate(_n=raw.count())
    stats = (
        groups.aggregate(
            rows=groups._n.sum(),
            distinct=groups.count(),
            in_groups=ibis.ifelse(groups._n > 1, groups._n, 0).sum(),
        )
        .execute()
        .iloc[0]
    )
    rows = int(stats["rows"] or 0)
    n_dup = rows - int(stats["distinct"] or 0)
    return {
        "rows": rows,
        "duplicate_rows": n_dup,
        "duplicate_share": n_dup / rows if rows else 0.0,
        "rows_in_duplicate_groups": int(stats["in_groups"] or 0),
    }


def gate_stats(transactions: ir.Table) -> dict[str, Any]:
    """Customers, first and last date and repeat-buyer share of clean lines (the gate's inputs)."""
    known = transactions.filter(transactions.customer_id.notnull())
    orders = known.group_by("customer_id").aggregate(n=known.order_id.nunique())
    span = known.aggregate(first=known.timestamp.min(), last=known.timestamp.max())
    per = orders.aggregate(customers=orders.count(), repeat=(orders.n >= 2).sum())
    row = per.execute().iloc[0]
    when = span.execute().iloc[0]
    customers = int(row["customers"] or 0)
    return {
        "customers": customers,
        "first": None if pd.isna(when["first"]) else pd.Timestamp(when["first"]),
        "last": None if pd.isna(when["last"]) else pd.Timestamp(when["last"]),
        "repeat_share": float(row["repeat"] or 0) / customers if customers else 0.0,
    }
