"""Coverage of segkit's interval estimators at the nominal level, beside naive ones.

Each cell draws ``--sims`` synthetic samples, builds a 95 % interval on each and
counts how often it holds the true value. Segments of 30, 100 and 1,000 customers.

* retention rate, true p in {0.5, 0.9, 0.97}: Wilson (segkit) vs the percentile
  bootstrap within the segment (naive; [1, 1] whenever all bought again).
* revenue per customer, skewed with many zeros: 60 % zeros + lognormal(sigma 1.2),
  60 % zeros + lognormal(sigma 1.6) ("lognormal heavy": the top 1 % of customers
  hold about 36 % of revenue, against 22 % at sigma 1.2), or 40 % zeros + gamma(shape 0.5): segkit's
  bootstrap-t with the log-scale check vs the percentile bootstrap.
* revenue share of the segment, in a population of three segments (the focal one
  expected to hold n customers, the others 2n and 3n, with other revenue levels),
  membership drawn at random: joint bootstrap of all customers (segkit) vs a
  bootstrap of the segment alone with the rest of revenue held fixed (naive).

Usage: ``python benchmarks/interval_coverage.py [--sims 1000] [--resamples 1000]``.
Prints one table: measure, distribution, n, coverage (segkit), coverage (naive),
mean width (segkit). Target: within 3 points of 95 % for n >= 30.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from segkit.intervals import mean_interval, share_intervals, wilson

LEVEL = 0.95


def _revenue(rng: np.random.Generator, n: int, kind: str, scale: float = 1.0):
    """Zero-inflated skewed revenue and its true mean."""
    if kind.startswith("lognormal"):
        zeros, sigma = 0.6, (1.6 if kind == "lognormal heavy" else 1.2)
        values = rng.lognormal(np.log(50 * scale), sigma, size=n)
        mean = (1 - zeros) * 50 * scale * np.exp(sigma**2 / 2)
    else:
        zeros, shape = 0.4, 0.5
        values = rng.gamma(shape, 100 * scale / shape, size=n)
        mean = (1 - zeros) * 100 * scale
    return np.where(rng.random(n) < zeros, 0.0, values), mean


def _percentile(values: np.ndarray, rng, resamples: int) -> tuple[float, float]:
    means = values[rng.integers(0, len(values), (resamples, len(values)))].mean(1)
    return tuple(np.quantile(means, [(1 - LEVEL) / 2, (1 + LEVEL) / 2]))


def rate_cell(n: int, p: float, sims: int, resamples: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    hits = {"segkit": 0, "naive": 0}
    width = 0.0
    for _ in range(sims):
        flags = (rng.random(n) < p).astype(float)
        low, high = wilson(flags.sum(), n, level=LEVEL)
        hits["segkit"] += low <= p <= high
        width += high - low
        low, high = _percentile(flags, rng, resamples)
        hits["naive"] += low <= p <= high
    return {
        "segkit": hits["segkit"] / sims,
        "naive": hits["naive"] / sims,
        "width": width / sims,
    }


def mean_cell(n: int, kind: str, sims: int, resamples: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    hits = {"segkit": 0, "naive": 0}
    width = 0.0
    for i in range(sims):
        values, truth = _revenue(rng, n, kind)
        low, high = mean_interval(values, n_resamples=resamples, random_state=i)
        hits["segkit"] += low <= truth <= high
        width += (high - low) / truth
        low, high = _percentile(values, rng, resamples)
        hits["naive"] += low <= truth <= high
    return {
        "segkit": hits["segkit"] / sims,
        "naive": hits["naive"] / sims,
        "width": width / sims,
    }


def share_cell(n: int, kind: str, sims: int, resamples: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    sizes = np.array([1, 2, 3]) * n
    scales = np.array([3.0, 1.0, 0.5])  # the focal segment is the valuable one
    probs = sizes / sizes.sum()
    means = np.array([_revenue(rng, 1, kind, s)[1] for s in scales])
    truth = probs[0] * means[0] / (probs * means).sum()
    hits = {"segkit": 0, "naive": 0}
    width = 0.0
    for i in range(sims):
        groups = rng.choice(3, size=sizes.sum(), p=probs)
        values = np.empty(len(groups))
        for g in range(3):
            inside = groups == g
            values[inside] = _revenue(rng, int(inside.sum()), kind, scales[g])[0]
        found = share_intervals(
            groups, values, n_resamples=resamples, random_state=i
        ).loc[0]
        hits["segkit"] += found["low"] <= truth <= found["high"]
        width += found["high"] - found["low"]
        mine, rest = values[groups == 0], values[groups != 0].sum()
        sums = mine[rng.integers(0, len(mine), (resamples, len(mine)))].sum(1)
        low, high = np.quantile(sums / (sums + rest), [0.025, 0.975])
        hits["naive"] += low <= truth <= high
    return {
        "segkit": hits["segkit"] / sims,
        "naive": hits["naive"] / sims,
        "width": width / sims,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=1000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[30, 100, 1000])
    args = parser.parse_args()
    rows = []
    start = time.perf_counter()
    for n in args.sizes:
        for p in (0.5, 0.9, 0.97):
            cell = rate_cell(n, p, args.sims, args.resamples, seed=n)
            rows.append(("retention rate", f"p = {p}", n, cell))
        for kind in ("lognormal", "lognormal heavy", "gamma"):
            cell = mean_cell(n, kind, args.sims, args.resamples, seed=n + 1)
            rows.append(("revenue per customer", kind, n, cell))
            cell = share_cell(n, kind, args.sims, args.resamples, seed=n + 2)
            rows.append(("revenue share", kind, n, cell))
    table = pd.DataFrame(
        [
            {
                "measure": measure,
                "distribution": what,
                "customers": n,
                "coverage segkit": round(100 * c["segkit"], 1),
                "coverage naive": round(100 * c["naive"], 1),
                "mean width segkit": round(c["width"], 3),
            }
            for measure, what, n, c in rows
        ]
    )
    table["within 3 points"] = (table["coverage segkit"] - 95).abs() <= 3
    print(
        f"nominal {LEVEL:.0%}, {args.sims} simulations per row, "
        f"{args.resamples} bootstrap resamples; revenue-per-customer width is "
        "relative to the true mean"
    )
    print(
        table.sort_values(["measure", "distribution", "customers"]).to_string(
            index=False
        )
    )
    print(f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
