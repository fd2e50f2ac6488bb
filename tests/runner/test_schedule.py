"""Notebooks of reused steps run side by side; the rest keep their order."""

from __future__ import annotations

import pandas as pd
import pytest

from segkit.reuse import FRESH_ENV
from segkit.runner.schedule import parallel_batch, restore_reusable, workers
from tests.test_reuse import SMALL, report_run, statuses

NAMES = [
    "01-explore",
    "02-features",
    "03-cluster-compare",
    "04-validate",
    "05-profiles",
]
BEFORE_PROFILE = ["data", "features", "value", "compare", "validate"]


def test_a_warm_run_puts_every_notebook_in_one_batch():
    assert parallel_batch(NAMES, BEFORE_PROFILE) == NAMES


def test_a_changed_validation_setting_keeps_04_and_05_in_order():
    assert parallel_batch(NAMES, ["data", "features", "value", "compare"]) == NAMES[:3]


def test_nothing_restored_or_a_lone_ready_notebook_runs_in_order():
    assert parallel_batch(NAMES, []) == []
    assert parallel_batch(NAMES, ["data"]) == []  # one notebook: nothing to overlap
    # 02 computes value as well: features alone does not make it ready
    assert parallel_batch(NAMES, ["data", "features"]) == []


def test_a_selection_of_notebooks_is_scheduled_alone():
    assert parallel_batch(["04-validate", "05-profiles"], BEFORE_PROFILE) == [
        "04-validate",
        "05-profiles",
    ]
    assert parallel_batch(["99-extra", "01-explore"], ["data"]) == []


def test_workers_never_exceed_the_jobs():
    assert workers(1) == 1
    assert 2 <= workers(5) <= 5


@pytest.mark.slow
def test_restore_copies_the_cached_steps_in_order_and_fresh_copies_none(
    tmp_path, monkeypatch
):
    first = report_run(tmp_path)
    first.ensure("validate")
    second = report_run(tmp_path)
    restored = restore_reusable(second.config, second.run_dir)
    assert restored == BEFORE_PROFILE
    assert set(statuses(second).values()) == {"reused"}
    labels = second.load_frame("labels.parquet")
    assert labels.equals(first.load_frame("labels.parquet"))
    monkeypatch.setenv(FRESH_ENV, "1")
    third = report_run(tmp_path)
    assert restore_reusable(third.config, third.run_dir) == []


@pytest.mark.slow
def test_a_warm_report_runs_the_notebooks_together_with_the_same_segments(tmp_path):
    from segkit.runner.notebooks import run_report

    out = tmp_path / "reports"
    cold = run_report(SMALL, output_dir=out)
    warm = run_report(SMALL, output_dir=out)
    assert cold.status == warm.status == "ok"
    assert cold.manifest["parallel"] == []
    assert warm.manifest["parallel"] == NAMES
    assert all((warm.run_dir / f"{name}.html").exists() for name in NAMES)
    read = [
        pd.read_csv(run.run_dir / "artifacts" / "assignments.csv", dtype=str)
        for run in (cold, warm)
    ]
    columns = ["customer_id", "segment_id", "segment_name"]
    assert read[0][columns].equals(read[1][columns])


def test_the_index_says_which_notebooks_ran_side_by_side():
    from segkit.runner.summary import parallel_note

    line = "Reused from run 2026-12-01: data (inputs unchanged)."
    assert parallel_note(line, []) == line
    assert parallel_note(None, NAMES) is None
    text = parallel_note(line, NAMES[:3])
    assert (
        text.startswith(line) and "Notebooks 01, 02, 03 only read copied steps" in text
    )
