"""When each notebook of a report run may start, and which ran side by side.

Each numbered notebook computes its own steps (:data:`NOTEBOOK_STEPS`) and reads
the artifacts of the steps they depend on (:data:`segkit.pipeline.STEP_DEPENDS`).
Before any notebook starts, :func:`restore_reusable` copies every step the step
cache holds with an unchanged fingerprint whose dependencies were restored too
(:func:`segkit.pipeline.reuse_step`): changing ``validation.horizon_days`` reruns
``value`` but still restores ``compare``, which reads only data and features.

:func:`run_notebooks` then starts notebooks as their inputs appear, one kernel per
core (at least two), by the rules of :func:`pick`:

- a notebook starts once every step it reads has its marker
  (``artifacts/steps/<step>.json``, written after the step's artifacts), whether
  restored or just computed by a notebook that is still drawing its charts;
- at most one running notebook computes steps at a time, except steps that
  read nothing of each other and declare what they write
  (:func:`segkit.pipeline.concurrent_steps`: ``compare`` beside ``value``). A
  step records the files it wrote by comparing the artifacts folder before and
  after; another step writing at the same moment would spoil that, unless its
  files are known and left out. Notebooks that only read run beside them, as
  many as there are kernels;
- the computing notebook is on the critical path (every later step waits for
  it), so it starts as soon as its inputs are there, on one kernel more than the
  readers get, rather than after a reader has finished drawing; readers start in
  number order;
- a notebook segkit does not know (not in :data:`NOTEBOOK_STEPS`) runs alone, after
  every notebook before it and before every notebook after it.

On a warm rerun every notebook starts at once; on a cold run 02 starts while 01
still draws, 03 while 02 draws, and so on. After a failure no notebook starts
(the rest are skipped, as before); those already running finish.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from segkit.context import open_run
from segkit.pipeline import STEP_DEPENDS, STEPS, concurrent_steps, reuse_step
from segkit.reuse import NEVER_REUSED, fresh_requested

__all__ = [
    "NOTEBOOK_STEPS",
    "notebook_inputs",
    "restore_reusable",
    "pick",
    "run_notebooks",
    "overlapping",
    "workers",
]

logger = logging.getLogger(__name__)

#: Notebook number -> the steps it computes (its ``ctx.run_or_reuse`` calls).
NOTEBOOK_STEPS: dict[str, tuple[str, ...]] = {
    "01": ("data",),
    "02": ("features", "value"),
    "03": ("compare",),
    "04": ("validate",),
    "05": ("profile",),
}

#: Seconds between looks at the step markers while notebooks run.
POLL_SECONDS = 0.25


def _number(name: str) -> str:
    return name.split("-", 1)[0]


def notebook_inputs(name: str) -> tuple[frozenset[str], frozenset[str]] | None:
    """``(reads, makes)``: the steps a notebook reads and those it computes.

    None for a notebook segkit does not know (it is run alone, in order).
    """
    makes = NOTEBOOK_STEPS.get(_number(name))
    if makes is None:
        return None
    reads = {dep for step in makes for dep in STEP_DEPENDS[step]} - set(makes)
    return frozenset(reads), frozenset(makes)


def restore_reusable(config: Any, run_dir: Path) -> list[str]:
    """Copy into ``run_dir`` every cached step whose dependencies are restored too.

    Returns
    -------
    list of str
        The steps restored, in step order (empty with ``--fresh``). Each step's
        marker records the run it came from, exactly as when a notebook reuses it.
    """
    if fresh_requested():
        return []
    restored: list[str] = []
    for step in STEPS:
        if step in NEVER_REUSED or not set(STEP_DEPENDS[step]) <= set(restored):
            continue
        # A new context per step: open_run applies what earlier restored steps
        # pinned (declared_features.json), as each notebook's kernel will.
        ctx = open_run(config.config_path, run_dir, dict(config.overrides))
        if reuse_step(ctx, step):
            restored.append(step)
    logger.info("steps restored before the notebooks: %s", restored or "none")
    return restored


def _computing(name: str, done: set[str]) -> bool:
    inputs = notebook_inputs(name)
    return inputs is None or not inputs[1] <= done


def _pending_steps(name: str, done: set[str]) -> set[str]:
    inputs = notebook_inputs(name)
    return set(STEPS) if inputs is None else set(inputs[1]) - done


def _beside(steps: set[str], others: set[str]) -> bool:
    """True when every step of ``steps`` may compute while ``others`` do
    (:func:`segkit.pipeline.concurrent_steps`)."""
    return all(other in concurrent_steps(step) for step in steps for other in others)


def pick(
    pending: Sequence[str], running: Iterable[str], done: Iterable[str], kernels: int
) -> list[str]:
    """The pending notebooks to start now, in the order to start them.

    Parameters
    ----------
    pending : sequence of str
        Notebooks not started yet, in number order.
    running : iterable of str
        Notebooks running now.
    done : iterable of str
        Steps with a marker in the run folder.
    kernels : int
        Notebooks that only read, at most at once (the computing one comes on top).

    Returns
    -------
    list of str
        The notebooks to start (see the module docstring for the rules). When
        nothing runs and no rule lets a notebook start -- a notebook that ran
        without writing a step it should have -- the first pending one starts
        anyway: it computes what it lacks itself.
    """
    done, running = set(done), list(running)
    if not pending or any(notebook_inputs(name) is None for name in running):
        return []
    # the steps being computed now, by the running notebooks
    busy = set().union(*(_pending_steps(name, done) for name in running))
    readers = sum(not _computing(name, done) for name in running)
    chosen: list[str] = []
    for position, name in enumerate(pending):
        inputs = notebook_inputs(name)
        if inputs is None:  # a barrier: alone, after everything before it
            if position == 0 and not running:
                return [name]
            break
        reads, makes = inputs
        if not reads <= done:
            continue
        if not makes <= done:  # computes: no reader slot needed
            steps = set(makes) - done
            if not busy or _beside(steps, busy):
                chosen.insert(0, name)
                busy |= steps
        elif readers < kernels:
            chosen.append(name)
            readers += 1
    if not chosen and not running:
        return [pending[0]]
    return chosen


def marked_steps(run_dir: Path) -> set[str]:
    """Steps whose marker exists in ``run_dir``."""
    folder = Path(run_dir) / "artifacts" / "steps"
    return {step for step in STEPS if (folder / f"{step}.json").exists()}


def run_notebooks(
    names: Sequence[str],
    execute: Callable[[str], bool],
    *,
    run_dir: Path,
    restored: Iterable[str],
    kernels: int,
) -> tuple[list[str], dict[str, tuple[float, float]]]:
    """Run ``execute(name)`` for each notebook as :func:`pick` allows.

    Parameters
    ----------
    names : sequence of str
        The notebooks, in number order.
    execute : callable
        Runs one notebook; returns True when it succeeded (it records its own
        status and never raises for a notebook's failure).
    run_dir : Path
        The run folder (its step markers are watched).
    restored : iterable of str
        Steps copied in before the notebooks.
    kernels : int
        Notebooks that only read, at most at once; the one computing comes on top.

    Returns
    -------
    not_started, spans
        The notebooks never started (after a failure), and per notebook started
        its (start, end) in seconds since the first start.
    """
    pending, done = list(names), set(restored) | marked_steps(run_dir)
    running: dict[Future, str] = {}
    spans: dict[str, tuple[float, float]] = {}
    clock, failed = time.perf_counter(), False
    # the readers' kernels, and up to two computing ones (value beside compare)
    with ThreadPoolExecutor(max_workers=max(1, kernels) + 2) as pool:
        try:
            while pending or running:
                done |= marked_steps(run_dir)
                if not failed:
                    for name in pick(pending, running.values(), done, kernels):
                        pending.remove(name)
                        spans[name] = (time.perf_counter() - clock, float("nan"))
                        running[pool.submit(execute, name)] = name
                if not running:
                    break
                finished, _ = wait(
                    running, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED
                )
                for future in finished:
                    name = running.pop(future)
                    spans[name] = (spans[name][0], time.perf_counter() - clock)
                    failed = failed or not future.result()
        except KeyboardInterrupt:
            # the kernels got the Ctrl-C too: let the running ones end, start none
            pending.clear()
            raise
    return pending, spans


def overlapping(spans: dict[str, tuple[float, float]]) -> list[str]:
    """The notebooks whose run overlapped another's (for the manifest), sorted."""
    out = set()
    items = list(spans.items())
    for i, (a, (a0, a1)) in enumerate(items):
        for b, (b0, b1) in items[i + 1 :]:
            if a0 < b1 and b0 < a1:
                out.update((a, b))
    return sorted(out)


def workers(jobs: int) -> int:
    """Kernels at once: the machine's cores (at least 2), never more than the jobs."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2
    return max(1, min(jobs, max(cores, 2)))
