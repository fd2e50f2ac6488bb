"""The figure cache of report runs (segkit.figure_cache): same inputs, same PNG."""

from __future__ import annotations

import json
import os
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

from segkit import figure_cache
from segkit.context import open_run
from segkit.data.report import orders_over_time
from segkit.display import Note, ReportFigure, set_currency
from tests.conftest import python_under_hash_seeds

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "tests" / "fixtures" / "retail_small.yaml"

DRAWN: list[str] = []


@figure_cache.cached
def bars(frame: pd.DataFrame, *, title: str = "Bars") -> ReportFigure | Note:
    """A chart of ``frame``'s values (a Note when it is empty); counts its drawings."""
    DRAWN.append(title)
    if frame.empty:
        return Note("Nothing to plot.")
    fig = ReportFigure(figsize=(4, 3), layout="constrained")
    ax = fig.subplots()
    ax.bar(frame["name"], frame["value"])
    ax.set_title(title)
    return fig


@figure_cache.cached
def framed(frame: pd.DataFrame) -> ReportFigure:
    """A chart that changes the figure of another cached chart (drawn inside)."""
    fig = bars(frame, title="Inner")
    assert isinstance(fig, ReportFigure)
    fig.suptitle("Outer")
    return fig


FRAME = pd.DataFrame({"name": ["a", "b", "c"], "value": [3.0, 1.0, 2.0]})


@pytest.fixture
def cache(tmp_path):
    DRAWN.clear()
    figure_cache.configure(tmp_path / "figures")
    yield tmp_path / "figures"
    figure_cache.configure(None)


def bundle(obj):
    return obj._repr_mimebundle_()


def test_off_by_default_returns_the_figure_itself():
    DRAWN.clear()
    assert figure_cache.folder() is None
    assert isinstance(bars(FRAME), ReportFigure)
    assert isinstance(bars(FRAME), ReportFigure)
    assert DRAWN == ["Bars", "Bars"]


def test_a_second_call_on_the_same_inputs_shows_the_same_bytes_undrawn(cache):
    drawn = bundle(bars.__wrapped__(FRAME))  # the figure as drawn, no cache
    first = bars(FRAME)
    second = bars(FRAME.copy())  # equal content, another object
    assert isinstance(first, figure_cache.CachedFigure)
    assert bundle(first) == bundle(second) == drawn
    assert DRAWN == ["Bars", "Bars"]  # the undecorated call and the first call
    assert second.alt_text() == "Bars"
    assert len(list(cache.glob("*.png"))) == 1


def test_changed_arguments_or_display_state_draw_again(cache):
    bars(FRAME)
    bars(FRAME.assign(value=[3.0, 1.0, 2.5]))
    bars(FRAME, title="Other")
    set_currency("£")
    bars(FRAME)
    set_currency(None)
    with matplotlib.rc_context({"font.size": 14}):
        bars(FRAME)
    assert len(DRAWN) == 5
    assert len(list(cache.glob("*.png"))) == 5
    bars(FRAME)  # back to the first inputs: a hit
    assert len(DRAWN) == 5


def test_fresh_draws_and_refreshes_the_entry(cache):
    bars(FRAME)
    (png,) = cache.glob("*.png")
    png.write_bytes(b"stale")
    figure_cache.configure(cache, read=False)
    fresh = bars(FRAME)
    assert len(DRAWN) == 2
    assert bundle(fresh)[0]["image/png"] == png.read_bytes() != b"stale"


def test_notes_and_unhashable_arguments_are_not_cached(cache):
    assert isinstance(bars(FRAME.iloc[:0]), Note)
    assert isinstance(bars(FRAME.iloc[:0]), Note)
    assert len(DRAWN) == 2
    # joblib.hash pickles the arguments: a lambda cannot be, so it is drawn
    drawn = bars(FRAME, title=lambda: None)
    assert isinstance(drawn, ReportFigure)
    assert len(DRAWN) == 3
    assert not list(cache.glob(".*"))  # no temporary file left behind


def test_a_chart_inside_a_cached_chart_is_drawn_for_it(cache):
    outer = framed(FRAME)
    assert isinstance(outer, figure_cache.CachedFigure)
    assert outer.alt_text() == "Outer"
    assert DRAWN == ["Inner"]
    assert len(list(cache.glob("*.png"))) == 1  # only the outer figure


def test_a_real_chart_is_byte_identical_from_the_cache(cache):
    drawn = bundle(orders_over_time.__wrapped__(None))
    assert bundle(orders_over_time(None)) == drawn
    assert bundle(orders_over_time(None)) == drawn
    assert len(list(cache.glob("*.png"))) == 1


def test_the_key_is_the_same_in_another_process(cache):
    code = (
        "import pandas as pd, sys\n"
        "sys.path.insert(0, 'tests')\n"
        "from segkit import figure_cache\n"
        "from test_figure_cache import FRAME, bars\n"
        "print(figure_cache._key(bars.__wrapped__, (FRAME,), {'title': 'T'}))\n"
    )
    keys = set(python_under_hash_seeds(code))
    assert len(keys) == 1 and len(keys.pop()) == 32


def test_open_run_turns_it_on_in_report_runs_only(tmp_path, monkeypatch):
    monkeypatch.delenv("SEGKIT_FRESH", raising=False)
    open_run(SMALL, tmp_path / "scratch")
    assert figure_cache.folder() is None
    run = tmp_path / "reports" / "2026-01-01"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text("{}", encoding="utf-8")
    open_run(SMALL, run)
    assert figure_cache.folder() == tmp_path / "exports" / ".cache" / "figures"
    assert figure_cache._STATE["read"] is True
    monkeypatch.setenv("SEGKIT_FRESH", "1")
    open_run(SMALL, run)
    assert figure_cache._STATE["read"] is False


def test_prune_keeps_the_newest_by_use(cache):
    for i in range(5):
        bars(FRAME, title=f"T{i}")
    pngs = sorted(cache.glob("*.png"), key=lambda p: p.stat().st_mtime_ns)
    os.utime(pngs[0])  # the oldest is used again
    assert figure_cache.prune(cache, keep=3) == 2
    kept = {p.name for p in cache.glob("*.png")}
    assert kept == {pngs[0].name, pngs[3].name, pngs[4].name}
    assert {p.stem for p in cache.glob("*.json")} == {Path(k).stem for k in kept}
    assert json.loads(next(cache.glob("*.json")).read_text())["alt"].startswith("T")
