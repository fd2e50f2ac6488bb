"""Candidate grid: recovery of planted segments, baseline row, samples, errors."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from sklearn.metrics import adjusted_rand_score

from segkit.clustering.compare import (
    COLUMN_DOCS,
    COLUMNS,
    candidate_id,
    compare_candidates,
    is_quiet,
    parse_candidate,
)
from segkit.clustering.model import SegmentationModel
from segkit.config import DEFAULTS
from segkit.datasets import make_customer_features
from segkit.exceptions import ConfigError, DataError


def _clustering(**changes) -> dict:
    clustering = copy.deepcopy(DEFAULTS["clustering"])
    clustering.update(
        algorithms=["kmeans", "gmm", "ward", "hdbscan"],
        representations=["scaled", "pca"],
        k_min=2,
        k_max=5,
        stability_refits=2,
    )
    clustering.update(changes)
    return clustering


@pytest.fixture(scope="module")
def planted() -> tuple[pd.DataFrame, pd.Series]:
    return make_customer_features(400, n_segments=4, seed=11, n_features=5)


@pytest.fixture(scope="module")
def result(planted):
    features, _ = planted
    rfm = pd.DataFrame(
        {"segment": np.where(features["f0"] > 0, "Champions", "Hibernating")},
        index=features.index,
    )
    return compare_candidates(features, clustering=_clustering(), seed=0, rfm=rfm)


def test_best_calinski_harabasz_candidate_recovers_the_planted_segments(
    planted, result
):
    features, truth = planted
    table = result.table[result.table["algorithm"] != "hdbscan"]
    winner = table.loc[table["calinski_harabasz"].idxmax(), "candidate"]
    assert parse_candidate(winner)[2] == 4
    model = SegmentationModel.from_config(winner, _clustering(), seed=0)
    assert adjusted_rand_score(truth, model.fit(features).labels_) >= 0.95


def test_table_has_one_row_per_candidate_and_the_rfm_baseline(result):
    table = result.table
    assert list(table.columns) == COLUMNS
    # 3 k-based algorithms x 4 k x 2 representations + 2 HDBSCAN + RFM
    assert len(table) == 3 * 4 * 2 + 2 + 1
    assert table["candidate"].is_unique
    rfm = table.set_index("candidate").loc["rfm/rules"]
    assert rfm["n_segments"] == 2
    assert np.isfinite(rfm["silhouette"])
    gmm = table[table["algorithm"] == "gmm"]
    assert gmm["bic"].notna().all()
    assert table.loc[table["algorithm"] != "gmm", "bic"].isna().all()
    hdb = table[table["algorithm"] == "hdbscan"]
    assert hdb["dbcv"].notna().all() and hdb["k"].isna().all()


def test_calinski_harabasz_peaks_at_planted_k_where_silhouette_prefers_two(result):
    # why the recommendation averages three indices: these planted segments come
    # in pairs, so silhouette alone would pick k=2
    kmeans = result.table.query("algorithm == 'kmeans' and representation == 'scaled'")
    kmeans = kmeans.set_index("k")
    assert kmeans["calinski_harabasz"].idxmax() == 4
    assert kmeans["silhouette"].idxmax() == 2
    assert (kmeans.loc[[2, 3, 4], "stability"] > 0.9).all()


def test_segment_sizes_are_long_form_shares(result):
    sizes = result.segment_sizes
    sums = sizes.groupby("candidate")["share"].sum()
    assert np.allclose(sums, 1.0)
    four = sizes[sizes["candidate"] == "kmeans/scaled/4"]
    assert list(four["segment"]) == [0, 1, 2, 3]


def test_same_seed_gives_identical_table_in_series_and_in_parallel(planted):
    features, _ = planted
    clustering = _clustering(k_max=4)
    timing = ["fit_seconds", "reduce_seconds"]
    first = compare_candidates(features, clustering=clustering, seed=5).table
    second = compare_candidates(features, clustering=clustering, seed=5).table
    assert_frame_equal(first.drop(columns=timing), second.drop(columns=timing))
    parallel = compare_candidates(features, clustering=clustering, seed=5, n_jobs=2)
    assert_frame_equal(first.drop(columns=timing), parallel.table.drop(columns=timing))
    other = compare_candidates(features, clustering=clustering, seed=6).table
    assert not first["stability"].equals(other["stability"])


def test_bic_is_ranked_only_within_one_representation(result):
    table = result.table
    gmm = table[table["algorithm"] == "gmm"]
    for _, part in gmm.groupby("representation"):
        assert sorted(part["bic_rank_within_representation"]) == [1, 2, 3, 4]
        best = part.loc[part["bic"].idxmin(), "bic_rank_within_representation"]
        assert best == 1
    others = table[table["algorithm"] != "gmm"]
    assert others["bic_rank_within_representation"].isna().all()


def test_hdbscan_is_scored_with_its_noise_and_every_column_is_documented(result):
    assert set(COLUMN_DOCS) == set(COLUMNS)
    table = result.table
    noisy = table[table["noise_share"] > 0]
    assert len(noisy) and (noisy["algorithm"] == "hdbscan").all()
    assert (noisy["silhouette"] < noisy["silhouette_assigned"]).all()
    clean = table[table["noise_share"] == 0]
    assert np.allclose(clean["silhouette"], clean["silhouette_assigned"])


def test_compare_uses_only_the_public_model_api():
    from pathlib import Path

    import segkit.clustering.compare as module

    source = Path(module.__file__).read_text()
    for private in (
        "._fit_clusterer",
        "._raw_predict",
        "._check_matrix",
        "._settings(",
    ):
        assert private not in source


def test_samples_are_bounded_and_reported(planted):
    features, _ = planted
    clustering = _clustering(
        algorithms=["kmeans"], k_max=3, fit_sample=300, metric_sample=150
    )
    before = features.copy()
    result = compare_candidates(features, clustering=clustering, seed=0)
    assert_frame_equal(features, before)
    assert result.samples["customers"] == 400
    assert result.samples["fit"] == 300
    assert result.samples["metric"] == 150
    assert (result.table["n_fit"] == 300).all()
    assert (result.table["n_metric"] == 150).all()


def test_fewer_customers_than_k_min_is_a_data_error(planted):
    features = planted[0].head(3)
    with pytest.raises(
        DataError, match=r"only 3 customers \(n_samples=3\) .* lower clustering\.k_min"
    ):
        compare_candidates(features, clustering=_clustering(k_min=4), seed=0)


def test_single_usable_feature_is_a_data_error(planted):
    features = planted[0].assign(f1=1.0, f2=1.0, f3=1.0, f4=1.0)
    with pytest.raises(DataError, match=r"only one usable feature \('f0'\)"):
        compare_candidates(features, clustering=_clustering(), seed=0)


def test_identical_rows_are_a_data_error(planted):
    features = planted[0] * 0 + 1.0
    with pytest.raises(DataError, match="identical values in every feature"):
        compare_candidates(features, clustering=_clustering(), seed=0)


def test_unknown_algorithm_in_grid_is_a_config_error(planted):
    with pytest.raises(ConfigError, match="clustering.algorithms lists 'dbscan'"):
        compare_candidates(
            planted[0], clustering=_clustering(algorithms=["dbscan"]), seed=0
        )


def test_candidate_ids_round_trip():
    assert candidate_id("kmeans", "scaled", 5) == "kmeans/scaled/5"
    assert candidate_id("hdbscan", "umap", None) == "hdbscan/umap"
    assert parse_candidate("kmeans/scaled/5") == ("kmeans", "scaled", 5)
    assert parse_candidate("hdbscan/umap") == ("hdbscan", "umap", None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kmeans/scaled", "lacks a k >= 2"),
        ("spectral/scaled/3", "is not a candidate"),
        ("kmeans/tsne/3", "names representation 'tsne'"),
    ],
)
def test_bad_choice_text_is_a_config_error(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_candidate(text)


def test_quiet_when_the_runner_sets_segkit_quiet(monkeypatch):
    monkeypatch.setenv("SEGKIT_QUIET", "1")
    assert is_quiet()


def test_shared_distance_matrix_gives_the_table_computed_without_it(
    planted, monkeypatch
):
    from segkit.clustering import metrics

    features, _ = planted
    clustering = _clustering(k_max=4)
    timing = ["fit_seconds", "reduce_seconds"]
    shared = compare_candidates(features, clustering=clustering, seed=5).table
    monkeypatch.setattr(metrics, "MAX_DISTANCE_ROWS", 0)
    assert metrics.distance_matrix(features.to_numpy()) is None
    alone = compare_candidates(features, clustering=clustering, seed=5).table
    assert_frame_equal(
        shared.drop(columns=timing), alone.drop(columns=timing), rtol=1e-10
    )


def test_auto_jobs_fit_in_parallel_only_on_large_samples():
    from segkit.clustering.compare import PARALLEL_ROWS, resolve_jobs

    assert resolve_jobs(0, PARALLEL_ROWS - 1) == 1
    assert resolve_jobs(0, PARALLEL_ROWS) == -1
    assert resolve_jobs(2, 10) == 2 and resolve_jobs(-1, 10) == -1


def test_finalists_only_stability_changes_no_other_figure_and_no_choice(planted):
    # clustering.stability_scope: the seed refits for the finalists only (default)
    # against every candidate: the same table but for the refits nobody else
    # gets, the same finalists' stability, the same recommendation
    from segkit.clustering.recommend import select

    features, _ = planted
    timing = ["fit_seconds", "reduce_seconds"]
    out = {}
    for scope in ("all", "finalists"):
        clustering = _clustering(stability_scope=scope)
        table = compare_candidates(features, clustering=clustering, seed=3).table
        table = table.drop(columns=timing)
        out[scope] = (table, *select(table, features, clustering, seed=3)[:2])
    (every, every_scored, every_rec), (some, some_scored, some_rec) = (
        out["all"],
        out["finalists"],
    )
    assert_frame_equal(every.drop(columns="stability"), some.drop(columns="stability"))
    refitted = some["stability"].notna()
    finalists = set(some_scored.loc[some_scored["finalist"], "candidate"])
    assert set(some.loc[refitted, "candidate"]) == finalists
    assert 0 < refitted.sum() < (every["stability"].notna()).sum()
    assert (some.loc[refitted, "stability"] == every.loc[refitted, "stability"]).all()
    assert_frame_equal(
        every_scored.drop(columns="stability"), some_scored.drop(columns="stability")
    )
    assert json.dumps(some_rec, default=str) == json.dumps(every_rec, default=str)


def test_umap_fitted_in_a_worker_gives_the_serial_table(planted):
    # in parallel the UMAP representation is fitted in a worker beside the other
    # candidates; the table must not depend on where it was fitted
    features, _ = planted
    clustering = _clustering(
        algorithms=["kmeans", "gmm"],
        representations=["scaled", "umap"],
        k_max=3,
        umap_neighbors=15,
    )
    timing = ["fit_seconds", "reduce_seconds"]
    serial = compare_candidates(features, clustering=clustering, seed=2, n_jobs=1)
    parallel = compare_candidates(features, clustering=clustering, seed=2, n_jobs=2)
    assert_frame_equal(
        serial.table.drop(columns=timing), parallel.table.drop(columns=timing)
    )
    assert_frame_equal(serial.segment_sizes, parallel.segment_sizes)
    assert (serial.table["representation"] == "umap").sum() == 4


def test_the_model_reuses_the_comparisons_umap_fit_from_the_worker(
    planted, monkeypatch
):
    # the comparison fits UMAP on the fit sample in a worker; the chosen model
    # fits the same rows with the same seed next, so the fit comes back with the
    # table and is not made twice (a minute at a 50,000-customer sample)
    from pandas.testing import assert_series_equal

    from segkit.clustering import reduce

    features, _ = planted
    clustering = _clustering(
        algorithms=["kmeans"], representations=["scaled", "umap"], k_max=3
    )
    memo = reduce._UMAP_MEMO
    monkeypatch.setattr(memo, "max_rows", 100)  # 400 rows: a "large" fit here
    memo.fits.clear()
    memo.large_fits.clear()
    compare_candidates(features, clustering=clustering, seed=2, n_jobs=2)
    assert len(memo.large_fits) == 1 and not memo.fits
    with reduce.umap_memo_disabled():
        fresh = SegmentationModel.from_config("kmeans/umap/3", clustering, seed=2)
        fresh.fit(features)
    umap = reduce.import_umap()
    monkeypatch.setattr(
        umap.UMAP, "fit", lambda *a, **k: pytest.fail("UMAP fitted again")
    )
    reused = SegmentationModel.from_config("kmeans/umap/3", clustering, seed=2)
    reused.fit(features)
    assert_series_equal(reused.labels_, fresh.labels_)
    np.testing.assert_array_equal(
        reused.reducer_.estimator_.embedding_, fresh.reducer_.estimator_.embedding_
    )
