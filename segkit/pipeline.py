"""The order of the analysis steps and the artifacts each one leaves in a run folder.

Each step lives in its stage's ``step`` module (see :data:`STEP_MODULES`) as a
function ``run(ctx)`` that reads the artifacts of earlier steps through the
:class:`~segkit.context.RunContext` and writes its own. A step is done when its marker ``artifacts/steps/<name>.json`` exists; the
marker holds the step's seconds, a short summary, its fingerprint, the files it
created or changed under ``artifacts/`` and, when it was reused, where from.

Reuse: :func:`ensure` copies a step's artifacts from the private step cache
(:mod:`segkit.reuse`) instead of running it when its fingerprint -- code, data
checksums, the config keys in :data:`STEP_SECTIONS` and the fingerprints of the
steps in :data:`STEP_DEPENDS` -- matches an earlier computation. Reuse happens in
report run folders only and never with ``SEGKIT_FRESH=1`` (``segkit report
--fresh``); ``profile`` is always computed (:data:`segkit.reuse.NEVER_REUSED`).

=========  ==============================  ======================================
step       notebook                        main artifacts
=========  ==============================  ======================================
data       01-explore                      transactions.parquet, returns.parquet,
                                           customers.parquet, ledger.csv, quality.csv
features   02-features                     features.parquet, rfm.parquet,
                                           matrix.parquet, preprocessor.joblib
value      02-features (shown in 04, 05)   values.parquet, clv_holdout.csv,
                                           value.json
compare    03-cluster-compare              comparison.csv, model.joblib,
                                           labels.parquet, embedding.parquet
validate   04-validate                     validation.json (+ CSV tables)
profile    05-profiles                     assignments.csv, segments.json
=========  ==============================  ======================================
"""

from __future__ import annotations

import fnmatch
import importlib
import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segkit import reuse
from segkit.exceptions import RunError

if TYPE_CHECKING:
    from segkit.context import RunContext

__all__ = [
    "run_or_reuse",
    "STEPS",
    "STEP_MODULES",
    "STEP_SECTIONS",
    "STEP_DEPENDS",
    "STEP_OUTPUTS",
    "concurrent_steps",
    "ensure",
    "reuse_step",
    "run_step",
    "step_done",
    "step_fingerprint",
    "step_records",
]

logger = logging.getLogger(__name__)

#: Steps in order; each depends on every step before it.
STEPS = ("data", "features", "value", "compare", "validate", "profile")

#: Step -> the module holding its ``run(ctx)``, named as a string and imported only
#: when the step runs, so this module (which RunContext uses) depends on no stage.
STEP_MODULES = {
    "data": "segkit.data.step",
    "features": "segkit.features.step",
    "value": "segkit.features.value_step",
    "compare": "segkit.clustering.step",
    "validate": "segkit.validation.step",
    "profile": "segkit.profiles.step",
}


#: Step -> the config it reads: top-level keys, sections or dotted keys, found by
#: reading each step's code and proved complete by tests/test_reuse.py (which runs
#: every step with a config that records what is read). The resolved values enter
#: the step's fingerprint. Notes: ``value`` reads ``validation.horizon_days`` (its
#: holdout horizon when ``value.horizon_days`` is null), so changing it reruns the
#: value step; ``transactions``/``customers`` include the file paths (their bytes
#: enter every fingerprint as checksums); ``compare`` also pickles the whole config
#: into ``model.joblib`` (``model.config_``) -- see the architecture notes.
STEP_SECTIONS: dict[str, tuple[str, ...]] = {
    "data": (
        "name",
        "as_of",
        "transactions",
        "customers",
        "cleaning",
        "quality",
        "engine",
    ),
    "features": (
        "as_of",
        "transactions",
        "customers",
        "features",
        "rfm",
        "preprocess",
        "lifecycle",
        "value.as_features",
        "seed",
        "value",
        "validation.horizon_days",
        "engine",
    ),
    "value": ("seed", "transactions", "value", "validation.horizon_days"),
    "compare": ("as_of", "seed", "clustering", "value.as_features", "engine"),
    "validate": (
        "as_of",
        "seed",
        "transactions",
        "customers",
        "features",
        "rfm",
        "preprocess",
        "lifecycle",
        "clustering",
        "validation",
        "value.as_features",
        "report.labels",  # segment names use the display names (glossary)
    ),
    "profile": (
        "name",
        "config_path",
        "seed",
        "customers",
        "features",
        "rfm",
        "preprocess",
        "lifecycle",
        "clustering",
        "validation",
        "value.as_features",
        "profiles",
        "report.labels",
    ),
}

#: (step, key) -> the key that, when not null, replaces ``key`` for that step: the
#: value step falls back on ``validation.horizon_days`` only while
#: ``value.horizon_days`` is null, so a pinned value horizon keeps the value step
#: reusable when the validation horizon changes.
FALLBACK_KEYS: dict[tuple[str, str], str] = {
    ("value", "validation.horizon_days"): "value.horizon_days",
}

