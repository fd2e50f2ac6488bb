"""Tests for segkit.validation.verdict (verdict) and the validate step."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal
from sklearn.datasets import make_blobs

from segkit.clustering.model import SegmentationModel
from segkit.config import validate_config
from segkit.context import RunContext
from segkit.exceptions import ConfigError, DataError
from segkit.validation import step
from segkit.validation.verdict import (
    bimodality,
    match_segments,
    overall_verdict,
    refit_setup,
    thresholds,
    validate_segmentation,
    verdict_table,
)


def _config(tmp_path, **extra) -> dict:
    raw = {
        "name": "validate-test",
        "customers": {
            "path": "customers.csv",
            "columns": {"customer_id": "id"},
            "outcomes": ["Response"],
        },
        "clustering": {"k_min": 2, "k_max": 6},
        "validation": {"bootstrap": 6, "sample_size": 300, "ci_resamples": 200},
    }
    raw.update(extra)
    return validate_config(raw, root=tmp_path)


@pytest.fixture(scope="module")
def blobs() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Four planted segments of 75 customers; segment 0 always responds, others 20 %."""
    values, truth = make_blobs(
        n_samples=300, centers=4, n_features=3, cluster_std=0.5, random_state=3
    )
    index = pd.Index([f"c{i:03d}" for i in range(300)], name="customer_id")
    features = pd.DataFrame(values, index=index, columns=["spend", "visits", "tenure"])
    response = np.where(
        truth == 0, "yes", np.where(np.arange(300) % 5 == 0, "yes", "no")
    )
    customers = pd.DataFrame({"Response": response, "truth": truth}, index=index)
    return features, customers


LIMITS = {
    "keep_jaccard": 0.75,
    "watch_jaccard": 0.6,
    "alpha": 0.05,
    "min_effect": 0.33,
    "min_segment_share": 0.03,
    "ci_level": 0.95,
}


def test_match_segments_pairs_by_overlap_and_noise_with_noise():
    index = list("abcdef")
    before = pd.Series([0, 0, 0, 1, 1, -1], index=index)
    after = pd.Series([1, 1, 0, 0, 0, -1], index=index)
    table = match_segments(before, after).set_index("segment")
    assert table.loc[0, "matched"] == 1
    assert table.loc[0, "overlap"] == pytest.approx(2 / 3)
    assert table.loc[1, "matched"] == 0
    assert table.loc[1, "overlap"] == 1.0
    assert table.loc[-1, "matched"] == -1


def test_verdict_rules_keep_watch_and_merge():
    stable = pd.DataFrame(
        {
            "segment": [-1, 0, 1, 2, 3, 4, 5],
            "jaccard": [0.5, 0.9, 0.5, 0.7, 0.9, 0.9, 0.9],
            "band": ["x"] * 7,
        }
    )
    summary = pd.DataFrame(
        {
            "segment": [0, 1, 2, 3, 4, 5],
            "top_features": ["spend +0.9"] * 6,
            "nearest_segment": [1, 0, 0, 4, 3, 0],
            "merge_candidate": [False, False, False, True, True, False],
            "merge_with": [None, None, None, 4, 3, None],
        }
    )
    sizes = pd.Series({-1: 50, 0: 300, 1: 200, 2: 200, 3: 100, 4: 140, 5: 10})
    table = verdict_table(stable, summary, sizes, limits=LIMITS, names={0: "Loyal"})
    advice = table.set_index("segment")["recommendation"]
    assert advice[0] == "keep"
    assert advice[1] == "merge with Loyal"  # Jaccard 0.5 < 0.6: its nearest
    assert advice[2] == "watch"  # 0.7: doubtful membership
    assert advice[3] == "merge with Segment 4"  # indistinct
    assert advice[5] == "watch"  # 10 of 1,000 customers = 1 % < 3 %
    assert advice[-1] == "watch"
    reasons = table.set_index("segment")["reason"]
    assert reasons[1] == "not trustworthy: Jaccard 0.50 < 0.60"
    assert reasons[5] == "small: 1.0% of customers < 3%"
    assert table["share"].sum() == pytest.approx(1.0)


def _verdict(jaccards: list[float], advice: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "segment": range(len(jaccards)),
            "jaccard": jaccards,
            "recommendation": advice,
        }
    )


def _baseline(name, groups, measure, diff, low, high, wording, own=(0.2, 0.1, 0.3)):
    return {
        "name": name,
        "groups": groups,
        "outcome": "log revenue",
        "measure": measure,
        "difference": diff,
        "difference_low": low,
        "difference_high": high,
        "wording": wording,
        "reference": {
            "groups": 3,
            "measure": own[0],
            "low": own[1],
            "high": own[2],
            "p_value": 0.005 if own[1] > 0 else 0.4,
        },
    }


