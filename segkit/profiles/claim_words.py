"""The words of segment names: claim keys to words, and names back to claims.

A claim key (what :mod:`segkit.profiles.claims` checks, e.g. ``low active_months``)
becomes words through :func:`claim_text` ("few active months", from
:mod:`segkit.glossary`); a hand-written name becomes claims through
:func:`name_word_claims`, and :func:`check_name` tests them on a segment's
members. Base for :mod:`segkit.profiles.claims` and :mod:`segkit.profiles.naming`.
"""

from __future__ import annotations

import re

import pandas as pd

from segkit.glossary import display_name, high_low

__all__ = [
    "NAME_WORDS",
    "check_name",
    "claim_text",
    "mark_name_claims",
    "name_word_claims",
]

#: Behaviour claim -> the words a name uses for it.
WORDS = {
    "one-timers": "one-timers",
    "repeat": "repeat buyers",
    "frequent": "regulars",
    "loyal": "loyal",
    "new": "new",
    "active": "active",
    "at risk": "at risk",
    "lapsed": "lapsed",
    "silent": "silent",
    "high-value": "high-value",
    "low-value": "low-value",
    "churn risk": "at churn risk",
}

#: Words of a (hand-written) name -> the claim they make, as regular expressions
#: matched case-insensitively on word boundaries. Every name of NAME_RULES reads
#: back as exactly its claims (a test holds this).
NAME_WORDS: dict[str, str] = {
    "one-timers": r"one[- ]?tim(?:e|er|ers)|single[- ]order|once",
    "repeat": r"repeat",
    "frequent": r"regulars?|frequent",
    "loyal": r"loyal(?:ists?)?",
    "new": r"new(?:comers?)?",
    "active": r"active",
    "at risk": r"at[- ]risk",
    "lapsed": r"lapsed|dormant|churned",
    "silent": r"silent",
    "high-value": r"high[- ]value|valuable|vips?",
    "low-value": r"low[- ]value",
    "churn risk": r"churn[- ]risk",
}


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def claim_text(claim: str) -> str:
    """The words a segment name uses for a claim key (lower case first letter).

    >>> claim_text("low active_months"), claim_text("higher avg_order_value")
    ('few active months', 'higher average order value')
    >>> claim_text("lapsed"), claim_text("Germany (country)")
    ('lapsed', 'Germany (country)')
    """
    if claim in WORDS:
        return WORDS[claim]
    word, _, column = claim.partition(" ")
    if word in ("high", "low") and column:
        high, low = high_low(column)
        return _lower_first(high if word == "high" else low)
    if word in ("higher", "lower") and column:
        return f"{word} {_lower_first(display_name(column))}"
    if claim.endswith(")") and " (" in claim:
        level, column = claim[:-1].rsplit(" (", 1)
        return f"{level} ({_lower_first(display_name(column))})"
    return claim


def name_word_claims(name: str) -> tuple[str, ...]:
    """The claims the words of a name make (:data:`NAME_WORDS`), in table order.

    >>> name_word_claims("Lapsed one-time buyers"), name_word_claims("Champions")
    (('one-timers', 'lapsed'), ())
    """
    text = str(name)
    return tuple(
        claim
        for claim, pattern in NAME_WORDS.items()
        if re.search(rf"\b(?:{pattern})\b", text, flags=re.IGNORECASE)
    )


def check_name(
    name: str, segment: int, table: pd.DataFrame
) -> tuple[tuple[str, ...], list[str], list[str]]:
    """Test the claim words of ``name`` on segment ``segment``'s members.

    Parameters
    ----------
    name : str
        Any name (an analyst's, from the names file).
    segment : int
        Segment id.
    table : DataFrame
        :func:`evaluate_claims` (or :func:`claim_names`) output.

    Returns
    -------
    claims : tuple of str
        The claims the name's words make.
    failed : list of str
        ``"loyal (41 % of members)"`` for each claim that does not hold.
    unchecked : list of str
        Claims the data cannot test (e.g. "churn risk" without a value step).
    """
    made = name_word_claims(name)
    mine = table[table["segment"] == int(segment)].drop_duplicates("claim")
    mine = mine.set_index("claim")
    failed, unchecked = [], []
    for claim in made:
        if claim not in mine.index:
            unchecked.append(claim)
        elif not bool(mine.at[claim, "holds"]):
            failed.append(f"{claim} ({mine.at[claim, 'coverage']:.0%} of members)")
    return made, failed, unchecked


def mark_name_claims(table: pd.DataFrame, matches: pd.DataFrame) -> pd.DataFrame:
    """The claims table with ``in_name`` following the *final* names.

    Segments named from the names file (``matches.source == "names file"``) get
    ``in_name`` on the claims their words make (:func:`name_word_claims`), whether
    they hold or not, so ``name_claims.csv`` shows the analyst's claims and their
    coverage; automatic names keep their own. Returns a new frame.
    """
    out = table.copy()
    from_file = matches[matches["source"] == "names file"]
    for row in from_file.itertuples(index=False):
        rows = out["segment"] == int(row.segment)
        made = set(name_word_claims(str(row.name)))
        out.loc[rows, "in_name"] = out.loc[rows, "claim"].isin(made)
        out.loc[rows, "name"] = str(row.name)
    return out
