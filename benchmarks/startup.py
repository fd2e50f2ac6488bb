"""Start-up cost of the segkit command line and package, beside a bare Python.

Runs each command ``--repeat`` times in a fresh subprocess and prints the median
wall time, the same less the bare interpreter's (``python -c pass``), and the number
of modules each leaves in ``sys.modules`` (counted once, in a separate run that
prints ``len(sys.modules)`` at exit). Target: ``segkit --help`` under 0.5 s.

    .venv/bin/python benchmarks/startup.py [--repeat 15]

A benchmark script, not a timed test (STYLE.md: speed claims live here).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

_COUNT = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('MODULES', len(sys.modules), file=sys.stderr))\n"
)


def _segkit_script() -> list[str]:
    """The ``segkit`` console script of this environment (else ``python -m``)."""
    script = Path(sys.executable).with_name("segkit")
    return [str(script)] if script.exists() else [sys.executable, "-m", "segkit"]


def cases() -> list[tuple[str, list[str], str]]:
    """(label, command timed, Python code that does the same, for the count)."""
    cli = "from segkit.runner.cli import main\nsys.argv = ['segkit', {args}]\n"
    cli += "try:\n    main()\nexcept SystemExit:\n    pass\n"
    return [
        ("python -c pass (baseline)", [sys.executable, "-c", "pass"], "pass"),
        (
            "python -c 'import segkit'",
            [sys.executable, "-c", "import segkit"],
            "import segkit",
        ),
        ("segkit --help", [*_segkit_script(), "--help"], cli.format(args="'--help'")),
        (
            "segkit config schema",
            [*_segkit_script(), "config", "schema"],
            cli.format(args="'config', 'schema'"),
        ),
    ]


def _time(command: list[str], repeat: int) -> float:
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, check=True)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def _modules(code: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _COUNT + code],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    line = [x for x in done.stderr.splitlines() if x.startswith("MODULES ")][-1]
    return int(line.split()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="runs per command")
    args = parser.parse_args(argv)
    env_note = f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    print(f"start-up, median of {args.repeat} runs ({env_note})\n")
    rows = []
    baseline = None
    for label, command, code in cases():
        _time(command, 1)  # warm the file cache
        median = _time(command, args.repeat)
        baseline = median if baseline is None else baseline
        rows.append((label, median, median - baseline, _modules(code)))
    width = max(len(r[0]) for r in rows)
    print(f"{'command':<{width}}  {'median s':>9}  {'minus base':>10}  {'modules':>7}")
    for label, median, extra, modules in rows:
        print(f"{label:<{width}}  {median:9.3f}  {extra:10.3f}  {modules:7d}")
    help_row = next(r for r in rows if r[0] == "segkit --help")
    verdict = "meets" if help_row[1] < 0.5 else "MISSES"
    print(f"\nsegkit --help: {help_row[1]:.3f} s, {verdict} the 0.5 s target")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
