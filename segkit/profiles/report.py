"""Figures and tables of notebook 05-profiles: who, what to call them, how to find them.

Every function takes artifacts of the ``profile`` step (see :func:`profile_artifacts`)
and returns a :class:`~segkit.display.ReportFigure` with a title, a
:class:`~segkit.display.Table` ready to show, or a
:class:`~segkit.display.Note` (Markdown). Only :func:`export_sample` shows
customer ids, pseudonymised (:func:`segkit.privacy.pseudonymise`) when
``profiles.hash_ids`` is true; personal-data columns never reach these artifacts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd
from matplotlib.figure import Figure

from segkit.display import Note, ReportFigure, Table, segment_colour
from segkit.display import empty_figure as _empty
from segkit.display import segment_name as _name
from segkit.figure_cache import cached
from segkit.glossary import display_name
from segkit.privacy import pseudonym_salt, pseudonymise

if TYPE_CHECKING:
    from segkit.context import RunContext

# seaborn is imported in the chart functions that use it: a page whose figures
# all come from the figure cache (segkit.figure_cache) never loads it, about
# 1.6 s of every notebook kernel's start

__all__ = [
    "profile_artifacts",
    "profile_table",
    "index_heatmap",
    "snake_plot",
    "persona_markdown",
    "persona_note",
    "names_note",
    "name_claims_table",
    "lifecycle_mix_table",
    "rules_table",
    "fidelity_note",
    "migration_heatmap",
    "size_changes_table",
    "size_changes_chart",
    "evolution_note",
    "export_sample",
]

_FRAMES = {
    "profiles": "profiles.csv",
    "indices": "indices.csv",
    "snake": "snake.csv",
    "matches": "name_matches.csv",
    "migration": "migration.csv",
}
_JSON = {
    "personas": "personas.json",
    "rules": "rules.json",
    "segments": "segments.json",
    "evolution": "evolution.json",
}


def profile_artifacts(ctx: RunContext) -> dict[str, Any]:
    """Load the artifacts of the ``profile`` step.

    Returns
    -------
    dict
        Frames (``profiles, indices, snake, matches, migration``), JSON documents
        (``personas, rules, segments, evolution``), ``claims`` and ``lifecycle``
        (``name_claims.csv`` / ``lifecycle_mix.csv``, None when absent),
        ``assignments`` (ids as text),
        ``names`` (segment id -> name) and ``config``.
    """
    out: dict[str, Any] = {key: ctx.load_frame(name) for key, name in _FRAMES.items()}
    out.update({key: ctx.load_json(name) for key, name in _JSON.items()})
    out["indices"] = out["indices"].set_index("segment")
    out["assignments"] = pd.read_csv(
        ctx.artifact("assignments.csv"), dtype={"customer_id": "str"}
    )
    out["names"] = {
        int(s): str(n)
        for s, n in zip(
            out["profiles"]["segment"], out["profiles"]["name"], strict=True
        )
    }
    for key, name in (
        ("claims", "name_claims.csv"),
        ("lifecycle", "lifecycle_mix.csv"),
        ("described", "attributes_describe.csv"),
    ):
        out[key] = ctx.load_frame(name) if ctx.has(name) else None
    out["config"] = ctx.config
    return out


def profile_table(profiles: pd.DataFrame) -> pd.DataFrame:
    """Per segment: name, customers, share of customers and revenue, key medians."""
    out = pd.DataFrame(
        {
            "segment": profiles["name"],
            "customers": profiles["size"],
            "% of customers": (100 * profiles["share"]).round(1),
            "% of revenue": (100 * profiles["revenue_share"]).round(1),
        }
    )
    if "revenue_share_low" in profiles.columns:
        low = (100 * profiles["revenue_share_low"]).round(1).astype("str")
        high = (100 * profiles["revenue_share_high"]).round(1).astype("str")
        out["95% interval"] = (low + " - " + high).where(
            profiles["revenue_share_low"].notna(), ""
        )
    for column in [c for c in profiles.columns if c.startswith("median_")]:
        label = display_name(column.removeprefix("median_"))
        # numbers, not text: the page's Table formats them (currency on money)
        out["median " + label[:1].lower() + label[1:]] = profiles[column].astype(float)
    # value columns of segkit.profiles.value, present when the run has CLV
    for column, title in (
        ("clv_mean", "mean CLV"),
        ("p_alive_mean", "mean P(alive)"),
        ("revenue_at_risk", "revenue at risk"),
    ):
        if column in profiles.columns:
            values = profiles[column]
            out[title] = (
                values.map(lambda v: "" if pd.isna(v) else f"{v:.0%}")
                if column == "p_alive_mean"
                else values.astype(float)
            )
    return Table(out.reset_index(drop=True))


@cached
def index_heatmap(
    indices: pd.DataFrame, *, names: Mapping[int, str] | None = None
) -> Figure:
    """Heatmap of indices vs the average customer (100), capped at 300 for colour."""
    import seaborn as sns

    data = indices.dropna(axis=1, how="all")
    if data.empty:
        return _empty("Index vs average customer", "no feature with an index")
    data = data.rename(index=lambda s: _name(names, s), columns=display_name)
    fig = ReportFigure(figsize=(max(7, 0.7 * data.shape[1] + 3), 0.6 * len(data) + 2.2))
    ax = fig.subplots()
    sns.heatmap(
        data.clip(upper=300),
        annot=data.round(0),
        fmt=".0f",
        cmap="RdBu_r",
        center=100,
        vmin=0,
        vmax=300,
        cbar_kws={"label": "index (100 = average)"},
        ax=ax,
    )
    ax.set_title("Index vs the average customer (100 = average; colour capped at 300)")
    ax.set_xlabel("feature")
    ax.set_ylabel("")
    ax.tick_params(axis="y", rotation=0)
    return fig


@cached
def snake_plot(
    snake: pd.DataFrame, *, names: Mapping[int, str] | None = None
) -> Figure:
    """Standardised mean of every feature per segment (0 = average customer)."""
    import seaborn as sns

    data = snake.assign(
        segment=snake["segment"].map(lambda s: _name(names, s)),
        feature=snake["feature"].map(display_name),
    )
    palette = {_name(names, s): segment_colour(s) for s in snake["segment"].unique()}
    features = list(dict.fromkeys(data["feature"]))
    fig = ReportFigure(figsize=(max(7, 0.6 * len(features) + 2), 4.5))
    ax = fig.subplots()
    sns.lineplot(
        data=data,
        x="feature",
        y="value",
        hue="segment",
        palette=palette,
        marker="o",
        sort=False,
        ax=ax,
    )
    ax.axhline(0, color="grey", lw=0.8, ls="--")
    ax.set_title("Snake plot: standardised feature means per segment")
    ax.set_ylabel("standard deviations from the average")
    ax.set_xlabel("")
    ax.tick_params(axis="x", rotation=45)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    ax.legend(title="segment", fontsize="small")
    return fig


#: A feature named in a persona card, followed by its index: ``monetary (index 25)``.
_INDEXED_FEATURE = re.compile(r"(?<![\w.])([a-z][a-z0-9_]*)( \(index -?\d+\))")


def _in_sentence(label: str) -> str:
    return label[:1].lower() + label[1:]


def persona_markdown(cards: list[dict[str, Any]]) -> str:
    """Render persona cards as Markdown (one section per segment).

    Display it in a notebook with ``IPython.display.Markdown(persona_markdown(cards))``.
    """
    parts = []
    for card in cards:
        plays = "; ".join(f"**{p['play']}** — {p['why']}" for p in card["plays"])
        # the cards name features by column ("monetary (index 25)"); readers get the
        # glossary's display name ("Net revenue (index 25)")
        how = _INDEXED_FEATURE.sub(
            lambda m: _in_sentence(display_name(m.group(1))) + m.group(2),
            card["how_they_buy"],
        )
        parts.append(
            f"#### {card['name']} (segment {card['segment']})\n\n"
            f"- **Who they are:** {card['who']}\n"
            f"- **How they buy:** {how}\n"
            f"- **What they are worth:** {card['worth']}\n"
            f"- **How stable:** {card['stability']}\n"
            f"- **Plays that fit:** {plays}\n"
        )
    return "\n".join(parts)


def persona_note(personas: list[dict[str, Any]]) -> Note:
    """The persona cards as Markdown."""
    return Note(persona_markdown(personas))


def names_note(matches: pd.DataFrame, segments: Mapping[str, Any]) -> Note:
    """Where each name came from: the automatic rules or the analyst's names file."""
    from_file = int((matches["source"] == "names file").sum())
    total = len(matches)
    if from_file:
        text = (
            f"{from_file} of {total} segment names come from the analyst's names file "
            "(matched to this run's segments by their profile, not by number); the "
            "others are automatic."
        )
    else:
        text = (
            f"All {total} segment names are automatic, read from each segment's profile. "
            "To rename a segment, copy `artifacts/segments.yaml` of this run next to "
            "the config as `segments.yaml` and edit its `name` lines."
        )
    warnings = (
        [str(w) for w in matches["warning"].fillna("") if str(w)]
        if "warning" in matches.columns
        else []
    )
    if warnings:
        text += (
            "\n\n**Check these names:** the words of an analyst's name are claims "
            "tested on the members (as for automatic names); a claim that fails "
            "keeps the name but is shown here.\n\n"
            + "\n".join(f"- {w}" for w in warnings)
        )
    return Note(text)


