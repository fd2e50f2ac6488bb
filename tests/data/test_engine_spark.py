"""``engine: spark`` (local mode) gives the DuckDB run's ledger, features and assignments.

The same fixture runs through the data, features and compare steps twice, once per
engine: the ledger and the summary are equal, the clean lines equal row for row,
the features equal to 1e-9 (sums add in another order), and the segments are the
same customers' -- both in the compare step's labels and when every customer is
assigned on the engine by the fitted model.
"""

from __future__ import annotations

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal

from segkit.clustering.assign import assign_all
from segkit.clustering.model import SegmentationModel
from segkit.context import open_run
from segkit.data.engine import connect_engine
from tests.conftest import ROOT

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support"),
]

FIXTURE = ROOT / "tests" / "fixtures" / "retail_small.yaml"
# A small grid keeps the two compare steps quick; the engines must agree on it.
GRID = [
    "clustering.algorithms=[kmeans]",
    "clustering.representations=[scaled]",
    "clustering.k_max=5",
    "engine.spark.master=local[2]",
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("engines")
    out = {}
    for kind in ("duckdb", "spark"):
        ctx = open_run(FIXTURE, folder / kind, [f"engine.kind={kind}", *GRID])
        for step in ("data", "features", "compare"):
            ctx.run_step(step)
        out[kind] = ctx
    return out


def _sorted(frame):
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def test_spark_ledger_and_lines_equal_duckdb(runs):
    duck, spark = runs["duckdb"], runs["spark"]
    assert_frame_equal(
        duck.load_frame("ledger.csv"),
        spark.load_frame("ledger.csv"),
        check_exact=False,
        rtol=1e-9,
    )
    for name in ("transactions.parquet", "returns.parquet"):
        assert_frame_equal(
            _sorted(duck.load_frame(name)),
            _sorted(spark.load_frame(name)),
            check_dtype=False,
        )
    a, b = duck.load_json("data_summary.json"), spark.load_json("data_summary.json")
    assert (a.pop("engine"), b.pop("engine")) == ("duckdb", "spark")
    assert a == b
    assert duck.load_json("duplicates.json") == spark.load_json("duplicates.json")
    counts = ["column", "dtype", "missing", "distinct", "outliers"]
    assert_frame_equal(
        duck.load_frame("quality.csv")[counts], spark.load_frame("quality.csv")[counts]
    )


def test_spark_features_equal_duckdb(runs):
    assert_frame_equal(
        runs["duckdb"].load_frame("features.parquet"),
        runs["spark"].load_frame("features.parquet"),
        check_exact=False,
        rtol=1e-9,
    )


def test_spark_segments_equal_duckdb(runs):
    duck = runs["duckdb"].load_frame("labels.parquet")["segment"]
    spark = runs["spark"].load_frame("labels.parquet")["segment"]
    assert_series_equal(duck.sort_index(), spark.sort_index())
    assert duck.nunique() >= 2


def test_every_customer_assigned_on_spark_equals_the_model(runs, tmp_path):
    ctx = runs["duckdb"]
    features = ctx.load_frame("features.parquet")
    model = SegmentationModel.load(ctx.artifact("model.joblib"))
    expected = model.predict(features)
    con = connect_engine({"engine": {"kind": "spark", "spark": {"master": "local[2]"}}})
    path = tmp_path / "assigned.parquet"
    result = assign_all(model, ctx.artifact("features.parquet"), path, backend=con)
    assigned = pd.read_parquet(path).set_index("customer_id")["segment_id"]
    assert result["rows"] == len(features)
    assert (assigned.reindex(features.index).to_numpy() == expected.to_numpy()).all()
