"""Benchmark: customer lifetime value fit time and holdout accuracy.

Two data sets, each fitted on the history before ``as_of - horizon`` and scored on
the ``horizon`` days after it (the time holdout the validation step uses):

- the bundled Online Retail data (``configs/online_retail.yaml``; cleaned by
  segkit's own data step), and
- a synthetic population drawn from a known BG/NBD + Gamma-Gamma process
  (``segkit.simulate``), where the fitted parameters are printed beside the truth.

For each: seconds of the MAP fit (and, with ``--mcmc``, of NUTS), totals of
predicted vs actual purchases and revenue, mean absolute error per customer and
Spearman rank correlation, beside the naive baseline (each customer repeats the
previous period). Each measurement runs in its own subprocess so its peak memory
(``ru_maxrss``) is its own.

Usage::

    python benchmarks/clv.py            # both data sets, MAP
    python benchmarks/clv.py --mcmc     # also NUTS on the synthetic set
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRUTH = {"r": 0.6, "alpha": 30.0, "a": 1.2, "b": 3.0, "p": 6.0, "q": 4.0, "v": 15.0}


def _online_retail() -> tuple[object, object]:
    from segkit.context import open_run

    folder = Path(tempfile.mkdtemp(prefix="segkit-clv-bench-"))
    ctx = open_run(ROOT / "configs" / "online_retail.yaml", folder)
    ctx.run_step("data")
    return ctx.load_frame("transactions.parquet"), ctx.config["as_of"]


def _synthetic() -> tuple[object, object]:
    import pandas as pd

    from segkit.simulate import make_clv_transactions

    return make_clv_transactions(3000, seed=1), pd.Timestamp("2025-06-24")


def measure(dataset: str, method: str, horizon: int) -> dict:
    from segkit.features import clv

    tx, as_of = _online_retail() if dataset == "online_retail" else _synthetic()
    start = time.perf_counter()
    check = clv.holdout_check(tx, as_of=as_of, horizon_days=horizon, method=method)
    seconds = time.perf_counter() - start
    return {
        "dataset": dataset,
        "method": method,
        "customers": check["customers"],
        "fit_seconds": check["fit"].seconds,
        "total_seconds": round(seconds, 2),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "table": check["table"].to_dict("records"),
        "parameters": check["fit"].parameters.to_dict("records"),
    }


def _child(args: list[str]) -> dict:
    out = subprocess.run(
        [sys.executable, "-P", __file__, "--child", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _print(result: dict) -> None:
    print(
        f"\n{result['dataset']} ({result['method']}): {result['customers']:,} "
        f"customers in the calibration period; fit {result['fit_seconds']:.1f} s, "
        f"whole check {result['total_seconds']:.1f} s, peak {result['peak_mb']:.0f} MB"
    )
    print(
        f"  {'measure':<10} {'predictor':<28} {'predicted':>12} {'actual':>12} "
        f"{'ratio':>6} {'MAE/cust':>9} {'Spearman':>8}"
    )
    for row in result["table"]:
        print(
            f"  {row['measure']:<10} {row['predictor']:<28} "
            f"{row['predicted_total']:>12,.0f} {row['actual_total']:>12,.0f} "
            f"{row['ratio']:>6.2f} {row['mae_per_customer']:>9.2f} "
            f"{row['spearman']:>8.3f}"
        )
    if result["dataset"] == "synthetic":
        print(f"  {'parameter':<10} {'truth':>8} {'estimate':>9} {'95% interval':>20}")
        for row in result["parameters"]:
            interval = (
                f"[{row['low']:.2f}, {row['high']:.2f}]"
                if row["low"] == row["low"]
                else "(MAP: none)"
            )
            print(
                f"  {row['parameter']:<10} {TRUTH[row['parameter']]:>8.2f} "
                f"{row['estimate']:>9.2f} {interval:>20}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mcmc", action="store_true", help="also fit NUTS")
    parser.add_argument("--horizon", type=int, default=90)
    parser.add_argument("--child", nargs=3, metavar=("DATASET", "METHOD", "HORIZON"))
    args = parser.parse_args()
    if args.child:
        dataset, method, horizon = args.child
        print(json.dumps(measure(dataset, method, int(horizon)), default=str))
        return
    runs = [("synthetic", "map"), ("online_retail", "map")]
    if args.mcmc:
        runs.insert(1, ("synthetic", "mcmc"))
    for dataset, method in runs:
        _print(_child([dataset, method, str(args.horizon)]))


if __name__ == "__main__":
    main()