def test_overall_verdict_words_the_baselines_from_their_intervals_first():
    rows = [
        _baseline("RFM tiers", 3, 0.25, -0.05, -0.08, -0.01, "worse"),
        _baseline(
            "RFM named segments", 10, 0.21, -0.01, -0.04, 0.02, "indistinguishable"
        ),
    ]
    text = overall_verdict(
        _verdict([0.9], ["keep"]), {"ari_mean": 0.9}, rows, limits=LIMITS
    )
    assert text.startswith(
        "On held-out customers the segments predict next-horizon log revenue better "
        "than chance (held-out R\u00b2 20.0%, 95% interval 10.0% to 30.0%; "
        "permutation p = 0.005). Worse than RFM tiers (3 groups) at predicting "
        "next-horizon log revenue (held-out R\u00b2 20.0% vs 25.0%; difference -5.0 "
        "points, 95% interval -8.0 to -1.0)."
    )
    assert "Indistinguishable from RFM named segments (10 groups)" in text
    assert "Trustworthy: all 1 segments" in text


def test_overall_verdict_says_weak_evidence_first():
    rows = [
        _baseline(
            "shuffled labels",
            3,
            -0.01,
            0.01,
            -0.02,
            0.03,
            "indistinguishable",
            own=(0.0, -0.01, 0.02),
        )
    ]
    text = overall_verdict(
        _verdict([0.9], ["keep"]), {"ari_mean": 0.9}, rows, limits=LIMITS
    )
    assert text.startswith(
        "Weak evidence: on held-out customers the segments predict next-horizon "
        "log revenue no better than chance"
    )
    assert "shuffled labels" not in text  # chance is the permutation test's call
    rows[0]["reference"]["p_value"] = 0.01  # beats chance, interval includes 0
    text = overall_verdict(
        _verdict([0.9], ["keep"]), {"ari_mean": 0.9}, rows, limits=LIMITS
    )
    assert text.startswith("Weak evidence: on held-out customers the segments")
    assert "but the interval of their held-out R\u00b2 still includes 0" in text


def test_overall_verdict_never_says_zero_segments_fall_apart():
    text = overall_verdict(
        _verdict([0.8, 0.8, 0.9], ["keep"] * 3), {"ari_mean": 0.4}, limits=LIMITS
    )
    assert text.startswith("Not trustworthy: the segmentation as a whole does not")
    assert "0 of 3" not in text


def test_bimodal_refits_are_reported_not_averaged():
    values = [0.3] * 11 + [0.95] * 39
    shape = bimodality(values)
    assert shape["bimodal"]
    assert shape["modes"][0]["share"] == pytest.approx(0.22)
    assert not bimodality(np.linspace(0.7, 0.9, 50))["bimodal"]
    text = overall_verdict(
        _verdict([0.9], ["keep"]), {"ari_mean": 0.81}, limits=LIMITS, bimodal=shape
    )
    assert "Stability is bimodal: 22% of the refits agree at ARI 0.30-0.30" in text


def test_overall_verdict_can_say_not_trustworthy():
    verdict = _verdict([0.5, 0.55, 0.9], ["merge with Segment 2"] * 2 + ["keep"])
    text = overall_verdict(verdict, {"ari_mean": 0.7}, limits=LIMITS)
    assert text.startswith("Not trustworthy: 2 of 3 segments fall apart")
    low_ari = overall_verdict(
        _verdict([0.9], ["keep"]), {"ari_mean": 0.4}, limits=LIMITS
    )
    assert low_ari.startswith("Not trustworthy")


def test_overall_verdict_trustworthy_and_with_caveats():
    text = overall_verdict(
        _verdict([0.9, 0.95], ["keep", "keep"]), {"ari_mean": 0.92}, limits=LIMITS
    )
    assert text.startswith("Trustworthy: all 2 segments are stable")
    mixed = overall_verdict(
        _verdict([0.9, 0.7, 0.8], ["keep", "watch", "keep"]),
        {"ari_mean": 0.8},
        limits=LIMITS,
    )
    assert mixed.startswith("Usable with caveats: 2 of 3 segments can be kept, 1 need")
    none_kept = overall_verdict(
        _verdict([0.9, 0.9], ["merge with Segment 1", "merge with Segment 0"]),
        {"ari_mean": 0.86},
        limits=LIMITS,
    )
    assert none_kept.startswith("Not usable as they are: none of the 2 segments")


