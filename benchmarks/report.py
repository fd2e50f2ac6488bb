"""Seconds and peak memory of `segkit report`: cold, warm and a one-parameter rerun.

Each scenario runs `segkit report` in its own subprocess (through a small wrapper
process, so the peak resident memory of its children -- the notebook kernels --
is that scenario's alone), and the same scenario with `--fresh` beside it as the
baseline (every step computed):

- cold: the first run into an empty output folder (empty step cache);
- warm: the same config again (steps reused from the cold run);
- rerun: ``--set validation.horizon_days=60`` (validate and profile rerun; value
  too while ``value.horizon_days`` is null, see segkit.pipeline.STEP_SECTIONS).

Seconds per notebook and per step come from each run's manifest.json; a reused
step shows the seconds of its copy and ``(r)``.

Usage::

    .venv/bin/python benchmarks/report.py [--config configs/online_retail.yaml]
        [--output DIR] [--no-baseline]

The full Online Retail config takes about 25 minutes on 2 cores (the comparison
dominates); ``--config tests/fixtures/retail_small.yaml`` is a quick check.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_WRAPPER = (
    "import resource, subprocess, sys\n"
    "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print(rc, peak)\n"
)


def run_once(config: str, output: Path, extra: list[str]) -> dict:
    """One `segkit report` in a subprocess: wall seconds, peak MB, manifest."""
    segkit = Path(sys.executable).with_name("segkit")
    command = [str(segkit), "report", "--config", config, "--output-dir", str(output)]
    before = set(output.glob("*")) if output.exists() else set()
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *command, *extra],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    wall = time.perf_counter() - start
    rc, peak_kb = (int(x) for x in done.stdout.split()[-2:])
    new = sorted(set(output.glob("*")) - before)
    manifest = json.loads((new[-1] / "manifest.json").read_text()) if new else {}
    return {"rc": rc, "wall": wall, "peak_mb": peak_kb / 1024, "manifest": manifest}


def _cells(result: dict) -> dict[str, str]:
    manifest = result["manifest"]
    cells = {nb["name"]: f"{nb['seconds'] or 0:.1f}" for nb in manifest["notebooks"]}
    for step, record in (manifest.get("steps") or {}).items():
        mark = " (r)" if record["status"] == "reused" else ""
        cells[f"step {step}"] = f"{record['seconds'] or 0:.1f}{mark}"
    cells["whole command"] = f"{result['wall']:.1f}"
    cells["peak MB"] = f"{result['peak_mb']:.0f}"
    cells["exit status"] = str(result["rc"])
    return cells


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/online_retail.yaml")
    parser.add_argument("--output", help="folder for the runs (default: a tmp dir)")
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the --fresh runs"
    )
    args = parser.parse_args(argv)
    base = Path(args.output or tempfile.mkdtemp(prefix="segkit-bench-")).resolve()
    rerun = ["--set", "validation.horizon_days=60"]
    scenarios = [("cold", []), ("warm", []), ("rerun", rerun)]
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
