"""Tests for segkit.validation.outcomes: next-horizon behaviour per segment vs the RFM baseline."""

from __future__ import annotations

import copy
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from segkit.clustering.model import SegmentationModel
from segkit.config import DEFAULTS
from segkit.exceptions import DataError
from segkit.validation.outcomes import (
    coerce_outcome,
    compare_segmentations,
    eta_squared,
    horizon_start,
    next_horizon,
    outcome_rates,
    outcome_validity,
    segment_outcomes,
)

AS_OF = dt.date(2024, 7, 1)  # 90 days back: t0 = 2024-04-02


def _lines(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["customer_id", "order_id", "timestamp", "amount"]
    )
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    for column in ("customer_id", "order_id"):
        frame[column] = frame[column].astype("str")
    return frame


@pytest.fixture
def shop() -> tuple[pd.DataFrame, pd.DataFrame]:
    """30 loyal customers (a..) and 30 occasional ones (b..).

    Before t0 each ``a`` customer orders 100 + i in January, February and March;
    each ``b`` customer orders 20 + i once in February. After t0, 27 of 30 ``a``
    customers (all but i = 0, 10, 20) order twice for 50 each in May; 3 of 30 ``b``
    customers (i = 0, 10, 20) order once for 20 in May. Customer a01 returns 10 in
    June.
    """
    rows = []
    for i in range(30):
        for month in (1, 2, 3):
            rows.append((f"a{i:02d}", f"A{i}-{month}", f"2024-0{month}-10", 100.0 + i))
        rows.append((f"b{i:02d}", f"B{i}", "2024-02-15", 20.0 + i))
        if i % 10:
            rows.append((f"a{i:02d}", f"A{i}-5", "2024-05-05", 50.0))
            rows.append((f"a{i:02d}", f"A{i}-6", "2024-05-25", 50.0))
        else:
            rows.append((f"b{i:02d}", f"B{i}-5", "2024-05-05", 20.0))
    returns = _lines([("a01", "CA1", "2024-06-01", 10.0)])
    return _lines(rows), returns


def _build(config, transactions, returns, customers, *, as_of):
    """Stand-in for segkit.features.step.build: frequency, monetary and an RFM rule."""
    grouped = transactions.groupby("customer_id")
    features = pd.DataFrame(
        {
            "frequency": grouped["order_id"].nunique().astype(float),
            "monetary": grouped["amount"].sum(),
        }
    )
    features.index = features.index.astype("str").rename("customer_id")
    rfm = pd.DataFrame(
        {"segment": np.where(features["frequency"] >= 3, "Loyal", "Other")},
        index=features.index,
    )
    return {"features": features, "rfm": rfm}


def _config(**validation) -> dict:
    section = copy.deepcopy(DEFAULTS["validation"])
    section.update(validation)
    return {"as_of": AS_OF, "seed": 0, "validation": section}


def test_horizon_start_is_as_of_minus_horizon(shop):
    transactions, _ = shop
    t0, end = horizon_start(transactions, as_of=AS_OF, horizon_days=90)
    assert t0 == pd.Timestamp("2024-04-02")
    assert end == pd.Timestamp("2024-07-01")


def test_horizon_longer_than_the_history_is_an_error_with_the_fix(shop):
    transactions, _ = shop
    with pytest.raises(
        DataError, match=r"validation\.horizon_days=400 reaches back.*Set validation"
    ):
        horizon_start(transactions, as_of=AS_OF, horizon_days=400)
    with pytest.raises(DataError, match=r"validation\.horizon_days is 0; set it"):
        horizon_start(transactions, as_of=AS_OF, horizon_days=0)


def test_next_horizon_counts_orders_and_net_revenue(shop):
    transactions, returns = shop
    ids = pd.Index(["a01", "a10", "b00", "b01"])
    frame = next_horizon(transactions, returns, ids, t0=pd.Timestamp("2024-04-02"))
    assert frame["orders"].tolist() == [2, 0, 1, 0]
    assert frame["revenue"].tolist() == [90.0, 0.0, 20.0, 0.0]  # a01: 100 - 10 back
    assert frame["bought_again"].tolist() == [True, False, True, False]


def test_next_horizon_names_a_missing_column(shop):
    transactions, _ = shop
    with pytest.raises(DataError, match="column 'amount' not found in transactions"):
        next_horizon(
            transactions.drop(columns="amount"),
            None,
            pd.Index(["a01"]),
            t0=pd.Timestamp("2024-04-02"),
        )


def test_eta_squared_by_hand():
    assert eta_squared(pd.Series([1, 1, 3, 3]), pd.Series(list("aabb"))) == 1.0
    assert eta_squared(pd.Series([1, 3, 1, 3]), pd.Series(list("aabb"))) == 0.0
    assert eta_squared(pd.Series([2, 2, 2, 2]), pd.Series(list("aabb"))) == 0.0


def test_segment_outcomes_means_shares_and_intervals_by_hand():
    outcome = pd.DataFrame(
        {"bought_again": [True, True, False, False], "revenue": [30.0, 10.0, 0.0, 0.0]},
        index=list("wxyz"),
    )
    labels = pd.Series([0, 0, 1, 1], index=list("wxyz"))
    table = segment_outcomes(labels, outcome, n_resamples=200).set_index("segment")
    assert table.loc[0, "retention"] == 1.0
    assert table.loc[0, "revenue_per_customer"] == 20.0
    assert table.loc[0, "revenue_share"] == 1.0
    assert table.loc[0, "retention_index"] == 2.0
    assert table.loc[0, "revenue_per_customer_low"] >= 10.0
    assert table.loc[0, "revenue_per_customer_high"] <= 30.0
    # Wilson: 0 of 2 bought again is [0, 0.66], not the bootstrap's [0, 0].
    assert table.loc[1, "retention_low"] == 0.0
    assert table.loc[1, "retention_high"] == pytest.approx(0.658, abs=1e-3)


