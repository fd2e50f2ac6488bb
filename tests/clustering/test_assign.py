"""assign_all: every customer through the fitted model, streamed to one Parquet file."""

from __future__ import annotations

import os
import sys

import ibis
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from segkit.clustering.assign import assign_all
from segkit.clustering.model import SegmentationModel
from segkit.datasets import make_customer_features
from segkit.exceptions import DataError, ModelError, SchemaError
from segkit.features.preprocess import Preprocessor


def _features(n: int = 400, seed: int = 3) -> pd.DataFrame:
    features, _ = make_customer_features(n, n_segments=3, seed=seed, n_features=4)
    rng = np.random.default_rng(seed)
    # a categorical column: one-hot encoded by the preprocessor, read back as text
    features["country"] = rng.choice(["UK", "France", "Germany"], n, p=[0.7, 0.2, 0.1])
    features["orders"] = rng.integers(1, 40, n)
    return features


def _model(features: pd.DataFrame, **settings) -> SegmentationModel:
    settings = {"algorithm": "kmeans", "n_segments": 3, **settings}
    return SegmentationModel(
        preprocessor=Preprocessor(), fit_sample=150, random_state=0, **settings
    ).fit(features)


def _read(path) -> pd.Series:
    frame = pd.read_parquet(path)
    assert list(frame.columns) == ["customer_id", "segment_id"]
    return frame.set_index("customer_id")["segment_id"].sort_index()


@pytest.fixture
def fitted(tmp_path):
    features = _features()
    path = tmp_path / "features.parquet"
    features.to_parquet(path)  # as ctx.save_frame writes it: index column customer_id
    return _model(features.iloc[:300]), features, path


@pytest.mark.parametrize("batch_rows", [37, 250_000], ids=["many-batches", "one"])
def test_duckdb_assignments_equal_predict_on_the_whole_frame(
    fitted, tmp_path, batch_rows
):
    model, features, path = fitted
    out = tmp_path / "assignments.parquet"
    result = assign_all(model, path, out, batch_rows=batch_rows)
    expected = model.predict(features).sort_index()
    got = _read(out)
    assert got.index.tolist() == expected.index.tolist()  # every customer, once
    np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy())
    assert result["rows"] == len(features) == 400
    assert result["segments"] == expected.value_counts().sort_index().to_dict()
    assert result["engine"] == "duckdb"
    schema = pq.read_schema(out)
    assert str(schema.field("segment_id").type) == "int64"
    assert str(schema.field("customer_id").type) == "string"


def test_writes_one_file_per_batch_group_not_kept_in_memory(fitted, tmp_path):
    model, features, path = fitted
    out = tmp_path / "assignments.parquet"
    assign_all(model, path, out, batch_rows=50)
    # one row group per batch: the writer appended batch after batch
    assert pq.ParquetFile(out).metadata.num_row_groups == 8
    assert not out.with_name(out.name + ".partial").exists()


@pytest.mark.parametrize("source", ["memtable", "read_parquet"])
def test_an_ibis_table_with_extra_columns_is_assigned_on_its_backend(
    fitted, tmp_path, source
):
    model, features, _ = fitted
    frame = features.reset_index().assign(unused="x")
    if source == "memtable":
        table = ibis.memtable(frame)
    else:
        frame.to_parquet(tmp_path / "wide.parquet")
        table = ibis.duckdb.connect().read_parquet(tmp_path / "wide.parquet")
    out = tmp_path / "a.parquet"
    result = assign_all(model, table, out, batch_rows=64)
    expected = model.predict(features).sort_index()
    np.testing.assert_array_equal(_read(out).to_numpy(), expected.to_numpy())
    assert result["rows"] == 400