def _claim_words(claim: str) -> str:
    """A claim id in words: ``"low active_months"`` -> ``"low active months"``."""
    return " ".join(
        _in_sentence(display_name(word)) if "_" in word else word
        for word in claim.split(" ")
    )


def name_claims_table(claims: pd.DataFrame | None) -> pd.DataFrame:
    """Each name's claims: the test, the share of members it holds for, interval.

    Parameters
    ----------
    claims : DataFrame or None
        ``name_claims.csv`` of the profile step.
    """
    if claims is None or claims.empty:
        return Note("There are no name claims: rerun the profile step.")
    used = claims[claims["in_name"].astype("bool")]
    pct = (100 * used["coverage"]).round(0)
    low = (100 * used["coverage_low"]).round(0)
    high = (100 * used["coverage_high"]).round(0)
    interval = (
        low.astype("Int64").astype("str") + "-" + high.astype("Int64").astype("str")
    )
    out = pd.DataFrame(
        {
            "segment": used["name"].astype("str"),
            "claim": used["claim"].astype("str").map(_claim_words),
            "test": used["threshold"].astype("str"),
            "% of members": pct,
            "95% interval": interval.where(used["coverage_low"].notna(), ""),
            "holds": used["holds"].map({True: "yes", False: "NO"}),
        }
    )
    return Table(out.reset_index(drop=True))


