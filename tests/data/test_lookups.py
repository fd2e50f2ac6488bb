"""Lookup tables joined by key (transactions.lookups; issue 13, item 2)."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from segkit.config import load_config
from segkit.config_sources import TransactionsSource
from segkit.context import open_run
from segkit.data.io import load_transactions
from segkit.data.lookups import join_lookups_frame, join_lookups_table, read_lookups
from segkit.exceptions import ConfigError, SchemaError
from tests.conftest import TINY_COLUMNS, TINY_CSV, write_config

#: Products of the tiny fixture; POST is not in it (a line without a lookup row).
PRODUCTS = "sku,CATEGORY,DEPT\nA1,Mugs,Kitchen\nA2,Plates,Kitchen\nA3,Bowls,Table\n"
CATEGORY = {"A1": "Mugs", "A2": "Plates", "A3": "Bowls"}


def _tx(tmp_path, *, inline: bool):
    if not inline:
        (tmp_path / "tiny.csv").write_text(TINY_CSV, encoding="utf-8")
        return "tiny.csv"
    header, *lines = TINY_CSV.splitlines()
    rows = [header + ",Category"]
    for line in lines:
        sku = line.split(",")[1]
        rows.append(line + "," + CATEGORY.get(sku, ""))
    (tmp_path / "inline.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return "inline.csv"


def _config(
    tmp_path, *, inline: bool, lookups=None, name="lk", features=None, engine="pandas"
):
    columns = dict(TINY_COLUMNS)
    if inline:
        columns["category"] = "Category"
    body = {
        "name": name,
        "transactions": {"path": _tx(tmp_path, inline=inline), "columns": columns},
        "as_of": "2021-04-02",
        "seed": 0,
        "engine": engine,
        "features": features or {},
    }
    if lookups is not None:
        body["transactions"]["lookups"] = lookups
    return write_config(tmp_path, body, name=f"{name}.yaml")


def _products(tmp_path, text=PRODUCTS):
    (tmp_path / "products.csv").write_text(text, encoding="utf-8")
    return [
        {
            "path": "products.csv",
            "key": "product_id",
            "on": "sku",
            "columns": {"category": "CATEGORY", "department": "DEPT"},
        }
    ]


def test_a_lookup_adds_its_columns_and_notes_the_coverage(tmp_path):
    config = load_config(_config(tmp_path, inline=False, lookups=_products(tmp_path)))
    read = load_transactions(config)
    frame = read.frame
    assert frame.loc[frame["product_id"] == "A3", "department"].unique().tolist() == [
        "Table"
    ]
    assert frame.loc[frame["product_id"] == "POST", "category"].isna().all()
    # 9 of 10 lines matched; the lines' amounts sum to 98.0, 18.0 of it POSTAGE.
    (note,) = [n for n in read.notes if n.startswith("lookup products.csv")]
    assert "9 of 10 lines (90.0%) and 81.6% of revenue matched" in note
    assert "keep missing category, department" in note


def test_a_lookup_with_a_duplicated_key_is_refused_with_examples(tmp_path):
    lookups = _products(tmp_path, PRODUCTS + "A1,Cups,Kitchen\n")
    config = load_config(_config(tmp_path, inline=False, lookups=lookups))
    with pytest.raises(
        SchemaError, match=r"'sku' has 1 duplicated values, e\.g\. \['A1'\]"
    ):
        load_transactions(config)


def test_a_lookup_column_missing_from_its_file_is_named(tmp_path):
    lookups = _products(tmp_path, PRODUCTS.replace("DEPT", "DEPARTMENT"))
    config = load_config(_config(tmp_path, inline=False, lookups=lookups))
    with pytest.raises(SchemaError, match=r"\['DEPT'\] not found in lookup products"):
        load_transactions(config)


def test_lookup_columns_cannot_replace_the_core_columns_or_a_mapped_role():
    base = {"path": "x.csv", "columns": dict(TINY_COLUMNS, category="C")}
    with pytest.raises(ConfigError, match="also mapped in transactions.columns"):
        TransactionsSource.of(
            {
                **base,
                "lookups": [
                    {"path": "p", "key": "product_id", "columns": {"category": "X"}}
                ],
            }
        )
    with pytest.raises(ConfigError, match="cannot be looked up"):
        TransactionsSource.of(
            {
                **base,
                "lookups": [
                    {"path": "p", "key": "product_id", "columns": {"amount": "X"}}
                ],
            }
        )


def test_the_ibis_join_gives_the_pandas_join(tmp_path):
    _products(tmp_path)
    section = TransactionsSource.of(
        {
            "path": "x.csv",
            "columns": TINY_COLUMNS,
            "lookups": _products(tmp_path),
        }
    )
    lookups = read_lookups(section, config_dir=tmp_path, root=tmp_path)
    lines = pd.DataFrame(
        {
            "product_id": ["A1", "POST", "A3", None],
            "amount": [6.0, 18.0, 10.0, 1.0],
        }
    )
    before = lines.copy()
    by_pandas, notes = join_lookups_frame(lines, lookups)
    assert_frame_equal(lines, before)  # the input is not modified
    table, ibis_notes = join_lookups_table(ibis.memtable(lines), lookups)
    by_ibis = table.to_pandas()
    assert ibis_notes == notes
    assert "2 of 4 lines (50.0%)" in notes[0]
    for column in ("category", "department"):
        assert by_ibis[column].isna().tolist() == [False, True, False, True]
        assert by_pandas[column].fillna("-").tolist() == (
            by_ibis[column].fillna("-").tolist()
        )
    assert by_ibis["category"].tolist()[::2] == ["Mugs", "Bowls"]


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_category_mix_from_a_lookup_equals_the_category_inline(tmp_path, engine):
    mix = {"mix": ["category"]}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    inline = _config(
        tmp_path / "a", inline=True, name="inline", features=mix, engine=engine
    )
    looked = _config(
        tmp_path / "b",
        inline=False,
        lookups=_products(tmp_path / "b"),
        features=mix,
        engine=engine,
    )
    frames = []
    for config in (inline, looked):
        ctx = open_run(config, config.parent / "run")
        ctx.run_step("data")
        ctx.run_step("features")
        frames.append(ctx.load_frame("features.parquet"))
    assert_frame_equal(frames[0], frames[1])
    # Levels by sales value; every BOWL line is cleaned out (zero price, no id).
    mix_columns = [c for c in frames[0].columns if c.startswith("mix_")]
    assert mix_columns == [
        "mix_category_plates",
        "mix_category_mugs",
        "mix_category_other",
    ]
    # Customer 11: MUG 2x3 + PLATE 1x10 on Jan 5, MUG 1x3 on Apr 1 -> 9 of 19 on mugs.
    assert frames[0].loc["11", "mix_category_mugs"] == pytest.approx(9 / 19)
    assert frames[0].loc["11", "mix_category_plates"] == pytest.approx(10 / 19)
    assert frames[0].loc["11", "mix_category_other"] == 0.0
