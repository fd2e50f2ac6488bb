"""Rich display objects for notebooks: figures, tables and notes that show themselves.

* :class:`ReportFigure` -- a matplotlib Figure built without ``pyplot`` that a
  notebook shows as a PNG, exactly once, whatever the backend;
* :class:`Table` -- a DataFrame whose cells a notebook shows in full (no truncated
  text), with column names as readers know them (:func:`labelled`: the glossary's
  display names, :mod:`segkit.glossary`);
* :class:`Note` -- a ``str`` that a notebook renders as Markdown (also what
  :func:`empty_figure` returns: a section with nothing to plot says so in words).

The report modules (``segkit.<stage>.report`` and
:mod:`segkit.data.report_tables`) return these objects, so a notebook cell only has
to call a function to show its result. :func:`segment_name` is the one fallback for
segment labels ("Segment <id>", "Unassigned" for HDBSCAN noise).
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from segkit.glossary import GLOSSARY, display_name

__all__ = [
    "UNASSIGNED",
    "Note",
    "ReportFigure",
    "Table",
    "empty_figure",
    "labelled",
    "segment_colour",
    "segment_name",
    "segment_palette",
    "set_currency",
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

    #: A figure larger than this many square inches (a tall facet grid of every
    #: feature) gets fewer pixels per inch, down to :attr:`dpi_min`, so that one
    #: chart cannot push its page over 500 KB; it stays sharper than 1x.
    max_area = 60.0
    dpi_min = 150

    def png_dpi(self) -> int:
        """Pixels per inch of this figure's PNG (:attr:`dpi_png`, less when large)."""
        width, height = self.get_size_inches()
        area = float(width * height)
        if area <= self.max_area:
            return self.dpi_png
        return max(self.dpi_min, int(self.dpi_png * (self.max_area / area) ** 0.5))

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(
            buffer,
            format="png",
            dpi=self.png_dpi(),
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
        scale = self.dpi_css / self.png_dpi()
        metadata = {
            "width": round(width * scale),
            "height": round(height * scale),
            "alt": self.alt_text(),
        }
        return {"image/png": data}, {"image/png": metadata}


#: A code name: lower-case words joined by underscores (``mean_interpurchase_days``).
_IDENTIFIER = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")


def _label(value: Any, *, cell: bool = False) -> Any:
    """``value`` as a reader's label when it is a code name, else unchanged.

    Headers and row labels also map the one-word glossary names (``frequency`` ->
    "Orders"); a cell only when it is an identifier, or a list of them separated by
    ", ", so that ordinary words in text cells stay as written.
    """
    if not isinstance(value, str):
        return value
    if not cell and value in GLOSSARY:
        return display_name(value)
    items = value.split(", ")
    if all(_IDENTIFIER.fullmatch(item) or item in GLOSSARY for item in items) and any(
        _IDENTIFIER.fullmatch(item) for item in items
    ):
        return ", ".join(display_name(item) for item in items)
    return value


def labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with code names shown as the glossary's display names.

    Column names, row labels (and the index name) that are code names become their
    display name (:func:`segkit.glossary.display_name`), and so do text cells that
    hold only a code name or a ", "-separated list of them. Everything else, numbers
    and sentences included, is left as it is; ``frame`` itself is not changed.
    """
    out = frame.copy()
    for i in range(out.shape[1]):  # by position: labels may repeat
        if pd.api.types.is_string_dtype(out.iloc[:, i].dtype):
            out.isetitem(i, out.iloc[:, i].map(lambda v: _label(v, cell=True)))
    out = out.rename(columns=_label)
    if not isinstance(out.index, pd.RangeIndex):  # a row counter stays one
        out = out.rename(index=_label)
    if out.index.name is not None:
        out.index.name = _label(out.index.name)
    return out


class Table(pd.DataFrame):
    """A DataFrame for the report: notebooks show every cell's text in full.

    Column names and row labels are shown by their display names
    (:func:`labelled`); the frame itself keeps its code names.
    """

    @property
    def _constructor(self) -> type[Table]:
        return Table

    def _repr_html_(self) -> str | None:
        frame = pd.DataFrame(self)
        formatters = {}
        for column in frame.columns:
            if _is_share(column, frame[column]):
                formatters[column] = _percent
            elif _is_money(column, frame[column]):
                formatters[column] = _money
            elif _is_count(column, frame[column]):
                formatters[column] = _count
        shown = labelled(frame)
        with pd.option_context("display.max_colwidth", None, "display.max_rows", 500):
            # a plain row counter (0, 1, 2 ...) says nothing to a reader; row labels
            # stay, without their name (it would print as a second header row); a
            # missing value is an empty cell, not "NaN"
            counter = isinstance(self.index, pd.RangeIndex)
            return shown.rename_axis(index=None).to_html(
                index=not counter,
                na_rep="",
                float_format=business_number,
                formatters=[formatters.get(c) for c in frame.columns] or None,
            )


#: Currency prefix of money columns in tables (``report.currency``; set by
#: :func:`segkit.context.open_run` for the notebook kernel it runs in).
_MONEY = {"symbol": ""}

#: A column whose display name says it holds money.
_MONEY_WORDS = re.compile(
    r"revenue|monetary|spend|lifetime value|\bclv\b|order value|unit price",
    re.IGNORECASE,
)


def set_currency(symbol: str | None) -> None:
    """Prefix money columns of every :class:`Table` with ``symbol`` (e.g. "£")."""
    _MONEY["symbol"] = symbol or ""


def _is_money(column: Any, values: pd.Series) -> bool:
    return (
        bool(_MONEY["symbol"])
        and pd.api.types.is_numeric_dtype(values)
        and not pd.api.types.is_bool_dtype(values)
        and bool(_MONEY_WORDS.search(display_name(str(column))))
        and "share" not in str(column).lower()
        and "%" not in str(column)
    )


def _money(value: Any) -> str:
    if pd.isna(value):
        return ""
    text = business_number(float(value))
    sign, text = ("-", text[1:]) if text.startswith("-") else ("", text)
    return f"{sign}{_MONEY['symbol']}{text}"


def business_number(value: float) -> str:
    """A number as a business reader wants it: thousands separators, no spurious
    decimals (``5383250.22`` -> ``5,383,250``; ``12.515`` -> ``12.5``;
    ``0.00669`` -> ``0.00669``)."""
    if pd.isna(value):
        return ""
    size = abs(value)
    if size >= 1000 or (size >= 10 and float(value).is_integer()):
        return f"{value:,.0f}"
    if size >= 100:
        return f"{value:,.1f}"
    return f"{value:.3g}"


def _is_count(column: Any, values: pd.Series) -> bool:
    """Whole numbers shown with thousands separators (not years or ids)."""
    name = str(column).lower()
    return (
        pd.api.types.is_integer_dtype(values)
        and not pd.api.types.is_bool_dtype(values)
        and not any(word in name for word in ("year", "id", "segment"))
    )


def _count(value: Any) -> str:
    return "" if pd.isna(value) else f"{int(value):,}"


def _percent(value: Any) -> str:
    return "" if pd.isna(value) else f"{float(value):.1%}"


def _is_share(column: Any, values: pd.Series) -> bool:
    """A column of shares (named "share", all values in [0, 1]): shown as %."""
    name = str(column).lower()
    if "share" not in name or not pd.api.types.is_float_dtype(values):
        return False
    finite = values.dropna()
    return bool(len(finite)) and bool(finite.between(0, 1).all())


class Note(str):
    """A sentence for the report: a ``str`` that notebooks render as Markdown."""

    def _repr_markdown_(self) -> str:
        return str(self)


def empty_figure(title: str, message: str) -> Note:
    """What a chart with nothing to plot shows instead: one sentence, no image.

    A section that has nothing to show says so in words (a placeholder image is
    weight on the page and tells a reader less): ``"**Title**: message."``.
    """
    message = message.strip()
    message = message[:1].upper() + message[1:]
    end = "" if message.endswith((".", "!", "?")) else "."
    return Note(f"**{title}**: {message}{end}")


#: Display name of HDBSCAN's noise segment (id -1).
UNASSIGNED = "Unassigned"


#: One colour per segment id for every chart of a run (matplotlib's tab10 cycle by
#: id, grey for Unassigned), so "segment 2" is the same colour on 03, 04 and 05.
_SEGMENT_CYCLE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip


def segment_colour(segment: Any) -> str:
    """The colour of a segment id on every chart (``"lightgrey"`` for -1)."""
    try:
        segment = int(segment)
    except (TypeError, ValueError):
        return "#7f7f7f"
    return "lightgrey" if segment == -1 else _SEGMENT_CYCLE[segment % 10]


def segment_palette(
    segments: Any, names: Mapping[Any, str] | None = None
) -> dict[str, str]:
    """Display name -> colour for ``segments`` (ids), for seaborn's ``palette=``."""
    return {segment_name(names, s): segment_colour(s) for s in segments}


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
