"""Names whose every word is a claim checked on the segment's members.

A segment called "Lapsed one-timers" makes two claims: its members are lapsed and
they bought once. Here each claim is a test on the members (:data:`CLAIMS`, held as
data): it *holds* when at least ``profiles.claim_coverage`` (80 %) of the members
pass it. The tests:

==============  ===============================================================
claim           a member passes when
==============  ===============================================================
one-timers      exactly 1 order
repeat          2 or more orders
frequent        3 or more orders
loyal           3 or more orders and lifecycle state new or active
new             first order within ``lifecycle.new_days``
active          lifecycle state new or active (not at risk, not lapsed)
at risk         lifecycle state "at risk"
lapsed          no order for more than ``lifecycle.lapsed_days``
silent          lifecycle state at risk or lapsed
high-value      spend above the overall median; and the segment's median spend
                ranks in the top third of the segments (``round(k / 3)``, >= 1);
                with ``values.parquet``: CLV instead of spend
low-value       spend at or below the overall median; and the segment's median
                spend ranks in the bottom third; with values: CLV instead
churn risk      probability alive below ``value.risk_threshold`` (BG/NBD; only
                with ``values.parquet``)
high <x>        ``x`` above its overall median (any numeric feature)
low <x>         ``x`` at or below its overall median
<level> (<x>)   categorical feature ``x`` equals ``level``
==============  ===============================================================

Lifecycle states come from :func:`segkit.features.lifecycle.lifecycle_table`.
:data:`NAME_RULES` (data too) maps claim combinations to names, first match whose
claims all hold wins; otherwise the name is built from the two best-covered
behavioural claims that hold, or a feature claim that holds, or is the neutral
"Segment N (mixed)". Duplicate names get the best-covered claim that holds for
that segment and not for its namesakes ("One-timers, large baskets"), else a
number.

A claim has a *key* (what is checked, e.g. ``low active_months``, the ``claim``
column of ``name_claims.csv``) and the *words* a name uses for it
(:func:`claim_text`: "few active months", from :mod:`segkit.glossary`), so no raw
column name reaches a segment name.

An analyst's name (names file) is read back the same way: :func:`name_word_claims`
finds the claim words it uses (:data:`NAME_WORDS`: "lapsed", "one-time",
"high-value", "loyal", "regulars", "new", ...) and :func:`check_name` tests them on
the members. A failing claim does not change the name (the analyst decides) but
is reported: see :func:`segkit.profiles.naming.resolve_names`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from segkit.config import LifecycleSettings
from segkit.features.lifecycle import STATES, lifecycle_table
from segkit.glossary import display_name
from segkit.intervals import wilson
from segkit.profiles.claim_words import (
    NAME_WORDS,
    check_name,
    claim_text,
    mark_name_claims,
    name_word_claims,
)
from segkit.profiles.profile import numeric_features, segment_label
from segkit.profiles.value import VALUE_CLAIMS, clv_rank, spend_rank, value_facts

__all__ = [
    "CLAIMS",
    "CLAIM_COLUMNS",
    "NAME_RULES",
    "NAME_WORDS",
    "check_name",
    "claim_names",
    "claim_text",
    "evaluate_claims",
    "holding_claims",
    "mark_name_claims",
    "member_facts",
    "name_word_claims",
    "segment_facts",
]

#: Claim -> (member fact column, threshold text); ``{t}`` is filled from settings.
CLAIMS: dict[str, tuple[str, str]] = {
    "one-timers": ("one_order", "exactly 1 order"),
    "repeat": ("repeat", "2+ orders"),
    "frequent": ("three_plus", "3+ orders"),
    "loyal": ("loyal", "3+ orders and new or active"),
    "new": ("new", "first order within {new_days} days"),
    "active": ("active", "lifecycle new or active"),
    "at risk": ("at_risk", "lifecycle at risk"),
    "lapsed": ("lapsed", "no order for > {lapsed_days} days"),
    "silent": ("silent", "lifecycle at risk or lapsed"),
    "high-value": ("above_median_spend", "spend > overall median, top-third rank"),
    "low-value": ("below_median_spend", "spend <= overall median, bottom-third rank"),
}

#: Name rules as data: (name, claims that must all hold), first match wins.
NAME_RULES: list[tuple[str, tuple[str, ...]]] = [
    ("High-value loyal", ("high-value", "loyal")),
    ("Lapsed high-value", ("high-value", "lapsed")),
    ("At-risk high-value", ("high-value", "at risk")),
    ("High-value at churn risk", ("high-value", "churn risk")),
    ("High-value regulars", ("high-value", "frequent")),
    ("Loyal regulars", ("loyal", "frequent")),  # loyal implies 3+ orders
    ("Lapsed one-timers", ("lapsed", "one-timers")),
    ("New one-timers", ("new", "one-timers")),
    ("New customers", ("new",)),
    ("Lapsed regulars", ("lapsed", "frequent")),
    ("At-risk regulars", ("at risk", "frequent")),
    ("Lapsed low-value", ("lapsed", "low-value")),
    ("One-timers", ("one-timers",)),
    ("Lapsed customers", ("lapsed",)),
    ("At-risk customers", ("at risk",)),
    ("Churn-risk customers", ("churn risk",)),
    ("Silent repeat buyers", ("silent", "repeat")),
    ("Active regulars", ("active", "frequent")),
    ("Active low-value", ("active", "low-value")),
    ("High-value", ("high-value",)),
    ("Active repeat buyers", ("active", "repeat")),
    ("Low-value", ("low-value",)),
    ("Active customers", ("active",)),
    ("Repeat buyers", ("repeat",)),
]

#: Columns of ``name_claims.csv``.
CLAIM_COLUMNS = [
    "segment",
    "name",
    "claim",
    "threshold",
    "coverage",
    "coverage_low",
    "coverage_high",
    "holds",
    "in_name",
]


def member_facts(
    features: pd.DataFrame,
    settings: LifecycleSettings | None = None,
    *,
    recent_days: int = 30,
) -> pd.DataFrame:
    """One row per customer: the yes/no facts the claims test, and the state.

    Needs ``recency_days`` (or ``recency``) and ``frequency`` for the behavioural
    facts (without
    them only feature claims can be made: an empty frame is returned).

    Returns
    -------
    DataFrame
        Boolean columns ``one_order``, ``repeat``, ``three_plus``, ``new``,
        ``active``, ``at_risk``, ``lapsed``, ``silent``, ``loyal``, ``recent``
        (ordered within ``recent_days``), ``above_median_spend``,
        ``below_median_spend`` (when ``monetary`` exists); ``lifecycle`` (state).
    """
    s = settings or LifecycleSettings()
    rec = next((c for c in ("recency_days", "recency") if c in features.columns), None)
    if rec is None or "frequency" not in features.columns:
        return pd.DataFrame(index=features.index)
    states = lifecycle_table(features, s)["state"].astype("str")
    orders = features["frequency"].astype("float64")
    recency = features[rec].astype("float64")
    facts = pd.DataFrame(
        {
            "one_order": orders == 1,
            "repeat": orders >= 2,
            "three_plus": orders >= 3,
            "new": states == "new",
            "active": states.isin(["new", "active"]),
            "at_risk": states == "at risk",
            "lapsed": recency > s.lapsed_days,
            "silent": states.isin(["at risk", "lapsed"]),
            "recent": recency <= recent_days,
        },
        index=features.index,
    )
    facts["loyal"] = facts["three_plus"] & facts["active"]
    if "monetary" in features.columns:
        spend = features["monetary"].astype("float64")
        facts["above_median_spend"] = spend > spend.median()
        facts["below_median_spend"] = spend <= spend.median()
    facts["lifecycle"] = states
    return facts


def _feature_claims(features: pd.DataFrame) -> dict[str, pd.Series]:
    """Claims on any feature: high/low numeric ones, modal levels of categorical."""
    out: dict[str, pd.Series] = {}
    numeric = numeric_features(features)
    for column in numeric.columns:
        values = numeric[column]
        if values.nunique() < 2:
            continue
        out[f"high {column}"] = values > values.median()
        out[f"low {column}"] = values <= values.median()
    for column in features.columns.difference(numeric.columns):
        text = features[column].astype("str")
        for level in text.value_counts().index[:20]:
            out[f"{level} ({column})"] = text == level
    return out


def evaluate_claims(
    features: pd.DataFrame,
    labels: pd.Series,
    *,
    settings: LifecycleSettings | None = None,
    coverage: float = 0.8,
    recent_days: int = 30,
    values: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Coverage of every claim in every segment.

    With ``values`` (``values.parquet``: ``clv``, ``at_risk`` per customer),
    "high-value" and "low-value" rank segments by CLV instead of spend
    (:data:`segkit.profiles.value.VALUE_CLAIMS`) and "churn risk" is tested.

    Returns
    -------
    DataFrame
        ``segment``, ``claim``, ``threshold``, ``coverage`` (share of members
        passing) with its Wilson interval ``coverage_low`` / ``coverage_high``,
        ``holds`` (coverage >= ``coverage``, and the value rank for high- and
        low-value), ``base`` (share passing over all customers: a claim true of
        most customers says little), ``kind`` ("behaviour" or "feature"). The
        Unassigned segment
        (-1) is left out.
    """
    s = settings or LifecycleSettings()
    labels = labels.reindex(features.index)
    keep = labels.notna() & (labels != -1)
    features, labels = features.loc[keep], labels.loc[keep].astype("int64")
    facts = member_facts(features, s, recent_days=recent_days)
    ranks = spend_rank(features, labels)
    table = CLAIMS
    if values is not None:
        facts = facts.join(value_facts(values, features.index))
        ranks, table = clv_rank(values, labels), {**CLAIMS, **VALUE_CLAIMS}
    tests: dict[str, tuple[pd.Series, str, str]] = {}
    for claim, (column, text) in table.items():
        if column in facts.columns:
            tests[claim] = (facts[column], text.format(**s.model_dump()), "behaviour")
    for claim, mask in _feature_claims(features).items():
        column = claim.split(" ", 1)[-1]
        rule = "> overall median" if claim.startswith("high ") else "<= overall median"
        label = display_name(column)
        if claim.endswith(")"):
            rule, label = "this level", claim_text(claim)
        tests.setdefault(claim, (mask, f"{label} {rule}", "feature"))
    rows = []
    sizes = labels.value_counts()
    for claim, (mask, text, kind) in tests.items():
        base = float(mask.astype("bool").mean())
        passed = mask.astype("bool").groupby(labels).sum().reindex(sizes.index)
        low, high = wilson(passed.to_numpy(), sizes.to_numpy())
        for i, segment in enumerate(sizes.index):
            share = float(passed.iloc[i] / sizes.iloc[i])
            holds = share >= coverage
            if claim == "high-value":
                holds = holds and segment in ranks["top"]
            if claim == "low-value":
                holds = holds and segment in ranks["bottom"]
            rows.append(
                {
                    "segment": int(segment),
                    "claim": claim,
                    "threshold": f">= {coverage:.0%} with {text}",
                    "coverage": share,
                    "coverage_low": float(low[i]),
                    "coverage_high": float(high[i]),
                    "holds": bool(holds),
                    "base": base,
                    "kind": kind,
                }
            )
    return (
        pd.DataFrame(rows)
        .sort_values(["segment", "kind", "claim"])
        .reset_index(drop=True)
    )


