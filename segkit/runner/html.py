"""HTML for reviewers: one page per executed notebook, and the run's ``index.html``.

Notebook pages come from nbconvert's ``lab`` template (extended by
``templates/segkit_page``: a small stylesheet of the project's own, figures with alt
text) with every code input hidden
(markdown, tables and figures stay; figures are embedded as base64 ``data:`` URIs;
stderr noise such as progress bars is dropped from notebooks that ran ``ok``).
nbconvert has no table of contents, so one is built from the rendered headings and
injected at the top, under a small header with the run id, config name and status.
A failed notebook's page says so in red and links to the error.

``index.html`` is a single self-contained page (inline CSS, no scripts) that leads
with an executive summary (:mod:`segkit.runner.summary`: one trust sentence, data
coverage, one card per segment, links to every page), then the run's parameters
and provenance, a status table per notebook and, folded away, the raw headline
numbers of the step summaries.
"""

from __future__ import annotations

import copy
import functools
import html
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from segkit.runner.summary import build_summary

__all__ = [
    "toc_entries",
    "export_notebook_html",
    "headline_numbers",
    "write_index",
]

logger = logging.getLogger(__name__)

_TEMPLATES = Path(__file__).resolve().parent / "templates"
_HEADING = re.compile(r"<h([1-6])\b[^>]*\bid=\"([^\"]+)\"[^>]*>(.*?)</h\1>", re.S)
_ANCHOR_LINK = re.compile(r"<a class=\"anchor-link\"[^>]*>.*?</a>", re.S)
_TAG = re.compile(r"<[^>]+>")
_BODY = re.compile(r"<body\b[^>]*>")
_REMOTE_SCRIPT = re.compile(
    r"<script\b[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>"
)
_MATH = re.compile(r"\$[^$\n]+\$|\\\(|\\\[")


@functools.cache
def _environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _render(template: str, **context: Any) -> str:
    css = (_TEMPLATES / "segkit.css").read_text(encoding="utf-8")
    return _environment().get_template(template).render(css=css, **context)


def toc_entries(body: str, max_level: int = 3) -> list[dict[str, Any]]:
    """Headings of a rendered notebook page, in order, for a table of contents.

    Parameters
    ----------
    body : str
        HTML written by nbconvert (its markdown headings carry ``id`` anchors).
    max_level : int
        Deepest heading level listed (``3``: h1 to h3).

    Returns
    -------
    list of dict
        ``{"level": int, "anchor": str, "text": str}``, text and anchor unescaped.
    """
    entries = []
    for level, anchor, inner in _HEADING.findall(body):
        if int(level) > max_level:
            continue
        text = html.unescape(_TAG.sub("", _ANCHOR_LINK.sub("", inner))).strip()
        if text:
            entries.append(
                {"level": int(level), "anchor": html.unescape(anchor), "text": text}
            )
    return entries


def _uses_math(notebook: Any) -> bool:
    return any(
        cell.get("cell_type") == "markdown" and _MATH.search(cell.get("source", ""))
        for cell in notebook.cells
    )


def _without_stderr(notebook: Any) -> Any:
    """A copy without stderr streams (progress bars, library warnings)."""
    notebook = copy.deepcopy(notebook)
    for cell in notebook.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = [
                out
                for out in cell.get("outputs", [])
                if not (
                    out.get("output_type") == "stream" and out.get("name") == "stderr"
                )
            ]
    return notebook


def export_notebook_html(
    ipynb_path: str | Path,
    html_path: str | Path,
    *,
    run_id: str,
    config_name: str,
    status: str,
    seconds: float | None = None,
    error: str | None = None,
) -> Path:
    """Export an executed notebook to HTML with code hidden and a table of contents.

    Markdown, tables and figures stay; code inputs are hidden. In a notebook that
    ran ``ok``, stderr streams (progress bars, library warnings) are left out of the
    page too; they stay in the executed ``.ipynb``, and a failed notebook keeps them.

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

    Returns
    -------
    Path
        ``html_path``.
    """
    ipynb_path, html_path = Path(ipynb_path), Path(html_path)
    name = ipynb_path.stem
    context = {
        "run_id": run_id,
        "config_name": config_name,
        "notebook": name,
        "status": status,
        "seconds": seconds,
        "error": error,
        "has_ipynb": ipynb_path.exists(),
    }
    if not ipynb_path.exists():
        header = _render(
            "notebook_header.html.j2", toc=[], has_error_anchor=False, **context
        )
        page = (
            f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(name)}</title></head><body>{header}</body></html>\n"
        )
        html_path.write_text(page, encoding="utf-8")
        return html_path

    import nbformat
    from nbconvert import HTMLExporter

    notebook = nbformat.read(str(ipynb_path), as_version=4)
    if status == "ok":
        notebook = _without_stderr(notebook)
    # segkit_page extends nbconvert's lab template: the project's small stylesheet
    # instead of JupyterLab's, and <img> with alt text and CSS size from the PNG
    # metadata of segkit.display.ReportFigure.
    exporter = HTMLExporter(
        template_name="segkit_page",
        extra_template_basedirs=[str(_TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    body, _ = exporter.from_notebook_node(
        notebook,
        resources={
            "metadata": {"name": name},
            "segkit_css": (_TEMPLATES / "notebook.css").read_text(encoding="utf-8"),
        },
    )
    if not _uses_math(notebook):
        # require.js and MathJax come from a CDN; without math neither is needed, and
        # dropping them keeps the page fully offline.
        body = _REMOTE_SCRIPT.sub("", body)
    header = _render(
        "notebook_header.html.j2",
        toc=toc_entries(body),
        has_error_anchor='id="papermill-error-cell"' in body,
        **context,
    )
    match = _BODY.search(body)
    if match is None:  # pragma: no cover - nbconvert's lab template always has <body>
        body = header + body
    else:
        body = body[: match.end()] + "\n" + header + body[match.end() :]
    html_path.write_text(body, encoding="utf-8")
    return html_path


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
        ``{"source", "name", "value"}`` rows, value formatted for display: the raw
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