def test_outcome_analysis_finds_that_the_loyal_segment_buys_again(shop):
    transactions, returns = shop
    before = transactions.copy()
    result = outcome_validity(
        SegmentationModel(n_segments=2, random_state=0),
        _config(horizon_days=90, ci_resamples=500),
        transactions,
        returns,
        build=_build,
    )
    assert_frame_equal(transactions, before)
    assert result["t0"] == dt.date(2024, 4, 2)
    assert result["customers"] == 60
    labels = result["labels_t0"]
    loyal = labels.loc["a05"]
    assert (labels.loc[labels.index.str.startswith("a")] == loyal).all()
    model = result["per_segment"].query("segmentation == 'model'").set_index("segment")
    other = next(s for s in model.index if s != loyal)
    assert model.loc[loyal, "retention"] == pytest.approx(0.9)
    assert model.loc[other, "retention"] == pytest.approx(0.1)
    assert model.loc[loyal, "retention_low"] > model.loc[other, "retention_high"]
    assert model.loc[loyal, "revenue_share"] == pytest.approx(2690 / 2750)
    comparison = result["comparison"].set_index("segmentation")
    assert comparison.loc["model", "lift_bought_again"] == pytest.approx(9.0)
    assert comparison.loc["rfm", "eta2_revenue"] == pytest.approx(
        comparison.loc["model", "eta2_revenue"]
    )
    assert comparison.loc["model", "eta2_revenue"] > 0.5
    assert comparison.loc["shuffled (chance)", "eta2_revenue"] < 0.1


def test_outcome_intervals_are_reproducible_with_the_seed(shop):
    transactions, returns = shop
    model = SegmentationModel(n_segments=2, random_state=0)
    config = _config(ci_resamples=300)
    first = outcome_validity(model, config, transactions, returns, build=_build)
    second = outcome_validity(model, config, transactions, returns, build=_build)
    assert_frame_equal(first["per_segment"], second["per_segment"])


def test_lift_is_missing_when_the_worst_segment_never_buys():
    outcome = pd.DataFrame(
        {"bought_again": [1.0] * 10 + [0.0] * 10, "revenue": [5.0] * 10 + [0.0] * 10}
    )
    labels = pd.Series([0] * 10 + [1] * 10)
    row = compare_segmentations(outcome, {"model": labels}).iloc[0]
    assert np.isnan(row["lift_bought_again"])
    assert row["best_bought_again"] == 1.0
    assert row["eta2_revenue"] == 1.0


def test_outcome_rates_for_attribute_only_data():
    customers = pd.DataFrame(
        {"Response": ["yes"] * 8 + ["no"] * 2 + ["yes"] * 2 + ["no"] * 8},
        index=pd.Index([f"k{i}" for i in range(20)], name="customer_id"),
    )
    labels = pd.Series([0] * 10 + [1] * 10, index=customers.index)
    result = outcome_rates(labels, customers, "Response", n_resamples=200)
    table = result["per_segment"].set_index("segment")
    assert table.loc[0, "rate"] == 0.8
    assert table.loc[1, "rate"] == 0.2
    assert table.loc[0, "rate_index"] == pytest.approx(1.6)
    comparison = result["comparison"].set_index("segmentation")
    assert comparison.loc["model", "lift_Response"] == pytest.approx(4.0)


def test_outcome_column_that_is_not_a_flag_is_an_error():
    with pytest.raises(DataError, match="outcome column 'Response' holds 'maybe'"):
        coerce_outcome(pd.Series(["yes", "maybe"]), column="Response")


def test_missing_outcome_column_is_an_error_naming_the_setting():
    customers = pd.DataFrame({"Income": [1.0, 2.0]}, index=["k0", "k1"])
    with pytest.raises(DataError, match="set validation.outcome to one of them"):
        outcome_rates(pd.Series([0, 1], index=["k0", "k1"]), customers, "Response")


def test_real_feature_pipeline_finds_that_champions_buy_again():
    """Planted B2C customers through segkit.features.step.build (the default)."""
    from segkit.config import validate_config
    from segkit.datasets import make_b2c_transactions
    from segkit.features.preprocess import Preprocessor

    transactions, truth = make_b2c_transactions(
        400, n_segments=3, seed=0, start="2023-01-01", days=365
    )
    roles = {"customer_id": "c", "order_id": "o", "timestamp": "t", "amount": "a"}
    config = validate_config(
        {
            "name": "b2c",
            "as_of": "2024-01-01",
            "transactions": {"path": "x.csv", "columns": roles},
            "validation": {"ci_resamples": 200},
        },
        root=".",
    )
    model = SegmentationModel(
        preprocessor=Preprocessor(**config["preprocess"]), n_segments=3, random_state=0
    )
    result = outcome_validity(model, config, transactions)
    labels = result["labels_t0"]
    champions = labels[truth.reindex(labels.index) == "champions"].mode().iloc[0]
    table = result["per_segment"].query("segmentation == 'model'").set_index("segment")
    assert table.loc[champions, "retention"] > 0.95
    others = table.drop(index=champions)
    assert table.loc[champions, "retention_low"] > others["retention_high"].max()
    assert (
        table.loc[champions, "revenue_per_customer"]
        > 10 * others["revenue_per_customer"].max()
    )
