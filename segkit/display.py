"""Rich display objects for notebooks: figures, tables and notes that show themselves.

* :class:`ReportFigure` -- a matplotlib Figure built without ``pyplot`` that a
  notebook shows as a PNG, exactly once, whatever the backend;
* :class:`Table` -- a DataFrame whose cells a notebook shows in full (no truncated
  text);
* :class:`Note` -- a ``str`` that a notebook renders as Markdown.

The report modules (``segkit.<stage>.report`` and
:mod:`segkit.data.report_tables`) return these objects, so a notebook cell only has
to call a function to show its result. :func:`segment_name` is the one fallback for
segment labels ("Segment <id>", "Unassigned" for HDBSCAN noise).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

__all__ = [
    "UNASSIGNED",
    "Note",
    "ReportFigure",
    "Table",
    "empty_figure",
    "segment_name",
]


#: Colours kept in a figure's PNG: a 2x chart quantised to a palette is about a
#: third of its full-colour size (pages stay under 500 KB) and looks the same.
PNG_COLOURS = 128


def _palette_png(data: bytes, colours: int = PNG_COLOURS) -> bytes:
    """The PNG re-encoded with an adaptive palette (no dithering: flat colours)."""
    from PIL import Image

    image = Image.open(io.BytesIO(data)).convert("RGB")
    image = image.quantize(
        colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


class ReportFigure(Figure):
    """A Figure that notebooks show as a PNG without going through ``pyplot``.

    Figures built outside ``pyplot`` are not captured by the inline backend, so
    this class gives them their own PNG representation: the cell that returns one
    shows it exactly once, whatever the matplotlib backend.
    """

    #: Pixels per inch of the PNG: twice the CSS size, crisp on HiDPI screens.
    dpi_png = 200
    #: CSS pixels per inch the page shows it at (the PNG is scaled down to this).
    dpi_css = 100

    def alt_text(self) -> str:
        """The figure's title (suptitle, else the axes titles), for ``<img alt>``."""
        titles = []
        if self._suptitle is not None and self._suptitle.get_text():
            titles.append(self._suptitle.get_text())
        else:
            titles = [ax.get_title() for ax in self.axes if ax.get_title()]
        text = "; ".join(dict.fromkeys(" ".join(t.split()) for t in titles))
        return text or "Figure"

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(
            buffer,
            format="png",
            dpi=self.dpi_png,
            bbox_inches="tight",
        )
        return _palette_png(buffer.getvalue())

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> tuple[dict[str, bytes], dict[str, dict[str, Any]]]:
        """The PNG with its CSS size (half its pixels) and alt text as metadata."""
        data = self._repr_png_()
        # the PNG header holds the pixel size (IHDR: width, height at bytes 16-24)
        width = int.from_bytes(data[16:20], "big")
        height = int.from_bytes(data[20:24], "big")
        scale = self.dpi_css / self.dpi_png
        metadata = {
            "width": round(width * scale),
            "height": round(height * scale),
            "alt": self.alt_text(),
        }
        return {"image/png": data}, {"image/png": metadata}


class Table(pd.DataFrame):
    """A DataFrame for the report: notebooks show every cell's text in full."""

    @property
    def _constructor(self) -> type[Table]:
        return Table

    def _repr_html_(self) -> str | None:
        shown = pd.DataFrame(self)
        with pd.option_context("display.max_colwidth", None, "display.max_rows", 500):
            if isinstance(shown.index, pd.RangeIndex):
                # a plain row counter (0, 1, 2 ...) says nothing to a reader
                return shown.to_html(index=False, na_rep="")
            # row labels stay; their name would print as a second header row
            return shown.rename_axis(index=None)._repr_html_()


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


#: Display name of HDBSCAN's noise segment (id -1).
UNASSIGNED = "Unassigned"


def segment_name(names: Mapping[Any, str] | None, segment: Any) -> str:
    """Display name of a segment id: its name, "Segment <id>", or "Unassigned" (-1).

    ``names`` maps segment ids to names; its keys may be ints or their text (as
    read back from JSON). A segment that is not a number is returned as text.
    """
    try:
        segment = int(segment)
    except (TypeError, ValueError):
        return str(segment)
    for key, name in (names or {}).items():
        try:
            if int(key) == segment:
                return str(name)
        except (TypeError, ValueError):
            continue
    return UNASSIGNED if segment == -1 else f"Segment {segment}"
