"""Per-customer behavioural and value features, written once as Ibis expressions.

The same expression (:func:`behaviour_expr`) runs on DuckDB (the embedded default)
and on PySpark or any other Ibis backend, so a user whose transactions live in Spark
or a warehouse computes the features where the data is. Transactions are never pulled
into pandas before they are aggregated: only the one-row-per-customer result is.

Inputs are the canonical frames of ``docs/architecture.md``: clean transactions
(``customer_id``, ``timestamp``, ``amount``; optionally ``order_id``, ``quantity``,
``unit_price``, ``product_id``) and the returns set aside by cleaning (same columns,
``amount`` = the returned value as a positive number).

Without an ``order_id`` column (one row per purchase), each customer's lines on one
timestamp form one order -- the rule of :func:`segkit.data.io.order_ids`, which
cleaning uses to write the ids -- so frequency and the basket features stay defined.

Conventions (also in :data:`FEATURE_DEFINITIONS`):

- The window is every line strictly before ``as_of`` (a date; midnight). An order's
  time is the timestamp of its first line. Day counts are calendar days between
  the order's date and ``as_of``, so an order the day before ``as_of`` is 1 day old.
- **frequency** counts distinct orders, the first one included (the RFM convention),
  not the "repeat purchases" of BG/NBD-style CLV models (distinct purchase periods
  minus one): we describe customers, we do not forecast them, and an order count is
  what the business reads.
- **monetary** is the *total net* revenue of the window: sales value minus the value
  the customer returned in the window, floored at 0. CLV models use the mean order
  value instead; that is :data:`avg_order_value` here.
- Customers whose sales value in the window is zero or negative (possible only with
  amount-only sources whose cleaning kept such lines) are left out and counted in the
  notes: there is no purchase behaviour to describe.
- One-order customers have no interpurchase gap; their ``mean_interpurchase_days`` is
  the days since their only order (the gap observed so far without a repeat, a lower
  bound on the true one), so the feature is never NaN.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from segkit.dates import parse_date
from segkit.exceptions import DataError, SchemaError
from segkit.features.definitions import FEATURE_DEFINITIONS, feature_definitions

__all__ = [
    "FEATURE_DEFINITIONS",
    "as_table",
    "behaviour_expr",
    "compute_features",
    "compute_features_with_notes",
    "connect",
    "feature_definitions",
]

logger = logging.getLogger(__name__)

_REQUIRED = ("customer_id", "timestamp", "amount")
_RETURNS_REQUIRED = ("customer_id", "timestamp", "amount")
# Counts and day numbers are int64 in the result; every other feature is float64.
_INTEGER = frozenset(
    ["recency_days", "frequency", "tenure_days", "distinct_products", "active_months"]
)


def connect(backend: str | Any = "duckdb") -> Any:
    """Return an Ibis connection for ``backend``.

    Parameters
    ----------
    backend : {"duckdb", "pyspark"} or an Ibis backend
        ``"duckdb"`` opens an in-memory DuckDB; ``"pyspark"`` attaches to the active
        Spark session or starts ``local[1]`` with the session time zone set to UTC
        (timestamps are naive; UTC keeps them unshifted); a connected Ibis backend
        is returned as is.
    """
    if not isinstance(backend, str):
        return backend
    if backend == "duckdb":
        # One thread: DuckDB's parallel sums add in a varying order, so a rerun
        # differed in the last bits (monetary by up to 1.5e-11) and no artifact was
        # reproducible byte for byte; the features step is seconds either way.
        return ibis.duckdb.connect(threads=1)
    if backend == "pyspark":
        from pyspark.sql import SparkSession

        session = (
            SparkSession.builder.master("local[1]")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            .getOrCreate()
        )
        return ibis.pyspark.connect(session)
    raise SchemaError(
        f"backend {backend!r} is not known; use 'duckdb', 'pyspark' or pass a "
        "connected Ibis backend (e.g. ibis.pyspark.connect(spark))"
    )


def _as_date(value: Any, where: str = "as_of") -> dt.date:
    parsed = parse_date("" if value is None else value, where=where)
    if parsed is None:
        raise DataError(f"{where} is None; give a date, e.g. as_of='2011-12-10'")
    return parsed


def _table(data: Any, con: Any, what: str) -> ir.Table:
    """An Ibis table for a pandas frame, a Parquet path or an Ibis table."""
    if isinstance(data, ir.Table):
        return data
    if isinstance(data, pd.DataFrame):
        return ibis.memtable(data)
    if isinstance(data, str | Path):
        path = Path(data)
        if not path.exists():
            raise SchemaError(
                f"{what} file {str(path)!r} does not exist; run the data step first "
                "or pass the path of a Parquet file with the canonical columns"
            )
        return con.read_parquet(str(path))
    raise SchemaError(
        f"{what} is a {type(data).__name__}; pass a pandas DataFrame, a Parquet "
        "path or an Ibis table"
    )


def as_table(data: Any, con: Any, what: str = "transactions") -> ir.Table:
    """An Ibis table on ``con`` for a pandas frame, a Parquet path or an Ibis table
    (the inputs :func:`compute_features` accepts)."""
    return _table(data, con, what)


def _check_columns(table: ir.Table, required: tuple[str, ...], what: str) -> None:
    columns = list(table.columns)
    missing = [c for c in required if c not in columns]
    if missing:
        raise SchemaError(
            f"column(s) {missing} not found in {what} (columns: {columns}); map them "
            f"with transactions.columns in the config (roles {list(required)} are "
            "needed) or pass the canonical frame of the data step"
        )
    schema = table.schema()
    if not schema["timestamp"].is_timestamp():
        raise SchemaError(
            f"column 'timestamp' of {what} has type {schema['timestamp']}, not a "
            "timestamp; parse it first (segkit.data.io does this when the role is mapped)"
        )
    if not schema["amount"].is_numeric():
        raise SchemaError(
            f"column 'amount' of {what} has type {schema['amount']}, not a number; "
            "map transactions.columns.amount to the numeric order-line value"
        )


def behaviour_expr(
    tx: ir.Table, returns: ir.Table | None = None, *, as_of: dt.date | str
) -> ir.Table:
    """Build the per-customer behavioural feature expression (no execution).

    Parameters
    ----------
    tx : ibis.Table
        Clean transactions with ``customer_id``, ``timestamp`` (timestamp) and
        ``amount`` (numeric); ``order_id``, ``quantity``, ``unit_price`` and
        ``product_id`` are used when present. Without ``order_id`` a customer's
        lines on one timestamp are one order.
    returns : ibis.Table, optional
        Returned or cancelled lines (``customer_id``, ``timestamp``, ``amount`` as a
        positive returned value). None: no returns, ``return_rate`` is 0.
    as_of : date or "YYYY-MM-DD"
        Analysis date; lines at or after its midnight are ignored.

    Returns
    -------
    ibis.Table
        One row per customer with any line before ``as_of``: ``customer_id``
        (string), ``gross_value`` (sales before returns, used by the zero-value rule
        of :func:`compute_features`) and the features of
        :data:`FEATURE_DEFINITIONS` whose source columns exist.
    """
    as_of = _as_date(as_of)
    _check_columns(tx, _REQUIRED, "transactions")
    columns = set(tx.columns)
    as_of_date = ibis.date(as_of)
    cutoff = ibis.timestamp(dt.datetime.combine(as_of, dt.time()))

    # One pass over the lines builds the orders; everything else works on orders.
    # An order's time is its first line's timestamp. Lines without a customer id
    # (removed by cleaning anyway) describe no one and are skipped.
    before = (tx.timestamp < cutoff) & tx.customer_id.notnull()
    lines = tx.filter(before)
    order_aggs: dict[str, Any] = {
        "ts": lines.timestamp.min(),
        "value": lines.amount.cast("float64").sum(),
    }
    if "quantity" in columns:
        order_aggs["items"] = lines.quantity.cast("float64").sum()
    if "unit_price" in columns:
        order_aggs["price_sum"] = lines.unit_price.cast("float64").sum()
        order_aggs["price_lines"] = lines.unit_price.count()
    order_key = (
        lines.order_id.cast("string") if "order_id" in columns else lines.timestamp
    )
    orders = lines.group_by(
        customer_id=lines.customer_id.cast("string"), order_id=order_key
    ).agg(**order_aggs)
    orders = orders.mutate(
        days_ago=as_of_date.delta(orders.ts.date(), unit="day"),
        month=orders.ts.year() * 12 + orders.ts.month(),
        quarter=orders.ts.quarter(),
    )
    customer_aggs: dict[str, Any] = {
        "frequency": orders.count(),
        "gross_value": orders.value.sum(),
        "recency_days": orders.days_ago.min(),
        "tenure_days": orders.days_ago.max(),
        "active_months": orders.month.nunique(),
    }
    if "quantity" in columns:
        customer_aggs["items"] = orders["items"].sum()
    if "unit_price" in columns:
        customer_aggs["avg_unit_price"] = orders.price_sum.sum() / ibis.ifelse(
            orders.price_lines.sum() > 0, orders.price_lines.sum(), ibis.null("int64")
        ).cast("float64")
    customers = orders.group_by("customer_id").agg(**customer_aggs)

    # Revenue trend: orders in the recent vs the earlier half of first..last order.
    span = orders.join(
        customers.select("customer_id", "recency_days", "tenure_days"), "customer_id"
    )
    mid = (span.recency_days + span.tenure_days) / 2.0
    recent = span.days_ago <= mid
    halves = span.group_by("customer_id").agg(
        recent_value=ibis.ifelse(recent, span.value, 0.0).sum(),
        earlier_value=ibis.ifelse(recent, 0.0, span.value).sum(),
    )
    # Seasonality: strongest calendar quarter.
    by_quarter = orders.group_by(["customer_id", "quarter"]).agg(
        value=orders.value.sum()
    )
    quarters = by_quarter.group_by("customer_id").agg(
        top_quarter_value=by_quarter.value.max()
    )
    joined = customers.join(halves, "customer_id").join(quarters, "customer_id")
    if "product_id" in columns:
        # A narrow second scan (three columns), not a reuse of the order lines.
        products = tx.select("customer_id", "product_id", "timestamp").filter(before)
        distinct = products.group_by(
            customer_id=products.customer_id.cast("string")
        ).agg(distinct_products=products.product_id.nunique())
        joined = joined.join(distinct, "customer_id")
    if returns is not None:
        _check_columns(returns, _RETURNS_REQUIRED, "returns")
        kept = returns.filter(returns.timestamp < cutoff)
        kept = kept.mutate(customer_id=kept.customer_id.cast("string"))
        returned = kept.group_by("customer_id").agg(
            returned_value=kept.amount.cast("float64").sum()
        )
        joined = joined.left_join(returned, "customer_id").drop("customer_id_right")
        returned_value = joined.returned_value.fill_null(0.0)
    else:
        returned_value = ibis.literal(0.0)

    gross = joined.gross_value
    # Dividing by a NULL instead of 0 keeps every backend from raising on x / 0.
    safe_gross = ibis.ifelse(gross > 0, gross, ibis.null("float64"))
    halves_sum = joined.recent_value + joined.earlier_value
    trend = ibis.ifelse(
        (joined.tenure_days == joined.recency_days) | (halves_sum <= 0),
        0.0,
        (joined.recent_value - joined.earlier_value)
        / ibis.ifelse(halves_sum > 0, halves_sum, ibis.null("float64")),
    )
    gap = ibis.ifelse(
        joined.frequency > 1,
        (joined.tenure_days - joined.recency_days).cast("float64")
        / (joined.frequency - 1).cast("float64"),
        joined.tenure_days.cast("float64"),
    )
    out: dict[str, Any] = {
        "customer_id": joined.customer_id,
        "gross_value": gross,
        "recency_days": joined.recency_days.cast("int64"),
        "frequency": joined.frequency.cast("int64"),
        "monetary": ibis.greatest(gross - returned_value, 0.0),
        "tenure_days": joined.tenure_days.cast("int64"),
        "avg_order_value": gross / joined.frequency.cast("float64"),
    }
    if "quantity" in columns:
        out["items_per_order"] = joined["items"] / joined.frequency.cast("float64")
    if "product_id" in columns:
        out["distinct_products"] = joined.distinct_products.cast("int64")
    if "unit_price" in columns:
        out["avg_unit_price"] = joined.avg_unit_price
    out["return_rate"] = (returned_value / safe_gross).clip(lower=0.0, upper=1.0)
    out["mean_interpurchase_days"] = gap
    out["revenue_trend"] = trend.clip(lower=-1.0, upper=1.0)
    out["seasonality"] = (joined.top_quarter_value / safe_gross).clip(
        lower=0.0, upper=1.0
    )
    out["active_months"] = joined.active_months.cast("int64")
    return joined.select(**out)


def _span(
    tx: ir.Table, con: Any
) -> tuple[int, pd.Timestamp | None, pd.Timestamp | None]:
    """Rows, first and last timestamp of a transactions table (one small query)."""
    stats = tx.aggregate(
        rows=tx.count(), first=tx.timestamp.min(), last=tx.timestamp.max()
    )
    row = con.to_pandas(stats).iloc[0]
    first = None if pd.isna(row["first"]) else pd.Timestamp(row["first"])
    last = None if pd.isna(row["last"]) else pd.Timestamp(row["last"])
    return int(row["rows"]), first, last


def compute_features_with_notes(
    transactions: Any,
    returns: Any = None,
    *,
    as_of: dt.date | str | None,
    backend: str | Any = "duckdb",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Compute the behavioural features and the notes of the rules applied.

    Same parameters as :func:`compute_features`.

    Returns
    -------
    features : DataFrame
        See :func:`compute_features`.
    notes : DataFrame
        Columns ``source``, ``rule``, ``count``, ``detail``: customers left out by
        the zero-value rule, features omitted for lack of source data.
    """
    if isinstance(transactions, ir.Table):  # an engine's table runs on its engine
        backend = ibis.get_backend(transactions)
    con = connect(backend)
    tx = _table(transactions, con, "transactions")
    _check_columns(tx, _REQUIRED, "transactions")
    ret = None if returns is None else _table(returns, con, "returns")
    rows, first, last = _span(tx, con)
    if rows == 0 or first is None:
        raise DataError(
            "transactions have no rows, so no customer can be described; check the "
            "cleaning ledger (ledger.csv) for the rule that removed every line"
        )
    as_of = _as_date(as_of) if as_of is not None else last.date() + dt.timedelta(days=1)
    if pd.Timestamp(as_of) <= first:
        raise DataError(
            f"as_of {as_of.isoformat()} is not after the first transaction "
            f"({first.isoformat()}), so no line falls in the window; set as_of in the "
            f"config to a date after {first.date().isoformat()}"
        )
    expr = behaviour_expr(tx, ret, as_of=as_of)
    frame = con.to_pandas(expr)
    notes: list[dict[str, Any]] = []
    if frame.empty:
        raise DataError(
            f"no customer has a transaction before as_of {as_of.isoformat()}; set "
            "as_of later or check that customer_id is mapped"
        )
    frame = frame.assign(customer_id=frame["customer_id"].astype("str"))
    frame = frame.set_index("customer_id").sort_index()
    nonpositive = frame["gross_value"] <= 0
    if nonpositive.any():
        logger.warning(
            "%d customers with zero or negative sales value left out", nonpositive.sum()
        )
    notes.append(
        {
            "source": "features",
            "rule": "zero or negative sales value: customer left out",
            "count": int(nonpositive.sum()),
            "detail": "no purchase behaviour to describe (sales value <= 0 before as_of)",
        }
    )
    frame = frame.loc[~nonpositive].drop(columns="gross_value")
    if frame.empty:
        raise DataError(
            "every customer has zero or negative sales value before as_of; check that "
            "the amount (or quantity x unit_price) column holds sale values"
        )
    empty = [c for c in frame.columns if frame[c].isna().all()]
    for column in empty:
        notes.append(
            {
                "source": "features",
                "rule": f"feature {column} omitted",
                "count": 0,
                "detail": "its source column is empty (e.g. an amount-only source)",
            }
        )
    frame = frame.drop(columns=empty)
    for column in frame.columns:
        if column in _INTEGER:
            frame[column] = frame[column].astype("int64")
        else:
            frame[column] = frame[column].astype("float64")
    frame.index.name = "customer_id"
    frame.columns.name = None
    logger.info("features for %d customers as of %s", len(frame), as_of)
    return frame, pd.DataFrame(notes, columns=["source", "rule", "count", "detail"])


