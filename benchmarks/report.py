"""Seconds and peak memory of `segkit report`: cold, warm and a one-parameter rerun.

Each scenario runs `segkit report` in its own subprocess (through a small wrapper
process, so the peak resident memory of its children -- the notebook kernels --
is that scenario's alone), and the same scenario with `--fresh` beside it as the
baseline (every step computed):

- cold: the first run into an empty output folder (empty step cache);
- warm: the same config again (steps reused from the cold run);
- rerun 1: ``--set validation.horizon_days=60`` (validate and profile rerun; value
  too while ``value.horizon_days`` is null, see segkit.pipeline.STEP_SECTIONS);
- rerun 2: ``--set validation.ci_level=0.9`` (validate and profile only); both
  after the warm run, each against the warm run's steps (``--rerun`` to choose).

Seconds per notebook and per step come from each run's manifest.json; a reused
step shows the seconds of its copy and ``(r)``; ``start-end`` gives each
notebook's start and end in seconds from the first start (they overlap: each
starts once the steps it reads are written). ``peak MB`` is the resident memory
of the whole process tree, kernels included (the RSS sum); ``peak PSS MB`` is the
same tree's proportional set size, which counts the libraries the forked kernels
share with their fork server once (segkit.runner.kernels) rather than once per
kernel: the memory the machine actually held. ``SEGKIT_FORK_KERNELS=0`` in the
environment measures kernels launched the ordinary way.

Usage::

    .venv/bin/python benchmarks/report.py [--config configs/online_retail.yaml]
        [--output DIR] [--no-baseline] [--rerun KEY=VALUE ...]

The full Online Retail config takes about 10 minutes on 2 cores with the
``--fresh`` baselines (the comparison dominates), 3 without
(``--no-baseline``); ``--config tests/fixtures/retail_small.yaml`` is a quick
check.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from treepeak import watch_tree

ROOT = Path(__file__).resolve().parents[1]

#: The one-parameter reruns: the validation horizon (value reruns too while
#: ``value.horizon_days`` is null: its holdout is the validation horizon), and
#: the confidence level, which only validate and profile read.
RERUNS = ("validation.horizon_days=60", "validation.ci_level=0.9")


def run_once(config: str, output: Path, extra: list[str]) -> dict:
    """One `segkit report` in a subprocess: wall seconds, peak MB, manifest.

    The peak is the resident memory of the whole process tree (the runner and
    every notebook kernel, which run side by side), sampled every 0.1 s
    (``benchmarks/treepeak.py``).
    """
    segkit = Path(sys.executable).with_name("segkit")
    command = [str(segkit), "report", "--config", config, "--output-dir", str(output)]
    before = set(output.glob("*")) if output.exists() else set()
    start = time.perf_counter()
    proc = subprocess.Popen(
        [*command, *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    found = watch_tree(proc, timeout=3600)
    wall = time.perf_counter() - start
    rc = 124 if found["timed_out"] else proc.returncode
    new = sorted(set(output.glob("*")) - before, key=lambda p: p.stat().st_mtime)
    manifest = json.loads((new[-1] / "manifest.json").read_text()) if new else {}
    return {
        "rc": rc,
        "wall": wall,
        "peak_mb": found["rss_mb"],
        "pss_mb": found["pss_mb"],
        "manifest": manifest,
    }


def _cells(result: dict) -> dict[str, str]:
    manifest = result["manifest"]
    cells = {nb["name"]: f"{nb['seconds'] or 0:.1f}" for nb in manifest["notebooks"]}
    for name, (start, end) in (manifest.get("timeline") or {}).items():
        cells[f"{name} start-end"] = f"{start:.0f}-{end:.0f}"
    for step, record in (manifest.get("steps") or {}).items():
        mark = " (r)" if record["status"] == "reused" else ""
        cells[f"step {step}"] = f"{record['seconds'] or 0:.1f}{mark}"
    cells["whole command"] = f"{result['wall']:.1f}"
    cells["peak MB"] = f"{result['peak_mb']:.0f}"
    cells["peak PSS MB"] = f"{result['pss_mb']:.0f}"
    cells["exit status"] = str(result["rc"])
    return cells


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/online_retail.yaml")
    parser.add_argument("--output", help="folder for the runs (default: a tmp dir)")
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the --fresh runs"
    )
    parser.add_argument(
        "--rerun",
        action="append",
        metavar="KEY=VALUE",
        help="a one-parameter rerun after the warm run (repeatable; default: "
        + " and ".join(RERUNS)
        + ")",
    )
    args = parser.parse_args(argv)
    base = Path(args.output or tempfile.mkdtemp(prefix="segkit-bench-")).resolve()
    scenarios = [("cold", []), ("warm", [])]
    for i, setting in enumerate(args.rerun or RERUNS, start=1):
        scenarios.append((f"rerun {i}", ["--set", setting]))
    results: dict[str, dict] = {}
    for name, extra in scenarios:
        results[name] = run_once(args.config, base / "reuse" / "reports", extra)
        print(f"{name}: {results[name]['wall']:.1f} s", flush=True)
        if not args.no_baseline:
            fresh = run_once(
                args.config, base / "fresh" / "reports", [*extra, "--fresh"]
            )
            results[name + " --fresh"] = fresh
            print(f"{name} --fresh: {fresh['wall']:.1f} s", flush=True)
    columns = list(results)
    table = {name: _cells(result) for name, result in results.items()}
    rows = list(dict.fromkeys(r for cells in table.values() for r in cells))
    width = max(len(r) for r in rows)
    print(f"\nsegkit report, {args.config}; runs in {base}")
    print(f"{'':{width}}  " + "  ".join(f"{c:>14}" for c in columns))
    for row in rows:
        line = "  ".join(f"{table[c].get(row, ''):>14}" for c in columns)
        print(f"{row:{width}}  {line}")
    print("(r) = step reused from an earlier run; seconds in s")
    return 0 if all(r["rc"] == 0 for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
