"""Tests for segkit.scoring and the SegmentationModel round trip used by scoring."""

from __future__ import annotations

import datetime as dt
import pickle

import numpy as np
import pandas as pd
import pytest
import yaml
from pandas.testing import assert_series_equal

from segkit.clustering.model import SegmentationModel
from segkit.config import load_config
from segkit.data import clean, io
from segkit.exceptions import DataError, InputFileError, ModelError, SchemaError
from segkit.features.step import build
from segkit.profiles.export import ASSIGNMENT_COLUMNS, assignments_frame
from segkit.scoring import score_file
from tests.conftest import ROOT, SHARED_DATA

AS_OF = dt.date(2011, 12, 10)
# planted groups: orders per customer, days between orders, last order days ago, price
GROUPS = {
    "loyal": (12, 20, 5, 40.0),
    "lapsed": (1, 1, 300, 5.0),
    "regular": (4, 45, 60, 12.0),
}
COLUMNS = {
    "customer_id": "CustomerID",
    "order_id": "InvoiceNo",
    "timestamp": "InvoiceDate",
    "quantity": "Quantity",
    "unit_price": "UnitPrice",
}


def transactions(prefix: str, per_group: int, seed: int) -> pd.DataFrame:
    """Order lines of planted customers; ids look like ``<prefix><group><n>``.

    Each customer has a fixed price level and start day, so customers of a group
    differ a little in spend and recency and not at all in their rhythm.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for g, (orders, gap, last, price) in enumerate(GROUPS.values()):
        for n in range(per_group):
            customer = f"{prefix}{g}{n:03d}"
            level = rng.uniform(0.9, 1.1)
            shift = int(rng.integers(0, 3))
            for o in range(orders):
                day = pd.Timestamp(AS_OF) - pd.Timedelta(days=last + o * gap + shift)
                for line in range(2):
                    rows.append(
                        {
                            "InvoiceNo": f"{customer}-{o}",
                            "InvoiceDate": day + pd.Timedelta(hours=10 + line),
                            "Quantity": 3,
                            "UnitPrice": round(price * level, 2),
                            "CustomerID": customer,
                        }
                    )
    return pd.DataFrame(rows)


def group_of(customer_id: str) -> int:
    return int(customer_id[1])


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A 3-segment model fitted on 90 planted customers, saved with config and names."""
    folder = tmp_path_factory.mktemp("score")
    (folder / "pyproject.toml").touch()
    transactions("A", 30, seed=1).to_csv(folder / "train.csv", index=False)
    body = {
        "name": "score-test",
        "transactions": {"path": "train.csv", "columns": COLUMNS},
        "as_of": AS_OF.isoformat(),
        "quality": {"min_customers": 10},
    }
    config_path = folder / "config.yaml"
    config_path.write_text(yaml.safe_dump(body))
    config = load_config(config_path)
    cleaned = clean.clean_transactions(
        io.load_transactions(config).frame, rules=config["cleaning"], as_of=AS_OF
    )
    built = build(config, cleaned.transactions, cleaned.returns, None, as_of=AS_OF)
    model = SegmentationModel(preprocessor=built["preprocessor"], n_segments=3).fit(
        built["features"]
    )
    model.config_ = config
    model.as_of_ = AS_OF
    by_group = {
        group_of(c): int(s) for c, s in model.labels_.items()
    }  # planted group -> segment
    model.names = {by_group[g]: name.title() for g, name in enumerate(GROUPS)}
    run = folder / "2026-11-24" / "artifacts"
    path = model.save(run / "model.joblib")
    return {
        "folder": folder,
        "model": model,
        "path": path,
        "features": built["features"],
        "config_path": config_path,
        "by_group": by_group,
    }


def test_model_recovers_the_planted_groups(fitted):
    labels = fitted["model"].labels_
    groups = labels.index.map(group_of)
    assert pd.crosstab(groups, labels).gt(0).sum(axis=1).tolist() == [1, 1, 1]


