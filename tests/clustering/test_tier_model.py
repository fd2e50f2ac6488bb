"""CLV tiers as the segmentation: clusterer, model, config, wording, end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from sklearn.base import clone

from segkit.clustering.algorithms import make_clusterer, parse_candidate
from segkit.clustering.tier_model import ClvTierModel, is_tier_choice
from segkit.config import validate_config
from segkit.exceptions import ConfigError, DataError, ModelError
from segkit.features.preprocess import Preprocessor
from segkit.features.value_tiers import ClvTiers
from segkit.validation.wording import overall_verdict

from ..conftest import ROOT


def _features(n: int = 100, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "monetary": rng.gamma(2.0, 100.0, n),
            "clv": np.arange(1.0, n + 1.0)[rng.permutation(n)],  # CLV 1..n
        },
        index=pd.Index([f"c{i:03d}" for i in range(n)], name="customer_id"),
    )


def test_candidate_ids_name_the_tiers_without_k_and_only_scaled():
    assert parse_candidate("clv_tiers") == ("clv_tiers", "scaled", None)
    assert parse_candidate("clv_tiers/scaled") == ("clv_tiers", "scaled", None)
    assert is_tier_choice("clv_tiers/scaled") and not is_tier_choice("kmeans/pca/3")
    with pytest.raises(ConfigError, match=r"only the scaled representation"):
        parse_candidate("clv_tiers/pca")


def test_tier_clusterer_cuts_the_column_at_the_given_position():
    X = np.column_stack([np.zeros(10), np.arange(1.0, 11.0)])
    tiers = make_clusterer(
        "clv_tiers", None, random_state=0, tiers=[0.2, 0.3, 0.5], value_column=1
    ).fit(X)
    assert isinstance(tiers, ClvTiers)
    assert list(tiers.labels_) == [2, 2, 2, 2, 2, 1, 1, 1, 0, 0]
    with pytest.raises(ModelError, match=r"clv_tiers needs value_column="):
        make_clusterer("clv_tiers", None, random_state=0)


def test_model_segments_are_the_tiers_and_a_customer_alone_keeps_its_tier():
    features = _features()
    before = features.copy()
    model = ClvTierModel(tiers=[0.2, 0.3, 0.5], n_segments=3).fit(features)
    assert_frame_equal(features, before)
    # known answer: the tiers of ClvTiers on the clv column alone
    expected = ClvTiers(shares=[0.2, 0.3, 0.5]).fit(features).labels_
    tiers = model.labels_.map(model.tier_of_segment_)
    assert (tiers.to_numpy() == expected).all()
    assert tiers.value_counts().sort_index().tolist() == [20, 30, 50]
    top = model.labels_[features["clv"] == features["clv"].max()].iloc[0]
    assert model.tier_names_[int(top)] == "Top value"
    assert sorted(model.tier_names_.values()) == [
        "Low value",
        "Middle value",
        "Top value",
    ]
    for customer in features.index[:10]:
        alone = model.predict(features.loc[[customer]])
        assert alone.iloc[0] == model.labels_[customer]
    again = clone(model)
    assert again.get_params()["tiers"] == [0.2, 0.3, 0.5]
    assert (again.fit(features).labels_ == model.labels_).all()


def test_model_cuts_on_the_clv_coordinate_of_a_preprocessed_matrix():
    features = _features(200, seed=3)
    model = ClvTierModel(
        tiers=[0.2, 0.3, 0.5], n_segments=3, preprocessor=Preprocessor()
    )
    model.fit(features)
    expected = ClvTiers(shares=[0.2, 0.3, 0.5]).fit(features).labels_
    assert (model.labels_.map(model.tier_of_segment_).to_numpy() == expected).all()


def test_clipping_that_would_merge_tiers_is_refused():
    features = _features(200)
    features["clv"] = np.where(np.arange(200) < 60, 1e6, features["clv"])  # 30 % huge
    model = ClvTierModel(
        tiers=[0.2, 0.3, 0.5],
        n_segments=3,
        preprocessor=Preprocessor(skew="none", clip=1.0),
    )
    with pytest.raises(DataError, match=r"clipped at preprocess.clip=1.0.*raise"):
        model.fit(features)


def test_a_matrix_without_clv_is_refused_with_the_fix():
    with pytest.raises(DataError, match=r"column 'clv' is not among the 2 columns"):
        ClvTierModel(n_segments=3).fit(_features().rename(columns={"clv": "x"}))


SOURCE = {"customers": {"path": "c.csv", "columns": {"customer_id": "id"}}}


def test_tiers_without_clv_features_are_a_config_error(tmp_path):
    body = {"name": "x", **SOURCE, "clustering": {"choice": "clv_tiers"}}
    message = (
        r"clustering.choice is 'clv_tiers', but value.as_features is false.*"
        r"set value.as_features: true"
    )
    # at load time, reported together with the other problems of the file
    with pytest.raises(ConfigError, match=message) as caught:
        validate_config({**body, "seed": "x"}, root=tmp_path)
    assert "seed" in str(caught.value)
    # and again by the model, for a config changed after loading
    config = validate_config({**body, "clustering": {"choice": None}}, root=tmp_path)
    config["clustering"]["choice"] = "clv_tiers"
    with pytest.raises(ConfigError, match=message):
        ClvTierModel.from_settings(config["clustering"], config["value"], seed=0)
    with pytest.raises(ConfigError, match=r"clustering.choice is 'clv_tiers/umap'"):
        validate_config(
            {**body, "clustering": {"choice": "clv_tiers/umap"}}, root=tmp_path
        )


def test_verdict_says_tier_stability_holds_by_construction():
    verdict = pd.DataFrame(
        {"segment": [0, 1], "jaccard": [0.95, 0.9], "recommendation": ["keep"] * 2}
    )
    limits = {"keep_jaccard": 0.75, "watch_jaccard": 0.6}
    tiers = overall_verdict(
        verdict,
        {"ari_mean": 0.9},
        limits=limits,
        structure={"chosen": "clv_tiers/scaled", "structure": "clear"},
    )
    assert "stable by construction" not in tiers  # the sentence, not a phrase
    assert "come back under resampling by construction" in tiers
    plain = overall_verdict(
        verdict,
        {"ari_mean": 0.9},
        limits=limits,
        structure={"chosen": "kmeans/scaled/2", "structure": "clear"},
    )
    assert "by construction" not in plain


@pytest.mark.slow
def test_small_fixture_with_clv_tiers_validates_profiles_and_scores(tmp_path):
    from segkit.clustering.model import SegmentationModel
    from segkit.context import open_run
    from segkit.scoring import score_file

    fixture = ROOT / "tests" / "fixtures" / "retail_small.yaml"
    overrides = {
        "clustering.algorithms": ["kmeans"],
        "clustering.representations": ["scaled"],
        "clustering.k_max": 4,
        "value.as_features": True,
        "clustering.choice": "clv_tiers",
    }
    ctx = open_run(fixture, tmp_path / "run", overrides)
    ctx.run_step("profile")
    rec = ctx.load_json("recommendation.json")
    assert rec["chosen"] == "clv_tiers/scaled" and rec["overridden"] is True
    assert rec["winner"].startswith("kmeans/scaled/")  # the rule's pick, kept
    model = SegmentationModel.load(ctx.artifact("model.joblib"))
    assert isinstance(model, ClvTierModel)
    labels = ctx.load_frame("labels.parquet")["segment"]
    features = ctx.load_frame("features.parquet")
    # the tiers are ClvTiers' on the features' clv (shares 20/30/50 within ties)
    expected = ClvTiers(shares=[0.2, 0.3, 0.5]).fit(features).labels_
    tiers = labels.reindex(features.index).map(model.tier_of_segment_)
    assert (tiers.to_numpy() == expected).all()
    shares = tiers.value_counts(normalize=True).sort_index().to_numpy()
    assert shares == pytest.approx([0.2, 0.3, 0.5], abs=0.02)
    # 05 names the top tier by claims that hold
    top = next(s for s, t in model.tier_of_segment_.items() if t == 0)
    claims = ctx.load_frame("name_claims.csv")
    mine = claims[(claims["segment"] == top) & claims["in_name"]]
    assert "high-value" in set(mine["claim"]) and mine["holds"].all()
    assert model.names[top].startswith("High-value")
    text = ctx.load_json("validation.json")["verdict"]["text"]
    assert "by construction" in text
    # a customer scored alone gets its tier
    raw = pd.read_csv(ROOT / "tests" / "fixtures" / "retail_small.csv.gz")
    customer = str(labels[labels == top].index[0])
    ids = raw["CustomerID"].dropna().astype(int).astype(str)
    one = raw.loc[ids.index[ids == customer]]
    one.to_csv(tmp_path / "one.csv", index=False)
    out = score_file(
        ctx.artifact("model.joblib"),
        tmp_path / "one.csv",
        tmp_path / "s.csv",
        as_of="2011-12-10",
    )
    assert out["segment_id"].tolist() == [top]