def lifecycle_mix_table(mix: pd.DataFrame | None) -> pd.DataFrame:
    """Per segment: lifecycle states (% of members) and recent buyers."""
    if mix is None or mix.empty:
        return Note("There are no lifecycle states: they need transactions.")
    out = pd.DataFrame(
        {"segment": mix["name"].astype("str"), "customers": mix["customers"]}
    )
    for state in ("new", "active", "at_risk", "lapsed"):
        column = f"share_{state}"
        if column in mix.columns:
            out[f"% {state.replace('_', ' ')}"] = (100 * mix[column]).round(1)
    out["recent buyers (profiles.recent_days)"] = mix["recent_customers"]
    return Table(out.reset_index(drop=True))


class _Titled:
    """A table with its heading and one paragraph, shown only when it applies."""

    def __init__(self, title: str, text: str, table: Table) -> None:
        self.title, self.text, self.table = title, text, table

    def _repr_html_(self) -> str:
        import html

        return f"<h3>{html.escape(self.title)}</h3><p>{html.escape(self.text)}</p>" + (
            self.table._repr_html_() or ""
        )


def described_attributes_table(
    described: pd.DataFrame | None, names: Mapping[int, str]
) -> _Titled | None:
    """Attributes only part of the base has, per segment, over the members with a row.

    ``attributes_describe.csv`` exists when the customers table covers fewer
    customers than ``customers.min_coverage``: its attributes then never formed the
    segments and nobody's value was filled in; each value is the mean (or the
    level's share, in %) over the covered members, beside all covered customers.
    None (nothing on the page) when every attribute could cluster or there is none.
    """
    if described is None or described.empty:
        return None
    share = described["level"].fillna("").astype("str") != ""
    scale = share.map({True: 100.0, False: 1.0})
    out = pd.DataFrame(
        {
            "segment": [_name(int(s), names) for s in described["segment"]],
            "attribute": [display_name(a) for a in described["attribute"]],
            "level": described["level"].fillna("").astype("str"),
            "members with a row": [
                f"{int(c):,} of {int(m):,}"
                for c, m in zip(described["covered"], described["members"], strict=True)
            ],
            "segment value (mean or %)": (described["value"] * scale).round(2),
            "all covered customers": (described["overall"] * scale).round(2),
        }
    )
    return _Titled(
        "Attributes that only part of the customers have",
        "The customers table covers fewer customers than customers.min_coverage "
        "(notebook 02 gives the coverage), so its attributes never formed the "
        "segments and no missing value was filled in. They describe the segments "
        "here: each value is the mean, or the level's share in %, over the members "
        "that have a row, beside all covered customers. Read 'members with a row' "
        "first: a value over a handful of members says little.",
        Table(out.reset_index(drop=True)),
    )


