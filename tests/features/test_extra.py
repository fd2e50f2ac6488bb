"""Config-declared features: extra numeric columns and spend mix (features.extra/mix)."""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from segkit import glossary
from segkit.context import open_run
from segkit.exceptions import SchemaError
from segkit.features import extra
from tests.conftest import TINY_COLUMNS, TINY_CSV, write_config

LINES = pd.DataFrame(
    {
        "customer_id": ["a", "a", "a", "b", "b", "c"],
        "timestamp": pd.to_datetime(
            [
                "2021-01-01",
                "2021-01-02",
                "2021-01-03",
                "2021-01-01",
                "2021-01-05",
                "2021-02-01",  # on as_of: outside the window
            ]
        ),
        "amount": [10.0, 20.0, 10.0, 50.0, 50.0, 99.0],
        "x_discount": [-1.0, 0.0, -3.0, -10.0, 0.0, -9.0],
        "dept": ["Food", "Food", None, "Toys", "Food", "Food"],
    }
)
SPECS = [
    {"column": "discount", "how": "sum"},
    {"column": "discount", "how": "mean", "name": "mean_discount"},
    {
        "column": "discount",
        "how": "share_of_value",
        "name": "discount_share",
        "display": "Discount share",
        "definition": "Discounts over sales.",
    },
    {"column": "discount", "how": "share_of_lines_nonzero", "name": "coupon_use"},
]


def test_extra_features_have_the_hand_computed_values():
    before = LINES.copy()
    frame, _ = extra.compute_config_features(
        LINES, {"extra": SPECS}, as_of="2021-02-01"
    )
    assert_frame_equal(LINES, before)
    expected = pd.DataFrame(
        {
            "discount_sum": [-4.0, -10.0],
            "mean_discount": [-4.0 / 3, -5.0],
            "discount_share": [-4.0 / 40, -10.0 / 100],
            "coupon_use": [2 / 3, 1 / 2],
        },
        index=pd.Index(["a", "b"], name="customer_id"),
    )
    assert_frame_equal(frame, expected)


def test_spend_mix_shares_are_over_the_lines_with_a_known_level():
    frame, notes = extra.compute_config_features(
        LINES, {"mix": [{"column": "dept", "top": 1}]}, as_of="2021-02-01"
    )
    # Food leads by value (80 before as_of); a's third line has no dept.
    assert list(frame.columns) == ["mix_dept_food", "mix_dept_other"]
    assert frame.loc["a", "mix_dept_food"] == pytest.approx(1.0)
    assert frame.loc["b", "mix_dept_food"] == pytest.approx(0.5)
    assert frame.loc["b", "mix_dept_other"] == pytest.approx(0.5)
    assert notes[0]["rule"] == "spend mix of dept: 1 levels kept"
    assert glossary.display_name("mix_dept_food") == "Share of spend: Food"


def test_an_extra_column_not_carried_says_to_add_it_to_transactions_extra():
    table = ibis.memtable(LINES.drop(columns="x_discount"))
    with pytest.raises(SchemaError, match="add 'discount' to transactions.extra"):
        extra.extra_expr(table, SPECS[:1], "2021-02-01")
    with pytest.raises(SchemaError, match="features.mix names 'brand'"):
        extra.mix_expr(table, {"column": "brand"}, [], "2021-02-01")


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_declared_features_reach_the_features_with_definitions_and_names(
    tmp_path, engine
):
    header, *lines = TINY_CSV.splitlines()
    rows = [header + ",Disc"] + [
        line + (",-1" if "MUG" in line else ",0") for line in lines
    ]
    (tmp_path / "tx.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    body = {
        "name": "extra",
        "transactions": {"path": "tx.csv", "columns": TINY_COLUMNS, "extra": ["Disc"]},
        "as_of": "2021-04-02",
        "seed": 0,
        "engine": engine,
        "features": {"extra": [SPECS[2] | {"column": "Disc"}]},
    }
    ctx = open_run(write_config(tmp_path, body), tmp_path / "run")
    ctx.run_step("data")
    assert "x_Disc" in ctx.load_frame("transactions.parquet").columns
    ctx.run_step("features")
    features = ctx.load_frame("features.parquet")
    # Customer 11: MUG lines -1 twice (Jan 5, Apr 1) over 6 + 10 + 3 = 19 of sales.
    assert features.loc["11", "discount_share"] == pytest.approx(-2 / 19)
    definitions = ctx.load_frame("feature_definitions.csv").set_index("name")
    row = definitions.loc["discount_share"]
    assert (row["group"], row["unit"], row["definition"]) == (
        "extra",
        "share",
        "Discounts over sales.",
    )
    assert glossary.display_name("discount_share") == "Discount share"


def test_mix_levels_are_pinned_for_every_later_step_and_rebuild(tmp_path):
    header, *lines = TINY_CSV.splitlines()
    (tmp_path / "tx.csv").write_text("\n".join([header, *lines]) + "\n")
    columns = dict(TINY_COLUMNS)
    body = {
        "name": "pinned",
        "transactions": {"path": "tx.csv", "columns": columns},
        "as_of": "2021-04-02",
        "seed": 0,
        "features": {"mix": [{"column": "product_id", "top": 1}]},
    }
    config = write_config(tmp_path, body)
    ctx = open_run(config, tmp_path / "run")
    assert ctx.config.features.mix[0].levels == []
    ctx.run_step("data")
    ctx.run_step("features")
    pinned = ctx.load_json("declared_features.json")["mix_levels"]["product_id"]
    assert len(pinned) == 1
    later = open_run(config, tmp_path / "run")  # the next notebook's kernel
    assert later.config.features.mix[0].levels == pinned
    # A rebuild at an earlier date makes the same mix columns, whatever sold then.
    from segkit.features.step import build

    early = build(
        later.config,
        later.artifact("transactions.parquet"),
        None,
        None,
        as_of=dt.date(2021, 2, 2),
    )["features"]
    now = ctx.load_frame("features.parquet")
    assert [c for c in early if c.startswith("mix_")] == [
        c for c in now if c.startswith("mix_")
    ]
