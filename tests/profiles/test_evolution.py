"""Tests for segkit.profiles.evolution: migration matrix, ARI, size changes, previous runs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_series_equal

from segkit.exceptions import DataError
from segkit.profiles.evolution import (
    LAPSED,
    NEW,
    common_ari,
    compare_assignments,
    find_previous_run,
    migration_counts,
    migration_matrix,
    read_assignments,
    size_changes,
)


def ids(n: int, start: int = 0) -> pd.Index:
    return pd.Index([f"c{i}" for i in range(start, start + n)], name="customer_id")


def test_migration_counts_have_new_and_lapsed_states():
    previous = pd.Series([0, 0, 1, 1], index=["a", "b", "c", "d"])
    current = pd.Series([0, 1, 1, 0], index=["a", "b", "c", "e"])  # d lapsed, e new
    counts = migration_counts(previous, current)
    assert counts.index.tolist() == ["0", "1", NEW]
    assert counts.columns.tolist() == ["0", "1", LAPSED]
    assert counts.loc["0"].tolist() == [1, 1, 0]
    assert counts.loc["1"].tolist() == [0, 1, 1]
    assert counts.loc[NEW].tolist() == [1, 0, 0]


def test_migration_matrix_rows_sum_to_one():
    previous = pd.Series([0, 0, 1, 1], index=["a", "b", "c", "d"])
    current = pd.Series([0, 1, 1, 0], index=["a", "b", "c", "e"])
    matrix = migration_matrix(previous, current)
    assert matrix.loc["0"].tolist() == [0.5, 0.5, 0.0]
    assert np.allclose(matrix.sum(axis=1), 1.0)


def test_size_changes_count_each_segment_before_and_after():
    previous = pd.Series([0, 0, 0, 1], index=list("abcd"))
    current = pd.Series([0, 1, 1, 2], index=list("abcd"))
    sizes = size_changes(previous, current).set_index("segment")
    assert sizes.loc["0", "change"] == -2
    assert sizes.loc["1", "change_pct"] == 100.0
    assert sizes.loc["2", "previous_size"] == 0 and np.isnan(
        sizes.loc["2", "change_pct"]
    )


def drifted(seed: int = 0, n: int = 4000, k: int = 4, moved: float = 0.1):
    rng = np.random.default_rng(seed)
    previous = pd.Series(np.repeat(np.arange(k), n // k), index=ids(n))
    current = previous.copy()
    movers = rng.choice(n, int(moved * n), replace=False)
    shift = rng.integers(1, k, len(movers))
    current.iloc[movers] = (previous.iloc[movers].to_numpy() + shift) % k
    return previous, current


def test_ten_percent_drift_gives_diagonal_near_point_nine_and_ari_near_point_eight():
    previous, current = drifted()
    # the new run numbers the same segments differently
    relabelled = current.map({0: 2, 1: 0, 2: 3, 3: 1})
    evo = compare_assignments(previous, relabelled)
    assert evo.mapping == {0: 2, 1: 0, 2: 3, 3: 1}
    diagonal = [evo.matrix.loc[f"Segment {s}", f"Segment {s}"] for s in range(4)]
    assert np.allclose(diagonal, 0.9, atol=0.03)
    assert evo.ari == pytest.approx(0.8, abs=0.05)
    assert evo.details["stayed_share"] == pytest.approx(0.9)


def test_names_label_the_states_and_unmatched_previous_segments_stay_apart():
    previous = pd.Series([0, 0, 1, 1, 5], index=list("abcde"))
    current = pd.Series([3, 3, 4, 4, 4], index=list("abcde"))
    evo = compare_assignments(previous, current, names={3: "Loyal", 4: "Lapsed"})
    assert evo.matrix.index.tolist() == ["Lapsed", "Loyal", "previous Segment 5", NEW]
    assert evo.matrix.loc["previous Segment 5", "Lapsed"] == 1.0


def test_within_run_comparison_keeps_ids_and_counts_new_customers():
    previous = pd.Series([0, 1], index=["a", "b"])
    current = pd.Series([1, 1, 0], index=["a", "b", "c"])
    evo = compare_assignments(previous, current, match=False, kind="within run")
    assert evo.mapping == {0: 0, 1: 1}
    assert evo.details["customers_new"] == 1
    assert evo.counts.loc[NEW, "Segment 0"] == 1
    long = evo.long_matrix()
    assert set(long.columns) == {
        "comparison",
        "previous",
        "current",
        "customers",
        "share",
    }


def test_ari_is_computed_on_customers_in_both_only():
    previous = pd.Series([0, 0, 1, 1], index=list("abcd"))
    current = pd.Series([1, 1, 0, 0, 0], index=list("abcdz"))
    assert common_ari(previous, current) == 1.0
    assert np.isnan(common_ari(previous, pd.Series([0], index=["a"])))


def test_comparison_does_not_mutate_inputs():
    previous, current = drifted(n=400)
    before_p, before_c = previous.copy(), current.copy()
    compare_assignments(previous, current)
    assert_series_equal(previous, before_p)
    assert_series_equal(current, before_c)


def test_compare_refuses_non_series():
    with pytest.raises(DataError, match="previous assignment must be a Series"):
        compare_assignments([0, 1], pd.Series([0, 1]))


def write_run(folder, name="demo", manifest=True):
    (folder / "artifacts").mkdir(parents=True)
    pd.DataFrame({"customer_id": ["a"], "segment_id": [0]}).to_csv(
        folder / "artifacts" / "assignments.csv", index=False
    )
    if manifest:
        (folder / "manifest.json").write_text(json.dumps({"config": {"name": name}}))
    else:
        (folder / "artifacts" / "segments.json").write_text(
            json.dumps({"config_name": name})
        )


def test_find_previous_run_picks_the_newest_earlier_run_of_the_same_config(tmp_path):
    write_run(tmp_path / "2026-11-20")
    write_run(tmp_path / "2026-11-21", manifest=False)
    write_run(tmp_path / "2026-11-21-2", name="other")
    write_run(tmp_path / "2026-11-23")  # later than the current run
    (tmp_path / "2026-11-22").mkdir()
    assert find_previous_run(tmp_path / "2026-11-22", "demo") == tmp_path / "2026-11-21"
    assert find_previous_run(tmp_path / "2026-11-20", "demo") is None


def test_read_assignments_keeps_ids_as_text(tmp_path):
    path = tmp_path / "assignments.csv"
    path.write_text("customer_id,segment_id,segment_name\n00123,2,x\n")
    assert read_assignments(path).to_dict() == {"00123": 2}


def test_read_assignments_names_the_missing_file_and_columns(tmp_path):
    with pytest.raises(DataError, match="profiles.compare_to must name a run folder"):
        read_assignments(tmp_path / "nope.csv")
    path = tmp_path / "a.csv"
    path.write_text("id,segment\n1,2\n")
    with pytest.raises(
        DataError, match=r"lacks the columns \['customer_id', 'segment_id'\]"
    ):
        read_assignments(path)


def test_within_run_labels_assign_customers_as_of_one_horizon_earlier(tmp_path):
    import datetime as dt

    import yaml

    from segkit.clustering.model import SegmentationModel
    from segkit.context import open_run
    from segkit.features.step import build
    from segkit.profiles.step import within_run_labels

    as_of = dt.date(2011, 12, 10)
    # (orders, days between orders, days since the last order) per planted group;
    # group 3 are new customers whose only orders fall after t0 = as_of - 90 days
    groups = [(12, 20, 5), (1, 1, 300), (4, 45, 60), (2, 10, 20)]
    rows = []
    for g, (orders, gap, last) in enumerate(groups):
        for n in range(20 if g < 3 else 10):
            for o in range(orders):
                day = pd.Timestamp(as_of) - pd.Timedelta(days=last + o * gap + n % 3)
                rows.append(
                    (f"g{g}-{n}", f"g{g}-{n}-{o}", day, 3.0, 10.0 * (3 - g % 3))
                )
    tx = pd.DataFrame(
        rows, columns=["customer_id", "order_id", "timestamp", "quantity", "unit_price"]
    )
    tx = tx.astype({"customer_id": "str", "order_id": "str"})
    tx["amount"] = tx["quantity"] * tx["unit_price"]
    (tmp_path / "pyproject.toml").touch()
    columns = {"customer_id": "c", "order_id": "o", "timestamp": "t", "amount": "a"}
    body = {"name": "drift", "transactions": {"path": "x.csv", "columns": columns}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(body | {"as_of": str(as_of)}))
    ctx = open_run(tmp_path / "c.yaml", tmp_path / "run")
    ctx.save_frame("transactions.parquet", tx)
    built = build(ctx.config, tx, None, None, as_of=as_of)
    model = SegmentationModel(preprocessor=built["preprocessor"], n_segments=3)
    model.fit(built["features"])

    before, t0 = within_run_labels(ctx, model, as_of)
    assert t0 == dt.date(2011, 9, 11)
    assert not before.index.str.startswith("g3-").any()  # new since t0
    assert len(before) == 60
    evo = compare_assignments(before, model.labels_, match=False, kind="within run")
    assert evo.details["customers_new"] == 10
    assert evo.counts.loc[NEW].sum() == 10
    lapsed = before.index[before.index.str.startswith("g1-")]
    assert (before[lapsed] == model.labels_[lapsed]).all()
