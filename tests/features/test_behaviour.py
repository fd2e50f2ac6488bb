"""Tests of segkit.features.behaviour: known answers, conventions, bad input, real data."""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd
import pytest

from segkit.data.clean import default_as_of
from segkit.exceptions import DataError, SchemaError
from segkit.features.behaviour import (
    FEATURE_DEFINITIONS,
    behaviour_expr,
    compute_features,
    compute_features_with_notes,
    feature_definitions,
)

AS_OF = dt.date(2021, 7, 1)


def _lines(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows,
        columns=[
            "customer_id",
            "order_id",
            "timestamp",
            "product_id",
            "quantity",
            "unit_price",
        ],
    )
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    frame["amount"] = frame["quantity"] * frame["unit_price"]
    return frame


@pytest.fixture
def three() -> pd.DataFrame:
    """Three customers; every expected number is worked out in test_known_answer."""
    return _lines(
        [
            # A: three orders (Jan, Apr, Jun), 80 of sales, 20 returned in May.
            ("A", "a1", "2021-01-10 10:00", "p1", 2.0, 5.0),
            ("A", "a1", "2021-01-10 10:00", "p2", 1.0, 10.0),
            ("A", "a2", "2021-04-10 12:00", "p1", 4.0, 5.0),
            ("A", "a3", "2021-06-30 18:00", "p3", 1.0, 40.0),
            # B: one order of 50 on 1 June; a line at as_of midnight is outside.
            ("B", "b1", "2021-06-01 09:00", "p1", 10.0, 5.0),
            ("B", "b2", "2021-07-01 00:00", "p1", 200.0, 5.0),
            # C: two orders on the same day (30 + 10).
            ("C", "c1", "2021-03-01 09:00", "p2", 3.0, 10.0),
            ("C", "c2", "2021-03-01 17:00", "p2", 1.0, 10.0),
        ]
    )


@pytest.fixture
def three_returns() -> pd.DataFrame:
    frame = _lines(
        [
            ("A", "Ca9", "2021-05-01 10:00", "p1", 4.0, 5.0),
            ("C", "Cc9", "2021-07-05 10:00", "p2", 3.0, 10.0),  # after as_of: ignored
        ]
    )
    return frame


def test_known_answer_features_on_three_customers(three, three_returns):
    got = compute_features(three, three_returns, as_of=AS_OF)
    expected = pd.DataFrame(
        {
            # A: last order 30 Jun -> 1 day; B: 1 Jun -> 30; C: 1 Mar -> 122.
            "recency_days": [1, 30, 122],
            "frequency": [3, 1, 2],
            # A: 80 sold - 20 returned; C's return is after as_of.
            "monetary": [60.0, 50.0, 40.0],
            # A: 10 Jan -> 1 Jul is 172 days.
            "tenure_days": [172, 30, 122],
            "avg_order_value": [80 / 3, 50.0, 20.0],
            "items_per_order": [8 / 3, 10.0, 2.0],
            "distinct_products": [3, 1, 1],
            "avg_unit_price": [15.0, 5.0, 10.0],
            "return_rate": [0.25, 0.0, 0.0],
            # A: (172 - 1) / 2; B: one order -> days since it; C: same day -> 0.
            "mean_interpurchase_days": [85.5, 30.0, 0.0],
            # A: midpoint 86.5 days ago; Apr (82) and Jun (1) recent = 60, Jan = 20.
            "revenue_trend": [0.5, 0.0, 0.0],
            # A: Q1 20, Q2 60 of 80.
            "seasonality": [0.75, 1.0, 1.0],
            "active_months": [3, 1, 1],
        },
        index=pd.Index(["A", "B", "C"], name="customer_id", dtype="str"),
    )
    pd.testing.assert_frame_equal(got, expected)


def test_inputs_are_not_mutated(three, three_returns):
    before, before_returns = three.copy(), three_returns.copy()
    compute_features(three, three_returns, as_of=AS_OF)
    pd.testing.assert_frame_equal(three, before)
    pd.testing.assert_frame_equal(three_returns, before_returns)