def test_save_load_round_trip_gives_identical_predictions_and_names(fitted):
    loaded = SegmentationModel.load(fitted["path"])
    assert_series_equal(
        loaded.predict(fitted["features"]), fitted["model"].predict(fitted["features"])
    )
    assert loaded.names == fitted["model"].names
    assert loaded.segment_name(fitted["by_group"][0]) == "Loyal"


def test_scoring_unseen_customers_puts_them_in_their_planted_segment(fitted, tmp_path):
    new = transactions("B", 5, seed=7)
    new.to_csv(tmp_path / "new.csv", index=False)
    before = new.copy()
    out = score_file(
        fitted["path"], tmp_path / "new.csv", tmp_path / "out" / "scored.csv"
    )
    assert list(out.columns) == ASSIGNMENT_COLUMNS
    assert len(out) == 15
    expected = out["customer_id"].map(lambda c: fitted["by_group"][group_of(c)])
    assert (out["segment_id"] == expected).all()
    assert set(out["segment_name"]) == {"Loyal", "Lapsed", "Regular"}
    assert (out["run_id"] == "2026-11-24").all()
    newest = new["InvoiceDate"].max()  # AS_OF - 5 days: loyal customers' last order
    assert (out["as_of"] == (newest + pd.Timedelta(days=1)).date().isoformat()).all()
    written = pd.read_csv(tmp_path / "out" / "scored.csv", dtype={"customer_id": "str"})
    assert list(written.columns) == ASSIGNMENT_COLUMNS
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "new.csv", parse_dates=["InvoiceDate"]), before
    )


def test_scoring_with_a_config_uses_its_roles(fitted, tmp_path):
    renamed = transactions("B", 2, seed=3).rename(columns={"CustomerID": "Client"})
    renamed.to_csv(tmp_path / "renamed.csv", index=False)
    body = yaml.safe_load(fitted["config_path"].read_text())
    body["transactions"]["columns"]["customer_id"] = "Client"
    (tmp_path / "pyproject.toml").touch()
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(body | {"as_of": None}))
    out = score_file(
        fitted["path"],
        tmp_path / "renamed.csv",
        tmp_path / "s.csv",
        config_path=tmp_path / "other.yaml",
    )
    assert len(out) == 6


def test_missing_model_file_is_named_with_the_fix(tmp_path):
    with pytest.raises(
        InputFileError,
        match=r"model file .*nope.joblib' not found; pass the model.joblib",
    ):
        score_file(tmp_path / "nope.joblib", tmp_path / "in.csv", tmp_path / "out.csv")


def test_missing_input_file_is_named_with_the_fix(fitted, tmp_path):
    with pytest.raises(InputFileError, match=r"input file .*absent.csv' not found"):
        score_file(fitted["path"], tmp_path / "absent.csv", tmp_path / "out.csv")


def test_input_missing_a_mapped_column_is_refused(fitted, tmp_path):
    transactions("B", 1, seed=3).drop(columns="UnitPrice").to_csv(
        tmp_path / "bad.csv", index=False
    )
    with pytest.raises(
        SchemaError, match=r"does not fit the model's config: column 'UnitPrice'"
    ):
        score_file(fitted["path"], tmp_path / "bad.csv", tmp_path / "out.csv")


def test_a_file_that_is_not_a_model_is_refused(tmp_path):
    path = tmp_path / "model.joblib"
    path.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="is not a segkit model file"):
        score_file(path, tmp_path / "in.csv", tmp_path / "out.csv")


def test_model_saved_by_another_library_version_is_refused(fitted, tmp_path):
    path = tmp_path / "old.joblib"
    with fitted["path"].open("rb") as handle:
        header = pickle.load(handle)
        rest = handle.read()
    header["versions"]["sklearn"] = "0.1.0"
    with path.open("wb") as handle:
        pickle.dump(header, handle)
        handle.write(rest)
    with pytest.raises(ModelError, match="was saved with sklearn 0.1.0"):
        score_file(path, tmp_path / "in.csv", tmp_path / "out.csv")


