"""segkit's vectorised ``init_graph_transform`` returns umap-learn's result exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from segkit.clustering.reduce import Reducer, import_umap, umap_memo_disabled
from segkit.clustering.umap_init import init_graph_transform, row_sums


def _original():
    umap = import_umap()
    return umap.umap_._segkit_original_init_graph_transform


def test_known_answer_on_a_hand_made_graph():
    # row 0: weights 1/4 and 3/4 of points 0 and 1; row 1: no neighbour (NaN);
    # row 2: a strength of exactly 1 at point 2 wins over the 0.5 before it
    graph = sp.csr_matrix(
        np.array([[0.25, 0.75, 0.0], [0.0, 0.0, 0.0], [0.5, 0.0, 1.0]], np.float32)
    )
    embedding = np.array([[0.0, 0.0], [4.0, 8.0], [-1.0, 2.0]], np.float32)
    out = init_graph_transform(graph, embedding)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[0], [3.0, 6.0])
    assert np.isnan(out[1]).all()
    np.testing.assert_array_equal(out[2], [-1.0, 2.0])


def test_row_sums_match_numpy_pairwise_sums_bit_for_bit():
    rng = np.random.default_rng(1)
    lengths = rng.integers(0, 300, 400)  # past NumPy's 8-wide and 128-long blocks
    rows = np.repeat(np.arange(400), lengths)
    cols = rng.integers(0, 5_000, lengths.sum())
    vals = rng.random(lengths.sum()).astype(np.float32)
    graph = sp.coo_matrix((vals, (rows, cols)), shape=(400, 5_000)).tocsr()
    expected = np.array([graph[i].sum() for i in range(400)], dtype=np.float32)
    assert np.array_equal(row_sums(graph), expected)
    # a sequential sum would not do: it differs somewhere in the last bit
    sequential = np.add.reduceat(graph.data, graph.indptr[:-1])
    sequential[lengths == 0] = 0
    assert not np.array_equal(sequential, expected)


@pytest.mark.parametrize("seed", range(6))
def test_random_graphs_give_umaps_result_exactly(seed):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 2_000)), int(rng.integers(5, 400))
    lengths = rng.integers(0, 200 if seed % 2 else 16, n)
    rows = np.repeat(np.arange(n), lengths)
    cols = rng.integers(0, m, lengths.sum())
    vals = rng.random(lengths.sum()).astype(np.float32)
    vals[rng.random(vals.size) < 0.03] = 1.0  # some exact matches
    graph = sp.coo_matrix((vals, (rows, cols)), shape=(n, m)).tocsr()
    graph.eliminate_zeros()
    embedding = rng.normal(size=(m, 5)).astype(np.float32)
    expected = _original()(graph, embedding)
    assert np.array_equal(
        init_graph_transform(graph, embedding), expected, equal_nan=True
    )


def test_umap_transform_is_unchanged_by_the_replacement(monkeypatch):
    umap = import_umap()
    assert umap.umap_.init_graph_transform is init_graph_transform
    rng = np.random.default_rng(2)
    fit = pd.DataFrame(rng.normal(size=(600, 4)), columns=list("abcd"))
    new = pd.DataFrame(rng.normal(size=(300, 4)), columns=list("abcd"))
    new.iloc[:5] = fit.iloc[:5].to_numpy()  # exact twins: the strength-1 path
    with umap_memo_disabled():
        reducer = Reducer("umap", umap_components=3, umap_neighbors=10).fit(fit)
        fast = reducer.transform(new).to_numpy()
        monkeypatch.setattr(umap.umap_, "init_graph_transform", _original())
        slow = reducer.transform(new).to_numpy()
    assert np.array_equal(fast, slow)