#: (step, key) -> the switch without which the step does not read ``key``: the
#: features step fits CLV (and so reads the value settings, the seed and the
#: horizon) only with ``value.as_features``; otherwise a change there must not
#: rerun the features and everything after them.
ONLY_WITH: dict[tuple[str, str], str] = {
    ("features", "seed"): "value.as_features",
    ("features", "value"): "value.as_features",
    ("features", "validation.horizon_days"): "value.as_features",
}

#: Step -> the earlier steps whose artifacts it reads (their fingerprints enter its
#: own). ``compare`` reads only the data and features artifacts, so a rerun of the
#: value step does not invalidate the comparison.
STEP_DEPENDS: dict[str, tuple[str, ...]] = {
    "data": (),
    "features": ("data",),
    "value": ("data", "features"),
    "compare": ("data", "features"),
    "validate": ("data", "features", "value", "compare"),
    "profile": ("data", "features", "value", "compare", "validate"),
}


#: Step -> the artifacts it writes (glob patterns under ``artifacts/``), for the
#: steps that may compute at the same moment in one run folder: ``value`` and
#: ``compare`` read neither each other nor anything the other writes, so the report
#: runner computes them side by side (:mod:`segkit.runner.schedule`). A step's
#: marker lists the files that changed while it ran; those another running step
#: declares here are that step's, not its own (:func:`concurrent_steps`).
#: tests/test_reuse.py proves the patterns cover every file the two write.
STEP_OUTPUTS: dict[str, tuple[str, ...]] = {
    "value": ("value.json", "values.parquet", "values_t0.parquet", "clv_*"),
    "compare": (
        "comparison.csv",
        "comparison_sizes.csv",
        "embedding.parquet",
        "finalists.csv",
        "labels.parquet",
        "model.joblib",
        "null_reference.csv",
        "recommendation.json",
        "timings/compare.json",
        "timings/comparison.csv",
    ),
}


def _ancestors(step: str) -> set[str]:
    found: set[str] = set()
    for earlier in STEP_DEPENDS[step]:
        found |= {earlier, *_ancestors(earlier)}
    return found


def concurrent_steps(step: str) -> tuple[str, ...]:
    """The steps that may compute while ``step`` does: neither reads the other
    (directly or through another step) and both declare :data:`STEP_OUTPUTS`."""
    _check(step)
    if step not in STEP_OUTPUTS:
        return ()
    return tuple(
        other
        for other in STEP_OUTPUTS
        if other != step
        and other not in _ancestors(step)
        and step not in _ancestors(other)
    )


def _own_files(step: str, names: list[str]) -> list[str]:
    """``names`` without the files a step running beside ``step`` writes."""
    others = [
        pattern for other in concurrent_steps(step) for pattern in STEP_OUTPUTS[other]
    ]
    return [n for n in names if not any(fnmatch.fnmatchcase(n, p) for p in others)]


def step_fingerprint(config: Mapping[str, Any], step: str) -> str:
    """The fingerprint of ``step`` under ``config`` (see :mod:`segkit.reuse`).

    Parameters
    ----------
    config : Config
        The validated config.
    step : str
        One of :data:`STEPS`.

    Returns
    -------
    str
        SHA-256 (hex) of the step name, segkit's code and library versions, the
        data files' checksums, the values of the step's :data:`STEP_SECTIONS` and
        the fingerprints of its :data:`STEP_DEPENDS`.
    """
    _check(step)
    parts = {
        "step": step,
        "code": reuse.code_fingerprint(),
        "data": reuse.data_checksums(config),
        "config": {k: _config_part(config, step, k) for k in STEP_SECTIONS[step]},
        "depends": {d: step_fingerprint(config, d) for d in STEP_DEPENDS[step]},
    }
    return reuse.fingerprint_of(parts)


def _config_part(config: Mapping[str, Any], step: str, key: str) -> Any:
    switch = ONLY_WITH.get((step, key))
    if switch is not None and not reuse.config_value(config, switch):
        return f"unused: {switch} is off"
    override = FALLBACK_KEYS.get((step, key))
    if override is not None and reuse.config_value(config, override) is not None:
        return f"unused: {override} is set"
    return reuse.config_value(config, key)


