"""Tests for segkit.profiles.profile: profiles, indices, snake frame and persona cards."""

from __future__ import annotations

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal

from segkit.exceptions import DataError
from segkit.profiles.plays import PLAYS
from segkit.profiles.profile import (
    persona_cards,
    read_stability,
    segment_indices,
    segment_profiles,
    snake_frame,
    top_indices,
)
from segkit.profiles.report import persona_markdown


@pytest.fixture
def features() -> pd.DataFrame:
    # segment 0: recent, frequent, high spend; segment 1: lapsed one-timers
    return pd.DataFrame(
        {
            "recency": [10.0, 20.0, 30.0, 100.0, 200.0, 300.0],
            "frequency": [5, 6, 7, 1, 1, 1],
            "monetary": [100.0, 200.0, 300.0, 10.0, 20.0, 30.0],
            "country": ["UK", "UK", "FR", "UK", "DE", "UK"],
        },
        index=pd.Index([f"c{i}" for i in range(1, 7)], name="customer_id"),
    )


@pytest.fixture
def labels(features) -> pd.Series:
    return pd.Series([0, 0, 0, 1, 1, 1], index=features.index, name="segment")


def test_profiles_give_size_share_revenue_share_and_medians(features, labels):
    profiles = segment_profiles(features, labels, names={0: "Best", 1: "Gone"})
    assert profiles["segment"].tolist() == [0, 1]
    assert profiles["name"].tolist() == ["Best", "Gone"]
    assert profiles["size"].tolist() == [3, 3]
    assert profiles["share"].tolist() == [0.5, 0.5]
    assert profiles["revenue"].tolist() == [600.0, 60.0]
    assert profiles["revenue_share"].round(4).tolist() == [0.9091, 0.0909]
    assert profiles["median_recency"].tolist() == [20.0, 200.0]
    assert profiles["median_frequency"].tolist() == [6.0, 1.0]


def test_profiles_without_monetary_have_no_revenue_share(features, labels):
    profiles = segment_profiles(features.drop(columns="monetary"), labels)
    assert profiles["revenue_share"].isna().all()
    assert profiles["name"].tolist() == ["Segment 0", "Segment 1"]


def test_indices_are_100_times_segment_mean_over_overall_mean(features, labels):
    indices = segment_indices(features, labels)
    # overall recency mean 110: segment 0 mean 20 -> 18.18, segment 1 mean 200 -> 181.8
    assert indices.loc[0, "recency"] == pytest.approx(100 * 20 / 110)
    assert indices.loc[1, "recency"] == pytest.approx(100 * 200 / 110)
    assert indices.loc[0, "monetary"] == pytest.approx(100 * 200 / 110)
    assert "country" not in indices.columns
    # size-weighted average of indices is 100 by construction
    assert indices["frequency"].mean() == pytest.approx(100.0)


def test_index_is_missing_for_signed_or_all_zero_features(features, labels):
    data = features.assign(
        trend=[-1.0, -2.0, 0.0, 1.0, 5.0, 9.0],  # overall mean 2, but signed
        returns=0.0,
    )
    indices = segment_indices(data, labels)
    assert indices["trend"].isna().all()
    assert indices["returns"].isna().all()


def test_top_indices_list_over_and_under_indexed_features(features, labels):
    top = top_indices(segment_indices(features, labels), n=1)
    seg0 = top[top["segment"] == 0].set_index("direction")["feature"]
    assert seg0["over"] in {"frequency", "monetary"}
    assert seg0["under"] == "recency"
    seg1 = top[top["segment"] == 1].set_index("direction")["feature"]
    assert seg1["over"] == "recency"


def test_snake_frame_standardises_means(features, labels):
    snake = snake_frame(features, labels)
    assert set(snake.columns) == {"segment", "feature", "value"}
    rec = snake[snake["feature"] == "recency"].set_index("segment")["value"]
    std = features["recency"].std(ddof=0)
    assert rec[0] == pytest.approx((20 - 110) / std)
    assert rec[0] == pytest.approx(-rec[1])


