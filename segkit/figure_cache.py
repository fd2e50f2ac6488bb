"""Figures of a report run drawn once per input: a cache of their PNGs.

Drawing is a large share of a rerun: a one-parameter rerun rebuilds every page,
and on Online Retail about a third of the notebooks' time went into drawing
figures and encoding their PNGs, most of them the same as last time (the
exploration and comparison pages of a validation rerun read reused artifacts).
A chart function decorated with :func:`cached` therefore returns, in a report
run, the PNG it drew before when it is called on the same inputs.

What "the same inputs" means: the key of a figure is the :func:`joblib.hash` (the
hashing joblib.Memory keys its cache with: numpy and pandas data by content) of

- the function (module and name);
- segkit's code fingerprint (:func:`segkit.reuse.code_fingerprint`: every ``.py``
  file and the versions of the libraries that shape the numbers) and the versions
  of the drawing libraries (:data:`DRAWING_LIBRARIES`);
- the display state a chart reads besides its arguments: the currency symbol
  (``report.currency``), the display names of the config's columns
  (``report.labels`` and declared features) and matplotlib's ``rcParams``;
- every argument, by value.

A figure whose arguments cannot be hashed is drawn as usual. The cached object
(:class:`CachedFigure`) shows the very bytes and metadata the
:class:`~segkit.display.ReportFigure` showed when it was drawn, so a page built
from the cache is byte-identical to one drawn afresh (tests/test_figure_cache.py).

When: only where :func:`segkit.context.open_run` turns it on -- in a report run
folder (one with a ``manifest.json``), reading the cache unless
``segkit report --fresh`` (``SEGKIT_FRESH=1``), which draws everything and
refreshes the cache. JupyterLab scratch folders and the tests' direct calls
always draw, and get a real Figure back. A chart called from inside another
cached chart is always drawn (the outer one may change it).

Where: ``<reports parent>/exports/.cache/figures/`` beside the step cache
(:func:`segkit.reuse.cache_dir`); :func:`prune` keeps the newest
:data:`KEEP` figures by use.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "DRAWING_LIBRARIES",
    "KEEP",
    "CachedFigure",
    "cached",
    "configure",
    "folder",
    "prune",
]

logger = logging.getLogger(__name__)

#: Distributions that draw and encode the figures (their versions enter the key).
DRAWING_LIBRARIES = ("matplotlib", "seaborn", "pillow")

#: Figures kept in the cache (the newest by use): Online Retail's five pages have
#: about 30, of 20-100 KB each.
KEEP = 600

_STATE: dict[str, Any] = {"folder": None, "read": False}
_INSIDE: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "segkit_figure_cache_inside", default=False
)


def configure(path: str | Path | None, *, read: bool = True) -> None:
    """Cache figures in ``path`` (None: off); ``read=False`` only writes (fresh)."""
    _STATE["folder"] = None if path is None else Path(path)
    _STATE["read"] = bool(read)


def folder() -> Path | None:
    """The cache folder in use, or None when figures are always drawn."""
    return _STATE["folder"]


class CachedFigure:
    """A figure's PNG and display metadata as its :class:`ReportFigure` showed them.

    The same rich-display protocol as :class:`~segkit.display.ReportFigure`
    (``_repr_mimebundle_``, ``_repr_png_``), so a notebook cell shows it exactly
    as it showed the figure it was drawn from.
    """

    def __init__(self, png: bytes, metadata: dict[str, Any]) -> None:
        self.png = png
        self.metadata = dict(metadata)

    def _repr_png_(self) -> bytes:
        return self.png

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> tuple[dict[str, bytes], dict[str, dict[str, Any]]]:
        return {"image/png": self.png}, {"image/png": dict(self.metadata)}

    def alt_text(self) -> str:
        """The alt text the figure was shown with."""
        return str(self.metadata.get("alt", "Figure"))


def _key(func: Callable[..., Any], args: tuple, kwargs: dict) -> str:
    import joblib
    import matplotlib

    from segkit import display, glossary
    from segkit.reuse import code_fingerprint, library_versions

    state = {
        "currency": dict(display._MONEY),
        "labels": dict(glossary._LABELS),
        "registered": dict(glossary._REGISTERED),
        "rc": {k: repr(v) for k, v in sorted(matplotlib.rcParams.items())},
    }
    parts = (
        func.__module__,
        func.__qualname__,
        code_fingerprint(),
        library_versions(DRAWING_LIBRARIES),
        state,
        args,
        sorted(kwargs.items()),
    )
    return joblib.hash(parts)


def _load(path: Path, key: str) -> CachedFigure | None:
    try:
        png = (path / f"{key}.png").read_bytes()
        metadata = json.loads((path / f"{key}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    try:
        os.utime(path / f"{key}.png")  # most recently used: pruned last
    except OSError:
        pass
    return CachedFigure(png, metadata)


def _store(path: Path, key: str, png: bytes, metadata: dict[str, Any]) -> None:
    # Each file written whole under a temporary name and renamed: kernels running
    # side by side may draw the same figure, and a reader never sees half a file.
    try:
        path.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex
        meta_tmp = path / f".{key}.{token}.json"
        png_tmp = path / f".{key}.{token}.png"
        meta_tmp.write_text(json.dumps(metadata, sort_keys=True), encoding="utf-8")
        png_tmp.write_bytes(png)
        meta_tmp.replace(path / f"{key}.json")
        png_tmp.replace(path / f"{key}.png")
    except OSError as exc:  # a missing entry only costs a drawing next time
        logger.warning("could not cache a figure in %s: %s", path, exc)


def cached[F: Callable[..., Any]](func: F) -> F:
    """Decorate a chart function: in a report run, draw each input's figure once.

    Only a :class:`~segkit.display.ReportFigure` result is cached (a
    :class:`~segkit.display.Note` saying there is nothing to plot is returned as
    is); see the module docstring for the key and when the cache is on.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        path = _STATE["folder"]
        if path is None or _INSIDE.get():
            return func(*args, **kwargs)
        try:
            key = _key(func, args, kwargs)
        except Exception as exc:  # unpicklable argument: draw as usual
            logger.debug("figure of %s not cached: %s", func.__qualname__, exc)
            return func(*args, **kwargs)
        if _STATE["read"]:
            hit = _load(path, key)
            if hit is not None:
                return hit
        token = _INSIDE.set(True)
        try:
            result = func(*args, **kwargs)
        finally:
            _INSIDE.reset(token)
        from segkit.display import ReportFigure

        if not isinstance(result, ReportFigure):
            return result
        data, metadata = result._repr_mimebundle_()
        png, meta = data["image/png"], metadata["image/png"]
        _store(path, key, png, meta)
        return CachedFigure(png, meta)

    return wrapper  # type: ignore[return-value]


def prune(path: str | Path, keep: int = KEEP) -> int:
    """Delete all but the ``keep`` most recently used figures; return how many went."""
    path = Path(path)
    if not path.is_dir():
        return 0
    pngs = sorted(path.glob("*.png"), key=lambda p: p.stat().st_mtime_ns)
    gone = 0
    for old in pngs[: max(len(pngs) - keep, 0)]:
        for file in (old, old.with_suffix(".json")):
            file.unlink(missing_ok=True)
        gone += 1
    return gone
