"""The order of the analysis steps and the artifacts each one leaves in a run folder.

Each step lives in its stage's ``step`` module (see :data:`STEP_MODULES`) as a
function ``run(ctx)`` that reads the artifacts of earlier steps through the
:class:`~segkit.context.RunContext` and writes its own. A step is done when its marker ``artifacts/steps/<name>.json`` exists; the
marker holds the step's seconds and a short summary.

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

import importlib
import json
import logging
import time
from typing import TYPE_CHECKING

from segkit.exceptions import RunError

if TYPE_CHECKING:
    from segkit.context import RunContext

__all__ = ["STEPS", "ensure", "run_step", "step_done"]

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


def run_step(ctx: RunContext, step: str) -> dict:
    """Run ``step`` now (earlier steps only if they have not run) and mark it done."""
    _check(step)
    for earlier in STEPS[: STEPS.index(step)]:
        ensure(ctx, earlier)
    module = importlib.import_module(STEP_MODULES[step])
    start = time.perf_counter()
    summary = module.run(ctx) or {}
    seconds = round(time.perf_counter() - start, 3)
    record = {"step": step, "seconds": seconds, "summary": summary}
    _marker(ctx, step).write_text(
        json.dumps(record, indent=2, default=str), encoding="utf-8"
    )
    logger.info("step %s done in %.1f s", step, seconds)
    return record


def ensure(ctx: RunContext, step: str) -> None:
    """Run ``step`` and the steps before it unless their artifacts already exist."""
    _check(step)
    if not step_done(ctx, step):
        run_step(ctx, step)
