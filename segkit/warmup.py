"""Compile, once per environment, what the first report run would compile: ``segkit warmup``.

A first ``segkit report`` after the install compiles three things before it can
compute anything, and caches each on disk for every later process:

- numba compiles UMAP's and pynndescent's functions (cached in
  :func:`segkit.clustering.reduce.numba_cache_dir`);
- pytensor compiles the BG/NBD and Gamma-Gamma models' graphs (cached in the
  environment, see :func:`segkit.features.clv.library`; since MAP fits run
  under FAST_COMPILE, see :func:`segkit.features.clv._compile_mode`, the
  gain for a MAP report is smaller than the figures below, measured before);
- matplotlib builds its font list (cached in its config folder).

On Online Retail (2 cores, 2026-12-02) that was about 100 s of the first run's
275 s: the value step took 49.8 s instead of 16.6 and the comparison 207 s
instead of 114. ``make venv`` therefore runs :func:`warm_up` once after ``pip
install``, so the first report finds the caches filled, as every later one does.
The figures a report shows are unchanged: a cache only saves recompiling the
same code.

What it runs: every analysis step from ``data`` to ``validate`` on SYNTHETIC
purchase histories (:func:`segkit.simulate.make_clv_transactions`) in a
temporary scratch folder, with the config's defaults except a smaller grid and
fewer refits. The compiled code depends on the functions called and their
argument types, not on the data's size, but UMAP takes another path below
4,096 rows (exact neighbours instead of pynndescent), so the data holds more
customers than that and the refits fewer (:data:`CUSTOMERS`). Nothing outside
the temporary folder and the three caches is written.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["CUSTOMERS", "warm_up"]

logger = logging.getLogger(__name__)

#: Customers of the synthetic history: above UMAP's 4,096-row switch to
#: pynndescent, as a fit sample of a real run usually is.
CUSTOMERS = 4500

#: The steps run: every one that compiles code (``profile`` compiles nothing).
STEPS = ("data", "features", "value", "compare", "validate")


def _config_text(transactions: Path) -> str:
    """A config for the synthetic history: defaults, a small grid, few refits.

    The fit sample stays above 4,096 rows (pynndescent), the refit, metric and
    map samples below (the exact-neighbour path a real run's refits of 2,000
    customers take). Two clusterers only: none of them is compiled by numba, so
    the others would add seconds, not compiled code.
    """
    return f"""\
name: warmup
transactions:
  path: {transactions}
  columns:
    customer_id: customer_id
    order_id: order_id
    timestamp: timestamp
    amount: amount
seed: 0
quality:
  min_customers: 100
clustering:
  algorithms: [kmeans, hdbscan]
  k_min: 2
  k_max: 3
  refit_sample: 500
  metric_sample: 1000
  map_sample: 1000
  finalists_per_k: 1
  stability_refits: 1
  ps_splits: 1
  jaccard_refits: 2
  null_refs: 2
validation:
  bootstrap: 2
  sample_size: 500
"""


def warm_up(customers: int = CUSTOMERS) -> dict[str, Any]:
    """Run the steps that compile code once, on synthetic data; return the seconds.

    Parameters
    ----------
    customers : int
        Customers of the synthetic history (default :data:`CUSTOMERS`).

    Returns
    -------
    dict
        ``seconds`` (total) and ``steps`` (step -> seconds), as computed here.
    """
    from segkit.context import open_run
    from segkit.pipeline import run_step
    from segkit.simulate import make_clv_transactions

    start = time.perf_counter()
    import matplotlib.font_manager  # noqa: F401  builds the font list once

    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="segkit-warmup-") as tmp:
        folder = Path(tmp)
        transactions = folder / "transactions.csv"
        make_clv_transactions(customers, seed=0).to_csv(transactions, index=False)
        config = folder / "warmup.yaml"
        config.write_text(_config_text(transactions), encoding="utf-8")
        # A run folder without a manifest is a scratch folder: no step cache, no
        # figure cache, nothing kept once the temporary folder goes.
        ctx = open_run(config, folder / "run")
        for step in STEPS:
            seconds[step] = float(run_step(ctx, step)["seconds"])
            logger.info("warm-up: %s in %.1f s", step, seconds[step])
    return {"seconds": round(time.perf_counter() - start, 1), "steps": seconds}
