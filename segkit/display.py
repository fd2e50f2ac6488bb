"""Rich display objects for notebooks: figures, tables and notes that show themselves.

* :class:`ReportFigure` -- a matplotlib Figure built without ``pyplot`` that a
  notebook shows as a PNG, exactly once, whatever the backend;
* :class:`Table` -- a DataFrame whose cells a notebook shows in full (no truncated
  text);
* :class:`Note` -- a ``str`` that a notebook renders as Markdown.

The report modules (:mod:`segkit.data.report` and the other ``segkit.plots``
modules, :mod:`segkit.data.report_tables`) return these objects, so a notebook
cell only has to call a function to show its result.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

__all__ = ["Note", "ReportFigure", "Table", "empty_figure", "segment_name"]


class ReportFigure(Figure):
    """A Figure that notebooks show as a PNG without going through ``pyplot``.

    Figures built outside ``pyplot`` are not captured by the inline backend, so
    this class gives them their own PNG representation: the cell that returns one
    shows it exactly once, whatever the matplotlib backend.
    """

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        return buffer.getvalue()


class Table(pd.DataFrame):
    """A DataFrame for the report: notebooks show every cell's text in full."""

    @property
    def _constructor(self) -> type[Table]:
        return Table

    def _repr_html_(self) -> str | None:
        with pd.option_context("display.max_colwidth", None, "display.max_rows", 500):
            return super()._repr_html_()


class Note(str):
    """A sentence for the report: a ``str`` that notebooks render as Markdown."""

    def _repr_markdown_(self) -> str:
        return str(self)


def empty_figure(title: str, message: str) -> ReportFigure:
    """A small titled figure that says, in words, why there is nothing to plot."""
    fig = ReportFigure(figsize=(7, 1.6))
    ax = fig.subplots()
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    ax.set_title(title)
    return fig


def segment_name(names: Mapping[int, str] | None, segment: Any) -> str:
    """Display name of a segment id: its name, "Segment <id>", or "Unassigned" (-1)."""
    try:
        segment = int(segment)
    except (TypeError, ValueError):
        return str(segment)
    default = "Unassigned" if segment == -1 else f"Segment {segment}"
    return (names or {}).get(segment, default)
