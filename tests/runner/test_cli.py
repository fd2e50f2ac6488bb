"""The command line: ``segkit report`` / ``segkit score`` and ``python -m segkit``."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import types
from pathlib import Path

import pandas as pd
import pytest
import yaml

import segkit.runner.notebooks
from segkit.config import validate_config
from segkit.exceptions import ModelError
from segkit.runner.cli import main
from tests.runner.test_notebooks import make_config, write_notebook


@pytest.fixture
def quiet_logging(monkeypatch):
    """main() configures logging for the process; keep pytest's own handlers."""
    monkeypatch.setattr(
        segkit.runner.notebooks, "configure_logging", lambda verbose=False: None
    )


def test_missing_config_exits_2_with_one_line_message(tmp_path, capsys, quiet_logging):
    code = main(["report", "--config", str(tmp_path / "nope.yaml")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("segkit: error: config file ")
    assert "not found; pass an existing YAML file" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_unknown_set_key_exits_2_and_names_the_closest_key(
    tmp_path, capsys, quiet_logging
):
    config = make_config(tmp_path)
    code = main(["report", "--config", str(config), "--set", "clustering.kmax=8"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("segkit: error: override 'clustering.kmax'")
    assert "did you mean 'k_max'" in err


def test_bad_config_content_exits_2(tmp_path, capsys, quiet_logging):
    config = tmp_path / "bad.yaml"
    config.write_text("name: x\ntransactions: {path: a.csv, columns: {}}\nsede: 1\n")
    assert main(["report", "--config", str(config)]) == 2
    assert "unknown config key 'sede'; did you mean 'seed'?" in capsys.readouterr().err


def test_invalid_yaml_error_is_printed_on_one_line(tmp_path, capsys, quiet_logging):
    config = tmp_path / "broken.yaml"
    config.write_text("name: x\n  bad: : indent\n")
    assert main(["report", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("segkit: error: config file ") and "is not valid YAML" in err
    assert err.count("\n") == 1


def test_compare_to_a_missing_folder_exits_2(tmp_path, capsys, quiet_logging):
    config = make_config(tmp_path)
    code = main(
        ["report", "--config", str(config), "--compare-to", str(tmp_path / "x")]
    )
    assert code == 2
    assert "--compare-to" in capsys.readouterr().err


def test_options_reach_the_runner(tmp_path, monkeypatch, capsys, quiet_logging):
    calls = {}

    def fake_run_report(config_path, overrides, **kwargs):
        calls.update(config_path=config_path, overrides=overrides, **kwargs)
        return segkit.runner.notebooks.RunResult(run_dir=tmp_path / "run", status="ok")

    monkeypatch.setattr(segkit.runner.notebooks, "run_report", fake_run_report)
    previous = tmp_path / "reports" / "2026-11-01"
    previous.mkdir(parents=True)
    code = main(
        [
            "report",
            "--config",
            "c.yaml",
            "--set",
            "seed=1",
            "rfm.bins=4",
            "--set",
            "as_of=2011-01-01",
            "--compare-to",
            str(previous),
            "--output-dir",
            "out",
            "--notebooks",
            "01,02",
        ]
    )
    assert code == 0
    assert calls["overrides"] == [
        "seed=1",
        "rfm.bins=4",
        "as_of=2011-01-01",
        f"profiles.compare_to={previous.resolve()}",
    ]
    assert (calls["output_dir"], calls["notebooks"]) == ("out", "01,02")
    assert capsys.readouterr().out.splitlines()[-1] == str(tmp_path / "run")


def test_missing_required_option_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["report"])
    assert exc.value.code == 2
    assert "--config" in capsys.readouterr().err


def test_score_calls_score_file_and_prints_the_output(tmp_path, monkeypatch, capsys):
    seen = {}

    def score_file(model_path, input_path, out_path, config_path=None, as_of=None):
        seen.update(
            model=model_path,
            input=input_path,
            out=out_path,
            config=config_path,
            as_of=as_of,
        )
        return pd.DataFrame({"segment": [0, 1, 1]})

    monkeypatch.setitem(
        sys.modules, "segkit.scoring", types.SimpleNamespace(score_file=score_file)
    )
    args = ["score", "--model", "m.joblib", "--input", "new.csv", "--out", "o.csv"]
    code = main([*args, "--as-of", "2012-03-01"])
    assert code == 0
    assert seen == {
        "model": "m.joblib",
        "input": "new.csv",
        "out": "o.csv",
        "config": None,
        "as_of": "2012-03-01",
    }
    assert capsys.readouterr().out.splitlines() == ["scored 3 customers", "o.csv"]


def test_score_errors_exit_2_without_traceback(monkeypatch, capsys):
    def score_file(*args, **kwargs):
        raise ModelError("model 'm.joblib' was saved by segkit 9.9; refit it")

    monkeypatch.setitem(
        sys.modules, "segkit.scoring", types.SimpleNamespace(score_file=score_file)
    )
    code = main(["score", "--model", "m.joblib", "--input", "a.csv", "--out", "o.csv"])
    assert code == 2
    assert capsys.readouterr().err == (
        "segkit: error: model 'm.joblib' was saved by segkit 9.9; refit it\n"
    )


def test_python_m_segkit_exits_1_on_a_failed_notebook_and_prints_the_run_last(tmp_path):
    config = make_config(tmp_path)
    nbs = tmp_path / "nbs"
    write_notebook(nbs / "01-ok.ipynb", ("code", "x = 1"))
    write_notebook(nbs / "02-bad.ipynb", ("code", "raise KeyError('boom')"))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "segkit",
            "report",
            "--config",
            str(config),
            "--notebooks-dir",
            str(nbs),
            "--output-dir",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 1
    assert lines[0].startswith("[ok] 01-ok ")
    assert lines[1].startswith("[failed] 02-bad ") and "KeyError" in lines[1]
    run_dir = Path(lines[-1])
    assert run_dir.parent == tmp_path / "r" and (run_dir / "index.html").exists()
    assert "segkit: 1 notebook(s) failed: 02-bad" in done.stderr
    assert "Traceback" not in done.stderr and "WARNING" not in done.stderr


def test_config_show_prints_the_effective_config_with_defaults(tmp_path, capsys):
    config = make_config(tmp_path)
    code = main(["config", "show", "--config", str(config), "--set", "rfm.bins=4"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith(f"# effective config of {config.resolve()}\n")
    assert '# overrides: {"rfm.bins": 4}' in out
    body = yaml.safe_load(out)
    assert body["rfm"] == {"bins": 4, "scheme": "ten"}
    assert body["validation"]["alpha"] == 0.05  # a default the file never set
    assert body["as_of"] == dt.date(2021, 4, 2)
    assert body["transactions"]["path"] == str((tmp_path / "tiny.csv").resolve())
    assert not {"root", "config_path", "overrides"} & set(body)
    # what it prints is itself a valid config
    assert validate_config(body).to_dict()["rfm"]["bins"] == 4


def test_config_show_of_a_bad_config_prints_one_line_per_problem(tmp_path, capsys):
    config = make_config(
        tmp_path, validation={"alpha": 7}, clustering={"algorithms": ["kmenas"]}
    )
    assert main(["config", "show", "--config", str(config)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("segkit: error: config file ")
    assert lines[0].endswith("has 2 problems:")
    assert lines[1:] == [
        "  - config key 'clustering.algorithms[0]' is 'kmenas'; use one of "
        "['kmeans', 'minibatch_kmeans', 'gmm', 'ward', 'hdbscan']; did you mean "
        "'kmeans'?",
        "  - config key 'validation.alpha' is 7; use a number > 0 and < 1",
    ]


def test_config_schema_prints_the_json_schema(capsys):
    assert main(["config", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "segkit config"
    k_max = schema["$defs"]["ClusteringSettings"]["properties"]["k_max"]
    assert (k_max["type"], k_max["minimum"], k_max["default"]) == ("integer", 2, 10)


def test_a_failed_notebook_shows_its_segkit_error_in_the_terminal(
    tmp_path, capsys, quiet_logging
):
    config = make_config(tmp_path)
    nbs = tmp_path / "nbs"
    write_notebook(
        nbs / "01-explore.ipynb",
        (
            "code",
            "from segkit.exceptions import DataError\n"
            "raise DataError('no transactions are left after cleaning; check the "
            "cleaning rules')",
        ),
    )
    args = ["report", "--config", str(config), "--notebooks-dir", str(nbs)]
    code = main([*args, "--output-dir", str(tmp_path / "r")])
    captured = capsys.readouterr()
    run_dir = Path(captured.out.splitlines()[-1])
    assert code == 1
    assert captured.err.splitlines() == [
        f"segkit: 1 notebook(s) failed: 01-explore; see {run_dir / 'index.html'}",
        "segkit: 01-explore: DataError: no transactions are left after cleaning; "
        "check the cleaning rules",
    ]


def test_the_command_line_module_imports_nothing_heavy():
    code = (
        "import sys, segkit.runner.cli; heavy = [m for m in ('pandas', 'papermill', "
        "'pydantic', 'yaml', 'sklearn', 'segkit.config', 'segkit.context') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == ""
