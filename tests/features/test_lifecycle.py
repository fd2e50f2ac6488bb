"""Tests of segkit.features.lifecycle: known-answer states, settings, the base mask."""

from __future__ import annotations

import pandas as pd
import pytest

from segkit.config import LifecycleSettings, validate_config
from segkit.exceptions import ConfigError, SchemaError
from segkit.features.lifecycle import (
    STATES,
    active_base,
    lifecycle_states,
    lifecycle_table,
    settings_of,
)


@pytest.fixture
def customers() -> pd.DataFrame:
    """Six customers whose state follows from the default thresholds by hand."""
    return pd.DataFrame(
        {
            # first order 30 days ago -> new
            # bought 5 days ago, long-time weekly buyer -> active
            # big spender, 10 orders every ~20 days, silent 60 days -> at risk (gap)
            # silent 120 days -> at risk (> 90 days)
            # silent 400 days -> lapsed
            # bought monthly, silent 40 days (< 2 x 30) -> active
            "recency_days": [30, 5, 60, 120, 400, 40],
            "frequency": [2, 50, 10, 3, 1, 12],
            "tenure_days": [30, 700, 240, 500, 400, 370],
            "mean_interpurchase_days": [2.0, 14.0, 20.0, 190.0, 400.0, 30.0],
            "monetary": [50.0, 900, 25000, 300, 20, 400],
        },
        index=pd.Index([f"c{i}" for i in range(6)], name="customer_id"),
    )


def test_known_answer_states_and_rules(customers):
    table = lifecycle_table(customers)
    assert table["state"].astype(str).tolist() == [
        "new", "active", "at risk", "at risk", "lapsed", "active",
    ]  # fmt: skip
    assert table.loc["c2", "rule"].startswith("no order for > 90 days or > 2x")
    assert list(table["state"].cat.categories) == list(STATES)
    assert lifecycle_states(customers).name == "lifecycle"


def test_a_valuable_customer_who_stops_buying_is_at_risk_not_active(customers):
    # the big spender's lifetime counts are high, but the silence is 3x the gap
    assert lifecycle_states(customers)["c2"] == "at risk"
    quiet = customers.assign(recency_days=[30, 5, 35, 120, 400, 40])
    assert lifecycle_states(quiet)["c2"] == "active"  # 35 < 2 x 20 = 40 days


def test_thresholds_come_from_the_settings(customers):
    strict = LifecycleSettings(new_days=10, lapsed_days=100, at_risk_days=50)
    states = lifecycle_states(customers, strict).astype(str).tolist()
    # c0 is no longer new; two orders 2 days apart, then silent 30 days: at risk
    assert states == ["at risk", "active", "at risk", "lapsed", "lapsed", "active"]


def test_an_rfm_table_without_tenure_uses_one_recent_order_as_new():
    rfm = pd.DataFrame({"recency": [10, 10, 200], "frequency": [1, 4, 1]})
    assert lifecycle_states(rfm).astype(str).tolist() == ["new", "active", "lapsed"]


def test_the_input_is_not_mutated(customers):
    before = customers.copy()
    lifecycle_table(customers)
    pd.testing.assert_frame_equal(customers, before)


def test_missing_columns_are_a_schema_error():
    with pytest.raises(SchemaError, match="need recency .* and 'frequency'"):
        lifecycle_states(pd.DataFrame({"monetary": [1.0]}))


def _config(tmp_path, **lifecycle):
    tx = {"customer_id": "c", "order_id": "o", "timestamp": "t", "amount": "a"}
    raw = {"name": "t", "transactions": {"path": "tx.csv", "columns": tx}}
    return validate_config({**raw, "lifecycle": lifecycle}, root=tmp_path)


def test_bad_settings_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="lifecycle.at_risk_days=200 exceeds"):
        _config(tmp_path, at_risk_days=200, lapsed_days=100)
    with pytest.raises(ConfigError, match="lifecycle.new_days"):
        _config(tmp_path, new_days=-1)
    with pytest.raises(ConfigError, match="lifecycle.cluster_within"):
        _config(tmp_path, cluster_within=["loyal"])


def test_settings_of_reads_a_config_section_and_defaults_without_one(tmp_path):
    assert settings_of({}) == LifecycleSettings()
    got = settings_of(_config(tmp_path, new_days=30, cluster_within=["active"]))
    assert got.new_days == 30 and got.cluster_within == ["active"]


def test_active_base_limits_to_the_configured_states(customers):
    states = lifecycle_states(customers)
    assert active_base(states).all()
    mask = active_base(states, LifecycleSettings(cluster_within=["active", "at risk"]))
    assert mask.tolist() == [False, True, True, True, False, True]