def step_records(run_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Per step of a run folder: fingerprint, ``computed`` or ``reused``, from which
    run, and seconds (for the manifest); steps without a marker are left out."""
    out: dict[str, dict[str, Any]] = {}
    folder = Path(run_dir) / "artifacts" / "steps"
    for step in STEPS:
        try:
            record = json.loads((folder / f"{step}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        source = record.get("reused_from") or {}
        out[step] = {
            "fingerprint": record.get("fingerprint"),
            "status": "reused" if source else "computed",
            "reused_from": source.get("run_id"),
            "seconds": record.get("seconds"),
            "computed_seconds": source.get("seconds", record.get("seconds")),
        }
    return out


def _marker(ctx: RunContext, step: str):
    folder = ctx.artifacts / "steps"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{step}.json"


def step_done(ctx: RunContext, step: str) -> bool:
    """True when ``step`` has already written its artifacts in this run folder."""
    return _marker(ctx, step).exists()


def _check(step: str) -> None:
    if step not in STEPS:
        raise RunError(f"unknown step {step!r}; the steps are {', '.join(STEPS)}")


def _write_marker(ctx: RunContext, step: str, record: Mapping[str, Any]) -> None:
    # Written whole, then renamed: the report runner starts the notebooks that
    # read a step when its marker appears (segkit.runner.schedule).
    marker = _marker(ctx, step)
    partial = marker.with_name(f".{marker.name}.partial")
    partial.write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    partial.replace(marker)


def run_step(ctx: RunContext, step: str) -> dict:
    """Run ``step`` now (the steps it depends on only if they have not run) and
    mark it done.

    The steps in :data:`STEP_DEPENDS` go through :func:`ensure` (so they may be
    reused); steps it does not read are left alone, so 03 can compare while
    another kernel still computes ``value``. This step
    is always computed. In a report run folder its files and marker are then stored
    in the step cache (also under ``--fresh``: the newest computation wins).

    Returns
    -------
    dict
        The marker: ``step``, ``seconds``, ``summary``, ``fingerprint``, ``files``
        (created or changed under ``artifacts/``), ``removed``, ``computed_in``
        (run id) and ``reused_from`` (None).
    """
    _check(step)
    for earlier in STEP_DEPENDS[step]:
        ensure(ctx, earlier)
    module = importlib.import_module(STEP_MODULES[step])
    before = reuse.snapshot(ctx.artifacts)
    start = time.perf_counter()
    summary = module.run(ctx) or {}
    seconds = round(time.perf_counter() - start, 3)
    files, removed = reuse.changed_files(before, reuse.snapshot(ctx.artifacts))
    # value and compare may run at once: each keeps only its own files
    files, removed = _own_files(step, files), _own_files(step, removed)
    record = {
        "step": step,
        "seconds": seconds,
        "summary": summary,
        "fingerprint": step_fingerprint(ctx.config, step),
        "files": files,
        "removed": removed,
        "computed_in": ctx.run_dir.name,
        "reused_from": None,
    }
    _write_marker(ctx, step, record)
    if reuse.cache_enabled(ctx.run_dir, step):
        reuse.store(ctx.run_dir, step, record)
    logger.info("step %s done in %.1f s", step, seconds)
    return record


def _reuse(ctx: RunContext, step: str) -> bool:
    """Copy ``step``'s artifacts from the cache when its fingerprint is there."""
    if not reuse.reuse_allowed(ctx.run_dir, step):
        return False
    fingerprint = step_fingerprint(ctx.config, step)
    cached = reuse.lookup(ctx.run_dir, step, fingerprint)
    if cached is None:
        return False
    start = time.perf_counter()
    names = reuse.restore(ctx.run_dir, step, cached)
    ctx.forget(names)
    record = {
        **cached,
        "seconds": round(time.perf_counter() - start, 3),
        "reused_from": {
            "run_id": cached.get("computed_in"),
            "fingerprint": fingerprint,
            "seconds": cached.get("seconds"),
        },
    }
    _write_marker(ctx, step, record)
    logger.info("step %s reused from run %s", step, cached.get("computed_in"))
    return True


def reuse_step(ctx: RunContext, step: str) -> bool:
    """Copy ``step``'s artifacts from the step cache if its fingerprint is there.

    What the report runner does before the notebooks start, so that the notebooks
    of reused steps can run side by side; False when the step must be computed
    (or reuse is off: scratch folders, ``SEGKIT_FRESH=1``, ``profile``).
    """
    _check(step)
    return step_done(ctx, step) or _reuse(ctx, step)


def run_or_reuse(ctx: RunContext, step: str) -> dict:
    """What a notebook calls for its own step: reuse it, else run it, now.

    In a report run folder whose step cache holds ``step`` with the same
    fingerprint the artifacts are copied (:func:`_reuse`); otherwise -- always in
    a JupyterLab scratch folder, or under ``SEGKIT_FRESH=1`` -- the step is
    computed, as :func:`run_step` does, so re-running a notebook after a change
    recomputes it. Earlier steps go through :func:`ensure`.

    Returns
    -------
    dict
        The step's marker (see :func:`run_step`; ``reused_from`` set when reused).
    """
    _check(step)
    for earlier in STEP_DEPENDS[step]:
        ensure(ctx, earlier)
    if _reuse(ctx, step):
        return json.loads(_marker(ctx, step).read_text(encoding="utf-8"))
    return run_step(ctx, step)


def ensure(ctx: RunContext, step: str) -> None:
    """Make sure ``step`` and the steps before it have their artifacts here.

    A step already marked done in this run folder is left as is; else its
    artifacts are copied from the step cache when its fingerprint matches an
    earlier computation (report run folders, not ``SEGKIT_FRESH=1``), else it runs.
    """
    _check(step)
    if step_done(ctx, step):
        return
    for earlier in STEP_DEPENDS[step]:
        ensure(ctx, earlier)
    if not _reuse(ctx, step):
        run_step(ctx, step)
