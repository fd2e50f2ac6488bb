"""Step reuse: fingerprints, the private step cache and what a rerun reuses.

The slow tests run the pipeline on tests/fixtures/retail_small.yaml in report-style
run folders (a ``manifest.json`` makes a folder a report run, the only kind that
uses the cache) under ``tmp/reports/``, so the cache is ``tmp/exports/.cache``.
"""

from __future__ import annotations

import fnmatch
import importlib
import json
from pathlib import Path

import pytest

from segkit import memo, reuse
from segkit.config import Config, load_config
from segkit.config_base import Section
from segkit.context import RunContext, new_run_dir, open_run
from segkit.pipeline import (
    STEP_DEPENDS,
    STEP_MODULES,
    STEP_SECTIONS,
    STEPS,
    step_fingerprint,
    step_records,
)

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "tests" / "fixtures" / "retail_small.yaml"


def report_run(out: Path, overrides=None) -> RunContext:
    """A run folder as ``segkit report`` makes it (with a manifest) under ``out``."""
    run = new_run_dir(out / "reports")
    (run / "manifest.json").write_text("{}", encoding="utf-8")
    return open_run(SMALL, run, overrides)


def statuses(ctx: RunContext) -> dict[str, str]:
    return {k: v["status"] for k, v in step_records(ctx.run_dir).items()}


# ---------------------------------------------------------------- fast unit tests


def test_fingerprint_changes_only_for_the_steps_that_read_a_key(tmp_path):
    base = load_config(SMALL)
    changed = load_config(SMALL, ["clustering.k_max=5"])
    same = {
        s for s in STEPS if step_fingerprint(base, s) == step_fingerprint(changed, s)
    }
    assert same == {"data", "features", "value"}


def test_value_settings_enter_the_features_only_when_clv_is_a_feature():
    def same_features(*extra):
        a = load_config(SMALL, list(extra))
        b = load_config(SMALL, [*extra, "value.clv_months=6", "seed=7"])
        return step_fingerprint(a, "features") == step_fingerprint(b, "features")

    assert same_features()
    assert not same_features("value.as_features=true")


def test_fingerprint_follows_the_data_bytes_and_the_code(tmp_path, monkeypatch):
    data = tmp_path / "tx.csv"
    data.write_text("a,b\n1,2\n", encoding="utf-8")
    config = {"transactions": {"path": str(data)}}
    first = reuse.data_checksums(config)
    data.write_text("a,b\n1,3\n", encoding="utf-8")
    assert reuse.data_checksums(config) != first
    base = load_config(SMALL)
    before = step_fingerprint(base, "data")
    monkeypatch.setattr(reuse, "code_fingerprint", lambda: "edited checkout")
    assert step_fingerprint(base, "data") != before


def test_only_report_run_folders_use_the_cache_and_fresh_turns_reading_off(
    tmp_path, monkeypatch
):
    run = tmp_path / "reports" / "r1"
    run.mkdir(parents=True)
    assert not reuse.cache_enabled(run, "data")  # no manifest: scratch or test folder
    (run / "manifest.json").write_text("{}")
    assert reuse.reuse_allowed(run, "data")
    assert not reuse.cache_enabled(run, "profile")
    monkeypatch.setenv(reuse.FRESH_ENV, "1")
    assert not reuse.reuse_allowed(run, "data")
    assert reuse.cache_enabled(run, "data")  # a fresh run still refreshes the cache
    assert reuse.cache_dir(run) == (tmp_path / "exports" / ".cache").resolve()


def _fake_run(tmp_path: Path, name: str, content: str) -> Path:
    run = tmp_path / "reports" / name
    (run / "artifacts" / "sub").mkdir(parents=True)
    (run / "artifacts" / "sub" / "a.csv").write_text(content, encoding="utf-8")
    return run


