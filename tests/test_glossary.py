"""Display names of columns (segkit.glossary)."""

from __future__ import annotations

import pytest

from segkit.glossary import display_name, high_low, set_labels


@pytest.fixture(autouse=True)
def _no_labels():
    set_labels(None)
    yield
    set_labels(None)


def test_known_columns_unknown_snake_case_and_camel_case_read_as_words():
    assert display_name("active_months") == "Active months"
    assert display_name("annual_income") == "Annual income"
    assert display_name("NumWebPurchases") == "Num web purchases"
    assert display_name("ID") == "ID"
    assert high_low("active_months") == ("Many active months", "Few active months")


def test_a_configs_labels_win_over_the_glossary_and_name_the_high_low_claims():
    set_labels({"MntWines": "wine spend", "frequency": "visits"})
    assert display_name("MntWines") == "Wine spend"
    assert high_low("MntWines") == ("High wine spend", "Low wine spend")
    assert display_name("frequency") == "Visits"
    assert high_low("frequency") == ("High visits", "Low visits")
    set_labels(None)
    assert display_name("MntWines") == "Mnt wines"


def test_open_run_sets_the_labels_of_its_config(tmp_path):
    from pathlib import Path

    from segkit.context import open_run

    fixture = Path(__file__).parent / "fixtures" / "retail_small.yaml"
    open_run(fixture, tmp_path / "run", ["report.labels={monetary: takings}"])
    assert display_name("monetary") == "Takings"
