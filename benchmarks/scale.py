"""Seconds and peak memory of the pipeline at 1M, 10M and 100M order lines, per engine.

For each size the script generates SYNTHETIC order lines shaped like Online Retail's
file (``InvoiceNo, StockCode, Quantity, InvoiceDate, UnitPrice, CustomerID,
Country``) as Parquet files of at most ``--file-rows`` lines in ``--work``, cached
by (rows, seed). The shape is meant to be realistic and to give every cleaning rule
something to remove: ~35 % one-time buyers and a Pareto tail of orders per
customer, lognormal lines per order and quantities, Zipf-like product popularity,
~1 % of the lines on cancellation invoices ("C" prefix, negative quantity), a few
negative quantities without the prefix, ~4 % of the orders without a customer id,
zero prices, postage and manual lines, a few exact duplicate lines and a month of
lines after ``as_of``. It is generated with DuckDB SQL (``range()`` and ``hash()``
of the row number and the seed: the same seed gives the same files), file by file,
so memory stays bounded.

Then, for each engine (``engine.kind`` in the config it writes), it runs these
stages, EACH IN ITS OWN SUBPROCESS, sampling the resident memory of the whole
process tree (Spark's JVM included) every 0.1 s with psutil:

- ``data``: the data step (``segkit.pipeline.run_step(ctx, "data")``);
- ``features``: the features step;
- ``fit``: the comparison on a stratified sample of ``clustering.fit_sample``
  customers (k-means, k 2-8, scaled representation:
  :func:`segkit.clustering.compare.compare_candidates` and
  :func:`segkit.clustering.recommend.select`, as the compare step calls them),
  then the chosen model fitted on that sample;
- ``assign``: every customer assigned on the engine
  (:func:`segkit.clustering.assign.assign_all`), written as Parquet;
- ``check`` (not part of the pipeline's total): the ledger read back: raw rows
  equal the generated rows, ``raw = kept + removed`` exactly, and each rule's
  count equal to a direct DuckDB count of the rule over the generated files.

DuckDB runs with ``engine.threads: 0`` (every core; ``--threads 1`` is the config's
default) and ``engine.memory_limit: 5GB`` (``--memory-limit``).
``--engines pandas`` (the in-memory data step, the baseline) runs only up to
``--pandas-max`` lines, Spark (local) only up to ``--spark-max``.

Usage::

    .venv/bin/python benchmarks/scale.py                    # 1M, 10M, 100M
    .venv/bin/python benchmarks/scale.py --rows 1e7 --engines duckdb pandas spark
    .venv/bin/python benchmarks/scale.py --quick            # 200k lines, duckdb

The machine is shared: the 1-minute load average at the start of each stage is
printed beside it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from treepeak import watch

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("data", "features", "fit", "assign")
#: the generated period; ``as_of`` leaves its last month for the after_as_of rule
START, END, AS_OF = dt.date(2022, 1, 1), dt.date(2024, 1, 1), dt.date(2023, 12, 1)
COUNTRIES = [  # cumulative share -> country, UK-heavy like Online Retail
    (0.85, "United Kingdom"),
    (0.89, "Germany"),
    (0.93, "France"),
    (0.95, "EIRE"),
    (0.96, "Spain"),
    (0.97, "Netherlands"),
    (0.98, "Belgium"),
    (0.99, "Switzerland"),
    (1.01, "Portugal"),
]
#: expected order lines per customer of the generator (measured, for sizing)
LINES_PER_CUSTOMER = 70
COLUMNS = {
    "customer_id": "CustomerID",
    "order_id": "InvoiceNo",
    "timestamp": "InvoiceDate",
    "quantity": "Quantity",
    "unit_price": "UnitPrice",
    "product_id": "StockCode",
    "country": "Country",
}


# ---------------------------------------------------------------- generation
def _u(expr: str, seed: int, salt: int) -> str:
    """SQL: a uniform number in (0, 1) from ``hash(expr, seed, salt)``."""
    return f"((hash({expr}, {seed}, {salt}) >> 11)::DOUBLE + 0.5) / 9007199254740992.0"


def _normal(expr: str, seed: int, salt: int) -> str:
    """SQL: a standard normal number (Box-Muller on two uniforms)."""
    a, b = _u(expr, seed, salt), _u(expr, seed, salt + 1)
    return f"(sqrt(-2 * ln({a})) * cos(2 * pi() * {b}))"


def _orders_sql(n_customers: int, seed: int) -> str:
    span = (END - START).days * 1440  # minutes
    country = "CASE " + " ".join(
        f"WHEN {_u('c', seed, 5)} < {share} THEN '{name}'" for share, name in COUNTRIES
    )
    return f"""
    CREATE OR REPLACE TABLE customers AS
    SELECT c,
        CASE WHEN {_u("c", seed, 1)} < 0.35 THEN 1  -- one-time buyers
             ELSE least(2000, 2 + floor(2 * (pow({_u("c", seed, 2)}, -1 / 1.4) - 1)))
        END::INTEGER AS n_orders,
        floor({_u("c", seed, 3)} * {span})::BIGINT AS first_minute,
        {country} END AS country
    FROM range({n_customers}) t(c);

    CREATE OR REPLACE TABLE orders AS
    WITH o AS (SELECT c, unnest(range(n_orders)) AS k, first_minute, country
               FROM customers),
    shaped AS (
        SELECT c, k, country,
            row_number() OVER (ORDER BY c, k) AS seq,
            first_minute + CASE WHEN k = 0 THEN 0 ELSE floor(
                {_u("c * 4096 + k", seed, 10)} * ({span} - first_minute))::BIGINT END
                AS minute,
            least(400, 1 + floor(exp(2.3 + 0.9 * {_normal("c * 4096 + k", seed, 11)})))
                ::BIGINT AS n_lines,
            {_u("c * 4096 + k", seed, 13)} < 0.02 AS cancelled,
            {_u("c * 4096 + k", seed, 14)} < 0.04 AS guest
        FROM o)
    SELECT seq, c, country, n_lines, cancelled,
        (CASE WHEN cancelled THEN 'C' ELSE '' END) || (500000 + seq)::VARCHAR
            AS invoice,
        CASE WHEN guest THEN NULL ELSE (12346 + c)::DOUBLE END AS customer,
        TIMESTAMP '{START}' + to_minutes(minute) AS ts,
        sum(n_lines) OVER (ORDER BY seq ROWS UNBOUNDED PRECEDING) - n_lines
            AS line_start
    FROM shaped;
    """


def _lines_sql(a: int, b: int, seed: int, path: Path) -> str:
    up = _u("src", seed, 20)  # non-product lines
    price_z = _normal("p", seed, 22)
    qty_z = _normal("src", seed, 24)
    dup = f"({_u('i', seed, 26)} < 0.002 AND {_u('i - 1', seed, 26)} >= 0.002)"
    return f"""
    COPY (
        WITH l AS (
            SELECT i, CASE WHEN i > 0 AND {dup} THEN i - 1 ELSE i END AS src
            FROM range({a}, {b}) t(i)),
        j AS (
            SELECT l.src, o.*,
                floor(4000 * pow({_u("l.src", seed, 21)}, 2.0))::BIGINT AS p
            FROM l ASOF JOIN orders o ON l.src >= o.line_start),
        v AS (
            SELECT *, {up} AS up,
                greatest(0.1, least(300.0, round(exp(0.7 + 0.9 * {price_z}), 2)))
                    AS price,
                least(2000, 1 + floor(exp(0.9 + 1.0 * {qty_z})))::BIGINT AS qty
            FROM j)
        SELECT invoice AS InvoiceNo,
            CASE WHEN up < 0.004 THEN 'POST' WHEN up < 0.005 THEN 'M'
                 WHEN up < 0.0055 THEN 'DOT' ELSE (20000 + p)::VARCHAR END
                AS StockCode,
            CASE WHEN cancelled OR {_u("src", seed, 27)} < 0.0005 THEN -qty
                 ELSE qty END AS Quantity,
            ts AS InvoiceDate,
            CASE WHEN up < 0.004 THEN 18.0
                 WHEN {_u("src", seed, 28)} < 0.002 THEN 0.0 ELSE price END
                AS UnitPrice,
            customer AS CustomerID,
            country AS Country
        FROM v
    ) TO '{path}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000);
    """


def generate(rows: int, seed: int, work: Path, file_rows: int) -> dict:
    """The order-line files for (rows, seed): generated once, then read from cache."""
    import duckdb

    folder = work / f"lines-{rows}-seed{seed}"
    done = folder / "generated.json"
    if done.exists():
        return json.loads(done.read_text())
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    start = time.perf_counter()
    scratch = work / "duckdb-tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(config={"temp_directory": str(scratch)})
    con.execute("SET preserve_insertion_order = false")
    n_customers = math.ceil(rows / LINES_PER_CUSTOMER * 1.2)
    while True:  # enough customers that their lines reach ``rows``
        con.execute(_orders_sql(n_customers, seed))
        total = con.execute("SELECT sum(n_lines) FROM orders").fetchone()[0]
        if total >= rows:
            break
        n_customers = math.ceil(n_customers * 1.3 * rows / total)
    files = []
    for k, a in enumerate(range(0, rows, file_rows)):
        path = folder / f"part-{k:04d}.parquet"
        con.execute(_lines_sql(a, min(rows, a + file_rows), seed, path))
        files.append(path.name)
    customers = con.execute(
        "SELECT count(DISTINCT customer) FROM orders "
        f"WHERE line_start < {rows} AND customer IS NOT NULL"
    ).fetchone()[0]
    con.close()
    info = {
        "rows": rows,
        "seed": seed,
        "files": files,
        "customers": int(customers),
        "seconds": round(time.perf_counter() - start, 1),
        "bytes": sum((folder / f).stat().st_size for f in files),
    }
    done.write_text(json.dumps(info, indent=2))
    return info


def write_config(
    folder: Path,
    data: Path,
    engine: str,
    fit_sample: int,
    work: Path,
    *,
    threads: int = 1,
    memory_limit: str | None = None,
) -> Path:
    """The run's YAML config: generated files, ``engine.kind``, the fit grid."""
    import yaml

    config = {
        "name": f"scale-{engine}",
        "transactions": {"path": str(data), "columns": COLUMNS},
        "as_of": AS_OF.isoformat(),
        "seed": 0,
        "engine": {
            "kind": engine,
            "threads": threads,
            "memory_limit": memory_limit,
            "temp_directory": str(work / "duckdb-tmp"),
            "spark": {
                "master": "local[*]",
                "options": {
                    "spark.driver.memory": "6g",
                    "spark.sql.shuffle.partitions": "8",
                    "spark.local.dir": str(work / "spark-tmp"),
                },
            },
        },
        "clustering": {
            "algorithms": ["kmeans"],
            "representations": ["scaled"],
            "k_min": 2,
            "k_max": 8,
            "fit_sample": fit_sample,
        },
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


# ------------------------------------------------------------------- stages
def _stage(name: str, config: str, run_dir: str) -> dict:
    """One stage, in this (worker) process; returns what the table prints."""
    import pandas as pd

    from segkit.context import open_run
    from segkit.pipeline import run_step

    ctx = open_run(config, run_dir)
    if name in ("data", "features"):
        record = run_step(ctx, name)
        if name == "data":
            summary = ctx.load_json("data_summary.json")
            return {
                "rows_in": summary["raw_rows"],
                "rows_out": summary["kept_rows"],
                "customers": summary["kept_customers"],
            }
        import pyarrow.parquet as pq

        customers = pq.ParquetFile(ctx.artifact("features.parquet")).metadata.num_rows
        return {
            "rows_in": _kept_rows(ctx),
            "rows_out": customers,
            "customers": customers,
            "seconds_step": record["seconds"],
        }
    if name == "fit":
        import joblib

        from segkit.clustering.compare import compare_candidates
        from segkit.clustering.recommend import select
        from segkit.clustering.sampling import stratified_sample
        from segkit.clustering.selection import candidate_model

        clustering, seed = ctx.config.clustering, ctx.seed
        matrix = pd.read_parquet(ctx.artifact("matrix.parquet"))
        matrix.index = matrix.index.astype("str")
        rows = stratified_sample(matrix, clustering.fit_sample, seed=seed)
        sample = matrix.loc[rows]
        del matrix
        result = compare_candidates(sample, clustering=clustering, seed=seed)
        _, rec, _ = select(result.table, sample, clustering, seed=seed)
        features = pd.read_parquet(ctx.artifact("features.parquet"))
        features.index = features.index.astype("str")
        features = features.loc[rows]
        preprocessor = joblib.load(ctx.artifact("preprocessor.joblib"))
        model = candidate_model(
            rec["chosen"], clustering, seed=seed, preprocessor=preprocessor
        ).fit(features)
        model.save(ctx.artifact("scale_model.joblib"))
        return {
            "rows_in": int(len(sample)),
            "rows_out": int(len(sample)),
            "customers": int(len(sample)),
            "note": f"chosen {rec['chosen']} ({len(result.table)} candidates)",
        }
    if name == "assign":
        from segkit.clustering.assign import assign_all
        from segkit.clustering.model import SegmentationModel

        model = SegmentationModel.load(ctx.artifact("scale_model.joblib"))
        backend = _assign_backend(ctx.config)
        result = assign_all(
            model,
            ctx.artifact("features.parquet"),
            ctx.artifact("assignments.parquet"),
            backend=backend,
        )
        shares = sorted(result["segments"].values(), reverse=True)
        return {
            "rows_in": result["rows"],
            "rows_out": result["rows"],
            "customers": result["rows"],
            "note": f"{len(shares)} segments, largest {shares[0] / result['rows']:.0%}",
        }
    raise SystemExit(f"unknown stage {name!r}")


def _kept_rows(ctx) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(ctx.artifact("transactions.parquet")).metadata.num_rows


def _assign_backend(config):
    """The engine's own connection when segkit has one, else "duckdb"/"spark"."""
    kind = config.engine.kind
    if kind != "spark":
        return "duckdb"
    try:
        from segkit.data.engine import connect_engine
    except ImportError:
        return "spark"
    return connect_engine(config)


def check_ledger(config: str, run_dir: str, data: str, generated: int) -> dict:
    """The ledger against the generator and a direct DuckDB count of each rule."""
    import duckdb
    import pandas as pd

    from segkit.context import open_run

    ctx = open_run(config, run_dir)
    ledger = pd.read_csv(ctx.artifact("ledger.csv")).set_index("rule")["rows"]
    rules = ctx.config.cleaning
    codes = ", ".join(f"'{c}'" for c in rules.non_product_codes)
    prefixes = " OR ".join(
        f"starts_with(StockCode, '{p}')" for p in rules.non_product_prefixes
    )
    non_product = f"(StockCode IN ({codes}){' OR ' + prefixes if prefixes else ''})"
    cancel = f"starts_with(InvoiceNo, '{rules.cancellation_prefix}')"
    passed = (
        f"CustomerID IS NOT NULL AND NOT {cancel} AND Quantity >= 0 "
        f"AND UnitPrice > 0 AND NOT {non_product}"
    )
    con = duckdb.connect(
        config={
            "memory_limit": "3GB",
            "temp_directory": str(Path(data).parent / "duckdb-tmp"),
            "preserve_insertion_order": False,
        }
    )
    files = f"read_parquet('{data}/*.parquet')"
    first = con.execute(
        f"""SELECT count(*),
            count(*) FILTER (WHERE CustomerID IS NULL),
            count(*) FILTER (WHERE CustomerID IS NOT NULL AND {cancel}),
            count(*) FILTER (WHERE CustomerID IS NOT NULL AND NOT {cancel}
                AND Quantity < 0),
            count(*) FILTER (WHERE CustomerID IS NOT NULL AND NOT {cancel}
                AND Quantity >= 0 AND UnitPrice <= 0),
            count(*) FILTER (WHERE CustomerID IS NOT NULL AND NOT {cancel}
                AND Quantity >= 0 AND UnitPrice > 0 AND {non_product}),
            count(*) FILTER (WHERE {passed})
        FROM {files}"""
    ).fetchone()
    distinct, kept = con.execute(
        f"""SELECT count(*), count(*) FILTER (WHERE InvoiceDate < TIMESTAMP '{AS_OF}')
        FROM (SELECT DISTINCT * FROM {files} WHERE {passed})"""
    ).fetchone()
    direct = {
        "raw": first[0],
        "missing_customer_id": first[1],
        "cancellations": first[2],
        "negative_quantity": first[3],
        "nonpositive_price": first[4],
        "non_product": first[5],
        "duplicates": first[6] - distinct,
        "after_as_of": distinct - kept,
        "kept": kept,
    }
    removed = [r for r in ledger.index if r not in ("raw", "kept")]
    return {
        "ledger": {rule: int(n) for rule, n in ledger.items()},
        "direct": {rule: int(n) for rule, n in direct.items()},
        "raw_is_generated": int(ledger["raw"]) == generated,
        "sum_identity": int(ledger["raw"])
        == int(ledger["kept"] + ledger[removed].sum()),
        "equal_direct": all(int(ledger.get(r, -1)) == n for r, n in direct.items()),
        "rows_in": int(ledger["raw"]),
        "rows_out": int(ledger["kept"]),
    }


def _worker(args: argparse.Namespace) -> int:
    if args.worker == "check":
        out = check_ledger(args.config, args.run_dir, args.data, args.generated)
    else:
        out = _stage(args.worker, args.config, args.run_dir)
    print("SCALE-RESULT " + json.dumps(out, default=str))
    return 0


def run_stage(stage: str, extra: list[str], timeout: float) -> dict:
    """Run one stage in a subprocess; wall seconds and the tree's peak RSS."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", stage]
    env = {
        **os.environ,
        "SEGKIT_QUIET": "1",
        "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable),
    }
    load = os.getloadavg()[0]
    log = tempfile.TemporaryFile(mode="w+")
    start = time.perf_counter()
    proc = subprocess.Popen(
        [*command, *extra],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env=env,
    )
    peak_mb, timed_out = watch(proc, timeout)
    seconds = time.perf_counter() - start
    log.seek(0)
    text = log.read()
    out: dict = {"seconds": seconds, "peak_mb": peak_mb, "load": load}
    lines = [x for x in text.splitlines() if x.startswith("SCALE-RESULT ")]
    if proc.returncode == 0 and lines:
        out.update(json.loads(lines[-1].removeprefix("SCALE-RESULT ")))
    else:
        out["error"] = "timed out" if timed_out else text.strip()[-1500:]
    return out


# --------------------------------------------------------------------- main
def _fmt(value, spec: str = ",") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, nargs="+", default=[1e6, 1e7, 1e8])
    parser.add_argument(
        "--engines",
        "--engine",
        nargs="+",
        choices=["duckdb", "pandas", "spark"],
        default=["duckdb", "pandas", "spark"],
    )
    parser.add_argument("--pandas-max", type=float, default=1e7)
    parser.add_argument("--spark-max", type=float, default=1e7)
    parser.add_argument("--work", default="/tmp/segkit-scale")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--file-rows", type=float, default=1e7)
    parser.add_argument("--fit-sample", type=int, default=50_000)
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="engine.threads (0, the default here: every core; the config's "
        "default 1 keeps small runs byte-reproducible)",
    )
    parser.add_argument("--memory-limit", default="5GB", help="engine.memory_limit")
    parser.add_argument("--timeout", type=float, default=3600, help="per stage")
    parser.add_argument("--no-check", action="store_true", help="skip the ledger check")
    parser.add_argument("--quick", action="store_true", help="200k lines, duckdb only")
    parser.add_argument("--worker", choices=[*STAGES, "check"], help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--run-dir", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--generated", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _worker(args)
    if args.quick:
        args.rows, args.engines, args.fit_sample = [2e5], ["duckdb"], 5000
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"segkit scale benchmark: cpus={os.cpu_count()} (shared machine), "
        f"fit_sample={args.fit_sample}, engine.threads={args.threads}, "
        f"engine.memory_limit={args.memory_limit}, work={work}"
    )
    header = (
        f"{'lines':>12} {'engine':>7} {'stage':>9} {'seconds':>8} {'peak MB':>8} "
        f"{'load':>5} {'rows in':>12} {'rows out':>12} {'customers':>10}  note"
    )
    failed = False
    ledgers: list[str] = []
    for rows in (int(r) for r in args.rows):
        info = generate(rows, args.seed, work, int(args.file_rows))
        data = work / f"lines-{rows}-seed{args.seed}"
        print(
            f"\n{rows:,} lines: {len(info['files'])} Parquet files, "
            f"{info['bytes'] / 2**20:,.0f} MB, {info['customers']:,} customers with an "
            f"id (generated in {info['seconds']} s, cached in --work)"
        )
        print(header)
        for engine in args.engines:
            if (engine == "pandas" and rows > args.pandas_max) or (
                engine == "spark" and rows > args.spark_max
            ):
                continue
            folder = work / "runs" / f"{rows}-{engine}"
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            config = write_config(
                folder,
                data,
                engine,
                args.fit_sample,
                work,
                threads=args.threads,
                memory_limit=args.memory_limit,
            )
            extra = ["--config", str(config), "--run-dir", str(folder / "run")]
            total_s, total_mb = 0.0, 0.0
            stages = [*STAGES] + ([] if args.no_check else ["check"])
            for stage in stages:
                more = ["--data", str(data), "--generated", str(rows)]
                out = run_stage(stage, extra + more, args.timeout)
                if stage != "check":
                    total_s += out["seconds"]
                    total_mb = max(total_mb, out["peak_mb"])
                note = out.get("note", "")
                if "error" in out:
                    failed = True
                    note = "FAILED: " + out["error"].splitlines()[-1][:160]
                if stage == "check" and "ledger" in out:
                    ok = out["raw_is_generated"] and out["sum_identity"]
                    note = (
                        f"raw == generated: {out['raw_is_generated']}, raw = kept + "
                        f"removed: {out['sum_identity']}, rules == direct DuckDB "
                        f"count: {out['equal_direct']}"
                    )
                    failed = failed or not ok
                    ledgers.append(
                        f"{rows:,} {engine}: ledger {out['ledger']}"
                        + ("" if out["equal_direct"] else f"; direct {out['direct']}")
                    )
                print(
                    f"{rows:>12,} {engine:>7} {stage:>9} {out['seconds']:>8.1f} "
                    f"{out['peak_mb']:>8,.0f} {out['load']:>5.1f} "
                    f"{_fmt(out.get('rows_in')):>12} {_fmt(out.get('rows_out')):>12} "
                    f"{_fmt(out.get('customers')):>10}  {note}",
                    flush=True,
                )
                if "error" in out:
                    break
            print(
                f"{rows:>12,} {engine:>7} {'total':>9} {total_s:>8.1f} "
                f"{total_mb:>8,.0f} {'':>5} {'':>12} {'':>12} {'':>10}  "
                "end to end (data + features + fit + assign); peak: largest stage",
                flush=True,
            )
    if ledgers:
        print("\nledgers (rows per rule):")
        for line in ledgers:
            print("  " + line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