def test_cache_keeps_a_copy_and_the_newest_entries_by_use(tmp_path):
    n = reuse.KEEP + 2
    for i in range(n):
        run = _fake_run(tmp_path, f"r{i}", f"customer_id\n{i}\n")
        record = {"fingerprint": f"fp{i}", "files": ["sub/a.csv"], "seconds": i}
        assert reuse.store(run, "data", record) is not None
        if i == reuse.KEEP - 1:  # the cache is full: fp0 is used again
            first = reuse.lookup(run, "data", "fp0")
            reuse.restore(_fake_run(tmp_path, "use0", ""), "data", first)
    kept = {p.name for p in (reuse.cache_dir(run) / "data").iterdir()}
    # the two least recently used go (fp1, fp2); fp0 stays because it was restored
    assert kept == {"fp0", *(f"fp{i}" for i in range(3, n))}
    assert len(kept) == reuse.KEEP
    # the run folder's file is rewritten in place (as write_exports does): the
    # cached copy keeps what the step wrote
    (run / "artifacts" / "sub" / "a.csv").write_text("customer_id\nXX\n")
    last = n - 1
    cached = reuse.lookup(run, "data", f"fp{last}")
    target = _fake_run(tmp_path, "new", "stale")
    assert reuse.restore(target, "data", cached) == ["sub/a.csv"]
    assert (target / "artifacts/sub/a.csv").read_text() == f"customer_id\n{last}\n"


def test_changed_files_lists_new_rewritten_and_removed_files():
    before = {"a": (1, 1), "b": (1, 1), "c": (1, 1)}
    after = {"a": (1, 1), "b": (2, 5), "d": (1, 1)}
    assert reuse.changed_files(before, after) == (["b", "d"], ["c"])


# ------------------------------------------- STEP_SECTIONS / STEP_DEPENDS complete

READ: set[str] = set()
PICKLED: set[str] = set()
ARTIFACTS: set[str] = set()
_RECORDING: dict = {}


def _rebuild(cls, values):
    """Unpickle a recording config as its plain class (model.config_ is pickled)."""
    return cls.model_construct(**values)


def _recording(cls: type, prefix: str) -> type:
    """A subclass of a config model that records each field read (``sec.key``)."""
    if (cls, prefix) in _RECORDING:
        return _RECORDING[cls, prefix]
    fields = set(cls.model_fields)

    def name_of(field: str) -> str:
        return f"{prefix}.{field}" if prefix else field

    def __getattribute__(self, name):
        if name in fields:
            READ.add(name_of(name))
        return cls.__getattribute__(self, name)

    def model_dump(self, *args, **kwargs):
        READ.update(name_of(f) for f in fields)
        return cls.model_dump(self, *args, **kwargs)

    def __reduce_ex__(self, protocol):
        PICKLED.add(prefix or "<config>")
        return (_rebuild, (cls, {k: cls.__getattribute__(self, k) for k in fields}))

    made = type(
        "Recording" + cls.__name__,
        (cls,),
        {
            "__getattribute__": __getattribute__,
            "model_dump": model_dump,
            "__reduce_ex__": __reduce_ex__,
        },
    )
    _RECORDING[cls, prefix] = made
    return made


class RecordingContext(RunContext):
    def artifact(self, name: str) -> Path:
        ARTIFACTS.add(name)
        return super().artifact(name)


def _covered(key: str, declared: tuple[str, ...]) -> bool:
    """``sec.key`` is covered by ``sec`` or itself; a bare ``sec`` (a presence
    check or a hand-over) by any declared key of that section."""
    head = key.split(".")[0]
    if "." in key:
        return key in declared or head in declared
    return any(d == key or d.startswith(key + ".") for d in declared)