def test_persona_cards_use_claims_plays_and_stability(features, labels):
    from segkit.profiles.claims import evaluate_claims, segment_facts

    profiles = segment_profiles(features, labels, names={0: "Best", 1: "Gone"})
    indices = segment_indices(features, labels)
    stability = read_stability(
        {"stability": [{"segment": 0, "jaccard": 0.91, "band": "stable"}]}
    )
    claims = evaluate_claims(features, labels)
    facts = segment_facts(features, labels)
    cards = persona_cards(
        profiles, indices, stability=stability, claims=claims, facts=facts
    )
    best, gone = cards
    assert set(best["traits"]) == {
        "active",
        "frequent",
        "high-value",
        "loyal",
        "repeat",
    }
    # 2 of 3 silent for > 180 days: 67 % < 80 %, so "lapsed" is not claimed
    assert set(gone["traits"]) == {"low-value", "one-timers", "silent"}
    assert best["traits"]["loyal"] == 1.0
    assert "VIP treatment and loyalty rewards" in [p["play"] for p in best["plays"]]
    assert [p["play"] for p in gone["plays"]] == ["Low-cost reactivation (email only)"]
    assert "3 ordered in the last 30 days" in best["who"]
    assert best["stability"] == "bootstrap Jaccard 0.91 (stable)"
    assert gone["stability"] == "not validated"
    assert "91% of revenue from 50% of customers" in best["worth"]
    text = persona_markdown(cards)
    assert "#### Best (segment 0)" in text and "**Win-back offer**" not in text


def test_without_claims_cards_show_index_traits_and_only_monitor(features, labels):
    profiles = segment_profiles(features, labels)
    cards = persona_cards(profiles, segment_indices(features, labels))
    assert cards[1]["traits"] == {
        "value": "low",
        "recency": "lapsed",
        "frequency": "one-time",
    }
    assert [p["play"] for p in cards[1]["plays"]] == ["Monitor"]


def test_every_play_in_the_rule_table_names_known_claims():
    from segkit.profiles.claims import CLAIMS
    from segkit.profiles.value import VALUE_CLAIMS

    for play in PLAYS:
        known = set(CLAIMS) | set(VALUE_CLAIMS)
        assert play["when"] and set(play["when"]) <= known, play


def test_read_stability_ignores_malformed_validation_files():
    assert read_stability(None) == {}
    assert read_stability({"stability": "n/a"}) == {}
    assert read_stability({"stability": [{"jaccard": 1}, {"segment": "x"}]}) == {}
    assert read_stability({"stability": [{"segment": 2, "jaccard": None}]}) == {
        2: {"jaccard": None, "band": None}
    }


def test_profile_functions_do_not_mutate_inputs(features, labels):
    before_f, before_l = features.copy(), labels.copy()
    profiles = segment_profiles(features, labels)
    indices = segment_indices(features, labels)
    snake_frame(features, labels)
    persona_cards(profiles, indices)
    assert_frame_equal(features, before_f)
    assert_series_equal(labels, before_l)


def test_labels_that_share_no_customer_with_features_are_refused(features):
    other = pd.Series([0, 1], index=["x1", "x2"])
    with pytest.raises(DataError, match="no customer_id is both in the features"):
        segment_profiles(features, other)


def test_labels_must_be_a_series(features):
    with pytest.raises(DataError, match="labels must be a pandas Series"):
        segment_indices(features, [0, 1, 0, 1, 0, 1])


def test_unknown_key_feature_is_refused_with_the_fix(features, labels):
    with pytest.raises(
        DataError, match=r"key features \['basket'\].*profiles.key_features"
    ):
        segment_profiles(features, labels, key_features=["basket"])


def test_read_stability_accepts_the_validate_step_layout():
    validation = {
        "stability": {"segments": [{"segment": 1, "jaccard": 0.7, "band": "ok"}]}
    }
    assert read_stability(validation) == {1: {"jaccard": 0.7, "band": "ok"}}


def test_traits_read_recency_days_as_recency(features, labels):
    data = features.rename(columns={"recency": "recency_days"})
    profiles = segment_profiles(data, labels)
    cards = persona_cards(profiles, segment_indices(data, labels))
    assert cards[1]["traits"]["recency"] == "lapsed"
    assert "median 200 days since the last order" in cards[1]["who"]


# ---------------------------------------------------------------- the profile step


