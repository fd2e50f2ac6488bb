"""The data step (notebook 01) on transactions without an order id."""

from __future__ import annotations

import pytest

from segkit.context import open_run
from segkit.data import report_tables
from segkit.data.clean import CANCELLATIONS_SKIPPED
from segkit.data.io import ORDER_ID_NOTE
from tests.conftest import ROOT, TINY_COLUMNS, TINY_CSV, write_config


@pytest.fixture
def no_order_config(tmp_path):
    """The tiny fixture without its InvoiceNo column: one row per purchase."""
    lines = TINY_CSV.splitlines()
    rows = [line.split(",", 1)[1] for line in lines]  # InvoiceNo is the first column
    (tmp_path / "purchases.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    columns = {k: v for k, v in TINY_COLUMNS.items() if k != "order_id"}
    body = {
        "name": "purchases",
        "transactions": {"path": "purchases.csv", "columns": columns},
        "as_of": "2021-04-02",
        "seed": 0,
    }
    return write_config(tmp_path, body)


def test_data_step_without_order_id_forms_orders_and_says_so(no_order_config, tmp_path):
    ctx = open_run(no_order_config, tmp_path / "run")
    ctx.run_step("data")
    notes = ctx.load_json("read_notes.json")["transactions"]
    assert ORDER_ID_NOTE in notes
    assert any("'cancellations' skipped" in note for note in notes)
    ledger = ctx.load_frame("ledger.csv").set_index("rule")
    assert ledger.loc["cancellations", "rows"] == 0
    assert ledger.loc["cancellations", "description"] == CANCELLATIONS_SKIPPED
    # The -1 MUG line of customer 12 is now a return by its negative quantity.
    assert ledger.loc["negative_quantity", "rows"] == 1
    assert ledger.loc["kept", "rows"] == 5
    clean = ctx.load_frame("transactions.parquet")
    assert "11|2021-01-05T10:00:00" in set(clean["order_id"])
    summary = ctx.load_json("data_summary.json")
    # 10 lines: 11 @ Jan 5 (2 lines), 12 @ Feb 1 (2), 12 @ Feb 3, no id @ Mar 1,
    # 13 @ Mar 2 08:00 (bowl + postage: one order), 13 @ Mar 10, 11 @ Apr 1.
    assert summary["invoices"] == 7
    assert summary["kept_orders"] == 4
    shown = report_tables.read_notes_note(
        report_tables.explore_artifacts(ctx)["read_notes"]
    )
    assert "each customer's lines on one timestamp form one order" in shown


def test_read_notes_note_without_decisions_says_so():
    assert "needed no decision" in report_tables.read_notes_note({"transactions": []})
    assert "needed no decision" in report_tables.read_notes_note(None)


def test_read_notes_note_lists_each_decision_by_table():
    note = report_tables.read_notes_note(
        {"transactions": ["separator sniffed as ';'"], "customers": ["read as cp1252"]}
    )
    assert "- *transactions*: separator sniffed as ';'" in note
    assert "- *customers*: read as cp1252" in note


@pytest.mark.slow
def test_notebook_01_runs_on_a_file_without_order_id(no_order_config, tmp_path):
    from segkit.runner.notebooks import run_report

    result = run_report(
        no_order_config,
        notebooks="01",
        notebooks_dir=ROOT / "notebooks",
        output_dir=tmp_path / "reports",
    )
    errors = {nb.name: nb.error for nb in result.notebooks if nb.status != "ok"}
    assert errors == {}
    page = (result.run_dir / "01-explore.html").read_text(encoding="utf-8")
    assert "one timestamp form one order" in page
    assert "no order id, so no invoice prefix" in page