@pytest.mark.slow
def test_step_sections_and_depends_list_everything_each_step_reads(tmp_path):
    base = load_config(SMALL)
    values = {}
    for name in Config.model_fields:
        value = getattr(base, name)
        if isinstance(value, Section):
            kind = _recording(type(value), name)
            value = kind.model_construct(
                **{k: getattr(value, k) for k in type(value).model_fields}
            )
        values[name] = value
    config = _recording(Config, "").model_construct(**values)
    ctx = RecordingContext(config=config, run_dir=tmp_path / "run")
    made_by: dict[str, str] = {}
    for step in STEPS:
        module = importlib.import_module(STEP_MODULES[step])
        before = reuse.snapshot(ctx.artifacts)
        READ.clear(), PICKLED.clear(), ARTIFACTS.clear()
        module.run(ctx)
        missing = sorted(k for k in READ if not _covered(k, STEP_SECTIONS[step]))
        assert missing == [], f"STEP_SECTIONS[{step!r}] lacks {missing}"
        # compare pickles the whole config into model.joblib (model.config_); that
        # is the documented exception (docs/architecture.md, the pipeline part)
        assert not PICKLED or step == "compare", f"{step} pickles the config"
        earlier = {made_by[a] for a in ARTIFACTS if made_by.get(a, step) != step}
        assert earlier <= set(STEP_DEPENDS[step]), (step, earlier)
        changed, _ = reuse.changed_files(before, reuse.snapshot(ctx.artifacts))
        made_by.update({rel: step for rel in changed if rel not in made_by})


def test_the_recording_check_fails_on_an_undeclared_key():
    assert not _covered("validation.bootstrap", STEP_SECTIONS["value"])
    assert _covered("validation.horizon_days", STEP_SECTIONS["value"])
    assert _covered("validation", STEP_SECTIONS["value"])
    assert not _covered("profiles", STEP_SECTIONS["compare"])


