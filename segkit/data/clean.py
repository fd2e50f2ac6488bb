"""Documented cleaning rules for transactions, with a ledger of everything removed.

Rules run in this order, each on the rows the earlier rules kept, and each can be
switched off in the config (``cleaning.<rule>: false``):

==================== =======================================================
rule                 removes
==================== =======================================================
missing_customer_id  lines without a customer id (they cannot be attributed)
cancellations        lines whose order id starts with ``cleaning.cancellation_prefix``
                     (Online Retail: ``C``); set aside as *returns*
negative_quantity    remaining lines with quantity < 0 (or amount < 0 when the
                     source has only an amount); set aside as *returns*
nonpositive_price    lines with unit price <= 0 (free samples, bad-debt
                     adjustments), or amount <= 0 when there is no price
non_product          lines whose product id is a fee, postage, discount or
                     manual adjustment (``cleaning.non_product_codes`` and
                     ``cleaning.non_product_prefixes``)
duplicates           exact repeats of an earlier line (every column equal)
after_as_of          lines on or after ``as_of`` (the analysis date)
==================== =======================================================

The ledger has one row per rule with the rows and the order-line value (sum of
``amount``, signed: cancellations carry negative values) it removed, framed by a
``raw`` row and a ``kept`` row, so that ``raw = kept + sum(removed)`` holds exactly.

Without an order id (``transactions.columns.order_id`` not mapped), each customer's
lines on one timestamp form one order (:func:`segkit.data.io.order_ids`: id
``<customer_id>|<timestamp>``), added as ``order_id`` to the kept lines and the
returns. The ``cancellations`` rule reads a prefix of the order id, so it is skipped:
its ledger row removes 0 lines and says why, and :attr:`CleanResult.notes` says so
too (returns are then found by ``negative_quantity`` alone).

:func:`default_as_of` is the one definition of the default analysis date (the day
after the last transaction), for pandas frames, Parquet files and Ibis tables alike;
every later stage imports it from here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from segkit.config_sections import CleaningSettings
from segkit.data.io import order_ids
from segkit.exceptions import DataError

__all__ = [
    "RULES",
    "CANCELLATIONS_SKIPPED",
    "CleanResult",
    "clean_transactions",
    "default_as_of",
]

#: Rule name -> description shown in the ledger and the report.
RULES: dict[str, str] = {
    "missing_customer_id": "no customer id: the line cannot be attributed to a customer",
    "cancellations": "cancellation or return invoice (order id prefix); kept aside as returns",
    "negative_quantity": "negative quantity without a cancellation prefix; kept aside as returns",
    "nonpositive_price": "unit price zero or negative (free items, bad-debt adjustments)",
    "non_product": "not a product: postage, fees, discounts, manual adjustments",
    "duplicates": "exact duplicate of an earlier line (every column equal)",
    "after_as_of": "dated on or after as_of, the analysis date",
}
#: Ledger description of ``cancellations`` when the data have no order id.
CANCELLATIONS_SKIPPED = (
    "skipped: the data have no order id, so no invoice prefix marks a cancellation "
    "(returns are found by negative quantity)"
)


@dataclass
class CleanResult:
    """Output of :func:`clean_transactions`.

    Attributes
    ----------
    transactions : DataFrame
        The kept sales lines (canonical columns).
    returns : DataFrame
        Cancellation / return lines of known customers before ``as_of``, with
        positive ``quantity`` and ``amount`` (the value returned).
    ledger : DataFrame
        Columns ``rule, description, rows, value, rows_after``.
    as_of : datetime.date
        The analysis date used.
    notes : list of str
        Decisions a reviewer should know about (a rule skipped for lack of an
        order id); the data step adds them to ``read_notes.json``.
    """

    transactions: pd.DataFrame
    returns: pd.DataFrame
    ledger: pd.DataFrame
    as_of: dt.date
    notes: list[str] = field(default_factory=list)


def default_as_of(transactions: Any) -> dt.date:
    """The day after the last transaction (so the last day counts in full).

    The one definition of segkit's default analysis date, used by the data,
    features and scoring steps (``segkit.features.behaviour`` re-exports it).

    Parameters
    ----------
    transactions : DataFrame, Parquet path or ibis.Table
        Transactions with a ``timestamp`` column. A path reads that column only; an
        Ibis table is asked for its maximum where it lives (DuckDB, Spark, ...).

    Returns
    -------
    datetime.date
        The date of the newest timestamp plus one day.

    Raises
    ------
    DataError
        No ``timestamp`` column, or no line has a timestamp.
    """
    if isinstance(transactions, pd.DataFrame):
        columns = list(transactions.columns)
    elif isinstance(transactions, str | Path):
        import pyarrow.parquet as pq

        columns = pq.read_schema(transactions).names
    else:
        columns = list(getattr(transactions, "columns", []))
    if "timestamp" not in columns:
        raise DataError(
            f"transactions have no 'timestamp' column (columns: {columns}); map "
            "transactions.columns.timestamp in the config, or pass the canonical "
            "frame of the data step"
        )
    if isinstance(transactions, pd.DataFrame):
        last = transactions["timestamp"].max()
    elif isinstance(transactions, str | Path):
        last = pd.read_parquet(transactions, columns=["timestamp"])["timestamp"].max()
    else:  # an Ibis table: one aggregate query on its backend
        last = transactions.timestamp.max().execute()
    if last is None or pd.isna(last):
        raise DataError(
            "no transaction has a timestamp, so there is no last transaction to date "
            "the analysis from; check transactions.columns.timestamp and the cleaning "
            "ledger, or set as_of in the config"
        )
    return (pd.Timestamp(last) + pd.Timedelta(days=1)).date()


def _product_mask(
    frame: pd.DataFrame, codes: list[str], prefixes: list[str]
) -> pd.Series:
    if "product_id" not in frame.columns:
        return pd.Series(False, index=frame.index)
    product = frame["product_id"].astype("str").str.strip()
    mask = product.isin(set(codes))
    for prefix in prefixes:
        mask |= product.str.startswith(prefix)
    return mask.fillna(False).astype(bool)


def clean_transactions(
    transactions: pd.DataFrame,
    *,
    rules: CleaningSettings | Mapping[str, Any],
    as_of: dt.date | None = None,
    min_customers: int = 2,
) -> CleanResult:
    """Apply the cleaning rules and account for every removed line.

    Parameters
    ----------
    transactions : DataFrame
        Canonical transactions (see :func:`segkit.data.io.to_canonical`): needs
        ``customer_id, timestamp, quantity, unit_price, amount``; ``order_id`` when
        the source has one (without it, orders are formed per customer and
        timestamp and the ``cancellations`` rule is skipped, see the module notes).
    rules : CleaningSettings or mapping
        The config's ``cleaning`` section; a plain mapping gets the defaults of
        :class:`segkit.config.CleaningSettings` for the keys it lacks.
    as_of : date, optional
        Analysis date; lines on or after it are removed. Default: the day after the
        last transaction.
    min_customers : int
        Fewest customers that may be left. 2 (the default) for a segmentation;
        scoring passes 1, since one new customer can be scored.

    Returns
    -------
    CleanResult
        Kept lines, returns (both with ``order_id``), the ledger, the ``as_of``
        used and the notes. The input is not modified.
    """
    needed = {
        "customer_id",
        "timestamp",
        "quantity",
        "unit_price",
        "amount",
    }
    missing = sorted(needed - set(transactions.columns))
    if missing:
        raise DataError(
            f"clean_transactions needs the canonical columns {missing}; build the frame "
            "with segkit.data.io.load_transactions or segkit.data.io.to_canonical"
        )
    if as_of is None:
        as_of = default_as_of(transactions)
    first = transactions["timestamp"].min()
    if pd.notna(first) and pd.Timestamp(as_of) <= first:
        raise DataError(
            f"as_of {as_of} is on or before the first transaction ({first.date()}); "
            "set as_of in the config to a date after the data starts, or remove it to "
            "use the day after the last transaction"
        )
    rules = CleaningSettings.of(rules)
    frame = transactions.copy()
    notes: list[str] = []
    has_order_id = "order_id" in frame.columns
    if not has_order_id:
        frame.insert(1, "order_id", order_ids(frame))
    has_price = frame["unit_price"].notna().any()
    rows: list[dict[str, Any]] = [
        {
            "rule": "raw",
            "description": "order lines read from the file",
            "rows": len(frame),
            "value": float(frame["amount"].sum()),
        }
    ]
    returns = []

    def remove(
        rule: str,
        mask: pd.Series,
        *,
        keep_as_return: bool = False,
        description: str | None = None,
    ) -> None:
        nonlocal frame
        if not rules[rule]:
            return
        mask = mask.fillna(False).astype(bool)
        removed = frame[mask]
        if keep_as_return:
            returns.append(removed)
        rows.append(
            {
                "rule": rule,
                "description": description or RULES[rule],
                "rows": len(removed),
                "value": float(removed["amount"].sum()),
            }
        )
        frame = frame[~mask]

    remove("missing_customer_id", frame["customer_id"].isna())
    prefix = rules.cancellation_prefix
    if has_order_id:
        cancelled = (
            frame["order_id"].str.startswith(prefix)
            if prefix
            else pd.Series(False, index=frame.index)
        )
        remove("cancellations", cancelled, keep_as_return=True)
    else:
        nothing = pd.Series(False, index=frame.index)
        remove("cancellations", nothing, description=CANCELLATIONS_SKIPPED)
        if rules.cancellations:
            notes.append(
                "Cleaning rule 'cancellations' skipped: without an order id no "
                "invoice prefix marks a cancellation; returns are the lines with a "
                "negative quantity (rule 'negative_quantity')."
            )
    signed = frame["quantity"] if has_price else frame["amount"]
    remove("negative_quantity", signed < 0, keep_as_return=True)
    price = frame["unit_price"] if has_price else frame["amount"]
    remove("nonpositive_price", price <= 0)
    remove(
        "non_product",
        _product_mask(
            frame,
            rules.non_product_codes,
            rules.non_product_prefixes,
        ),
    )
    remove("duplicates", frame.duplicated(keep="first"))
    cutoff = pd.Timestamp(as_of)
    remove("after_as_of", frame["timestamp"] >= cutoff)

    ledger = pd.DataFrame(rows)
    ledger = pd.concat(
        [
            ledger,
            pd.DataFrame(
                [
                    {
                        "rule": "kept",
                        "description": "clean sales lines used for features",
                        "rows": len(frame),
                        "value": float(frame["amount"].sum()),
                    }
                ]
            ),
        ],
        ignore_index=True,
    )
    ledger["rows"] = ledger["rows"].astype("int64")
    removed_rows = ledger["rows"].where(~ledger["rule"].isin(["raw", "kept"]), 0)
    ledger["rows_after"] = (int(ledger.loc[0, "rows"]) - removed_rows.cumsum()).astype(
        "int64"
    )
    removed = ledger.iloc[1:-1]
    assert int(ledger.loc[0, "rows"]) == len(frame) + int(removed["rows"].sum())

    if frame.empty:
        raise DataError(
            "no transactions are left after cleaning (see the ledger); check the "
            "column mapping and the cleaning rules in the config"
        )
    n_customers = frame["customer_id"].nunique()
    if n_customers < min_customers:
        raise DataError(
            f"only {n_customers} customer is left after cleaning; a segmentation needs "
            "many customers: check transactions.columns.customer_id and the data"
        )
    returned = pd.concat(returns) if returns else frame.iloc[0:0]
    returned = returned[returned["timestamp"] < cutoff].copy()
    returned["quantity"] = returned["quantity"].abs()
    returned["amount"] = returned["amount"].abs()
    return CleanResult(
        transactions=frame.reset_index(drop=True),
        returns=returned.reset_index(drop=True),
        ledger=ledger,
        as_of=as_of,
        notes=notes,
    )
