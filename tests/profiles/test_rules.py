"""Tests for segkit.profiles.rules: surrogate tree rules as text and SQL, and their fidelity."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal

from segkit.exceptions import DataError
from segkit.profiles.rules import nice_threshold, quote_identifier, surrogate_rules


def planted(seed: int = 0, per_group: int = 100) -> tuple[pd.DataFrame, pd.Series]:
    """Three planted segments on recency / frequency / monetary, with overlap noise."""
    rng = np.random.default_rng(seed)
    centres = [(20, 10, 3000.0), (250, 1, 100.0), (60, 4, 800.0)]
    frames, groups = [], []
    for g, (rec, freq, spend) in enumerate(centres):
        frames.append(
            pd.DataFrame(
                {
                    "recency": rng.normal(rec, rec * 0.3, per_group).round().clip(0),
                    "frequency": rng.poisson(freq, per_group) + 1,
                    "monetary": rng.lognormal(np.log(spend), 0.4, per_group).round(2),
                    "country": "UK",
                }
            )
        )
        groups += [g] * per_group
    features = pd.concat(frames, ignore_index=True)
    features.index = pd.Index(
        [f"c{i}" for i in range(len(features))], name="customer_id"
    )
    return features, pd.Series(groups, index=features.index, name="segment")


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (45.0, 46.0, 45.0),
        (1249.87, 1251.2, 1250.0),
        (0.31, 0.35, 0.31),
        (-3.5, -1.0, -3.0),
        (7.0, 30.0, 10.0),
    ],
)
def test_nice_threshold_is_the_roundest_number_between_neighbours(low, high, expected):
    assert nice_threshold(low, high) == expected


def test_quote_identifier_doubles_inner_quotes():
    assert quote_identifier('avg "basket"') == '"avg ""basket"""'


def test_rules_reproduce_planted_segments_with_high_fidelity():
    features, labels = planted()
    rules = surrogate_rules(features, labels, max_depth=3, names={0: "Best"})
    assert rules.fidelity >= 0.8
    assert (rules.rules["fidelity"] >= 0.8).all()
    assert rules.rules["name"].tolist() == ["Best", "Segment 1", "Segment 2"]
    assert rules.features == ["recency", "frequency", "monetary"]


def test_fidelity_is_the_share_placed_like_the_model():
    features, labels = planted()
    rules = surrogate_rules(features, labels, max_depth=2)
    predicted = rules.predict(features)
    assert rules.fidelity == pytest.approx((predicted == labels).mean())
    row = rules.rules.set_index("segment").loc[1]
    assert row["fidelity"] == pytest.approx((predicted[labels == 1] == 1).mean())


def test_sql_where_clauses_select_the_same_customers_as_the_rules():
    features, labels = planted()
    rules = surrogate_rules(features, labels, max_depth=3)
    predicted = rules.predict(features)
    con = duckdb.connect()
    con.register("customers", features.reset_index())
    for row in rules.rules.itertuples():
        ids = con.execute(
            f"SELECT customer_id FROM customers WHERE {row.sql}"
        ).fetchall()
        assert sorted(i for (i,) in ids) == sorted(
            predicted[predicted == row.segment].index
        )


def test_rule_text_uses_rounded_thresholds():
    features, labels = planted()
    rules = surrogate_rules(features, labels, max_depth=2)
    for leaf in rules.leaves:
        for feature, _, threshold in leaf["conditions"]:
            if feature in ("recency", "frequency"):  # integer-valued columns
                assert float(threshold).is_integer()
    text = " ".join(rules.rules["text"])
    assert ".5" not in text
    assert '"' in rules.rules["sql"].iloc[0]


def test_missing_values_are_filled_with_the_median_in_rules_and_sql():
    features, labels = planted()
    features = features.copy()
    features.loc[features.index[:10], "monetary"] = np.nan
    rules = surrogate_rules(features, labels, max_depth=2)
    assert rules.fill["monetary"] == pytest.approx(features["monetary"].median())
    assert 'COALESCE("monetary"' in " ".join(rules.rules["sql"])
    predicted = rules.predict(features)
    con = duckdb.connect()
    con.register("customers", features.reset_index())
    sql = rules.rules.set_index("segment").loc[1, "sql"]
    ids = con.execute(f"SELECT customer_id FROM customers WHERE {sql}").fetchall()
    assert sorted(i for (i,) in ids) == sorted(predicted[predicted == 1].index)


def test_segment_the_tree_never_predicts_gets_an_empty_rule():
    features, labels = planted()
    labels = labels.copy()
    labels.iloc[:2] = 9  # two customers: too small for any leaf
    rules = surrogate_rules(features, labels, max_depth=2).rules.set_index("segment")
    assert rules.loc[9, "sql"] == "1 = 0"
    assert rules.loc[9, "fidelity"] == 0.0
    assert rules.loc[9, "text"].startswith("no rule")


def test_to_dict_is_json_ready():
    import json

    features, labels = planted()
    data = surrogate_rules(features, labels, max_depth=2).to_dict()
    assert json.loads(json.dumps(data))["max_depth"] == 2


def test_depth_below_one_is_refused():
    features, labels = planted()
    with pytest.raises(DataError, match="profiles.tree_depth is 0"):
        surrogate_rules(features, labels, max_depth=0)


def test_predict_refuses_a_frame_without_the_rule_features():
    features, labels = planted()
    rules = surrogate_rules(features, labels, max_depth=2)
    with pytest.raises(
        DataError, match=r"the rules need the feature columns \['monetary'\]"
    ):
        rules.predict(features.drop(columns="monetary"))


def test_rules_need_numeric_features():
    features, labels = planted()
    with pytest.raises(DataError, match="surrogate rules need customers with numeric"):
        surrogate_rules(features[["country"]], labels)


def test_rules_do_not_mutate_inputs():
    features, labels = planted()
    before_f, before_l = features.copy(), labels.copy()
    surrogate_rules(features, labels).predict(features)
    assert_frame_equal(features, before_f)
    assert_series_equal(labels, before_l)