def test_parquet_path_and_ibis_table_give_the_frame_result(
    three, three_returns, tmp_path
):
    path = tmp_path / "tx.parquet"
    three.to_parquet(path)
    from_frame = compute_features(three, three_returns, as_of=AS_OF)
    from_path = compute_features(path, three_returns, as_of=AS_OF)
    from_table = compute_features(ibis.memtable(three), three_returns, as_of=AS_OF)
    pd.testing.assert_frame_equal(from_path, from_frame)
    pd.testing.assert_frame_equal(from_table, from_frame)


def test_behaviour_expr_is_lazy_and_has_one_row_per_customer(three):
    expr = behaviour_expr(ibis.memtable(three), None, as_of="2021-07-01")
    assert isinstance(expr, ibis.expr.types.Table)
    assert "gross_value" in expr.columns
    assert expr.count().execute() == 3


def test_as_of_none_means_day_after_last_transaction(three):
    assert default_as_of(three) == dt.date(2021, 7, 2)
    got = compute_features(three, as_of=None)
    # B's 1000 line on 1 July now counts: two orders, last one 1 day old.
    assert got.loc["B", "frequency"] == 2
    assert got.loc["B", "recency_days"] == 1


def test_without_returns_return_rate_is_zero_and_monetary_is_sales(three):
    got = compute_features(three, as_of=AS_OF)
    assert (got["return_rate"] == 0).all()
    assert got.loc["A", "monetary"] == 80.0


def test_returns_above_sales_floor_monetary_at_zero_and_cap_rate_at_one(three):
    big = _lines([("B", "Cb1", "2021-06-02 10:00", "p1", 20.0, 5.0)])  # 100 > 50
    got = compute_features(three, big, as_of=AS_OF)
    assert got.loc["B", "monetary"] == 0.0
    assert got.loc["B", "return_rate"] == 1.0


def test_zero_value_customers_are_left_out_and_counted(three):
    zero = pd.concat(
        [three, _lines([("D", "d1", "2021-05-05 10:00", "p1", 1.0, 0.0)])],
        ignore_index=True,
    )
    got, notes = compute_features_with_notes(zero, as_of=AS_OF)
    assert list(got.index) == ["A", "B", "C"]
    row = notes.loc[notes["rule"].str.startswith("zero or negative")]
    assert row["count"].tolist() == [1]


def test_amount_only_source_omits_quantity_and_price_features(three):
    amount_only = three.assign(quantity=np.nan, unit_price=np.nan)
    got, notes = compute_features_with_notes(amount_only, as_of=AS_OF)
    assert "items_per_order" not in got.columns
    assert "avg_unit_price" not in got.columns
    assert got.loc["A", "avg_order_value"] == pytest.approx(80 / 3)
    assert set(notes["rule"]) >= {
        "feature items_per_order omitted",
        "feature avg_unit_price omitted",
    }


def test_source_without_product_column_has_no_distinct_products(three):
    got = compute_features(three.drop(columns=["product_id"]), as_of=AS_OF)
    assert "distinct_products" not in got.columns
    assert got.loc["A", "frequency"] == 3


def test_numeric_customer_ids_become_sorted_strings():
    frame = _lines(
        [
            (17850, "1", "2021-01-01 10:00", "p", 1.0, 2.0),
            (12347, "2", "2021-01-02 10:00", "p", 1.0, 3.0),
        ]
    )
    got = compute_features(frame, as_of=AS_OF)
    assert list(got.index) == ["12347", "17850"]
    assert got.index.dtype == "str"


