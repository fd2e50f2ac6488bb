"""Kernels that only draw lower their own priority, once, in report runs only."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from segkit.runner.priority import NICE_ENV, last_step_of_notebook
from segkit.runner.schedule import NOTEBOOK_STEPS

# run in a fresh interpreter: niceness can be raised but never lowered back
_PROBE = """
import json, os, sys
from segkit.runner.priority import after_step
seen = [os.nice(0)]
for step in sys.argv[1:]:
    seen.append([step, after_step(step), os.nice(0)])
print(json.dumps(seen))
"""


def _probe(steps: list[str], nice: str | None) -> list:
    env = {k: v for k, v in os.environ.items() if k != NICE_ENV}
    if nice is not None:
        env[NICE_ENV] = nice
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, *steps],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def test_the_last_step_of_each_notebook_is_known():
    assert [s for s in ("data", "features", "value") if last_step_of_notebook(s)] == [
        "data",
        "value",
    ]
    assert all(last_step_of_notebook(steps[-1]) for steps in NOTEBOOK_STEPS.values())


def test_priority_drops_after_the_notebooks_last_step_and_only_once():
    start, *seen = _probe(["features", "value", "compare"], "3")
    assert seen == [
        ["features", False, start],  # 02 still computes value: full priority
        ["value", True, start + 3],
        ["compare", False, start + 3],  # once per kernel
    ]


def test_outside_a_report_run_nothing_changes():
    start, *seen = _probe(["value"], None)
    assert seen == [["value", False, start]]
    start, *seen = _probe(["value"], "not a number")
    assert seen == [["value", False, start]]
