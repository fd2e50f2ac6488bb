"""SYNTHETIC data generators with planted segments, deterministic by seed.

Everything here is made up by a random-number generator: no real customer, company
or order is behind any row. The generators exist so that tests, benchmarks and a
fresh clone have data whose true segments are known:

* :func:`make_b2c_transactions` - order lines of a web shop whose customers belong
  to behavioural segments (champions, regulars, lapsed, one-timers, ...);
* :func:`make_b2b_accounts` - a B2B account table (firmographics) plus its invoice
  lines in the style of a raw export, with planted account segments;
* :func:`make_customer_features` - numeric per-customer blobs for clustering tests.

The same arguments and seed always give identical frames. The committed files in
``data/synthetic/`` are written by ``python -m segkit.datasets b2b --out
data/synthetic/``.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from segkit.exceptions import ConfigError

__all__ = [
    "B2C_SEGMENTS",
    "B2B_SEGMENTS",
    "make_b2c_transactions",
    "make_b2b_accounts",
    "make_customer_features",
    "write_b2b",
]

logger = logging.getLogger(__name__)

#: B2C segments in the order ``n_segments`` takes them: share of customers, mean
#: orders, window of activity (fractions of the period), mean order lines, mean
#: quantity per line and price level (multiplier of the product's list price).
B2C_SEGMENTS: dict[str, dict[str, float]] = {
    "champions": dict(share=0.12, orders=18, start=0, end=1, lines=8, qty=4, price=1.4),
    "regular": dict(share=0.30, orders=5, start=0, end=1, lines=4, qty=2, price=1.0),
    "lapsed": dict(share=0.23, orders=4, start=0, end=0.45, lines=4, qty=2, price=1.0),
    "one_timers": dict(share=0.35, orders=0, start=0, end=1, lines=2, qty=1, price=0.8),
    "new": dict(share=0.15, orders=1, start=0.85, end=1, lines=3, qty=2, price=1.0),
    "wholesale": dict(share=0.05, orders=3, start=0, end=1, lines=15, qty=40, price=.6),
}  # fmt: skip

_COUNTRIES = np.array(
    [
        "United Kingdom",
        "Germany",
        "France",
        "Netherlands",
        "Spain",
        "Belgium",
        "Ireland",
    ]
)
_COUNTRY_P = np.array([0.82, 0.05, 0.04, 0.03, 0.02, 0.02, 0.02])


def _labels(prefix: str, width: int, n: int, first: int = 1) -> np.ndarray:
    """``prefix`` + zero-padded numbers first .. first + n - 1, as an object array."""
    return np.array(
        [f"{prefix}{k:0{width}d}" for k in range(first, first + n)], dtype=object
    )


def _check_n(name: str, value: int, minimum: int = 1) -> None:
    if not isinstance(value, int | np.integer) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _segment_sizes(
    shares: Sequence[float], n: int, rng: np.random.Generator
) -> np.ndarray:
    """Segment label per row: exact proportional sizes, shuffled."""
    shares = np.asarray(shares, dtype=float) / np.sum(shares)
    sizes = np.floor(shares * n).astype(int)
    sizes[: n - sizes.sum()] += 1
    labels = np.repeat(np.arange(len(sizes)), sizes)
    return rng.permutation(labels)


def _order_lines(
    rng: np.random.Generator,
    *,
    owner: np.ndarray,
    lines_mean: np.ndarray,
    qty_mean: np.ndarray,
    price_level: np.ndarray,
    list_prices: np.ndarray,
) -> dict[str, np.ndarray]:
    """Expand orders (one entry per order) into order lines."""
    n_lines = rng.poisson(np.maximum(lines_mean - 1, 0)) + 1
    order_idx = np.repeat(np.arange(len(owner)), n_lines)
    product = rng.integers(0, len(list_prices), size=len(order_idx))
    quantity = rng.poisson(np.maximum(qty_mean[order_idx] - 1, 0)) + 1
    noise = rng.lognormal(0.0, 0.1, size=len(order_idx))
    unit_price = np.round(list_prices[product] * price_level[order_idx] * noise, 2)
    unit_price = np.maximum(unit_price, 0.01)
    return {
        "order_idx": order_idx,
        "product": product,
        "quantity": quantity.astype("float64"),
        "unit_price": unit_price,
    }


def make_b2c_transactions(
    n_customers: int = 1000,
    *,
    n_segments: int = 4,
    seed: int = 0,
    start: str = "2023-01-01",
    days: int = 365,
) -> tuple[pd.DataFrame, pd.Series]:
    """SYNTHETIC web-shop order lines with planted behavioural segments.

    Segments (the first ``n_segments`` of :data:`B2C_SEGMENTS`): ``champions``
    (frequent, recent, large baskets), ``regular``, ``lapsed`` (active only in the
    first 45 % of the period), ``one_timers`` (exactly one small order), ``new``
    (first order in the last 15 %), ``wholesale`` (few, very large orders).

    Parameters
    ----------
    n_customers : int
        Number of customers.
    n_segments : int
        How many segments to plant (1-6).
    seed : int
        Seed of the random generator: the same seed gives identical output.
    start : str
        First day of the period (ISO date).
    days : int
        Length of the period in days.

    Returns
    -------
    transactions : DataFrame
        Canonical clean transactions, sorted by time: ``customer_id`` (str),
        ``order_id`` (str), ``timestamp`` (datetime64[ns]), ``quantity``,
        ``unit_price``, ``amount`` (float64), ``product_id``, ``country`` (str).
    truth : Series
        The planted segment name of each customer, indexed by ``customer_id``.
    """
    _check_n("n_customers", n_customers)
    _check_n("days", days)
    if not 1 <= n_segments <= len(B2C_SEGMENTS):
        raise ConfigError(
            f"n_segments must be between 1 and {len(B2C_SEGMENTS)}, got {n_segments!r}"
        )
    rng = np.random.default_rng(seed)
    names = list(B2C_SEGMENTS)[:n_segments]
    params = pd.DataFrame([B2C_SEGMENTS[name] for name in names], index=names)
    seg = _segment_sizes(params["share"], n_customers, rng)
    p = params.iloc[seg].reset_index(drop=True)
    ids = np.array([f"C{i:06d}" for i in range(1, n_customers + 1)])
    country = rng.choice(_COUNTRIES, p=_COUNTRY_P, size=n_customers)
    n_orders = rng.poisson(p["orders"].to_numpy()) + 1
    owner = np.repeat(np.arange(n_customers), n_orders)
    lo, hi = p["start"].to_numpy()[owner], p["end"].to_numpy()[owner]
    seconds = (lo + (hi - lo) * rng.random(len(owner))) * days * 86_400
    when = pd.Timestamp(start) + pd.to_timedelta(np.floor(seconds), unit="s")
    list_prices = np.round(rng.lognormal(1.0, 0.8, size=300), 2) + 0.5
    lines = _order_lines(
        rng,
        owner=owner,
        lines_mean=p["lines"].to_numpy()[owner],
        qty_mean=p["qty"].to_numpy()[owner],
        price_level=p["price"].to_numpy()[owner],
        list_prices=list_prices,
    )
    order_time = np.asarray(when, dtype="datetime64[ns]")
    chrono = np.argsort(order_time, kind="stable")
    order_number = np.empty(len(owner), dtype=np.int64)
    order_number[chrono] = np.arange(1, len(owner) + 1)
    oi = lines["order_idx"]
    frame = pd.DataFrame(
        {
            "customer_id": pd.array(ids[owner[oi]], dtype="str"),
            "order_id": pd.array(
                _labels("O", 7, len(owner))[order_number[oi] - 1], dtype="str"
            ),
            "timestamp": order_time[oi],
            "quantity": lines["quantity"],
            "unit_price": lines["unit_price"],
            "amount": np.round(lines["quantity"] * lines["unit_price"], 2),
            "product_id": pd.array(
                _labels("P", 4, len(list_prices), 0)[lines["product"]], dtype="str"
            ),
            "country": pd.array(country[owner[oi]], dtype="str"),
        }
    )
    frame = frame.sort_values(
        ["timestamp", "order_id"], kind="stable", ignore_index=True
    )
    truth = pd.Series(
        pd.array(np.array(names)[seg], dtype="str"),
        index=pd.Index(ids, name="customer_id", dtype="str"),
        name="segment",
    )
    return frame, truth


#: B2B account segments, each distinct in behaviour and firmographics. Keys: share
#: of accounts; ``sizes``, ``industries``, ``regions`` and ``channels`` (portal,
#: sales rep, EDI): probabilities over the bands of :data:`_SIZES` etc.; ``rev``:
#: log-normal (mu, sigma) of annual revenue; ``contracted``: share of accounts with
#: a service contract, worth a uniform ``contract`` share of revenue; ``signup``:
#: range of signup years; ``orders``: mean orders in the two years; ordering window:
#: starts at a uniform fraction of the period in [0, ``late``], ends at a uniform
#: fraction in ``end``; ``shape``: order times are ``u ** shape`` across the window
#: (< 1 rising, 1 flat, > 1 falling); ``lines`` and ``qty``: mean lines per order
#: and units per line; ``price``: multiplier of list prices (discounts < 1);
#: ``breadth``: share of the catalogue an account buys from.
B2B_SEGMENTS: dict[str, dict[str, object]] = {
    "strategic": dict(
        share=0.10, sizes=[0, 0, 0.05, 0.35, 0.6], rev=(17.8, 0.5),
        contracted=1.0, contract=(0.02, 0.06), signup=(2015, 2020),
        industries=[0.15, 0.4, 0.15, 0.2, 0.1], regions=[0.3, 0.15, 0.15, 0.1, 0.3],
        orders=30, late=0.0, end=(1.0, 1.0), shape=1.0, lines=7, qty=20, price=0.85,
        breadth=0.9, channels=[0.1, 0.4, 0.5],
    ),
    "growth": dict(
        share=0.25, sizes=[0, 0.2, 0.6, 0.2, 0], rev=(16.0, 0.5),
        contracted=0.4, contract=(0.005, 0.015), signup=(2021, 2023),
        industries=[0.45, 0.1, 0.1, 0.25, 0.1], regions=[0.15, 0.2, 0.35, 0.15, 0.15],
        orders=14, late=0.4, end=(1.0, 1.0), shape=0.35, lines=4, qty=8, price=0.95,
        breadth=0.45, channels=[0.4, 0.5, 0.1],
    ),
    "transactional": dict(
        share=0.40, sizes=[0.55, 0.4, 0.05, 0, 0], rev=(14.0, 0.6),
        contracted=0.0, contract=(0.0, 0.0), signup=(2018, 2023),
        industries=[0.1, 0.15, 0.45, 0.1, 0.2], regions=[0.2, 0.25, 0.15, 0.25, 0.15],
        orders=45, late=0.0, end=(1.0, 1.0), shape=1.0, lines=1.3, qty=3, price=1.1,
        breadth=0.08, channels=[0.8, 0.05, 0.15],
    ),
    "dormant": dict(
        share=0.25, sizes=[0.15, 0.35, 0.35, 0.15, 0], rev=(15.0, 0.7),
        contracted=0.0, contract=(0.0, 0.0), signup=(2016, 2021),
        industries=[0.15, 0.3, 0.2, 0.1, 0.25], regions=[0.15, 0.3, 0.15, 0.25, 0.15],
        orders=4, late=0.0, end=(0.25, 0.4), shape=1.8, lines=3, qty=5, price=1.0,
        breadth=0.3, channels=[0.5, 0.3, 0.2],
    ),
}  # fmt: skip

_INDUSTRIES = np.array(
    ["Software", "Manufacturing", "Retail", "Healthcare", "Logistics"]
)
_SIZES = np.array(["1-10", "11-50", "51-200", "201-1000", "1000+"])
_REGIONS = np.array(["North", "South", "East", "West", "Central"])
_CATEGORIES = np.array(["Hardware", "Consumables", "Services", "Licences"])
_CHANNELS = np.array(["portal", "sales rep", "EDI"])


def _b2b_lines(
    rng: np.random.Generator,
    *,
    owner: np.ndarray,
    per: pd.DataFrame,
    first_product: np.ndarray,
    list_prices: np.ndarray,
) -> dict[str, np.ndarray]:
    """Expand B2B orders into lines drawn from each account's part of the catalogue."""
    lines_mean = per["lines"].to_numpy(dtype=float)[owner]
    n_lines = rng.poisson(np.maximum(lines_mean - 1, 0)) + 1
    order_idx = np.repeat(np.arange(len(owner)), n_lines)
    account = owner[order_idx]
    width = np.maximum(
        np.round(per["breadth"].to_numpy(dtype=float) * len(list_prices)), 1
    )[account]
    offset = np.floor(rng.random(len(order_idx)) * width).astype(np.int64)
    product = (first_product[account] + offset) % len(list_prices)
    qty_mean = per["qty"].to_numpy(dtype=float)[account]
    quantity = rng.poisson(np.maximum(qty_mean - 1, 0)) + 1
    noise = rng.lognormal(0.0, 0.1, size=len(order_idx))
    level = per["price"].to_numpy(dtype=float)[account]
    unit_price = np.maximum(np.round(list_prices[product] * level * noise, 2), 0.01)
    return {
        "order_idx": order_idx,
        "product": product,
        "quantity": quantity.astype("float64"),
        "unit_price": unit_price,
    }


