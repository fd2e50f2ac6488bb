"""A customers table covering part of the base (customers.min_coverage)."""

from __future__ import annotations

import pandas as pd
import pytest

from segkit.config import validate_config
from segkit.features import build

IDS = [f"c{i}" for i in range(10)]
LINES = pd.DataFrame(
    {
        "customer_id": IDS * 2,
        "order_id": [f"o{i}" for i in range(20)],
        "timestamp": pd.to_datetime(["2021-01-05"] * 10 + ["2021-03-01"] * 10),
        "quantity": [1.0] * 20,
        "unit_price": [float(i + 1) for i in range(20)],
        "amount": [float(i + 1) for i in range(20)],
    }
)


def _customers(ids):
    return pd.DataFrame(
        {
            "income": [1000.0 * (i + 1) for i in range(len(ids))],
            "region": ["North" if i % 2 else "South" for i in range(len(ids))],
        },
        index=pd.Index(ids, name="customer_id"),
    )


def _config(tmp_path, min_coverage=None):
    customers = {
        "path": "customers.csv",
        "columns": {"customer_id": "id"},
        "attributes": {"demographic": ["income"], "geographic": ["region"]},
    }
    if min_coverage is not None:
        customers["min_coverage"] = min_coverage
    body = {
        "name": "coverage",
        "transactions": {
            "path": "tx.csv",
            "columns": {"customer_id": "c", "timestamp": "t", "amount": "a"},
        },
        "customers": customers,
        "as_of": "2021-04-01",
    }
    return validate_config(body, root=tmp_path)


def _coverage_note(notes):
    (row,) = notes[notes["rule"] == build.COVERAGE_RULE].to_dict("records")
    return row


def test_a_third_of_the_base_describes_segments_but_never_clusters_them(tmp_path):
    config = _config(tmp_path)
    customers = _customers(["c0", "c1", "c2", "c3", "x1"])[:3]  # 3 of 10 covered
    features, notes = build.customer_features(
        config, LINES, None, customers, as_of=pd.Timestamp("2021-04-01").date()
    )
    assert not {"income", "region"} & set(features.columns)
    assert features["frequency"].notna().all() and len(features) == 10
    row = _coverage_note(notes)
    assert row["count"] == 3
    assert "of 10 customers with transactions (30.0%)" in row["detail"]
    assert "NOT used for clustering" in row["detail"]
    described = build.describe_only_attributes(
        config, customers, as_of=None, index=features.index
    )
    assert list(described.index) == ["c0", "c1", "c2"]  # nobody filled in
    assert described["income"].tolist() == [1000.0, 2000.0, 3000.0]
    _, matrix, _ = build.fit_matrix(config, features)
    assert not any("income" in c or "region" in c for c in matrix.columns)


def test_nine_tenths_of_the_base_cluster_as_before(tmp_path):
    config = _config(tmp_path)
    customers = _customers(IDS[:9])
    features, notes = build.customer_features(
        config, LINES, None, customers, as_of=pd.Timestamp("2021-04-01").date()
    )
    assert {"income", "region"} <= set(features.columns)
    assert features.loc["c9", "region"] == "Missing"
    assert pd.isna(features.loc["c9", "income"])  # left for the preprocessor
    row = _coverage_note(notes)
    assert "(90.0%)" in row["detail"] and "are clustering features" in row["detail"]
    assert (
        build.describe_only_attributes(
            config, customers, as_of=None, index=features.index
        )
        is None
    )


@pytest.mark.parametrize("threshold, used", [(0.3, True), (0.31, False)])
def test_the_threshold_is_inclusive(tmp_path, threshold, used):
    config = _config(tmp_path, min_coverage=threshold)
    coverage = build.attribute_coverage(
        config, _customers(["c0", "c1", "c2"]), pd.Index(IDS)
    )
    assert coverage["share"] == pytest.approx(0.3)
    assert coverage["used"] is used


def test_describe_only_attributes_profile_segments_over_the_covered_members():
    from segkit.profiles.profile import describe_attributes

    attrs = _customers(["c0", "c1", "c2"])  # income 1000/2000/3000, S/N/S
    labels = pd.Series([0, 0, 1, 1, 1], index=["c0", "c1", "c2", "c3", "c4"])
    table = describe_attributes(attrs, labels).set_index(
        ["segment", "attribute", "level"]
    )
    assert table.loc[(0, "income", ""), "value"] == 1500.0
    assert table.loc[(1, "income", ""), ["members", "covered"]].tolist() == [3, 1]
    assert table.loc[(1, "region", "South"), "value"] == 1.0
    assert table.loc[(0, "region", "North"), "overall"] == pytest.approx(1 / 3)


def test_the_05_table_of_partial_attributes_shows_its_base_or_nothing():
    from segkit.profiles.report import described_attributes_table

    assert described_attributes_table(None, {}) is None
    described = pd.DataFrame(
        {
            "segment": [0, 1],
            "attribute": ["Income", "Education"],
            "level": [None, "PhD"],
            "members": [5, 4],
            "covered": [2, 1],
            "value": [51000.0, 1.0],
            "overall": [48000.0, 0.25],
        }
    )
    page = described_attributes_table(described, {0: "Loyal", 1: "New"})._repr_html_()
    assert "Attributes that only part of the customers have" in page
    assert "2 of 5" in page and "1 of 4" in page
    assert "Loyal" in page and "New" in page
    assert "100" in page and "25" in page  # the level's share in %, not a fraction
