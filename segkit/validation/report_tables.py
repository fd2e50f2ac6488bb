"""Tables of notebook 04 for the held-out comparison and the gap tests.

:func:`baseline_table` (segments vs each baseline, with intervals and wording),
:func:`separation_table` (held-out gap test per pair beside the descriptive
effect) and :func:`shape_text` (the refits' ARI in words). Re-exported by
:mod:`segkit.validation.report`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from segkit.data.report import Note, Table
from segkit.display import segment_name as _name

__all__ = ["baseline_table", "separation_table", "shape_text", "value_baseline_note"]


def shape_text(found: Mapping[str, Any] | None) -> str:
    """The refits' ARI in words: one mode, or two competing solutions."""
    if not found or not found.get("modes"):
        return "not measured"
    if not found["bimodal"]:
        return "one mode (no competing solution)"
    return "bimodal, competing solutions: " + "; ".join(
        f"{m['share']:.0%} of refits at {m['low']:.2f}-{m['high']:.2f}"
        for m in found["modes"]
    )


def _interval(value: Any, low: Any, high: Any, *, points: bool = False) -> str:
    if value is None or pd.isna(value):
        return "n/a"
    if points:
        return f"{100 * value:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}]"
    return f"{value:.1%} [{low:.1%}, {high:.1%}]"


def baseline_table(validation: Mapping[str, Any]) -> pd.DataFrame:
    """The held-out comparison with each baseline: measures, difference, wording.

    One row per baseline of ``validation.json`` ``baselines``: the segments' and the
    baseline's held-out R squared with their intervals, the difference (in
    percentage points, segments minus baseline) with its paired bootstrap interval,
    and the wording it decides.
    """
    rows = validation.get("baselines") or []
    if not rows:
        return Table({"note": ["no outcome was measured in this run"]})
    level = f"{validation['verdict']['thresholds']['ci_level']:.0%}"
    table = pd.DataFrame(
        {
            "baseline": [r["name"] for r in rows],
            "groups": [r["groups"] for r in rows],
            "outcome": [r["outcome"] for r in rows],
            f"segments: held-out R\u00b2 [{level}]": [
                _interval(
                    r["reference"]["measure"],
                    r["reference"]["low"],
                    r["reference"]["high"],
                )
                for r in rows
            ],
            f"baseline: held-out R\u00b2 [{level}]": [
                _interval(r["measure"], r["low"], r["high"]) for r in rows
            ],
            f"difference, points [{level}]": [
                _interval(
                    r["difference"],
                    r["difference_low"],
                    r["difference_high"],
                    points=True,
                )
                for r in rows
            ],
            "segments are": [r["wording"] for r in rows],
        }
    )
    return Table(table.set_index("baseline"))


def separation_table(
    validation: Mapping[str, Any], *, names: Mapping[int, str] | None = None
) -> pd.DataFrame:
    """Per pair of segments: the held-out gap test (inferential) beside the
    largest Cliff's delta on the features that formed them (descriptive)."""
    pairs = pd.DataFrame(validation["distinctness"]["pairs"])
    if pairs.empty:
        return Table({"note": ["fewer than two segments: no pair to test"]})
    p_adjusted = pairs.get("gap_p_adjusted", pd.Series(np.nan, index=pairs.index))
    table = pd.DataFrame(
        {
            "pair": [
                f"{_name(names, a)} / {_name(names, b)}"
                for a, b in zip(pairs["segment_a"], pairs["segment_b"], strict=True)
            ],
            "held-out customers tested": pairs.get("customers_tested", 0),
            "gap test, adjusted p (held-out)": pd.to_numeric(
                p_adjusted, errors="coerce"
            ).round(3),
            "distinct (held-out gap)": np.where(
                pairs.get("tested", False),
                np.where(pairs["distinct"], "yes", "no"),
                "not tested",
            ),
            "largest |Cliff's delta| (descriptive)": pairs["max_abs_delta"].round(2),
        }
    )
    return Table(table.set_index("pair"))


def value_baseline_note(validation: Mapping[str, Any]) -> Note:
    """Whether the CLV tiers are among the baselines, and why (one sentence)."""
    found = ((validation.get("outcomes") or {}).get("value_baseline")) or {}
    note = found.get("note")
    if not note:
        return Note("CLV tiers were not considered: no outcome horizon in this run.")
    return Note(f"{note}.")
