"""Tables and sentences of notebook 01-explore: what data we got, what cleaning did.

Every function takes an artifact of the ``data`` step (see
:func:`explore_artifacts`) and returns a :class:`~segkit.display.Table` ready to
show or a :class:`~segkit.display.Note` (a sentence that notebooks render as
Markdown). An artifact that a run does not have (no transactions in an
attribute-only run, no customers table in a transactions run) may be passed as
``None``: the function then returns a small table or sentence that says why there
is nothing to show, so the notebook's cells stay unconditional.

The figures of the same notebook live in :mod:`segkit.data.report`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segkit.data.quality import passed_flag, sufficiency_verdict
from segkit.display import Note, Table
from segkit.exceptions import SchemaError

if TYPE_CHECKING:
    from segkit.context import RunContext

__all__ = [
    "explore_artifacts",
    "provenance_table",
    "schema_table",
    "quality_table",
    "ledger_table",
    "ledger_check",
    "read_notes_note",
    "duplicates_note",
    "pii_note",
    "sufficiency_note",
    "sufficiency_table",
    "attribute_summary",
]

_FRAMES = {
    "transactions": "transactions.parquet",
    "returns": "returns.parquet",
    "customers": "customers.parquet",
    "ledger": "ledger.csv",
    "quality": "quality.csv",
    "quality_customers": "quality_customers.csv",
    "sufficiency": "sufficiency.csv",
}
_JSON = {
    "duplicates": "duplicates.json",
    "pii": "pii.json",
    "summary": "data_summary.json",
    "read_notes": "read_notes.json",
}
ABSENT = (
    "Nothing to show: this run has no such table (transactions-only data has no "
    "customers table, attribute-only data has no transactions)."
)


def explore_artifacts(ctx: RunContext) -> dict[str, Any]:
    """Load every artifact of the ``data`` step that this run has.

    Parameters
    ----------
    ctx : RunContext
        The open run (the ``data`` step must have run).

    Returns
    -------
    dict
        Frames ``transactions``, ``returns``, ``customers``, ``ledger``,
        ``quality``, ``quality_customers``, ``sufficiency`` and the JSON
        ``duplicates``, ``pii``, ``summary``; ``None`` for an artifact this run has
        not (e.g. no ledger for attribute-only data).
    """
    out: dict[str, Any] = {}
    for key, name in _FRAMES.items():
        out[key] = ctx.load_frame(name) if ctx.has(name) else None
    for key, name in _JSON.items():
        out[key] = ctx.load_json(name) if ctx.has(name) else None
    return out


def _note_table(message: str) -> Note:
    # a section with nothing to show says so in one sentence, not in a table
    return Note(message)


def need_frame(frame: pd.DataFrame, columns: list[str], what: str, fix: str) -> None:
    missing = [col for col in columns if col not in frame.columns]
    if missing:
        raise SchemaError(
            f"{what} lacks the columns {missing} (columns: {list(frame.columns)}); {fix}"
        )


def _count(value: Any) -> str:
    return f"{int(value):,}" if isinstance(value, int | np.integer) else str(value)


def provenance_table(summary: Mapping[str, Any] | None) -> pd.DataFrame:
    """Where the data came from: file, checksum, size and date range.

    Parameters
    ----------
    summary : mapping or None
        ``data_summary.json`` of the data step; keys it lacks are skipped.

    Returns
    -------
    DataFrame
        Index ``item`` (plain-language label), column ``value`` (text).
    """
    if not summary:
        return _note_table("No data summary: run the data step first.")
    labels = {
        "source_file": "transactions file",
        "sha256": "transactions file SHA-256",
        "raw_rows": "rows read",
        "raw_columns": "columns read",
        "invoices": "invoices (orders)",
        "customers": "distinct customer ids",
        "rows_missing_customer": "rows without a customer id",
        "countries": "countries",
        "first_date": "first order date",
        "last_date": "last order date",
        "as_of": "analysis date (as_of)",
        "as_of_source": "analysis date taken from",
        "engine": "read, cleaned and counted by",
        "customers_file": "customers file",
        "customers_sha256": "customers file SHA-256",
        "customers_rows": "customers rows read",
        "customers_columns": "customers columns read",
        "customers_kept": "customers kept",
        "personal_columns_dropped": "personal-data columns dropped",
    }
    rows = []
    for key, label in labels.items():
        if key not in summary or summary[key] is None:
            continue
        value = summary[key]
        if isinstance(value, list | tuple):
            value = ", ".join(map(str, value)) if value else "none"
        elif key == "as_of_source" and value == "config":
            value = "the configuration (as_of)"
        elif key == "engine":
            value = _ENGINE_WORDS.get(str(value), str(value))
        rows.append({"item": label, "value": _count(value)})
    return Table(rows, columns=["item", "value"]).set_index("item")


_ENGINE_WORDS = {
    "duckdb": "DuckDB, out of core (engine: duckdb)",
    "spark": "Spark (engine: spark)",
}


def _profile(profile: pd.DataFrame) -> pd.DataFrame:
    need_frame(
        profile,
        ["column", "role", "dtype", "missing", "missing_share", "distinct", "examples"],
        "the quality profile",
        "pass quality.csv or the output of segkit.data.quality.quality_profile",
    )
    text = ["role", "examples", "pii"]
    return profile.assign(
        **{col: profile[col].fillna("").astype("str") for col in text if col in profile}
    )


def schema_table(profile: pd.DataFrame | None) -> pd.DataFrame:
    """The columns of a raw table with their roles, types and a few example values.

    Parameters
    ----------
    profile : DataFrame or None
        ``quality.csv`` / ``quality_customers.csv`` (see
        :func:`segkit.data.quality.quality_profile`).

    Returns
    -------
    DataFrame
        Index ``column``; columns ``role``, ``type``, ``distinct values``,
        ``examples`` (personal data and customer ids already masked).
    """
    if profile is None:
        return _note_table(ABSENT)
    profile = _profile(profile)
    out = pd.DataFrame(
        {
            "column": profile["column"].astype("str"),
            "role": profile["role"].replace("", "-"),
            "type": profile["dtype"].astype("str"),
            "distinct values": profile["distinct"].map("{:,}".format),
            "examples": profile["examples"],
        }
    )
    return Table(out).set_index("column")


def _percent(value: Any) -> str:
    return "" if pd.isna(value) else f"{float(value):.1%}"


def quality_table(profile: pd.DataFrame | None) -> pd.DataFrame:
    """Missing values, outliers and personal data per column, as a reviewer reads it.

    Parameters
    ----------
    profile : DataFrame or None
        ``quality.csv`` / ``quality_customers.csv``.

    Returns
    -------
    DataFrame
        Index ``column``; columns ``missing``, ``missing %``, ``outliers``,
        ``outliers %`` (blank for non-numeric columns) and ``personal data`` (the
        kind, or blank).
    """
    if profile is None:
        return _note_table(ABSENT)
    profile = _profile(profile)
    outliers = profile.get("outliers", pd.Series(np.nan, index=profile.index))
    share = profile.get("outlier_share", pd.Series(np.nan, index=profile.index))
    out = pd.DataFrame(
        {
            "column": profile["column"].astype("str"),
            "missing": profile["missing"].map("{:,}".format),
            "missing %": profile["missing_share"].map(_percent),
            "outliers": outliers.map(lambda v: "" if pd.isna(v) else f"{int(v):,}"),
            "outliers %": share.map(_percent),
            "personal data": profile.get("pii", pd.Series("", index=profile.index)),
        }
    )
    return Table(out).set_index("column")


def ledger_frame(ledger: pd.DataFrame) -> pd.DataFrame:
    need_frame(
        ledger,
        ["rule", "description", "rows", "value"],
        "the cleaning ledger",
        "pass ledger.csv of the data step",
    )
    return ledger


def ledger_table(ledger: pd.DataFrame | None) -> pd.DataFrame:
    """The cleaning ledger: what each rule removed, in rows and in value.

    Parameters
    ----------
    ledger : DataFrame or None
        ``ledger.csv``: columns ``rule, description, rows, value`` (and
        ``rows_after``), first row ``raw``, last row ``kept``.

    Returns
    -------
    DataFrame
        Index ``step``; columns ``what it means``, ``rows``, ``% of raw rows``,
        ``value`` and ``rows left``.
    """
    if ledger is None:
        return _note_table("No cleaning ledger: this run has no transactions table.")
    ledger = ledger_frame(ledger)
    raw_rows = int(ledger["rows"].iloc[0]) or 1
    rows_after = ledger.get("rows_after", pd.Series(np.nan, index=ledger.index))
    out = pd.DataFrame(
        {
            "step": ledger["rule"].astype("str").str.replace("_", " "),
            "what it means": ledger["description"].fillna("").astype("str"),
            "rows": ledger["rows"].map("{:,}".format),
            "% of raw rows": (ledger["rows"] / raw_rows).map(_percent),
            "value": ledger["value"].map("{:,.0f}".format),
            "rows left": rows_after.map(lambda v: "" if pd.isna(v) else f"{int(v):,}"),
        }
    )
    return Table(out).set_index("step")


def ledger_check(ledger: pd.DataFrame | None) -> Note:
    """State that raw rows = kept + the sum of removed rows (or that it does not hold).

    Parameters
    ----------
    ledger : DataFrame or None
        ``ledger.csv`` (first row ``raw``, last row ``kept``).

    Returns
    -------
    Note
        e.g. "The ledger adds up: 10 rows read = 4 kept + 6 removed by 5 rules ...".
    """
    if ledger is None:
        return Note("There is no cleaning ledger: this run has no transactions table.")
    ledger = ledger_frame(ledger)
    raw = int(ledger["rows"].iloc[0])
    kept = int(ledger["rows"].iloc[-1])
    removed = ledger.iloc[1:-1]
    total = int(removed["rows"].sum())
    acting = int((removed["rows"] > 0).sum())
    if raw == kept + total:
        return Note(
            f"The ledger adds up: **{raw:,} rows read = {kept:,} kept + {total:,} "
            f"removed** by {acting} of {len(removed)} rules ({kept / raw:.1%} of the "
            "rows are kept). No row disappeared without a ledger line."
        )
    return Note(
        f"**Warning: the ledger does not add up**: {raw:,} rows read, but {kept:,} "
        f"kept + {total:,} removed = {kept + total:,}. Some rows are unaccounted for; "
        "report this as a bug in segkit.data.clean."
    )


def read_notes_note(notes: Mapping[str, list[str]] | None) -> Note:
    """What reading and cleaning decided (``read_notes.json``), as one Note.

    Parameters
    ----------
    notes : mapping of table -> list of str, or None
        ``read_notes.json``: ``{"transactions": [...], "customers": [...]}``.

    Returns
    -------
    Note
        One bullet per decision, prefixed by its table (e.g. that the data have no
        order id and orders were formed per customer and timestamp), or a sentence
        saying that reading needed no decision.
    """
    lines = [
        f"- *{table}*: {text}"
        for table, texts in (notes or {}).items()
        for text in texts or []
    ]
    if not lines:
        return Note(
            "Reading needed no decision: the separator, encoding and columns were as "
            "configured."
        )
    return Note("What reading and cleaning decided:\n\n" + "\n".join(lines))


def duplicates_note(duplicates: Mapping[str, Any] | None) -> Note:
    """One sentence on exact duplicate rows (``duplicates.json``)."""
    if not duplicates:
        return Note("Duplicates were not counted: this run has no transactions table.")
    n = int(duplicates.get("duplicate_rows", 0))
    rows = int(duplicates.get("rows", 0))
    if n == 0:
        return Note(f"None of the {rows:,} rows is an exact duplicate of another.")
    share = duplicates.get("duplicate_share", n / rows)
    groups = duplicates.get("rows_in_duplicate_groups", n)
    return Note(
        f"**{n:,} of the {rows:,} rows read ({share:.2%}) repeat an earlier row "
        f"exactly**, in every column ({groups:,} rows belong to such groups). The "
        "cleaning rule `duplicates` drops the extra copies among the lines that "
        "survive the earlier rules, so its ledger count can be a little lower."
    )


def pii_note(pii: Mapping[str, str] | None) -> Note:
    """Which columns look like personal data (``pii.json``), never their values."""
    if not pii:
        return Note(
            "No column looks like personal data (e-mail addresses, phone numbers, "
            "names, addresses), and none is declared in `quality.pii_columns`."
        )
    listed = ", ".join(f"`{col}` ({kind})" for col, kind in pii.items())
    return Note(
        f"{len(pii)} column(s) are treated as personal data: {listed}. Their values "
        "are masked in every table of this report, and the data step drops them from "
        "the clean data unless the configuration declares them as attributes."
    )


def sufficiency_note(table: pd.DataFrame | None) -> Note:
    """The sufficiency verdict (:func:`segkit.data.quality.sufficiency_verdict`) as a Note."""
    if table is None:
        return Note("The sufficiency checks have not run: run the data step first.")
    text = sufficiency_verdict(table)
    return Note(f"**{text}**" if text.startswith("Warning") else text)


def sufficiency_table(table: pd.DataFrame | None) -> pd.DataFrame:
    """The sufficiency checks (``sufficiency.csv``) with readable values.

    Returns
    -------
    DataFrame
        Index ``check``; columns ``value``, ``minimum`` and ``result``
        ("passed", "failed" or "does not apply"); :func:`sufficiency_note` gives
        the messages.
    """
    if table is None:
        return _note_table("The sufficiency checks have not run.")
    need_frame(
        table,
        ["check", "value", "threshold", "passed", "message"],
        "the sufficiency table",
        "pass sufficiency.csv of the data step",
    )
    share = table["check"].astype("str").str.contains("share")

    def fmt(values: pd.Series) -> pd.Series:
        return pd.Series(
            [
                _percent(v) if s else ("" if pd.isna(v) else f"{v:,.0f}")
                for v, s in zip(values, share, strict=True)
            ],
            index=table.index,
        )

    result = {True: "passed", False: "failed", None: "does not apply"}
    out = pd.DataFrame(
        {
            "check": table["check"].astype("str"),
            "value": fmt(table["value"]),
            "minimum": fmt(table["threshold"]),
            "result": [result[passed_flag(v)] for v in table["passed"]],
        }
    )
    return Table(out).set_index("check")


def _numbers(*values: float) -> list[str]:
    # thousands separators only for large magnitudes, so years read as 1970
    large = max(abs(v) for v in values) >= 10_000
    return [f"{v:,.0f}" if large else f"{v:.4g}" for v in values]


def _describe(series: pd.Series) -> str:
    values = series.dropna()
    if values.empty:
        return "all missing"
    if pd.api.types.is_datetime64_any_dtype(values):
        return f"from {values.min():%Y-%m-%d} to {values.max():%Y-%m-%d}"
    numeric = pd.api.types.is_numeric_dtype(values)
    if numeric and not pd.api.types.is_bool_dtype(values) and values.nunique() > 2:
        low, mid, high = _numbers(*values.quantile([0.05, 0.5, 0.95]))
        return f"median {mid} (5-95%: {low} to {high})"
    top = values.astype("str").value_counts(normalize=True).head(3)
    return ", ".join(f"{value} {share:.0%}" for value, share in top.items())


def attribute_summary(
    customers: pd.DataFrame | None,
    *,
    config: Mapping[str, Any] | None = None,
    pii: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Summarise each attribute of the customers table.

    Parameters
    ----------
    customers : DataFrame or None
        ``customers.parquet`` (indexed by ``customer_id``); None when the run has no
        customers table.
    config : mapping, optional
        The run's config: ``customers.attributes`` (group -> columns),
        ``outcomes`` (group ``outcome``), ``birth_year`` (``demographic``) and
        ``signup_date`` (``tenure``) name each column's group; others are
        ``other``.
    pii : mapping, optional
        Column (or ``customers.<column>``) -> kind; their values are not shown.

    Returns
    -------
    DataFrame
        Index ``column``; columns ``group``, ``type``, ``missing %``, ``distinct``
        and ``summary`` (median and 5th-95th percentile for numbers, first and
        last date for dates, the most common values with their shares otherwise,
        0/1 flags included).
    """
    if customers is None:
        return _note_table(
            "No customers table: customers are described by their transactions only."
        )
    section = (config or {}).get("customers") or {}
    group_of = {
        str(c): group
        for group, cols in (section.get("attributes") or {}).items()
        for c in cols
    }
    group_of.update(dict.fromkeys(map(str, section.get("outcomes") or []), "outcome"))
    for key, group in (("birth_year", "demographic"), ("signup_date", "tenure")):
        if section.get(key):
            group_of[str(section[key])] = group
    personal = {
        str(key).removeprefix("customers."): kind for key, kind in (pii or {}).items()
    }
    rows = []
    for column in customers.columns:
        series = customers[column]
        name = str(column)
        if name in personal:
            summary = f"<hidden: {personal[name]}>"
        else:
            summary = _describe(series)
        rows.append(
            {
                "column": name,
                "group": group_of.get(name, "other"),
                "type": str(series.dtype),
                "missing %": _percent(series.isna().mean() if len(series) else 0.0),
                "distinct": f"{series.nunique():,}",
                "summary": summary,
            }
        )
    cols = ["column", "group", "type", "missing %", "distinct", "summary"]
    return Table(rows, columns=cols).set_index("column")
