"""The order lines of the ``data`` step on the engine (``engine: duckdb`` or ``spark``).

:func:`on_engine` does what the pandas path of :mod:`segkit.data.step` does --
profile the raw lines, count duplicates, map the roles, clean with the ledger,
write ``transactions.parquet`` and ``returns.parquet`` and the summary -- with
every pass over the lines an Ibis query (:mod:`segkit.data.engine`,
:mod:`segkit.data.clean_sql`, :mod:`segkit.data.quality_sql`), so memory holds
samples and counts, never the lines. A CSV source is parsed once into a staged
Parquet file in ``folder`` and every later pass scans that.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
from ibis.expr.datatypes import Decimal

from segkit.context import RunContext
from segkit.data import quality
from segkit.data.clean_sql import clean_table
from segkit.data.engine import (
    PANDAS_FALLBACK_BYTES,
    canonical,
    check_parsed,
    connect_engine,
    scan,
    source_label,
    stage_raw,
    to_engine,
    write_parquet,
)
from segkit.data.io import ORDER_ID_NOTE, load_transactions, read_table
from segkit.data.lookups import join_lookups_table, read_lookups
from segkit.data.quality_sql import duplicate_summary_table, profile_table, sample
from segkit.exceptions import SchemaError
from segkit.fileinfo import files_sha256

__all__ = ["on_engine"]

logger = logging.getLogger(__name__)


def _with_lookups(
    ctx: RunContext, canon: Any, carry: list[str]
) -> tuple[Any, list[str]]:
    section = ctx.config.transactions
    if not section.lookups:
        return canon, []
    where = Path(ctx.config.config_path).parent if ctx.config.config_path else None
    tables = read_lookups(
        section, config_dir=where, root=Path(ctx.config.root), reader=read_table
    )
    joined, notes = join_lookups_table(canon, tables)
    return (joined.drop(*carry) if carry else joined), notes


def _read(ctx: RunContext, con: Any, folder: Path) -> dict[str, Any]:
    """Scan, profile and map the source; pandas reads what SQL cannot (module notes)."""
    config = ctx.config
    section = config.transactions
    columns = dict(section.columns)
    declared = list(config.quality.pii_columns)
    scanned = scan(con, section)
    if not scanned.via_pandas:
        raw = stage_raw(con, scanned, folder)
        source = scanned.files[0].name
        try:
            counts = check_parsed(raw, columns, read=section.read, source=source)
        except SchemaError as exc:
            guessable = "are not dates" in str(exc) and not section.read.date_format
            if not guessable or scanned.bytes > PANDAS_FALLBACK_BYTES:
                raise
            scanned = scan(
                con,
                section,
                fallback_reason="its dates are not ISO 8601, so pandas guessed their "
                "format (set transactions.read.date_format to read it in SQL)",
            )
        else:
            head = sample(raw)
            found = quality.detect_pii(head, declared=declared)
            profile, notes = profile_table(
                raw,
                roles=columns,
                pii=found,
                outlier_iqr=config.quality.outlier_iqr,
                head=head,
            )
            carry = [lk.key for lk in section.lookups if lk.key not in columns]
            canon = canonical(
                raw,
                columns,
                read=section.read,
                source=source,
                extra=list(section.extra),
                carry=carry,
            )
            canon, lookup_notes = _with_lookups(ctx, canon, carry)
            return {
                "scan": scanned,
                "raw_columns": list(raw.columns),
                "canon": canon,
                "found": found,
                "profile": profile,
                "duplicates": duplicate_summary_table(raw),
                "fine": bool(counts["fine"]),
                "notes": scanned.notes + notes + lookup_notes,
            }
    read = load_transactions(config)
    frame = read.raw
    found = quality.detect_pii(frame, declared=declared)
    profile = quality.quality_profile(
        frame, roles=columns, pii=found, outlier_iqr=config.quality.outlier_iqr
    )
    stamps = read.frame["timestamp"]
    notes = [n for n in read.notes if n != ORDER_ID_NOTE]
    return {
        "scan": scanned,
        "raw_columns": list(frame.columns),
        "canon": to_engine(con, read.frame),
        "found": found,
        "profile": profile,
        "duplicates": quality.duplicate_summary(frame),
        "fine": bool((stamps.dt.microsecond.fillna(0) != 0).any()),
        "notes": notes + scanned.notes,
    }


def _counts(labelled: Any) -> dict[str, Any]:
    """The summary's counts in one pass over the staged, labelled lines.

    Every line is there with its rule (null: kept), and ``order_id`` is formed
    where the data have none, so the raw and the kept figures come from the same
    scan (``where=`` restricts a reduction to the kept lines).
    """
    t = labelled
    kept = t._rule.isnull()
    metrics = {
        "invoices": t.order_id.nunique(),
        "customers": t.customer_id.nunique(),
        "first": t.timestamp.min(),
        "last": t.timestamp.max(),
        "missing_customer": t.customer_id.isnull().sum(),
        "kept_rows": kept.sum(),
        "kept_customers": t.customer_id.nunique(where=kept),
        "kept_orders": t.order_id.nunique(where=kept),
        "kept_revenue": t.amount.cast(Decimal(38, 6)).sum(where=kept).cast("float64"),
    }
    if "country" in t.columns:
        metrics["countries"] = t.country.nunique()
    row = t.aggregate(**metrics).execute().iloc[0]
    return {
        "invoices": int(row["invoices"]),
        "customers": int(row["customers"]),
        "countries": int(row["countries"]) if "countries" in row.index else None,
        "first_date": pd.Timestamp(row["first"]).date().isoformat(),
        "last_date": pd.Timestamp(row["last"]).date().isoformat(),
        "rows_missing_customer": int(row["missing_customer"] or 0),
        "kept_rows": int(row["kept_rows"] or 0),
        "kept_customers": int(row["kept_customers"]),
        "kept_orders": int(row["kept_orders"]),
        "kept_revenue": round(float(row["kept_revenue"] or 0.0), 2),
    }


def on_engine(
    ctx: RunContext, summary: dict[str, Any], pii: dict[str, str], folder: Path
) -> None:
    """The transactions half of the data step on the config's engine (see module notes)."""
    config = ctx.config
    section = config.transactions
    con = connect_engine(config)
    read = _read(ctx, con, folder)
    found = read["found"]
    pii.update({f"transactions.{col}": kind for col, kind in found.items()})
    ctx.save_frame("quality.csv", read["profile"])
    ctx.save_json("duplicates.json", read["duplicates"])
    result = clean_table(
        con,
        read["canon"],
        rules=config.cleaning,
        as_of=config.as_of,
        fine=read["fine"],
        stage_dir=folder,
    )
    try:
        # Personal-data columns never reach the artifacts (the id role is the key).
        personal = {role for role, col in section.columns.items() if col in found}
        keep = [
            c
            for c in result.transactions.columns
            if c not in personal - {"customer_id"}
        ]
        write_parquet(
            con, result.transactions.select(*keep), ctx.artifact("transactions.parquet")
        )
        write_parquet(
            con, result.returns.select(*keep), ctx.artifact("returns.parquet")
        )
        ctx.save_frame("ledger.csv", result.ledger)
        counts = _counts(result.labelled)
        returns_rows = int(result.returns.count().execute())
    finally:
        result.close()
    scanned = read["scan"]
    raw_columns = read["raw_columns"]
    summary.update(
        {
            "source_file": source_label(scanned.files),
            "sha256": files_sha256(scanned.files),
            "raw_rows": int(result.ledger["rows"].iloc[0]),
            "raw_columns": raw_columns,
            **{k: v for k, v in counts.items() if not k.startswith("kept")},
            "as_of": result.as_of.isoformat(),
            "as_of_source": "config"
            if config.as_of
            else "day after the last transaction",
            **{k: v for k, v in counts.items() if k.startswith("kept")},
            "returns_rows": returns_rows,
            "engine": con.name if con.name != "pyspark" else "spark",
        }
    )
    notes = list(read["notes"])
    if "order_id" not in section.columns:
        notes.append(ORDER_ID_NOTE)
    ctx.save_json("read_notes.json", {"transactions": notes + result.notes})
