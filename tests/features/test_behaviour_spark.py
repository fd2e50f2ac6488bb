"""The same Ibis feature expressions on PySpark (local mode) equal the DuckDB result."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from segkit.features.behaviour import compute_features, connect

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    # PySpark 4 warns that it does not fully support pandas 3; our frames are simple.
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support"),
]

import pyspark  # noqa: E402,F401  (a dev dependency: missing pyspark must fail, not skip)

AS_OF = dt.date(2021, 7, 1)


@pytest.fixture(scope="module")
def spark_con():
    con = connect("pyspark")
    yield con
    con.disconnect()


def _hand_made() -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = [
        ("A", "a1", "2021-01-10 10:00", "p1", 2.0, 5.0),
        ("A", "a1", "2021-01-10 10:00", "p2", 1.0, 10.0),
        ("A", "a2", "2021-04-10 12:00", "p1", 4.0, 5.0),
        ("A", "a3", "2021-06-30 23:59", "p3", 1.0, 40.0),
        ("B", "b1", "2021-06-01 00:00", "p1", 10.0, 5.0),
        ("B", "b2", "2021-07-01 00:00", "p1", 200.0, 5.0),
        ("C", "c1", "2021-03-01 09:00", "p2", 3.0, 10.0),
        ("C", "c2", "2021-03-01 17:00", "p2", 1.0, 10.0),
        ("D", "d1", "2021-05-05 10:00", "p1", 1.0, 0.0),
    ]
    returns = [("A", "Ca9", "2021-05-01 10:00", "p1", 4.0, 5.0)]
    cols = [
        "customer_id",
        "order_id",
        "timestamp",
        "product_id",
        "quantity",
        "unit_price",
    ]
    frames = []
    for data in (rows, returns):
        frame = pd.DataFrame(data, columns=cols)
        frame["timestamp"] = pd.to_datetime(frame["timestamp"])
        frame["amount"] = frame["quantity"] * frame["unit_price"]
        frames.append(frame)
    return frames[0], frames[1]


def _synthetic(n_lines: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    customer = rng.integers(0, 150, n_lines)
    order = customer * 100 + rng.integers(0, 8, n_lines)
    start = pd.Timestamp("2020-01-01").value
    # Each order gets one timestamp; spread over 18 months, to the second.
    order_ts = {
        o: start + int(rng.integers(0, 540 * 86400)) * 10**9 for o in np.unique(order)
    }
    frame = pd.DataFrame(
        {
            "customer_id": [f"{c:05d}" for c in customer],
            "order_id": order.astype("str"),
            "timestamp": pd.to_datetime([order_ts[o] for o in order]),
            "product_id": [f"p{p}" for p in rng.integers(0, 40, n_lines)],
            "quantity": rng.integers(1, 12, n_lines).astype("float64"),
            "unit_price": rng.choice([0.85, 1.25, 2.1, 4.95, 12.75], n_lines),
        }
    )
    frame["amount"] = frame["quantity"] * frame["unit_price"]
    returns = frame.sample(frac=0.05, random_state=seed).assign(
        order_id=lambda f: "C" + f["order_id"]
    )
    return frame, returns


@pytest.mark.parametrize(
    "data", [_hand_made, _synthetic], ids=["hand-made", "synthetic"]
)
def test_pyspark_features_equal_duckdb_features(spark_con, data):
    transactions, returns = data()
    duck = compute_features(transactions, returns, as_of=AS_OF, backend="duckdb")
    spark = compute_features(transactions, returns, as_of=AS_OF, backend=spark_con)
    assert len(duck) > 2
    pd.testing.assert_frame_equal(spark, duck, check_exact=False, rtol=1e-9)


def test_pyspark_reads_the_parquet_artifact(spark_con, tmp_path):
    transactions, returns = _hand_made()
    path = tmp_path / "transactions.parquet"
    transactions.to_parquet(path)
    duck = compute_features(transactions, returns, as_of=AS_OF)
    spark = compute_features(str(path), returns, as_of=AS_OF, backend=spark_con)
    pd.testing.assert_frame_equal(spark, duck, check_exact=False, rtol=1e-9)


def test_pyspark_without_order_id_equals_duckdb(spark_con):
    transactions, returns = _hand_made()
    purchases = transactions.drop(columns="order_id")
    duck = compute_features(purchases, returns, as_of=AS_OF, backend="duckdb")
    spark = compute_features(purchases, returns, as_of=AS_OF, backend=spark_con)
    assert duck.loc["A", "frequency"] == 3  # a1's two lines share one timestamp
    pd.testing.assert_frame_equal(spark, duck, check_exact=False, rtol=1e-9)
