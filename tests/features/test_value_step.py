"""The value step: artifacts, the skip sentence, revenue at risk from model or silence."""

from __future__ import annotations

import pandas as pd
import pytest

from segkit.context import open_run
from segkit.features import value_report, value_step
from segkit.simulate import make_clv_transactions
from tests.conftest import write_config

AS_OF = "2025-06-24"  # 2024-01-01 + 540 days: the end of the simulated history


@pytest.fixture
def planted_run(tmp_path):
    tx = make_clv_transactions(1500, seed=4)
    tx.to_csv(tmp_path / "tx.csv", index=False)
    config = write_config(
        tmp_path,
        {
            "name": "planted",
            "transactions": {
                "path": "tx.csv",
                "columns": {
                    "customer_id": "customer_id",
                    "order_id": "order_id",
                    "timestamp": "timestamp",
                    "amount": "amount",
                },
            },
            "as_of": AS_OF,
        },
    )
    ctx = open_run(config, tmp_path / "run")
    ctx.save_frame("transactions.parquet", tx)
    return ctx, tx


def test_value_step_writes_values_and_a_holdout_check(planted_run):
    ctx, tx = planted_run
    record = value_step.run(ctx)
    assert record["available"] is True
    values = ctx.load_frame("values.parquet")
    assert len(values) == tx["customer_id"].nunique()
    assert values["risk_source"].isin(["", "model"]).all()  # no lifecycle table
    assert record["totals"]["at_risk_customers"] == int(values["at_risk"].sum())
    assert record["totals"]["revenue_at_risk"] == pytest.approx(
        values.loc[values["at_risk"], "run_rate_revenue"].sum()
    )
    art = value_report.value_artifacts(ctx)
    assert "Revenue at risk" in value_report.value_note(art, currency="£")
    assert len(value_report.holdout_table(art)) == 4


def test_silent_customers_count_as_at_risk_even_when_the_model_calls_them_alive(
    planted_run,
):
    ctx, tx = planted_run
    ids = sorted(tx["customer_id"].unique())
    states = pd.DataFrame(
        {"state": ["lapsed"] * 10 + ["active"] * (len(ids) - 10), "rule": ""},
        index=pd.Index(ids, name="customer_id"),
    )
    ctx.save_frame("lifecycle.parquet", states)
    value_step.run(ctx)
    values = ctx.load_frame("values.parquet")
    lapsed = values.loc[ids[:10]]
    assert lapsed["at_risk"].all()
    assert set(lapsed["risk_source"]) <= {"silent", "model and silent"}
    active = values.loc[ids[10:]]
    assert (active["at_risk"] == (active["p_alive"] < 0.5)).all()


def test_a_run_without_transactions_skips_in_one_sentence(tmp_path):
    (tmp_path / "c.csv").write_text("id,age\n1,30\n2,40\n")
    config = write_config(
        tmp_path,
        {
            "name": "attrs",
            "customers": {"path": "c.csv", "columns": {"customer_id": "id"}},
        },
    )
    ctx = open_run(config, tmp_path / "run")
    record = value_step.run(ctx)
    assert record == {
        "available": False,
        "reason": "this run has no transactions, so there is no purchase history "
        "to estimate customer lifetime value from",
    }
    art = value_report.value_artifacts(ctx)
    assert value_report.value_note(art).startswith("**No customer lifetime value")
    assert not ctx.has("values.parquet")
