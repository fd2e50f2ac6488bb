"""Tests for segkit.validation.distinct: Kruskal-Wallis, Cliff's delta, merge candidates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal

from segkit.exceptions import DataError
from segkit.validation.distinct import (
    distinctness_summary,
    effect_magnitude,
    kruskal_table,
    numeric_view,
    pairwise_distinctness,
    segment_effects,
)


@pytest.fixture
def three() -> tuple[pd.DataFrame, pd.Series]:
    """Segment 0 spends 1..10, segments 1 and 2 spend 101..110 and 102..111.

    ``visits`` is the same 1..10 in every segment; segment 0 buys on the web, the
    others in the shop. So 0 is distinct on spend and channel, and 1 vs 2 differ by a
    shift of one unit only: Cliff's delta (36 - 55) / 100 = -0.19, "small".
    """
    ten = np.arange(1, 11, dtype=float)
    frame = pd.DataFrame(
        {
            "spend": np.r_[ten, ten + 100, ten + 101],
            "visits": np.r_[ten, ten, ten],
            "channel": ["web"] * 10 + ["shop"] * 20,
        },
        index=pd.Index([f"c{i:02d}" for i in range(30)], name="customer_id"),
    )
    frame["channel"] = frame["channel"].astype("str")
    labels = pd.Series(np.repeat([0, 1, 2], 10), index=frame.index, name="segment")
    return frame, labels


def test_numeric_view_turns_categories_into_indicators(three):
    frame, _ = three
    view = numeric_view(frame)
    assert set(view.columns) == {"spend", "visits", "channel=shop", "channel=web"}
    assert view["channel=web"].sum() == 10
    assert view.dtypes.eq(float).all()


def test_kruskal_separates_a_real_difference_from_none(three):
    frame, labels = three
    table = kruskal_table(frame, labels).set_index("feature")
    assert table.loc["spend", "significant"]
    assert table.loc["spend", "epsilon_squared"] > 0.6
    assert table.loc["spend", "effect"] == "large"
    assert not table.loc["visits", "significant"]
    assert table.loc["visits", "epsilon_squared"] == pytest.approx(0.0)
    assert (table["p_adjusted"] >= table["p_value"]).all()


def test_segment_effects_give_cliffs_delta_against_the_rest(three):
    frame, labels = three
    effects = segment_effects(frame, labels).set_index(["segment", "feature"])
    assert effects.loc[(0, "spend"), "cliffs_delta"] == pytest.approx(-1.0)
    assert effects.loc[(0, "spend"), "median_segment"] == pytest.approx(5.5)
    assert effects.loc[(0, "channel=web"), "cliffs_delta"] == pytest.approx(1.0)
    assert effects.loc[(0, "visits"), "cliffs_delta"] == pytest.approx(0.0)
    assert effects.loc[(0, "spend"), "magnitude"] == "large"


def test_pairwise_flags_the_shifted_pair_as_indistinct(three):
    frame, labels = three
    pairs = pairwise_distinctness(frame, labels, min_effect=0.33)
    pairs = pairs.set_index(["segment_a", "segment_b"])
    assert pairs.loc[(1, 2), "max_abs_delta"] == pytest.approx(0.19)
    assert not pairs.loc[(1, 2), "distinct"]
    assert pairs.loc[(0, 1), "distinct"]
    assert pairs.loc[(0, 2), "distinct"]


def test_summary_names_merge_candidates_and_what_sets_a_segment_apart(three):
    frame, labels = three
    summary = distinctness_summary(
        segment_effects(frame, labels), pairwise_distinctness(frame, labels)
    ).set_index("segment")
    assert not summary.loc[0, "merge_candidate"]
    assert summary.loc[0, "top_features"].startswith("spend -1.00")
    assert summary.loc[1, "merge_candidate"]
    assert summary.loc[1, "merge_with"] == 2
    assert summary.loc[2, "merge_with"] == 1
    assert summary.loc[2, "nearest_segment"] == 1


def test_noise_is_left_out_and_a_one_customer_segment_is_handled(three):
    frame, labels = three
    labels = labels.copy()
    labels.iloc[0] = 3  # customer c00 (spend 1) becomes a segment of one
    labels.iloc[10] = -1  # one noise customer
    effects = segment_effects(frame, labels)
    assert -1 not in set(effects["segment"])
    one = effects.set_index(["segment", "feature"]).loc[(3, "spend")]
    assert one["cliffs_delta"] == pytest.approx(-1.0)
    pairs = pairwise_distinctness(frame, labels)
    assert len(pairs) == 6  # 4 segments -> 6 pairs


def test_inputs_are_not_mutated(three):
    frame, labels = three
    before_f, before_l = frame.copy(), labels.copy()
    kruskal_table(frame, labels)
    segment_effects(frame, labels)
    pairwise_distinctness(frame, labels)
    assert_frame_equal(frame, before_f)
    assert_series_equal(labels, before_l)


def test_labels_missing_customers_is_an_error(three):
    frame, labels = three
    with pytest.raises(
        DataError, match="have no segment in labels; pass labels.parquet"
    ):
        kruskal_table(frame, labels.iloc[:-1])


def test_a_single_segment_is_an_error(three):
    frame, _ = three
    labels = pd.Series(0, index=frame.index)
    with pytest.raises(DataError, match="needs at least 2 segments, got 1"):
        segment_effects(frame, labels)


def test_no_testable_column_is_an_error():
    frame = pd.DataFrame({"when": pd.to_datetime(["2020-01-01"] * 3)})
    frame = frame.drop(columns="when")
    with pytest.raises(DataError, match="none of the feature columns"):
        numeric_view(frame)


@pytest.mark.parametrize(
    ("value", "label"),
    [(0.1, "negligible"), (-0.2, "small"), (0.4, "medium"), (-0.5, "large")],
)
def test_cliffs_delta_magnitude_uses_romano_thresholds(value, label):
    assert effect_magnitude(value) == label
