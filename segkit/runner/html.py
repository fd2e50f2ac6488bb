"""HTML for reviewers: one page per executed notebook, and the run's ``index.html``.

Notebook pages come from nbconvert's ``lab`` template (extended by
``templates/segkit_page``: a small stylesheet of the project's own, figures with alt
text) with every code input hidden
(markdown, tables and figures stay; figures are embedded as base64 ``data:`` URIs;
stderr noise such as progress bars is dropped from notebooks that ran ``ok``).
nbconvert has no table of contents; the preprocessors of
:mod:`segkit.runner.page_preprocessors` collect one from the markdown headings and
the template draws it under a small header (run id, config name, status) with links
to the previous and next page and to the index. A failed notebook's page says so
in red and links to the error.

``index.html`` is a single self-contained page (inline CSS, no scripts) that leads
with an executive summary (:mod:`segkit.runner.summary`: one trust sentence, data
coverage, one card per segment, links to every page), then the run's parameters
and provenance, a status table per notebook and, folded away, the raw headline
numbers of the step summaries.
"""

from __future__ import annotations

import functools
import html
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from segkit.runner.page_preprocessors import (
    DropStderr,
    HeadingsToc,
    html_headings,
    markdown_headings,
)
from segkit.runner.summary import build_summary

__all__ = [
    "toc_entries",
    "export_notebook_html",
    "page_neighbours",
    "HEADLINE_MEANINGS",
    "headline_numbers",
    "write_index",
]

logger = logging.getLogger(__name__)

_TEMPLATES = Path(__file__).resolve().parent / "templates"