def rules_table(rules: Mapping[str, Any]) -> pd.DataFrame:
    """Per segment: the rule as text and as SQL, with its fidelity and precision."""
    rows = pd.DataFrame(rules["segments"])
    # the text rule names the rule's features by display name; the SQL keeps the
    # column names a warehouse knows
    features = sorted(map(str, rules.get("features") or []), key=len, reverse=True)
    named = (
        re.compile(r"(?<![\w.])(" + "|".join(map(re.escape, features)) + r")(?![\w.])")
        if features
        else None
    )
    text = rows["text"].astype("str")
    if named is not None:
        text = text.map(lambda t: named.sub(lambda m: display_name(m.group(1)), t))
    out = pd.DataFrame(
        {
            "segment": rows["name"],
            "customers": rows["size"],
            "rule": text,
            "SQL WHERE clause": rows["sql"],
            "found by the rule %": (100 * rows["fidelity"]).round(1),
            "rule precision %": (100 * rows["precision"].astype(float)).round(1),
        }
    )
    return Table(out)


def fidelity_note(rules: Mapping[str, Any]) -> Note:
    """One sentence on how faithfully the rules reproduce the segments."""
    return Note(
        f"A decision tree of depth {rules['max_depth']} on "
        f"{len(rules['features'])} interpretable features places "
        f"**{rules['fidelity']:.1%}** of customers in the same segment as the model."
    )


@cached
def migration_heatmap(
    migration: pd.DataFrame, *, comparison: str = "previous run"
) -> Figure:
    """Row-normalised migration matrix (share of each earlier state now in each state)."""
    import seaborn as sns

    title = {
        "previous run": "Where customers of the previous run's segments are now",
        "within run": "Where customers were one horizon ago and where they are now",
    }.get(comparison, comparison)
    part = migration[migration["comparison"] == comparison]
    if part.empty:
        return _empty(title, f"no {comparison} comparison in this run")
    rows = list(dict.fromkeys(part["previous"]))
    cols = list(dict.fromkeys(part["current"]))
    table = part.pivot(index="previous", columns="current", values="share").reindex(
        index=rows, columns=cols
    )
    counts = part.pivot(index="previous", columns="current", values="customers")
    empty_rows = counts.reindex(index=rows).sum(axis=1) == 0
    table = table.loc[~empty_rows.to_numpy()]
    empty_cols = counts.reindex(columns=cols).sum(axis=0) == 0
    table = table.loc[:, ~empty_cols.to_numpy()]
    fig = ReportFigure(figsize=(0.9 * table.shape[1] + 4, 0.55 * len(table) + 2.2))
    ax = fig.subplots()
    sns.heatmap(
        100 * table,
        annot=True,
        fmt=".0f",
        cmap="Blues",
        vmin=0,
        vmax=100,
        cbar_kws={"label": "% of the row"},
        ax=ax,
    )
    ax.set_title(title)
    ax.set_xlabel("now")
    ax.set_ylabel("before")
    ax.tick_params(axis="y", rotation=0)
    return fig


