"""One truth per number: the figures repeated across the index, 03, 04 and 05 agree.

Reads the pages of the session's fixture run (tests/runner/conftest.py) as a reader
sees them (the index's segment cards and the pages' tables) and checks that each
figure shown on several pages -- customers, number of segments, segment sizes and
shares, revenue shares, lifetime value and revenue at risk, the stability reading,
the candidates count -- is the same everywhere, or carries the reason it differs
(a stated sample, the RFM baseline counted or not). The labels artifact is the one
source they all must match.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest
from bs4 import BeautifulSoup

pytestmark = pytest.mark.slow


def _soup(run_dir, name):
    return BeautifulSoup((run_dir / name).read_text(encoding="utf-8"), "html.parser")


def _tables(soup) -> list[list[list[str]]]:
    return [
        [
            [cell.get_text(" ", strip=True) for cell in row.find_all(["th", "td"])]
            for row in table.find_all("tr")
        ]
        for table in soup.find_all("table")
    ]


def _table_with(soup, *headers: str) -> pd.DataFrame:
    """The first table whose header row holds every one of ``headers``."""
    for rows in _tables(soup):
        head = rows[0]
        if all(h in head for h in headers):
            frame = pd.DataFrame(rows[1:], columns=head)
            first = head[0]
            return frame.set_index(first) if first in ("", "Segment") else frame
    raise AssertionError(f"no table with the columns {headers}")


def _number(text: str) -> float:
    found = re.search(r"-?[\d,]*\.?\d+", text.replace("\u2212", "-"))
    assert found, f"no number in {text!r}"
    return float(found.group().replace(",", ""))


@pytest.fixture(scope="module")
def pages(fixture_run):
    names = [
        "index.html",
        "03-cluster-compare.html",
        "04-validate.html",
        "05-profiles.html",
    ]
    return {name[:2]: _soup(fixture_run, name) for name in names}


@pytest.fixture(scope="module")
def cards(pages) -> pd.DataFrame:
    """The index's segment cards: one row per segment, the card's figures as text."""
    rows = {}
    for card in pages["in"].select("article.card"):
        values = {
            dt.get_text(" ", strip=True): dd.get_text(" ", strip=True)
            for dt, dd in zip(card.find_all("dt"), card.find_all("dd"), strict=True)
        }
        rows[card.find("h3").get_text(strip=True)] = values
    assert rows, "the index shows no segment card"
    return pd.DataFrame.from_dict(rows, orient="index")


@pytest.fixture(scope="module")
def sizes(fixture_run) -> pd.Series:
    """Customers per segment name, from the artifacts every page reads."""
    import json

    labels = pd.read_parquet(fixture_run / "artifacts" / "labels.parquet")["segment"]
    segments = json.loads((fixture_run / "artifacts" / "segments.json").read_text())
    entries = segments["segments"] if isinstance(segments, dict) else segments
    names = {int(e["id"] if "id" in e else e["segment"]): e["name"] for e in entries}
    return labels.map(names).value_counts()


def test_segment_sizes_agree_on_the_index_04_05_and_the_labels(pages, cards, sizes):
    on_index = cards["Customers"].map(_number).astype(int)
    profiles = _table_with(pages["05"], "Customers", "% of customers", "% of revenue")
    value = _table_with(pages["05"], "CLV, total", "customers at risk")
    verdict = _table_with(pages["04"], "Customers", "stability band", "recommendation")
    for name, size in sizes.items():
        assert on_index[name] == size, name
        assert _number(profiles.loc[name, "Customers"]) == size, name
        assert _number(value.loc[name, "Customers"]) == size, name
        assert _number(verdict.loc[name, "Customers"]) == size, name
    assert len(cards) == len(profiles) == len(sizes)


def test_customer_totals_agree_or_name_their_sample(pages, cards, sizes):
    total = int(sizes.sum())
    assert cards["Customers"].map(_number).sum() == total
    stages = _table_with(pages["03"], "stage", "Customers").set_index("stage")
    assert _number(stages.loc["customers in the run", "Customers"]) == total
    checks = _table_with(pages["04"], "number")
    assert _number(checks.loc["customers segmented", "number"]) == total
    # a smaller count on these pages is labelled as a sample
    for label, value in stages["Customers"].items():
        if _number(value) != total:
            assert "sample" in label or "refit" in label or "Ward" in label, label
    map_title = [
        img["alt"] for img in pages["03"].find_all("img") if "2-D map" in img["alt"]
    ]
    assert map_title and (
        f"{total:,} shown" in map_title[0] or "sample" in map_title[0]
    )


def test_shares_agree_between_the_index_and_05(pages, cards):
    profiles = _table_with(pages["05"], "% of customers", "% of revenue")
    for name, card in cards.iterrows():
        share = re.search(r"\((\d+)% of customers\)", card["Customers"])
        assert share, card["Customers"]
        assert int(share.group(1)) == round(
            _number(profiles.loc[name, "% of customers"])
        )
        assert _number(card["Revenue share"]) == round(
            _number(profiles.loc[name, "% of revenue"])
        )


def test_value_and_revenue_at_risk_agree_between_the_index_and_05(pages, cards):
    value = _table_with(
        pages["05"], "CLV, total", "CLV per customer", "customers at risk"
    )
    for name, card in cards.iterrows():
        clv = card["Customer value (CLV)"]
        assert _number(clv) == _number(value.loc[name, "CLV, total"]), name
        per = re.search(r"\(([\d,.]+) per customer\)", clv)
        assert per and _number(per.group(1)) == _number(
            value.loc[name, "CLV per customer"]
        )
        risk = card["Revenue at risk"]
        column = next(c for c in value.columns if c.startswith("revenue at risk"))
        assert _number(risk) == _number(value.loc[name, column]), name
        at_risk = re.search(r"\(([\d,]+) customers\)", risk)
        assert at_risk and _number(at_risk.group(1)) == _number(
            value.loc[name, "customers at risk"]
        )


def test_stability_reading_agrees_between_the_index_04_and_05(pages, cards):
    verdict = _table_with(pages["04"], "Jaccard", "stability band")
    personas = pages["05"].get_text(" ", strip=True)
    for name, card in cards.iterrows():
        band = verdict.loc[name, "stability band"]
        assert card["Stability"] == band, name
        jaccard = verdict.loc[name, "Jaccard"]
        assert f"bootstrap Jaccard {jaccard} ({band})" in personas, name


def test_candidates_count_agrees_or_says_the_rfm_baseline_is_counted(
    fixture_run, pages
):
    text = pages["03"].get_text(" ", strip=True)
    found = re.search(r"of (\d+) candidates are stable and substantial; the RFM", text)
    assert found, "03 does not say how many candidates were compared"
    headline = {}
    for row in _tables(pages["in"]):
        for cells in row:
            if len(cells) >= 4 and cells[:2] == ["compare", "candidates"]:
                headline = {"value": cells[2], "meaning": cells[3]}
    assert headline, "the index has no candidates headline"
    assert int(_number(headline["value"])) == int(found.group(1)) + 1
    assert "RFM baseline" in headline["meaning"]


def test_segment_count_agrees_between_the_index_03_and_05(fixture_run, pages, cards):
    import json

    recommendation = json.loads(
        (fixture_run / "artifacts" / "recommendation.json").read_text()
    )
    chosen = recommendation["chosen"]
    k = int(chosen.rsplit("/", 1)[1]) if chosen and chosen[-1].isdigit() else None
    profiles = _table_with(pages["05"], "% of customers")
    if k is not None:
        assert len(cards) == len(profiles) == k