def test_hdbscan_noise_is_written_as_minus_one(tmp_path):
    features, _ = make_customer_features(300, n_segments=3, seed=1, n_features=3)
    features.iloc[:5] = 1e3 * np.arange(1, 6)[:, None]  # far outliers: noise
    model = SegmentationModel(algorithm="hdbscan", min_cluster_size=20).fit(features)
    path = tmp_path / "f.parquet"
    features.to_parquet(path)
    result = assign_all(model, path, tmp_path / "a.parquet", batch_rows=100)
    expected = model.predict(features).sort_index()
    assert (expected == -1).any()
    np.testing.assert_array_equal(
        _read(tmp_path / "a.parquet").to_numpy(), expected.to_numpy()
    )
    assert result["segments"][-1] == int((expected == -1).sum())


def test_a_batch_that_fails_leaves_no_file_behind(tmp_path):
    features, _ = make_customer_features(300, n_segments=3, seed=0, n_features=3)
    model = SegmentationModel(n_segments=3).fit(features)
    broken = features.copy()
    broken.iloc[250, 0] = np.inf  # in the third batch of 100
    path = tmp_path / "f.parquet"
    broken.to_parquet(path)
    out = tmp_path / "a.parquet"
    with pytest.raises(DataError, match=r"features \[.f0.\] hold missing or infinite"):
        assign_all(model, path, out, batch_rows=100)
    assert list(tmp_path.iterdir()) == [path]


def test_input_file_is_left_unchanged(fitted, tmp_path):
    model, _, path = fitted
    before = path.read_bytes()
    assign_all(model, path, tmp_path / "a.parquet")
    assert path.read_bytes() == before


def test_missing_features_file_names_the_step(fitted, tmp_path):
    model, _, _ = fitted
    with pytest.raises(
        SchemaError, match="features file .*nope.parquet.* features step"
    ):
        assign_all(model, tmp_path / "nope.parquet", tmp_path / "a.parquet")


def test_missing_model_column_is_named(fitted, tmp_path):
    model, features, _ = fitted
    path = tmp_path / "short.parquet"
    features.drop(columns="orders").to_parquet(path)
    with pytest.raises(SchemaError, match=r"lack the column\(s\) \['orders'\]"):
        assign_all(model, path, tmp_path / "a.parquet")
    assert not (tmp_path / "a.parquet").exists()


def test_a_pandas_frame_is_refused_with_the_in_memory_alternative(fitted, tmp_path):
    model, features, _ = fitted
    with pytest.raises(SchemaError, match="features is a DataFrame.*model.predict"):
        assign_all(model, features, tmp_path / "a.parquet")


def test_a_model_fitted_on_an_array_is_refused(tmp_path):
    features, _ = make_customer_features(100, n_segments=2, seed=0, n_features=2)
    model = SegmentationModel(n_segments=2).fit(features.to_numpy())
    with pytest.raises(ModelError, match="no feature_names_in_.*features frame"):
        assign_all(model, tmp_path / "f.parquet", tmp_path / "a.parquet")


def test_batch_rows_must_be_positive(fitted, tmp_path):
    model, _, path = fitted
    with pytest.raises(ModelError, match="batch_rows=0 must be a positive"):
        assign_all(model, path, tmp_path / "a.parquet", batch_rows=0)


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support")
def test_spark_assignments_equal_predict_and_duckdb(fitted, tmp_path, monkeypatch):
    import pyspark  # noqa: F401  (a dev dependency: missing pyspark must fail)

    from segkit.features.behaviour import connect

    # Spark's Python workers must import segkit: run them on this interpreter.
    monkeypatch.setenv(
        "PYSPARK_PYTHON", os.environ.get("PYSPARK_PYTHON", sys.executable)
    )
    model, features, path = fitted
    con = connect("pyspark")
    try:
        spark = assign_all(model, path, tmp_path / "spark.parquet", backend=con)
    finally:
        con.disconnect()
    duck = assign_all(model, path, tmp_path / "duck.parquet")
    expected = model.predict(features).sort_index()
    got = _read(tmp_path / "spark.parquet")
    assert got.index.tolist() == expected.index.tolist()
    np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy())
    assert spark["rows"] == duck["rows"] == 400
    assert spark["segments"] == duck["segments"]
    assert spark["engine"] == "pyspark"
    assert not (tmp_path / "spark.parquet.parts").exists()
