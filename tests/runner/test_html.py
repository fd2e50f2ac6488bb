"""Tests of segkit.runner.html: the index leads with the summary; pages keep figures."""

from __future__ import annotations

import base64

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

from segkit.display import ReportFigure
from segkit.runner.html import export_notebook_html, write_index
from tests.runner.test_summary import write_run


def test_index_leads_with_segment_cards_and_trust_before_parameters(tmp_path):
    manifest = write_run(tmp_path)
    manifest |= {"run_id": "r1", "status": "ok"}
    page = write_index(tmp_path, manifest).read_text(encoding="utf-8")
    cards = page.index('<div class="cards">')
    assert (
        page.index("Weak evidence:") < cards < page.index("Parameters and provenance")
    )
    assert "<h3>Occasional</h3>" in page and "<h3>Loyal</h3>" in page
    assert '£400 <span class="muted">(£200 per customer)</span>' in page
    assert "67% of customers" in page
    assert "Play: Win back" in page
    assert '<a href="01-x.html">01-x</a>' in page
    assert "15% of the value of the order lines read" in page


def test_index_says_which_page_failed_when_cards_are_missing(tmp_path):
    notebooks = [
        {"name": "05-profiles", "status": "failed", "html": "05-profiles.html"}
    ]
    manifest = write_run(tmp_path, segments=False, notebooks=notebooks)
    page = write_index(tmp_path, manifest).read_text(encoding="utf-8")
    assert "The segment cards cannot be shown: 05-profiles failed" in page
    assert '<div class="cards">' not in page


def test_stylesheet_is_not_html_escaped(tmp_path):
    page = write_index(tmp_path, write_run(tmp_path)).read_text(encoding="utf-8")
    assert '"Segoe UI"' in page and "&#34;" not in page.split("</style>")[0]


def test_notebook_page_has_alt_text_from_the_title_and_half_size_width(tmp_path):
    fig = ReportFigure(figsize=(4, 2))
    fig.subplots().set_title("Revenue by segment")
    bundle, metadata = fig._repr_mimebundle_()
    data, meta = bundle["image/png"], metadata["image/png"]

    output = new_output(
        "display_data",
        data={"image/png": base64.b64encode(data).decode()},
        metadata={"image/png": meta},
    )
    nb = new_notebook(cells=[new_code_cell("fig", outputs=[output])])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    path = tmp_path / "01-x.ipynb"
    nbformat.write(nb, str(path))
    html = export_notebook_html(
        path, tmp_path / "01-x.html", run_id="r", config_name="c", status="ok"
    ).read_text(encoding="utf-8")
    assert 'alt="Revenue by segment"' in html
    assert f'width="{meta["width"]}"' in html
    assert "jp-OutputArea-prompt {" not in html  # the JupyterLab stylesheet is gone
    assert len(html) < 100_000
