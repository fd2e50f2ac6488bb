"""Representations, the stratified sampler, the 2-D map and the numba cache folder."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from segkit.clustering.reduce import (
    Reducer,
    map_embedding,
    numba_cache_dir,
)
from segkit.clustering.sampling import stratified_sample
from segkit.exceptions import ConfigError


@pytest.fixture
def matrix() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    # 1,000 customers: 950 around the origin, 50 far away on the first axis
    values = np.vstack(
        [rng.normal(0, 1, (950, 4)), rng.normal(0, 1, (50, 4)) + [30, 0, 0, 0]]
    )
    index = pd.Index([f"c{i}" for i in range(1000)], name="customer_id")
    return pd.DataFrame(values, index=index, columns=list("abcd"))


def test_stratified_sample_has_the_exact_size_and_keeps_the_small_group(matrix):
    rows = stratified_sample(matrix, 100, seed=1)
    assert len(rows) == 100 and rows.is_unique
    far = matrix.loc[rows, "a"] > 15
    assert far.sum() == 5  # 5 % of the customers, 5 % of the sample


def test_stratified_sample_is_deterministic_and_returns_all_when_small(matrix):
    assert stratified_sample(matrix, 100, seed=1).equals(
        stratified_sample(matrix, 100, seed=1)
    )
    assert stratified_sample(matrix, 5000, seed=1).equals(matrix.index)


def test_pca_keeps_enough_components_for_the_variance_share():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(300, 4)) * [10.0, 5.0, 0.1, 0.1]
    frame = pd.DataFrame(values, columns=list("abcd"))
    coords = Reducer("pca", pca_variance=0.95).fit(frame).transform(frame)
    assert list(coords.columns) == ["pc1", "pc2"]


def test_scaled_is_the_identity_and_keeps_the_index(matrix):
    before = matrix.copy()
    out = Reducer("scaled").fit(matrix).transform(matrix)
    assert_frame_equal(out, matrix)
    assert_frame_equal(matrix, before)


def test_unknown_representation_is_a_config_error(matrix):
    with pytest.raises(ConfigError, match="representation 'tsne' is unknown"):
        Reducer("tsne").fit(matrix)


def test_pca_map_has_x_y_for_a_bounded_sample(matrix):
    emb = map_embedding(matrix, method="pca", sample=200, seed=0)
    assert list(emb.columns) == ["x", "y"]
    assert len(emb) == 200 and emb.index.name == "customer_id"
    assert set(emb.index) <= set(matrix.index)


def test_numba_cache_dir_respects_an_existing_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert numba_cache_dir() == tmp_path
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    assert numba_cache_dir().parts[-3:] == (".cache", "segkit", "numba")


@pytest.mark.slow
def test_umap_representation_separates_planted_groups(matrix):
    coords = (
        Reducer("umap", umap_components=3, umap_neighbors=15)
        .fit(matrix)
        .transform(matrix)
    )
    assert coords.shape == (1000, 3)
    far = coords.iloc[950:].mean().to_numpy()
    near = coords.iloc[:950].mean().to_numpy()
    assert np.linalg.norm(far - near) > 1.0


def test_umap_memo_shares_refits_between_candidates_and_changes_no_number(matrix):
    """Two UMAP candidates refitted on the same seeded halves: the second reuses the
    first's UMAP fits, and every fold equals a run with the memo switched off."""
    from segkit.clustering import reduce
    from segkit.clustering.model import SegmentationModel
    from segkit.clustering.strength import prediction_strength_folds

    def folds(algorithm: str) -> np.ndarray:
        model = SegmentationModel(
            algorithm=algorithm,
            representation="umap",
            n_segments=2,
            umap_components=2,
            umap_neighbors=10,
            random_state=3,
        )
        return prediction_strength_folds(
            model, matrix, n_splits=2, sample_size=400, random_state=1
        )

    reduce._UMAP_MEMO.fits.clear()
    memo_kmeans = folds("kmeans")
    fits_after_first = len(reduce._UMAP_MEMO.fits)
    memo_gmm = folds("gmm")
    assert fits_after_first == 4  # 2 splits x 2 halves
    assert len(reduce._UMAP_MEMO.fits) == fits_after_first  # all reused
    with reduce.umap_memo_disabled():
        fresh_kmeans, fresh_gmm = folds("kmeans"), folds("gmm")
    assert len(reduce._UMAP_MEMO.fits) == fits_after_first  # nothing remembered
    np.testing.assert_array_equal(memo_kmeans, fresh_kmeans)
    np.testing.assert_array_equal(memo_gmm, fresh_gmm)


def test_umap_fits_above_the_row_bound_are_kept_two_at_a_time():
    from segkit.clustering import reduce

    memo = reduce._UmapMemo()
    memo.max_rows = 10
    for i in range(3):
        memo.fit(("large", i), lambda i=i: f"fit {i}", rows=50)
    assert list(memo.large_fits) == [("large", 1), ("large", 2)] and not memo.fits
    assert memo.fit(("large", 2), lambda: pytest.fail("refitted"), rows=50) == "fit 2"
    memo.fit(("small", 0), lambda: "small fit", rows=5)
    assert list(memo.fits) == [("small", 0)]
    memo.enabled = False
    memo.keep(("large", 9), "not kept", rows=50)
    assert ("large", 9) not in memo.large_fits


def test_exact_neighbours_match_a_brute_force_search_and_count_self_first(matrix):
    from segkit.clustering.reduce import ExactNeighbors

    values = matrix.to_numpy()
    indices, dists = ExactNeighbors(values).query(values[:20], 5)
    assert indices.dtype == np.int32 and dists.dtype == np.float32
    brute = np.linalg.norm(values[:20, None, :] - values[None, :, :], axis=2)
    expected = np.sort(brute, axis=1)[:, :5]
    np.testing.assert_allclose(dists, expected, rtol=1e-6)
    assert (indices[:, 0] == np.arange(20)).all()  # each row its own first neighbour


def test_umap_uses_exact_neighbours_and_places_new_rows_next_to_their_twins(matrix):
    import pickle

    from segkit.clustering.reduce import ExactNeighbors

    reducer = Reducer("umap", umap_components=2, umap_neighbors=15).fit(matrix)
    assert isinstance(reducer.estimator_._knn_search_index, ExactNeighbors)
    # a new customer a hair away from a fitted one lands where that one is
    nudged = matrix.iloc[[0, 960]] + 1e-6
    placed = reducer.transform(nudged).to_numpy()
    fitted = reducer.estimator_.embedding_[[0, 960]]
    spread = np.ptp(reducer.estimator_.embedding_, axis=0).max()
    assert np.abs(placed - fitted).max() < 0.1 * spread
    # the fitted reducer pickles (model.joblib) and transforms the same after
    again = pickle.loads(pickle.dumps(reducer))
    np.testing.assert_allclose(again.transform(nudged).to_numpy(), placed)


def test_exact_neighbours_give_the_same_answer_on_threads(matrix, monkeypatch):
    from segkit.clustering.reduce import ExactNeighbors

    index = ExactNeighbors(matrix.to_numpy()[:600])
    queries = matrix.to_numpy()[300:]
    serial = index.query(queries, 7)
    assert index._tree.n_jobs is None  # 700 rows: below the threshold
    monkeypatch.setattr(ExactNeighbors, "parallel_rows", 100)
    threaded = index.query(queries, 7)
    assert index._tree.n_jobs == -1
    np.testing.assert_array_equal(threaded[0], serial[0])
    np.testing.assert_array_equal(threaded[1], serial[1])
