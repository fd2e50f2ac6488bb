"""Shared fixtures: small hand-made transaction files and configs written to tmp_path."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
ONLINE_RETAIL = ROOT / "data" / "raw" / "online_retail.csv.gz"
PERSONALITY = SHARED_DATA / "customer_personality" / "marketing_campaign.csv"

# Pseudonyms in the suite use a fixed key (never the developer's key file);
# notebook kernels and CLI subprocesses inherit it. tests/test_privacy.py covers
# the key file itself.
os.environ.setdefault("SEGKIT_PSEUDONYM_KEY", "segkit-test-suite-key")

# Ten order lines, three customers, one cancellation, one line without a customer,
# one zero price, one postage line, one exact duplicate. Every number can be
# checked by eye: see tests/test_clean.py.
TINY_CSV = textwrap.dedent(
    """\
    InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
    1001,A1,MUG,2,2021-01-05 10:00:00,3.0,11.0,France
    1001,A2,PLATE,1,2021-01-05 10:00:00,10.0,11.0,France
    1002,A1,MUG,4,2021-02-01 09:30:00,3.0,12.0,Germany
    1002,A1,MUG,4,2021-02-01 09:30:00,3.0,12.0,Germany
    C1003,A1,MUG,-1,2021-02-03 12:00:00,3.0,12.0,Germany
    1004,A3,BOWL,5,2021-03-01 08:00:00,2.0,,United Kingdom
    1005,A3,BOWL,1,2021-03-02 08:00:00,0.0,13.0,United Kingdom
    1006,POST,POSTAGE,1,2021-03-02 08:00:00,18.0,13.0,United Kingdom
    1007,A2,PLATE,3,2021-03-10 15:00:00,10.0,13.0,United Kingdom
    1008,A1,MUG,1,2021-04-01 11:00:00,3.0,11.0,France
    """
)

TINY_COLUMNS = {
    "customer_id": "CustomerID",
    "order_id": "InvoiceNo",
    "timestamp": "InvoiceDate",
    "quantity": "Quantity",
    "unit_price": "UnitPrice",
    "product_id": "StockCode",
    "description": "Description",
    "country": "Country",
}


def python_under_hash_seeds(
    code: str, *args: str, seeds: tuple[str, ...] = ("1", "2")
) -> list[str]:
    """The stripped stdout of ``python -c code *args``, run from the project root
    once per ``PYTHONHASHSEED`` in ``seeds``, in that order (for what must not
    follow string hashing: cache keys, pickles)."""
    return [
        subprocess.run(
            [sys.executable, "-c", code, *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout.strip()
        for seed in seeds
    ]


def write_config(folder: Path, body: dict, name: str = "config.yaml") -> Path:
    """Write a config dict as YAML into ``folder`` (which also acts as project root)."""
    (folder / "pyproject.toml").touch()
    path = folder / name
    path.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def tiny_csv(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.csv"
    path.write_text(TINY_CSV, encoding="utf-8")
    return path


@pytest.fixture
def tiny_config(tmp_path: Path, tiny_csv: Path) -> Path:
    return write_config(
        tmp_path,
        {
            "name": "tiny",
            "transactions": {"path": tiny_csv.name, "columns": dict(TINY_COLUMNS)},
            "as_of": "2021-04-02",
            "seed": 0,
        },
    )


@pytest.fixture(autouse=True)
def _page_formats_reset():
    """``open_run`` sets the currency, column labels, figure cache and memo of the
    process (for the notebook kernel it runs in); no test may inherit another's."""
    yield
    from segkit import figure_cache, memo
    from segkit.display import set_currency
    from segkit.glossary import set_labels

    set_currency(None)
    set_labels(None)
    figure_cache.configure(None)
    memo.configure(None)
