"""An analyst's names file goes through the same claim check as automatic names."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from segkit.context import open_run

FIXTURE = Path(__file__).parents[1] / "fixtures" / "retail_small.yaml"


@pytest.mark.slow
def test_a_names_file_name_whose_claim_fails_is_kept_but_flagged(tmp_path):
    names = tmp_path / "names.yaml"
    overrides = {
        "clustering.algorithms": ["kmeans"],
        "clustering.representations": ["scaled"],
        "clustering.k_max": 3,
        "profiles.names_file": str(names),
    }
    ctx = open_run(FIXTURE, tmp_path / "run", overrides)
    ctx.run_step("compare")
    labels = ctx.load_frame("labels.parquet")["segment"]
    largest = int(labels.value_counts().idxmax())
    # the largest segment of a small shop is not all one-time buyers lapsed for long
    names.write_text(
        yaml.safe_dump(
            {
                "format": 1,
                "segments": [{"segment_id": largest, "name": "Lapsed one-timers"}],
            }
        ),
        encoding="utf-8",
    )
    summary = ctx.run_step("profile")["summary"]
    assert summary["names"][str(largest)] == "Lapsed one-timers"  # kept ...
    assert any("Lapsed one-timers" in w for w in summary["name_warnings"])  # flagged
    table = ctx.load_frame("name_claims.csv")
    mine = table[(table["segment"] == largest) & table["in_name"]]
    assert set(mine["name"]) == {"Lapsed one-timers"}
    assert not mine["holds"].all()  # the claims of the analyst's words, checked
