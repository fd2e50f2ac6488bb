"""Marketing plays that fit the members, chosen from claims that hold.

A play fits a segment when every claim in its ``when`` holds for the segment (see
:mod:`segkit.profiles.claims`: a claim holds for >= 80 % of the members). Plays
that contact customers to bring them back or keep them out of campaigns
(``kind`` "reactivate" or "suppress") never apply to members who ordered in the
last ``profiles.recent_days``: when a segment has such members, the play says how
many are left out, so the text stays true for everyone it targets; plays that
keep or grow customers name the members at risk or lapsed who need a win-back
instead.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["PLAYS", "FALLBACK_PLAY", "plays_for"]

#: Plays as data, in display order: ``when`` lists the claims that must all hold.
PLAYS: list[dict[str, Any]] = [
    {
        "play": "VIP treatment and loyalty rewards",
        "when": ("high-value", "active"),
        "kind": "retain",
        "why": "the most valuable customers, and still active",
    },
    {
        "play": "Win-back offer",
        "when": ("high-value", "silent"),
        "kind": "reactivate",
        "why": "valuable customers who have stopped buying",
    },
    {
        "play": "Protect the value at risk",
        "when": ("high-value", "churn risk"),
        "kind": "reactivate",
        "why": "valuable customers the purchase model says have probably stopped",
    },
    {
        "play": "Retention check-in",
        "when": ("frequent", "at risk"),
        "kind": "reactivate",
        "why": "regular buyers silent for longer than their usual gap",
    },
    {
        "play": "Second-purchase nudge",
        "when": ("new", "one-timers"),
        "kind": "grow",
        "why": "bought once, recently: the moment to build a habit",
    },
    {
        "play": "Onboarding series",
        "when": ("new",),
        "kind": "grow",
        "why": "first order within the last weeks",
    },
    {
        "play": "Cross-sell and upsell",
        "when": ("active", "repeat"),
        "kind": "grow",
        "why": "active repeat buyers with room to spend more",
    },
    {
        "play": "Re-engagement reminder",
        "when": ("at risk",),
        "kind": "reactivate",
        "why": "silent for longer than usual, not yet lapsed",
    },
    {
        "play": "Suppress from paid campaigns",
        "when": ("lapsed", "one-timers", "low-value"),
        "kind": "suppress",
        "why": "one low-value order long ago",
    },
    {
        "play": "Low-cost reactivation (email only)",
        "when": ("silent",),
        "kind": "reactivate",
        "why": "at risk or lapsed: worth a cheap reminder, not paid media",
    },
]

#: The play shown when no row of :data:`PLAYS` fits.
FALLBACK_PLAY: dict[str, Any] = {
    "play": "Monitor",
    "when": (),
    "kind": "none",
    "why": "no play's claims all hold for this segment; review the profile",
}


def _silent(facts: pd.Series | None) -> int:
    if facts is None or "customers" not in facts:
        return 0
    share = float(facts.get("share_at_risk", 0.0)) + float(
        facts.get("share_lapsed", 0.0)
    )
    return int(round(share * int(facts["customers"])))


def plays_for(
    holding: set[str], facts: pd.Series | None = None, *, recent_days: int = 30
) -> list[dict[str, str]]:
    """The plays whose claims all hold, with recent buyers left out where needed.

    Parameters
    ----------
    holding : set of str
        Claims that hold for the segment.
    facts : Series, optional
        The segment's row of :func:`segkit.profiles.claims.segment_facts`
        (``recent_customers``, ``recent_share``).
    recent_days : int
        ``profiles.recent_days``.

    Returns
    -------
    list of dict
        ``{play, why}``; the fallback "Monitor" when none fits.
    """
    recent = 0 if facts is None else int(facts.get("recent_customers", 0) or 0)
    share = 0.0 if facts is None else float(facts.get("recent_share", 0.0) or 0.0)
    out = []
    for play in PLAYS:
        if not all(c in holding for c in play["when"]):
            continue
        why = play["why"]
        if play["kind"] in ("reactivate", "suppress") and recent:
            why += (
                f"; leave out the {recent:,} members ({share:.0%}) who ordered in "
                f"the last {recent_days} days"
            )
        silent = _silent(facts)
        if play["kind"] in ("retain", "grow") and silent:
            why += (
                f"; the {silent:,} members at risk or lapsed need a win-back "
                "contact instead"
            )
        out.append({"play": play["play"], "why": why})
    return out or [{"play": FALLBACK_PLAY["play"], "why": FALLBACK_PLAY["why"]}]
