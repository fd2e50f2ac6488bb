"""Tests of segkit.features.attributes.attribute_features: derived helpers, grouping, notes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from segkit.exceptions import ConfigError, SchemaError
from segkit.features.attributes import NOTE_COLUMNS, attribute_features

AS_OF = dt.date(2024, 1, 1)
PERSONALITY = (
    Path(__file__).resolve().parents[3]
    / "shared/data/customer_personality/marketing_campaign.csv"
)


@pytest.fixture
def customers() -> pd.DataFrame:
    """Six customers checkable by eye."""
    return pd.DataFrame(
        {
            "born": [1984, 1964, 1890, 2015, None, 1994],
            "joined": pd.to_datetime(
                [
                    "2023-01-01",
                    "2022-01-01",
                    "2023-12-01",
                    "2025-06-01",
                    None,
                    "2020-01-01",
                ]
            ),
            "income": [50_000.0, 72_000, None, 31_000, 45_000, 60_000],
            "size": ["11-50", "1-10", "51-200", "1000+", None, "11-50"],
            "country": ["UK", "UK", "France", "Germany", "UK", " UK "],
            "plan": ["gold", "gold", "silver", "silver", "gold", "platinum"],
        },
        index=pd.Index(["1", "2", "3", "4", "5", "6"], name="customer_id"),
    )


def _run(customers, **kwargs):
    settings = dict(
        attributes={
            "demographic": ["income"],
            "firmographic": ["size"],
            "geographic": ["country"],
            "psychographic": ["plan"],
        },
        as_of=AS_OF,
        birth_year="born",
        signup_date="joined",
        top_countries=2,
        rare_share=0.0,
    )
    return attribute_features(customers, **{**settings, **kwargs})


def _rows(notes: pd.DataFrame, column: str, text: str) -> int:
    hit = notes[(notes["column"] == column) & notes["action"].str.contains(text)]
    assert len(hit) == 1, notes.to_string()
    return int(hit["rows"].iloc[0])


def test_age_from_birth_year_with_implausible_ages_set_to_nan_and_counted(customers):
    features, notes = _run(customers)
    # 2024 - birth year; 134 and 9 are implausible, the missing year stays missing
    assert features["age"].tolist() == pytest.approx(
        [40, 60, np.nan, np.nan, np.nan, 30], nan_ok=True
    )
    assert _rows(notes, "born", "implausible") == 2


def test_tenure_from_signup_date_with_future_signups_set_to_nan(customers):
    features, notes = _run(customers)
    assert features["signup_tenure_days"].tolist() == pytest.approx(
        [365, 730, 31, np.nan, np.nan, 1461], nan_ok=True
    )
    assert _rows(notes, "joined", "after as_of") == 1


def test_numeric_bands_become_ordered_codes(customers):
    features, notes = _run(customers)
    # 1-10 < 11-50 < 51-200 < 1000+ -> 0, 1, 2, 3; missing stays NaN
    assert features["size"].tolist() == pytest.approx(
        [1, 0, 2, 3, np.nan, 1], nan_ok=True
    )
    assert _rows(notes, "size", "1-10 < 11-50 < 51-200 < 1000\\+") == 6


def test_an_ordered_categorical_and_a_declared_order_are_kept_in_order(customers):
    ordered = customers.assign(
        plan=pd.Categorical(
            customers["plan"], categories=["silver", "gold", "platinum"], ordered=True
        )
    )
    features, _ = _run(ordered)
    assert features["plan"].tolist() == [1.0, 1, 0, 0, 1, 2]
    declared, notes = _run(customers, ordinal={"plan": ["gold", "platinum"]})
    assert declared["plan"].tolist() == pytest.approx(
        [0, 0, np.nan, np.nan, 0, 1], nan_ok=True
    )
    assert _rows(notes, "plan", "outside the order") == 2


def test_countries_beyond_the_top_n_become_other(customers):
    features, notes = _run(customers)
    # " UK " is trimmed to "UK"; UK (4) is first, then France and Germany (1 each)
    # tie on count, France wins by name
    assert features["country"].tolist() == ["UK", "UK", "France", "Other", "UK", "UK"]
    assert features["country"].dtype == "str"
    assert _rows(notes, "country", "beyond the top 2") == 1


def test_rare_levels_become_other_and_missing_text_is_counted(customers):
    frame = customers.assign(
        plan=["gold", "gold", "silver", "silver", None, "platinum"]
    )
    features, notes = _run(frame, rare_share=0.2)
    # platinum is 1 of 6 = 16.7 % < 20 %; Missing is kept as its own level
    assert features["plan"].tolist() == [
        "gold",
        "gold",
        "silver",
        "silver",
        "Missing",
        "Other",
    ]
    assert _rows(notes, "plan", "rare levels") == 1
    assert _rows(notes, "plan", "missing values set to 'Missing'") == 1


def test_missing_numbers_stay_nan_and_are_counted(customers):
    features, notes = _run(customers)
    assert features["income"].isna().sum() == 1
    assert _rows(notes, "income", "left as NaN") == 1
    assert set(notes.columns) == set(NOTE_COLUMNS)
    assert notes.loc[notes["column"] == "income", "group"].eq("demographic").all()


def test_customers_without_attributes_are_aligned_and_counted(customers):
    wanted = pd.Index(["1", "2", "99"], name="customer_id")
    features, notes = _run(customers, customer_index=wanted)
    assert list(features.index) == ["1", "2", "99"]
    assert features.loc["99", "country"] == "Missing"
    assert np.isnan(features.loc["99", "income"])
    assert _rows(notes, "customer_id", "absent from the customers table") == 1
    assert _rows(notes, "customer_id", "without transactions left out") == 4
    assert _rows(notes, "customer_id", "without any attribute value") == 1


def test_rows_without_a_customer_id_are_left_out_and_counted(customers):
    frame = customers.reset_index().assign(customer_id=["1", None, "3", " ", "5", "6"])
    features, notes = _run(frame)
    assert list(features.index) == ["1", "3", "5", "6"]
    assert _rows(notes, "customer_id", "without a customer id") == 2


def test_a_customer_id_column_works_like_the_index(customers):
    by_index, _ = _run(customers)
    by_column, _ = _run(customers.reset_index())
    assert_frame_equal(by_column, by_index)


def test_attribute_features_does_not_mutate_its_input(customers):
    before = customers.copy()
    _run(customers)
    assert_frame_equal(customers, before)


def test_duplicate_customer_ids_raise_a_schema_error_with_the_fix(customers):
    doubled = pd.concat([customers, customers.iloc[[0]]])
    with pytest.raises(
        SchemaError, match=r"1 duplicated customer ids, e.g. \['1'\].*deduplicate"
    ):
        _run(doubled)


def test_a_declared_column_that_does_not_exist_lists_the_columns_found(customers):
    with pytest.raises(
        SchemaError,
        match=r"'Income' declared in customers.attributes.demographic not found.*"
        r"columns: \['born', 'joined'.*fix the name",
    ):
        _run(customers, attributes={"demographic": ["Income"]})
    with pytest.raises(SchemaError, match=r"'dob' declared in customers.birth_year"):
        _run(customers, birth_year="dob")


def test_bad_declarations_are_config_errors(customers):
    with pytest.raises(
        ConfigError, match=r"group 'behavioral' is unknown.*behavioural"
    ):
        _run(customers, attributes={"behavioral": ["income"]})
    with pytest.raises(ConfigError, match=r"'income' is declared in both"):
        _run(
            customers,
            attributes={"demographic": ["income"], "firmographic": ["income"]},
        )
    with pytest.raises(ConfigError, match="no attribute columns are declared"):
        _run(customers, attributes={}, birth_year=None, signup_date=None)


def test_a_table_without_ids_is_a_schema_error(customers):
    with pytest.raises(SchemaError, match=r"no 'customer_id' index or column"):
        _run(customers.reset_index(drop=True))


@pytest.mark.skipif(not PERSONALITY.exists(), reason="shared Customer Personality file")
def test_customer_personality_attributes_match_a_direct_computation():
    raw = pd.read_csv(PERSONALITY, sep="\t")
    table = raw.assign(
        customer_id=raw["ID"].astype("str"),
        Dt_Customer=pd.to_datetime(raw["Dt_Customer"], format="%d-%m-%Y"),
    ).set_index("customer_id")
    features, notes = attribute_features(
        table,
        attributes={"demographic": ["Education", "Marital_Status", "Income"]},
        as_of=dt.date(2014, 7, 1),
        birth_year="Year_Birth",
        signup_date="Dt_Customer",
        top_countries=10,
        rare_share=0.01,
        ordinal={"Education": ["Basic", "2n Cycle", "Graduation", "Master", "PhD"]},
    )
    assert len(features) == 2240
    assert _rows(notes, "Year_Birth", "implausible") == int(
        (2014 - raw["Year_Birth"] > 100).sum()
    )
    assert _rows(notes, "Income", "left as NaN") == int(raw["Income"].isna().sum())
    # YOLO, Absurd, Alone are rare marital statuses
    assert set(features["Marital_Status"]) == {
        "Married", "Together", "Single", "Divorced", "Widow", "Other",
    }  # fmt: skip
    assert features.loc["5524", "Education"] == 2.0  # Graduation
