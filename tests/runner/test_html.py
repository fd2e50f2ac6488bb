"""Tests of segkit.runner.html: the index leads with the summary; pages keep figures."""

from __future__ import annotations

import base64
import json
import re
from html import escape as html_escape
from html.parser import HTMLParser

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from segkit.display import ReportFigure
from segkit.runner.html import (
    export_notebook_html,
    page_neighbours,
    toc_entries,
    write_index,
)
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


def test_index_says_which_steps_were_reused_from_which_run(tmp_path):
    manifest = write_run(tmp_path)
    manifest["steps"] = {
        "data": {"status": "reused", "reused_from": "2026-12-01"},
        "compare": {"status": "reused", "reused_from": "2026-12-01"},
        "validate": {"status": "computed", "reused_from": None},
    }
    page = write_index(tmp_path, manifest).read_text(encoding="utf-8")
    assert "from run 2026-12-01: data, compare; computed now: validate" in page
    del manifest["steps"]
    assert "Reused," not in write_index(tmp_path, manifest).read_text("utf-8")


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


# -- pages built by nbconvert's own mechanisms ----------------------------------


def _notebook(tmp_path, *cells, name="02-x"):
    nb = new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, str(path))
    return path


def _export(path, **kwargs):
    out = path.with_suffix(".html")
    kwargs = {"run_id": "r", "config_name": "c", "status": "ok", **kwargs}
    return export_notebook_html(path, out, **kwargs).read_text(encoding="utf-8")


def test_contents_anchors_are_the_ids_nbconvert_gives_the_headings(tmp_path):
    path = _notebook(
        tmp_path,
        new_markdown_cell("# 02 · Top\n\n```\n# not a heading\n```"),
        new_markdown_cell("## A & `B` *c*\n#### Too deep"),
    )
    page = _export(path)
    toc = page[page.index('<nav class="sk sk-toc">') :]
    toc = toc[: toc.index("</nav>")]
    assert toc_entries(page) == toc_entries(nbformat.read(str(path), as_version=4))
    for entry in toc_entries(page):
        assert f'href="#{html_escape(entry["anchor"])}"' in toc
        assert f'id="{html_escape(entry["anchor"])}"' in page
    assert [e["text"] for e in toc_entries(page)] == ["02 · Top", "A & B c"]
    assert "not a heading" not in toc and "Too deep" not in toc


def test_pages_link_to_their_neighbours_from_the_manifest(tmp_path):
    names = ["01-a", "02-x", "03-c"]
    (tmp_path / "manifest.json").write_text(
        json.dumps({"notebooks": [{"name": n} for n in names]})
    )
    page = _export(_notebook(tmp_path, new_markdown_cell("# Title")))
    assert '<a href="01-a.html" rel="prev">' in page
    assert '<a href="03-c.html" rel="next">' in page
    assert page.count('href="index.html"') >= 2  # header and both link rows
    assert page_neighbours(tmp_path / "01-a.html")["prev"] is None
    assert page_neighbours(tmp_path / "03-c.html") == {
        "prev": {"href": "02-x.html", "name": "02-x"},
        "next": None,
    }
    assert page_neighbours(tmp_path / "09-other.html", names) == {
        "prev": None,
        "next": None,
    }


def test_pages_load_no_script_from_a_cdn_unless_a_cell_holds_math(tmp_path):
    plain = _export(_notebook(tmp_path, new_markdown_cell("# Title")))
    assert "<script src=" not in plain and "mermaid" not in plain
    maths = _export(
        _notebook(tmp_path, new_markdown_cell("# T\nIf $x^2$ holds"), name="03-m")
    )
    assert "mathjax" in maths.lower() and "require.min.js" not in maths


def test_stderr_is_dropped_from_ok_pages_by_the_preprocessor(tmp_path):
    noise = new_output("stream", name="stderr", text="progress-noise")
    path = _notebook(tmp_path, new_code_cell("x", outputs=[noise]))
    assert "progress-noise" not in _export(path)
    assert "progress-noise" in _export(path, status="failed", error="E")
    assert "progress-noise" in path.read_text()  # the notebook itself is untouched


# -- the pages of a full fixture run -----------------------------------------------


class _Visible(HTMLParser):
    """Text a reader sees: no style, script or code (config keys are code)."""

    hidden = {"style", "script", "code"}

    def __init__(self):
        super().__init__()
        self.depth, self.parts = 0, []

    def handle_starttag(self, tag, attrs):
        self.depth += tag in self.hidden

    def handle_endtag(self, tag):
        self.depth -= tag in self.hidden

    def handle_data(self, data):
        if not self.depth:
            self.parts.append(data)


def visible_text(page: str) -> str:
    parser = _Visible()
    parser.feed(page)
    return " ".join(parser.parts)


def _pages(run_dir):
    return sorted(run_dir.glob("*.html"))


def _code_names():
    """Column names of the features and customer values, as the code spells them."""
    from segkit.features.behaviour import FEATURE_DEFINITIONS
    from segkit.features.clv import VALUE_COLUMNS

    names = set(FEATURE_DEFINITIONS["name"]) | set(VALUE_COLUMNS)
    return sorted(n for n in names if "_" in n)


def test_visible_text_leaves_out_code_and_styles():
    text = visible_text(
        "<style>a_b{}</style><p>Days <code>quality.min_customers</code> x_y</p>"
    )
    assert "a_b" not in text and "min_customers" not in text and "x_y" in text


@pytest.mark.slow
def test_no_page_shows_a_feature_by_its_code_name(fixture_run):
    names = _code_names()
    found = {}
    for path in _pages(fixture_run):
        text = visible_text(path.read_text(encoding="utf-8"))
        # a name in quotes is a SQL identifier (the rules' WHERE clauses)
        hits = [n for n in names if re.search(rf"(?<![\w.\"]){n}(?![\w.\"])", text)]
        if hits:
            found[path.name] = hits
    assert found == {}


@pytest.mark.slow
def test_no_table_header_on_a_page_is_a_code_name(fixture_run):
    from bs4 import BeautifulSoup

    found = {}
    for path in _pages(fixture_run):
        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        heads = {th.get_text(strip=True) for th in soup.find_all("th")}
        raw = sorted(
            h for h in heads if re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9%]+)+", h)
        )
        if raw:
            found[path.name] = raw
    assert found == {}


@pytest.mark.slow
def test_no_page_prints_a_bare_python_repr(fixture_run):
    bare = []
    for path in sorted((fixture_run / "notebooks").glob("*.ipynb")):
        for i, cell in enumerate(nbformat.read(str(path), as_version=4).cells):
            for out in cell.get("outputs", []):
                data = out.get("data", {})
                text = data.get("text/plain", "") if set(data) == {"text/plain"} else ""
                if out.get("output_type") == "stream" and out.get("name") == "stdout":
                    text = out.get("text", "")
                if text.lstrip()[:1] in ("{", "[", "(") or "object at 0x" in text:
                    bare.append(f"{path.name} cell {i}: {text[:60]!r}")
    assert bare == []


@pytest.mark.slow
def test_every_page_of_the_fixture_run_is_under_500_kb(fixture_run):
    sizes = {p.name: p.stat().st_size for p in _pages(fixture_run)}
    assert len(sizes) == 6
    assert {name: size for name, size in sizes.items() if size >= 500_000} == {}
