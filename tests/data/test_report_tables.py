"""Tests of segkit.data.report_tables: the tables and notes of notebook 01-explore."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from segkit.context import RunContext
from segkit.data import report_tables as explore_tables
from segkit.data.quality import quality_profile, sufficiency
from segkit.display import Note, Table
from segkit.exceptions import SchemaError
from tests.explore_artifacts import LEDGER, PROFILE


def test_explore_artifacts_loads_what_exists_and_gives_none_for_the_rest(tmp_path):
    ctx = RunContext(config={}, run_dir=tmp_path)
    ctx.save_frame("ledger.csv", LEDGER)
    ctx.save_json("pii.json", {"customers.Email": "email"})
    found = explore_tables.explore_artifacts(ctx)
    assert_frame_equal(found["ledger"], LEDGER)
    assert found["pii"] == {"customers.Email": "email"}
    assert found["transactions"] is None
    assert found["summary"] is None


def test_provenance_table_labels_the_summary_and_skips_absent_keys():
    table = explore_tables.provenance_table(
        {"source_file": "x.csv", "raw_rows": 541909, "raw_columns": ["a", "b"]}
    )
    assert table["value"].to_dict() == {
        "transactions file": "x.csv",
        "rows read": "541,909",
        "columns read": "a, b",
    }


def test_schema_table_shows_roles_types_and_masked_examples():
    table = explore_tables.schema_table(PROFILE)
    assert table.loc["CustomerID", "role"] == "customer_id"
    assert table.loc["Email", "role"] == "-"
    assert table.loc["CustomerID", "distinct values"] == "1,234"
    assert table.loc["Email", "examples"] == "<hidden: email>"


def test_quality_table_reads_back_from_csv_with_blank_roles(tmp_path):
    PROFILE.to_csv(tmp_path / "quality.csv", index=False)
    table = explore_tables.quality_table(pd.read_csv(tmp_path / "quality.csv"))
    assert table.loc["CustomerID", "missing %"] == "25.0%"
    assert table.loc["Quantity", "outliers"] == "3"
    assert table.loc["Quantity", "outliers %"] == "37.5%"
    assert table.loc["CustomerID", "outliers"] == ""
    assert table.loc["Email", "personal data"] == "email"
    assert table.loc["Quantity", "personal data"] == ""


def test_quality_table_of_a_real_profile():
    profile = quality_profile(pd.DataFrame({"x": [1, 2, None]}), pii={})
    assert explore_tables.quality_table(profile).loc["x", "missing %"] == "33.3%"


def test_ledger_table_shows_share_of_raw_rows():
    table = explore_tables.ledger_table(LEDGER)
    assert table.index.tolist() == [
        "raw",
        "missing customer id",
        "cancellations",
        "duplicates",
        "kept",
    ]
    assert table.loc["cancellations", "% of raw rows"] == "20.0%"
    assert table.loc["kept", "rows left"] == "6"


def test_ledger_check_states_that_the_rows_add_up():
    note = explore_tables.ledger_check(LEDGER)
    assert "10 rows read = 6 kept + 4 removed** by 3 of 3 rules" in note


def test_ledger_check_warns_when_rows_go_missing():
    broken = LEDGER.assign(rows=[10, 1, 2, 1, 5])
    note = explore_tables.ledger_check(broken)
    assert note.startswith("**Warning: the ledger does not add up**")
    assert "5 kept + 4 removed = 9" in note


def test_ledger_helpers_name_missing_columns():
    with pytest.raises(
        SchemaError, match=r"cleaning ledger lacks the columns \['value'\]"
    ):
        explore_tables.ledger_table(LEDGER.drop(columns="value"))


def test_tables_and_notes_explain_absent_artifacts():
    # a section with nothing to show says so in one sentence, not in a table
    for table in (
        explore_tables.provenance_table(None),
        explore_tables.schema_table(None),
        explore_tables.quality_table(None),
        explore_tables.ledger_table(None),
        explore_tables.attribute_summary(None),
        explore_tables.sufficiency_table(None),
    ):
        assert isinstance(table, Note) and table.endswith(".")
    assert explore_tables.ledger_check(None).startswith("There is no cleaning ledger")
    assert explore_tables.duplicates_note(None).startswith(
        "Duplicates were not counted"
    )
    assert explore_tables.sufficiency_note(None).startswith("The sufficiency checks")


def test_duplicates_note_gives_count_and_share():
    note = explore_tables.duplicates_note(
        {
            "rows": 541909,
            "duplicate_rows": 5268,
            "duplicate_share": 5268 / 541909,
            "rows_in_duplicate_groups": 10147,
        }
    )
    assert "**5,268 of the 541,909 rows read (0.97%)" in note
    no_dups = {"rows": 3, "duplicate_rows": 0}
    assert explore_tables.duplicates_note(no_dups).startswith("None of the 3 rows")


def test_pii_note_lists_columns_but_never_values():
    note = explore_tables.pii_note({"customers.Email": "email"})
    assert "`customers.Email` (email)" in note
    assert explore_tables.pii_note({}).startswith("No column looks like personal data")


def test_sufficiency_note_bolds_a_warning():
    customers = pd.DataFrame({"age": [30, 40]}, index=["a", "b"])
    table = sufficiency(
        None,
        customers=customers,
        min_customers=5,
        min_history_days=1,
        min_repeat_share=0.1,
    )
    assert explore_tables.sufficiency_note(table).startswith("**Warning")


def test_sufficiency_table_formats_counts_shares_and_results(tmp_path):
    customers = pd.DataFrame({"age": [30, 40]}, index=["a", "b"])
    table = sufficiency(
        None,
        customers=customers,
        min_customers=5,
        min_history_days=1,
        min_repeat_share=0.1,
    )
    table.to_csv(tmp_path / "s.csv", index=False)
    shown = explore_tables.sufficiency_table(pd.read_csv(tmp_path / "s.csv"))
    assert shown.loc["customers"].tolist()[:3] == ["2", "5", "failed"]
    assert shown.loc["repeat-buyer share", "minimum"] == "10.0%"
    assert shown.loc["history days", "result"] == "does not apply"


def test_attribute_summary_describes_numbers_and_categories_and_hides_pii():
    customers = pd.DataFrame(
        {
            "Income": [10.0, 20.0, 30.0, 40.0, np.nan],
            "Education": ["PhD", "PhD", "Master", "Basic", "PhD"],
            "Email": ["a@b.c"] * 5,
            "Joined": pd.to_datetime(["2012-08-31", "2014-01-01", None, None, None]),
            "Spend": [100.0, 20_000.0, 50_000.0, 80_000.0, 100_000.0],
            "Response": [0, 0, 0, 0, 1],
        },
        index=pd.Index(list("abcde"), name="customer_id"),
    )
    before = customers.copy()
    table = explore_tables.attribute_summary(
        customers,
        config={
            "customers": {
                "attributes": {"demographic": ["Income", "Education"]},
                "outcomes": ["Response"],
                "signup_date": "Joined",
            }
        },
        pii={"customers.Email": "email"},
    )
    assert table.loc["Income", "group"] == "demographic"
    assert table.loc["Income", "missing %"] == "20.0%"
    assert table.loc["Income", "summary"] == "median 25 (5-95%: 11.5 to 38.5)"
    assert table.loc["Spend", "summary"] == "median 50,000 (5-95%: 4,080 to 96,000)"
    assert table.loc["Joined", "summary"] == "from 2012-08-31 to 2014-01-01"
    assert table.loc["Joined", "group"] == "tenure"
    assert table.loc["Response", "summary"] == "0 80%, 1 20%"
    assert table.loc["Response", "group"] == "outcome"
    assert table.loc["Education", "summary"] == "PhD 60%, Master 20%, Basic 20%"
    assert table.loc["Email", "group"] == "other"
    assert table.loc["Email", "summary"] == "<hidden: email>"
    assert_frame_equal(customers, before)


def test_tables_show_long_text_in_full_in_notebooks():
    sha = "b935ea31160166b15b85e447d961fa2c129b4f79c6872dc5125fb6a8" + "0" * 8
    table = explore_tables.provenance_table({"sha256": sha})
    assert isinstance(table, Table)
    assert sha in table._repr_html_()
