"""CLV as clustering features: known at as_of only, reused at t0, refused in words."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from segkit.config import validate_config
from segkit.context import open_run
from segkit.exceptions import ConfigError, DataError, ModelError
from segkit.features import step as features_step
from segkit.features import value_features
from segkit.features.value_features import VALUE_FEATURES
from segkit.simulate import make_clv_transactions
from segkit.validation import step as validation_step
from tests.conftest import write_config

ROOT = Path(__file__).resolve().parents[2]
AS_OF = dt.date(2025, 6, 24)  # 2024-01-01 + 540 days: the end of the simulated history
T0 = AS_OF - dt.timedelta(days=90)


def _config(tmp_path: Path, **value) -> Path:
    return write_config(
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
            "as_of": AS_OF.isoformat(),
            "value": {"as_features": True, **value},
        },
    )


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A planted BG/NBD history run through data -> features -> value."""
    folder = tmp_path_factory.mktemp("value_features")
    tx = make_clv_transactions(500, seed=4)
    tx.to_csv(folder / "tx.csv", index=False)
    ctx = open_run(_config(folder), folder / "run")
    ctx.run_step("value")
    return ctx, ctx.load_frame("transactions.parquet")


def _with_late_purchases(tx: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """Five customers buy big on ``day`` (lines a leak would show up from)."""
    ids = sorted(tx["customer_id"].astype(str).unique())[:5]
    late = pd.DataFrame(
        {
            "customer_id": ids,
            "order_id": [f"late-{i}" for i in ids],
            "timestamp": pd.Timestamp(day) + pd.Timedelta(hours=12),
            "amount": 5000.0,
        }
    )
    out = pd.concat([tx, late.astype({"customer_id": tx["customer_id"].dtype})])
    return out.reset_index(drop=True)


def test_features_step_adds_the_clv_columns_known_at_as_of(planted):
    ctx, _ = planted
    features = ctx.load_frame("features.parquet")
    values = ctx.load_frame("values.parquet")
    assert list(features.columns[-3:]) == list(VALUE_FEATURES)
    # the features step's own fit at as_of is the value step's (MAP is exact)
    expected = value_features.from_values(values).reindex(features.index)
    assert_frame_equal(features[list(VALUE_FEATURES)], expected, check_names=False)
    definitions = ctx.load_frame("feature_definitions.csv").set_index("name")
    assert (definitions.loc[list(VALUE_FEATURES), "group"] == "value").all()


def test_t0_features_ignore_purchases_planted_on_and_after_t0(planted):
    ctx, tx = planted
    config = ctx.config
    clean = features_step.build(config, tx, None, None, as_of=T0)["features"]
    leaky = _with_late_purchases(
        _with_late_purchases(tx, T0), T0 + dt.timedelta(days=10)
    )
    again = features_step.build(config, leaky, None, None, as_of=T0)["features"]
    assert_frame_equal(again[list(VALUE_FEATURES)], clean[list(VALUE_FEATURES)])
    # ...while the same purchases a day before t0 do move the CLV: the guard can fail
    early = _with_late_purchases(tx, T0 - dt.timedelta(days=1))
    moved = features_step.build(config, early, None, None, as_of=T0)["features"]
    ids = sorted(tx["customer_id"].astype(str).unique())[:5]
    assert (moved.loc[ids, "clv"] > clean.loc[ids, "clv"]).all()


def test_validation_rebuild_at_t0_reuses_the_holdout_fit_and_matches_a_refit(
    planted,
):
    ctx, tx = planted
    record = validation_step._value_record(ctx)
    assert record["holdout"]["t0"] == T0.isoformat()
    before = tx[tx["timestamp"] < pd.Timestamp(T0)]
    build = validation_step._t0_build(record)
    reused = build(ctx.config, before, None, None, as_of=T0)["features"]
    refit = features_step.build(ctx.config, before, None, None, as_of=T0)["features"]
    assert_frame_equal(reused, refit)
    # the holdout values are those of the fit before t0, not today's
    today = ctx.load_frame("features.parquet")["clv"]
    assert not reused["clv"].reindex(today.index).equals(today)


def test_saved_clv_models_predict_what_the_run_fitted(planted):
    ctx, tx = planted
    fit = value_features.load_fit(ctx.artifacts)
    scored = value_features.value_features(ctx.config, tx, as_of=AS_OF, fit=fit)
    features = ctx.load_frame("features.parquet")[list(VALUE_FEATURES)]
    assert_frame_equal(scored, features.reindex(scored.index), check_names=False)


def test_missing_saved_models_are_named(tmp_path):
    with pytest.raises(DataError, match=r"saved CLV models \['clv_purchases.nc'"):
        value_features.load_fit(tmp_path)


def test_as_features_without_the_value_step_is_a_config_error(tmp_path):
    body = {"name": "x", "value": {"enabled": False, "as_features": True}}
    with pytest.raises(
        ConfigError, match=r"value.as_features is true but value.enabled is false"
    ):
        validate_config(body, root=tmp_path)


def test_as_features_on_attribute_only_data_is_a_config_error(tmp_path):
    config = validate_config(
        {
            "name": "attrs",
            "customers": {
                "path": "c.csv",
                "columns": {"customer_id": "id"},
                "attributes": {"demographic": ["age"]},
            },
            "value": {"as_features": True},
        },
        root=tmp_path,
    )
    customers = pd.DataFrame({"age": [30, 40, 50]}, index=["1", "2", "3"])
    with pytest.raises(ConfigError, match=r"as_features is true, but this run has no"):
        features_step.build(config, None, None, customers, as_of=None)


def test_too_little_history_for_clv_features_says_to_switch_them_off(tmp_path):
    config = validate_config(_body_for(tmp_path), root=tmp_path)
    tx = make_clv_transactions(30, seed=1)
    with pytest.raises(
        DataError, match=r"CLV features as of 2025-06-24 could not be computed: only"
    ):
        features_step.build(config, tx, None, None, as_of=AS_OF)


def _body_for(tmp_path: Path) -> dict:
    import yaml

    return yaml.safe_load(_config(tmp_path).read_text())


@pytest.mark.slow
def test_small_fixture_end_to_end_with_clv_features_scores_new_customers(tmp_path):
    from segkit.clustering.model import SegmentationModel
    from segkit.scoring import score_file

    fixture = ROOT / "tests" / "fixtures" / "retail_small.yaml"
    overrides = {
        "clustering.algorithms": ["kmeans"],
        "clustering.representations": ["scaled"],
        "clustering.k_max": 4,
        "value.as_features": True,
    }
    ctx = open_run(fixture, tmp_path / "run", overrides)
    ctx.run_step("profile")
    model = SegmentationModel.load(ctx.artifact("model.joblib"))
    assert set(VALUE_FEATURES) <= set(map(str, model.feature_names_in_))
    payload = ctx.load_json("validation.json")
    assert payload["outcomes"]["t0"] == "2011-09-11"
    assert payload["outcomes"]["value_baseline"]["included"] is True
    assert ctx.has("assignments.csv")
    # scoring the run's own file at its as_of predicts the same CLV, same segments
    data = ROOT / "tests" / "fixtures" / "retail_small.csv.gz"
    out = score_file(
        ctx.artifact("model.joblib"), data, tmp_path / "s.csv", as_of="2011-12-10"
    )
    labels = ctx.load_frame("labels.parquet")["segment"]
    scored = out.set_index("customer_id")["segment_id"]
    assert (scored == labels.reindex(scored.index)).mean() >= 0.99
    # without the saved CLV models next to it, the model refuses to score
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(ctx.artifact("model.joblib"), alone / "model.joblib")
    with pytest.raises(ModelError, match=r"formed with value.as_features.*clv_"):
        score_file(alone / "model.joblib", data, tmp_path / "t.csv")


def test_saved_clv_models_carry_no_customer_id(planted):
    import xarray as xr

    ctx, tx = planted
    ids = set(tx["customer_id"].astype(str))  # c00000, ...: never a position
    for name in value_features.FIT_FILES.values():
        tree = xr.open_datatree(ctx.artifact(name))
        seen = {
            str(v)
            for node in tree.subtree
            for var in [*node.ds.coords.values(), *node.ds.data_vars.values()]
            if var.dtype.kind in "UO"
            for v in var.values.ravel()
        }
        assert not seen & ids, name
