"""SYNTHETIC purchase histories drawn from a known BG/NBD + Gamma-Gamma process.

For tests and benchmarks of customer lifetime value, where the parameters must be
recovered. Per customer (Fader, Hardie & Lee 2005):

- purchase rate ``lambda ~ Gamma(shape=r, rate=alpha)`` (per day);
- after each repeat purchase the customer drops out with probability
  ``p ~ Beta(a, b)`` (none after the first: BG/NBD's assumption);
- mean spend ``1 / nu`` with ``nu ~ Gamma(shape=q, rate=v)``, each purchase's value
  ``z ~ Gamma(shape=p, rate=nu)`` (so the population mean is ``p v / (q - 1)``).

The first purchase falls uniformly in the first ``days - min_T`` days; purchases
are on whole days (one purchase per customer-day, as segkit summarises). The
same arguments and seed give identical frames.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["make_clv_transactions"]


def make_clv_transactions(
    n_customers: int = 3000,
    *,
    r: float = 0.6,
    alpha: float = 30.0,
    a: float = 1.2,
    b: float = 3.0,
    p: float = 6.0,
    q: float = 4.0,
    v: float = 15.0,
    days: int = 540,
    min_T: int = 90,
    start: str = "2024-01-01",
    seed: int = 0,
) -> pd.DataFrame:
    """Order lines (``customer_id``, ``order_id``, ``timestamp``, ``amount``).

    Lines on or after ``start + days`` never occur, so ``as_of = start + days``
    observes every customer for at least ``min_T`` days.
    """
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1.0 / alpha, n_customers)
    drop = rng.beta(a, b, n_customers)
    nu = rng.gamma(q, 1.0 / v, n_customers)
    first = rng.integers(0, days - min_T, n_customers)
    rows: list[tuple[int, int]] = []
    for i in range(n_customers):
        t = float(first[i])
        rows.append((i, int(t)))
        while True:  # BG/NBD: dropout chances come after each *repeat* purchase
            t += rng.exponential(1.0 / lam[i])
            if t >= days:
                break
            rows.append((i, int(t)))
            if rng.random() < drop[i]:
                break
    # One purchase per customer-day (as segkit summarises), then its value, so the
    # spend process is exactly Gamma-Gamma on the purchases the models see.
    frame = pd.DataFrame(rows, columns=["customer", "day"]).drop_duplicates()
    frame["amount"] = rng.gamma(p, 1.0 / nu[frame["customer"].to_numpy()])
    origin = pd.Timestamp(start)
    return pd.DataFrame(
        {
            "customer_id": "c" + frame["customer"].astype(str).str.zfill(5),
            "order_id": "o" + pd.RangeIndex(len(frame)).astype(str),
            "timestamp": origin + pd.to_timedelta(frame["day"], unit="D"),
            "amount": frame["amount"].round(2),
        }
    )
