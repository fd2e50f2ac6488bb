"""Tests for segkit.validation.baselines and separation: fair held-out comparisons,
and distinctness that pure noise does not pass."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs

from segkit.clustering.model import SegmentationModel
from segkit.exceptions import DataError
from segkit.validation.baselines import (
    baseline_records,
    compare_heldout,
    halves,
    heldout_r2,
    rfm_tiers,
    wording,
)
from segkit.validation.explained import eta_squared, omega_squared
from segkit.validation.separation import heldout_separation, silverman_test


def test_rfm_tiers_are_equal_sized_and_ordered_by_value():
    rfm = pd.DataFrame(
        {
            "recency": [1, 2, 3, 4, 5, 300, 310, 320, 330],
            "frequency": [9, 8, 7, 6, 5, 1, 1, 1, 1],
            "monetary": [900, 800, 700, 600, 500, 10, 10, 10, 10],
        },
        index=list("abcdefghi"),
    )
    tiers = rfm_tiers(rfm, 3)
    assert tiers.value_counts().tolist() == [3, 3, 3]
    assert tiers[list("abc")].eq(3).all() and tiers[list("ghi")].eq(1).all()
    with pytest.raises(DataError, match=r"columns \['monetary'\] not found"):
        rfm_tiers(rfm.drop(columns="monetary"), 3)


def test_heldout_r2_by_hand_and_about_zero_for_labels_without_information():
    y = np.array([1.0, 3.0, 1.0, 3.0])
    fold = np.array([True, True, False, False])
    assert heldout_r2(y, np.array([0, 1, 0, 1]), fold) == 1.0
    # means learnt on A, mean 2: B's values 1 and 3 are predicted as 2 -> R2 0
    assert heldout_r2(y, np.zeros(4), fold) == 0.0
    rng = np.random.default_rng(0)
    noise = rng.normal(size=2000)
    fold = halves(2000, random_state=1)
    for k in (3, 30):
        assert abs(heldout_r2(noise, rng.integers(0, k, 2000), fold)) < 0.03
    # raw eta squared favours the 30 groups; omega squared does not
    many = rng.integers(0, 30, 2000)
    eta, omega = (
        eta_squared(pd.Series(noise), pd.Series(many)),
        omega_squared(noise, many),
    )
    assert eta - omega > 0.01  # eta's null mean: 29 / 1999 = 0.0145
    assert abs(omega) < 0.01


def test_more_groups_with_the_same_effect_are_not_better():
    """3 segments vs the same 3 split into 10 groups: equal true R2 (known answer).

    Eta squared calls the 10 groups better; the held-out comparison does not.
    """
    rng = np.random.default_rng(3)
    n = 1500
    three = rng.integers(0, 3, n)
    split = rng.integers(0, 4, n)
    ten = three * 4 + np.where(three == 2, np.minimum(split, 2), split)  # 4 + 4 + 3
    y = three * 0.5 + rng.normal(size=n)
    table = compare_heldout(
        {"y": y},
        {"model": three, "grid": ten, "shuffled": rng.permutation(three)},
        halves(n, random_state=0),
        n_resamples=300,
        n_permutations=50,
    ).set_index("name")
    assert eta_squared(pd.Series(y), pd.Series(ten)) > eta_squared(
        pd.Series(y), pd.Series(three)
    )
    assert table.loc["grid", "wording"] in {"indistinguishable", "better"}
    assert table.loc["grid", "groups"] == 11
    assert (
        table.loc["grid", "difference_low"]
        < 0.01
        < table.loc["grid", "difference_high"] + 0.01
    )
    assert table.loc["shuffled", "wording"] == "better"
    assert table.loc["model", "p_value"] < 0.05
    assert table.loc["shuffled", "p_value"] > 0.05
    assert (
        table.loc["model", "low"]
        < table.loc["model", "measure"]
        < table.loc["model", "high"]
    )
    records = baseline_records(table.reset_index(), "y")
    assert [r["name"] for r in records] == ["grid", "shuffled"]
    assert records[0]["groups"] == 11 and records[0]["reference"]["groups"] == 3


def test_wording_follows_the_interval_not_the_point():
    assert wording(0.01, 0.05) == "better"
    assert wording(-0.05, -0.01) == "worse"
    assert wording(-0.01, 0.05) == "indistinguishable"
    assert wording(np.nan, 0.1) == "not measured"


def test_silverman_test_tells_one_mode_from_two():
    rng = np.random.default_rng(0)
    assert silverman_test(rng.normal(size=300)) > 0.1
    two = np.r_[rng.normal(-3, 1, 150), rng.normal(3, 1, 150)]
    assert silverman_test(two) < 0.02
    assert np.isnan(silverman_test(np.ones(20)))


def test_kmeans_on_pure_noise_is_not_distinct_but_planted_blobs_are():
    rng = np.random.default_rng(7)
    noise = pd.DataFrame(rng.normal(size=(600, 6)), columns=list("abcdef"))
    model = SegmentationModel(n_segments=6, random_state=0).fit(noise)
    pairs = heldout_separation(model, noise, reference=model.labels_)
    assert len(pairs) == 15
    assert pairs["distinct"].mean() < 0.2  # before: every pair "distinct"
    values, _ = make_blobs(
        n_samples=600, centers=4, n_features=3, cluster_std=0.5, random_state=3
    )
    blobs = pd.DataFrame(values, columns=["x", "y", "z"])
    model = SegmentationModel(n_segments=4, random_state=0).fit(blobs)
    pairs = heldout_separation(model, blobs, reference=model.labels_)
    assert pairs["distinct"].all() and len(pairs) == 6
    assert set(pairs["segment_a"]) | set(pairs["segment_b"]) == {0, 1, 2, 3}


def test_too_few_customers_for_a_heldout_test_is_an_error():
    frame = pd.DataFrame({"x": np.arange(20.0)})
    with pytest.raises(DataError, match="held-out separation needs at least 40"):
        heldout_separation(SegmentationModel(n_segments=2), frame)


def test_the_permutation_null_scores_what_scoring_each_permutation_gives():
    from segkit.validation.baselines import _codes, _permuted_scores, _scores

    rng = np.random.default_rng(5)
    n = 301
    y = rng.gamma(2.0, 3.0, n)
    fold = halves(n, random_state=2)
    # 6 groups fitted on A, 4 on B; group 5 never appears in half B's labels
    a = rng.integers(0, 6, n)
    b = rng.integers(0, 4, n)
    a[~fold & (a == 5)] = 0
    directions = (_codes(a), _codes(b))
    orders = np.stack([rng.permutation(n) for _ in range(7)])
    one_by_one = [
        _scores(
            y,
            (
                (directions[0][0][o], directions[0][1]),
                (directions[1][0][o], directions[1][1]),
            ),
            fold,
            np.ones((1, n)),
        )[0]
        for o in orders
    ]
    assert np.allclose(_permuted_scores(y, directions, fold, orders), one_by_one)
    # the identity permutation scores the labels themselves
    identity = np.arange(n)[None, :]
    assert np.isclose(
        _permuted_scores(y, directions, fold, identity)[0], heldout_r2(y, (a, b), fold)
    )
    # a constant outcome has nothing to explain
    flat = _permuted_scores(np.ones(n), directions, fold, orders)
    assert np.array_equal(flat, np.zeros(7))