def _rule_name(holding: set[str]) -> tuple[str, tuple[str, ...]] | None:
    for name, needs in NAME_RULES:
        if all(c in holding for c in needs):
            return name, needs
    return None


def _fallback(segment: int, table: pd.DataFrame) -> tuple[str, tuple[str, ...]]:
    held = table[table["holds"]].assign(lift=lambda t: t["coverage"] - t["base"])
    feature = held[held["kind"] == "feature"].sort_values("lift", ascending=False)
    if len(feature):
        claim = str(feature["claim"].iloc[0])
        words = claim_text(claim)
        return words[:1].upper() + words[1:], (claim,)
    return f"{segment_label(segment)} (mixed)", ()


def claim_names(
    features: pd.DataFrame,
    labels: pd.Series,
    *,
    settings: LifecycleSettings | None = None,
    coverage: float = 0.8,
    recent_days: int = 30,
    values: pd.DataFrame | None = None,
) -> tuple[dict[int, str], pd.DataFrame]:
    """Unique names made only of claims that hold, and the claims table.

    Parameters
    ----------
    features : DataFrame
        Customer features (index ``customer_id``), un-transformed.
    labels : Series
        Segment per customer (``-1`` = Unassigned).
    settings : LifecycleSettings, optional
        Lifecycle thresholds (``lifecycle`` config section).
    coverage : float
        ``profiles.claim_coverage``: share of members a claim must hold for.
    recent_days : int
        ``profiles.recent_days`` (used by :func:`segment_facts`, not by names).
    values : DataFrame, optional
        ``values.parquet``: value claims (see :func:`evaluate_claims`).

    Returns
    -------
    names : dict
        Segment id -> name (``-1``: "Unassigned").
    claims : DataFrame
        :data:`CLAIM_COLUMNS`: every claim evaluated per segment; ``in_name``
        marks the claims the segment's name makes (all of which hold).
    """
    table = evaluate_claims(
        features,
        labels,
        settings=settings,
        coverage=coverage,
        recent_days=recent_days,
        values=values,
    )
    sizes = labels.reindex(features.index).value_counts()
    order = sorted(sizes.index, key=lambda s: (-sizes[s], s))
    names: dict[int, str] = {}
    used: dict[int, tuple[str, ...]] = {}
    for segment in order:
        segment = int(segment)
        if segment == -1:
            names[segment] = segment_label(-1)
            continue
        mine = table[table["segment"] == segment]
        holding = set(mine.loc[mine["holds"], "claim"])
        found = _rule_name(holding) or _fallback(segment, mine)
        names[segment], used[segment] = found
    names, used, extra = _unique(names, used, table, features, labels, coverage)
    if extra:
        table = pd.concat([table, pd.DataFrame(extra)], ignore_index=True)
    table["name"] = table["segment"].map(names)
    table["in_name"] = [
        c in used.get(s, ())
        for s, c in zip(table["segment"], table["claim"], strict=True)
    ]
    return names, table[[*CLAIM_COLUMNS, "base", "kind"]]


