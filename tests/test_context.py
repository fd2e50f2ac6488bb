"""Run folders, the run context and the step pipeline."""

from __future__ import annotations

import datetime as dt
import threading

import pandas as pd
import pytest

from segkit.context import new_run_dir, open_run
from segkit.exceptions import RunError
from segkit.pipeline import STEPS, ensure, step_done


def test_second_run_the_same_day_gets_a_numbered_folder(tmp_path):
    day = dt.date(2026, 11, 23)
    first = new_run_dir(tmp_path, day)
    second = new_run_dir(tmp_path, day)
    assert (first.name, second.name) == ("2026-11-23", "2026-11-23-2")


def test_concurrent_runs_never_share_a_folder(tmp_path):
    made: list = []
    threads = [
        threading.Thread(target=lambda: made.append(new_run_dir(tmp_path)))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(made)) == 8


def test_open_run_without_run_dir_uses_a_scratch_folder(tiny_config):
    ctx = open_run(tiny_config)
    assert ctx.run_dir == (tiny_config.parent / "scratch" / "tiny").resolve()
    assert ctx.artifacts.is_dir()


def test_frames_round_trip_through_artifacts(tiny_config, tmp_path):
    ctx = open_run(tiny_config, tmp_path / "run")
    frame = pd.DataFrame({"a": [1, 2]}, index=pd.Index(["x", "y"], name="customer_id"))
    ctx.save_frame("f.parquet", frame)
    pd.testing.assert_frame_equal(ctx.load_frame("f.parquet"), frame)
    ctx.save_json("j.json", {"day": dt.date(2021, 1, 1), "n": 3})
    assert ctx.load_json("j.json") == {"day": "2021-01-01", "n": 3}


def test_missing_artifact_says_which_notebook_to_run(tiny_config, tmp_path):
    ctx = open_run(tiny_config, tmp_path / "run")
    with pytest.raises(
        RunError, match=r"artifact 'features.parquet' not found .*run the notebook"
    ):
        ctx.load_frame("features.parquet")


def test_unknown_step_is_refused(tiny_config, tmp_path):
    ctx = open_run(tiny_config, tmp_path / "run")
    with pytest.raises(
        RunError, match=r"unknown step 'feature'; the steps are data, features"
    ):
        ensure(ctx, "feature")


def test_data_step_writes_its_artifacts_once(tiny_config, tmp_path):
    ctx = open_run(tiny_config, tmp_path / "run")
    record = ctx.run_step("data")
    assert record["summary"]["kept_rows"] == 5
    assert step_done(ctx, "data")
    for name in (
        "transactions.parquet",
        "returns.parquet",
        "ledger.csv",
        "quality.csv",
        "sufficiency.csv",
        "data_summary.json",
        "pii.json",
        "duplicates.json",
    ):
        assert ctx.has(name), name
    stamp = ctx.artifact("ledger.csv").stat().st_mtime_ns
    ensure(ctx, "data")  # already done: nothing is rewritten
    assert ctx.artifact("ledger.csv").stat().st_mtime_ns == stamp
    summary = ctx.load_json("data_summary.json")
    assert (summary["raw_rows"], summary["invoices"], summary["customers"]) == (
        10,
        8,
        3,
    )
    assert summary["as_of"] == "2021-04-02"
    assert len(summary["sha256"]) == 64


def test_steps_are_in_notebook_order():
    assert STEPS == ("data", "features", "compare", "validate", "profile")
