"""Tests of segkit.display: figures, tables and notes that notebooks show richly."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from segkit.display import Note, ReportFigure, Table, empty_figure, labelled


def test_report_figure_shows_as_png_without_pyplot():
    fig = ReportFigure(figsize=(2, 1))
    fig.subplots().plot([0, 1], [1, 0])
    assert fig._repr_png_().startswith(b"\x89PNG")
    # built outside pyplot: the inline backend never shows it a second time
    assert fig not in [plt.figure(n) for n in plt.get_fignums()]


def test_table_shows_long_text_in_full():
    text = "x" * 200
    table = Table({"value": [text]})
    assert text in table._repr_html_()
    assert text not in pd.DataFrame({"value": [text]})._repr_html_()


def test_table_stays_a_table_through_dataframe_operations():
    table = Table({"item": ["a", "b"], "value": ["1", "2"]}).set_index("item")
    assert isinstance(table, Table)
    assert isinstance(table.loc[["a"]], Table)


def test_note_renders_as_markdown_and_stays_a_string():
    note = Note("**bold**")
    assert note == "**bold**"
    assert isinstance(note, str)
    assert note._repr_markdown_() == "**bold**"


def test_report_figure_png_is_twice_its_css_size_with_the_title_as_alt_text():
    fig = ReportFigure(figsize=(3, 2))
    ax = fig.subplots()
    ax.plot([0, 1], [1, 0])
    ax.set_title("Customers  per\nsegment")
    bundle, metadata = fig._repr_mimebundle_()
    data, meta = bundle["image/png"], metadata["image/png"]
    width = int.from_bytes(data[16:20], "big")
    assert meta["width"] == round(width / 2)
    assert meta["alt"] == "Customers per segment"


def test_report_figure_alt_text_prefers_the_suptitle_and_has_a_fallback():
    fig = ReportFigure()
    fig.subplots(1, 2)
    assert fig.alt_text() == "Figure"
    fig.suptitle("Two panels")
    assert fig.alt_text() == "Two panels"


def test_tables_hide_a_plain_row_counter_and_the_index_name_row():
    counted = Table(pd.DataFrame({"segment": ["Loyal", "New"]}))._repr_html_()
    assert "<th>0</th>" not in counted and "Loyal" in counted
    labelled = Table(
        pd.DataFrame({"number": [3]}, index=pd.Index(["refits"], name="what"))
    )._repr_html_()
    assert "refits" in labelled and ">what<" not in labelled


def test_tables_show_code_names_as_the_glossarys_display_names():
    frame = pd.DataFrame(
        {
            "mean_interpurchase_days": [1.5, 2.0],
            "correlated_with": ["frequency, active_months", "a sentence_with words"],
            "config key": ["validation.keep_jaccard", "frequency"],
        },
        index=pd.Index(["recency_days", "frequency"], name="feature"),
    )
    before = frame.copy()
    shown = labelled(frame)
    assert list(shown.columns) == [
        "Days between orders",
        "Correlated with",
        "config key",
    ]
    assert list(shown.index) == ["Days since last order", "Orders"]
    # a cell is renamed only when it is nothing but code names
    assert list(shown["Correlated with"]) == [
        "Orders, Active months",
        "a sentence_with words",
    ]
    assert list(shown["config key"]) == ["validation.keep_jaccard", "frequency"]
    pd.testing.assert_frame_equal(frame, before)  # the input is untouched
    html = Table(frame)._repr_html_()
    assert "Days between orders" in html and "mean_interpurchase_days" not in html


def test_tables_show_missing_values_as_empty_cells():
    html = Table({"a": [1.0, float("nan")]}, index=["x", "y"])._repr_html_()
    assert "NaN" not in html and "<td></td>" in html


def test_empty_figure_is_one_sentence_not_an_image():
    note = empty_figure("Migration", "no previous run comparison in this run")
    assert isinstance(note, Note)
    assert note == "**Migration**: No previous run comparison in this run."


def test_each_segment_keeps_one_colour_on_every_chart():
    from matplotlib.colors import to_hex

    from segkit.display import segment_colour, segment_palette
    from segkit.profiles.report import snake_plot

    assert segment_colour(-1) == "lightgrey"
    assert segment_colour(1) == segment_colour("1") != segment_colour(0)
    assert segment_palette([0, 1], {0: "A", 1: "B"}) == {
        "A": segment_colour(0),
        "B": segment_colour(1),
    }
    # the snake plot draws segment 1 in segment 1's colour even when it comes first
    snake = pd.DataFrame(
        {
            "segment": [1, 1, 0, 0],
            "feature": ["frequency", "monetary"] * 2,
            "value": [1.0, 0.5, -1.0, -0.5],
        }
    )
    ax = snake_plot(snake, names={0: "A", 1: "B"}).axes[0]
    colours = {line.get_label(): to_hex(line.get_color()) for line in ax.lines}
    assert colours.get("B") == segment_colour(1) and colours.get("A") == segment_colour(
        0
    )


def test_money_columns_carry_the_run_currency_and_shares_are_percentages():
    from segkit.display import Table, set_currency

    table = Table(
        {
            "segment": ["A", "B"],
            "monetary": [5383250.22, -12.5],
            "share of revenue": [0.661, 0.339],
            "orders": [3.0, 1036.0],
        }
    )
    try:
        set_currency("£")
        cells = table._repr_html_()
    finally:
        set_currency("")
    for text in ("£5,383,250", "-£12.5", "66.1%", "33.9%", "1,036"):
        assert f"<td>{text}</td>" in cells
    assert "£" not in Table({"monetary": [1.0]})._repr_html_()


def test_counts_get_thousands_separators_but_years_and_ids_do_not():
    from segkit.display import Table

    cells = Table({"customers": [4334], "year": [2011], "segment_id": [1200]})
    html = cells._repr_html_()
    assert "<td>4,334</td>" in html and "<td>2011</td>" in html
    assert "<td>1200</td>" in html


def test_a_large_figure_gets_fewer_pixels_per_inch_but_keeps_its_css_size():
    from segkit.display import ReportFigure

    small, large = ReportFigure(figsize=(6, 4)), ReportFigure(figsize=(14, 20))
    assert small.png_dpi() == 200
    assert large.png_dpi() == 150  # floor: still sharper than 1x
    large.subplots().plot([0, 1], [0, 1])
    bundle, metadata = large._repr_mimebundle_()
    data = bundle["image/png"]
    width = int.from_bytes(data[16:20], "big")
    # the page shows it at 100 CSS px per inch whatever the PNG's resolution
    assert metadata["image/png"]["width"] == round(width * 100 / 150)
