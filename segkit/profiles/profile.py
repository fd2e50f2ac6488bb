"""Who is in each segment: profiles, indices vs the population and persona cards.

Everything here works on two inputs: a **features** frame (one row per customer,
index ``customer_id``, the interpretable, un-transformed columns of
``artifacts/features.parquet``, optionally joined with ``recency``, ``frequency`` and
``monetary`` from ``rfm.parquet``) and a **labels** Series (same index, int segment
ids, ``-1`` = "Unassigned").

Index vs overall
    ``index = 100 * mean(feature in segment) / mean(feature over all customers)``.
    100 is the average customer, 200 twice the average, 50 half of it. Means (not
    medians) are used so that the size-weighted average of a segment's indices is
    exactly 100. A ratio of means only reads as "x times the average" for a
    non-negative quantity, so features with any negative value (trends, changes) or
    an overall mean of zero have no index (NaN); the snake plot shows them.

Persona cards are generated from numbers only. With the claims that hold for a
segment (:mod:`segkit.profiles.claims`) the card lists them with their coverage
and its plays come from :data:`segkit.profiles.plays.PLAYS`; without, a segment
gets *traits* (value, recency, frequency levels) from its indices and medians
through :data:`TRAIT_RULES`, shown for orientation, and the neutral play
"Monitor".
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from segkit.display import segment_name
from segkit.exceptions import DataError
from segkit.profiles.plays import FALLBACK_PLAY, plays_for

__all__ = [
    "TRAIT_RULES",
    "numeric_features",
    "segment_profiles",
    "describe_attributes",
    "segment_indices",
    "top_indices",
    "snake_frame",
    "segment_traits",
    "persona_cards",
    "segment_label",
    "read_stability",
]

logger = logging.getLogger(__name__)

#: Features shown as medians in the profile table when present.
KEY_FEATURES = ("recency_days", "recency", "frequency", "monetary")

#: How traits are read from a segment's numbers (indices are 100 = average).
#: ``value`` uses the monetary index, ``recency`` the recency index (days since the
#: last order: high = lapsed), ``frequency`` the median order count and its index.
#: ``features`` lists the accepted column names, first found wins.
TRAIT_RULES: dict[str, Any] = {
    "value": {"features": ("monetary",), "high": 150.0, "low": 67.0},
    "recency": {
        "features": ("recency_days", "recency"),
        "lapsed": 150.0,
        "recent": 67.0,
    },
    "frequency": {
        "features": ("frequency",),
        "frequent": 150.0,
        "one_time_median": 1.0,
    },
}


def _trait_input(
    rule: dict[str, Any], indices: pd.Series, profile: pd.Series
) -> tuple[float, float]:
    """(index, median) of the first of the rule's features that has an index."""
    for feature in rule["features"]:
        value = indices.get(feature, np.nan)
        if pd.notna(value):
            return float(value), float(profile.get("median_" + feature, np.nan))
    return np.nan, np.nan


def numeric_features(features: pd.DataFrame) -> pd.DataFrame:
    """The numeric (and boolean, as 0/1) columns of ``features`` as float64.

    Parameters
    ----------
    features : DataFrame
        Customer features; categorical and text columns are dropped.

    Returns
    -------
    DataFrame
        A new frame with the same index.
    """
    numeric = features.select_dtypes(include=["number", "bool"])
    return numeric.astype("float64")


