"""Clusterer registry: every algorithm recovers planted blobs, GMM ignores one-hot
cells, Ward reuses its tree, and every estimator keeps the scikit-learn contract."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture
from sklearn.utils.estimator_checks import parametrize_with_checks

from segkit.clustering.algorithms import (
    ALGORITHMS,
    NOISE,
    ContinuousGaussianMixture,
    HDBSCANClusterer,
    WardClusterer,
    binary_columns,
    make_clusterer,
)
from segkit.exceptions import ModelError

CENTRES = np.array([[0.0, 0.0, 0.0], [6.0, 0.0, 0.0], [0.0, 6.0, 0.0], [0.0, 0.0, 6.0]])


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    truth = np.repeat(np.arange(4), 150)
    X = CENTRES[truth] + rng.normal(0, 1.0, size=(600, 3))
    return X, truth


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_registry_builds_each_algorithm_and_it_recovers_planted_blobs(blobs, algorithm):
    X, truth = blobs
    clusterer = make_clusterer(algorithm, 4, random_state=0, min_cluster_size=40)
    labels = clusterer.fit(X).labels_
    assigned = labels != NOISE
    assert assigned.mean() >= 0.8
    assert adjusted_rand_score(truth[assigned], labels[assigned]) >= 0.9
    predicted = clusterer.predict(X)
    assert adjusted_rand_score(truth[assigned], predicted[assigned]) >= 0.9
    assert np.array_equal(clusterer.fit_predict(X), labels)


def test_registry_passes_settings_through():
    assert make_clusterer("kmeans", 3, random_state=1, n_init=7).n_init == 7
    gmm = make_clusterer("gmm", 3, random_state=1, gmm_n_init=5)
    assert isinstance(gmm, ContinuousGaussianMixture) and gmm.n_init == 5
    ward = make_clusterer("ward", 3, random_state=1, ward_sample=50)
    assert ward.max_sample == 50
    hdb = make_clusterer("hdbscan", None, random_state=1, min_samples=4)
    assert isinstance(hdb, HDBSCANClusterer) and hdb.min_samples == 4


def test_registry_refuses_unknown_names_and_too_few_segments():
    with pytest.raises(ModelError, match=r"algorithm 'dbscan' is unknown; use one of"):
        make_clusterer("dbscan", 3, random_state=0)
    with pytest.raises(ModelError, match=r"unknown clusterer settings \['ninit'\]"):
        make_clusterer("kmeans", 3, random_state=0, ninit=3)
    with pytest.raises(ModelError, match=r"n_segments=1 is too small for kmeans"):
        make_clusterer("kmeans", 1, random_state=0)


def _blobs_with_one_hot(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """4 planted Gaussian blobs in 3 continuous columns (centres 4.5 apart), plus
    two one-hot groups (8 and 6 levels) drawn independently of the blobs."""
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(4), 150)
    continuous = 0.75 * CENTRES[truth] + rng.normal(0, 1.0, size=(600, 3))
    one_hot = [np.eye(levels)[rng.integers(0, levels, 600)] for levels in (8, 6)]
    return np.hstack([continuous, *one_hot]), truth


def test_gmm_recovers_blobs_despite_independent_one_hot_columns():
    X, truth = _blobs_with_one_hot()
    assert binary_columns(X).tolist() == [False] * 3 + [True] * 14
    gmm = ContinuousGaussianMixture(4, random_state=0).fit(X)
    assert adjusted_rand_score(truth, gmm.labels_) >= 0.9
    assert adjusted_rand_score(truth, gmm.predict(X)) >= 0.9
    assert gmm.continuous_.tolist() == [True] * 3 + [False] * 14
    # the guard is what makes the difference: a plain full-covariance GMM on all
    # columns puts its components on the one-hot cells
    plain = GaussianMixture(4, reg_covar=1e-4, n_init=3, random_state=0).fit(X)
    assert adjusted_rand_score(truth, plain.predict(X)) < 0.5


def test_gmm_on_only_binary_columns_uses_them_all():
    rng = np.random.default_rng(1)
    X = rng.integers(0, 2, size=(100, 4)).astype(float)
    gmm = ContinuousGaussianMixture(2, random_state=0).fit(X)
    assert gmm.continuous_.all()
    assert np.isfinite(gmm.bic(X))


def test_ward_tree_cache_builds_the_tree_once_for_several_k(blobs):
    X, truth = blobs
    cache: dict = {}
    cut = {
        k: WardClusterer(k, random_state=0, tree_cache=cache).fit(X) for k in (2, 3, 4)
    }
    assert len(cache) == 1
    plain = WardClusterer(4, random_state=0).fit(X)
    assert np.array_equal(cut[4].labels_, plain.labels_)
    assert adjusted_rand_score(truth, cut[4].labels_) >= 0.9
    # other data get their own tree
    WardClusterer(3, random_state=0, tree_cache=cache).fit(X[:300])
    assert len(cache) == 2


def test_ward_on_a_bounded_sample_assigns_the_rest(blobs):
    X, truth = blobs
    ward = WardClusterer(4, max_sample=100, random_state=0).fit(X)
    assert len(ward.sample_rows_) == 100
    assert adjusted_rand_score(truth, ward.labels_) >= 0.9


def test_ward_refuses_more_segments_than_rows():
    with pytest.raises(ModelError, match=r"n_clusters=5 exceeds the 3 rows"):
        WardClusterer(5).fit(np.arange(6.0).reshape(3, 2))


def test_hdbscan_marks_far_points_as_noise(blobs):
    X, _ = blobs
    hdb = HDBSCANClusterer(min_cluster_size=40).fit(X)
    assert hdb.predict(np.array([[500.0, -500.0, 500.0]]))[0] == NOISE


@parametrize_with_checks(
    [
        ContinuousGaussianMixture(),
        WardClusterer(),
        HDBSCANClusterer(),
    ]
)
def test_clusterers_keep_the_scikit_learn_contract(estimator, check):
    check(estimator)


@pytest.mark.parametrize(
    "case", ["blobs", "noise_and_duplicates", "nested", "no_cluster"]
)
def test_hdbscan_predict_gives_the_labels_of_the_librarys_approximate_predict(case):
    import hdbscan
    from sklearn.datasets import make_blobs

    from segkit.clustering import algorithms

    rng = np.random.default_rng(3)
    if case == "blobs":
        X, _ = make_blobs(3000, centers=3, n_features=3, random_state=1)
        size = 50
    elif case == "noise_and_duplicates":
        X, _ = make_blobs(2000, centers=4, n_features=2, random_state=2)
        X = np.vstack([X, rng.uniform(-15, 15, (600, 2)), np.repeat(X[:50], 4, 0)])
        rng.shuffle(X)
        size = 30
    elif case == "nested":  # clusters inside clusters: the walk up the tree matters
        X, _ = make_blobs(
            2500,
            centers=[[0, 0], [0.6, 0], [8, 8], [8.5, 8]],
            cluster_std=0.25,
            random_state=4,
        )
        size = 40
    else:  # one uniform cloud with a huge minimum size: no cluster at all
        X = rng.uniform(0, 1, (800, 2))
        size = 700
    model = algorithms.HDBSCANClusterer(min_cluster_size=size).fit(X[:1000])
    new = np.vstack([X[1000:], X[:200] + 1e-9, rng.uniform(-20, 20, (300, X.shape[1]))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "no defined clusters"
        expected, _ = hdbscan.approximate_predict(model.hdbscan_, new)
        found = model.predict(new)
    np.testing.assert_array_equal(found, np.asarray(expected, dtype=np.int64))
    if case == "blobs":
        assert len(set(found.tolist()) - {-1}) == 3
    if case == "no_cluster":
        assert (found == -1).all()


def test_hdbscan_predicts_large_inputs_in_parallel_chunks_with_the_same_labels(
    monkeypatch,
):
    from sklearn.datasets import make_blobs

    from segkit.clustering import algorithms

    X, _ = make_blobs(3000, centers=3, n_features=3, random_state=1)
    model = HDBSCANClusterer(min_cluster_size=50).fit(X[:1000])
    whole = model.predict(X[1000:])
    monkeypatch.setattr(algorithms, "PARALLEL_PREDICT_ROWS", 100)
    np.testing.assert_array_equal(model.predict(X[1000:]), whole)
    assert len(set(whole.tolist()) - {-1}) == 3
