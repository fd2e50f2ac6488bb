"""Tests of segkit.profiles.value: value columns per segment and CLV-ranked claims."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segkit.profiles.claims import claim_names, evaluate_claims
from segkit.profiles.value import (
    VALUE_PROFILE_COLUMNS,
    clv_rank,
    value_columns,
    with_value,
)
from tests.profiles.test_claims import _frame, _segment


def _values(index, clv, p_alive, run_rate):
    return pd.DataFrame(
        {
            "clv": np.resize(clv, len(index)).astype(float),
            "p_alive": np.resize(p_alive, len(index)).astype(float),
            "expected_revenue": 1.0,
            "run_rate_revenue": np.resize(run_rate, len(index)).astype(float),
        },
        index=index,
    ).assign(at_risk=lambda t: t["p_alive"] < 0.5)


def test_value_columns_by_hand():
    index = pd.Index(list("abcde"), name="customer_id")
    values = _values(index, [10, 20, 30, 100, 300], [0.9, 0.2, 0.4, 0.8, 0.1], 50)
    labels = pd.Series([0, 0, 0, 1, 1], index=index)
    table = value_columns(values, labels).set_index("segment")
    assert list(table.columns) == VALUE_PROFILE_COLUMNS
    assert table.loc[0, "clv_mean"] == pytest.approx(20)
    assert table.loc[0, "clv_total"] == pytest.approx(60)
    assert table.loc[1, "clv_total"] == pytest.approx(400)
    assert table.loc[0, "p_alive_mean"] == pytest.approx(0.5)
    assert table.loc[0, "at_risk_customers"] == 2  # 0.2 and 0.4 < 0.5
    assert table.loc[0, "revenue_at_risk"] == pytest.approx(100)
    assert table.loc[1, "revenue_at_risk"] == pytest.approx(50)
    profiles = pd.DataFrame({"segment": [0, 1], "size": [3, 2]})
    before = profiles.copy()
    joined = with_value(profiles, values, labels)
    pd.testing.assert_frame_equal(profiles, before)
    assert joined["clv_total"].tolist() == pytest.approx([60, 400])
    assert list(with_value(profiles, None, labels).columns) == ["segment", "size"]


def test_high_value_follows_clv_rank_when_values_exist_else_spend():
    # segment 0 spent the most so far, segment 1 has the higher lifetime value
    big_spenders = _segment(10, orders=5, recency=20, spend=900)
    rising = _segment(10, orders=5, recency=20, spend=100, start=10)
    other = _segment(10, orders=5, recency=20, spend=300, start=20)
    features, labels = _frame(big_spenders, rising, other)
    clv = np.r_[np.full(10, 50.0), np.full(10, 5000.0), np.full(10, 400.0)]
    values = _values(features.index, clv, 0.9, 10)
    by_spend = evaluate_claims(features, labels).set_index(["segment", "claim"])
    assert by_spend.loc[(0, "high-value"), "holds"]
    assert not by_spend.loc[(1, "high-value"), "holds"]
    by_clv = evaluate_claims(features, labels, values=values).set_index(
        ["segment", "claim"]
    )
    assert by_clv.loc[(1, "high-value"), "holds"]
    assert not by_clv.loc[(0, "high-value"), "holds"]
    assert "CLV" in by_clv.loc[(1, "high-value"), "threshold"]
    assert clv_rank(values, labels) == {"top": {1}, "bottom": {0}}


def test_clv_rank_needs_eighty_percent_above_the_median_too():
    # segment 1 has the top median CLV but only 7 of 10 above the overall median
    a = _segment(10, orders=5, recency=20, spend=100)
    b = _segment(10, orders=5, recency=20, spend=100, start=10)
    c = _segment(10, orders=5, recency=20, spend=100, start=20)
    features, labels = _frame(a, b, c)
    clv = np.r_[np.full(10, 10.0), [1.0] * 3 + [900.0] * 7, np.full(10, 100.0)]
    values = _values(features.index, clv, 0.9, 10)
    table = evaluate_claims(features, labels, values=values).set_index(
        ["segment", "claim"]
    )
    assert table.loc[(1, "high-value"), "coverage"] == pytest.approx(0.7)
    assert not table.loc[(1, "high-value"), "holds"]


def test_churn_risk_claim_names_a_valuable_segment_that_probably_left():
    # half at risk, half lapsed by recency: neither lifecycle claim holds at 80 %
    gone = _segment(10, orders=6, recency=[100] * 5 + [400] * 5, spend=900)
    fine = _segment(10, orders=6, recency=100, spend=100, start=10)
    features, labels = _frame(gone, fine)
    clv = np.r_[np.full(10, 3000.0), np.full(10, 100.0)]
    p_alive = np.r_[[0.1] * 9 + [0.9], np.full(10, 0.95)]
    values = _values(features.index, clv, p_alive, 10)
    names, table = claim_names(features, labels, values=values)
    assert names[0] == "High-value at churn risk"
    mine = table[(table["segment"] == 0) & table["in_name"]]
    assert set(mine["claim"]) == {"high-value", "churn risk"}
    assert (mine["coverage"] >= 0.8).all()
    assert "churn risk" not in names[1].lower()