def make_b2b_accounts(
    n_accounts: int = 1500, *, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """SYNTHETIC B2B accounts (firmographics) and invoice lines with planted segments.

    Segments (:data:`B2B_SEGMENTS`): ``strategic`` (10 %: large companies with
    service contracts, negotiated prices, frequent large orders across most of the
    catalogue), ``growth`` (25 %: mid-sized, recently signed accounts whose orders
    ramp up over the period, some with small contracts), ``transactional`` (40 %:
    small companies ordering a few products almost fortnightly in small baskets via
    the portal, no contract) and ``dormant`` (25 %: mixed sizes, few orders, falling
    off and stopping within the first 25-40 % of the two-year period). About 2 % of the
    lines are credit notes (invoice ids starting with ``C``, negative quantity), as
    in a raw ERP export; the cleaning step sets them aside as returns.

    Parameters
    ----------
    n_accounts : int
        Number of accounts.
    seed : int
        Seed of the random generator: the same seed gives identical output.

    Returns
    -------
    accounts : DataFrame
        One row per account: ``account_id`` (str), ``industry``, ``company_size``
        (band, str: 1-10 < 11-50 < 51-200 < 201-1000 < 1000+), ``annual_revenue``
        and ``contract_value`` (float64, currency units), ``region`` (str),
        ``signup_date`` (datetime64[ns]). Some ``industry`` and ``annual_revenue``
        values are missing, as in real CRM data.
    transactions : DataFrame
        Raw-style invoice lines: ``invoice_id``, ``invoice_date``, ``account_id``,
        ``sku``, ``category``, ``channel`` (str), ``quantity``, ``unit_price``
        (float64). Period 2023-01-01 to 2024-12-31.
    truth : Series
        Planted segment per account, indexed by ``account_id``.
    """
    _check_n("n_accounts", n_accounts)
    rng = np.random.default_rng(seed)
    names = list(B2B_SEGMENTS)
    seg = _segment_sizes([B2B_SEGMENTS[s]["share"] for s in names], n_accounts, rng)
    ids = np.array([f"A{i:05d}" for i in range(1, n_accounts + 1)])
    size = np.empty(n_accounts, dtype=object)
    industry = np.empty(n_accounts, dtype=object)
    region = np.empty(n_accounts, dtype=object)
    channel = np.empty(n_accounts, dtype=object)
    revenue = np.empty(n_accounts)
    contract = np.empty(n_accounts)
    signup_year = np.empty(n_accounts, dtype=np.int64)
    for k, name in enumerate(names):
        spec = B2B_SEGMENTS[name]
        rows = np.flatnonzero(seg == k)
        n = len(rows)
        size[rows] = rng.choice(_SIZES, p=spec["sizes"], size=n)
        industry[rows] = rng.choice(_INDUSTRIES, p=spec["industries"], size=n)
        region[rows] = rng.choice(_REGIONS, p=spec["regions"], size=n)
        channel[rows] = rng.choice(_CHANNELS, p=spec["channels"], size=n)
        mu, sigma = spec["rev"]
        revenue[rows] = np.round(rng.lognormal(mu, sigma, size=n), -3)
        low, high = spec["contract"]
        signed = rng.random(n) < spec["contracted"]
        contract[rows] = signed * np.round(
            revenue[rows] * rng.uniform(low, high, size=n), -2
        )
        first, last = spec["signup"]
        signup_year[rows] = rng.integers(first, last + 1, size=n)
    industry[rng.random(n_accounts) < 0.03] = None
    revenue[rng.random(n_accounts) < 0.05] = np.nan
    period_start, period_days = pd.Timestamp("2023-01-01"), 731
    signup = pd.to_datetime(
        pd.Series(signup_year).astype(str) + "-01-01"
    ) + pd.to_timedelta(rng.integers(0, 365, size=n_accounts), unit="D")
    accounts = pd.DataFrame(
        {
            "account_id": pd.array(ids, dtype="str"),
            "industry": pd.array(industry, dtype="str"),
            "company_size": pd.array(size, dtype="str"),
            "annual_revenue": revenue,
            "contract_value": contract,
            "region": pd.array(region, dtype="str"),
            "signup_date": np.asarray(signup, dtype="datetime64[ns]"),
        }
    )
    spec = pd.DataFrame([B2B_SEGMENTS[s] for s in names])
    per = spec.iloc[seg].reset_index(drop=True)
    # ordering window per account: growth accounts start late, dormant ones stop early
    lo = per["late"].to_numpy(dtype=float) * rng.random(n_accounts)
    end = np.array(per["end"].tolist(), dtype=float)
    hi = rng.uniform(end[:, 0], end[:, 1])
    n_orders = rng.poisson(per["orders"].to_numpy(dtype=float)) + 1
    owner = np.repeat(np.arange(n_accounts), n_orders)
    # u ** shape: shape < 1 piles orders up late (rising), > 1 early (falling)
    share = rng.random(len(owner)) ** per["shape"].to_numpy(dtype=float)[owner]
    frac = lo[owner] + (hi - lo)[owner] * share
    days = np.minimum(np.floor(frac * period_days), period_days - 1)
    hours = rng.integers(8, 18, size=len(owner))
    when = period_start + pd.to_timedelta(days, unit="D") + pd.to_timedelta(hours, "h")
    list_prices = np.round(rng.lognormal(3.5, 1.0, size=120), 2)
    lines = _b2b_lines(
        rng,
        owner=owner,
        per=per,
        first_product=rng.integers(0, len(list_prices), size=n_accounts),
        list_prices=list_prices,
    )
    oi = lines["order_idx"]
    order_time = np.asarray(when, dtype="datetime64[ns]")
    chrono = np.argsort(order_time, kind="stable")
    number = np.empty(len(owner), dtype=np.int64)
    number[chrono] = np.arange(100_001, 100_001 + len(owner))
    invoice = number.astype(str).astype(object)[oi]
    quantity = lines["quantity"].copy()
    credit = rng.random(len(oi)) < 0.02
    invoice[credit] = np.char.add("C", invoice[credit].astype(str))
    quantity[credit] = -np.ceil(quantity[credit] / 2)
    transactions = pd.DataFrame(
        {
            "invoice_id": pd.array(invoice, dtype="str"),
            "invoice_date": order_time[oi],
            "account_id": pd.array(ids[owner[oi]], dtype="str"),
            "sku": pd.array(
                _labels("SKU-", 3, len(list_prices), 0)[lines["product"]], dtype="str"
            ),
            "category": pd.array(_CATEGORIES[lines["product"] % 4], dtype="str"),
            "channel": pd.array(channel[owner[oi]], dtype="str"),
            "quantity": quantity,
            "unit_price": lines["unit_price"],
        }
    )
    transactions = transactions.sort_values(
        ["invoice_date", "invoice_id"], kind="stable", ignore_index=True
    )
    truth = pd.Series(
        pd.array(np.array(names)[seg], dtype="str"),
        index=pd.Index(ids, name="account_id", dtype="str"),
        name="segment",
    )
    return accounts, transactions, truth


def make_customer_features(
    n_customers: int, *, n_segments: int = 4, seed: int = 0, n_features: int = 6
) -> tuple[pd.DataFrame, pd.Series]:
    """SYNTHETIC numeric per-customer features: Gaussian blobs, one per segment.

    Segment centres are drawn at least 6 standard deviations apart on every pair,
    so any reasonable clustering recovers them (adjusted Rand index near 1).

    Parameters
    ----------
    n_customers : int
        Number of customers (rows).
    n_segments : int
        Number of planted segments (blobs).
    seed : int
        Seed of the random generator: the same seed gives identical output.
    n_features : int
        Number of numeric columns ``f0``, ``f1``, ...

    Returns
    -------
    features : DataFrame
        Index ``customer_id`` (str), float64 columns ``f0`` .. ``f{n_features-1}``.
    truth : Series
        Planted segment (int 0..n_segments-1) per customer, named ``segment``.
    """
    _check_n("n_customers", n_customers)
    _check_n("n_segments", n_segments)
    _check_n("n_features", n_features)
    rng = np.random.default_rng(seed)
    centres = np.zeros((n_segments, n_features))
    for k in range(1, n_segments):
        for _ in range(1000):
            candidate = rng.uniform(-10, 10, size=n_features)
            if np.min(np.linalg.norm(centres[:k] - candidate, axis=1)) >= 6.0:
                break
        centres[k] = candidate
    seg = _segment_sizes(np.ones(n_segments), n_customers, rng)
    values = centres[seg] + rng.normal(size=(n_customers, n_features))
    index = pd.Index(
        [f"C{i:06d}" for i in range(1, n_customers + 1)], name="customer_id"
    )
    features = pd.DataFrame(
        values, index=index, columns=[f"f{j}" for j in range(n_features)]
    )
    return features, pd.Series(seg.astype("int64"), index=index, name="segment")


#: Files written by :func:`write_b2b`, by role.
B2B_FILES = {
    "accounts": "b2b_accounts.csv.gz",
    "transactions": "b2b_transactions.csv.gz",
    "truth": "b2b_truth.csv.gz",
}


def write_b2b(out: str | Path, *, n_accounts: int = 1500, seed: int = 0) -> list[Path]:
    """Write the synthetic B2B files as deterministic gzip CSVs (gzip mtime 0).

    Parameters
    ----------
    out : str or Path
        Folder to write to (created if needed).
    n_accounts, seed : int
        Passed to :func:`make_b2b_accounts`.

    Returns
    -------
    list of Path
        The files written (see :data:`B2B_FILES`).
    """
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    accounts, transactions, truth = make_b2b_accounts(n_accounts, seed=seed)
    frames = {
        "accounts": accounts.assign(signup_date=accounts["signup_date"].dt.date),
        "transactions": transactions,
        "truth": truth.reset_index(),
    }
    written = []
    for role, frame in frames.items():
        path = folder / B2B_FILES[role]
        frame.to_csv(
            path,
            index=False,
            date_format="%Y-%m-%d %H:%M:%S",
            lineterminator="\n",
            compression={"method": "gzip", "mtime": 0},
        )
        written.append(path)
        logger.info("wrote %s (%d rows)", path, len(frame))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m segkit.datasets b2b --out data/synthetic/``."""
    parser = argparse.ArgumentParser(
        prog="python -m segkit.datasets",
        description="Write SYNTHETIC data sets (made-up customers, planted segments).",
    )
    parser.add_argument("dataset", choices=["b2b"], help="which data set to write")
    parser.add_argument("--out", default="data/synthetic", help="output folder")
    parser.add_argument("--n", type=int, default=1500, help="number of accounts")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args(argv)
    for path in write_b2b(args.out, n_accounts=args.n, seed=args.seed):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
