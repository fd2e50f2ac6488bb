"""Tests of segkit.data.report: the figures of notebook 01-explore."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.figure import Figure
from pandas.testing import assert_frame_equal

import segkit.display
from segkit.data import report as explore
from segkit.exceptions import SchemaError
from tests.explore_artifacts import LEDGER, PROFILE

# Six clean lines, four orders, four customers: c1 orders twice (Jan, Mar), c4 once
# from Germany and once from France (3 lines vs 1: counted in Germany).
TRANSACTIONS = pd.DataFrame(
    {
        "customer_id": ["c1", "c1", "c2", "c3", "c1", "c4"],
        "order_id": ["o1", "o1", "o2", "o3", "o4", "o5"],
        "timestamp": pd.to_datetime(
            [
                "2021-01-01 10:00",
                "2021-01-01 10:00",
                "2021-01-20 09:00",
                "2021-02-03 12:00",
                "2021-03-15 08:00",
                "2021-03-20 08:00",
            ]
        ),
        "amount": [10.0, 30.0, 100.0, 5.0, 1000.0, 7.0],
        "country": [
            "United Kingdom",
            "United Kingdom",
            "United Kingdom",
            "France",
            "United Kingdom",
            "Germany",
        ],
    }
)


def _titles(fig: Figure) -> str:
    parts = [fig._suptitle.get_text() if fig._suptitle else ""]
    parts += [ax.get_title() for ax in fig.axes]
    return " ".join(parts)


def _texts(fig: Figure) -> str:
    return " ".join(t.get_text() for ax in fig.axes for t in ax.texts)


# --- figures -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "data"),
    [
        (explore.ledger_chart, LEDGER),
        (explore.orders_over_time, TRANSACTIONS),
        (explore.customers_by_country, TRANSACTIONS),
        (explore.order_value_distribution, TRANSACTIONS),
        (explore.missingness_chart, PROFILE),
    ],
)
def test_every_figure_has_a_title_and_labelled_axes(function, data):
    fig = function(data)
    assert isinstance(fig, Figure)
    assert _titles(fig).strip()
    # every panel is labelled; panels sharing an axis label it once
    assert all(ax.get_xlabel() or ax.get_ylabel() for ax in fig.axes)
    assert any(ax.get_xlabel() for ax in fig.axes)
    assert any(ax.get_ylabel() for ax in fig.axes)


@pytest.mark.parametrize(
    "function",
    [
        explore.ledger_chart,
        explore.orders_over_time,
        explore.customers_by_country,
        explore.order_value_distribution,
        explore.missingness_chart,
    ],
)
def test_every_figure_explains_why_it_is_empty_when_given_none(function):
    fig = function(None)
    assert isinstance(fig, Figure)
    assert _titles(fig).strip()
    assert _texts(fig).startswith(("No ", "Nothing to show"))


def test_figures_do_not_modify_their_inputs():
    before = TRANSACTIONS.copy()
    explore.orders_over_time(TRANSACTIONS)
    explore.customers_by_country(TRANSACTIONS)
    explore.order_value_distribution(TRANSACTIONS)
    assert_frame_equal(TRANSACTIONS, before)


def test_ledger_chart_draws_removed_rows_and_value_per_rule_only():
    fig = explore.ledger_chart(LEDGER)
    rows_ax, value_ax = fig.axes
    assert [p.get_width() for p in rows_ax.patches] == [1, 2, 1]
    assert [p.get_width() for p in value_ax.patches] == [15.0, -30.0, 3.0]
    labels = [t.get_text() for t in rows_ax.get_yticklabels()]
    assert labels == ["missing customer id", "cancellations", "duplicates"]
    assert "10 lines read, 6 kept" in _titles(fig)


def test_orders_over_time_counts_distinct_orders_and_sums_revenue_per_month():
    fig = explore.orders_over_time(TRANSACTIONS)
    orders_ax, revenue_ax = fig.axes
    assert [p.get_height() for p in orders_ax.patches] == [2, 1, 2]
    assert [p.get_height() for p in revenue_ax.patches] == [140.0, 5.0, 1007.0]


def test_orders_over_time_hatches_months_the_data_covers_in_part():
    # data ends on 20 March: March is partial; January starts on the 1st
    fig = explore.orders_over_time(TRANSACTIONS)
    hatches = [p.get_hatch() for p in fig.axes[0].patches]
    assert hatches == [None, None, "//"]


def test_orders_over_time_shows_empty_months_as_zero():
    frame = TRANSACTIONS[TRANSACTIONS["timestamp"].dt.month != 2]
    fig = explore.orders_over_time(frame)
    assert [p.get_height() for p in fig.axes[0].patches] == [2, 0, 2]


def test_customers_by_country_counts_each_customer_once_in_their_main_country():
    frame = pd.concat(
        [TRANSACTIONS, TRANSACTIONS.iloc[[5, 5]].assign(order_id="o6")],
        ignore_index=True,
    )
    frame.loc[5, "country"] = "France"  # c4: 1 line France, 2 lines Germany
    fig = explore.customers_by_country(frame, min_share=0)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert dict(zip(labels, [p.get_width() for p in ax.patches], strict=True)) == {
        "United Kingdom": 2,
        "France": 1,
        "Germany": 1,
    }


def test_customers_by_country_groups_small_countries_into_other():
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(10)],
            "country": ["UK"] * 6 + ["FR"] * 2 + ["DE", "ES"],
        }
    )
    fig = explore.customers_by_country(frame, top=2)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["UK", "FR", "Other (2 countries)"]
    assert [p.get_width() for p in ax.patches] == [6, 2, 2]
    fig = explore.customers_by_country(frame, top=10, min_share=0.15)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["UK", "FR", "Other (2 countries)"]


def test_customers_by_country_without_a_country_column_says_so():
    fig = explore.customers_by_country(TRANSACTIONS.drop(columns="country"))
    assert "No country column" in _texts(fig)


def test_order_value_distribution_uses_order_totals_and_marks_the_median():
    # order totals 40, 100, 5, 1000, 7 -> median 40
    fig = explore.order_value_distribution(TRANSACTIONS)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert "(5 orders)" in ax.get_title()
    assert "median order: 40" in _texts(fig)


def test_order_value_distribution_leaves_out_nonpositive_orders():
    frame = pd.concat(
        [TRANSACTIONS, TRANSACTIONS.iloc[[0]].assign(order_id="o9", amount=-3.0)]
    )
    assert "(5 orders)" in explore.order_value_distribution(frame).axes[0].get_title()


def test_order_value_distribution_names_missing_columns():
    with pytest.raises(
        SchemaError, match=r"lacks the columns \['amount'\].*pass transactions.parquet"
    ):
        explore.order_value_distribution(TRANSACTIONS.drop(columns="amount"))


def test_missingness_chart_draws_each_columns_missing_share():
    fig = explore.missingness_chart(PROFILE)
    ax = fig.axes[0]
    assert [p.get_width() for p in ax.patches] == [0.25, 0.0, 0.0]
    assert "most: CustomerID, 25.0%" in ax.get_title()


def test_missingness_chart_names_missing_columns():
    with pytest.raises(SchemaError, match=r"\['missing_share'\].*pass quality.csv"):
        explore.missingness_chart(PROFILE.drop(columns="missing_share"))


def test_report_figures_show_as_png_in_notebooks():
    png = explore.order_value_distribution(TRANSACTIONS)._repr_png_()
    assert png.startswith(b"\x89PNG")


def test_display_objects_are_still_importable_from_this_module():
    # segkit.features.report, .profile and .validate import them from here
    assert explore.ReportFigure is segkit.display.ReportFigure
    assert explore.Table is segkit.display.Table
    assert explore.Note is segkit.display.Note