# ------------------------------------------------------------ reruns on a fixture


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Computed run, reused run, fresh run (in that order), all of the same config."""
    out = tmp_path_factory.mktemp("reuse")
    computed = report_run(out)
    computed.ensure("profile")
    reused = report_run(out)
    reused.ensure("profile")
    fresh = report_run(out)
    monkey = pytest.MonkeyPatch()
    monkey.setenv(reuse.FRESH_ENV, "1")
    try:
        fresh.ensure("profile")
    finally:
        monkey.undo()
    return out, computed, reused, fresh


def _reused_files(ctx: RunContext) -> list[str]:
    files: list[str] = []
    for step in STEPS:
        marker = json.loads((ctx.artifacts / "steps" / f"{step}.json").read_text())
        if marker["reused_from"]:
            files += marker["files"]
    return files


@pytest.mark.slow
def test_a_rerun_reuses_every_step_but_profile_and_fresh_reuses_none(runs):
    _, computed, reused, fresh = runs
    assert set(statuses(computed).values()) == {"computed"}
    assert statuses(reused) == {
        **dict.fromkeys(STEPS, "reused"),
        "profile": "computed",
    }
    assert set(statuses(fresh).values()) == {"computed"}
    marker = json.loads((reused.artifacts / "steps" / "compare.json").read_text())
    assert marker["reused_from"]["run_id"] == computed.run_dir.name
    assert marker["reused_from"]["seconds"] > marker["seconds"]
    assert "model.joblib" in marker["files"] and "labels.parquet" in marker["files"]


@pytest.mark.slow
def test_reused_artifacts_are_exact_copies_of_the_computed_ones(runs):
    _, computed, reused, _ = runs
    files = _reused_files(reused)
    assert "features.parquet" in files
    # profile rewrites model.joblib after compare; compare's own version is cached
    files = [f for f in files if f != "model.joblib"]
    differ = [
        f
        for f in files
        if (reused.artifacts / f).read_bytes() != (computed.artifacts / f).read_bytes()
    ]
    assert differ == []


@pytest.mark.slow
def test_reused_artifacts_are_byte_identical_to_a_fresh_recompute(runs):
    """Every artifact but measured seconds (``timings/``) and the netCDF CLV models
    (HDF5 writes creation metadata; their predictions are checked in
    tests/features/test_value_features.py) is a pure function of the inputs."""
    _, _, reused, fresh = runs
    files = [
        f
        for f in _reused_files(reused)
        if not f.startswith("timings/") and not f.endswith(".nc")
    ]
    assert "model.joblib" in files and "comparison.csv" in files
    differ = [
        f
        for f in files
        if (reused.artifacts / f).read_bytes() != (fresh.artifacts / f).read_bytes()
    ]
    assert differ == []


@pytest.mark.slow
def test_changing_the_validation_horizon_reruns_validate_and_profile_only(runs):
    out, *_ = runs
    shorter = report_run(out, ["validation.horizon_days=60"])
    shorter.ensure("profile")
    assert statuses(shorter) == {
        "data": "reused",
        "features": "reused",
        # value's holdout horizon is validation.horizon_days while
        # value.horizon_days is null (STEP_SECTIONS["value"])
        "value": "computed",
        "compare": "reused",
        "validate": "computed",
        "profile": "computed",
    }
    pinned = ["value.horizon_days=90"]
    first = report_run(out, pinned)
    first.ensure("value")
    second = report_run(out, [*pinned, "validation.horizon_days=45"])
    second.ensure("profile")
    assert statuses(second) == {
        "data": "reused",
        "features": "reused",
        "value": "reused",
        "compare": "reused",
        "validate": "computed",
        "profile": "computed",
    }


@pytest.mark.slow
def test_a_new_ci_level_reads_the_costly_parts_back_and_equals_a_fresh_validate(
    runs, monkeypatch
):
    out, *_ = runs
    rerun = report_run(out, ["validation.ci_level=0.8"])
    stored = memo.folder()
    assert stored is not None and stored.is_dir()
    before = sorted(p.parent.name for p in stored.rglob("output.pkl"))
    rerun.ensure("validate")
    assert statuses(rerun)["validate"] == "computed"
    # stability, prediction strength and the held-out draws were all read back:
    # nothing new was stored
    assert sorted(p.parent.name for p in stored.rglob("output.pkl")) == before
    from_memo = (rerun.artifacts / "validation.json").read_bytes()
    assert b'"ci_level": 0.8' in from_memo
    monkeypatch.setenv(reuse.FRESH_ENV, "1")
    rerun.run_step("validate")
    assert (rerun.artifacts / "validation.json").read_bytes() == from_memo
    # the profile step's rebuild at t0 is read back too (same t0, same model) and
    # gives what a fresh one gives
    monkeypatch.delenv(reuse.FRESH_ENV)
    rerun.run_step("profile")
    assert sorted(p.parent.name for p in stored.rglob("output.pkl")) == before
    within = rerun.load_json("evolution.json")["within_run"]
    assert within is not None and within["t0"]
    monkeypatch.setenv(reuse.FRESH_ENV, "1")
    rerun.run_step("profile")
    assert rerun.load_json("evolution.json")["within_run"] == within
    for table in ("stability.csv", "prediction_strength.csv", "outcome_heldout.csv"):
        assert (rerun.artifacts / table).is_file()


# ------------------------------------------------- runner: --fresh, manifest, index


def test_cli_fresh_reaches_run_report(tmp_path, monkeypatch):
    import segkit.runner.notebooks as notebooks
    from segkit.runner.cli import main

    seen = {}

    class Done:
        run_dir = tmp_path
        exit_code = 0

        def failure_lines(self):
            return []

    def fake(config, overrides, **kwargs):
        seen.update(kwargs)
        return Done()

    monkeypatch.setattr(notebooks, "run_report", fake)
    monkeypatch.setattr(notebooks, "configure_logging", lambda verbose=False: None)
    assert main(["report", "--config", "x.yaml", "--fresh"]) == 0
    assert seen["fresh"] is True
    assert main(["report", "--config", "x.yaml"]) == 0
    assert seen["fresh"] is False


@pytest.mark.slow
def test_run_report_fresh_sets_the_kernel_environment_and_records_steps(tmp_path):
    from segkit.runner.notebooks import run_report
    from tests.runner.test_notebooks import make_config, write_notebook

    nbs = tmp_path / "nbs"
    write_notebook(
        nbs / "01-env.ipynb",
        (
            "code",
            "import os, pathlib\n(pathlib.Path(run_dir) / 'artifacts' / 'env.txt')"
            ".write_text(os.environ.get('SEGKIT_FRESH', ''))",
        ),
    )
    config = make_config(tmp_path)
    result = run_report(
        config, notebooks_dir=nbs, output_dir=tmp_path / "reports", fresh=True
    )
    assert result.ok, result.failure_lines()
    assert (result.run_dir / "artifacts" / "env.txt").read_text() == "1"
    assert result.manifest["fresh"] is True and result.manifest["steps"] == {}
    assert reuse.FRESH_ENV not in __import__("os").environ


def test_reuse_sentence_names_the_reused_steps_and_their_run():
    from segkit.runner.summary import reuse_sentence

    steps = {
        "data": {"status": "reused", "reused_from": "2026-12-01"},
        "compare": {"status": "reused", "reused_from": "2026-12-01"},
        "validate": {"status": "computed", "reused_from": None},
    }
    assert reuse_sentence(steps) == (
        "Reused, their inputs unchanged, from run 2026-12-01: data, compare; "
        "computed now: validate. segkit report --fresh recomputes all."
    )
    assert reuse_sentence({"data": {"status": "computed"}}) is None
    assert reuse_sentence(None) is None


def test_build_summary_carries_the_reuse_line(tmp_path):
    from segkit.runner.summary import build_summary

    (tmp_path / "artifacts").mkdir()
    manifest = {"steps": {"data": {"status": "reused", "reused_from": "r1"}}}
    assert build_summary(tmp_path, manifest)["reuse"].startswith(
        "Reused, their inputs unchanged, from run r1"
    )


@pytest.mark.slow
def test_a_notebooks_own_step_is_reused_in_a_report_run_and_run_in_scratch(
    runs, tmp_path
):
    """Each notebook calls ``ctx.run_or_reuse(<its step>)``: a warm report run must
    copy it (not recompute it), while a scratch folder recomputes it every time."""
    out, computed, *_ = runs
    warm = report_run(out)
    record = warm.run_or_reuse("compare")
    assert record["reused_from"]["run_id"]
    assert statuses(warm)["compare"] == "reused"
    assert statuses(warm)["data"] == "reused"  # earlier steps via ensure
    scratch = open_run(SMALL, tmp_path / "scratch")  # no manifest: never reused
    assert scratch.run_or_reuse("data")["reused_from"] is None


def test_value_and_compare_computing_side_by_side_keep_only_their_own_files():
    from segkit.pipeline import _own_files, concurrent_steps

    assert concurrent_steps("compare") == ("value",)
    assert concurrent_steps("value") == ("compare",)
    assert concurrent_steps("validate") == () and concurrent_steps("data") == ()
    seen = ["comparison.csv", "values.parquet", "clv_spend.nc", "new.csv"]
    # a file nobody declares stays with the step that saw it, as before
    assert _own_files("compare", seen) == ["comparison.csv", "new.csv"]
    assert _own_files("value", ["model.joblib", "values.parquet", "value.json"]) == [
        "values.parquet",
        "value.json",
    ]
    # profile rewrites model.joblib after compare: not a concurrent step, kept
    assert _own_files("profile", ["model.joblib"]) == ["model.joblib"]


@pytest.mark.slow
def test_the_declared_outputs_cover_every_file_value_and_compare_write(runs):
    from segkit.pipeline import STEP_OUTPUTS

    _, computed, _, _ = runs
    for step, patterns in STEP_OUTPUTS.items():
        marker = json.loads((computed.artifacts / "steps" / f"{step}.json").read_text())
        assert marker["files"]
        stray = [
            f
            for f in marker["files"]
            if not any(fnmatch.fnmatchcase(f, p) for p in patterns)
        ]
        assert stray == [], f"{step} writes {stray}: add them to STEP_OUTPUTS"