def test_definitions_document_every_feature(three):
    got = compute_features(three, as_of=AS_OF)
    assert list(FEATURE_DEFINITIONS.columns) == ["name", "group", "unit", "definition"]
    assert list(FEATURE_DEFINITIONS["name"]) == list(got.columns)
    assert FEATURE_DEFINITIONS["definition"].str.len().min() > 20
    subset = feature_definitions(["monetary", "not_a_feature", "frequency"])
    assert list(subset["name"]) == ["monetary", "frequency"]


def test_missing_column_error_names_the_column_and_the_fix(three):
    with pytest.raises(
        SchemaError,
        match=r"\['amount'\] not found in transactions.*transactions.columns",
    ):
        compute_features(three.drop(columns=["amount"]), as_of=AS_OF)


@pytest.fixture
def no_order_id() -> pd.DataFrame:
    """One row per purchase, no order id; expected numbers in the test below."""
    return _lines(
        [
            # D: three lines at one time (one order of 50), one a month later (20).
            ("D", None, "2021-05-01 10:00", "p1", 2.0, 5.0),
            ("D", None, "2021-05-01 10:00", "p2", 1.0, 10.0),
            ("D", None, "2021-05-01 10:00", "p3", 1.0, 30.0),
            ("D", None, "2021-06-01 09:00", "p1", 4.0, 5.0),
            # E: two purchases half an hour apart on one day: two orders.
            ("E", None, "2021-06-20 12:00", "p1", 1.0, 5.0),
            ("E", None, "2021-06-20 12:30", "p1", 1.0, 5.0),
            # F: same time as D's first order, but another customer: its own order.
            ("F", None, "2021-05-01 10:00", "p2", 3.0, 10.0),
        ]
    ).drop(columns="order_id")


def test_without_order_id_orders_are_one_customer_and_timestamp(no_order_id):
    got = compute_features(no_order_id, as_of=AS_OF)
    expected = pd.DataFrame(
        {
            "recency_days": [30, 11, 61],
            "frequency": [2, 2, 1],
            "avg_order_value": [35.0, 5.0, 30.0],  # D: (50 + 20) / 2
            "items_per_order": [4.0, 1.0, 3.0],  # D: (4 + 4) / 2
            "mean_interpurchase_days": [31.0, 0.0, 61.0],
        },
        index=pd.Index(["D", "E", "F"], name="customer_id", dtype="str"),
    )
    pd.testing.assert_frame_equal(got[expected.columns], expected)


def test_without_order_id_equals_the_synthesised_ids_of_cleaning(no_order_id):
    from segkit.data.io import order_ids

    with_ids = no_order_id.assign(order_id=order_ids(no_order_id))
    assert with_ids["order_id"].nunique() == 5
    pd.testing.assert_frame_equal(
        compute_features(no_order_id, as_of=AS_OF),
        compute_features(with_ids, as_of=AS_OF),
    )


def test_missing_returns_column_error_names_returns(three, three_returns):
    with pytest.raises(SchemaError, match=r"\['amount'\] not found in returns"):
        compute_features(three, three_returns.drop(columns=["amount"]), as_of=AS_OF)


def test_text_timestamp_is_a_schema_error(three):
    with pytest.raises(
        SchemaError, match="column 'timestamp' of transactions has type"
    ):
        compute_features(
            three.assign(timestamp=three["timestamp"].astype("str")), as_of=AS_OF
        )


def test_missing_parquet_file_is_a_schema_error(tmp_path):
    with pytest.raises(
        SchemaError, match=r"nope.parquet' does not exist; run the data step"
    ):
        compute_features(tmp_path / "nope.parquet", as_of=AS_OF)


def test_as_of_before_all_data_is_a_data_error(three):
    with pytest.raises(
        DataError, match=r"as_of 2020-01-01 is not after the first.*set as_of"
    ):
        compute_features(three, as_of="2020-01-01")


def test_bad_as_of_text_is_a_data_error(three):
    with pytest.raises(DataError, match="'last week', which is not a date"):
        compute_features(three, as_of="last week")


def test_zero_rows_is_a_data_error(three):
    with pytest.raises(DataError, match="transactions have no rows.*ledger"):
        compute_features(three.iloc[:0], as_of=AS_OF)