def planted_run(folder, config_path, *, permutation=None, seed=0):
    """A run folder holding what the earlier steps would leave for the profile step."""
    import json

    import numpy as np

    from segkit.clustering.model import SegmentationModel
    from segkit.context import open_run

    rng = np.random.default_rng(seed)
    centres = [(10, 12, 5000.0), (300, 1, 80.0), (40, 5, 900.0)]
    parts = [
        pd.DataFrame(
            {
                "recency_days": rng.normal(r, r * 0.1, 40).clip(1),
                "frequency": np.maximum(1, rng.normal(f, f * 0.1, 40).round()),
                "monetary": rng.normal(m, m * 0.1, 40),
                "return_rate": rng.uniform(0, 0.1, 40),
            }
        )
        for r, f, m in centres
    ]
    features = pd.concat(parts, ignore_index=True)
    features.index = pd.Index([f"c{i:03d}" for i in range(120)], name="customer_id")
    model = SegmentationModel(n_segments=3, random_state=0).fit(
        np.log1p(features).set_axis(features.index)
    )
    ctx = open_run(config_path, folder)
    # the model clusters log features; the step only reads its labels and names
    labels = model.labels_
    if permutation:
        labels = labels.map(permutation)
    ctx.save_frame("features.parquet", features)
    ctx.save_frame("labels.parquet", labels.to_frame("segment"))
    model.save(ctx.artifact("model.joblib"))
    stability = [
        {"segment": int(s), "jaccard": 0.9, "band": "stable"} for s in labels.unique()
    ]
    ctx.save_json("validation.json", {"stability": {"segments": stability}})
    (folder / "manifest.json").write_text(json.dumps({"config": {"name": "planted"}}))
    return ctx, features, labels


@pytest.fixture
def project(tmp_path):
    import yaml

    (tmp_path / "pyproject.toml").touch()
    config = tmp_path / "configs" / "planted.yaml"
    config.parent.mkdir()
    config.write_text(
        yaml.safe_dump(
            {
                "name": "planted",
                "transactions": {
                    "path": "none.csv",
                    "columns": {
                        "customer_id": "c",
                        "order_id": "o",
                        "timestamp": "t",
                        "amount": "a",
                    },
                },
                "as_of": "2011-12-10",
            }
        )
    )
    return tmp_path, config


def test_profile_step_exports_files_with_the_documented_columns(project):
    import json

    from segkit.clustering.model import SegmentationModel
    from segkit.profiles import step
    from segkit.profiles.export import ASSIGNMENT_COLUMNS

    root, config = project
    ctx, features, labels = planted_run(root / "reports" / "2026-11-24", config)
    summary = step.run(ctx)
    assert summary["fidelity"] >= 0.9
    assignments = pd.read_csv(
        ctx.artifact("assignments.csv"), dtype={"customer_id": "str"}
    )
    assert list(assignments.columns) == ASSIGNMENT_COLUMNS
    assert len(assignments) == 120 and (assignments["run_id"] == "2026-11-24").all()
    segments = json.loads(ctx.artifact("segments.json").read_text())
    assert segments["config_name"] == "planted" and segments["customers"] == 120
    for entry in segments["segments"]:
        assert list(entry) == step.SEGMENT_KEYS
        assert entry["stability"] == {"jaccard": 0.9, "band": "stable"}
    names = {e["id"]: e["name"] for e in segments["segments"]}
    assert sorted(names.values()) == [
        "High-value loyal",
        "Lapsed one-timers",
        "Loyal regulars",
    ]
    claims = ctx.load_frame("name_claims.csv")
    assert list(claims.columns[:9]) == [
        "segment", "name", "claim", "threshold", "coverage", "coverage_low",
        "coverage_high", "holds", "in_name",
    ]  # fmt: skip
    used = claims[claims["in_name"]]
    assert used["holds"].all() and (used["coverage"] >= 0.8).all()
    mix = ctx.load_frame("lifecycle_mix.csv")
    assert {"segment", "name", "recent_customers", "share_at_risk"} <= set(mix.columns)
    profiles = ctx.load_frame("profiles.csv")
    assert (profiles["revenue_share_low"] <= profiles["revenue_share"]).all()
    assert (profiles["revenue_share"] <= profiles["revenue_share_high"]).all()
    model = SegmentationModel.load(ctx.artifact("model.joblib"))
    assert model.names == names
    got = assignments.set_index("customer_id")
    assert (got["segment_name"] == got["segment_id"].map(names)).all()
    migration = pd.read_csv(ctx.artifact("migration.csv"))
    assert list(migration.columns) == [
        "comparison",
        "previous",
        "current",
        "customers",
        "share",
    ]
    evolution = json.loads(ctx.artifact("evolution.json").read_text())
    assert evolution["previous_run"] is None and evolution["within_run"] is None
    for name in (
        "profiles.csv",
        "indices.csv",
        "personas.json",
        "rules.json",
        "segments.yaml",
    ):
        assert ctx.has(name), name


