"""The executive summary at the top of a run's ``index.html``, built from its artifacts.

:func:`build_summary` reads what the notebooks left in ``<run>/artifacts/`` and
returns plain data for the index template: one card per segment (name, customers,
shares, customer value, revenue at risk, its play), one trust sentence, one data
coverage sentence and, where an artifact is missing, which page failed to make it.

=====================  ================================================  ========
artifact               used for                                          notebook
=====================  ================================================  ========
ledger.csv             data coverage (value without a customer id)       01
value.json             whether CLV exists (and why not)                  02
values.parquet         CLV and revenue at risk per segment               02
recommendation.json    ``structure`` / ``fallback``                      03
labels.parquet         segment of each customer (to sum CLV)             03
validation.json        the trust sentence (baselines, verdict table)     04
segments.json          names, sizes, shares, revenue shares, plays       05
=====================  ================================================  ========

Formatting helpers (:func:`money`, :func:`percent`, :func:`count`) give business
formatting: a currency prefix, thousands separators, shares as percentages.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "parallel_note",
    "build_summary",
    "count",
    "coverage_sentence",
    "money",
    "percent",
    "reuse_sentence",
    "segment_cards",
    "trust_sentence",
]

logger = logging.getLogger(__name__)

#: Artifact -> the number prefix of the notebook that writes it.
ARTIFACT_NOTEBOOK = {
    "ledger.csv": "01",
    "value.json": "02",
    "values.parquet": "02",
    "recommendation.json": "03",
    "labels.parquet": "03",
    "validation.json": "04",
    "segments.json": "05",
}

#: The baseline that stands for chance (judged by the permutation test instead).
_SHUFFLED = "shuffled labels"
#: Outcomes measured over the horizon after t0 (the others are customer columns).
_HORIZON = ("log revenue", "revenue", "bought again")


def money(value: float | None, currency: str = "") -> str:
    """``£1,234`` (whole units from 100 up), ``£12.50`` below; ``n/a`` when missing."""
    if value is None or pd.isna(value):
        return "n/a"
    sign = "-" if value < 0 else ""
    amount = abs(float(value))
    digits = 0 if amount >= 100 or amount == 0 else 2
    return f"{sign}{currency}{amount:,.{digits}f}"


def percent(share: float | None) -> str:
    """A share as a percentage: ``36%`` from 10 % up, ``4.2%`` below, ``<0.1%``."""
    if share is None or pd.isna(share):
        return "n/a"
    value = 100 * float(share)
    if value == 0:
        return "0%"
    if 0 < abs(value) < 0.1:
        return "<0.1%"
    return f"{value:.0f}%" if abs(value) >= 10 else f"{value:.1f}%"


def count(value: int | float | None) -> str:
    """A count with thousands separators (``4,334``)."""
    if value is None or pd.isna(value):
        return "n/a"
    return f"{int(round(float(value))):,}"


def _join(parts: list[str], word: str = "and") -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + f" {word} " + parts[-1]


def coverage_sentence(ledger: pd.DataFrame, currency: str = "") -> str | None:
    """How much of the data the segments cover, from the cleaning ledger.

    Parameters
    ----------
    ledger : DataFrame
        ``ledger.csv``: columns ``rule``, ``rows``, ``value``; rows ``raw``,
        ``missing_customer_id`` (optional) and ``kept``.
    currency : str
        Money prefix.

    Returns
    -------
    str or None
        E.g. "15% of the value of the order lines read (£1,447,682 of
        £9,747,748) had no customer id and is not segmented; ...". None when the
        ledger lacks the ``raw`` row or the ``value`` column.
    """
    if not {"rule", "rows", "value"} <= set(ledger.columns):
        return None
    by = ledger.set_index(ledger["rule"].astype(str))
    if "raw" not in by.index:
        return None
    raw_value = float(by.at["raw", "value"])
    raw_rows = int(by.at["raw", "rows"])
    parts = []
    missing = (
        by.loc["missing_customer_id"] if "missing_customer_id" in by.index else None
    )
    if missing is not None and int(missing["rows"]) > 0 and raw_value:
        share = float(missing["value"]) / raw_value
        parts.append(
            f"{percent(share)} of the value of the order lines read "
            f"({money(missing['value'], currency)} of {money(raw_value, currency)}; "
            f"{count(missing['rows'])} of {count(raw_rows)} lines) had no customer "
            "id and is not segmented"
        )
    else:
        parts.append("every order line read had a customer id")
    if "kept" in by.index:
        parts.append(
            f"the segments are built on {count(by.at['kept', 'rows'])} clean sales "
            f"lines worth {money(by.at['kept', 'value'], currency)} (returns, fees "
            "and duplicates removed, see 01-explore)"
        )
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def _what(outcome: str) -> str:
    return f"next-horizon {outcome}" if outcome in _HORIZON else str(outcome)


def _stability_clauses(validation: Mapping[str, Any]) -> tuple[list, list]:
    weak: list[str] = []
    strong: list[str] = []
    verdict = validation.get("verdict") or {}
    table = [r for r in verdict.get("table") or [] if r.get("segment") != -1]
    limits = verdict.get("thresholds") or {}
    watch = limits.get("watch_jaccard")
    n = len(table)
    if not n or watch is None:
        return weak, strong
    unstable = sum(1 for r in table if (r.get("jaccard") or 0) < watch)
    merge = sum(
        1 for r in table if str(r.get("recommendation", "")).startswith("merge")
    )
    ari = ((validation.get("stability") or {}).get("global") or {}).get("ari_mean")
    if unstable:
        weak.append(f"{unstable} of {n} segments fall apart under resampling")
    elif ari is not None and ari < watch:
        weak.append(
            f"the segmentation as a whole does not come back under resampling "
            f"(mean ARI {ari:.2f})"
        )
    else:
        strong.append(f"all {n} segments come back under resampling")
    if merge:
        weak.append(
            f"{merge} of {n} segments are not separated from a neighbour by a gap "
            "and should be merged"
        )
    return weak, strong


def _baseline_clauses(validation: Mapping[str, Any]) -> tuple[list, list]:
    weak: list[str] = []
    strong: list[str] = []
    baselines = list(validation.get("baselines") or [])
    if not baselines:
        return weak, strong
    own = baselines[0].get("reference") or {}
    what = _what(baselines[0].get("outcome", "the outcome"))
    alpha = ((validation.get("verdict") or {}).get("thresholds") or {}).get(
        "alpha", 0.05
    )
    p_value = own.get("p_value")
    low = own.get("low")
    if p_value is None or p_value >= alpha:
        weak.append(f"the segments predict {what} no better than chance")
    elif low is None or not low > 0:
        weak.append(
            f"their edge over chance at predicting {what} is uncertain (the interval "
            "of the held-out R² includes 0)"
        )
    else:
        strong.append(f"the segments predict {what} better than chance")
    by_wording: dict[str, list[str]] = {}
    for entry in baselines:
        if entry.get("name") == _SHUFFLED or entry.get("difference") is None:
            continue
        name = f"{entry['name']} ({entry['groups']} groups)"
        by_wording.setdefault(str(entry.get("wording")), []).append(name)
    if by_wording.get("worse"):
        weak.append(f"they predict it worse than {_join(by_wording['worse'])}")
    if by_wording.get("indistinguishable"):
        names = _join(by_wording["indistinguishable"], "or")
        weak.append(f"they predict it no better than the simpler {names}")
    if by_wording.get("better"):
        strong.append(f"they predict it better than {_join(by_wording['better'])}")
    return weak, strong


def trust_sentence(
    validation: Mapping[str, Any] | None,
    recommendation: Mapping[str, Any] | None = None,
) -> str | None:
    """One honest sentence on how far the segments can be trusted, weak points first.

    When the comparison found no structure (``recommendation["structure"] ==
    "none"`` or ``"fallback"``), the sentence says so and recommends the RFM grid.
    Otherwise it opens "Weak evidence:" when anything is weak -- chance-level or
    uncertain prediction of the held-out outcome, an RFM baseline that does as
    well or better (the ``wording`` of ``validation["baselines"]``), segments that
    fall apart or should be merged (``validation["verdict"]["table"]``), a weak
    structure -- and names what holds after "although"; else it opens "Good
    evidence:".

    Parameters
    ----------
    validation : mapping or None
        ``validation.json``.
    recommendation : mapping, optional
        ``recommendation.json``.

    Returns
    -------
    str or None
        None when neither artifact is given.
    """
    recommendation = recommendation or {}
    if recommendation.get("fallback") or recommendation.get("structure") == "none":
        return (
            "No real segments: the customers do not fall into distinct groups, so "
            "the groups below are only a stand-in and the RFM grid (02-features) "
            "is the recommended segmentation."
        )
    if validation is None:
        return None
    weak, strong = _baseline_clauses(validation)
    stable_weak, stable_strong = _stability_clauses(validation)
    weak += stable_weak
    strong += stable_strong
    if recommendation.get("structure") == "weak":
        weak.insert(0, "the cluster structure is weak")
    if not weak and not strong:
        text = (validation.get("verdict") or {}).get("text")
        return str(text).split(". ")[0].rstrip(".") + "." if text else None
    if weak:
        text = "Weak evidence: " + _join(weak)
        if strong:
            text += ", although " + _join(strong)
    else:
        text = "Good evidence: " + _join(strong)
    return text + "."


def segment_cards(
    segments: Mapping[str, Any],
    *,
    values: pd.DataFrame | None = None,
    labels: pd.Series | None = None,
) -> list[dict[str, Any]]:
    """One card per segment, in the order of ``segments.json``.

    Parameters
    ----------
    segments : mapping
        ``segments.json``: ``segments`` entries with ``id``, ``name``, ``size``,
        ``share``, ``revenue_share``, ``plays`` (``{play, why}`` list), ``stability``.
    values : DataFrame, optional
        ``values.parquet`` (index ``customer_id``); with ``labels``, adds customer
        value through :func:`segkit.features.clv.segment_value`.
    labels : Series, optional
        Segment per customer, index ``customer_id``.

    Returns
    -------
    list of dict
        ``id``, ``name``, ``customers``, ``share``, ``revenue_share``, ``play``,
        ``play_why``, ``stability`` and, with values, ``clv_total``, ``clv_mean``,
        ``revenue_at_risk``, ``at_risk_customers`` (None otherwise).
    """
    value_by: dict[int, Mapping[str, Any]] = {}
    if values is not None and labels is not None:
        from segkit.features.clv import segment_value

        values = values.copy()
        values.index = values.index.astype(str)
        labels = labels.copy()
        labels.index = labels.index.astype(str)
        table = segment_value(values, labels)
        value_by = {int(r["segment"]): r for r in table.to_dict("records")}
    cards = []
    for entry in segments.get("segments") or []:
        plays = entry.get("plays") or []
        value = value_by.get(int(entry["id"]), {})
        stability = entry.get("stability") or {}
        cards.append(
            {
                "id": int(entry["id"]),
                "name": entry.get("name") or f"Segment {entry['id']}",
                "customers": int(entry.get("size") or 0),
                "share": entry.get("share"),
                "revenue_share": entry.get("revenue_share"),
                "play": plays[0]["play"] if plays else None,
                "play_why": plays[0].get("why") if plays else None,
                "stability": stability.get("band"),
                "clv_total": value.get("clv_total"),
                "clv_mean": value.get("clv_mean"),
                "revenue_at_risk": value.get("revenue_at_risk"),
                "at_risk_customers": value.get("at_risk_customers"),
            }
        )
    return cards


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _customers_coverage(art: Path) -> str | None:
    """Coverage of an attribute-only run (no order lines, so no ledger): how many
    rows of the customers table got a segment; None when it is not such a run."""
    summary = _read_json(art / "data_summary.json") or {}
    rows = summary.get("customers_rows")
    if rows is None or summary.get("source_file") or (art / "ledger.csv").exists():
        return None
    labels = _read_parquet(art / "labels.parquet")
    if labels is None:
        return None
    segmented = len(labels)
    name = summary.get("customers_file") or "the customers table"
    if segmented >= rows:
        return (
            f"all {rows:,} rows of {name} are segmented (no order lines in this run)."
        )
    return (
        f"{segmented:,} of the {rows:,} rows of {name} are segmented; "
        f"{rows - segmented:,} were dropped by the data step (see 01-explore)."
    )


def _read_parquet(path: Path) -> pd.DataFrame | None:
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError, ImportError):
        return None
    if "customer_id" in frame.columns:
        frame = frame.set_index("customer_id")
    return frame


def _page_of(artifact: str, notebooks: list[Mapping[str, Any]]) -> Mapping | None:
    prefix = ARTIFACT_NOTEBOOK.get(artifact, "")
    for nb in notebooks:
        if str(nb.get("name", "")).startswith(prefix + "-"):
            return nb
    return None


def _missing(artifact: str, what: str, notebooks: list[Mapping[str, Any]]) -> dict:
    """Why ``what`` is not shown: the page that should have written ``artifact``."""
    nb = _page_of(artifact, notebooks)
    failed = [n for n in notebooks if n.get("status") == "failed"]
    if nb is None:
        reason = f"the notebook that writes {artifact} was not part of this run"
    elif nb.get("status") == "failed":
        reason = f"{nb['name']} failed"
    elif nb.get("status") == "skipped" and failed:
        reason = f"{nb['name']} did not run because {failed[0]['name']} failed"
    elif nb.get("status") in ("pending", "running"):
        reason = f"{nb['name']} has not finished yet"
    else:
        reason = f"{nb['name']} did not write {artifact}"
    return {
        "what": what,
        "reason": reason,
        "html": None if nb is None else nb.get("html"),
    }


def reuse_sentence(steps: Mapping[str, Mapping[str, Any]] | None) -> str | None:
    """One line on which steps were reused from which earlier run (manifest
    ``steps``), e.g. "Reused, their inputs unchanged, from run 2026-12-01: data,
    features, compare; computed now: value, validate, profile. ..."; None when
    nothing was reused."""
    by_run: dict[str, list[str]] = {}
    computed = []
    for step, record in (steps or {}).items():
        if record.get("status") == "reused":
            by_run.setdefault(str(record.get("reused_from")), []).append(step)
        else:
            computed.append(step)
    if not by_run:
        return None
    parts = [f"run {run}: {', '.join(names)}" for run, names in by_run.items()]
    text = "Reused, their inputs unchanged, from " + "; ".join(parts)
    if computed:
        text += f"; computed now: {', '.join(computed)}"
    return text + ". segkit report --fresh recomputes all."


def parallel_note(sentence: str | None, parallel: Any) -> str | None:
    """The reuse line plus which notebooks ran side by side (their seconds overlap).

    Either part may be missing: a cold run reuses nothing but its notebooks still
    overlap (each starts once the steps it reads are written).
    """
    if not parallel:
        return sentence
    names = ", ".join(str(p).split("-", 1)[0] for p in parallel)
    note = (
        f"Notebooks {names} ran side by side, each starting once the steps it "
        "reads were there: their seconds overlap and add up to more than the run's."
    )
    return f"{sentence} {note}" if sentence else note


def build_summary(
    run_dir: str | Path,
    manifest: Mapping[str, Any] | None = None,
    *,
    exports_dir: str | Path | None = None,
) -> dict[str, Any]:
    """The executive summary of a run, from its artifacts; missing ones are said.

    Parameters
    ----------
    run_dir : str or Path
        The run folder (its ``artifacts/`` is read).
    manifest : mapping, optional
        The run's manifest: ``config.report.currency`` and the notebook statuses.
    exports_dir : str or Path, optional
        The CRM export folder of this run (see :mod:`segkit.runner.exports`);
        default ``<run_dir>/../../exports/<run name>`` when it exists.

    Returns
    -------
    dict
        ``currency``, ``trust`` (sentence or None), ``fallback`` (no real
        segments), ``structure_reason``, ``coverage`` (sentence or
        None), ``value_note`` (why CLV is not shown, or None), ``has_value``,
        ``cards`` (:func:`segment_cards`, money and shares formatted in
        ``*_text`` keys), ``missing`` (``{what, reason, html}`` per missing
        part), ``exports`` (path as text, or None), ``customers``, ``reuse``
        (:func:`reuse_sentence`).
    """
    run_dir = Path(run_dir)
    art = run_dir / "artifacts"
    manifest = manifest or {}
    notebooks = list(manifest.get("notebooks") or [])
    config = manifest.get("config") or {}
    currency = str((config.get("report") or {}).get("currency") or "")
    missing: list[dict] = []

    coverage = None
    if (art / "ledger.csv").exists():
        try:
            coverage = coverage_sentence(pd.read_csv(art / "ledger.csv"), currency)
        except (OSError, ValueError, pd.errors.ParserError):
            logger.warning("cannot read %s", art / "ledger.csv")
    if coverage is None:
        coverage = _customers_coverage(art)
    if coverage is None:
        missing.append(_missing("ledger.csv", "Data coverage", notebooks))

    recommendation = _read_json(art / "recommendation.json")
    validation = _read_json(art / "validation.json")
    trust = trust_sentence(validation, recommendation)
    if validation is None and trust is None:
        missing.append(_missing("validation.json", "The trust statement", notebooks))

    value_doc = _read_json(art / "value.json")
    values = labels = None
    value_note = None
    if value_doc is None:
        missing.append(_missing("value.json", "Customer value (CLV)", notebooks))
    elif not value_doc.get("available"):
        value_note = (
            "Customer value (CLV) is not shown: "
            + str(
                value_doc.get("reason") or "the value step did not fit a model"
            ).rstrip(".")
            + "."
        )
    else:
        values = _read_parquet(art / "values.parquet")
        frame = _read_parquet(art / "labels.parquet")
        labels = None if frame is None else frame["segment"].astype("int64")
        if values is None or labels is None:
            values = labels = None
            value_note = "Customer value (CLV) is not shown: values.parquet or "
            value_note += "labels.parquet cannot be read."

    segments_doc = _read_json(art / "segments.json")
    cards: list[dict[str, Any]] = []
    if segments_doc is None:
        missing.append(_missing("segments.json", "The segment cards", notebooks))
    else:
        cards = segment_cards(segments_doc, values=values, labels=labels)
        for card in cards:
            card["customers_text"] = count(card["customers"])
            card["share_text"] = percent(card["share"])
            card["revenue_share_text"] = percent(card["revenue_share"])
            for key in ("clv_total", "clv_mean", "revenue_at_risk"):
                card[key + "_text"] = money(card[key], currency)
    if exports_dir is None:
        exports_dir = run_dir.parent.parent / "exports" / run_dir.name
    exports_dir = Path(exports_dir)
    return {
        "currency": currency,
        "trust": trust,
        "fallback": bool(
            (recommendation or {}).get("fallback")
            or (recommendation or {}).get("structure") == "none"
        ),
        "structure_reason": (recommendation or {}).get("structure_reason"),
        "coverage": coverage,
        "value_note": value_note,
        "has_value": values is not None and labels is not None,
        "cards": cards,
        "customers": None if segments_doc is None else segments_doc.get("customers"),
        "missing": missing,
        "exports": str(exports_dir.resolve()) if exports_dir.exists() else None,
        "reuse": parallel_note(
            reuse_sentence(manifest.get("steps")), manifest.get("parallel")
        ),
    }
