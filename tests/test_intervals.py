"""Tests for segkit.intervals: Wilson / Clopper-Pearson rates, bootstrap-t means,
joint-bootstrap shares, and a quick coverage check the naive intervals fail."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segkit.exceptions import DataError
from segkit.intervals import (
    clopper_pearson,
    mean_interval,
    rate_interval,
    segment_summary,
    share_intervals,
    wilson,
)


def test_wilson_by_hand_and_never_zero_width_at_30_of_30():
    low, high = wilson(30, 30)
    assert high == pytest.approx(1.0)
    assert low == pytest.approx(0.8865, abs=1e-4)  # 30 / (30 + 1.96^2)
    low, high = wilson(0, 30)
    assert low == 0.0 and high == pytest.approx(0.1135, abs=1e-4)
    low, high = wilson(np.array([5, 0]), np.array([10, 0]))
    assert low[0] == pytest.approx(0.2366, abs=1e-4)
    assert np.isnan(low[1])


def test_clopper_pearson_by_hand():
    low, high = clopper_pearson(30, 30)
    assert high == 1.0 and low == pytest.approx(0.025 ** (1 / 30))
    low, high = clopper_pearson(0, 10)
    assert low == 0.0 and high == pytest.approx(1 - 0.025 ** (1 / 10))


def test_rate_interval_refuses_amounts_and_unknown_methods():
    with pytest.raises(DataError, match="a rate interval needs a 0/1"):
        rate_interval([0.0, 2.5])
    with pytest.raises(DataError, match="rate interval method 'exact' is unknown"):
        rate_interval([0.0, 1.0], method="exact")
    with pytest.raises(DataError, match="confidence level 1.5 is not between"):
        wilson(1, 2, level=1.5)


def test_mean_interval_widens_upwards_for_a_long_right_tail():
    values = np.r_[np.zeros(20), [10, 12, 15, 20, 25, 40, 80, 150, 300, 900]]
    low, high = mean_interval(values, random_state=1)
    mean = values.mean()
    assert low < mean < high
    assert high - mean > 1.5 * (mean - low)
    assert mean_interval([5.0, 5.0, 5.0]) == (5.0, 5.0)
    assert np.isnan(mean_interval([])[0])
    bca = mean_interval(values, method="bca", random_state=1)
    assert bca[0] < mean < bca[1]
    with pytest.raises(DataError, match="mean interval method 'x' is unknown"):
        mean_interval(values, method="x")


def test_log_scale_interval_by_hand_widens_the_bootstrap_t():
    """8 zeros and 8 amounts with evenly spaced logs 2.0..5.5 (mean 3.75, var 1.5).

    Delta-lognormal: centre log(0.5) + 3.75 + 0.75 = 3.807, log-scale variance
    0.5 / 8 + 1.5 / 8 + 1.5^2 / 14 = 0.4107, bounds exp(3.807 -/+ 1.96 x 0.6409)
    = 12.82 and 158.06; the bootstrap-t alone stops at about 133.
    """
    logs = np.arange(2.0, 6.0, 0.5)
    values = np.r_[np.zeros(8), np.exp(logs)]
    low_t, high_t = mean_interval(values, method="studentized", random_state=1)
    low, high = mean_interval(values, random_state=1)
    assert high == pytest.approx(158.06, abs=0.05)
    assert high > high_t + 20
    assert low == pytest.approx(min(low_t, 12.82), abs=0.01)


def test_log_scale_check_stays_out_when_the_amounts_are_not_lognormal():
    # a refund (negative amount), too few positives, and a fit whose mean lies in
    # an unseen tail (log-SD 3.3: lognormal mean > 3 x the sample mean)
    refund = np.r_[np.zeros(10), -5.0, np.exp(np.arange(2.0, 6.0, 0.5))]
    few = np.r_[np.zeros(20), [3.0, 10.0, 40.0, 90.0]]
    tail = np.r_[np.zeros(10), np.exp(np.linspace(-4.0, 6.0, 12))]
    for values in (refund, few, tail):
        assert mean_interval(values, random_state=2) == mean_interval(
            values, method="studentized", random_state=2
        )


def test_share_intervals_add_up_and_move_the_rest_of_revenue():
    groups = np.repeat([0, 1, 2], [10, 10, 80])
    values = np.r_[np.full(10, 100.0), np.zeros(10), np.full(80, 1.0)]
    table = share_intervals(groups, values, n_resamples=500)
    assert table["share"].sum() == pytest.approx(1.0)
    assert table.loc[0, "share"] == pytest.approx(1000 / 1080)
    assert table.loc[1, "low"] == table.loc[1, "high"] == 0.0
    assert table.loc[0, "low"] < table.loc[0, "share"] < table.loc[0, "high"]
    customers = share_intervals(groups)
    assert customers.loc[2, "share"] == 0.8
    assert customers.loc[2, "low"] == pytest.approx(wilson(80, 100)[0])


def test_segment_summary_gives_every_interval_and_keeps_its_inputs():
    outcome = pd.DataFrame(
        {"again": [1.0] * 30 + [0.0, 1.0] * 15, "revenue": np.arange(60.0)},
        index=[f"c{i}" for i in range(60)],
    )
    labels = pd.Series(np.repeat(["a", "b"], 30), index=outcome.index)
    before = outcome.copy()
    table = segment_summary(
        labels,
        outcome,
        rates={"retention": "again"},
        means={"revenue_per_customer": "revenue"},
        shares={"revenue_share": "revenue"},
        n_resamples=300,
    ).set_index("segment")
    pd.testing.assert_frame_equal(outcome, before)
    assert table.loc["a", "retention"] == 1.0
    assert table.loc["a", "retention_low"] < 1.0  # no [1, 1] at 30 customers
    assert table.loc["b", "retention"] == 0.5
    assert table.loc["a", "revenue_share"] == pytest.approx(435 / 1770)
    assert table.loc["a", "customer_share"] == 0.5
    with pytest.raises(DataError, match=r"outcome columns \['spend'\] not found"):
        segment_summary(labels, outcome, means={"x": "spend"})


def test_quick_coverage_beats_the_naive_intervals():
    """300 draws: Wilson at 30 customers and p = 0.97, and the joint share.

    The naive percentile bootstrap of a rate is [1, 1] whenever all 30 bought again
    (40 % of draws) and covers about 60 %; holding the rest of revenue fixed covers
    the revenue share about 70 %. Loose bounds: at least 88 % for segkit.
    """
    rng = np.random.default_rng(5)
    sims, p = 300, 0.97
    wilson_hits = naive_hits = 0
    for _ in range(sims):
        flags = (rng.random(30) < p).astype(float)
        low, high = wilson(flags.sum(), 30)
        wilson_hits += low <= p <= high
        means = flags[rng.integers(0, 30, (200, 30))].mean(1)
        naive_hits += np.quantile(means, 0.025) <= p <= np.quantile(means, 0.975)
    assert wilson_hits / sims >= 0.88
    assert naive_hits / sims < 0.8
    probs, scale = np.array([1, 2, 3]) / 6, np.array([3.0, 1.0, 0.5])
    truth = probs[0] * scale[0] / (probs * scale).sum()
    joint_hits = fixed_hits = 0
    for i in range(sims):
        groups = rng.choice(3, size=180, p=probs)
        values = rng.lognormal(0, 1.2, 180) * scale[groups] * (rng.random(180) > 0.6)
        values = values / np.exp(1.2**2 / 2)  # mean of each segment: its scale x 0.4
        row = share_intervals(groups, values, n_resamples=300, random_state=i).loc[0]
        joint_hits += row["low"] <= truth <= row["high"]
        mine, rest = values[groups == 0], values[groups != 0].sum()
        sums = mine[rng.integers(0, len(mine), (300, len(mine)))].sum(1)
        low, high = np.quantile(sums / (sums + rest), [0.025, 0.975])
        fixed_hits += low <= truth <= high
    assert joint_hits / sims >= 0.88
    assert fixed_hits / sims < 0.85
