"""Report kernels step aside for the critical path once they only draw.

A report run keeps several kernels busy on few cores (:mod:`segkit.runner.schedule`):
the one computing a step that every later notebook waits for, and others that
only draw the charts of steps already done. Drawing is never on the critical
path; the computing step always is. On 2 cores the drawing kernels took CPU the
computing one needed.

So the runner sets :data:`NICE_ENV` in the environment its kernels inherit, and a
kernel raises its own niceness by that much (``os.nice``) once it has the last
step of its notebook (:data:`segkit.runner.schedule.NOTEBOOK_STEPS`): 02 after
``value``, not after ``features``, since the value step is still to come there.
From then on the kernel only reads and draws, and the scheduler of the operating
system gives the computing kernel (and its joblib workers) the cores first. The
work is the same and so is every output; only the order in which the CPU serves
the kernels changes.

Outside a report run (JupyterLab, tests) the variable is unset and nothing
changes. Niceness can only be raised, never lowered back, by an unprivileged
process: each kernel does it at most once.
"""

from __future__ import annotations

import logging
import os

__all__ = ["NICE_ENV", "DRAW_NICENESS", "after_step", "last_step_of_notebook"]

logger = logging.getLogger(__name__)

#: Environment variable the runner sets for its kernels: the niceness a kernel
#: adds once it only draws (unset or 0: unchanged).
NICE_ENV = "SEGKIT_DRAW_NICE"

#: The value the runner sets: CPU weight about a tenth of a computing kernel's.
DRAW_NICENESS = 10

_lowered = False


def last_step_of_notebook(step: str) -> bool:
    """True when ``step`` is the last step its notebook computes."""
    from segkit.runner.schedule import NOTEBOOK_STEPS

    return any(steps and steps[-1] == step for steps in NOTEBOOK_STEPS.values())


def after_step(step: str) -> bool:
    """Called when a notebook has ``step`` (computed or reused): lower this
    process's priority if the runner asked for it and ``step`` is its notebook's
    last. Returns True when the priority was lowered now."""
    global _lowered
    value = os.environ.get(NICE_ENV, "")
    try:
        niceness = int(value or 0)
    except ValueError:
        logger.info("%s=%r is not a number; priority unchanged", NICE_ENV, value)
        return False
    if _lowered or niceness <= 0 or not last_step_of_notebook(step):
        return False
    try:
        os.nice(niceness)
    except OSError as exc:  # e.g. a platform without nice: no harm, no change
        logger.info("could not lower the priority after %s: %s", step, exc)
        return False
    _lowered = True
    return True
