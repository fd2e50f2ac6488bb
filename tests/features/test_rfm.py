"""Tests of segkit.features.rfm: known-answer scores, ties, bins, named segments, summary."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from segkit.exceptions import ConfigError, DataError, SchemaError
from segkit.features.rfm import (
    OTHER,
    SCHEMES,
    _assign,
    _to_five,
    rfm_summary,
    rfm_table,
    segment_order,
    tie_aware_scores,
)


@pytest.fixture
def ten_customers() -> pd.DataFrame:
    """Ten customers whose scores can be worked out by hand (see each test)."""
    frame = pd.DataFrame(
        {
            "recency": [5, 10, 20, 40, 60, 90, 120, 200, 300, 360],
            "frequency": [20, 12, 8, 6, 1, 1, 1, 4, 2, 1],
            "monetary": [5000.0, 2000, 900, 700, 100, 80, 50, 600, 150, 30],
            "tenure": range(10),  # an extra column that RFM ignores
        },
        index=pd.Index([f"c{i:02d}" for i in range(1, 11)], name="customer_id"),
    )
    return frame


def test_known_answer_scores_cells_and_segments(ten_customers):
    # score = 1 + floor(5 * customers strictly worse / 10)
    # R: recency ranks, c01 most recent (9 worse) -> 5 ... c10 least recent -> 1
    # F: four one-timers tie at 1, so quantile scores (1, 3, 3, 4, 4, 5, 5) would
    # leave F2 empty; F is cut on its 7 distinct values instead (cumulative counts
    # 4 5 6 7 8 9 10, cuts closest to 2, 4, 6, 8): {1} {2} {4} {6, 8} {12, 20}
    # M: no ties, two customers per score
    rfm = rfm_table(ten_customers, bins=5, scheme="ten")
    assert rfm["r_score"].tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert rfm["f_score"].tolist() == [5, 5, 4, 4, 1, 1, 1, 3, 2, 1]
    assert rfm["m_score"].tolist() == [5, 5, 4, 4, 2, 2, 1, 3, 3, 1]
    assert rfm["rfm_cell"].tolist() == [
        "555", "555", "444", "444", "312", "312", "211", "233", "123", "111",
    ]  # fmt: skip
    assert rfm["rfm_score"].tolist() == [15, 15, 12, 12, 6, 6, 4, 8, 6, 3]
    assert rfm["segment"].tolist() == (
        ["Champions"] * 4 + ["About To Sleep"] * 3 + ["At Risk"] + ["Lost"] * 2
    )
    assert [n[0] for n in rfm.attrs["notes"]] == [
        "frequency scored on distinct values (ties)"
    ]
    assert list(rfm.columns) == [
        "recency", "frequency", "monetary", "r_score", "f_score", "m_score",
        "rfm_cell", "rfm_score", "segment",
    ]  # fmt: skip
    assert rfm.index.equals(ten_customers.index)
    assert rfm["r_score"].dtype == "int64"
    assert rfm["segment"].dtype == "str"


def test_rfm_table_and_summary_do_not_mutate_their_input(ten_customers):
    before = ten_customers.copy()
    rfm = rfm_table(ten_customers)
    assert_frame_equal(ten_customers, before)
    scored = rfm.copy()
    rfm_summary(rfm)
    assert_frame_equal(rfm, scored)


def test_equal_values_get_equal_scores_whatever_the_row_order():
    # 60 one-time buyers and 40 repeat buyers with frequencies 2..41
    freq = [1] * 60 + list(range(2, 42))
    frame = pd.DataFrame(
        {"recency": np.arange(100), "frequency": freq, "monetary": np.arange(100.0)},
        index=pd.Index([f"c{i:03d}" for i in range(100)], name="customer_id"),
    )
    rfm = rfm_table(frame, bins=5)
    shuffled = rfm_table(frame.sample(frac=1, random_state=3), bins=5)
    assert rfm["f_score"].iloc[:60].eq(1).all()  # the tie is never split
    # quantiles would give 2 orders F4 (60 worse) and leave F2, F3 empty; on
    # distinct values: 1 -> F1, 2 -> F2, 3 -> F3, 4..21 -> F4 (cumulative 80 %)
    by_orders = rfm.groupby("frequency")["f_score"].first()
    assert by_orders.loc[[1, 2, 3, 4, 21, 22, 41]].tolist() == [1, 2, 3, 4, 4, 5, 5]
    assert set(rfm["f_score"]) == {1, 2, 3, 4, 5}
    assert_frame_equal(shuffled.loc[rfm.index], rfm)


def _one_timer_heavy(n: int = 1000, seed: int = 0) -> pd.DataFrame:
    """60 % one-time buyers, 20 % two orders, the rest 3..30 orders."""
    rng = np.random.default_rng(seed)
    n1, n2 = int(0.6 * n), int(0.2 * n)
    freq = np.r_[np.ones(n1), np.full(n2, 2), rng.integers(3, 31, n - n1 - n2)]
    return pd.DataFrame(
        {
            "recency": rng.integers(1, 400, n),
            "frequency": freq,
            "monetary": freq * rng.gamma(2.0, 50.0, n),
        },
        index=pd.Index([f"c{i:04d}" for i in range(n)], name="customer_id"),
    )


@pytest.mark.parametrize("bins", [3, 4, 5])
def test_sixty_percent_one_timers_leave_no_empty_f_level(bins):
    rfm = rfm_table(_one_timer_heavy(), bins=bins)
    assert set(rfm["f_score"]) == set(range(1, bins + 1))
    two = rfm.loc[rfm["frequency"] == 2, "f_score"]
    assert two.nunique() == 1 and two.iloc[0] == 2
    assert (rfm.loc[rfm["frequency"] == 1, "f_score"] == 1).all()
    # scores never decrease with the order count
    order = rfm.sort_values("frequency")
    assert order["f_score"].is_monotonic_increasing
    # 3 bins: the quantiles already fill F1-F3 (2 orders: 1 + 3 * 600 // 1000)
    switched = any("frequency scored on distinct" in n[0] for n in rfm.attrs["notes"])
    assert switched == (bins > 3)


@pytest.mark.parametrize("scheme", ["ten", "six"])
def test_champions_and_loyal_members_have_at_least_three_orders(scheme):
    rfm = rfm_table(_one_timer_heavy(), bins=5, scheme=scheme)
    loyal = rfm["segment"].isin(["Champions", "Loyal Customers", "Loyal"])
    assert loyal.sum() > 0
    assert rfm.loc[loyal, "frequency"].min() >= 3


def test_fewer_distinct_values_than_bins_warns_of_the_empty_levels():
    frame = pd.DataFrame(
        {
            "recency": np.arange(10),
            "frequency": [1] * 6 + [2] * 3 + [3],
            "monetary": np.arange(10.0),
        }
    )
    rfm = rfm_table(frame, bins=5)
    assert rfm["f_score"].tolist() == [1] * 6 + [2] * 3 + [3]
    rules = [n[0] for n in rfm.attrs["notes"]]
    assert "frequency: empty score levels F4, F5" in rules


def test_tie_aware_scores_keep_ties_together_and_fill_every_level():
    values = np.array([5, 5, 5, 5, 5, 7, 8, 9, 9, 10, 11, 12])
    scores = tie_aware_scores(values, 4)
    assert set(scores) == {1, 2, 3, 4}
    assert len(set(scores[values == 5])) == 1 and scores[0] == 1
    assert len(set(scores[values == 9])) == 1


def test_without_ties_bins_hold_equal_numbers_of_customers():
    frame = pd.DataFrame(
        {
            "recency": np.arange(12),
            "frequency": np.arange(12),
            "monetary": np.arange(12),
        }
    )
    for bins in (3, 4):
        counts = rfm_table(frame, bins=bins)["f_score"].value_counts()
        assert counts.sort_index().tolist() == [12 // bins] * bins


def test_recency_is_reversed_so_recent_customers_score_high():
    frame = pd.DataFrame({"recency": [1, 50, 400], "frequency": 1, "monetary": 1.0})
    assert rfm_table(frame, bins=3)["r_score"].tolist() == [3, 2, 1]


def test_three_bins_map_onto_the_five_point_rules():
    # 3 bins map to 1, 3, 5: a top customer (3, 3, 3) is a Champion, a one-time
    # recent buyer (3, 1, .) a New Customer, a lapsed one-timer (1, 1, .) Lost
    frame = pd.DataFrame(
        {
            "recency": [1, 2, 100, 101, 300, 301],
            "frequency": [9, 8, 1, 1, 1, 1],
            "monetary": [900.0, 800, 20, 30, 10, 5],
        }
    )
    frame.loc[len(frame)] = [0, 1, 1.0]
    rfm = rfm_table(frame, bins=3)
    assert rfm.loc[0, "rfm_cell"] == "333"
    assert rfm.loc[0, "segment"] == "Champions"
    assert rfm.loc[6, "segment"] == "New Customers"
    assert rfm.loc[5, "segment"] == "Lost"


def test_three_and_four_bin_scores_map_onto_the_five_point_scale():
    assert _to_five(np.array([1, 2, 3]), 3).tolist() == [1, 3, 5]
    assert _to_five(np.array([1, 2, 3, 4]), 4).tolist() == [1, 2, 4, 5]
    assert _to_five(np.array([1, 2, 3, 4, 5]), 5).tolist() == [1, 2, 3, 4, 5]


def test_ten_scheme_names_every_cell_and_never_falls_back_to_other():
    cells = np.array(list(itertools.product(range(1, 6), repeat=3)))
    names = _assign(cells[:, 0], cells[:, 1], cells[:, 2], SCHEMES["ten"])
    assert OTHER not in set(names)
    assert set(names) == set(segment_order("ten")) - {OTHER}
    six = _assign(cells[:, 0], cells[:, 1], cells[:, 2], SCHEMES["six"])
    assert set(six) == set(segment_order("six")) - {OTHER}


@pytest.mark.parametrize(
    ("cell", "segment"),
    [
        ((5, 5, 5), "Champions"),
        ((5, 5, 1), "Loyal Customers"),
        ((1, 5, 5), "Can't Lose Them"),
        ((1, 5, 1), "At Risk"),
        ((5, 1, 3), "New Customers"),
        ((4, 1, 3), "Promising"),
        ((4, 2, 2), "Potential Loyalist"),
        ((3, 3, 3), "Need Attention"),
        ((2, 1, 1), "About To Sleep"),
        ((1, 1, 1), "Lost"),
    ],
)
def test_ten_scheme_rules_name_typical_cells(cell, segment):
    assert _assign([cell[0]], [cell[1]], [cell[2]], SCHEMES["ten"])[0] == segment


def test_a_custom_rule_table_falls_back_to_other():
    rules = [{"segment": "Best", "r": (5, 5), "f": (5, 5), "m": (1, 5)}]
    frame = pd.DataFrame(
        {"recency": [1, 5, 9], "frequency": [9, 5, 1], "monetary": [1, 1, 1]}
    )
    named = rfm_table(frame, bins=3, scheme=rules)["segment"].tolist()
    assert named == ["Best", OTHER, OTHER]


def test_summary_counts_shares_and_revenue_by_segment(ten_customers):
    summary = rfm_summary(rfm_table(ten_customers))
    # all ten segments in precedence order, empty ones with zero customers
    assert list(summary.index) == segment_order("ten")[:-1]
    assert summary.loc["Champions", "customers"] == 4
    assert summary.loc["Champions", "share"] == pytest.approx(0.4)
    assert summary.loc["Champions", "revenue"] == pytest.approx(8600.0)
    assert summary.loc["Champions", "revenue_share"] == pytest.approx(8600 / 9610)
    assert summary.loc["Lost", "mean_recency"] == pytest.approx(330.0)
    assert summary.loc["At Risk", "mean_f_score"] == pytest.approx(3.0)
    assert summary.loc["Promising", "customers"] == 0
    assert summary["share"].sum() == pytest.approx(1.0)


def test_missing_rfm_column_names_the_column_and_the_fix(ten_customers):
    with pytest.raises(SchemaError, match=r"\['monetary'\] not found.*RFM needs"):
        rfm_table(ten_customers.drop(columns="monetary"))


def test_unsupported_bins_and_scheme_are_config_errors(ten_customers):
    with pytest.raises(ConfigError, match=r"set rfm.bins to one of \[3, 4, 5\]"):
        rfm_table(ten_customers, bins=7)
    with pytest.raises(
        ConfigError, match=r"scheme 'eleven' is unknown; set rfm.scheme"
    ):
        rfm_table(ten_customers, scheme="eleven")


def test_missing_values_and_empty_tables_are_data_errors(ten_customers):
    holes = ten_customers.assign(
        monetary=ten_customers["monetary"].where(lambda s: s > 40)
    )
    with pytest.raises(DataError, match=r"'monetary' has 1 missing.*customer 'c10'"):
        rfm_table(holes)
    with pytest.raises(DataError, match="features table is empty"):
        rfm_table(ten_customers.iloc[:0])


def test_planted_synthetic_segments_land_in_the_expected_rfm_segments():
    from segkit.datasets import make_b2c_transactions

    tx, truth = make_b2c_transactions(1000, n_segments=4, seed=0)
    per = tx.groupby("customer_id").agg(
        last=("timestamp", "max"),
        frequency=("order_id", "nunique"),
        monetary=("amount", "sum"),
    )
    per["recency"] = (pd.Timestamp("2024-01-01") - per["last"]).dt.days
    segment = rfm_table(per, scheme="ten")["segment"].reindex(truth.index)
    champions = segment[truth == "champions"]
    assert (champions == "Champions").mean() > 0.9
    one_timers = segment[truth == "one_timers"]
    assert not one_timers.isin(["Champions", "Loyal Customers", "At Risk"]).any()
    lapsed = segment[truth == "lapsed"]
    gone = ["At Risk", "Can't Lose Them", "About To Sleep", "Lost"]
    assert lapsed.isin(gone).mean() > 0.9