def test_model_without_config_asks_for_one(fitted, tmp_path):
    model = SegmentationModel.load(fitted["path"])
    model.config_ = None
    path = model.save(tmp_path / "bare.joblib")
    (tmp_path / "in.csv").write_text("x\n1\n")
    with pytest.raises(ModelError, match=r"carries no config .* pass config_path"):
        score_file(path, tmp_path / "in.csv", tmp_path / "out.csv")


def test_assignments_frame_has_the_documented_columns():
    labels = pd.Series([1, -1], index=pd.Index(["a", "b"], name="customer_id"))
    out = assignments_frame(labels, names={1: "Loyal"}, run_id="r1", as_of=AS_OF)
    assert list(out.columns) == ASSIGNMENT_COLUMNS
    assert out.to_dict(orient="records") == [
        {
            "customer_id": "a",
            "segment_id": 1,
            "segment_name": "Loyal",
            "run_id": "r1",
            "as_of": "2011-12-10",
        },
        {
            "customer_id": "b",
            "segment_id": -1,
            "segment_name": "Unassigned",
            "run_id": "r1",
            "as_of": "2011-12-10",
        },
    ]


def test_attribute_only_model_scores_a_customers_table(tmp_path):
    rng = np.random.default_rng(0)

    def table(prefix: str, n: int) -> pd.DataFrame:
        rich = np.arange(n) % 2 == 0  # two planted groups: rich wine lovers and others
        return pd.DataFrame(
            {
                "ID": [f"{prefix}{i}" for i in range(n)],
                "Income": np.where(rich, 90_000, 20_000) + rng.normal(0, 2_000, n),
                "MntWines": np.where(rich, 900, 50) + rng.normal(0, 20, n),
            }
        )

    table("A", 40).to_csv(tmp_path / "train.csv", index=False)
    (tmp_path / "pyproject.toml").touch()
    body = {
        "name": "attrs",
        "customers": {
            "path": "train.csv",
            "columns": {"customer_id": "ID"},
            "attributes": {"demographic": ["Income"], "behavioural": ["MntWines"]},
        },
        "as_of": AS_OF.isoformat(),
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(body))
    config = load_config(tmp_path / "c.yaml")
    customers = io.load_customers(config).frame
    built = build(config, None, None, customers, as_of=AS_OF)
    model = SegmentationModel(preprocessor=built["preprocessor"], n_segments=2)
    model.fit(built["features"])
    model.config_, model.as_of_ = config, AS_OF
    path = model.save(tmp_path / "run" / "artifacts" / "model.joblib")
    table("B", 6).to_csv(tmp_path / "new.csv", index=False)
    out = score_file(path, tmp_path / "new.csv", tmp_path / "scored.csv")
    assert out["customer_id"].tolist() == [f"B{i}" for i in range(6)]
    rich = out["segment_id"].iloc[::2]
    assert rich.nunique() == 1 and not out["segment_id"].iloc[1::2].isin(rich).any()
    assert (out["as_of"] == AS_OF.isoformat()).all() and (out["run_id"] == "run").all()


def test_one_customer_scores_without_training_gates(fitted, tmp_path):
    one = transactions("B", 1, seed=5)
    one = one[one["CustomerID"] == "B0000"]  # a loyal customer, alone in the file
    one.to_csv(tmp_path / "one.csv", index=False)
    out = score_file(fitted["path"], tmp_path / "one.csv", tmp_path / "o.csv")
    assert out["customer_id"].tolist() == ["B0000"]
    pinned = score_file(
        fitted["path"], tmp_path / "one.csv", tmp_path / "p.csv", as_of=AS_OF
    )
    assert pinned["segment_id"].tolist() == [fitted["by_group"][0]]
    assert pinned["as_of"].tolist() == [AS_OF.isoformat()]


