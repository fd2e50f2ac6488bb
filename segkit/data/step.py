"""The ``data`` step (notebook 01): read, profile, clean, check sufficiency.

Writes to ``artifacts/``: ``transactions.parquet`` and ``returns.parquet`` (clean
canonical lines and set-aside returns), ``ledger.csv``, ``quality.csv`` (raw
transactions), ``duplicates.json``, ``customers.parquet`` and
``quality_customers.csv`` (when the config has a customers table; personal-data
columns are dropped from the artifact), ``pii.json``, ``sufficiency.csv``,
``data_summary.json`` and ``read_notes.json`` (what reading and cleaning decided,
e.g. that orders were formed per customer and timestamp for data without an order
id; notebook 01 shows it).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from segkit.context import RunContext
from segkit.data import quality
from segkit.data.clean import clean_transactions, default_as_of
from segkit.data.engine import engine_kind, read_artifact, source_label
from segkit.data.engine_step import on_engine
from segkit.data.io import load_customers, load_transactions, order_ids
from segkit.data.quality_sql import gate_stats
from segkit.fileinfo import file_sha256, files_sha256, source_files

__all__ = ["run"]


def _transactions(
    ctx: RunContext, summary: dict[str, Any], pii: dict[str, str]
) -> None:
    if engine_kind(ctx.config) != "pandas":
        with tempfile.TemporaryDirectory(
            prefix="segkit-data-", dir=ctx.config.engine.temp_directory
        ) as folder:
            on_engine(ctx, summary, pii, Path(folder))
        return
    config = ctx.config
    section = config.transactions
    read = load_transactions(config)
    raw, frame = read.raw, read.frame
    found = quality.detect_pii(raw, declared=list(config.quality.pii_columns))
    pii.update({f"transactions.{col}": kind for col, kind in found.items()})
    profile = quality.quality_profile(
        raw,
        roles=section.columns,
        pii=found,
        outlier_iqr=config.quality.outlier_iqr,
    )
    ctx.save_frame("quality.csv", profile)
    ctx.save_json("duplicates.json", quality.duplicate_summary(raw))
    as_of = config.as_of or default_as_of(frame)
    result = clean_transactions(frame, rules=config.cleaning, as_of=as_of)
    # Personal-data columns never reach the artifacts (the id role is kept: it is the key).
    personal = {role for role, col in section.columns.items() if col in found}
    keep = [
        c for c in result.transactions.columns if c not in personal - {"customer_id"}
    ]
    ctx.save_frame("transactions.parquet", result.transactions[keep])
    ctx.save_frame("returns.parquet", result.returns[keep])
    ctx.save_frame("ledger.csv", result.ledger)
    clean = result.transactions
    path = Path(section.path)
    summary.update(
        {
            "source_file": source_label(source_files(path)),
            "sha256": files_sha256(source_files(path)),
            "raw_rows": len(raw),
            "raw_columns": list(raw.columns),
            "invoices": int(order_ids(frame).nunique()),
            "customers": int(frame["customer_id"].nunique()),
            "countries": int(frame["country"].nunique())
            if "country" in frame
            else None,
            "first_date": frame["timestamp"].min().date().isoformat(),
            "last_date": frame["timestamp"].max().date().isoformat(),
            "as_of": result.as_of.isoformat(),
            "as_of_source": "config"
            if config.as_of
            else "day after the last transaction",
            "rows_missing_customer": int(frame["customer_id"].isna().sum()),
            "kept_rows": len(clean),
            "kept_customers": int(clean["customer_id"].nunique()),
            "kept_orders": int(clean["order_id"].nunique()),
            "kept_revenue": round(float(clean["amount"].sum()), 2),
            "returns_rows": len(result.returns),
        }
    )
    ctx.save_json("read_notes.json", {"transactions": read.notes + result.notes})


def _customers(
    ctx: RunContext, summary: dict[str, Any], pii: dict[str, str]
) -> pd.DataFrame:
    config = ctx.config
    section = config.customers
    read = load_customers(config)
    found = quality.detect_pii(read.raw, declared=list(config.quality.pii_columns))
    pii.update({f"customers.{col}": kind for col, kind in found.items()})
    profile = quality.quality_profile(
        read.raw,
        roles={"customer_id": section.columns["customer_id"]},
        pii=found,
        outlier_iqr=config.quality.outlier_iqr,
    )
    ctx.save_frame("quality_customers.csv", profile)
    declared = {c for cols in section.attributes.values() for c in cols}
    personal = [c for c in found if c in read.frame.columns and c not in declared]
    customers = read.frame.drop(columns=personal)
    ctx.save_frame("customers.parquet", customers)
    path = Path(section.path)
    summary.update(
        {
            "customers_file": path.name,
            "customers_sha256": file_sha256(path),
            "customers_rows": len(read.raw),
            "customers_columns": list(read.raw.columns),
            "customers_kept": len(customers),
            "personal_columns_dropped": personal,
        }
    )
    notes = ctx.load_json("read_notes.json") if ctx.has("read_notes.json") else {}
    notes["customers"] = read.notes
    ctx.save_json("read_notes.json", notes)
    return customers


def run(ctx: RunContext) -> dict[str, Any]:
    """Read, profile and clean the config's data; write the data artifacts."""
    config = ctx.config
    summary: dict[str, Any] = {"name": config.name}
    pii: dict[str, str] = {}
    customers = None
    if ctx.has_transactions:
        _transactions(ctx, summary, pii)
    if ctx.has_customers:
        customers = _customers(ctx, summary, pii)
    gate = config.quality
    clean = stats = None
    if ctx.has_transactions:  # counted by DuckDB over the artifact, whatever the engine
        clean = read_artifact(ctx.artifact("transactions.parquet"))
        stats = gate_stats(clean)
    table = quality.sufficiency(
        clean,
        customers=customers,
        min_customers=gate.min_customers,
        min_history_days=gate.min_history_days,
        min_repeat_share=gate.min_repeat_share,
        stats=stats,
    )
    ctx.save_frame("sufficiency.csv", table)
    summary["sufficient"] = bool(table["passed"].all())
    ctx.save_json("pii.json", pii)
    ctx.save_json("data_summary.json", summary)
    headline = {
        key: summary[key]
        for key in (
            "raw_rows",
            "kept_rows",
            "kept_customers",
            "kept_revenue",
            "customers_kept",
            "sufficient",
        )
        if key in summary
    }
    return headline