def _align(features: pd.DataFrame, labels: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
    if not isinstance(labels, pd.Series):
        raise DataError(
            f"labels must be a pandas Series indexed by customer_id, got "
            f"{type(labels).__name__}; pass model.labels_ or labels.parquet['segment']"
        )
    common = features.index.intersection(labels.index)
    if len(common) == 0:
        raise DataError(
            "no customer_id is both in the features and in the labels "
            f"(features e.g. {list(features.index[:3])}, labels e.g. "
            f"{list(labels.index[:3])}); pass labels indexed like the features"
        )
    numeric = numeric_features(features.loc[common])
    if numeric.shape[1] == 0:
        raise DataError(
            f"the features have no numeric column (columns: {list(features.columns)}); "
            "profiles need at least one numeric feature"
        )
    return numeric, labels.loc[common].astype("int64").rename("segment")


def segment_profiles(
    features: pd.DataFrame,
    labels: pd.Series,
    *,
    monetary: str = "monetary",
    key_features: list[str] | None = None,
    names: dict[int, str] | None = None,
) -> pd.DataFrame:
    """One row per segment: size, shares and medians of the key features.

    Parameters
    ----------
    features : DataFrame
        Customer features (index ``customer_id``).
    labels : Series
        Segment id per customer (same index; ``-1`` = Unassigned).
    monetary : str
        Column holding each customer's revenue; its sum per segment gives
        ``revenue_share`` (NaN when the column is absent, e.g. attribute-only data).
    key_features : list of str, optional
        Columns whose medians are shown; default ``recency, frequency, monetary``
        when present, else the first eight numeric columns.
    names : dict, optional
        Segment id -> name; default ``"Segment <id>"`` and ``"Unassigned"`` for -1.

    Returns
    -------
    DataFrame
        Columns ``segment, name, size, share, revenue, revenue_share`` then
        ``median_<feature>`` per key feature, sorted by segment id.
    """
    numeric, labels = _align(features, labels)
    keys = _key_features(numeric, key_features)
    grouped = numeric.groupby(labels)
    out = pd.DataFrame({"size": grouped.size()})
    out["share"] = out["size"] / out["size"].sum()
    if monetary in numeric.columns:
        revenue = grouped[monetary].sum()
        out["revenue"] = revenue
        total = revenue.sum()
        out["revenue_share"] = revenue / total if total else np.nan
    else:
        out["revenue"] = np.nan
        out["revenue_share"] = np.nan
    medians = grouped[keys].median().add_prefix("median_")
    out = out.join(medians)
    out.index.name = "segment"
    out = out.reset_index()
    out.insert(1, "name", [segment_label(s, names) for s in out["segment"]])
    return out


def describe_attributes(attributes: pd.DataFrame, labels: pd.Series) -> pd.DataFrame:
    """Describe segments by attributes that only part of the base has.

    For a customers table below ``customers.min_coverage`` the attributes never
    form the segments (``attributes_describe.parquet`` of the features step); this
    describes each segment by them over the members that have a row, with how many
    that is, so a reader sees both the value and its base.

    Parameters
    ----------
    attributes : DataFrame
        Index ``customer_id``; numeric and categorical attribute columns of the
        covered customers only.
    labels : Series
        Segment id per customer (all members, covered or not).

    Returns
    -------
    DataFrame
        Long form, one row per segment x attribute (x level for a categorical
        one): ``segment``, ``attribute``, ``level`` ("" for numeric), ``members``,
        ``covered`` (members with a row), ``value`` (mean, or the level's share of
        the covered members), ``overall`` (the same over every covered customer).
    """
    attributes = attributes.copy()
    attributes.index = attributes.index.astype("str")
    labels = labels.copy()
    labels.index = labels.index.astype("str")
    members = labels.value_counts()
    joined = attributes.join(labels.rename("__segment"), how="inner")
    rows = []
    for column in attributes.columns:
        values = joined[column]
        numeric = pd.api.types.is_numeric_dtype(values)
        levels = [""] if numeric else sorted(values.dropna().astype("str").unique())
        for segment in sorted(members.index):
            inside = values[joined["__segment"] == segment].dropna()
            for level in levels:
                if numeric:
                    value, overall = inside.mean(), values.mean()
                else:
                    value = (inside.astype("str") == level).mean()
                    overall = (values.dropna().astype("str") == level).mean()
                rows.append(
                    {
                        "segment": int(segment),
                        "attribute": column,
                        "level": level,
                        "members": int(members[segment]),
                        "covered": len(inside),
                        "value": float(value) if len(inside) else np.nan,
                        "overall": float(overall),
                    }
                )
    return pd.DataFrame(
        rows,
        columns=[
            "segment",
            "attribute",
            "level",
            "members",
            "covered",
            "value",
            "overall",
        ],
    )


def segment_label(segment: int, names: dict[int, str] | None = None) -> str:
    """Display name of a segment id (``"Unassigned"`` for -1).

    The profile stage's argument order for :func:`segkit.display.segment_name`,
    the one copy of the fallback rule.
    """
    return segment_name(names, segment)


def _key_features(numeric: pd.DataFrame, key_features: list[str] | None) -> list[str]:
    if key_features:
        missing = [c for c in key_features if c not in numeric.columns]
        if missing:
            raise DataError(
                f"key features {missing} are not numeric feature columns "
                f"(numeric columns: {list(numeric.columns)}); fix profiles.key_features"
            )
        return list(key_features)
    keys = [c for c in KEY_FEATURES if c in numeric.columns]
    return keys or list(numeric.columns[:8])


def segment_indices(features: pd.DataFrame, labels: pd.Series) -> pd.DataFrame:
    """Index vs the overall population for every numeric feature (100 = average).

    Parameters
    ----------
    features, labels
        As in :func:`segment_profiles`.

    Returns
    -------
    DataFrame
        Index ``segment`` (int), one column per numeric feature,
        ``100 * segment mean / overall mean``; NaN for features with a negative
        value or an overall mean of 0.
    """
    numeric, labels = _align(features, labels)
    overall = numeric.mean()
    means = numeric.groupby(labels).mean()
    base = overall.where((overall > 0) & (numeric.min() >= 0))
    indices = 100.0 * means / base
    indices.index.name = "segment"
    return indices


def top_indices(indices: pd.DataFrame, *, n: int = 3) -> pd.DataFrame:
    """The ``n`` most over- and under-indexed features of each segment.

    Parameters
    ----------
    indices : DataFrame
        Output of :func:`segment_indices`.
    n : int
        Features kept per direction.

    Returns
    -------
    DataFrame
        Long form: ``segment, direction ("over" | "under"), rank, feature, index``;
        "over" keeps indices > 100, "under" indices < 100.
    """
    rows = []
    for segment, row in indices.iterrows():
        row = row.dropna()
        over = row[row > 100].sort_values(ascending=False).head(n)
        under = row[row < 100].sort_values().head(n)
        for direction, part in (("over", over), ("under", under)):
            for rank, (feature, value) in enumerate(part.items(), start=1):
                rows.append(
                    {
                        "segment": int(segment),
                        "direction": direction,
                        "rank": rank,
                        "feature": feature,
                        "index": float(value),
                    }
                )
    columns = ["segment", "direction", "rank", "feature", "index"]
    return pd.DataFrame(rows, columns=columns)


def snake_frame(features: pd.DataFrame, labels: pd.Series) -> pd.DataFrame:
    """Standardised feature means per segment, long form, for a snake plot.

    ``value = (segment mean - overall mean) / overall standard deviation``; constant
    features are left out.

    Returns
    -------
    DataFrame
        Columns ``segment, feature, value``.
    """
    numeric, labels = _align(features, labels)
    std = numeric.std(ddof=0)
    keep = std[std > 0].index
    z = (numeric[keep] - numeric[keep].mean()) / std[keep]
    means = z.groupby(labels).mean()
    means.index.name = "segment"
    long = means.reset_index().melt(id_vars="segment", var_name="feature")
    return long[["segment", "feature", "value"]]


def segment_traits(profile: pd.Series, indices: pd.Series) -> dict[str, str]:
    """Read a segment's value, recency and frequency levels from its numbers.

    Parameters
    ----------
    profile : Series
        One row of :func:`segment_profiles` (needs ``median_frequency`` for the
        one-time trait).
    indices : Series
        The segment's row of :func:`segment_indices`.

    Returns
    -------
    dict
        Keys among ``value`` (high / mid / low), ``recency`` (recent / cooling /
        lapsed) and ``frequency`` (one-time / occasional / frequent); a key is absent
        when its feature is.
    """
    traits: dict[str, str] = {}
    rule = TRAIT_RULES["value"]
    value, _ = _trait_input(rule, indices, profile)
    if pd.notna(value):
        traits["value"] = (
            "high" if value >= rule["high"] else "low" if value < rule["low"] else "mid"
        )
    rule = TRAIT_RULES["recency"]
    value, _ = _trait_input(rule, indices, profile)
    if pd.notna(value):
        traits["recency"] = (
            "lapsed"
            if value >= rule["lapsed"]
            else "recent"
            if value <= rule["recent"]
            else "cooling"
        )
    rule = TRAIT_RULES["frequency"]
    value, median = _trait_input(rule, indices, profile)
    if pd.notna(value):
        if pd.notna(median) and median <= rule["one_time_median"]:
            traits["frequency"] = "one-time"
        elif value >= rule["frequent"]:
            traits["frequency"] = "frequent"
        else:
            traits["frequency"] = "occasional"
    return traits


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None or pd.isna(value):
        return "n/a"
    return f"{float(value):,.{digits}f}"


_RECENCY_MEDIANS = ("median_recency_days", "median_recency")


def _listed(top: pd.DataFrame, direction: str) -> list[str]:
    part = top[top["direction"] == direction]
    return [
        f"{f} (index {i:.0f})"
        for f, i in zip(part["feature"], part["index"], strict=True)
    ]


def persona_cards(
    profiles: pd.DataFrame,
    indices: pd.DataFrame,
    *,
    stability: dict[int, dict[str, Any]] | None = None,
    top: pd.DataFrame | None = None,
    claims: pd.DataFrame | None = None,
    facts: pd.DataFrame | None = None,
    recent_days: int = 30,
) -> list[dict[str, Any]]:
    """A short, data-driven card per segment.

    Parameters
    ----------
    profiles : DataFrame
        Output of :func:`segment_profiles` (with names).
    indices : DataFrame
        Output of :func:`segment_indices`.
    stability : dict, optional
        Segment id -> ``{"jaccard": float, "band": str}`` from validation.json; a
        segment without an entry is "not validated".
    top : DataFrame, optional
        Output of :func:`top_indices`; computed when omitted.
    claims : DataFrame, optional
        :func:`segkit.profiles.claims.evaluate_claims` (or ``claim_names``'s
        table): the behaviour claims that hold become the card's ``traits``
        (claim -> coverage) and choose its plays.
    facts : DataFrame, optional
        :func:`segkit.profiles.claims.segment_facts`: recent buyers and lifecycle
        mix, so plays leave out recent buyers and name silent members.
    recent_days : int
        ``profiles.recent_days``.

    Returns
    -------
    list of dict
        Keys ``segment, name, size, share, revenue_share, traits, who, how_they_buy,
        worth, stability, plays`` (plays: list of ``{play, why}``). Every sentence is
        filled from the numbers by a fixed template.
    """
    stability = stability or {}
    top = top if top is not None else top_indices(indices)
    cards = []
    for _, row in profiles.iterrows():
        segment = int(row["segment"])
        idx = indices.loc[segment] if segment in indices.index else pd.Series()
        traits, plays = _traits_and_plays(segment, row, idx, claims, facts, recent_days)
        mine = top[top["segment"] == segment]
        over, under = _listed(mine, "over"), _listed(mine, "under")
        who = f"{int(row['size']):,} customers ({row['share']:.0%} of the base)"
        recency = next((c for c in _RECENCY_MEDIANS if c in row), None)
        if recency:
            who += f"; median {_fmt(row[recency])} days since the last order"
        if traits:
            who += " — " + ", ".join(
                f"{k} ({v:.0%})" if isinstance(v, float) else f"{k}: {v}"
                for k, v in traits.items()
            )
        if facts is not None and segment in facts.index:
            who += (
                f"; {int(facts.loc[segment, 'recent_customers']):,} ordered in the "
                f"last {recent_days} days"
            )
        how = []
        if "median_frequency" in row:
            how.append(f"median {_fmt(row['median_frequency'])} orders")
        if over:
            how.append("above average on " + ", ".join(over))
        if under:
            how.append("below average on " + ", ".join(under))
        worth = "revenue not measured (no monetary feature)"
        if pd.notna(row.get("revenue_share", np.nan)):
            worth = (
                f"{row['revenue_share']:.0%} of revenue from {row['share']:.0%} of "
                f"customers; median spend {_fmt(row.get('median_monetary'))}"
            )
        entry = stability.get(segment)
        if entry and entry.get("jaccard") is not None:
            stable = f"bootstrap Jaccard {float(entry['jaccard']):.2f}"
            if entry.get("band"):
                stable += f" ({entry['band']})"
        else:
            stable = "not validated"
        cards.append(
            {
                "segment": segment,
                "name": str(row["name"]),
                "size": int(row["size"]),
                "share": float(row["share"]),
                "revenue_share": _float_or_none(row.get("revenue_share")),
                "traits": traits,
                "who": who,
                "how_they_buy": "; ".join(how) or "no behavioural feature",
                "worth": worth,
                "stability": stable,
                "plays": plays,
            }
        )
    return cards


def _traits_and_plays(segment, row, idx, claims, facts, recent_days):
    """Claims that hold (claim -> coverage) and their plays; else index traits."""
    if claims is None:
        fallback = [{"play": FALLBACK_PLAY["play"], "why": FALLBACK_PLAY["why"]}]
        return segment_traits(row, idx), fallback
    mine = claims[(claims["segment"] == segment) & claims["holds"]]
    if "kind" in mine.columns:
        mine = mine[mine["kind"] == "behaviour"]
    traits = {
        str(c): float(v) for c, v in zip(mine["claim"], mine["coverage"], strict=True)
    }
    row_facts = None
    if facts is not None and segment in facts.index:
        row_facts = facts.loc[segment]
    return traits, plays_for(set(traits), row_facts, recent_days=recent_days)


def read_stability(validation: Any) -> dict[int, dict[str, Any]]:
    """Per-segment stability from the validation step's ``validation.json``.

    Reads ``validation["stability"]`` as a list of ``{segment, jaccard, band}`` (or
    ``validation["stability"]["segments"]``, the validate step's layout) defensively:
    anything missing or malformed gives an empty dict (cards say "not validated").
    """
    out: dict[int, dict[str, Any]] = {}
    if not isinstance(validation, dict):
        return out
    entries = validation.get("stability")
    if isinstance(entries, dict):
        entries = entries.get("segments")
    if not isinstance(entries, list):
        return out
    for entry in entries:
        if not isinstance(entry, dict) or "segment" not in entry:
            continue
        try:
            segment = int(entry["segment"])
            jaccard = entry.get("jaccard")
            jaccard = None if jaccard is None else float(jaccard)
        except (TypeError, ValueError):
            continue
        out[segment] = {"jaccard": jaccard, "band": entry.get("band")}
    return out


def _float_or_none(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)