def compute_features(
    transactions: Any,
    returns: Any = None,
    *,
    as_of: dt.date | str | None,
    backend: str | Any = "duckdb",
) -> pd.DataFrame:
    """Compute the per-customer behavioural and value features.

    Parameters
    ----------
    transactions : DataFrame, Parquet path or ibis.Table
        Clean transactions in the canonical schema (``customer_id``,
        ``timestamp``, ``amount``; ``order_id``, ``quantity``, ``unit_price``,
        ``product_id`` optional; without ``order_id`` a customer's lines on one
        timestamp are one order). Never mutated; a path is scanned by the backend.
    returns : DataFrame, Parquet path or ibis.Table, optional
        Returned or cancelled lines (``customer_id``, ``timestamp``, ``amount`` =
        positive returned value).
    as_of : date, "YYYY-MM-DD" or None
        Analysis date; None means the day after the last transaction.
    backend : {"duckdb", "pyspark"} or an Ibis backend
        Where the expression runs (see :func:`connect`).

    Returns
    -------
    DataFrame
        Index ``customer_id`` (str, sorted); the columns of
        :data:`FEATURE_DEFINITIONS` whose source data exists (int64 counts and
        days, float64 otherwise). Customers with zero or negative sales value are
        left out (see :func:`compute_features_with_notes` for the count).

    Raises
    ------
    SchemaError
        A required column is missing or has the wrong type.
    DataError
        No rows, ``as_of`` not after the first transaction, or no customer left.
    """
    frame, _ = compute_features_with_notes(
        transactions, returns, as_of=as_of, backend=backend
    )
    return frame
