"""Screening, finalist refits and the null reference (segkit.clustering.selection)."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from sklearn.datasets import make_blobs

from segkit.clustering.selection import (
    ASSESS_COLUMNS,
    assess,
    between_share,
    candidate_model,
    null_reference,
    screen,
    selection_settings,
)
from segkit.config import DEFAULTS
from segkit.exceptions import DataError


def _clustering(**changes):
    clustering = copy.deepcopy(dict(DEFAULTS["clustering"]))
    clustering.update(changes)
    return clustering


def _row(candidate, n, sil, ch, smallest=0.1, largest=0.5, noise=0.0):
    algorithm, representation, *rest = candidate.split("/")
    return {
        "candidate": candidate,
        "algorithm": algorithm,
        "representation": representation,
        "k": int(rest[0]) if rest else None,
        "n_segments": n,
        "silhouette": sil,
        "calinski_harabasz": ch,
        "smallest_share": smallest,
        "largest_share": largest,
        "noise_share": noise,
        "n_metric": 1000,
    }


def _frame(values):
    index = pd.Index([f"c{i:04d}" for i in range(len(values))], name="customer_id")
    return pd.DataFrame(
        values, index=index, columns=[f"f{j}" for j in range(values.shape[1])]
    )


@pytest.fixture
def table():
    return pd.DataFrame(
        [
            _row("kmeans/scaled/3", 3, 0.50, 900),
            _row("minibatch_kmeans/scaled/3", 3, 0.51, 910),  # same family as kmeans
            _row("gmm/scaled/3", 3, 0.40, 800),
            _row("ward/scaled/3", 3, 0.30, 700),
            _row("kmeans/scaled/4", 4, 0.45, 850, smallest=0.01),  # too small
            _row("gmm/scaled/4", 4, 0.44, 840, largest=0.9),  # fringe split
            _row("hdbscan/scaled", 2, 0.6, 500, noise=0.4),  # too much noise
            _row("rfm/rules", 6, 0.2, 100),
        ]
    )


def test_screen_names_each_failed_constraint(table):
    rows = screen(table, _clustering()).set_index("candidate")
    assert rows.loc["kmeans/scaled/4", "screen_reason"] == "smallest segment 1.0% < 3%"
    assert rows.loc["gmm/scaled/4", "screen_reason"] == "largest segment 90% > 80%"
    assert rows.loc["hdbscan/scaled", "screen_reason"] == "40% unassigned > 25%"
    assert rows.loc["rfm/rules", "screen_reason"] == "reference baseline"


def test_finalists_are_the_best_of_distinct_families_per_k(table):
    rows = screen(table, _clustering(finalists_per_k=2)).set_index("candidate")
    # minibatch k-means ranks first at k=3 and takes the k-means family's place
    finalists = set(rows.index[rows["finalist"]])
    assert finalists == {"minibatch_kmeans/scaled/3", "gmm/scaled/3"}
    assert not rows.loc["kmeans/scaled/4", "finalist"]


def test_screen_does_not_mutate_its_input(table):
    before = table.copy()
    screen(table, _clustering())
    assert_frame_equal(table, before)


def test_between_share_inverts_calinski_harabasz():
    # CH = (R2 / (k-1)) / ((1-R2) / (n-k)); R2 = 0.5, k = 3, n = 1003 -> CH = 500
    frame = pd.DataFrame(
        {
            "n_segments": [3],
            "n_metric": [1003],
            "noise_share": [0.0],
            "calinski_harabasz": [500.0],
        }
    )
    assert between_share(frame).iloc[0] == pytest.approx(0.5)


def test_null_reference_matches_known_one_dimensional_splits():
    # two-means on one dimension keeps 2/pi of the variance between halves for a
    # Gaussian and 3/4 for a uniform distribution
    values = np.random.default_rng(0).normal(size=(4000, 1))
    null = null_reference(_frame(values), [2], n_refs=4, sample_size=4000, seed=1)
    assert null.loc[0, "r2_gaussian"] == pytest.approx(2 / np.pi, abs=0.01)
    assert null.loc[0, "r2_uniform"] == pytest.approx(0.75, abs=0.01)


def test_null_reference_spread_over_processes_equals_the_serial_table():
    rng = np.random.default_rng(4)
    frame = _frame(rng.normal(size=(300, 3)))
    serial = null_reference(frame, [2, 3, 5], n_refs=3, sample_size=200, seed=2)
    spread = null_reference(
        frame, [2, 3, 5], n_refs=3, sample_size=200, seed=2, n_jobs=2
    )
    pd.testing.assert_frame_equal(serial, spread)
    assert list(spread["k"]) == [2, 3, 5]


def test_null_reference_refuses_a_tiny_matrix():
    with pytest.raises(DataError, match="at least 4 rows"):
        null_reference(_frame(np.zeros((3, 2))), [2])


def test_assess_separates_a_planted_k_from_an_arbitrary_one():
    values, _ = make_blobs(
        600, centers=3, n_features=4, cluster_std=0.6, random_state=4
    )
    data = _frame(values)
    clustering = _clustering()
    settings = selection_settings(
        _clustering(ps_splits=5, jaccard_refits=8, refit_sample=600)
    )
    found = assess(
        ["kmeans/scaled/3", "kmeans/scaled/6"],
        data,
        make_model=lambda c: candidate_model(c, clustering, seed=0),
        settings=settings,
    ).set_index("candidate")
    assert list(found.reset_index().columns) == ASSESS_COLUMNS
    assert found.loc["kmeans/scaled/3", "ps_median"] >= 0.95
    assert found.loc["kmeans/scaled/3", "jaccard_min"] >= 0.9
    assert found.loc["kmeans/scaled/3", "refits"] == 8
    assert found.loc["kmeans/scaled/6", "ps_median"] < 0.8
    # prediction strength failed: no Jaccard refits were spent on it
    assert found.loc["kmeans/scaled/6", "refits"] == 0


def test_assess_in_parallel_gives_the_same_table_in_the_same_order():
    values, _ = make_blobs(
        400, centers=3, n_features=4, cluster_std=0.8, random_state=2
    )
    data = _frame(values)
    clustering = _clustering()
    settings = selection_settings(
        _clustering(ps_splits=3, jaccard_refits=4, refit_sample=400)
    )
    # UMAP finalists share their splits' UMAP fits; HDBSCAN refits on subsets;
    # 250 segments cannot be fitted on a half of 200 rows (no folds, both paths)
    candidates = [
        "kmeans/pca/3",
        "gmm/scaled/3",
        "kmeans/scaled/2",
        "ward/pca/4",
        "kmeans/umap/3",
        "ward/umap/3",
        "hdbscan/scaled",
        "kmeans/scaled/250",
    ]

    def run(n_jobs):
        return assess(
            candidates,
            data,
            make_model=lambda c: candidate_model(c, clustering, seed=0),
            settings=settings,
            n_jobs=n_jobs,
        )

    serial, parallel = run(1), run(2)
    assert list(serial["candidate"]) == candidates
    assert serial["refits"].gt(0).sum() >= 3  # the bootstrap half was exercised
    assert serial.set_index("candidate").loc["kmeans/scaled/250", "ps_folds"] == 0
    assert_frame_equal(serial, parallel)
