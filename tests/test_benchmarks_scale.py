"""benchmarks/scale.py --quick: every stage runs and the ledger checks hold."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "scale.py"


@pytest.mark.slow
def test_quick_run_prints_every_stage_and_an_exact_ledger(tmp_path):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--work", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = {}
    for line in done.stdout.splitlines():
        match = re.match(r"\s+200,000\s+duckdb\s+(\w+)\s+([\d.]+)\s+([\d,]+)", line)
        if match:
            rows[match.group(1)] = line
    assert set(rows) == {"data", "features", "fit", "assign", "check", "total"}
    assert "FAILED" not in done.stdout
    check = rows["check"]
    assert "raw == generated: True" in check
    assert "raw = kept + removed: True" in check
    assert "rules == direct DuckDB count: True" in check
    # every cleaning rule removed something from the generated lines
    ledger = re.search(r"ledger (\{.*\})", done.stdout).group(1)
    counts = ast.literal_eval(ledger)
    assert counts["raw"] == 200_000
    assert all(n > 0 for rule, n in counts.items()), counts
    # the assign stage wrote one segment per customer the features step described
    features = re.split(r"\s+", rows["features"].strip())
    assign = re.split(r"\s+", rows["assign"].strip())
    # the last column of the features row is its customers (the load column can be
    # blank on a busy machine, so positions from the left are not fixed)
    assert features[-1] in assign[6:9], (features, assign)
    # generated files are cached by (rows, seed)
    assert (tmp_path / "lines-200000-seed0" / "generated.json").exists()
