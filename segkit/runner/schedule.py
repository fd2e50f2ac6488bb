"""Which notebooks of a report run can execute side by side.

Each numbered notebook computes its own steps (:data:`NOTEBOOK_STEPS`) and reads the
artifacts of the steps before them. Before any notebook starts,
:func:`restore_reusable` copies, in step order, every step the step cache holds with
an unchanged fingerprint (:func:`segkit.pipeline.reuse_step`), stopping at the first
that must be computed. A notebook whose steps are all restored -- or whose only step
is ``profile`` (never reused) with every earlier step restored -- then reads nothing
that is still being made, so :func:`parallel_batch` lets those run at the same time
(a warm rerun: every notebook at once, on as many kernels as the machine has
cores). The others run after them, one by one in number order, as before.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from segkit.context import open_run
from segkit.pipeline import STEPS, reuse_step
from segkit.reuse import NEVER_REUSED, fresh_requested

__all__ = ["NOTEBOOK_STEPS", "restore_reusable", "parallel_batch", "workers"]

logger = logging.getLogger(__name__)

#: Notebook number -> the steps it computes (its ``ctx.run_or_reuse`` calls).
NOTEBOOK_STEPS: dict[str, tuple[str, ...]] = {
    "01": ("data",),
    "02": ("features", "value"),
    "03": ("compare",),
    "04": ("validate",),
    "05": ("profile",),
}


def restore_reusable(config: Any, run_dir: Path) -> list[str]:
    """Copy the reusable steps into ``run_dir``, in order, up to the first to compute.

    Returns
    -------
    list of str
        The steps restored (empty with ``--fresh``). Each step's marker records
        the run it came from, exactly as when a notebook reuses it.
    """
    if fresh_requested():
        return []
    restored: list[str] = []
    for step in STEPS:
        if step in NEVER_REUSED:
            break
        # A new context per step: open_run applies what earlier restored steps
        # pinned (declared_features.json), as each notebook's kernel will.
        ctx = open_run(config.config_path, run_dir, dict(config.overrides))
        if not reuse_step(ctx, step):
            break
        restored.append(step)
    logger.info("steps restored before the notebooks: %s", restored or "none")
    return restored


def _number(name: str) -> str:
    return name.split("-", 1)[0]


def parallel_batch(names: Iterable[str], restored: Iterable[str]) -> list[str]:
    """The notebooks (by name) that can run side by side, given the restored steps."""
    done = set(restored)
    batch = []
    for name in names:
        steps = NOTEBOOK_STEPS.get(_number(name))
        if steps is None:  # not a known step notebook: keep it in order
            continue
        before = STEPS[: STEPS.index(steps[0])]
        ready = set(before) <= done and (
            set(steps) <= done or set(steps) <= NEVER_REUSED
        )
        if ready:
            batch.append(name)
    return batch if len(batch) > 1 else []


def workers(jobs: int) -> int:
    """Kernels at once: the machine's cores (at least 2), never more than the jobs."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2
    return max(1, min(jobs, max(cores, 2)))
