"""When each notebook starts: as soon as the steps it reads are there, one at a
time computing (but value beside compare); known answers on the rules, then real
report runs."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest

from segkit.reuse import FRESH_ENV
from segkit.runner.schedule import (
    notebook_inputs,
    overlapping,
    pick,
    restore_reusable,
    run_notebooks,
    workers,
)
from tests.test_reuse import SMALL, report_run, statuses

NAMES = [
    "01-explore",
    "02-features",
    "03-cluster-compare",
    "04-validate",
    "05-profiles",
]
BEFORE_PROFILE = ["data", "features", "value", "compare", "validate"]


def test_what_each_notebook_reads_and_makes():
    assert notebook_inputs("01-explore") == (frozenset(), frozenset({"data"}))
    assert notebook_inputs("03-cluster-compare") == (
        frozenset({"data", "features"}),
        frozenset({"compare"}),
    )
    reads, makes = notebook_inputs("04-validate")
    assert reads == {"data", "features", "value", "compare"} and makes == {"validate"}
    assert notebook_inputs("99-extra") is None


def test_a_warm_run_starts_the_computing_profile_first_then_readers_in_order():
    # the computing notebook comes on top of the readers' kernels
    assert pick(NAMES, [], BEFORE_PROFILE, 2) == [NAMES[4], NAMES[0], NAMES[1]]
    assert pick(NAMES, [], BEFORE_PROFILE, 5) == [NAMES[4], *NAMES[:4]]
    # two readers running on two kernels: only a computing notebook may join
    running = ["01-explore", "02-features"]
    assert pick(NAMES[2:], running, BEFORE_PROFILE, 2) == ["05-profiles"]
    assert pick(NAMES[2:4], running, BEFORE_PROFILE, 2) == []


def test_a_cold_run_starts_02_once_01_has_written_data():
    assert pick(NAMES, [], [], 2) == ["01-explore"]
    assert pick(NAMES[1:], ["01-explore"], [], 2) == []  # data not written yet
    assert pick(NAMES[1:], ["01-explore"], ["data"], 2) == ["02-features"]
    # 02 still computes features, which 03 reads: 03 waits
    assert pick(NAMES[2:], ["02-features"], ["data"], 2) == []
    # 03 reads features only and compare reads nothing of value, nor value of
    # compare: 03 computes beside 02's value step, on a kernel of its own
    assert pick(NAMES[2:], ["02-features"], ["data", "features"], 1) == [
        "03-cluster-compare"
    ]
    done = ["data", "features", "value"]
    assert pick(NAMES[2:], ["02-features"], done, 1) == ["03-cluster-compare"]
    # but never validate beside compare (it reads compare), nor two computing
    # notebooks when one of their steps reads the other
    running = ["02-features", "03-cluster-compare"]
    assert pick(NAMES[3:], running, ["data", "features"], 2) == []
    assert pick(["04-validate"], ["03-cluster-compare"], done, 2) == []


def test_only_value_and_compare_may_compute_side_by_side():
    from segkit.pipeline import STEPS, concurrent_steps

    pairs = {(a, b) for a in STEPS for b in concurrent_steps(a)}
    assert pairs == {("value", "compare"), ("compare", "value")}


def test_a_changed_validation_setting_reruns_value_beside_the_readers():
    restored = ["data", "features", "compare"]  # value must be computed
    assert pick(NAMES, [], restored, 2) == [NAMES[1], NAMES[0], NAMES[2]]
    # 04 waits for value; once it is written 04 computes validate at once, even
    # with both reader kernels busy (02 drawing its charts counts as a reader)
    running = ["02-features", "01-explore", "03-cluster-compare"]
    assert pick(NAMES[3:], running, restored, 2) == []
    assert pick(NAMES[3:], running, [*restored, "value"], 2) == ["04-validate"]


def test_an_unknown_notebook_runs_alone_in_its_place():
    names = ["01-explore", "50-extra", "02-features"]
    assert pick(names, [], [], 2) == ["01-explore"]
    assert pick(names[1:], ["01-explore"], ["data"], 2) == []
    assert pick(names[1:], [], ["data"], 2) == ["50-extra"]
    assert pick(names[2:], ["50-extra"], ["data"], 2) == []


def test_nothing_startable_and_nothing_running_starts_the_first_anyway():
    # a selection such as --notebooks 04,05 on a cold run: 04 computes its inputs
    assert pick(["04-validate", "05-profiles"], [], [], 2) == ["04-validate"]
    assert pick([], [], [], 2) == []


def test_overlapping_spans():
    spans = {"a": (0.0, 2.0), "b": (1.0, 3.0), "c": (3.0, 4.0)}
    assert overlapping(spans) == ["a", "b"]
    assert overlapping({"a": (0.0, 1.0)}) == []


def test_run_notebooks_waits_for_markers_and_stops_after_a_failure(tmp_path):
    steps = tmp_path / "artifacts" / "steps"
    steps.mkdir(parents=True)
    started: list[str] = []
    lock = threading.Lock()

    def execute(name: str) -> bool:
        with lock:
            started.append(name)
        for step in notebook_inputs(name)[1]:
            time.sleep(0.05)
            (steps / f"{step}.json").write_text("{}")
        return name != "02-features"

    not_started, spans = run_notebooks(
        NAMES, execute, run_dir=tmp_path, restored=[], kernels=2
    )
    assert started == ["01-explore", "02-features"]
    assert not_started == NAMES[2:]
    assert set(spans) == {"01-explore", "02-features"}


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
    # a new validation horizon reruns value (and what reads it), not the comparison
    horizon = report_run(tmp_path, {"validation": {"horizon_days": 45}})
    assert restore_reusable(horizon.config, horizon.run_dir) == [
        "data",
        "features",
        "compare",
    ]
    assert "value" not in statuses(horizon)
    horizon.run_or_reuse("value")  # computed now, with compare already in place
    assert statuses(horizon)["value"] == "computed"
    assert statuses(horizon)["compare"] == "reused"
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

    line = "Reused, their inputs unchanged, from run 2026-12-01: data."
    assert parallel_note(line, []) == line
    text = parallel_note(line, NAMES[:3])
    assert text.startswith(line) and "Notebooks 01, 02, 03 ran side by side" in text
    assert parallel_note(None, NAMES[:2]).startswith("Notebooks 01, 02 ran side")