def test_planted_segments_are_kept_and_the_responders_found(tmp_path, blobs):
    features, customers = blobs
    config = _config(tmp_path)
    model = SegmentationModel(n_segments=4, random_state=0).fit(features)
    before = features.copy(), customers.copy(), model.labels_.copy()
    result = validate_segmentation(
        model, features, model.labels_, config, customers=customers
    )
    assert_frame_equal(features, before[0])
    assert_frame_equal(customers, before[1])
    assert_series_equal(model.labels_, before[2])
    assert set(result["verdict"]["recommendation"]) == {"keep"}
    # The held-out comparison comes first, then stability.
    assert result["verdict_text"].startswith(
        "On held-out customers the segments predict Response better than chance"
    )
    assert "Trustworthy: all 4 segments" in result["verdict_text"]
    assert result["suggested_k"][0.8] == 4
    rates = result["outcomes"]["per_segment"].set_index("segment")["rate"]
    responders = model.labels_[customers["truth"] == 0].iloc[0]
    assert rates[responders] == 1.0
    assert rates.drop(responders).max() < 0.5
    lift = result["verdict"].set_index("segment")["outcome_lift"]
    assert lift[responders] > 2


def test_structureless_data_gets_no_keep(tmp_path):
    rng = np.random.default_rng(7)
    index = pd.Index([f"n{i:03d}" for i in range(300)], name="customer_id")
    features = pd.DataFrame(rng.normal(size=(300, 8)), index=index)
    features.columns = [f"f{j}" for j in range(8)]
    config = _config(tmp_path)
    config["customers"]["outcomes"] = []  # no outcome: stability and distinctness only
    model = SegmentationModel(n_segments=6, random_state=0).fit(features)
    result = validate_segmentation(model, features, model.labels_, config)
    assert "keep" not in set(result["verdict"]["recommendation"])
    assert not result["verdict_text"].startswith("Trustworthy")
    assert result["outcomes"] is None


def test_outcome_declared_without_customers_is_an_error(tmp_path, blobs):
    features, _ = blobs
    config = _config(tmp_path)
    model = SegmentationModel(n_segments=4, random_state=0).fit(features)
    with pytest.raises(
        DataError, match="validation.outcome is 'Response' but there is no"
    ):
        validate_segmentation(model, features, model.labels_, config)


def test_thresholds_come_from_the_config(tmp_path):
    config = _config(tmp_path, validation={"keep_jaccard": 0.8, "min_effect": 0.5})
    limits = thresholds(config)
    assert limits["keep_jaccard"] == 0.8
    assert limits["min_effect"] == 0.5
    assert limits["min_segment_share"] == config["clustering"]["min_segment_share"]


def test_step_writes_validation_json_and_tables(tmp_path, blobs):
    features, customers = blobs
    ctx = RunContext(config=_config(tmp_path), run_dir=tmp_path / "run")
    model = SegmentationModel(n_segments=4, random_state=0).fit(features)
    model.save(ctx.artifact("model.joblib"))
    ctx.save_frame("features.parquet", features)
    ctx.save_frame("labels.parquet", model.labels_.to_frame())
    ctx.save_frame("customers.parquet", customers.drop(columns="truth"))
    summary = step.run(ctx)
    assert summary["stability_sample"] == 300
    assert summary["bootstrap_refits"] == 6
    for name in (
        "stability.csv",
        "prediction_strength.csv",
        "distinctness.csv",
        "outcomes.csv",
        "verdict.csv",
    ):
        assert ctx.has(name), name
    payload = json.loads(ctx.artifact("validation.json").read_text())
    assert payload["sample_sizes"]["stability_sample"] == 300
    assert payload["outcomes"]["kind"] == "rate"
    assert payload["outcomes"]["column"] == "Response"
    assert len(payload["stability"]["segments"]) == 4
    assert payload["prediction_strength"]["suggested_k"]["0.8"] == 4
    assert "Trustworthy" in payload["verdict"]["text"]
    (chance,) = payload["baselines"]
    assert chance["name"] == "shuffled labels" and chance["groups"] == 4
    assert chance["wording"] == "better"
    assert chance["difference_low"] > 0.2
    assert chance["low"] <= chance["measure"] <= chance["high"]
    assert "NaN" not in ctx.artifact("validation.json").read_text()


class _UmapLike(SegmentationModel):
    """A fitted-model stand-in whose 'UMAP' embedding is the first two columns x 10."""

    def transform(self, features: pd.DataFrame) -> pd.DataFrame:
        return features.iloc[:, :2] * 10


def test_umap_models_are_refitted_in_their_fixed_embedding(blobs):
    features, _ = blobs
    model = _UmapLike(representation="umap", n_segments=4, random_state=3)
    refit, frame, what = refit_setup(model, features)
    assert what.startswith("the clustering only")
    assert refit.get_params()["representation"] == "scaled"
    assert refit.get_params()["n_segments"] == 4
    assert refit.get_params()["random_state"] == 3
    assert_frame_equal(frame, features.iloc[:, :2] * 10)
    same, frame, what = refit_setup(model, features, refit="model")
    assert same is model
    assert what.startswith("the whole model")


