"""Tests of segkit.data.quality: profile, personal-data detection, duplicates, sufficiency."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from segkit.data.quality import (
    PROFILE_COLUMNS,
    detect_pii,
    duplicate_summary,
    quality_profile,
    sufficiency,
    sufficiency_verdict,
)
from segkit.exceptions import DataError, SchemaError
from tests.conftest import ONLINE_RETAIL, TINY_COLUMNS

# Five raw lines as read: CustomerID as text, one missing; Quantity 100 is the
# only value outside the fences [2 - 3*2, 4 + 3*2] = [-4, 10] of (1, 2, 3, 4, 100).
RAW = pd.DataFrame(
    {
        "InvoiceNo": ["1001", "1001", "1002", "1003", "1003"],
        "Quantity": [1, 2, 3, 4, 100],
        "UnitPrice": [2.5, 2.5, 1.0, np.nan, 3.0],
        "CustomerID": ["17850.0", "17850.0", "13047.0", None, "12583.0"],
        "Country": ["United Kingdom", "United Kingdom", "France", "France", "Spain"],
        "Email": ["a@x.com", "a@x.com", "b@y.org", None, "c@z.net"],
    }
)
ROLES = {
    "order_id": "InvoiceNo",
    "quantity": "Quantity",
    "unit_price": "UnitPrice",
    "customer_id": "CustomerID",
    "country": "Country",
}


def _row(profile: pd.DataFrame, column: str) -> pd.Series:
    return profile.set_index("column").loc[column]


# --- quality_profile ---------------------------------------------------------------


def test_quality_profile_has_one_row_per_column_with_the_documented_columns():
    profile = quality_profile(RAW, roles=ROLES, pii={})
    assert list(profile.columns) == PROFILE_COLUMNS
    assert profile["column"].tolist() == list(RAW.columns)


def test_quality_profile_counts_missing_and_distinct_values_by_eye():
    profile = quality_profile(RAW, roles=ROLES, pii={})
    customer = _row(profile, "CustomerID")
    assert customer["missing"] == 1
    assert customer["missing_share"] == pytest.approx(0.2)
    assert customer["distinct"] == 3
    assert _row(profile, "InvoiceNo")["distinct"] == 3
    assert _row(profile, "UnitPrice")["missing"] == 1


def test_quality_profile_inverts_the_role_map_and_leaves_unmapped_columns_blank():
    profile = quality_profile(RAW, roles=ROLES, pii={})
    assert _row(profile, "InvoiceNo")["role"] == "order_id"
    assert _row(profile, "Email")["role"] == ""


def test_quality_profile_counts_outliers_outside_the_iqr_fences():
    profile = quality_profile(RAW, roles=ROLES, pii={}, outlier_iqr=3.0)
    quantity = _row(profile, "Quantity")
    assert quantity["outliers"] == 1
    assert quantity["outlier_share"] == pytest.approx(0.2)
    wide = quality_profile(RAW, roles=ROLES, pii={}, outlier_iqr=50.0)
    assert _row(wide, "Quantity")["outliers"] == 0


def test_quality_profile_outlier_share_is_of_present_values():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 100.0, np.nan, np.nan, np.nan]})
    row = _row(quality_profile(frame, pii={}), "x")
    assert row["outliers"] == 1
    assert row["outlier_share"] == pytest.approx(1 / 5)


def test_quality_profile_leaves_outliers_nan_for_text_columns():
    profile = quality_profile(RAW, roles=ROLES, pii={})
    assert np.isnan(_row(profile, "Country")["outliers"])
    assert np.isnan(_row(profile, "Country")["outlier_share"])


def test_quality_profile_shows_up_to_n_distinct_examples():
    profile = quality_profile(RAW, roles=ROLES, pii={}, n_examples=2)
    assert _row(profile, "Country")["examples"] == "United Kingdom, France"
    assert _row(profile, "InvoiceNo")["examples"] == "1001, 1002"


def test_quality_profile_shortens_long_example_values():
    frame = pd.DataFrame({"Description": ["A" * 100]})
    example = _row(quality_profile(frame, pii={}), "Description")["examples"]
    assert len(example) == 30
    assert example.endswith("…")


def test_quality_profile_masks_personal_data_and_customer_ids():
    profile = quality_profile(RAW, roles=ROLES, pii={"Email": "email"})
    assert _row(profile, "Email")["examples"] == "<hidden: email>"
    assert _row(profile, "Email")["pii"] == "email"
    assert _row(profile, "CustomerID")["examples"] == "<hidden: customer id>"
    assert "17850" not in " ".join(profile["examples"])
    assert "a@x.com" not in " ".join(profile["examples"])


def test_quality_profile_detects_personal_data_when_none_is_given():
    profile = quality_profile(RAW, roles=ROLES)
    assert _row(profile, "Email")["examples"] == "<hidden: email>"


def test_quality_profile_does_not_modify_its_input():
    before = RAW.copy()
    quality_profile(RAW, roles=ROLES)
    assert_frame_equal(RAW, before)


def test_quality_profile_refuses_a_nonpositive_outlier_factor():
    with pytest.raises(DataError, match=r"quality.outlier_iqr is 0.*positive"):
        quality_profile(RAW, outlier_iqr=0)


# --- detect_pii --------------------------------------------------------------------


def test_detect_pii_flags_columns_by_name():
    frame = pd.DataFrame(
        {
            "E-Mail Address": ["x"],
            "mobile_number": ["x"],
            "first_name": ["x"],
            "Surname": ["x"],
            "street": ["x"],
            "PostCode": ["x"],
            "date_of_birth": ["x"],
        }
    )
    assert detect_pii(frame) == {
        "E-Mail Address": "email",
        "mobile_number": "phone",
        "first_name": "name",
        "Surname": "name",
        "street": "address",
        "PostCode": "address",
        "date_of_birth": "birth_date",
    }


def test_detect_pii_flags_columns_by_their_values():
    frame = pd.DataFrame(
        {
            "contact": ["ann@example.com", "bob.smith@mail.co.uk", None],
            "c2": ["+44 20 7946 0958", "(020) 7946 0959", "07700 900123"],
            "c3": ["555-123-4567", "555.123.4568", "07700900124"],
        }
    )
    assert detect_pii(frame) == {"contact": "email", "c2": "phone", "c3": "phone"}


def test_detect_pii_finds_planted_personal_columns_among_ordinary_ones():
    rng = np.random.default_rng(7)
    n = 400
    frame = pd.DataFrame(
        {
            "ref": [f"{x}" for x in rng.integers(100_000, 999_999, n)],
            "sku": [
                f"{x}{c}"
                for x, c in zip(
                    rng.integers(10_000, 99_999, n), "AB" * 200, strict=True
                )
            ],
            "amount": rng.gamma(2.0, 10.0, n).round(2),
            "member_no": rng.integers(10**9, 10**10, n),
            "when": pd.date_range("2021-01-01", periods=n, freq="h").astype("str"),
            "col_a": [f"user{i}@shop{i % 7}.com" for i in range(n)],
            "col_b": [
                f"07{rng.integers(100, 999)} {rng.integers(100_000, 999_999)}"
                for _ in range(n)
            ],
            "float_id": [f"{x}.0" for x in rng.integers(10**8, 10**9, n)],
        }
    )
    assert detect_pii(frame) == {"col_a": "email", "col_b": "phone"}


def test_detect_pii_leaves_online_retail_style_columns_alone():
    frame = pd.DataFrame(
        {
            "InvoiceNo": ["536365", "C536379", "581587"],
            "StockCode": ["85123A", "POST", "BANK CHARGES"],
            "Description": ["WHITE HANGING HEART T-LIGHT HOLDER", "POSTAGE", "Manual"],
            "Quantity": [6, -1, 12],
            "InvoiceDate": ["2010-12-01 08:26:00", "2010-12-01 09:41:00", "2011-12-09"],
            "hour": ["2010-12-01 08", "2011-01-31 17", "2011-12-09 12"],
            "compact": ["20101201 082600", "20110131 170000", "20111209 120000"],
            "UnitPrice": [2.55, 18.0, 0.85],
            "CustomerID": ["17850.0", "14527.0", None],
            "ID": [5524, 2174, 4141],
            "Country": ["United Kingdom", "France", "EIRE"],
        }
    )
    assert detect_pii(frame) == {}


def test_detect_pii_does_not_flag_numeric_phone_like_ids():
    frame = pd.DataFrame({"account": [4477009001230, 4477009001231, 4477009001232]})
    assert detect_pii(frame) == {}


def test_detect_pii_always_flags_declared_columns():
    frame = pd.DataFrame({"Notes": ["likes cats"], "email": ["x"]})
    found = detect_pii(frame, declared=["Notes", "email", "not_in_this_table"])
    assert found == {"Notes": "declared", "email": "email"}


def test_detect_pii_does_not_modify_its_input():
    before = RAW.copy()
    detect_pii(RAW, declared=["Country"])
    assert_frame_equal(RAW, before)


# --- duplicate_summary -------------------------------------------------------------


def test_duplicate_summary_counts_extra_copies_and_groups():
    frame = pd.DataFrame(
        {"a": [1, 1, 1, 2, 3, 3], "b": ["x", "x", "x", "y", None, None]}
    )
    summary = duplicate_summary(frame)
    assert summary == {
        "rows": 6,
        "duplicate_rows": 3,
        "duplicate_share": pytest.approx(0.5),
        "rows_in_duplicate_groups": 5,
    }


def test_duplicate_summary_of_an_empty_table_is_zero():
    summary = duplicate_summary(pd.DataFrame({"a": []}))
    assert summary["duplicate_rows"] == 0
    assert summary["duplicate_share"] == 0.0


# --- sufficiency -------------------------------------------------------------------


def _transactions(customers: int, orders_each: list[int], days: int) -> pd.DataFrame:
    rows = []
    start = pd.Timestamp("2021-01-01")
    for c in range(customers):
        for o in range(orders_each[c % len(orders_each)]):
            rows.append(
                {
                    "customer_id": f"c{c}",
                    "order_id": f"o{c}-{o}",
                    "timestamp": start + pd.Timedelta(days=(c + o) % (days + 1)),
                    "amount": 10.0,
                }
            )
    frame = pd.DataFrame(rows)
    frame.loc[0, "timestamp"] = start
    frame.loc[1, "timestamp"] = start + pd.Timedelta(days=days)
    return frame


GATE = {"min_customers": 10, "min_history_days": 30, "min_repeat_share": 0.5}


def test_sufficiency_passes_data_that_meets_every_threshold():
    # 20 customers, half with 2 orders, 60 days of history
    table = sufficiency(_transactions(20, [2, 1], 60), **GATE)
    assert table["check"].tolist() == [
        "customers",
        "history days",
        "repeat-buyer share",
    ]
    assert table["value"].tolist() == [20.0, 60.0, 0.5]
    assert table["threshold"].tolist() == [10.0, 30.0, 0.5]
    assert table["passed"].tolist() == [True, True, True]


def test_sufficiency_fails_too_few_customers_with_a_plain_message():
    table = sufficiency(_transactions(4, [2], 60), **GATE)
    row = table.set_index("check").loc["customers"]
    assert not row["passed"]
    assert row["message"] == (
        "Only 4 customers; at least 10 are needed for stable segments. "
        "Add data or lower quality.min_customers."
    )


def test_sufficiency_fails_short_history():
    table = sufficiency(_transactions(20, [2], 7), **GATE)
    row = table.set_index("check").loc["history days"]
    assert row["value"] == 7
    assert not row["passed"]
    assert "Only 7 days of history; at least 30" in row["message"]
    assert "quality.min_history_days" in row["message"]


def test_sufficiency_counts_repeat_buyers_by_distinct_orders():
    frame = _transactions(20, [1], 60)
    # a second line of the same order does not make a repeat buyer
    frame = pd.concat([frame, frame.iloc[:5]], ignore_index=True)
    table = sufficiency(frame, **GATE)
    row = table.set_index("check").loc["repeat-buyer share"]
    assert row["value"] == 0.0
    assert not row["passed"]
    assert "Only 0.0% of customers ordered more than once" in row["message"]
    assert "quality.min_repeat_share" in row["message"]


def test_sufficiency_on_attribute_only_data_checks_customers_only():
    customers = pd.DataFrame({"age": range(12)}, index=[f"c{i}" for i in range(12)])
    table = sufficiency(None, customers=customers, **GATE)
    assert table["value"].iloc[0] == 12
    assert bool(table["passed"].iloc[0])
    assert table["passed"].iloc[1:].isna().all()
    assert table["message"].iloc[1].startswith("Does not apply")


def test_sufficiency_needs_transactions_or_customers():
    with pytest.raises(DataError, match="got neither; declare transactions"):
        sufficiency(None, **GATE)


def test_sufficiency_names_missing_canonical_columns():
    frame = pd.DataFrame({"CustomerID": ["1"], "order_id": ["o"], "timestamp": [0]})
    with pytest.raises(
        SchemaError, match=r"\['customer_id'\] are missing.*transactions"
    ):
        sufficiency(frame, **GATE)


def test_sufficiency_does_not_modify_its_input():
    frame = _transactions(20, [2, 1], 60)
    before = frame.copy()
    sufficiency(frame, **GATE)
    assert_frame_equal(frame, before)


def test_sufficiency_verdict_says_the_data_is_sufficient():
    verdict = sufficiency_verdict(sufficiency(_transactions(20, [2, 1], 60), **GATE))
    assert verdict.startswith("The data is sufficient for segmentation.")
    assert "20 customers" in verdict


def test_sufficiency_verdict_warns_with_each_failed_check_and_its_fix():
    verdict = sufficiency_verdict(sufficiency(_transactions(4, [1], 7), **GATE))
    assert verdict.startswith("Warning: the data may be too thin")
    assert "(3 of 3 checks failed)" in verdict
    assert "lower quality.min_customers" in verdict
    assert "lower quality.min_history_days" in verdict


def test_sufficiency_verdict_reads_the_csv_artifact_back(tmp_path):
    customers = pd.DataFrame({"age": range(4)}, index=list("abcd"))
    table = sufficiency(None, customers=customers, **GATE)
    table.to_csv(tmp_path / "sufficiency.csv", index=False)
    again = pd.read_csv(tmp_path / "sufficiency.csv")
    assert sufficiency_verdict(again) == sufficiency_verdict(table)
    assert "(1 of 1 checks failed)" in sufficiency_verdict(again)
    assert "do not apply to attribute-only data" in sufficiency_verdict(again)


def test_sufficiency_verdict_names_missing_columns():
    with pytest.raises(SchemaError, match=r"lacks columns \['passed'\].*sufficiency"):
        sufficiency_verdict(pd.DataFrame({"check": [], "message": []}))


# --- known answers on the real data -------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(not ONLINE_RETAIL.exists(), reason="bundled Online Retail missing")
def test_online_retail_profile_reproduces_the_published_counts():
    raw = pd.read_csv(
        ONLINE_RETAIL,
        dtype={"CustomerID": "str", "InvoiceNo": "str", "StockCode": "str"},
    )
    profile = quality_profile(raw, roles=TINY_COLUMNS).set_index("column")
    assert len(raw) == 541_909
    assert profile.loc["InvoiceNo", "distinct"] == 25_900
    assert profile.loc["CustomerID", "distinct"] == 4_372
    assert profile.loc["CustomerID", "missing"] == 135_080
    assert duplicate_summary(raw)["duplicate_rows"] == 5_268
    assert detect_pii(raw) == {}