def test_only_zero_value_customers_is_a_data_error(three):
    with pytest.raises(DataError, match="every customer has zero or negative sales"):
        compute_features(three.assign(amount=0.0), as_of=AS_OF)


def test_unknown_backend_is_an_error(three):
    with pytest.raises(
        SchemaError, match="backend 'oracle' is not known; use 'duckdb'"
    ):
        compute_features(three, as_of=AS_OF, backend="oracle")


def test_planted_heavy_buyers_stand_out_in_frequency_and_monetary():
    """Synthetic recovery: 20 customers ordering weekly for 2 € vs 80 ordering twice."""
    rng = np.random.default_rng(0)
    rows = []
    for c in range(100):
        heavy = c < 20
        n_orders = 40 if heavy else 2
        days = rng.choice(np.arange(1, 360), size=n_orders, replace=False)
        for k, day in enumerate(days):
            ts = (
                pd.Timestamp("2021-07-01")
                - pd.Timedelta(days=int(day))
                + pd.Timedelta(hours=9)
            )
            rows.append((f"c{c:03d}", f"{c}-{k}", ts, "p", 1.0, 2.0))
    got = compute_features(_lines(rows), as_of=AS_OF)
    heavy = got.index < "c020"
    assert (got.loc[heavy, "frequency"] == 40).all()
    assert (got.loc[~heavy, "frequency"] == 2).all()
    assert got.loc[heavy, "monetary"].min() > got.loc[~heavy, "monetary"].max()
    assert got.loc[heavy, "active_months"].min() >= 9


@pytest.mark.slow
def test_named_online_retail_customers_match_a_direct_pandas_computation():
    from segkit.config import load_config
    from segkit.data.clean import clean_transactions
    from segkit.data.io import load_transactions
    from tests.conftest import ROOT

    config = load_config(ROOT / "configs" / "online_retail.yaml")
    as_of = config["as_of"]
    clean = clean_transactions(
        load_transactions(config).frame, rules=config["cleaning"], as_of=as_of
    )
    got = compute_features(clean.transactions, clean.returns, as_of=as_of)
    assert len(got) > 4000
    for customer in ["12347", "17850", "14646", "13047"]:
        lines = clean.transactions[clean.transactions["customer_id"] == customer]
        returned = clean.returns.loc[
            clean.returns["customer_id"] == customer, "amount"
        ].sum()
        gross = lines["amount"].sum()
        orders = lines.groupby("order_id")["timestamp"].min().dt.normalize()
        days = (pd.Timestamp(as_of) - orders).dt.days
        row = got.loc[customer]
        assert row["frequency"] == lines["order_id"].nunique()
        assert row["recency_days"] == days.min()
        assert row["tenure_days"] == days.max()
        assert row["monetary"] == pytest.approx(max(gross - returned, 0.0))
        assert row["return_rate"] == pytest.approx(min(returned / gross, 1.0))
        assert row["distinct_products"] == lines["product_id"].nunique()
        assert row["avg_unit_price"] == pytest.approx(lines["unit_price"].mean())
        assert row["items_per_order"] == pytest.approx(
            lines["quantity"].sum() / lines["order_id"].nunique()
        )
        months = lines["timestamp"].dt.to_period("M").nunique()
        assert row["active_months"] == months
        by_quarter = lines.groupby(lines["timestamp"].dt.quarter)["amount"].sum()
        assert row["seasonality"] == pytest.approx(by_quarter.max() / gross)


def test_lines_without_customer_id_are_skipped(three):
    anonymous = pd.concat(
        [three, _lines([(None, "x1", "2021-05-05 10:00", "p1", 1.0, 9.0)])],
        ignore_index=True,
    )
    got = compute_features(anonymous, as_of=AS_OF)
    pd.testing.assert_frame_equal(got, compute_features(three, as_of=AS_OF))