def test_each_customer_scored_alone_gets_its_segment_in_the_batch(fitted, tmp_path):
    new = transactions("B", 4, seed=11)
    new.to_csv(tmp_path / "all.csv", index=False)
    batch = score_file(
        fitted["path"], tmp_path / "all.csv", tmp_path / "all_out.csv", as_of=AS_OF
    ).set_index("customer_id")["segment_id"]
    for customer, lines in new.groupby("CustomerID"):
        lines.to_csv(tmp_path / "alone.csv", index=False)
        alone = score_file(
            fitted["path"], tmp_path / "alone.csv", tmp_path / "a.csv", as_of=AS_OF
        )
        assert alone["segment_id"].tolist() == [batch[customer]], customer


def test_as_of_scores_later_data_with_the_same_segments(fitted, tmp_path):
    later = transactions("B", 3, seed=13)
    later["InvoiceDate"] = later["InvoiceDate"] + pd.Timedelta(days=400)
    later.to_csv(tmp_path / "later.csv", index=False)
    when = AS_OF + dt.timedelta(days=400)
    out = score_file(
        fitted["path"], tmp_path / "later.csv", tmp_path / "l.csv", as_of=when
    )
    expected = out["customer_id"].map(lambda c: fitted["by_group"][group_of(c)])
    assert (out["segment_id"] == expected).all()
    assert set(out["as_of"]) == {when.isoformat()}
    # Lines on or after as_of are left out: as of the old date nothing is left.
    with pytest.raises(DataError, match="as_of 2011-12-10 is on or before the first"):
        score_file(
            fitted["path"], tmp_path / "later.csv", tmp_path / "x.csv", as_of=AS_OF
        )


def test_a_bad_as_of_is_refused_with_the_format(fitted, tmp_path):
    transactions("B", 1, seed=3).to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(SchemaError, match=r"as_of is '10/12/2011'.*YYYY-MM-DD"):
        score_file(
            fitted["path"], tmp_path / "in.csv", tmp_path / "o.csv", as_of="10/12/2011"
        )


def test_unparseable_dates_name_the_file_column_and_fix(fitted, tmp_path):
    bad = transactions("B", 1, seed=3).astype({"InvoiceDate": "str"})
    bad.loc[0, "InvoiceDate"] = "yesterday"
    bad.to_csv(tmp_path / "dates.csv", index=False)
    with pytest.raises(
        SchemaError,
        match=r"dates.csv' does not fit the model's config: column 'InvoiceDate' "
        r"\(role timestamp\).*read.date_format",
    ):
        score_file(fitted["path"], tmp_path / "dates.csv", tmp_path / "o.csv")


def test_a_file_that_cannot_give_the_model_features_names_them_and_the_role(
    fitted, tmp_path
):
    amounts = transactions("B", 1, seed=3)
    amounts["Amount"] = amounts["Quantity"] * amounts["UnitPrice"]
    amounts = amounts.drop(columns=["Quantity", "UnitPrice"])
    amounts.to_csv(tmp_path / "amounts.csv", index=False)
    body = yaml.safe_load(fitted["config_path"].read_text())
    columns = {k: v for k, v in COLUMNS.items() if k not in ("quantity", "unit_price")}
    body["transactions"]["columns"] = columns | {"amount": "Amount"}
    (tmp_path / "pyproject.toml").touch()
    (tmp_path / "amounts.yaml").write_text(yaml.safe_dump(body))
    with pytest.raises(
        SchemaError,
        match=r"amounts.csv' does not give the features \['items_per_order', "
        r"'avg_unit_price'\].*needs the role quantity.*pass --config",
    ):
        score_file(
            fitted["path"],
            tmp_path / "amounts.csv",
            tmp_path / "o.csv",
            config_path=tmp_path / "amounts.yaml",
        )


