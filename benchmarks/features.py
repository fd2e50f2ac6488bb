"""Benchmark: per-customer features from 1M and 10M transactions, engine vs pandas.

Builds synthetic canonical transactions as Parquet (cached in ``benchmarks/_data/``,
generated with numpy + pyarrow in seconds), then computes the full feature set

- with segkit's Ibis engine (DuckDB scanning the Parquet file), and
- with a plain pandas implementation of the same definitions (read the Parquet
  file, group by),

each in a fresh subprocess so that the peak resident memory of one measurement
(``resource.getrusage(RUSAGE_SELF).ru_maxrss`` at its end, interpreter and imports
included) is not mixed with another's. Both results are compared (they must agree).

Target (issue 3): 10M rows in <= 5 s and <= 2 GB peak, >= 2x faster than pandas.

Usage::

    python benchmarks/features.py                # 1M and 10M rows
    python benchmarks/features.py --rows 1000000  # one size
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "_data"
AS_OF = dt.date(2024, 1, 1)
START = np.datetime64("2022-01-01T00:00:00", "s")


def make_data(rows: int, seed: int = 0) -> tuple[Path, Path]:
    """Write (once) ``rows`` synthetic order lines and 2 % returns as Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    DATA.mkdir(parents=True, exist_ok=True)
    tx_path = DATA / f"transactions_{rows}.parquet"
    ret_path = DATA / f"returns_{rows}.parquet"
    if tx_path.exists() and ret_path.exists():
        return tx_path, ret_path
    rng = np.random.default_rng(seed)
    n_orders = max(rows // 10, 1)  # ~10 lines per order
    n_customers = max(rows // 100, 1)  # ~10 orders per customer
    # Skewed activity: a few customers order much more often than most.
    weights = rng.pareto(1.5, n_customers) + 1
    order_customer = rng.choice(n_customers, n_orders, p=weights / weights.sum())
    order_seconds = rng.integers(0, 730 * 86400, n_orders)
    line_order = np.sort(rng.integers(0, n_orders, rows))
    quantity = rng.integers(1, 13, rows).astype("float64")
    price = rng.choice(np.array([0.42, 0.85, 1.25, 2.1, 4.95, 12.75]), rows)

    def text(values: np.ndarray) -> pa.Array:
        return pa.array(values).cast(pa.string())

    timestamps = (START + order_seconds[line_order]).astype("datetime64[ns]")
    table = pa.table(
        {
            "customer_id": text(order_customer[line_order]),
            "order_id": text(line_order),
            "timestamp": pa.array(timestamps),
            "quantity": quantity,
            "unit_price": price,
            "amount": quantity * price,
            "product_id": text(rng.integers(0, 4000, rows)),
        }
    )
    pq.write_table(table, tx_path, row_group_size=1_000_000)
    picked = np.sort(rng.choice(rows, max(rows // 50, 1), replace=False))
    returns = table.take(pa.array(picked))
    pq.write_table(returns, ret_path)
    return tx_path, ret_path


def pandas_features(tx_path: Path, ret_path: Path, as_of: dt.date):
    """The same features as segkit.features.behaviour, written directly in pandas."""
    import pandas as pd

    cutoff = pd.Timestamp(as_of)
    tx = pd.read_parquet(tx_path)
    tx = tx[tx["timestamp"] < cutoff]
    orders = (
        tx.groupby(["customer_id", "order_id"], sort=False)
        .agg(
            ts=("timestamp", "min"),
            value=("amount", "sum"),
            items=("quantity", "sum"),
            price_sum=("unit_price", "sum"),
            price_lines=("unit_price", "count"),
        )
        .reset_index()
    )
    orders["days_ago"] = (cutoff - orders["ts"].dt.normalize()).dt.days
    orders["month"] = orders["ts"].dt.year * 12 + orders["ts"].dt.month
    orders["quarter"] = orders["ts"].dt.quarter
    cust = orders.groupby("customer_id").agg(
        frequency=("order_id", "size"),
        gross=("value", "sum"),
        recency_days=("days_ago", "min"),
        tenure_days=("days_ago", "max"),
        active_months=("month", "nunique"),
        items=("items", "sum"),
        price_sum=("price_sum", "sum"),
        price_lines=("price_lines", "sum"),
    )
    span = orders.join(cust[["recency_days", "tenure_days"]], on="customer_id")
    recent = span["days_ago"] <= (span["recency_days"] + span["tenure_days"]) / 2
    halves = (
        pd.DataFrame(
            {
                "customer_id": span["customer_id"],
                "recent": span["value"].where(recent, 0.0),
                "earlier": span["value"].where(~recent, 0.0),
            }
        )
        .groupby("customer_id")[["recent", "earlier"]]
        .sum()
    )
    top_quarter = (
        orders.groupby(["customer_id", "quarter"])["value"].sum().groupby(level=0).max()
    )
    products = tx.groupby("customer_id")["product_id"].nunique()
    ret = pd.read_parquet(ret_path, columns=["customer_id", "timestamp", "amount"])
    returned = (
        ret[ret["timestamp"] < cutoff]
        .groupby("customer_id")["amount"]
        .sum()
        .reindex(cust.index, fill_value=0.0)
    )
    cust = cust[cust["gross"] > 0]
    gross, freq = cust["gross"], cust["frequency"]
    h = halves.loc[cust.index]
    total = h["recent"] + h["earlier"]
    trend = ((h["recent"] - h["earlier"]) / total).where(
        (cust["tenure_days"] != cust["recency_days"]) & (total > 0), 0.0
    )
    gap = ((cust["tenure_days"] - cust["recency_days"]) / (freq - 1)).where(
        freq > 1, cust["tenure_days"].astype("float64")
    )
    out = pd.DataFrame(
        {
            "recency_days": cust["recency_days"],
            "frequency": freq,
            "monetary": (gross - returned.loc[cust.index]).clip(lower=0.0),
            "tenure_days": cust["tenure_days"],
            "avg_order_value": gross / freq,
            "items_per_order": cust["items"] / freq,
            "distinct_products": products.loc[cust.index],
            "avg_unit_price": cust["price_sum"] / cust["price_lines"],
            "return_rate": (returned.loc[cust.index] / gross).clip(0.0, 1.0),
            "mean_interpurchase_days": gap,
            "revenue_trend": trend.clip(-1.0, 1.0),
            "seasonality": (top_quarter.loc[cust.index] / gross).clip(0.0, 1.0),
            "active_months": cust["active_months"],
        }
    )
    return out.sort_index()


def _measure(kind: str, rows: int, out: Path) -> None:
    """Child process: compute once, write the result and print seconds + peak RSS."""
    tx_path, ret_path = make_data(rows)
    # Imports (one-time costs of a process) happen before the clock starts, for both.
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    if kind == "engine":
        import ibis

        from segkit.features.behaviour import compute_features

        ibis.duckdb.connect().disconnect()  # loads the DuckDB backend module
        start = time.perf_counter()
        result = compute_features(tx_path, ret_path, as_of=AS_OF)
    else:
        start = time.perf_counter()
        result = pandas_features(tx_path, ret_path, AS_OF)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    result.to_parquet(out)
    print(
        json.dumps(
            {"seconds": seconds, "peak_mb": peak_kib / 1024, "customers": len(result)}
        )
    )


def _run_child(kind: str, rows: int, out: Path) -> dict:
    command = [
        sys.executable,
        __file__,
        "--child",
        kind,
        "--rows",
        str(rows),
        "--out",
        str(out),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{kind} at {rows:,} rows failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--child", choices=["engine", "pandas"])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.child:
        _measure(args.child, args.rows[0], args.out)
        return 0

    import pandas as pd

    load = os.getloadavg()[0]
    print(f"cpus: {os.cpu_count()}, load average (1 min) at start: {load:.2f}")
    header = (
        f"{'rows':>12} {'customers':>10} {'engine s':>9} {'engine MB':>10} "
        f"{'pandas s':>9} {'pandas MB':>10} {'speed-up':>9} {'equal':>6}"
    )
    print(header)
    print("-" * len(header))
    for rows in args.rows:
        make_data(rows)
        engine_out = DATA / f"_engine_{rows}.parquet"
        pandas_out = DATA / f"_pandas_{rows}.parquet"
        engine = _run_child("engine", rows, engine_out)
        baseline = _run_child("pandas", rows, pandas_out)
        a, b = pd.read_parquet(engine_out), pd.read_parquet(pandas_out)
        b.index = b.index.astype(a.index.dtype)
        equal = a.index.equals(b.index) and np.allclose(
            a.to_numpy(dtype=float), b[a.columns].to_numpy(dtype=float), rtol=1e-9
        )
        print(
            f"{rows:>12,} {engine['customers']:>10,} {engine['seconds']:>9.2f} "
            f"{engine['peak_mb']:>10.0f} {baseline['seconds']:>9.2f} "
            f"{baseline['peak_mb']:>10.0f} "
            f"{baseline['seconds'] / engine['seconds']:>8.1f}x {'yes' if equal else 'NO':>6}"
        )
    print(f"load average (1 min) at end: {os.getloadavg()[0]:.2f}")
    print(
        "target at 10M rows: engine <= 5 s, <= 2048 MB peak, >= 2x faster than pandas"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
