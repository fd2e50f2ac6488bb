"""nbconvert preprocessors that prepare an executed notebook for its HTML page.

They run inside nbconvert's exporter (registered by
:func:`segkit.runner.html.export_notebook_html`), before the ``segkit_page``
template renders the notebook, so the page is shaped from the notebook itself and
no regular expression ever touches the generated HTML:

* :class:`DropStderr` -- leaves stderr streams (progress bars, library warnings)
  out of the page of a notebook that ran ``ok``;
* :class:`HeadingsToc` -- reads the markdown headings (with the same parser
  nbconvert renders them with, mistune) into ``resources["segkit_toc"]``, with the
  anchors nbconvert gives them, and notes whether the notebook uses math or holds
  papermill's error cell.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote

from nbconvert.preprocessors import Preprocessor
from traitlets import Int

__all__ = [
    "DropStderr",
    "HeadingsToc",
    "heading_anchor",
    "html_headings",
    "markdown_headings",
]

#: Inline math in markdown (``$x$``, ``\(``, ``\[``): MathJax is only loaded then.
_MATH = re.compile(r"\$[^$\n]+\$|\\\(|\\\[")
#: The anchor papermill gives the cell that failed.
ERROR_ANCHOR = "papermill-error-cell"


def heading_anchor(text: str) -> str:
    """The ``id`` nbconvert gives a markdown heading whose plain text is ``text``.

    nbconvert's ``add_anchor`` turns spaces into ``-`` and percent-encodes what a
    URL fragment cannot hold; this is the same rule, written here because nbconvert
    keeps it private.
    """
    return quote(text.replace(" ", "-"), safe="?/:@!$&'()*+,;=")


def _plain_text(tokens: list[dict[str, Any]]) -> str:
    parts = []
    for token in tokens:
        if "raw" in token:
            parts.append(token["raw"])
        elif token.get("type") in ("softbreak", "linebreak"):
            parts.append(" ")
        parts.append(_plain_text(token.get("children") or []))
    return "".join(parts)


def markdown_headings(source: str, max_level: int = 3) -> list[dict[str, Any]]:
    """The headings of one markdown cell: ``{"level", "anchor", "text"}`` each.

    Parsed with mistune (nbconvert's markdown renderer) into its token tree, so
    ``#`` inside code blocks is no heading and inline markup is reduced to text.
    """
    import mistune

    parse = mistune.create_markdown(renderer=None)
    entries = []
    for token in parse(source):
        if token.get("type") != "heading":
            continue
        level = int(token.get("attrs", {}).get("level", 0))
        text = " ".join(_plain_text(token.get("children") or []).split())
        if text and level <= max_level:
            entries.append(
                {"level": level, "anchor": heading_anchor(text), "text": text}
            )
    return entries


class _Headings(HTMLParser):
    """Collects ``<hN id=...>`` text, leaving out nbconvert's anchor links."""

    def __init__(self, max_level: int) -> None:
        super().__init__(convert_charrefs=True)
        self.max_level = max_level
        self.entries: list[dict[str, Any]] = []
        self._open: dict[str, Any] | None = None
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if len(tag) == 2 and tag[0] == "h" and tag[1] in "123456" and attrs.get("id"):
            self._open = {"level": int(tag[1]), "anchor": attrs["id"], "parts": []}
        elif (
            self._open is not None
            and tag == "a"
            and "anchor-link" in (attrs.get("class") or "")
        ):
            self._skip += 1

    def handle_endtag(self, tag):
        if self._open is None:
            return
        if tag == "a" and self._skip:
            self._skip -= 1
        elif tag == f"h{self._open['level']}":
            text = " ".join("".join(self._open.pop("parts")).split())
            if text and self._open["level"] <= self.max_level:
                self.entries.append({**self._open, "text": text})
            self._open = None

    def handle_data(self, data):
        if self._open is not None and not self._skip:
            self._open["parts"].append(data)


def html_headings(body: str, max_level: int = 3) -> list[dict[str, Any]]:
    """The headings with an ``id`` of an HTML page, read with an HTML parser."""
    parser = _Headings(max_level)
    parser.feed(body)
    parser.close()
    return parser.entries


class DropStderr(Preprocessor):
    """Leave stderr streams out of the page (the executed ``.ipynb`` keeps them)."""

    def preprocess_cell(self, cell, resources, index):
        if cell.get("cell_type") == "code":
            cell.outputs = [
                out
                for out in cell.get("outputs", [])
                if not (
                    out.get("output_type") == "stream" and out.get("name") == "stderr"
                )
            ]
        return cell, resources


class HeadingsToc(Preprocessor):
    """Collect the contents list, math use and the error anchor into ``resources``.

    Sets ``resources["segkit_toc"]`` (list of ``{"level", "anchor", "text"}``),
    ``resources["segkit_math"]`` and ``resources["segkit_error_anchor"]`` (bools).
    """

    max_level = Int(3, help="Deepest heading level listed.").tag(config=True)

    def preprocess(self, nb, resources):
        toc: list[dict[str, Any]] = []
        math = error = False
        for cell in nb.cells:
            source = cell.get("source", "")
            if ERROR_ANCHOR in source:
                error = True
            if cell.get("cell_type") != "markdown":
                continue
            math = math or bool(_MATH.search(source))
            toc.extend(markdown_headings(source, self.max_level))
        resources["segkit_toc"] = toc
        resources["segkit_math"] = math
        resources["segkit_error_anchor"] = error
        return nb, resources