def _unique(
    names: dict[int, str],
    used: dict[int, tuple[str, ...]],
    table: pd.DataFrame,
    features: pd.DataFrame,
    labels: pd.Series,
    coverage: float,
) -> tuple[dict[int, str], dict[int, tuple[str, ...]], list[dict]]:
    """Disambiguate duplicates with a claim that holds here and not for namesakes.

    First an absolute claim (best lift over the base rate); else a relative one
    checked on the members: ">= coverage of the members above (below) the median
    of their namesakes" on the numeric feature where that share is highest; else
    a number.
    """
    groups: dict[str, list[int]] = {}
    for segment, name in names.items():
        groups.setdefault(name, []).append(segment)
    names, used = dict(names), dict(used)
    holds = table[table["holds"]]
    extra: list[dict] = []
    for name, segments in groups.items():
        if len(segments) < 2:
            continue
        for segment in segments[1:]:
            others = set(segments) - {segment}
            theirs = set(holds.loc[holds["segment"].isin(others), "claim"])
            mine = holds[(holds["segment"] == segment) & ~holds["claim"].isin(theirs)]
            mine = mine[~mine["claim"].isin(used.get(segment, ()))]
            if len(mine):
                best = mine.assign(lift=mine["coverage"] - mine["base"])
                best = best.sort_values(["kind", "lift"], ascending=[True, False])
                claim = str(best["claim"].iloc[0])
                names[segment] = f"{name}, {claim_text(claim)}"
                used[segment] = (*used.get(segment, ()), claim)
                continue
            found = _relative(features, labels, segment, others, coverage)
            if found is not None:
                claim, share = found
                names[segment] = f"{name}, {claim_text(claim)}"
                used[segment] = (*used.get(segment, ()), claim)
                extra.append(
                    {
                        "segment": segment,
                        "claim": claim,
                        "threshold": f">= {coverage:.0%} beyond the namesakes' median",
                        "coverage": share,
                        "coverage_low": np.nan,
                        "coverage_high": np.nan,
                        "holds": True,
                        "base": np.nan,
                        "kind": "relative",
                    }
                )
    seen: dict[str, int] = {}
    for segment in list(names):
        seen[names[segment]] = seen.get(names[segment], 0) + 1
        if seen[names[segment]] > 1:
            names[segment] = f"{names[segment]} ({seen[names[segment]]})"
    return names, used, extra