def _comparison(
    evolution: Mapping[str, Any], comparison: str
) -> Mapping[str, Any] | None:
    key = {"previous run": "previous_run", "within run": "within_run"}[comparison]
    return evolution.get(key)


def size_changes_table(
    evolution: Mapping[str, Any], *, comparison: str = "previous run"
) -> pd.DataFrame:
    """Customers per segment before and now, with the change."""
    found = _comparison(evolution, comparison)
    if not found:
        # a section with nothing to show says so in one sentence, not in a table
        return Note(f"This run has no {comparison} comparison: nothing to compare.")
    sizes = pd.DataFrame(found["sizes"])
    out = pd.DataFrame(
        {
            "segment": sizes["segment"],
            "before": sizes["previous_size"],
            "now": sizes["current_size"],
            "change": sizes["change"],
            "change %": sizes["change_pct"].astype(float).round(1),
        }
    )
    return Table(out)


@cached
def size_changes_chart(
    evolution: Mapping[str, Any], *, comparison: str = "previous run"
) -> Figure:
    """Share of customers per segment before and now (bars side by side)."""
    import seaborn as sns

    before = "one horizon ago" if comparison == "within run" else "previous run"
    title = f"Share of customers per segment: {before} vs now"
    found = _comparison(evolution, comparison)
    if not found:
        return _empty(title, f"no {comparison} comparison in this run")
    sizes = pd.DataFrame(found["sizes"])
    long = sizes.melt(
        id_vars="segment",
        value_vars=["previous_share", "current_share"],
        var_name="when",
        value_name="share",
    )
    long["when"] = long["when"].map(
        {"previous_share": "before", "current_share": "now"}
    )
    long["share"] = 100 * long["share"]
    fig = ReportFigure(figsize=(max(6, 1.2 * len(sizes) + 2), 4))
    ax = fig.subplots()
    sns.barplot(data=long, x="segment", y="share", hue="when", ax=ax)
    ax.set_title(title)
    ax.set_ylabel("% of customers")
    ax.set_xlabel("")
    ax.tick_params(axis="x", rotation=20)
    return fig


def evolution_note(evolution: Mapping[str, Any]) -> Note:
    """Headline of both comparisons (or why they are missing)."""
    parts = []
    prev = evolution.get("previous_run")
    if prev:
        parts.append(
            f"**Since the previous run ({prev['run_id']}):** {prev['stayed_share']:.0%} of "
            f"the {prev['customers_both']:,} customers in both runs kept their segment "
            f"(adjusted Rand index {prev['ari']:.2f}); {prev['customers_new']:,} customers "
            f"are new and {prev['customers_lapsed']:,} dropped out."
        )
    within = evolution.get("within_run")
    if within:
        parts.append(
            f"**Within this run ({within['t0']} to {within['as_of']}):** "
            f"{within['stayed_share']:.0%} of the {within['customers_both']:,} customers "
            f"active at {within['t0']} are in the same segment now (adjusted Rand index "
            f"{within['ari']:.2f}); {within['customers_new']:,} customers bought for the "
            "first time since."
        )
    parts.extend(f"*Note:* {n}" for n in evolution.get("notes", []))
    return Note("\n\n".join(parts) or "No comparison was possible.")


def export_sample(
    assignments: pd.DataFrame,
    *,
    config: Mapping[str, Any],
    per_segment: int = 2,
) -> pd.DataFrame:
    """A few rows of ``assignments.csv`` per segment, ids pseudonymised by default."""
    rows = (
        assignments.groupby("segment_id", sort=True, group_keys=False)
        .head(per_segment)
        .sort_values(["segment_id", "customer_id"])
        .reset_index(drop=True)
    )
    if config["profiles"]["hash_ids"]:
        rows["customer_id"] = pseudonymise(
            rows["customer_id"], salt=pseudonym_salt(dict(config))
        ).to_numpy()
    return Table(rows)
