"""Tests of the features step: build() on frames and run() on a run folder."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest

from segkit.config import validate_config
from segkit.datasets import make_b2c_transactions
from segkit.display import Note
from segkit.exceptions import ConfigError, DataError
from segkit.features.step import build
from segkit.glossary import display_name
from tests.conftest import ROOT

TX_COLUMNS = {"customer_id": "c", "order_id": "o", "timestamp": "t", "amount": "a"}


def _config(tmp_path, **extra) -> dict:
    raw = {"name": "t", "transactions": {"path": "tx.csv", "columns": TX_COLUMNS}}
    raw.update(extra)
    return validate_config(raw, root=tmp_path)


@pytest.fixture(scope="module")
def synthetic() -> tuple[pd.DataFrame, pd.Series]:
    return make_b2c_transactions(300, n_segments=4, seed=0)


def _customers(ids: list[str]) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "age": rng.integers(20, 70, len(ids)).astype("float64"),
            "region": rng.choice(["north", "south", "east"], len(ids)),
        },
        index=pd.Index(ids, name="customer_id", dtype="str"),
    )


def test_build_returns_aligned_features_rfm_and_matrix(tmp_path, synthetic):
    transactions, _ = synthetic
    result = build(_config(tmp_path), transactions, None, None, as_of=None)
    assert set(result) >= {
        "features",
        "rfm",
        "definitions",
        "notes",
        "preprocessor",
        "matrix",
    }
    features, matrix, rfm = result["features"], result["matrix"], result["rfm"]
    assert features.index.name == "customer_id"
    assert features.index.equals(matrix.index)
    assert features.index.equals(rfm.index)
    assert (matrix.dtypes == "float64").all()
    assert not matrix.isna().any().any()
    assert {"r_score", "f_score", "m_score", "segment"} <= set(rfm.columns)
    assert list(result["definitions"]["name"]) == list(features.columns)
    # as_of None: the day after the last line.
    assert (
        result["as_of"]
        == (transactions["timestamp"].max() + pd.Timedelta(days=1)).date()
    )


def test_build_does_not_mutate_its_inputs(tmp_path, synthetic):
    transactions, _ = synthetic
    before = transactions.copy()
    build(_config(tmp_path), transactions, None, None, as_of=None)
    pd.testing.assert_frame_equal(transactions, before)


def test_planted_segments_differ_in_their_features(tmp_path, synthetic):
    transactions, truth = synthetic
    features = build(_config(tmp_path), transactions, None, None, as_of=None)[
        "features"
    ]
    medians = features.groupby(truth.reindex(features.index)).median()
    assert (features.loc[truth[truth == "one_timers"].index, "frequency"] == 1).all()
    assert medians.loc["champions", "frequency"] > medians.loc["regular", "frequency"]
    assert (
        medians.loc["lapsed", "recency_days"] > medians.loc["regular", "recency_days"]
    )


def test_exclude_drops_features_and_unknown_names_are_config_errors(
    tmp_path, synthetic
):
    transactions, _ = synthetic
    config = _config(tmp_path, features={"exclude": ["seasonality"]})
    result = build(config, transactions, None, None, as_of=None)
    assert "seasonality" not in result["features"].columns
    config = _config(tmp_path, features={"exclude": ["seasonalty"]})
    with pytest.raises(ConfigError, match=r"features.exclude names \['seasonalty'\]"):
        build(config, transactions, None, None, as_of=None)


def test_attributes_join_leaves_numeric_gaps_to_the_preprocessor_with_notes(
    tmp_path, synthetic
):
    transactions, _ = synthetic
    buyers = sorted(transactions["customer_id"].unique())
    # 10 buyers lack a customers row; 5 rows in the table never bought.
    customers = _customers([*buyers[10:], "x1", "x2", "x3", "x4", "x5"])
    before = customers.copy()
    config = _config(
        tmp_path,
        customers={
            "path": "c.csv",
            "columns": {"customer_id": "id"},
            "attributes": {"demographic": ["age"], "geographic": ["region"]},
        },
    )
    result = build(config, transactions, None, customers, as_of=None)
    features, notes = result["features"], result["notes"]
    pd.testing.assert_frame_equal(customers, before)
    assert list(features.index) == buyers
    # Numeric gaps are not median-filled silently: NaN, imputed by the fitted
    # preprocessor; categorical gaps get the explicit level "Missing".
    missing = features.index.isin(buyers[:10])
    assert features.loc[missing, "age"].isna().all()
    assert features.loc[~missing, "age"].notna().all()
    assert (features.loc[missing, "region"] == "Missing").all()
    assert not result["matrix"].isna().any().any()
    counts = dict(zip(notes["rule"], notes["count"], strict=False))
    assert counts["customers table rows without transactions left out"] == 5
    left = "numeric attributes missing: left for the preprocessor"
    assert counts[left] == 10
    plan = result["preprocessor"].describe().set_index("column")
    assert plan.loc["age", "missing"] == 10


def test_an_outcome_declared_as_an_attribute_is_refused(tmp_path, synthetic):
    transactions, _ = synthetic
    buyers = sorted(transactions["customer_id"].unique())
    customers = _customers(buyers)
    config = _config(
        tmp_path,
        customers={
            "path": "c.csv",
            "columns": {"customer_id": "id"},
            "attributes": {"demographic": ["age"], "geographic": ["region"]},
            "outcomes": ["age"],
        },
    )
    with pytest.raises(ConfigError, match=r"customers.outcomes lists \['age'\]"):
        build(config, transactions, None, customers, as_of=None)


def test_attribute_only_data_has_features_but_no_rfm(tmp_path):
    customers = _customers([f"k{i:03d}" for i in range(120)])
    config = validate_config(
        {
            "name": "attr",
            "customers": {
                "path": "c.csv",
                "columns": {"customer_id": "id"},
                "attributes": {"demographic": ["age"], "geographic": ["region"]},
            },
        },
        root=tmp_path,
    )
    result = build(config, None, None, customers, as_of=None)
    assert result["rfm"] is None
    assert len(result["features"]) == 120
    assert result["matrix"].index.equals(result["features"].index)


def test_no_transactions_and_no_attributes_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="neither transactions nor customer attributes"):
        build(_config(tmp_path), None, None, None, as_of=None)


def test_run_writes_every_feature_artifact(tmp_path):
    from segkit.context import open_run

    ctx = open_run(ROOT / "tests" / "fixtures" / "retail_small.yaml", tmp_path / "run")
    ctx.run_step("features")
    for name in (
        "features.parquet",
        "rfm.parquet",
        "matrix.parquet",
        "preprocessor.joblib",
        "feature_definitions.csv",
        "preprocess_notes.csv",
        "preprocess_plan.csv",
        "lifecycle.parquet",
    ):
        assert ctx.has(name), name
    from segkit.features import report as fp

    art = fp.features_artifacts(ctx)
    dupes = fp.duplicates_table(art["plan"])
    # active_months repeats frequency (distinct months ~ orders): frequency is kept;
    # the table names both by their display names
    assert dupes.set_index("dropped").loc["Active months", "kept instead"] == "Orders"
    mix = fp.lifecycle_mix(art["lifecycle"])
    assert list(mix.index) == ["new", "active", "at risk", "lapsed"]
    assert mix["customers"].sum() == len(ctx.load_frame("features.parquet"))
    features = ctx.load_frame("features.parquet")
    matrix = ctx.load_frame("matrix.parquet")
    assert 250 <= len(features) <= 300
    assert features.index.equals(matrix.index)
    pre = joblib.load(ctx.artifact("preprocessor.joblib"))
    again = pre.transform(features)
    np.testing.assert_allclose(np.asarray(again, dtype=float), matrix.to_numpy())
    summary = ctx.load_json("steps/features.json")["summary"]
    assert summary["as_of"] == "2011-12-10"
    assert summary["customers"] == len(features)


def _title(fig) -> str:
    suptitle = fig._suptitle.get_text() if fig._suptitle else ""
    return suptitle or " ".join(ax.get_title() for ax in fig.axes)


def test_notebook_figures_have_titles_and_tables_hold_no_customer_ids(tmp_path):
    from segkit.context import open_run
    from segkit.features import report as fp

    ctx = open_run(ROOT / "tests" / "fixtures" / "retail_small.yaml", tmp_path / "run")
    ctx.run_step("features")
    art = fp.features_artifacts(ctx)
    figures = {
        "distributions": fp.distributions_before_after(art["features"], art["matrix"]),
        "correlation": fp.correlation_heatmap(art["features"]),
        "grid": fp.rfm_grid(art["rfm"]),
        "segments": fp.rfm_segments_chart(art["rfm"], scheme="ten"),
    }
    # no customers table in the fixture: one sentence instead of a placeholder image
    assert "no customers table" in fp.attribute_charts(art["features"], ctx.config)
    for name, fig in figures.items():
        assert _title(fig).strip(), name
    assert "before and after" in _title(figures["distributions"])
    # The grid has one annotated cell per (R, F) pair that holds customers.
    annotated = [t for t in figures["grid"].axes[0].texts if t.get_text()]
    cells = art["rfm"].groupby(["r_score", "f_score"]).ngroups
    assert len(annotated) == cells
    ids = set(art["features"].index)
    for table in (
        fp.definitions_table(art["definitions"]),
        fp.feature_summary_table(art["features"]),
        fp.notes_table(art["notes"]),
        fp.treatment_table(art["plan"]),
        fp.rfm_segments_table(art["rfm"], scheme="ten"),
    ):
        assert not ids & set(map(str, table.index))
    assert set(fp.treatment_table(art["plan"]).index) == set(
        map(display_name, art["features"].columns)
    )
    segments = fp.rfm_segments_table(art["rfm"], scheme="ten")
    assert segments["customers"].sum() == len(art["rfm"])


def test_figures_without_rfm_or_attributes_say_why(tmp_path):
    from segkit.features import report as fp

    # a section with nothing to show says so in one sentence, not in an image
    assert "No transactions" in fp.rfm_grid(None)
    empty = fp.attribute_charts(
        pd.DataFrame({"frequency": [1, 2]}), {"customers": None}
    )
    assert isinstance(empty, Note) and "no customers table" in empty
    assert "no transactions" in fp.rfm_segments_table(None)


def test_plot_tables_name_the_missing_columns():
    from segkit.exceptions import SchemaError
    from segkit.features import report as fp

    with pytest.raises(SchemaError, match=r"definitions table lacks the columns.*pass"):
        fp.definitions_table(pd.DataFrame({"name": ["frequency"]}))