def _relative(
    features: pd.DataFrame,
    labels: pd.Series,
    segment: int,
    others: set[int],
    coverage: float,
) -> tuple[str, float] | None:
    """``higher <x>`` / ``lower <x>`` than the namesakes, when it holds (claim key)."""
    numeric = numeric_features(features)
    aligned = labels.reindex(numeric.index)
    mine = numeric[aligned == segment]
    theirs = numeric[aligned.isin(others)]
    if mine.empty or theirs.empty:
        return None
    median = theirs.median()
    above, below = (mine > median).mean(), (mine < median).mean()
    best = None
    for column in numeric.columns:
        for word, share in (("higher", above[column]), ("lower", below[column])):
            if share >= coverage and (best is None or share > best[1]):
                best = (f"{word} {column}", float(share))
    return best


def segment_facts(
    features: pd.DataFrame,
    labels: pd.Series,
    *,
    settings: LifecycleSettings | None = None,
    recent_days: int = 30,
) -> pd.DataFrame:
    """Lifecycle mix and recent buyers per segment (what plays must respect).

    Returns
    -------
    DataFrame
        Index ``segment``; ``customers``, ``recent_customers`` (ordered within
        ``recent_days``), ``recent_share``, and ``share_<state>`` per lifecycle
        state (``share_at_risk`` for "at risk"). Empty without behaviour columns.
    """
    facts = member_facts(features, settings, recent_days=recent_days)
    if facts.empty or "lifecycle" not in facts.columns:
        return pd.DataFrame(index=pd.Index([], name="segment"))
    groups = labels.reindex(features.index).astype("int64")
    grouped = facts.groupby(groups)
    out = pd.DataFrame(
        {
            "customers": grouped.size().astype("int64"),
            "recent_customers": grouped["recent"].sum().astype("int64"),
        }
    )
    out["recent_share"] = out["recent_customers"] / out["customers"]
    mix = pd.crosstab(groups, facts["lifecycle"], normalize="index")
    for state in STATES:
        key = "share_" + state.replace(" ", "_")
        out[key] = mix[state] if state in mix.columns else 0.0
    out.index.name = "segment"
    return out


def holding_claims(table: pd.DataFrame) -> dict[int, set[str]]:
    """Segment -> the set of claims that hold (from :func:`evaluate_claims`)."""
    held = table[table["holds"]]
    return {int(s): set(g["claim"]) for s, g in held.groupby("segment")}
