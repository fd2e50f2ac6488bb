"""The compare step end to end on a synthetic run folder (no data step needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from segkit.clustering import step
from segkit.clustering.model import SegmentationModel
from segkit.config import validate_config
from segkit.context import RunContext
from segkit.datasets import make_customer_features


def _run(tmp_path, **clustering) -> RunContext:
    """A run folder whose config has a small scaled-space grid (plus ``clustering``)."""
    section = {
        "representations": ["scaled"],
        "stability_refits": 2,
        "map_sample": 150,
        **clustering,
    }
    config = validate_config(
        {
            "name": "synthetic",
            "customers": {"path": "customers.csv", "columns": {"customer_id": "id"}},
            "clustering": section,
        },
        root=tmp_path,
    )
    return RunContext(config=config, run_dir=tmp_path / "run")


@pytest.fixture
def ctx(tmp_path) -> tuple[RunContext, pd.Series]:
    run = _run(tmp_path, algorithms=["kmeans", "hdbscan"], k_max=5)
    features, truth = make_customer_features(300, n_segments=3, seed=2, n_features=4)
    run.save_frame("matrix.parquet", features)
    rfm = pd.DataFrame(
        {"segment": np.where(features["f0"] > 0, "Champions", "Lost")},
        index=features.index,
    )
    run.save_frame("rfm.parquet", rfm)
    return run, truth


def test_step_writes_every_artifact_of_the_contract(ctx):
    run, truth = ctx
    summary = step.run(run)
    assert summary["winner"] == "kmeans/scaled/3"
    table = run.load_frame("comparison.csv")
    assert "rfm/rules" in set(table["candidate"])
    labels = run.load_frame("labels.parquet")
    assert list(labels.columns) == ["segment"] and labels.index.name == "customer_id"
    assert adjusted_rand_score(truth, labels["segment"]) >= 0.95
    embedding = run.load_frame("embedding.parquet")
    assert list(embedding.columns) == ["x", "y"] and len(embedding) == 150
    rec = run.load_json("recommendation.json")
    assert rec["chosen"] == "kmeans/scaled/3"
    assert rec["samples"]["metric"] == 300
    assert rec["map"]["method"] == "pca"
    model = SegmentationModel.load(run.artifact("model.joblib"))
    assert model.config_["name"] == "synthetic"
    features = run.load_frame("matrix.parquet")
    assert (model.predict(features) == labels["segment"]).all()


def test_choice_in_the_config_overrides_the_recommendation(ctx):
    run, _ = ctx
    run.config["clustering"]["choice"] = "hdbscan/scaled"
    step.run(run)
    rec = run.load_json("recommendation.json")
    assert rec["chosen"] == "hdbscan/scaled" and rec["winner"] == "kmeans/scaled/3"
    assert SegmentationModel.load(run.artifact("model.joblib")).algorithm == "hdbscan"


def test_value_as_features_without_clv_columns_is_refused_not_ignored(ctx):
    from segkit.exceptions import ConfigError

    run, _ = ctx
    run.config["value"]["as_features"] = True
    with pytest.raises(
        ConfigError,
        match=r"value.as_features is true, but matrix.parquet has no \['clv', "
        r"'p_alive', 'expected_purchases'\].*rerun the features step",
    ):
        step.run(run)
    assert not run.has("recommendation.json")


def test_customers_outside_the_fit_sample_are_assigned_once_on_the_engine(tmp_path):
    # features.parquet and a preprocessor: the step's large-data path (DuckDB
    # assigns the customers outside clustering.fit_sample)
    import joblib

    from segkit.clustering.selection import candidate_model
    from segkit.features.preprocess import Preprocessor

    run = _run(tmp_path, algorithms=["kmeans"], k_max=4, fit_sample=200)
    config = run.config
    features, truth = make_customer_features(500, n_segments=3, seed=4, n_features=4)
    features.index = features.index.astype(str)
    run.save_frame("features.parquet", features)
    matrix = Preprocessor().set_output(transform="pandas").fit_transform(features)
    run.save_frame("matrix.parquet", matrix)
    joblib.dump(Preprocessor(), run.artifact("preprocessor.joblib"))
    step.run(run)
    labels = run.load_frame("labels.parquet")["segment"]
    model = SegmentationModel.load(run.artifact("model.joblib"))
    # the model labelled only its sample; the engine the other 300
    assert len(model.labels_) == 200 and len(labels) == 500
    rec = run.load_json("recommendation.json")
    whole = candidate_model(
        rec["chosen"],
        config["clustering"],
        seed=config["seed"],
        preprocessor=Preprocessor(),
    ).fit(features)
    assert (labels.reindex(features.index) == whole.labels_).all()
    assert rec["model"]["segments"] == whole.segment_ids_
    assert adjusted_rand_score(truth, labels.reindex(features.index)) >= 0.95