def test_names_file_overrides_survive_a_rerun_with_shuffled_labels(project):
    import json

    from segkit.profiles import step

    root, config = project
    ctx1, _, labels1 = planted_run(root / "reports" / "2026-11-24", config)
    step.run(ctx1)
    names1 = json.loads(ctx1.artifact("segments.json").read_text())["segments"]
    loyal = next(e["id"] for e in names1 if e["name"] == "High-value loyal")
    text = ctx1.artifact("segments.yaml").read_text()
    (config.parent / "segments.yaml").write_text(
        text.replace("name: High-value loyal", "name: Champions")
    )

    permutation = {0: 2, 1: 0, 2: 1}
    ctx2, _, labels2 = planted_run(
        root / "reports" / "2026-11-25", config, permutation=permutation
    )
    summary = step.run(ctx2)
    assert summary["names_file"] == str(config.parent / "segments.yaml")
    names2 = {
        e["id"]: e["name"]
        for e in json.loads(ctx2.artifact("segments.json").read_text())["segments"]
    }
    assert names2[permutation[loyal]] == "Champions"
    evolution = json.loads(ctx2.artifact("evolution.json").read_text())
    assert evolution["previous_run"]["run_id"] == "2026-11-24"
    assert evolution["previous_run"]["ari"] == 1.0
    assert evolution["previous_run"]["mapping"] == {
        str(k): v for k, v in permutation.items()
    }
    assert evolution["previous_run"]["stayed_share"] == 1.0


def test_compare_to_a_folder_without_assignments_is_refused(project):
    from segkit.context import open_run
    from segkit.profiles import step

    root, config = project
    planted_run(root / "reports" / "2026-11-24", config)
    ctx = open_run(
        config,
        root / "reports" / "2026-11-24",
        {"profiles.compare_to": "reports/empty"},
    )
    with pytest.raises(
        DataError, match=r"profiles.compare_to is 'reports/empty' but .* has no"
    ):
        step.run(ctx)


def test_notebook_figures_and_tables_have_titles_and_hide_customer_ids(project):
    from matplotlib.figure import Figure

    import segkit.profiles.report as plots
    from segkit.profiles import step

    root, config = project
    ctx, features, _ = planted_run(root / "reports" / "2026-11-24", config)
    step.run(ctx)
    art = plots.profile_artifacts(ctx)
    figures = [
        plots.index_heatmap(art["indices"], names=art["names"]),
        plots.snake_plot(art["snake"], names=art["names"]),
    ]
    # this planted run has no earlier assignments: one sentence each, no image
    for comparison in ("previous run", "within run"):
        note = plots.migration_heatmap(art["migration"], comparison=comparison)
        assert isinstance(note, str) and comparison in note
    for fig in figures:
        assert isinstance(fig, Figure)
        assert fig.axes[0].get_title()
    assert list(plots.profile_table(art["profiles"])["customers"]) == list(
        art["profiles"]["size"]
    )
    assert "**" in plots.fidelity_note(art["rules"])
    assert "#### " in plots.persona_note(art["personas"])
    assert "No comparison" not in plots.evolution_note(art["evolution"])
    sample = plots.export_sample(art["assignments"], config=ctx.config)
    assert len(sample) == 6  # two customers of each of the three segments
    assert not set(sample["customer_id"]) & set(features.index)
    assert sample["customer_id"].str.match(r"^c-[0-9a-f]{10}$").all()
    plain = plots.export_sample(
        art["assignments"], config={"profiles": {"hash_ids": False}}
    )
    assert set(plain["customer_id"]) <= set(features.index)
