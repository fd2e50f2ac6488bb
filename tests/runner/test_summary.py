"""Tests of segkit.runner.summary: the executive summary built from hand-made artifacts."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from segkit.runner.summary import (
    build_summary,
    count,
    coverage_sentence,
    money,
    percent,
    segment_cards,
    trust_sentence,
)

THRESHOLDS = {"alpha": 0.05, "watch_jaccard": 0.6, "keep_jaccard": 0.75}


def _baseline(name, wording, groups=4, p_value=0.001, low=0.05):
    return {
        "name": name,
        "groups": groups,
        "outcome": "log revenue",
        "measure": 0.1,
        "difference": 0.02,
        "wording": wording,
        "reference": {"groups": 3, "measure": 0.12, "low": low, "p_value": p_value},
    }


def _validation(*baselines, jaccards=(0.9, 0.9, 0.9), recs=("keep",) * 3, ari=0.9):
    table = [
        {"segment": i, "jaccard": j, "recommendation": r}
        for i, (j, r) in enumerate(zip(jaccards, recs, strict=True))
    ]
    return {
        "baselines": list(baselines),
        "verdict": {"table": table, "thresholds": THRESHOLDS, "text": "x"},
        "stability": {"global": {"ari_mean": ari}},
    }


def test_money_percent_and_count_use_currency_separators_and_percent():
    assert money(8737227.64, "£") == "£8,737,228"
    assert money(12.5, "£") == "£12.50"
    assert money(-1500, "EUR ") == "-EUR 1,500"
    assert money(0, "£") == "£0"
    assert money(None, "£") == "n/a"
    assert percent(0.361) == "36%"
    assert percent(0.042) == "4.2%"
    assert percent(0.0004) == "<0.1%"
    assert count(4334) == "4,334"


def test_coverage_sentence_is_computed_from_the_ledger_rows():
    ledger = pd.DataFrame(
        {
            "rule": ["raw", "missing_customer_id", "kept"],
            "rows": [1000, 150, 800],
            "value": [20000.0, 3000.0, 15000.0],
        }
    )
    text = coverage_sentence(ledger, "£")
    assert text.startswith(
        "15% of the value of the order lines read (£3,000 of £20,000; 150 of "
        "1,000 lines) had no customer id and is not segmented"
    )
    assert "800 clean sales lines worth £15,000" in text


def test_coverage_sentence_without_missing_ids_says_every_line_had_one():
    ledger = pd.DataFrame(
        {"rule": ["raw", "kept"], "rows": [10, 10], "value": [5.0, 5.0]}
    )
    assert coverage_sentence(ledger).startswith(
        "Every order line read had a customer id"
    )


def test_trust_sentence_indistinguishable_from_rfm_is_weak_evidence_first():
    text = trust_sentence(_validation(_baseline("RFM tiers", "indistinguishable")))
    assert text == (
        "Weak evidence: they predict it no better than the simpler RFM tiers "
        "(4 groups), although the segments predict next-horizon log revenue better "
        "than chance and all 3 segments come back under resampling."
    )


def test_trust_sentence_better_than_every_baseline_is_good_evidence():
    text = trust_sentence(
        _validation(
            _baseline("RFM tiers", "better"),
            _baseline("shuffled labels", "better"),
        )
    )
    assert text.startswith("Good evidence: the segments predict next-horizon log")
    assert "better than RFM tiers (4 groups)" in text
    assert "shuffled" not in text  # chance is the permutation test, said once


def test_trust_sentence_worse_and_unstable_lead_with_the_weak_points():
    text = trust_sentence(
        _validation(
            _baseline("RFM named segments", "worse", groups=10, p_value=0.4),
            jaccards=(0.9, 0.3, 0.4),
            recs=("keep", "watch", "merge with Segment 0"),
        )
    )
    assert text.startswith(
        "Weak evidence: the segments predict next-horizon log revenue no better "
        "than chance, they predict it worse than RFM named segments (10 groups), "
        "2 of 3 segments fall apart under resampling and 1 of 3 segments are not "
        "separated"
    )
    assert "although" not in text


def test_trust_sentence_without_structure_says_so_and_recommends_the_rfm_grid():
    text = trust_sentence(
        _validation(_baseline("RFM tiers", "better")),
        {"structure": "none", "fallback": True},
    )
    assert text.startswith("No real segments:")
    assert "RFM grid" in text and "recommended" in text
    assert trust_sentence(None, {"structure": "none"}).startswith("No real segments")


def test_trust_sentence_weak_structure_is_said_first():
    text = trust_sentence(
        _validation(_baseline("RFM tiers", "better")), {"structure": "weak"}
    )
    assert text.startswith("Weak evidence: the cluster structure is weak, although")


def _values():
    return pd.DataFrame(
        {
            "clv": [100.0, 300.0, 1000.0],
            "expected_revenue": [10.0, 30.0, 100.0],
            "p_alive": [0.9, 0.2, 0.8],
            "at_risk": [False, True, False],
            "run_rate_revenue": [50.0, 80.0, 400.0],
        },
        index=pd.Index(["a", "b", "c"], name="customer_id"),
    )


def _segments():
    return {
        "customers": 3,
        "segments": [
            {
                "id": 0,
                "name": "Occasional",
                "size": 2,
                "share": 2 / 3,
                "revenue_share": 0.25,
                "plays": [{"play": "Win back", "why": "lapsing"}],
                "stability": {"band": "stable"},
            },
            {
                "id": 1,
                "name": "Loyal",
                "size": 1,
                "share": 1 / 3,
                "revenue_share": 0.75,
                "plays": [],
                "stability": None,
            },
        ],
    }


def test_segment_cards_sum_customer_value_per_segment():
    labels = pd.Series([0, 0, 1], index=pd.Index(["a", "b", "c"], name="customer_id"))
    before = _values().copy()
    values = _values()
    cards = segment_cards(_segments(), values=values, labels=labels)
    pd.testing.assert_frame_equal(values, before)
    assert [c["name"] for c in cards] == ["Occasional", "Loyal"]
    assert cards[0]["clv_total"] == pytest.approx(400.0)
    assert cards[0]["clv_mean"] == pytest.approx(200.0)
    assert cards[0]["revenue_at_risk"] == pytest.approx(80.0)
    assert cards[0]["play"] == "Win back" and cards[1]["play"] is None
    assert cards[1]["clv_total"] == pytest.approx(1000.0)


def write_run(folder, *, value=True, segments=True, notebooks=None):
    """A hand-made run folder: artifacts of every step, a manifest-like mapping."""
    art = folder / "artifacts"
    art.mkdir(parents=True)
    pd.DataFrame(
        {
            "rule": ["raw", "missing_customer_id", "kept"],
            "rows": [100, 10, 80],
            "value": [1000.0, 150.0, 800.0],
        }
    ).to_csv(art / "ledger.csv", index=False)
    labels = pd.DataFrame(
        {"segment": [0, 0, 1]}, index=pd.Index(["a", "b", "c"], name="customer_id")
    )
    labels.to_parquet(art / "labels.parquet")
    _values().to_parquet(art / "values.parquet")
    if value:
        (art / "value.json").write_text(json.dumps({"available": True}))
    else:
        reason = "fewer than 50 repeat buyers"
        (art / "value.json").write_text(
            json.dumps({"available": False, "reason": reason})
        )
    (art / "recommendation.json").write_text(json.dumps({"structure": "clear"}))
    (art / "validation.json").write_text(
        json.dumps(_validation(_baseline("RFM tiers", "indistinguishable")))
    )
    if segments:
        (art / "segments.json").write_text(json.dumps(_segments()))
    return {
        "config": {"name": "shop", "report": {"currency": "£"}},
        "seconds": 1.0,
        "notebooks": notebooks
        or [
            {"name": f"0{i}-x", "status": "ok", "html": f"0{i}-x.html"}
            for i in range(1, 6)
        ],
    }


def test_build_summary_from_artifacts_formats_money_and_shares(tmp_path):
    manifest = write_run(tmp_path)
    summary = build_summary(tmp_path, manifest)
    assert summary["coverage"].startswith("15% of the value")
    assert summary["trust"].startswith("Weak evidence: they predict it no better")
    assert summary["has_value"] and summary["missing"] == []
    first = summary["cards"][0]
    assert first["share_text"] == "67%" and first["revenue_share_text"] == "25%"
    assert first["clv_total_text"] == "£400" and first["clv_mean_text"] == "£200"
    assert first["revenue_at_risk_text"] == "£80.00"


def test_build_summary_without_value_omits_clv_and_says_why(tmp_path):
    summary = build_summary(tmp_path, write_run(tmp_path, value=False))
    assert not summary["has_value"]
    assert summary["value_note"] == (
        "Customer value (CLV) is not shown: fewer than 50 repeat buyers."
    )
    assert summary["cards"][0]["clv_total"] is None


def test_build_summary_names_the_failed_page_when_segments_are_missing(tmp_path):
    notebooks = [
        {"name": "04-validate", "status": "failed", "html": "04-validate.html"},
        {"name": "05-profiles", "status": "skipped", "html": None},
    ]
    summary = build_summary(
        tmp_path, write_run(tmp_path, segments=False, notebooks=notebooks)
    )
    assert summary["cards"] == []
    assert summary["missing"] == [
        {
            "what": "The segment cards",
            "reason": "05-profiles did not run because 04-validate failed",
            "html": None,
        }
    ]


def test_an_attribute_only_run_states_its_coverage_from_the_customers_table(
    tmp_path,
):
    import json as _json

    from segkit.runner.summary import build_summary

    art = tmp_path / "artifacts"
    art.mkdir()
    (art / "data_summary.json").write_text(
        _json.dumps({"customers_file": "people.csv", "customers_rows": 5})
    )
    labels = pd.DataFrame(
        {"segment": [0, 0, 1, 1]},
        index=pd.Index(["a", "b", "c", "d"], name="customer_id"),
    )
    labels.to_parquet(art / "labels.parquet")
    summary = build_summary(tmp_path, {"config": {}, "notebooks": []})
    assert summary["coverage"] == (
        "4 of the 5 rows of people.csv are segmented; 1 were dropped by the data "
        "step (see 01-explore)."
    )
    assert not any(m["what"] == "Data coverage" for m in summary["missing"])