def test_a_file_without_order_id_scores_with_orders_per_timestamp(fitted, tmp_path):
    new = transactions("B", 2, seed=17).drop(columns="InvoiceNo")
    new.to_csv(tmp_path / "no_orders.csv", index=False)
    body = yaml.safe_load(fitted["config_path"].read_text())
    del body["transactions"]["columns"]["order_id"]
    (tmp_path / "pyproject.toml").touch()
    (tmp_path / "no_orders.yaml").write_text(yaml.safe_dump(body))
    out = score_file(
        fitted["path"],
        tmp_path / "no_orders.csv",
        tmp_path / "o.csv",
        config_path=tmp_path / "no_orders.yaml",
    )
    # Each planted order has its two lines an hour apart: without order ids each
    # line is its own order, yet the rhythm (and so the segment) is the planted one.
    expected = out["customer_id"].map(lambda c: fitted["by_group"][group_of(c)])
    assert (out["segment_id"] == expected).all()


def _scored_alone(ctx, customers, folder) -> pd.Series:
    """Segment of each customer, scored by score_file on a file of its own raw lines."""
    section = ctx.config["transactions"]
    id_col = section["columns"]["customer_id"]
    raw, _ = io.read_table(section["path"], read=section["read"], text_columns=[id_col])
    raw = raw.assign(_id=io.normalise_ids(raw[id_col]))
    wanted = raw[raw["_id"].isin(set(customers))]
    model_path = ctx.artifact("model.joblib")
    as_of = ctx.load_json("data_summary.json")["as_of"]
    out = {}
    for customer, lines in wanted.groupby("_id"):
        lines.drop(columns="_id").to_csv(folder / "alone.csv", index=False)
        scored = score_file(
            model_path, folder / "alone.csv", folder / "out.csv", as_of=as_of
        )
        out[customer] = int(scored["segment_id"].iloc[0]) if len(scored) else None
    return pd.Series(out, dtype="Int64")


def _row_alone(model, features: pd.DataFrame) -> pd.Series:
    """The fitted model on one features row at a time."""
    return pd.Series(
        [int(model.predict(features.iloc[[i]]).iloc[0]) for i in range(len(features))],
        index=features.index,
    )


def _agreement(ctx, folder, sample: int, seed: int = 0) -> dict[str, float]:
    model = SegmentationModel.load(ctx.artifact("model.joblib"))
    run = model.labels_.astype("int64")
    features = ctx.load_frame("features.parquet")
    rows = _row_alone(model, features.loc[run.index])
    rng = np.random.default_rng(seed)
    chosen = rng.choice(run.index.to_numpy(), min(sample, len(run)), replace=False)
    alone = _scored_alone(ctx, chosen, folder)
    return {
        "rows_alone": float((rows == run).mean()),
        "files_alone": float(
            (alone == run.reindex(alone.index)).fillna(False).astype(bool).mean()
        ),
        "customers": len(run),
        "files": len(alone),
    }


@pytest.fixture(scope="module")
def fixture_run(tmp_path_factory):
    """data, features and compare of tests/fixtures/retail_small.yaml via open_run."""
    from segkit.context import open_run

    folder = tmp_path_factory.mktemp("fixture_run")
    ctx = open_run(ROOT / "tests" / "fixtures" / "retail_small.yaml", folder / "run")
    ctx.run_step("compare")
    return ctx


def test_fixture_customers_scored_alone_get_the_segment_of_the_run(
    fixture_run, tmp_path
):
    # Every customer through the fitted model one row at a time; 30 of them
    # through the whole score_file path, each on a file of its own raw lines.
    figures = _agreement(fixture_run, tmp_path, sample=30)
    print("fixture scored alone:", figures)
    assert figures["rows_alone"] >= 0.99, figures
    assert figures["files_alone"] >= 0.99, figures


@pytest.mark.slow
def test_online_retail_customers_scored_alone_get_the_segment_of_the_run(tmp_path):
    from segkit.context import open_run

    shared = SHARED_DATA / "online_retail" / "online_retail.csv.gz"
    overrides = {"transactions.path": str(shared)} if shared.exists() else None
    ctx = open_run(ROOT / "configs" / "online_retail.yaml", tmp_path / "run", overrides)
    ctx.run_step("compare")
    figures = _agreement(ctx, tmp_path, sample=100)
    print("online retail scored alone:", figures)
    assert figures["rows_alone"] >= 0.99, figures
    assert figures["files_alone"] >= 0.99, figures
