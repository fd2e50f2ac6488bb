"""CLV tiers as a value segmentation: cut points by hand, new customers, messages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from segkit.config import validate_config
from segkit.exceptions import ConfigError, DataError
from segkit.features.value_tiers import ClvTiers


def _values(clv):
    return pd.DataFrame(
        {"clv": clv, "frequency": 1.0}, index=[f"c{i}" for i in range(len(clv))]
    )


def test_tiers_cut_clv_into_the_configured_shares_top_first():
    frame = _values([float(v) for v in range(1, 11)])  # CLV 1..10
    before = frame.copy()
    model = ClvTiers(shares=[0.2, 0.3, 0.5]).fit(frame)
    assert_frame_equal(frame, before)
    # cut points: the 0.8 and 0.5 quantiles of 1..10 (1 + 0.8 * 9, 1 + 0.5 * 9)
    assert model.cuts_ == pytest.approx([8.2, 5.5])
    assert list(model.labels_) == [2, 2, 2, 2, 2, 1, 1, 1, 0, 0]
    assert model.names_ == {0: "Top value", 1: "Middle value", 2: "Low value"}


def test_new_customers_are_placed_by_the_stored_cut_points_alone():
    model = ClvTiers(shares=[0.5, 0.5]).fit(_values([1.0, 2.0, 3.0, 4.0]))
    assert model.cuts_ == pytest.approx([2.5])
    one = _values([100.0])
    assert list(model.predict(one)) == [0]
    assert list(model.predict(_values([2.5, 2.4, np.nan]))) == [0, 1, -1]


def test_default_shares_come_from_the_config_model():
    model = ClvTiers().fit(_values([float(v) for v in range(100)]))
    assert np.bincount(model.labels_).tolist() == [20, 30, 50]


def test_missing_clv_column_says_how_to_get_it():
    with pytest.raises(DataError, match=r"column 'clv' not found.*as_features"):
        ClvTiers().fit(pd.DataFrame({"monetary": [1.0, 2.0, 3.0]}))


def test_shares_that_do_not_sum_to_one_are_refused_in_words(tmp_path):
    with pytest.raises(DataError, match=r"sum to 0.900; the tier shares"):
        ClvTiers(shares=[0.5, 0.4]).fit(_values([1.0, 2.0, 3.0]))
    with pytest.raises(ConfigError, match=r"value.tiers is \[0.5, 0.4\].*sum to 1"):
        validate_config({"name": "x", "value": {"tiers": [0.5, 0.4]}}, root=tmp_path)
