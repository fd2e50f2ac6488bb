"""Tests for segkit.clustering.stability: bootstrap Jaccard, bands, prediction strength."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal
from sklearn.base import BaseEstimator
from sklearn.datasets import make_blobs

from segkit.clustering.model import SegmentationModel
from segkit.clustering.stability import (
    bootstrap_stability,
    bounded_sample,
    prediction_strength,
    stability_band,
    suggested_k,
)
from segkit.exceptions import DataError


def _frame(values: np.ndarray) -> pd.DataFrame:
    index = pd.Index([f"c{i:04d}" for i in range(len(values))], name="customer_id")
    columns = [f"f{j}" for j in range(values.shape[1])]
    return pd.DataFrame(values, index=index, columns=columns)


@pytest.fixture(scope="module")
def planted() -> tuple[pd.DataFrame, np.ndarray]:
    """Four tight, far-apart blobs of 100 customers each."""
    values, truth = make_blobs(
        n_samples=400, centers=4, n_features=3, cluster_std=0.5, random_state=3
    )
    return _frame(values), truth


@pytest.fixture(scope="module")
def noise() -> pd.DataFrame:
    """Structureless: 400 customers from one isotropic Gaussian in 8 dimensions."""
    return _frame(np.random.default_rng(7).normal(size=(400, 8)))


class Fixed(BaseEstimator):
    """Stand-in model that always returns the labels of a fixed rule on column f0."""

    def __init__(self, *, cut: float = 0.0) -> None:
        self.cut = cut

    def fit(self, features: pd.DataFrame) -> Fixed:
        self.labels_ = self.predict(features)
        return self

    def predict(self, features: pd.DataFrame) -> pd.Series:
        values = (features["f0"] > self.cut).astype(int)
        return values.rename("segment")


@pytest.mark.parametrize(
    ("jaccard", "band"),
    [
        (0.9, "highly stable"),
        (0.85, "highly stable"),
        (0.8, "stable"),
        (0.75, "stable"),
        (0.7, "doubtful membership"),
        (0.6, "doubtful membership"),
        (0.59, "not trustworthy"),
        (float("nan"), "not trustworthy"),
    ],
)
def test_stability_band_follows_hennig_thresholds(jaccard, band):
    assert stability_band(jaccard) == band


def test_planted_segments_are_all_highly_stable(planted):
    features, _ = planted
    model = SegmentationModel(n_segments=4, random_state=0)
    labels = model.fit(features).labels_
    result = bootstrap_stability(
        model, features, labels=labels, n_boot=8, sample_size=300, random_state=0
    )
    assert len(result.segments) == 4
    assert (result.segments["jaccard"] > 0.95).all()
    assert set(result.segments["band"]) == {"highly stable"}
    assert result.summary()["ari_mean"] > 0.95
    assert result.sample_size == 300
    assert result.scheme == "bootstrap"


def test_structureless_noise_is_flagged_unstable(noise):
    model = SegmentationModel(n_segments=6, random_state=0)
    labels = model.fit(noise).labels_
    result = bootstrap_stability(
        model, noise, labels=labels, n_boot=8, sample_size=400, random_state=0
    )
    assert "highly stable" not in set(result.segments["band"])
    assert result.segments["jaccard"].mean() < 0.75
    assert result.summary()["ari_mean"] < 0.75


def test_same_seed_gives_identical_bootstrap_results(planted):
    features, truth = planted
    labels = pd.Series(truth, index=features.index)
    model = SegmentationModel(n_segments=4, random_state=0)
    first = bootstrap_stability(
        model, features, labels=labels, n_boot=3, sample_size=200, random_state=5
    )
    second = bootstrap_stability(
        model, features, labels=labels, n_boot=3, sample_size=200, random_state=5
    )
    assert_frame_equal(first.segments, second.segments)
    assert_frame_equal(first.refits, second.refits)


def test_inputs_are_not_mutated(planted):
    features, truth = planted
    labels = pd.Series(truth, index=features.index)
    before_f, before_l = features.copy(), labels.copy()
    model = SegmentationModel(n_segments=4)
    bootstrap_stability(model, features, labels=labels, n_boot=2, sample_size=100)
    prediction_strength(model, features, k_values=[2, 3], n_splits=1, sample_size=100)
    assert_frame_equal(features, before_f)
    assert_series_equal(labels, before_l)


def test_one_customer_segment_is_handled_and_scores_low():
    # Customer c0000 is a segment of its own (f0 far above the cut), 19 others below.
    values = np.column_stack([np.r_[10.0, np.linspace(-2, -1, 19)], np.zeros(20)])
    features = _frame(values)
    labels = pd.Series(np.r_[1, np.zeros(19, dtype=int)], index=features.index)
    # The refit puts c0000 together with the 4 customers whose f0 > -1.2.
    result = bootstrap_stability(
        Fixed(cut=-1.2), features, labels=labels, n_boot=20, random_state=0
    )
    one = result.segments.set_index("segment").loc[1]
    assert one["size"] == 1
    # When drawn, Jaccard is 1 / |its bootstrap segment| <= 1/1 and < 1 here;
    # when not drawn it is 0 and counted as absent.
    assert 0 < one["share_absent"] < 1
    assert one["jaccard"] < 0.5
    assert one["band"] == "not trustworthy"


def test_segment_absent_from_a_bootstrap_sample_scores_zero_there():
    features = _frame(np.column_stack([np.r_[5.0, 6.0, np.zeros(8)], np.zeros(10)]))
    labels = pd.Series(np.r_[1, 1, np.zeros(8, dtype=int)], index=features.index)
    result = bootstrap_stability(
        Fixed(cut=1.0), features, labels=labels, n_boot=40, random_state=1
    )
    row = result.segments.set_index("segment").loc[1]
    absent = row["share_absent"]
    assert absent > 0  # (8/10)^10 ~ 11 % of draws miss both customers
    # The rule reproduces the segment exactly whenever it is drawn: Jaccard is 1
    # there and 0 where absent, so the mean is the share of draws holding it.
    assert row["jaccard"] == pytest.approx(1 - absent)
    assert (result.jaccard[1].isin([0.0, 1.0])).all()


def test_bounded_sample_keeps_every_segment_and_respects_the_bound():
    labels = pd.Series(
        np.r_[np.zeros(990, dtype=int), np.ones(10, dtype=int)],
        index=pd.Index([f"c{i}" for i in range(1000)]),
    )
    chosen = bounded_sample(labels, 100, random_state=0, min_per_segment=5)
    counts = labels.loc[chosen].value_counts()
    assert counts[1] >= 5
    assert 95 <= len(chosen) <= 105


def test_reference_labels_must_cover_every_customer(planted):
    features, truth = planted
    labels = pd.Series(truth, index=features.index).iloc[:-3]
    with pytest.raises(DataError, match="have no segment in labels; pass the labels"):
        bootstrap_stability(SegmentationModel(), features, labels=labels, n_boot=1)


def test_zero_refits_is_an_error_naming_the_config_key(planted):
    features, _ = planted
    with pytest.raises(DataError, match=r"validation\.bootstrap is 0; set it to 1"):
        bootstrap_stability(SegmentationModel(), features, n_boot=0)


def test_planted_k_wins_prediction_strength(planted):
    features, _ = planted
    table = prediction_strength(
        SegmentationModel(n_segments=4, random_state=0),
        features,
        k_values=range(2, 8),
        n_splits=2,
        sample_size=400,
        random_state=0,
    )
    assert list(table["k"]) == [2, 3, 4, 5, 6, 7]
    assert table.set_index("k").loc[4, "strength"] > 0.95
    assert suggested_k(table, 0.8) == 4
    assert suggested_k(table, 0.9) == 4


def test_noise_has_no_k_above_the_prediction_strength_cutoff(noise):
    table = prediction_strength(
        SegmentationModel(n_segments=4, random_state=0),
        noise,
        k_values=range(3, 7),
        n_splits=1,
        random_state=0,
    )
    assert suggested_k(table, 0.8) is None


def test_prediction_strength_for_hdbscan_reports_the_k_it_finds(planted):
    features, _ = planted
    model = SegmentationModel(algorithm="hdbscan", min_cluster_size=20, min_samples=5)
    table = prediction_strength(model, features, k_values=range(2, 8), n_splits=1)
    assert len(table) == 1
    assert table["k"].iloc[0] == 4
    assert table["strength"].iloc[0] > 0.9


def test_hdbscan_noise_share_stability_is_reported(planted):
    features, _ = planted
    spread = features.copy()
    spread.iloc[:20] = np.random.default_rng(0).uniform(-30, 30, size=(20, 3))
    model = SegmentationModel(algorithm="hdbscan", min_cluster_size=20, min_samples=5)
    labels = model.fit(spread).labels_
    assert (labels == -1).any()
    result = bootstrap_stability(model, spread, labels=labels, n_boot=4, random_state=0)
    summary = result.summary()
    assert summary["scheme"] == "subset"  # no duplicated customers for HDBSCAN
    assert summary["reference_noise_share"] > 0
    assert 0 < summary["noise_share_mean"] < 0.5
    assert -1 in set(result.segments["segment"])


def test_fold_strengths_have_one_row_per_split_and_reach_one_on_planted(planted):
    from segkit.clustering.stability import prediction_strength_folds

    features, _ = planted
    model = SegmentationModel(algorithm="kmeans", n_segments=4, random_state=0)
    folds = prediction_strength_folds(model, features, n_splits=5, sample_size=400)
    assert folds.shape == (5, 2)
    assert np.nanmin(folds) >= 0.95


def test_prediction_strength_reports_median_and_standard_error(planted):
    features, _ = planted
    model = SegmentationModel(algorithm="kmeans", n_segments=4, random_state=0)
    table = prediction_strength(
        model, features, k_values=[4, 6], n_splits=4, sample_size=400
    )
    assert {"strength_median", "strength_se"} <= set(table.columns)
    assert table.loc[table["k"] == 4, "strength_median"].iloc[0] >= 0.95
    assert (table["folds"] == 8).all()


def test_bimodal_refits_are_found_and_counted():
    from segkit.clustering.stability import bimodality

    values = np.r_[np.linspace(0.28, 0.36, 11), np.linspace(0.90, 0.98, 39)]
    found = bimodality(values)
    assert found["low"]["count"] == 11 and found["high"]["count"] == 39
    assert "11 of 50 refits" in found["sentence"]


@pytest.mark.parametrize(
    "values",
    [
        np.linspace(0.6, 0.98, 50),  # spread, one mode
        np.r_[0.3, np.linspace(0.9, 0.98, 49)],  # a single outlier is no mode
        np.full(20, 0.9),
    ],
)
def test_unimodal_refits_are_not_called_bimodal(values):
    from segkit.clustering.stability import bimodality

    assert bimodality(values) is None
