"""Metric helpers on tiny hand-checkable inputs."""

from __future__ import annotations

import numpy as np
import pytest

from segkit.clustering.metrics import dbcv, elbow, partition_metrics, sizes


def test_sizes_counts_noise_separately():
    labels = np.array([0, 0, 0, 1, 1, -1, -1, -1, -1, -1])
    assert sizes(labels) == {
        "n_segments": 2,
        "smallest_share": 0.2,
        "largest_share": 0.3,
        "noise_share": 0.5,
    }


def test_partition_metrics_can_leave_noise_out():
    X = np.array([[0.0, 0], [0, 1], [10, 0], [10, 1], [500, 500]])
    labels = np.array([0, 0, 1, 1, -1])
    out = partition_metrics(X, labels, noise="drop")
    assert out["wcss"] == pytest.approx(0.25)  # each point 0.5 from its centre
    assert out["silhouette"] == pytest.approx(
        1 - 1 / np.mean([10, np.hypot(10, 1)]), abs=0.01
    )


def test_partition_metrics_score_noise_as_one_more_group_by_default():
    X = np.array([[0.0, 0], [0, 1], [10, 0], [10, 1], [500, 500]])
    labels = np.array([0, 0, 1, 1, -1])
    out = partition_metrics(X, labels)
    # the lone noise point is a singleton group (silhouette 0), the others as before
    dropped = 1 - 1 / np.mean([10, np.hypot(10, 1)])
    assert out["silhouette"] == pytest.approx(4 * dropped / 5, abs=0.01)
    assert out["wcss"] == pytest.approx(0.2)  # 4 x 0.25 + 0, over 5 points
    with pytest.raises(ValueError, match="noise is 'keep'; use 'group' or 'drop'"):
        partition_metrics(X, labels, noise="keep")


def test_hdbscan_silhouette_with_scattered_noise_is_lower_than_with_noise_dropped():
    from segkit.clustering.algorithms import make_clusterer

    rng = np.random.default_rng(3)
    blobs = np.vstack(
        [rng.normal(c, 0.4, size=(150, 2)) for c in ([0, 0], [5, 0], [0, 5])]
    )
    scattered = rng.uniform(-6, 11, size=(90, 2))
    X = np.vstack([blobs, scattered])
    labels = make_clusterer("hdbscan", None, random_state=0, min_cluster_size=30)
    labels = labels.fit(X).labels_
    assert 0.05 <= np.mean(labels == -1) <= 0.3
    with_noise = partition_metrics(X, labels)["silhouette"]
    dropped = partition_metrics(X, labels, noise="drop")["silhouette"]
    assert with_noise < dropped - 0.05


def test_partition_metrics_with_one_segment_are_nan():
    out = partition_metrics(np.arange(6.0).reshape(3, 2), np.zeros(3, dtype=int))
    assert np.isnan(out["silhouette"]) and np.isfinite(out["wcss"])


def test_elbow_finds_the_bend():
    ks = np.array([2, 3, 4, 5, 6, 7])
    wcss = np.array([100.0, 60.0, 20.0, 18.0, 16.0, 14.0])
    assert elbow(ks, wcss) == 4
    assert np.isnan(elbow(ks[:2], wcss[:2]))


def test_dbcv_is_high_for_separated_blobs_and_nan_for_one_cluster():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 0.2, (60, 2)), rng.normal(5, 0.2, (60, 2))])
    labels = np.repeat([0, 1], 60)
    assert dbcv(X, labels, max_rows=100, seed=0) > 0.5
    assert np.isnan(dbcv(X, np.zeros(120, dtype=int), max_rows=100, seed=0))


def test_partition_metrics_read_a_precomputed_distance_matrix_to_the_same_values():
    from segkit.clustering.metrics import distance_matrix

    rng = np.random.default_rng(3)
    X = np.vstack([rng.normal(0, 1, (60, 3)), rng.normal(4, 1, (40, 3))])
    labels = np.r_[np.zeros(60, int), np.ones(35, int), -np.ones(5, int)]
    D = distance_matrix(X)
    for noise in ("group", "drop"):
        plain = partition_metrics(X, labels, noise=noise)
        shared = partition_metrics(X, labels, noise=noise, distances=D)
        assert shared == pytest.approx(plain, rel=1e-12)
    # a known answer: two points per group, groups 10 apart on a line
    line = np.array([[0.0], [1.0], [10.0], [11.0]])
    known = partition_metrics(
        line, np.array([0, 0, 1, 1]), distances=distance_matrix(line)
    )
    # a(i) = 1, b(i) = mean(10, 11) or mean(9, 10): s = (b - a) / b
    expected = np.mean([(10.5 - 1) / 10.5, (9.5 - 1) / 9.5] * 2)
    assert known["silhouette"] == pytest.approx(expected)
