"""Tests for segkit.profiles.naming: automatic names, the names file, matching across runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from segkit.exceptions import ConfigError
from segkit.profiles.naming import (
    auto_names,
    match_by_overlap,
    match_centroids,
    names_document,
    names_file_path,
    read_names_file,
    resolve_names,
    segment_centroids,
    write_names_file,
)

# planted groups: (recency days, orders, spend, basket)
GROUPS = {
    "loyal": (10, 12, 5000, 40),
    "lapsed_once": (300, 1, 80, 10),
    "new_once": (15, 1, 90, 12),
    "regular": (40, 5, 900, 20),
}


def planted(seed: int, per_group: int = 50) -> tuple[pd.DataFrame, pd.Series]:
    """Features with four planted groups; labels are the group number."""
    rng = np.random.default_rng(seed)
    frames, groups = [], []
    for g, (rec, freq, spend, basket) in enumerate(GROUPS.values()):
        frames.append(
            pd.DataFrame(
                {
                    "recency": rng.normal(rec, rec * 0.1, per_group).clip(1),
                    "frequency": np.maximum(
                        1, np.round(rng.normal(freq, freq * 0.1, per_group))
                    ),
                    "monetary": rng.normal(spend, spend * 0.1, per_group).clip(1),
                    "basket": rng.normal(basket, 2, per_group),
                }
            )
        )
        groups += [g] * per_group
    features = pd.concat(frames, ignore_index=True)
    features.index = pd.Index(
        [f"s{seed}-{i}" for i in range(len(features))], name="customer_id"
    )
    return features, pd.Series(groups, index=features.index, name="segment")


def names_for(features, labels):
    return auto_names(features, labels)


def test_auto_names_describe_the_planted_groups():
    features, labels = planted(0)
    names = names_for(features, labels)
    # "regular" (5 orders, 40 days ago) is loyal but its spend ranks 2nd of 4:
    # only the top round(4 / 3) = 1 segment may be called high-value
    assert names == {
        0: "High-value loyal",
        1: "Lapsed one-timers",
        2: "New one-timers",
        3: "Loyal regulars",
    }


def test_auto_names_are_unique_when_two_segments_look_alike():
    features, labels = planted(0)
    # split the loyal group in two halves that differ only on basket size
    labels = labels.copy()
    loyal = labels[labels == 0].index
    labels[loyal[:25]] = 7
    features = features.copy()
    features.loc[loyal[:25], "basket"] = 80.0
    names = names_for(features, labels)
    assert len(set(names.values())) == len(names)
    # both halves are above every median split; the relative claim is checked on
    # the members: all of segment 7 buy bigger baskets than its namesake's median
    assert names[0] == "High-value loyal"
    assert names[7] == "High-value loyal, higher basket"


def test_noise_segment_is_called_unassigned():
    features, labels = planted(0)
    labels = labels.copy()
    labels.iloc[:5] = -1
    assert names_for(features, labels)[-1] == "Unassigned"


def test_match_by_overlap_recovers_a_relabelling():
    _, labels = planted(0)
    shuffled = labels.map({0: 3, 1: 0, 2: 1, 3: 2})
    assert match_by_overlap(labels, shuffled) == {0: 3, 1: 0, 2: 1, 3: 2}


def test_match_centroids_pairs_nearest_and_drops_far_pairs():
    previous = pd.DataFrame({"x": [0.0, 10.0]}, index=["a", "b"])
    current = pd.DataFrame({"x": [10.5, 0.2, 50.0]}, index=[5, 6, 7])
    scale = pd.Series({"x": 1.0})
    assert match_centroids(previous, current, scale=scale) == {"a": 6, "b": 5}
    assert match_centroids(previous, current, scale=scale, max_distance=0.3) == {"a": 6}


def test_names_survive_a_rerun_with_shuffled_label_numbers(tmp_path):
    features1, labels1 = planted(1)
    auto1 = names_for(features1, labels1)
    centroids1 = segment_centroids(features1, labels1)
    doc = names_document(
        auto1,
        auto1,
        centroids1,
        labels1.value_counts(),
        config_name="demo",
        run_id="2026-11-24",
        as_of="2011-12-10",
    )
    path = write_names_file(tmp_path / "segments.yaml", doc)
    edited = path.read_text().replace("name: High-value loyal", "name: Champions")
    edited = edited.replace("name: Lapsed one-timers", "name: Gone quiet")
    path.write_text(edited)

    features2, labels2 = planted(2)  # other customers, same planted groups
    shuffled = labels2.map({0: 2, 1: 3, 2: 0, 3: 1})
    auto2 = names_for(features2, shuffled)
    centroids2 = segment_centroids(features2, shuffled)
    names, matches = resolve_names(
        auto2,
        centroids2,
        features2.std(ddof=0),
        read_names_file(path),
        max_distance=1.0,
    )
    assert names == {
        2: "Champions",
        3: "Gone quiet",
        0: "New one-timers",
        1: "Loyal regulars",
    }
    assert (matches["source"] == "names file").all()
    assert matches.set_index("segment").loc[2, "file_entry"] == 0


def test_names_file_entry_without_centroid_applies_by_segment_id():
    features, labels = planted(0)
    auto = names_for(features, labels)
    doc = {"format": 1, "segments": [{"segment_id": 1, "name": "Sleepers"}]}
    names, _ = resolve_names(
        auto, segment_centroids(features, labels), features.std(), doc
    )
    assert names[1] == "Sleepers" and names[0] == "High-value loyal"


def test_override_that_clashes_with_an_auto_name_keeps_names_unique():
    features, labels = planted(0)
    auto = names_for(features, labels)
    doc = {"format": 1, "segments": [{"segment_id": 1, "name": "High-value loyal"}]}
    names, _ = resolve_names(
        auto, segment_centroids(features, labels), features.std(), doc
    )
    assert names[1] == "High-value loyal"
    assert names[0] == "High-value loyal (auto)"


def test_names_file_path_defaults_next_to_the_config(tmp_path):
    config = {
        "config_path": str(tmp_path / "cfg" / "a.yaml"),
        "root": str(tmp_path),
        "profiles": {"names_file": None},
    }
    assert names_file_path(config) == tmp_path / "cfg" / "segments.yaml"
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "a.segments.yaml").write_text("segments: []\n")
    assert names_file_path(config) == tmp_path / "cfg" / "a.segments.yaml"
    config["profiles"]["names_file"] = "names/mine.yaml"
    assert names_file_path(config) == tmp_path / "names" / "mine.yaml"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("segments: [", "is not valid YAML"),
        ("format: 1\n", "has no 'segments' list"),
        ("format: 9\nsegments: []\n", "has format 9"),
        ("segments:\n- segment_id: 1\n", "entry 0 of 'segments' has no 'name'"),
        ("segments:\n- name: A\n", "neither 'centroid' nor 'segment_id'"),
        ("segments:\n- name: A\n  centroid: 3\n", "'centroid' that is not a mapping"),
    ],
)
def test_bad_names_files_are_refused_with_the_fix(tmp_path, text, match):
    path = tmp_path / "segments.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        read_names_file(path)


def test_naming_does_not_mutate_inputs():
    features, labels = planted(0)
    before = features.copy()
    centroids = segment_centroids(features, labels)
    snapshot = centroids.copy()
    resolve_names(names_for(features, labels), centroids, features.std(), None)
    assert_frame_equal(features, before)
    assert_frame_equal(centroids, snapshot)


def test_names_file_of_another_config_is_ignored():
    features, labels = planted(0)
    auto = names_for(features, labels)
    doc = {"config": "other", "segments": [{"segment_id": 1, "name": "Sleepers"}]}
    centroids = segment_centroids(features, labels)
    names, _ = resolve_names(auto, centroids, features.std(), doc, config_name="demo")
    assert names == auto
    names, _ = resolve_names(auto, centroids, features.std(), doc, config_name="other")
    assert names[1] == "Sleepers"


def test_analyst_name_whose_claim_fails_is_kept_and_flagged():
    from segkit.profiles.claims import claim_names, mark_name_claims
    from segkit.profiles.report import names_note

    features, labels = planted(0)
    auto, claims = claim_names(features, labels)
    doc = {
        "format": 1,
        "segments": [
            {"segment_id": 1, "name": "Loyal lapsed buyers"},  # lapsed once-buyers
            {"segment_id": 2, "name": "New one-time buyers"},
            {"segment_id": 3, "name": "Regulars at churn risk"},
        ],
    }
    names, matches = resolve_names(
        auto, segment_centroids(features, labels), features.std(), doc, claims=claims
    )
    assert names[1] == "Loyal lapsed buyers"  # kept: the analyst decides
    rows = matches.set_index("segment")
    assert rows.loc[1, "name_claims"] == "loyal; lapsed"
    assert rows.loc[1, "claims_hold"] is False or rows.loc[1, "claims_hold"] == 0
    assert "does not hold: loyal (0% of members)" in rows.loc[1, "warning"]
    assert bool(rows.loc[2, "claims_hold"]) and rows.loc[2, "warning"] == ""
    assert bool(rows.loc[3, "claims_hold"])  # "regulars" holds ...
    assert "not checkable on these data: churn risk" in rows.loc[3, "warning"]
    assert rows.loc[0, "claims_hold"] is None and rows.loc[0, "source"] == "auto"
    marked = mark_name_claims(claims, matches)
    mine = marked[(marked["segment"] == 1) & marked["in_name"]]
    assert set(mine["claim"]) == {"loyal", "lapsed"}
    assert set(mine["name"]) == {"Loyal lapsed buyers"}
    assert not mine.set_index("claim").at["loyal", "holds"]
    note = str(names_note(matches, {}))
    assert "Check these names" in note and "Loyal lapsed buyers" in note
