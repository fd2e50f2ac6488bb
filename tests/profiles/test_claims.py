"""Tests of segkit.profiles.claims and plays: names whose claims hold, honest plays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segkit.profiles.claims import (
    CLAIM_COLUMNS,
    NAME_RULES,
    claim_names,
    claim_text,
    evaluate_claims,
    name_word_claims,
    segment_facts,
)
from segkit.profiles.plays import plays_for
from tests.conftest import ROOT


def _segment(n, *, orders, recency, spend, tenure=None, start=0):
    """n customers with the given (scalar or list) orders / recency / spend."""
    frame = pd.DataFrame(
        {
            "recency_days": np.resize(recency, n).astype("float64"),
            "frequency": np.resize(orders, n).astype("float64"),
            "monetary": np.resize(spend, n).astype("float64"),
        }
    )
    frame["tenure_days"] = (
        np.resize(tenure, n).astype("float64")
        if tenure is not None
        else frame["recency_days"] + 100 * (frame["frequency"] > 1)
    )
    frame.index = [f"c{start + i:04d}" for i in range(n)]
    return frame


def _frame(*parts):
    features = pd.concat(parts)
    features.index.name = "customer_id"
    labels = pd.Series(
        np.concatenate([np.full(len(p), i) for i, p in enumerate(parts)]),
        index=features.index,
        name="segment",
    )
    return features, labels


def test_one_timers_claim_holds_at_80_percent_and_fails_below():
    # segment 0: 8 of 10 one order (80 %); segment 1: 7 of 10 (70 %)
    a = _segment(10, orders=[1] * 8 + [2] * 2, recency=300, spend=20)
    b = _segment(10, orders=[1] * 7 + [3] * 3, recency=300, spend=25, start=10)
    c = _segment(10, orders=8, recency=10, spend=900, start=20)
    table = evaluate_claims(*_frame(a, b, c)).set_index(["segment", "claim"])
    assert table.loc[(0, "one-timers"), "coverage"] == pytest.approx(0.8)
    assert table.loc[(0, "one-timers"), "holds"]
    assert table.loc[(1, "one-timers"), "coverage"] == pytest.approx(0.7)
    assert not table.loc[(1, "one-timers"), "holds"]
    low, high = table.loc[(0, "one-timers"), ["coverage_low", "coverage_high"]]
    assert low < 0.8 < high  # Wilson, never zero width


def test_names_use_only_claims_that_hold():
    a = _segment(10, orders=[1] * 8 + [2] * 2, recency=300, spend=20)
    b = _segment(10, orders=[1] * 7 + [3] * 3, recency=300, spend=25, start=10)
    c = _segment(10, orders=8, recency=10, spend=900, start=20)
    names, table = claim_names(*_frame(a, b, c))
    assert names[0] == "Lapsed one-timers"
    assert names[1] == "Lapsed customers"  # 70 % one-timers: not "one-timers"
    assert names[2] == "High-value loyal"
    used = table[table["in_name"]]
    assert used["holds"].all() and (used["coverage"] >= 0.8).all()
    assert list(table.columns[: len(CLAIM_COLUMNS)]) == CLAIM_COLUMNS


def test_high_value_needs_the_top_third_rank_and_80_percent_above_the_median():
    # three segments all spending above the overall median would not all be
    # "high-value": only the top round(3 / 3) = 1 by median spend
    low = _segment(30, orders=1, recency=300, spend=5)
    mid = _segment(10, orders=4, recency=20, spend=500, start=30)
    top = _segment(10, orders=4, recency=20, spend=800, start=40)
    table = evaluate_claims(*_frame(low, mid, top)).set_index(["segment", "claim"])
    assert table.loc[(1, "high-value"), "coverage"] == 1.0
    assert not table.loc[(1, "high-value"), "holds"]
    assert table.loc[(2, "high-value"), "holds"]


def test_a_valuable_customer_who_stops_buying_is_not_called_loyal():
    # many orders and high spend, but silent for 120 days: at risk, not loyal
    quiet = _segment(10, orders=12, recency=120, spend=5000)
    others = _segment(20, orders=1, recency=30, spend=50, tenure=30, start=10)
    names, table = claim_names(*_frame(quiet, others))
    assert names[0] == "At-risk high-value"
    loyal = table.set_index(["segment", "claim"]).loc[(0, "loyal")]
    assert loyal["coverage"] == 0.0 and not loyal["holds"]


def test_a_segment_without_any_holding_claim_is_neutral_and_mixed():
    # half one-timers, half repeat; recency and spend spread over the range
    mixed = _segment(
        20,
        orders=[1, 1, 3, 5],
        recency=[5, 60, 150, 300, 20],
        spend=np.linspace(10, 1000, 20),
    )
    best = _segment(20, orders=9, recency=10, spend=5000, start=20)
    worst = _segment(20, orders=1, recency=350, spend=1, start=40)
    names, table = claim_names(*_frame(mixed, best, worst))  # mixed ranks 2nd
    assert names[0] == "Segment 0 (mixed)"
    assert not table.loc[table["segment"] == 0, "in_name"].any()


def test_names_are_unique_and_the_suffix_is_a_checked_claim():
    a = _segment(20, orders=1, recency=300, spend=20)
    b = _segment(20, orders=1, recency=300, spend=[60, 70], start=20)
    c = _segment(20, orders=6, recency=10, spend=900, start=40)
    names, table = claim_names(*_frame(a, b, c))
    assert len(set(names.values())) == 3
    assert {names[0], names[1]} == {
        "Lapsed one-timers",
        "Lapsed one-timers, higher net revenue",
    }
    suffixed = table[(table["segment"] == 1) & table["in_name"]]
    assert "higher monetary" in set(suffixed["claim"])
    assert (suffixed["coverage"] >= 0.8).all()


def test_every_name_rule_uses_known_claims():
    from segkit.profiles.claims import CLAIMS
    from segkit.profiles.value import VALUE_CLAIMS

    for name, needs in NAME_RULES:
        assert needs and set(needs) <= set(CLAIMS) | set(VALUE_CLAIMS), name


def test_plays_leave_out_members_who_bought_in_the_last_30_days():
    lapsed = _segment(10, orders=1, recency=[300] * 9 + [5], spend=10)
    best = _segment(10, orders=9, recency=10, spend=900, start=10)
    features, labels = _frame(lapsed, best)
    facts = segment_facts(features, labels)
    assert facts.loc[0, "recent_customers"] == 1
    _, table = claim_names(features, labels)
    holding = set(table.loc[(table["segment"] == 0) & table["holds"], "claim"])
    plays = plays_for(holding, facts.loc[0])
    assert "Suppress from paid campaigns" in [p["play"] for p in plays]
    for play in plays:
        assert (
            "leave out the 1 members (10%) who ordered in the last 30 days"
            in play["why"]
        )
    assert plays_for(set()) == [{"play": "Monitor", "why": plays_for(set())[0]["why"]}]


def test_plays_for_the_active_name_the_silent_members():
    facts = pd.Series(
        {"customers": 100, "recent_customers": 60, "recent_share": 0.6,
         "share_at_risk": 0.1, "share_lapsed": 0.05}
    )  # fmt: skip
    plays = plays_for({"high-value", "active", "loyal"}, facts)
    vip = next(p for p in plays if p["play"].startswith("VIP"))
    assert "the 15 members at risk or lapsed need a win-back" in vip["why"]


def test_every_name_holds_for_80_percent_of_members_on_the_fixture(tmp_path):
    from sklearn.cluster import KMeans

    from segkit.context import open_run
    from segkit.features.lifecycle import settings_of

    ctx = open_run(ROOT / "tests" / "fixtures" / "retail_small.yaml", tmp_path / "r")
    ctx.run_step("features")
    features = ctx.load_frame("features.parquet")
    matrix = ctx.load_frame("matrix.parquet")
    for k in (3, 5):
        km = KMeans(k, n_init=10, random_state=0).fit(matrix)
        labels = pd.Series(km.labels_, index=matrix.index)
        names, table = claim_names(features, labels, settings=settings_of(ctx.config))
        assert len(set(names.values())) == k
        used = table[table["in_name"]]
        assert (used["coverage"] >= 0.8).all(), used
        named = {s for s, n in names.items() if "(mixed)" not in n}
        assert named <= set(used["segment"])


def test_fallback_names_read_as_words_and_keep_the_checked_claim_key():
    # no order columns: only feature claims; segment 0 has 1 active month each
    rng = np.random.default_rng(3)
    features = pd.DataFrame(
        {
            "active_months": np.r_[np.ones(30), np.arange(2, 32)],
            "avg_order_value": rng.uniform(10, 100, 60),
        },
        index=pd.Index([f"c{i}" for i in range(60)], name="customer_id"),
    )
    labels = pd.Series(np.repeat([0, 1], 30), index=features.index)
    names, table = claim_names(features, labels)
    assert names == {0: "Few active months", 1: "Many active months"}
    used = table[table["in_name"]].set_index("segment")
    assert used.loc[0, "claim"] == "low active_months"
    assert used.loc[0, "threshold"] == ">= 80% with Active months <= overall median"


def test_claim_words_come_from_the_glossary():
    assert claim_text("low active_months") == "few active months"
    assert claim_text("high avg_order_value") == "large baskets"
    assert claim_text("higher monetary") == "higher net revenue"
    assert claim_text("high annual_income") == "high annual income"
    assert claim_text("France (country)") == "France (country)"
    assert claim_text("one-timers") == "one-timers"


def test_every_rule_name_reads_back_as_exactly_its_claims():
    for name, needs in NAME_RULES:
        assert set(name_word_claims(name)) == set(needs), name
    assert name_word_claims("Lapsed one-time VIPs") == (
        "one-timers",
        "lapsed",
        "high-value",
    )
    assert name_word_claims("Champions") == ()
    assert name_word_claims("Inactive browsers") == ()  # "inactive" is not "active"
