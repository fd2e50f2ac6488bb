"""One sentence on the segment structure, the same on every page (03, 04, 05).

The compare step writes ``recommendation.json`` with ``structure`` (``clear``,
``weak`` or ``none``), ``structure_reason``, ``fallback`` and ``use_rfm_grid``.
When there is no clear structure the model the later reports use is only a
stand-in (the most stable candidate), and the recommendation is the rule-based
RFM grid: each page must say so first, before any figure of the fallback segments.
:func:`structure_sentence` writes that sentence; :func:`structure_banner` shows it
in a notebook; the validation verdict opens with it too
(:func:`segkit.validation.wording.overall_verdict`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from segkit.display import Note

if TYPE_CHECKING:
    from segkit.context import RunContext

__all__ = [
    "STRUCTURES",
    "read_recommendation",
    "structure_sentence",
    "structure_banner",
]

#: The values of ``recommendation.json["structure"]``.
STRUCTURES = ("clear", "weak", "none")


def read_recommendation(ctx: RunContext) -> dict[str, Any] | None:
    """``recommendation.json`` of the run, or None before the compare step ran."""
    if not ctx.has("recommendation.json"):
        return None
    return ctx.load_json("recommendation.json")


def _reason(recommendation: Mapping[str, Any]) -> str:
    reason = str(recommendation.get("structure_reason") or "").strip().rstrip(".")
    return f" ({reason[0].lower()}{reason[1:]})" if reason else ""


def structure_sentence(recommendation: Mapping[str, Any] | None) -> str | None:
    """The structure in one sentence; None when unknown (no recommendation).

    ``none`` (or ``use_rfm_grid`` / ``fallback`` true): there is no clear segment
    structure, the RFM grid is recommended and the segments shown are the fallback,
    for reference only. ``weak``: the structure is weak, use the segments with care
    and beside the RFM grid. ``clear``: the structure is clear.
    """
    if not recommendation or recommendation.get("structure") is None:
        return None
    structure = recommendation["structure"]
    if structure not in STRUCTURES:
        return None
    reason = _reason(recommendation)
    if recommendation.get("overridden"):
        return _chosen_sentence(recommendation, structure, reason)
    if (
        structure == "none"
        or recommendation.get("use_rfm_grid")
        or recommendation.get("fallback")
    ):
        return (
            f"There is no clear segment structure in these customers{reason}, so "
            "the rule-based RFM grid is recommended instead of clusters; the "
            "fallback segments shown here are for reference only."
        )
    if structure == "weak":
        return (
            f"The segment structure is weak{reason}: use these segments with care "
            "and check them against the RFM grid before acting on them."
        )
    return f"The segment structure is clear{reason}."


def _chosen_sentence(recommendation: Mapping[str, Any], structure: str, reason: str):
    """The analyst overrode the rule (``clustering.choice``): say so first, then
    what the grid found, so the fallback wording never describes a deliberate pick."""
    chosen = recommendation.get("chosen")
    found = {
        "none": f"the clustering grid found no clear segment structure{reason}",
        "weak": f"the clustering grid found only weak structure{reason}",
        "clear": f"the clustering grid found clear structure{reason}",
    }[structure]
    if str(chosen).startswith("clv_tiers"):
        return (
            f"These segments are CLV tiers chosen by the analyst (clustering.choice "
            f"{chosen}), a rule-based value segmentation rather than discovered "
            f"clusters; for reference, {found}."
        )
    rfm = "; the rule would recommend the RFM grid" if structure == "none" else ""
    return (
        f"These segments are {chosen}, chosen by the analyst (clustering.choice) "
        f"over the rule's recommendation; {found}{rfm}."
    )


def structure_banner(source: RunContext | Mapping[str, Any] | None) -> Note:
    """The structure sentence in bold for the top of a notebook.

    ``source`` is the run context (``recommendation.json`` is read from it) or the
    recommendation itself.
    """
    if source is not None and not isinstance(source, Mapping):
        source = read_recommendation(source)
    sentence = structure_sentence(source)
    if sentence is None:
        return Note("The compare step has not run: the segment structure is unknown.")
    return Note(f"**{sentence}**")