def test_default_refits_keep_the_fitted_preprocessing(blobs):
    from segkit.features.preprocess import Preprocessor

    features, _ = blobs
    model = SegmentationModel(preprocessor=Preprocessor(), representation="pca")
    model.fit(features)
    refit, matrix, what = refit_setup(model, features)
    assert what.startswith("representation and clustering")
    assert refit.get_params()["preprocessor"] is None
    assert refit.get_params()["representation"] == "pca"
    expected = model.preprocessor_.transform(features)
    np.testing.assert_allclose(matrix.to_numpy(), np.asarray(expected, dtype=float))
    assert list(matrix.index) == list(features.index)


def test_unknown_refit_mode_is_a_config_error(blobs):
    features, _ = blobs
    with pytest.raises(ConfigError, match=r"validation\.refit is 'all'; use one of"):
        refit_setup(SegmentationModel(), features, refit="all")


def test_pipeline_validates_the_small_online_retail_fixture(tmp_path):
    from segkit.context import open_run

    fixture = Path(__file__).parents[1] / "fixtures" / "retail_small.yaml"

    overrides = {
        "clustering.algorithms": ["kmeans"],
        "clustering.representations": ["scaled"],
        "clustering.k_max": 4,
    }
    ctx = open_run(fixture, tmp_path / "run", overrides)
    ctx.run_step("validate")
    payload = ctx.load_json("validation.json")
    outcomes = payload["outcomes"]
    assert outcomes["kind"] == "retention"
    assert outcomes["t0"] == "2011-09-11"  # as_of 2011-12-10 minus 90 days
    assert payload["sample_sizes"]["outcome_customers"] == outcomes["customers"] > 100
    assert {r["segmentation"] for r in outcomes["comparison"]} == {
        "model",
        "rfm",
        "shuffled (chance)",
    }
    verdict = ctx.load_frame("verdict.csv")
    assert verdict["recommendation"].str.match(r"keep|watch|merge with ").all()
    assert payload["verdict"]["text"]
    # Page 04 calls segments by the names the profile stage gives them.
    from segkit.profiles.step import segment_names
    from segkit.validation.report import validate_artifacts

    shown = validate_artifacts(ctx, names=segment_names(ctx))["verdict"]
    ctx.run_step("profile")
    profiles = ctx.load_frame("profiles.csv").set_index("segment")["name"]
    assert not shown["name"].str.startswith("Segment ").any()
    assert dict(zip(shown["segment"], shown["name"], strict=True)) == {
        int(s): n for s, n in profiles.items()
    }


def test_horizon_longer_than_the_history_stops_before_resampling(tmp_path, blobs):
    features, _ = blobs
    config = _config(tmp_path)
    transactions = pd.DataFrame(
        {
            "customer_id": features.index[:3].astype("str"),
            "order_id": ["o1", "o2", "o3"],
            "timestamp": pd.to_datetime(["2024-01-01", "2024-01-20", "2024-02-01"]),
            "amount": [1.0, 2.0, 3.0],
        }
    )
    model = SegmentationModel(n_segments=4, random_state=0).fit(features)
    with pytest.raises(DataError, match=r"validation\.horizon_days=90 reaches back"):
        validate_segmentation(
            model, features, model.labels_, config, transactions=transactions
        )


def test_verdict_opens_with_no_structure_and_never_says_trustworthy_then():
    rec = {
        "structure": "none",
        "structure_reason": "No candidate is stable",
        "fallback": True,
        "use_rfm_grid": True,
    }
    text = overall_verdict(
        _verdict([0.9], ["keep"]), {"ari_mean": 0.9}, limits=LIMITS, structure=rec
    )
    assert text.startswith("There is no clear segment structure")
    assert "RFM grid is recommended" in text.split(".")[0]
    assert "Trustworthy" not in text and "Stable but not recommended" in text
    weak = overall_verdict(
        _verdict([0.9], ["keep"]),
        {"ari_mean": 0.9},
        limits=LIMITS,
        structure={
            **rec,
            "structure": "weak",
            "fallback": False,
            "use_rfm_grid": False,
        },
    )
    assert weak.startswith("The segment structure is weak")
    assert "Trustworthy" not in weak and "Stable, on a weak structure" in weak
    clear = overall_verdict(
        _verdict([0.9], ["keep"]),
        {"ari_mean": 0.9},
        limits=LIMITS,
        structure={"structure": "clear", "structure_reason": "Stable"},
    )
    assert clear.startswith("The segment structure is clear") and "Trustworthy" in clear
