"""The engine data path (DuckDB through Ibis) equals the in-memory pandas path.

Same files, same config: the ledger, the clean lines, the returns, the quality
profile's counts, the summary and the features agree rule for rule, on hand-made
lines that exercise every rule (nulls in duplicates, no order id, amount only,
rules switched off) and on the retail fixture.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from segkit.context import open_run
from segkit.data import engine
from segkit.data.clean_sql import clean_table
from segkit.exceptions import SchemaError, SegkitError
from segkit.fileinfo import source_files
from tests.conftest import ROOT, TINY_COLUMNS, TINY_CSV, write_config

FIXTURE = ROOT / "tests" / "fixtures" / "retail_small.yaml"
# Every rule removes something: a missing id, a C-invoice, a negative quantity without
# prefix, a zero price, POST, an exact duplicate (with a missing description), a line
# after as_of.
EDGE_CSV = """InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
1001,A1,Mug,2,2021-01-05 10:00:00,3.5,11.0,UK
1001,A2,,1,2021-01-05 10:00:00,4.0,11.0,UK
1001,A2,,1,2021-01-05 10:00:00,4.0,11.0,UK
1002,A1,Mug,1,2021-01-06 09:00:00,3.5,,UK
C1003,A1,Mug,-1,2021-01-07 09:00:00,3.5,11.0,UK
1004,A1,Mug,-2,2021-02-01 09:00:00,3.5,12.0,FR
1005,A3,Free,1,2021-02-02 09:00:00,0,12.0,FR
1006,POST,Postage,1,2021-02-03 09:00:00,18,12.0,FR
1007,A1,Mug,3,2021-02-03 09:00:00,3.5,12.0,FR
1008,A4,Bowl,1,2021-03-01 08:00:00,12.25,13.0,
1009,A4,Bowl,2,2021-05-01 08:00:00,12.25,13.0,UK
1010,A1,Mug,1,2021-03-02 11:30:00,3.5,14,DE
"""
EDGE_COLUMNS = TINY_COLUMNS  # same header as the tiny fixture


def _runs(config, tmp_path, overrides=(), steps=("data",)):
    runs = {}
    for kind in ("pandas", "duckdb"):
        ctx = open_run(config, tmp_path / kind, [f"engine.kind={kind}", *overrides])
        for step in steps:
            ctx.run_step(step)
        runs[kind] = ctx
    return runs["pandas"], runs["duckdb"]


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    if "timestamp" in frame:
        frame["timestamp"] = pd.to_datetime(frame["timestamp"]).astype("datetime64[ns]")
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def _assert_same_data(pandas_run, duck_run) -> None:
    assert_frame_equal(
        pandas_run.load_frame("ledger.csv"),
        duck_run.load_frame("ledger.csv"),
        check_exact=False,
        rtol=1e-9,
    )
    for name in ("transactions.parquet", "returns.parquet"):
        assert_frame_equal(
            _sorted(pandas_run.load_frame(name)),
            _sorted(duck_run.load_frame(name)),
            check_dtype=False,
        )
    summary_p = pandas_run.load_json("data_summary.json")
    summary_d = duck_run.load_json("data_summary.json")
    summary_d.pop("engine")
    assert summary_p == summary_d
    assert pandas_run.load_json("duplicates.json") == duck_run.load_json(
        "duplicates.json"
    )
    assert_frame_equal(
        pandas_run.load_frame("sufficiency.csv"), duck_run.load_frame("sufficiency.csv")
    )


def _edge_config(tmp_path, **extra):
    (tmp_path / "edge.csv").write_text(EDGE_CSV, encoding="utf-8")
    body = {
        "name": "edge",
        "transactions": {"path": "edge.csv", "columns": dict(EDGE_COLUMNS)},
        "as_of": "2021-04-01",
        "quality": {"min_customers": 1},
        **extra,
    }
    return write_config(tmp_path, body)


def test_every_rule_removes_the_same_lines_on_both_engines(tmp_path):
    pandas_run, duck_run = _runs(_edge_config(tmp_path), tmp_path)
    ledger = duck_run.load_frame("ledger.csv").set_index("rule")["rows"]
    # Known answers, rule by rule (12 lines read).
    assert ledger.to_dict() == {
        "raw": 12,
        "missing_customer_id": 1,
        "cancellations": 1,
        "negative_quantity": 1,
        "nonpositive_price": 1,
        "non_product": 1,
        "duplicates": 1,
        "after_as_of": 1,
        "kept": 5,
    }
    _assert_same_data(pandas_run, duck_run)
    clean = duck_run.load_frame("transactions.parquet")
    assert set(clean["customer_id"]) == {"11", "12", "13", "14"}  # 11.0 -> 11
    quality_p = pandas_run.load_frame("quality.csv")
    quality_d = duck_run.load_frame("quality.csv")
    counts = ["column", "role", "dtype", "missing", "distinct", "outliers", "pii"]
    assert_frame_equal(quality_p[counts], quality_d[counts])


def test_switched_off_rules_and_no_prefix_match_on_both_engines(tmp_path):
    config = _edge_config(
        tmp_path,
        cleaning={"duplicates": False, "non_product": False, "cancellation_prefix": ""},
    )
    pandas_run, duck_run = _runs(config, tmp_path)
    ledger = duck_run.load_frame("ledger.csv").set_index("rule")["rows"]
    assert "duplicates" not in ledger.index and "non_product" not in ledger.index
    assert ledger["cancellations"] == 0
    _assert_same_data(pandas_run, duck_run)


def test_lines_without_order_id_form_the_same_orders(tmp_path):
    lines = TINY_CSV.splitlines()
    rows = [line.split(",", 1)[1] for line in lines]
    (tmp_path / "purchases.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    columns = {k: v for k, v in TINY_COLUMNS.items() if k != "order_id"}
    config = write_config(
        tmp_path,
        {
            "name": "purchases",
            "transactions": {"path": "purchases.csv", "columns": columns},
            "as_of": "2021-04-02",
        },
    )
    pandas_run, duck_run = _runs(config, tmp_path)
    _assert_same_data(pandas_run, duck_run)
    assert "11|2021-01-05T10:00:00" in set(
        duck_run.load_frame("transactions.parquet")["order_id"]
    )
    assert pandas_run.load_json("read_notes.json") == duck_run.load_json(
        "read_notes.json"
    )


def test_amount_only_lines_match(tmp_path):
    frame = pd.read_csv(pd.io.common.StringIO(EDGE_CSV), dtype=str)
    frame["Amount"] = (
        frame["Quantity"].astype(float) * frame["UnitPrice"].astype(float)
    ).round(2)
    frame.drop(columns=["Quantity", "UnitPrice"]).to_parquet(tmp_path / "lines.parquet")
    columns = {
        k: v for k, v in EDGE_COLUMNS.items() if k not in ("quantity", "unit_price")
    }
    columns["amount"] = "Amount"
    config = write_config(
        tmp_path,
        {
            "name": "amounts",
            "transactions": {"path": "lines.parquet", "columns": columns},
            "as_of": "2021-04-01",
            "quality": {"min_customers": 1},
        },
    )
    pandas_run, duck_run = _runs(config, tmp_path)
    _assert_same_data(pandas_run, duck_run)


def test_retail_fixture_gives_the_same_data_and_features(tmp_path):
    pandas_run, duck_run = _runs(FIXTURE, tmp_path, steps=("data", "features"))
    _assert_same_data(pandas_run, duck_run)
    assert_frame_equal(
        pandas_run.load_frame("features.parquet"),
        duck_run.load_frame("features.parquet"),
        check_exact=False,
        rtol=1e-9,
    )
    assert duck_run.load_json("data_summary.json")["engine"] == "duckdb"


def test_a_folder_of_files_reads_as_one_source_in_name_order(tmp_path):
    lines = EDGE_CSV.splitlines()
    folder = tmp_path / "days"
    folder.mkdir()
    (folder / "b.csv").write_text("\n".join([lines[0], *lines[7:]]) + "\n")
    (folder / "a.csv").write_text("\n".join(lines[:7]) + "\n")
    assert [p.name for p in source_files(folder)] == ["a.csv", "b.csv"]
    one = _edge_config(tmp_path)
    many = write_config(
        tmp_path,
        {
            "name": "days",
            "transactions": {"path": "days", "columns": dict(EDGE_COLUMNS)},
            "as_of": "2021-04-01",
            "quality": {"min_customers": 1},
        },
        name="days.yaml",
    )
    a = open_run(one, tmp_path / "one")
    b = open_run(many, tmp_path / "many")
    for ctx in (a, b):
        ctx.run_step("data")
    assert_frame_equal(a.load_frame("ledger.csv"), b.load_frame("ledger.csv"))
    assert b.load_json("data_summary.json")["source_file"].startswith("2 files (a.csv")


def test_a_pattern_matching_nothing_is_a_clear_error(tmp_path):
    body = {
        "name": "none",
        "transactions": {"path": "nothing*.csv", "columns": dict(EDGE_COLUMNS)},
    }
    with pytest.raises(SegkitError, match=r"nothing\*\.csv"):
        ctx = open_run(write_config(tmp_path, body), tmp_path / "run")
        ctx.run_step("data")


def test_dates_the_engine_cannot_read_are_named_with_the_fix(tmp_path):
    bad = EDGE_CSV.replace("2021-03-02 11:30:00", "not a date")
    (tmp_path / "bad.csv").write_text(bad)
    con = engine.connect_engine({"engine": "duckdb"})
    raw = con.read_csv(str(tmp_path / "bad.csv"), all_varchar=True, header=True)
    with pytest.raises(
        SchemaError,
        match=r"'InvoiceDate' \(role timestamp\).*1 values are not dates.*'not a date'.*read.date_format",
    ):
        engine.check_parsed(raw, EDGE_COLUMNS, source="bad.csv")


def test_day_first_dates_fall_back_to_pandas_and_say_so(tmp_path):
    text = EDGE_CSV
    for day in ("05", "06", "07"):
        text = text.replace(f"2021-01-{day} ", f"{day}/01/2021 ")
    (tmp_path / "edge.csv").write_text(text)
    body = {
        "name": "dayfirst",
        "transactions": {
            "path": "edge.csv",
            "columns": dict(EDGE_COLUMNS),
            "read": {"dayfirst": True},
        },
        "as_of": "2021-04-01",
        "quality": {"min_customers": 1},
    }
    config = write_config(tmp_path, body)
    pandas_run, duck_run = _runs(config, tmp_path)
    _assert_same_data(pandas_run, duck_run)
    notes = duck_run.load_json("read_notes.json")["transactions"]
    assert any("pandas guessed their format" in note for note in notes)


def test_clean_table_leaves_no_staging_behind(tmp_path):
    con = engine.connect_engine({"engine": "duckdb"})
    (tmp_path / "edge.csv").write_text(EDGE_CSV)
    raw = con.read_csv(str(tmp_path / "edge.csv"), all_varchar=True, header=True)
    canon = engine.canonical(raw, EDGE_COLUMNS)
    result = clean_table(
        con,
        canon,
        rules={},
        as_of=pd.Timestamp("2021-04-01").date(),
        stage_dir=tmp_path,
    )
    assert len(list(tmp_path.glob("segkit-clean-*"))) == 1
    result.close()
    assert not list(tmp_path.glob("segkit-clean-*"))


def test_engine_section_accepts_a_bare_kind(tmp_path):
    config = _edge_config(tmp_path, engine="pandas")
    ctx = open_run(config, tmp_path / "run")
    assert ctx.config.engine.kind == "pandas"
    ctx.run_step("data")
    assert "engine" not in json.loads(
        (tmp_path / "run" / "artifacts" / "data_summary.json").read_text()
    )


def _engine_config(tmp_path, path, **transactions):
    body = {
        "name": "bad",
        "transactions": {"path": path, "columns": dict(EDGE_COLUMNS), **transactions},
        "as_of": "2021-04-01",
        "quality": {"min_customers": 1},
    }
    return write_config(tmp_path, body)


def test_a_source_mixing_csv_and_parquet_is_refused_with_the_fix(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a.csv").write_text(EDGE_CSV)
    pd.read_csv(pd.io.common.StringIO(EDGE_CSV), dtype=str).to_parquet(
        folder / "b.parquet"
    )
    ctx = open_run(_engine_config(tmp_path, "mixed"), tmp_path / "run")
    with pytest.raises(
        SegkitError, match=r"mixes \['csv', 'parquet'\] files.*one format"
    ):
        ctx.run_step("data")


def test_a_wrong_separator_is_named_on_the_engine(tmp_path):
    (tmp_path / "semi.csv").write_text(EDGE_CSV.replace(",", ";"))
    ctx = open_run(
        _engine_config(tmp_path, "semi.csv", read={"sep": ","}), tmp_path / "run"
    )
    with pytest.raises(
        SchemaError, match=r"semi.csv was read into one column.*read.sep"
    ):
        ctx.run_step("data")


def test_an_extra_column_missing_from_the_file_is_named(tmp_path):
    (tmp_path / "edge.csv").write_text(EDGE_CSV)
    ctx = open_run(
        _engine_config(tmp_path, "edge.csv", extra=["Discount"]), tmp_path / "run"
    )
    with pytest.raises(
        SchemaError, match=r"\['Discount'\].*transactions.extra.*not found"
    ):
        ctx.run_step("data")


def test_an_empty_file_in_a_folder_is_named(tmp_path):
    folder = tmp_path / "days"
    folder.mkdir()
    (folder / "a.csv").write_text(EDGE_CSV)
    (folder / "b.csv").write_text("")
    ctx = open_run(_engine_config(tmp_path, "days"), tmp_path / "run")
    with pytest.raises(SegkitError, match=r"b.csv is empty \(0 bytes\)"):
        ctx.run_step("data")
