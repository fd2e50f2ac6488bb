"""Run folders, the run context and the step pipeline."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pandas as pd
import pytest
import yaml

from segkit.config import missing_data_files
from segkit.context import new_run_dir, open_run
from segkit.exceptions import RunError
from segkit.pipeline import STEPS, ensure, step_done
from segkit.project import find_project_root, locate_project_root
from tests.conftest import TINY_COLUMNS, TINY_CSV


def make_project(folder: Path) -> Path:
    """A segkit project: pyproject.toml naming segkit, data/tiny.csv, a subfolder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text('[project]\nname = "segkit"\n')
    (folder / "data").mkdir(exist_ok=True)
    (folder / "data" / "tiny.csv").write_text(TINY_CSV, encoding="utf-8")
    (folder / "sub" / "deeper").mkdir(parents=True, exist_ok=True)
    return folder


def config_elsewhere(folder: Path, data_path: str) -> Path:
    """A config file outside the project, reading ``data_path``."""
    folder.mkdir(parents=True, exist_ok=True)
    body = {
        "name": "tiny",
        "transactions": {"path": data_path, "columns": dict(TINY_COLUMNS)},
        "as_of": "2021-04-02",
    }
    path = folder / "mine.yaml"
    path.write_text(yaml.safe_dump(body), encoding="utf-8")
    return path


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


def test_open_run_without_run_dir_uses_a_scratch_folder_of_the_project(
    tmp_path, monkeypatch
):
    project = make_project(tmp_path / "project")
    config = config_elsewhere(tmp_path / "elsewhere", "data/tiny.csv")
    monkeypatch.chdir(project / "sub")
    ctx = open_run(config)
    assert ctx.run_dir == (project / "scratch" / "tiny").resolve()
    assert ctx.artifacts.is_dir()


def test_project_root_is_found_from_the_current_folder(tmp_path, monkeypatch):
    project = make_project(tmp_path / "project")
    monkeypatch.chdir(project / "sub" / "deeper")
    root, how = locate_project_root()
    assert root == project.resolve()
    assert "names the segkit project" in how
    # a pyproject.toml of another project does not count; notebooks/ + segkit/ do
    other = tmp_path / "other"
    (other / "notebooks").mkdir(parents=True)
    (other / "pyproject.toml").write_text('[project]\nname = "not-segkit"\n')
    assert find_project_root(other / "notebooks") != other.resolve()
    (other / "segkit").mkdir()
    assert find_project_root(other / "notebooks") == other.resolve()


def test_outside_any_project_the_package_checkout_is_the_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root, how = locate_project_root()
    assert root == Path(__file__).resolve().parents[1]
    assert "checkout of the installed segkit package" in how


@pytest.mark.parametrize("cwd", [".", "sub", "sub/deeper"])
def test_a_config_outside_the_project_runs_from_anywhere_inside_it(
    tmp_path, monkeypatch, cwd
):
    project = make_project(tmp_path / "project")
    config = config_elsewhere(tmp_path / "elsewhere", "data/tiny.csv")
    monkeypatch.chdir(project / cwd)
    ctx = open_run(config, tmp_path / "run")
    assert ctx.config.root == str(project.resolve())
    assert ctx.config.transactions.path == str(project.resolve() / "data/tiny.csv")
    assert ctx.run_step("data")["summary"]["kept_rows"] == 5


def test_a_data_path_relative_to_the_config_folder_wins(tmp_path, monkeypatch):
    project = make_project(tmp_path / "project")
    config = config_elsewhere(tmp_path / "elsewhere", "tiny.csv")
    (config.parent / "tiny.csv").write_text(TINY_CSV, encoding="utf-8")
    (project / "tiny.csv").write_text("not,this\n", encoding="utf-8")
    monkeypatch.chdir(project)
    ctx = open_run(config, tmp_path / "run")
    assert ctx.config.transactions.path == str(config.parent.resolve() / "tiny.csv")
    assert ctx.run_step("data")["summary"]["kept_rows"] == 5


def test_a_data_file_found_nowhere_names_both_places_tried(tmp_path, monkeypatch):
    project = make_project(tmp_path / "project")
    config = config_elsewhere(tmp_path / "elsewhere", "data/absent.csv")
    monkeypatch.chdir(project)
    ctx = open_run(config, tmp_path / "run")
    (message,) = missing_data_files(ctx.config)
    assert message.startswith("config key 'transactions.path': data file ")
    assert str(config.parent.resolve() / "data/absent.csv") in message
    assert str(project.resolve() / "data/absent.csv") in message
    assert "from the config file's folder, then from the project root" in message


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
    assert STEPS == ("data", "features", "value", "compare", "validate", "profile")