@functools.cache
def _environment():
    import jinja2

    return jinja2.Environment(
        # the run's index first; the page header parts live with the page template
        loader=jinja2.FileSystemLoader(
            [str(_TEMPLATES), str(_TEMPLATES / "segkit_page")]
        ),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


@functools.cache
def _page_exporter() -> type:
    """nbconvert's HTMLExporter, its compiled templates kept for the process.

    Every HTMLExporter builds its own Jinja environment, so each page compiled the
    lab template and the dozen it includes anew: about 0.2 s a page (the five
    pages of an Online Retail run: 2.63 s, 1.86 s with the compiled templates
    kept; the pages are the same bytes). Jinja's bytecode cache is the library's own
    way to skip that; here it lives in memory, keyed by Jinja on the template's
    name and the checksum of its source, so an edited template compiles afresh.
    """
    import jinja2
    from nbconvert import HTMLExporter

    class Compiled(jinja2.BytecodeCache):
        def __init__(self) -> None:
            self.code: dict[str, bytes] = {}

        def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            code = self.code.get(bucket.key)
            if code is not None:
                bucket.bytecode_from_string(code)

        def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            self.code[bucket.key] = bucket.bytecode_to_string()

    compiled = Compiled()

    class PageExporter(HTMLExporter):
        def _create_environment(self):
            environment = super()._create_environment()
            environment.bytecode_cache = compiled
            return environment

    return PageExporter


def _css() -> str:
    return (_TEMPLATES / "segkit.css").read_text(encoding="utf-8")


def _render(template: str, **context: Any) -> str:
    return _environment().get_template(template).render(css=_css(), **context)


def toc_entries(source: Any, max_level: int = 3) -> list[dict[str, Any]]:
    """Headings of a notebook, in order, for a table of contents.

    Parameters
    ----------
    source : NotebookNode or str
        A notebook (``nbformat.read``): its markdown cells are parsed with mistune,
        nbconvert's own markdown parser (what the pages use). Or a page's HTML: its
        ``<h1>``-``<h6>`` elements with an ``id`` are read with an HTML parser.
    max_level : int
        Deepest heading level listed (``3``: h1 to h3).

    Returns
    -------
    list of dict
        ``{"level": int, "anchor": str, "text": str}``: the anchor is the ``id``
        nbconvert gives the heading on the page; text and anchor unescaped.
    """
    if isinstance(source, str):
        return html_headings(source, max_level)
    return [
        entry
        for cell in source.cells
        if cell.get("cell_type") == "markdown"
        for entry in markdown_headings(cell.get("source", ""), max_level)
    ]


def page_neighbours(
    html_path: str | Path, pages: list[str] | None = None
) -> dict[str, dict[str, str] | None]:
    """The previous and next page of a run page, as ``{"prev", "next"}`` links.

    Parameters
    ----------
    html_path : str or Path
        The page (``<run>/NN-name.html``).
    pages : list of str, optional
        The run's notebook names in order; by default read from the run's
        ``manifest.json`` (every notebook of the run, run or not yet), so the first
        page already links to the second before that one exists.

    Returns
    -------
    dict
        ``prev`` and ``next``: ``{"href": "NN-name.html", "name": "NN-name"}`` or
        None at either end (or when the page is not one of ``pages``).
    """
    html_path = Path(html_path)
    if pages is None:
        manifest = html_path.parent / "manifest.json"
        try:
            record = json.loads(manifest.read_text(encoding="utf-8"))
            pages = [str(nb["name"]) for nb in record.get("notebooks", [])]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pages = []
    name = html_path.stem
    if name not in pages:
        return {"prev": None, "next": None}
    at = pages.index(name)

    def link(i: int) -> dict[str, str] | None:
        if 0 <= i < len(pages):
            return {"href": f"{pages[i]}.html", "name": pages[i]}
        return None

    return {"prev": link(at - 1), "next": link(at + 1)}


def export_notebook_html(
    ipynb_path: str | Path,
    html_path: str | Path,
    *,
    run_id: str,
    config_name: str,
    status: str,
    seconds: float | None = None,
    error: str | None = None,
    pages: list[str] | None = None,
) -> Path:
    """Export an executed notebook to HTML with code hidden and a table of contents.

    Markdown, tables and figures stay; code inputs are hidden. In a notebook that
    ran ``ok``, stderr streams (progress bars, library warnings) are left out of the
    page too (:class:`~segkit.runner.page_preprocessors.DropStderr`); they stay in
    the executed ``.ipynb``, and a failed notebook keeps them. The contents list
    comes from :class:`~segkit.runner.page_preprocessors.HeadingsToc`; the header,
    the contents and the prev/next links are drawn by the ``segkit_page`` template.

    Parameters
    ----------
    ipynb_path : str or Path
        The executed notebook (``<run>/notebooks/NN-name.ipynb``). When it does not
        exist (the kernel never started), a short page with the error is written.
    html_path : str or Path
        Where the page goes (``<run>/NN-name.html``).
    run_id : str
        The run folder's name, shown in the header.
    config_name : str
        The config's ``name``.
    status : {"ok", "failed"}
        Shown in the header; ``"failed"`` adds a red box with ``error``.
    seconds : float, optional
        Execution time shown in the header.
    error : str, optional
        One-line error summary of a failed notebook.
    pages : list of str, optional
        The run's notebook names in order, for the prev/next links (default: from
        the run's ``manifest.json``, see :func:`page_neighbours`).

    Returns
    -------
    Path
        ``html_path``.
    """
    ipynb_path, html_path = Path(ipynb_path), Path(html_path)
    name = ipynb_path.stem
    page = {
        "run_id": run_id,
        "config_name": config_name,
        "notebook": name,
        "status": status,
        "seconds": seconds,
        "error": error,
        "has_ipynb": ipynb_path.exists(),
        "css": _css(),
        **page_neighbours(html_path, pages),
    }
    if not ipynb_path.exists():
        header = (
            _environment()
            .get_template("notebook_header.html.j2")
            .render(page=page, toc=[], has_error_anchor=False)
        )
        text = (
            f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(name)}</title></head><body>{header}</body></html>\n"
        )
        html_path.write_text(text, encoding="utf-8")
        return html_path

    import nbformat

    notebook = nbformat.read(str(ipynb_path), as_version=4)
    # segkit_page extends nbconvert's lab template (see its header comment).
    exporter = _page_exporter()(
        template_name="segkit_page",
        extra_template_basedirs=[str(_TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    if status == "ok":
        exporter.register_preprocessor(DropStderr, enabled=True)
    exporter.register_preprocessor(HeadingsToc, enabled=True)
    body, _ = exporter.from_notebook_node(
        notebook,
        resources={
            "metadata": {"name": name},
            "segkit": page,
            "segkit_css": (_TEMPLATES / "notebook.css").read_text(encoding="utf-8"),
        },
    )
    html_path.write_text(body, encoding="utf-8")
    return html_path


#: What a raw step-summary number means, where the same word means different
#: things on different pages (one truth per number: a figure that differs says why).
HEADLINE_MEANINGS = {
    ("data", "raw_rows"): "order lines read",
    ("data", "kept_rows"): "clean sales lines kept (01-explore, ledger)",
    ("data", "kept_customers"): "customers with clean sales lines: the run's customers",
    ("data", "kept_revenue"): "net value of the clean sales lines (01-explore)",
    ("features", "customers"): "customers described by features (02-features)",
    ("features", "matrix_columns"): "features the segments are formed on",
    ("value", "customers"): "customers with a lifetime value (02-features)",
    ("value", "repeat_buyers"): "customers with more than one purchase day",
    ("compare", "candidates"): "rows of the comparison (03): candidates plus the RFM "
    "baseline",
    ("compare", "segments"): "segments of the chosen model",
    ("validate", "ari_mean"): "stability: mean ARI of the bootstrap refits against "
    "the full-data segments (04-validate)",
    ("validate", "stability_sample"): "customers in the stability sample (04-validate)",
    ("validate", "bootstrap_refits"): "bootstrap refits behind the stability figures",
    ("profile", "fidelity"): "share of customers the segment rules assign like the "
    "model (05-profiles)",
    ("profile", "within_run_ari"): "not a stability figure: agreement (ARI) between "
    "the segments one horizon before the analysis date and now (05-profiles)",
}


def _format(value: Any) -> str | None:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:
            return "n/a"
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.4g}"
    if isinstance(value, str) and len(value) <= 60:
        return value
    return None


def _ledger_numbers(path: Path) -> list[dict[str, Any]]:
    try:
        ledger = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError):
        logger.warning("cannot read %s; no ledger numbers in the index", path)
        return []
    if not {"rule", "rows"} <= set(ledger.columns):
        return []
    rows = dict(zip(ledger["rule"].astype(str), ledger["rows"], strict=False))
    numbers = []
    for rule, label in (("raw", "raw rows"), ("kept", "kept rows")):
        if rule in rows:
            numbers.append(
                {"source": "ledger", "name": label, "value": _format(int(rows[rule]))}
            )
    if "raw" in rows and "kept" in rows:
        removed = int(rows["raw"]) - int(rows["kept"])
        numbers.append(
            {
                "source": "ledger",
                "name": "rows removed by cleaning",
                "value": _format(removed),
            }
        )
    return numbers


def headline_numbers(artifacts: str | Path) -> list[dict[str, Any]]:
    """Headline numbers of a run, read from its artifacts when they exist.

    Parameters
    ----------
    artifacts : str or Path
        The run's ``artifacts/`` folder.

    Returns
    -------
    list of dict
        ``{"source", "name", "value"}`` rows (and ``meaning`` where
        :data:`HEADLINE_MEANINGS` knows the number), value formatted: the raw
        and kept rows of ``ledger.csv``, then every scalar entry of the ``summary``
        of each step marker ``steps/<step>.json`` (lists, mappings and long strings
        such as checksums are left out).
    """
    from segkit.pipeline import STEPS

    artifacts = Path(artifacts)
    numbers: list[dict[str, Any]] = []
    if (artifacts / "ledger.csv").exists():
        numbers.extend(_ledger_numbers(artifacts / "ledger.csv"))
    markers = sorted(
        (artifacts / "steps").glob("*.json"),
        key=lambda p: (STEPS.index(p.stem) if p.stem in STEPS else len(STEPS), p.stem),
    )
    for marker in markers:
        try:
            record = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            logger.warning("cannot read step marker %s", marker)
            continue
        summary = record.get("summary") if isinstance(record, Mapping) else None
        if not isinstance(summary, Mapping):
            continue
        for key, value in summary.items():
            text = _format(value)
            if text is not None:
                numbers.append({"source": marker.stem, "name": str(key), "value": text})
                meaning = HEADLINE_MEANINGS.get((marker.stem, str(key)))
                if meaning:
                    numbers[-1]["meaning"] = meaning
    return numbers


def write_index(run_dir: str | Path, manifest: Mapping[str, Any]) -> Path:
    """Write ``<run>/index.html`` from the run's manifest and artifacts.

    Parameters
    ----------
    run_dir : str or Path
        The run folder.
    manifest : mapping
        As written to ``manifest.json`` by :func:`segkit.runner.notebooks.run_report`.

    Returns
    -------
    Path
        The index page.
    """
    run_dir = Path(run_dir)
    notebooks = list(manifest.get("notebooks", []))
    page = _render(
        "index.html.j2",
        run_id=manifest.get("run_id", run_dir.name),
        status=manifest.get("status", "running"),
        config=manifest.get("config", {}),
        config_path=manifest.get("config_path"),
        overrides=manifest.get("overrides") or {},
        data_files=manifest.get("data_files", {}),
        git=manifest.get("git", {}),
        versions=manifest.get("versions", {}),
        started=manifest.get("started"),
        finished=manifest.get("finished"),
        total_seconds=manifest.get("seconds"),
        notebooks=notebooks,
        failed=[nb for nb in notebooks if nb.get("status") == "failed"],
        skipped=[nb["name"] for nb in notebooks if nb.get("status") == "skipped"],
        headlines=headline_numbers(run_dir / "artifacts"),
        summary=build_summary(run_dir, manifest),
    )
    path = run_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
