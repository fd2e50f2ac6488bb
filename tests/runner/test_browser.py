"""Every page of a fixture run in a real browser (headless Chromium, system package).

Loads each page of the session's fixture run (tests/runner/conftest.py) over the
DevTools pipe (tests/runner/browser.py) and checks what a reader's browser would
meet: no console error, no request outside the run folder, every contents link
resolves, every image loads, nothing is wider than a 1280 px window. ``.ci/run``
installs chromium when it is missing; without one the test is skipped and says why.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runner.browser import BROWSERS, WIDTH, Browser, find_browser

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser():
    binary = find_browser()
    if binary is None:
        pytest.skip(
            f"no Chromium binary on PATH (looked for {', '.join(BROWSERS)}); "
            "install the system package (apt-get install chromium; .ci/run does)"
        )
    with Browser(binary) as running:
        yield running


@pytest.fixture(scope="module")
def checked(fixture_run, browser):
    return {p.name: browser.check_page(p) for p in sorted(fixture_run.glob("*.html"))}


def test_the_run_has_an_index_and_five_pages(checked):
    assert len(checked) == 6 and "index.html" in checked


def test_pages_load_without_console_errors(checked):
    assert {name: r["errors"] for name, r in checked.items() if r["errors"]} == {}


def test_pages_request_nothing_outside_the_run_folder(fixture_run, checked):
    inside = fixture_run.resolve().as_uri() + "/"
    outside = {
        name: [u for u in r["requests"] if not u.startswith((inside, "data:"))]
        for name, r in checked.items()
    }
    assert {name: urls for name, urls in outside.items() if urls} == {}


def test_every_contents_link_resolves(checked):
    assert all(r["anchors"] > 0 for name, r in checked.items() if name != "index.html")
    assert {name: r["broken"] for name, r in checked.items() if r["broken"]} == {}


def test_every_link_to_a_file_points_into_the_run_folder(fixture_run, checked):
    missing = {}
    for name, r in checked.items():
        for href in r["links"]:
            target = (fixture_run / href.split("#")[0]).resolve()
            if "://" in href or not target.exists():
                missing.setdefault(name, []).append(href)
    # the index names the CRM export folder by path only (outside the run folder)
    assert missing == {}


def test_every_image_loads_and_has_alt_text(checked):
    bad = {
        name: [i for i in r["images"] if not i["complete"] or i["width"] == 0]
        for name, r in checked.items()
    }
    assert {name: imgs for name, imgs in bad.items() if imgs} == {}
    alts = [i["alt"] for r in checked.values() for i in r["images"]]
    assert alts and all(alt and alt != "Figure" for alt in alts)


def test_nothing_overflows_a_1280_px_window(checked):
    assert {
        name: (r["scrollWidth"], r["wide"])
        for name, r in checked.items()
        if r["scrollWidth"] > WIDTH or r["wide"]
    } == {}


def test_the_browser_check_sees_a_broken_page(tmp_path, browser):
    # the check can fail: a broken anchor, a missing image, a remote script, a
    # console error and a 2000 px box are all reported
    page = Path(tmp_path / "bad.html")
    page.write_text(
        '<html><body><a href="#nowhere">x</a><img src="missing.png" alt="m">'
        '<script src="http://example.invalid/x.js"></script>'
        "<script>console.error('planted')</script>"
        '<div style="width:2000px">wide</div></body></html>'
    )
    r = browser.check_page(page)
    assert r["broken"] == ["#nowhere"]
    assert [i["width"] for i in r["images"]] == [0]
    assert any("example.invalid" in u for u in r["requests"])
    assert any("planted" in e for e in r["errors"])
    assert r["scrollWidth"] > WIDTH and r["wide"]
