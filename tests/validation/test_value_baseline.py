"""Tests of the CLV-tiers baseline (segkit.validation.value_baseline) and of the
structure sentence every page opens with (segkit.validation.structure)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator

from segkit.exceptions import DataError
from segkit.validation.baselines import heldout_comparison
from segkit.validation.structure import structure_banner, structure_sentence
from segkit.validation.value_baseline import (
    CLV_TIERS,
    value_baseline,
    value_tiers_at,
)


class _Planted(BaseEstimator):
    """Segments planted equal to a column of the data (whatever half it is fit on)."""

    def __init__(self, column: str = "planted"):
        self.column = column

    def fit(self, X, y=None):
        return self

    def predict(self, X):
        return X[self.column].to_numpy()


class _Random(BaseEstimator):
    """Segments that ignore the data (a seeded draw per customer)."""

    def __init__(self, k: int = 3):
        self.k = k

    def fit(self, X, y=None):
        return self

    def predict(self, X):
        return np.random.default_rng(7).integers(0, self.k, len(X))


def _planted(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    index = pd.Index([f"c{i:05d}" for i in range(n)], name="customer_id")
    clv = rng.lognormal(4, 1, n)
    values = pd.DataFrame({"clv": clv}, index=index)
    tier = pd.qcut(clv, 3, labels=False)
    # next-horizon revenue depends on the value tier only (plus noise)
    revenue = np.exp(2 + 1.0 * tier + rng.normal(0, 0.5, n))
    outcome = pd.DataFrame({"revenue": revenue}, index=index)
    return values, outcome


def test_value_tiers_at_known_answer_and_missing_customers():
    values = pd.DataFrame(
        {"clv": [60.0, 50, 40, 30, 20, 10]}, index=[f"c{i}" for i in range(6)]
    )
    customers = pd.Index(["c0", "c1", "c2", "c3", "c4", "c5", "new"])
    tiers = value_tiers_at(values, customers, 3)
    assert tiers.tolist() == [0, 0, 1, 1, 2, 2, -1]
    assert list(tiers.index) == list(customers)
    with pytest.raises(DataError, match=r"column 'clv' not found"):
        value_tiers_at(values.rename(columns={"clv": "x"}), customers, 3)
    with pytest.raises(DataError, match=r"only 6 of 7 customers have a value"):
        value_tiers_at(values, customers, 7)


def test_segments_equal_to_clv_tiers_are_indistinguishable_from_them():
    values, outcome = _planted()
    tiers = value_tiers_at(values, outcome.index, 3)
    frame = values.assign(planted=tiers)
    found = heldout_comparison(
        _Planted(),
        frame,
        outcome,
        tiers,
        None,
        n_resamples=200,
        n_permutations=50,
        value_tiers=tiers,
    )
    by_name = {b["name"]: b for b in found["baselines"]}
    assert by_name[CLV_TIERS]["groups"] == 3
    assert by_name[CLV_TIERS]["wording"] == "indistinguishable"
    assert by_name[CLV_TIERS]["difference"] == 0
    assert by_name["shuffled labels"]["wording"] == "better"
    # segments that ignore value lose to the CLV tiers on the same data
    found = heldout_comparison(
        _Random(3),
        frame,
        outcome,
        tiers,
        None,
        n_resamples=200,
        n_permutations=50,
        value_tiers=tiers,
    )
    worse = {b["name"]: b for b in found["baselines"]}[CLV_TIERS]
    assert worse["wording"] == "worse" and worse["difference_high"] < 0


def test_value_baseline_skips_with_a_note_saying_why():
    tx = pd.DataFrame(columns=["customer_id", "timestamp", "amount"])
    customers = pd.Index(["a", "b"])
    t0 = pd.Timestamp("2011-09-10")
    tiers, note = value_baseline(tx, customers, t0=t0, groups=3, value=None, seed=0)
    assert tiers is None and "produced no customer lifetime values" in note
    record = {"available": True, "method": "map", "holdout": {"t0": "2011-08-01"}}
    tiers, note = value_baseline(tx, customers, t0=t0, groups=3, value=record, seed=0)
    assert tiers is None
    assert "2011-08-01" in note and "value.horizon_days" in note


def test_structure_none_sentence_says_no_structure_and_rfm_grid_first():
    rec = {
        "structure": "none",
        "structure_reason": "No candidate is stable (prediction strength < 0.8)",
        "fallback": True,
        "use_rfm_grid": True,
        "chosen": "kmeans/scaled/3",
    }
    sentence = structure_sentence(rec)
    assert sentence.startswith("There is no clear segment structure")
    assert "RFM grid is recommended" in sentence
    assert "for reference only" in sentence
    assert "(no candidate is stable (prediction strength < 0.8))" in sentence
    assert structure_banner(rec).startswith("**There is no clear segment structure")
    weak = structure_sentence(
        {**rec, "structure": "weak", "fallback": False, "use_rfm_grid": False}
    )
    assert weak.startswith("The segment structure is weak")
    clear = structure_sentence({"structure": "clear", "structure_reason": ""})
    assert clear == "The segment structure is clear."
    assert structure_sentence(None) is None
    assert "has not run" in structure_banner(None)
