"""Cleaning rules and the ledger: known answers on the tiny fixture and on Online Retail."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from segkit.config import DEFAULTS, load_config
from segkit.data.clean import CANCELLATIONS_SKIPPED, clean_transactions, default_as_of
from segkit.data.io import load_transactions, order_ids
from segkit.exceptions import DataError
from tests.conftest import ONLINE_RETAIL, ROOT


@pytest.fixture
def tiny(tiny_config):
    config = load_config(tiny_config)
    return config, load_transactions(config).frame


def _ledger(result) -> dict[str, tuple[int, float]]:
    return {
        r.rule: (int(r.rows), round(float(r.value), 2))
        for r in result.ledger.itertuples()
    }


def test_every_rule_removes_the_hand_counted_lines(tiny):
    config, frame = tiny
    result = clean_transactions(frame, rules=config["cleaning"], as_of=config["as_of"])
    assert _ledger(result) == {
        "raw": (10, 98.0),
        "missing_customer_id": (1, 10.0),
        "cancellations": (1, -3.0),
        "negative_quantity": (0, 0.0),
        "nonpositive_price": (1, 0.0),
        "non_product": (1, 18.0),
        "duplicates": (1, 12.0),
        "after_as_of": (0, 0.0),
        "kept": (5, 61.0),
    }


def test_ledger_rows_and_value_add_up_exactly(tiny):
    config, frame = tiny
    ledger = clean_transactions(frame, rules=config["cleaning"]).ledger
    removed = ledger[~ledger["rule"].isin(["raw", "kept"])]
    raw, kept = ledger.iloc[0], ledger.iloc[-1]
    assert raw["rows"] == kept["rows"] + removed["rows"].sum()
    assert raw["value"] == pytest.approx(kept["value"] + removed["value"].sum())
    assert list(ledger["rows_after"]) == [10, 9, 8, 8, 7, 6, 5, 5, 5]


def test_cancellations_are_kept_aside_as_positive_returns(tiny):
    config, frame = tiny
    returns = clean_transactions(frame, rules=config["cleaning"]).returns
    assert returns[["customer_id", "order_id", "quantity", "amount"]].to_dict(
        "records"
    ) == [{"customer_id": "12", "order_id": "C1003", "quantity": 1.0, "amount": 3.0}]


def test_a_rule_switched_off_keeps_its_lines_and_has_no_ledger_row(tiny):
    config, frame = tiny
    rules = dict(config["cleaning"], duplicates=False)
    result = clean_transactions(frame, rules=rules)
    assert "duplicates" not in set(result.ledger["rule"])
    assert len(result.transactions) == 6


def test_lines_on_or_after_as_of_are_removed(tiny):
    config, frame = tiny
    result = clean_transactions(
        frame, rules=config["cleaning"], as_of=dt.date(2021, 3, 10)
    )
    assert _ledger(result)["after_as_of"] == (2, 33.0)
    assert result.transactions["timestamp"].max() < pd.Timestamp("2021-03-10")


def test_default_as_of_is_the_day_after_the_last_line(tiny):
    _, frame = tiny
    assert default_as_of(frame) == dt.date(2021, 4, 2)


def test_cleaning_does_not_modify_its_input(tiny):
    config, frame = tiny
    before = frame.copy()
    clean_transactions(frame, rules=config["cleaning"])
    assert_frame_equal(frame, before)


def test_as_of_before_all_data_is_a_clear_error(tiny):
    config, frame = tiny
    with pytest.raises(
        DataError,
        match=r"as_of 2020-01-01 is on or before the first transaction \(2021-01-05\).*set as_of",
    ):
        clean_transactions(frame, rules=config["cleaning"], as_of=dt.date(2020, 1, 1))


def test_a_single_customer_left_is_a_clear_error(tiny):
    config, frame = tiny
    one = frame[frame["customer_id"] == "11"]
    with pytest.raises(DataError, match="only 1 customer is left after cleaning"):
        clean_transactions(one, rules=config["cleaning"])


def test_missing_canonical_columns_are_named(tiny):
    config, frame = tiny
    with pytest.raises(
        DataError, match=r"\['amount'\].*segkit.data.io.load_transactions"
    ):
        clean_transactions(frame.drop(columns="amount"), rules=config["cleaning"])


def test_amount_only_data_uses_the_sign_of_the_amount():
    frame = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "b"],
            "order_id": ["1", "2", "3", "4"],
            "timestamp": pd.to_datetime(
                ["2021-01-01", "2021-01-02", "2021-01-03", "2021-01-04"]
            ),
            "quantity": float("nan"),
            "unit_price": float("nan"),
            "amount": [10.0, -4.0, 0.0, 7.0],
        }
    )
    result = clean_transactions(frame, rules=DEFAULTS["cleaning"])
    ledger = _ledger(result)
    assert ledger["negative_quantity"] == (1, -4.0)
    assert ledger["nonpositive_price"] == (1, 0.0)
    assert list(result.returns["amount"]) == [4.0]


@pytest.mark.slow
def test_online_retail_clean_sales_match_the_published_figures():
    config = load_config(ROOT / "configs" / "online_retail.yaml")
    assert ONLINE_RETAIL.exists()
    frame = load_transactions(config).frame
    # The literature's "clean sales": customer id, not cancelled, quantity and price > 0.
    rules = dict(config["cleaning"], non_product=False, duplicates=False)
    result = clean_transactions(frame, rules=rules, as_of=config["as_of"])
    assert result.ledger.iloc[-1]["rows"] == 397_884
    assert result.transactions["customer_id"].nunique() == 4_338
    ledger = _ledger(result)
    assert ledger["missing_customer_id"][0] == 135_080
    assert ledger["cancellations"][0] == 8_905
    assert ledger["nonpositive_price"][0] == 40


def test_without_order_id_orders_are_one_customer_and_timestamp(tiny):
    config, frame = tiny
    result = clean_transactions(
        frame.drop(columns="order_id"), rules=config["cleaning"], as_of=config["as_of"]
    )
    ledger = _ledger(result)
    # The C1003 line (quantity -1) is no longer a cancellation by prefix: it is
    # set aside by negative_quantity instead; every other rule counts as before.
    assert ledger["cancellations"] == (0, 0.0)
    assert ledger["negative_quantity"] == (1, -3.0)
    assert ledger["kept"] == (5, 61.0)
    skipped = result.ledger.set_index("rule").loc["cancellations", "description"]
    assert skipped == CANCELLATIONS_SKIPPED
    assert any("'cancellations' skipped" in note for note in result.notes)
    # Customer 11's two lines at 2021-01-05 10:00 are one order.
    orders = result.transactions.groupby("customer_id")["order_id"].unique()
    assert sorted(orders["11"]) == ["11|2021-01-05T10:00:00", "11|2021-04-01T11:00:00"]
    assert result.transactions["order_id"].nunique() == 4
    assert result.returns["order_id"].tolist() == ["12|2021-02-03T12:00:00"]


def test_with_order_id_there_are_no_notes_and_ids_are_kept(tiny):
    config, frame = tiny
    result = clean_transactions(frame, rules=config["cleaning"], as_of=config["as_of"])
    assert result.notes == []
    assert set(result.transactions["order_id"]) == {"1001", "1002", "1007", "1008"}


def test_order_ids_use_microseconds_only_when_the_data_have_them():
    frame = pd.DataFrame(
        {
            "customer_id": ["a", None],
            "timestamp": pd.to_datetime(
                ["2021-01-01 10:00:00", "2021-01-01 10:00:00.5"], format="ISO8601"
            ),
        }
    )
    assert order_ids(frame).tolist() == [
        "a|2021-01-01T10:00:00.000000",
        "|2021-01-01T10:00:00.500000",
    ]
    assert order_ids(frame.iloc[:1]).tolist() == ["a|2021-01-01T10:00:00"]


def test_min_customers_one_lets_a_single_customer_through(tiny):
    config, frame = tiny
    one = frame[frame["customer_id"] == "11"]
    result = clean_transactions(one, rules=config["cleaning"], min_customers=1)
    assert result.transactions["customer_id"].unique().tolist() == ["11"]


def test_default_as_of_reads_a_parquet_path_and_an_ibis_table(tiny, tmp_path):
    import ibis

    _, frame = tiny
    path = tmp_path / "tx.parquet"
    frame.to_parquet(path)
    assert default_as_of(path) == dt.date(2021, 4, 2)
    assert default_as_of(ibis.memtable(frame)) == dt.date(2021, 4, 2)


def test_default_as_of_names_a_missing_timestamp_column(tiny):
    _, frame = tiny
    with pytest.raises(DataError, match=r"no 'timestamp' column .*columns.timestamp"):
        default_as_of(frame.drop(columns="timestamp"))
    with pytest.raises(DataError, match="no transaction has a timestamp"):
        default_as_of(frame.assign(timestamp=pd.NaT))
