"""Per-customer features the config declares: extra numeric columns and spend mix.

Two kinds, both Ibis expressions over the clean lines (any backend), both over
the lines strictly before ``as_of`` like the behaviour features
(:mod:`segkit.features.behaviour`):

- ``features.extra``: a numeric column of the lines (``transactions.extra``,
  carried by the data step as ``x_<column>``) aggregated per customer --
  ``sum``, ``mean`` (over the lines), ``share_of_value`` (sum of the column /
  sales value, e.g. discount share) or ``share_of_lines_nonzero`` (the share of
  lines where the column is not 0, e.g. coupon use);
- ``features.mix``: a text column of the lines (``category``, ``channel`` or a
  lookup's column such as ``department``) -> one feature per level, the share of
  the customer's sales value spent on it (``mix_<column>_<level>``; the levels
  after ``top`` pooled as ``mix_<column>_other``). The shares are over the lines
  whose level is known; a customer with none keeps NaN (for the preprocessor).

The kept mix levels are the ``top`` levels by sales value over all customers
unless the config lists ``levels``: list them to score new customers with the
same columns.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from segkit import glossary
from segkit.config_sections import ExtraFeature, FeatureSettings, MixFeature
from segkit.dates import parse_date
from segkit.exceptions import SchemaError
from segkit.features.behaviour import as_table, connect

__all__ = [
    "pin_mix_levels",
    "compute_config_features",
    "config_features",
    "definitions",
    "extra_expr",
    "extra_name",
    "labels",
    "mix_columns",
    "mix_expr",
    "mix_levels",
]

_HOW = {
    "sum": ("currency", "Sum of {col} over the customer's lines"),
    "mean": ("", "Mean of {col} over the customer's lines"),
    "share_of_value": (
        "share",
        "Sum of {col} divided by the customer's sales value (NaN when it is 0)",
    ),
    "share_of_lines_nonzero": (
        "share",
        "Share of the customer's lines where {col} is not 0",
    ),
}


def extra_name(spec: ExtraFeature) -> str:
    """The feature name of a ``features.extra`` entry (``<column>_<how>`` unless
    ``name`` is set)."""
    return spec.name or f"{_slug(spec.column)}_{spec.how}"


def _slug(text: Any) -> str:
    slug = re.sub(r"[^0-9a-z]+", "_", str(text).lower()).strip("_")
    return slug or "blank"


def _window(tx: ir.Table, as_of: dt.date | str) -> ir.Table:
    day = parse_date(as_of, where="as_of")
    cutoff = ibis.timestamp(dt.datetime.combine(day, dt.time()))
    return tx.filter((tx.timestamp < cutoff) & tx.customer_id.notnull())


def extra_expr(
    tx: ir.Table, specs: Iterable[ExtraFeature | Mapping[str, Any]], as_of: Any
) -> ir.Table:
    """The ``features.extra`` features as one Ibis expression (no execution).

    Parameters
    ----------
    tx : ibis.Table
        Clean lines with ``customer_id``, ``timestamp``, ``amount`` and an
        ``x_<column>`` per spec.
    specs : iterable of ExtraFeature or mapping
        The ``features.extra`` entries.
    as_of : date or "YYYY-MM-DD"
        Lines at or after its midnight are ignored.

    Returns
    -------
    ibis.Table
        ``customer_id`` (string) and one float64 column per spec
        (:func:`extra_name`).

    Raises
    ------
    SchemaError
        A spec's ``x_<column>`` is not a numeric column of ``tx``.
    """
    specs = [ExtraFeature.of(s) for s in specs]
    lines = _window(tx, as_of)
    value = lines.amount.cast("float64")
    safe = ibis.ifelse(value.sum() > 0, value.sum(), ibis.null("float64"))
    aggs: dict[str, Any] = {}
    for i, spec in enumerate(specs):
        col = f"x_{spec.column}"
        if col not in tx.columns or not tx.schema()[col].is_numeric():
            raise SchemaError(
                f"features.extra[{i}].column {spec.column!r}: the lines have no numeric "
                f"column {col!r} (columns: {list(tx.columns)}); add {spec.column!r} to "
                "transactions.extra in the config so the data step carries it"
            )
        x = lines[col].cast("float64")
        if spec.how == "sum":
            agg = x.sum()
        elif spec.how == "mean":
            agg = x.mean()
        elif spec.how == "share_of_value":
            agg = x.sum() / safe
        else:
            agg = ibis.ifelse(x.notnull() & (x != 0), 1.0, 0.0).mean()
        aggs[extra_name(spec)] = agg.cast("float64")
    return lines.group_by(customer_id=lines.customer_id.cast("string")).agg(**aggs)


def mix_levels(
    tx: ir.Table, spec: MixFeature | Mapping[str, Any], as_of: Any
) -> list[str]:
    """The levels a mix keeps: ``levels`` if given, else the ``top`` by sales value
    before ``as_of`` (ties by name); one small query."""
    spec = MixFeature.of(spec)
    if spec.levels:
        return list(spec.levels)
    _check_text(tx, spec.column)
    lines = _window(tx, as_of)
    lines = lines.filter(lines[spec.column].notnull())
    totals = (
        lines.group_by(level=lines[spec.column].cast("string"))
        .agg(value=lines.amount.cast("float64").sum())
        .to_pandas()
    )
    totals = totals.sort_values(["value", "level"], ascending=[False, True])
    return [str(v) for v in totals["level"].head(spec.top)]


def mix_columns(spec: MixFeature | Mapping[str, Any], levels: list[str]) -> dict:
    """Feature name -> level (None for the pooled ``other``) of a mix."""
    spec = MixFeature.of(spec)
    out: dict[str, str | None] = {}
    for level in levels:
        name = f"mix_{_slug(spec.column)}_{_slug(level)}"
        while name in out:
            name += "_"
        out[name] = level
    out[f"mix_{_slug(spec.column)}_other"] = None
    return out


def _check_text(tx: ir.Table, column: str) -> None:
    if column not in tx.columns:
        raise SchemaError(
            f"features.mix names {column!r}, not a column of the lines (columns: "
            f"{list(tx.columns)}); map it in transactions.columns (category, channel) "
            "or provide it with transactions.lookups"
        )


def mix_expr(
    tx: ir.Table, spec: MixFeature | Mapping[str, Any], levels: list[str], as_of: Any
) -> ir.Table:
    """Share of sales value per level of one mix column (no execution).

    Returns
    -------
    ibis.Table
        ``customer_id`` and the columns of :func:`mix_columns`: each level's
        share of the value of the customer's lines whose level is known; NaN for
        a customer without such lines.
    """
    spec = MixFeature.of(spec)
    _check_text(tx, spec.column)
    lines = _window(tx, as_of)
    level = lines[spec.column].cast("string")
    value = lines.amount.cast("float64")
    known = ibis.ifelse(level.notnull(), value, 0.0).sum()
    safe = ibis.ifelse(known > 0, known, ibis.null("float64"))
    kept = list(levels)
    aggs: dict[str, Any] = {}
    for name, lv in mix_columns(spec, levels).items():
        if lv is None:
            hit = level.notnull() & ~level.isin(kept) if kept else level.notnull()
        else:
            hit = level == lv
        aggs[name] = ibis.ifelse(hit, value, 0.0).sum() / safe
    return lines.group_by(customer_id=lines.customer_id.cast("string")).agg(**aggs)


def config_features(
    tx: ir.Table, section: FeatureSettings | Mapping[str, Any], *, as_of: Any
) -> tuple[ir.Table | None, list[dict[str, Any]]]:
    """The extra and mix features of ``section`` joined into one expression.

    Parameters
    ----------
    tx : ibis.Table
        Clean lines (see :func:`extra_expr`).
    section : FeatureSettings or mapping
        The ``features`` section (``extra``, ``mix``).
    as_of : date or "YYYY-MM-DD"

    Returns
    -------
    (ibis.Table or None, list of dict)
        ``customer_id`` plus every declared feature (None when none is declared),
        and notes (``source``, ``rule``, ``count``, ``detail``) naming the mix
        levels kept. The display names are registered with
        :func:`segkit.glossary.register_labels`.
    """
    section = FeatureSettings.of(section)
    parts: list[ir.Table] = []
    notes: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    if section.extra:
        parts.append(extra_expr(tx, section.extra, as_of))
    for spec in section.mix:
        levels = mix_levels(tx, spec, as_of)
        parts.append(mix_expr(tx, spec, levels, as_of))
        columns = mix_columns(spec, levels)
        names.update({k: v or "other levels" for k, v in columns.items()})
        notes.append(
            {
                "source": "features",
                "rule": f"spend mix of {spec.column}: {len(levels)} levels kept",
                "count": len(levels),
                "detail": ", ".join(levels) + "; the rest pooled as 'other'",
            }
        )
    if not parts:
        return None, notes
    out = parts[0]
    for part in parts[1:]:
        out = out.left_join(part, "customer_id").drop("customer_id_right")
    glossary.register_labels(labels(section, names))
    return out, notes


def pin_mix_levels(
    tx: Any, section: FeatureSettings | Mapping[str, Any], *, as_of: Any
) -> dict[str, list[str]]:
    """The levels each ``features.mix`` keeps at ``as_of``: {column: levels}.

    The features step pins them (``declared_features.json``) so that every later
    rebuild -- the validation's features at ``t0``, scoring new customers -- makes
    the same mix columns the preprocessor and the model were fitted on, even when
    ``top`` would pick other levels on other dates.
    """
    section = FeatureSettings.of(section)
    if not section.mix:
        return {}
    if isinstance(tx, ir.Table):
        table = tx
    else:
        table = as_table(tx, connect("duckdb"))
    return {spec.column: mix_levels(table, spec, as_of) for spec in section.mix}


def labels(
    section: FeatureSettings | Mapping[str, Any], mix: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Display names: each extra feature's ``display`` (or its name made readable)
    and ``"Share of spend: <level>"`` per mix column (``mix``: name -> level)."""
    section = FeatureSettings.of(section)
    out = {extra_name(s): s.display for s in section.extra if s.display}
    out.update(
        {name: f"Share of spend: {level}" for name, level in (mix or {}).items()}
    )
    return out


def definitions(
    section: FeatureSettings | Mapping[str, Any], columns: Iterable[str]
) -> pd.DataFrame:
    """Rows of ``feature_definitions.csv`` for the declared features present in
    ``columns``: ``name``, ``group`` (``extra`` / ``mix``), ``unit``, ``definition``."""
    section = FeatureSettings.of(section)
    present = list(columns)
    rows = []
    for spec in section.extra:
        name = extra_name(spec)
        if name in present:
            unit, text = _HOW[spec.how]
            text = spec.definition or (
                text.format(col=spec.column) + " before as_of (features.extra)."
            )
            rows.append(
                {"name": name, "group": "extra", "unit": unit, "definition": text}
            )
    for spec in section.mix:
        prefix = f"mix_{_slug(spec.column)}_"
        for name in (c for c in present if c.startswith(prefix)):
            what = (
                "the levels not kept"
                if name == prefix + "other"
                else f"the level {glossary.display_name(name).split(': ', 1)[-1]!r}"
            )
            rows.append(
                {
                    "name": name,
                    "group": "mix",
                    "unit": "share",
                    "definition": f"Share of the customer's sales value before as_of "
                    f"spent on {what} of {spec.column} (over the lines whose "
                    f"{spec.column} is known; features.mix).",
                }
            )
    return pd.DataFrame(rows, columns=["name", "group", "unit", "definition"])


def compute_config_features(
    transactions: Any,
    section: FeatureSettings | Mapping[str, Any],
    *,
    as_of: Any,
    backend: str | Any = "duckdb",
) -> tuple[pd.DataFrame | None, list[dict[str, Any]]]:
    """Run :func:`config_features` and return its per-customer frame.

    Parameters
    ----------
    transactions : DataFrame, Parquet path or ibis.Table
        Clean lines (never mutated).
    section : FeatureSettings or mapping
    as_of : date or "YYYY-MM-DD"
    backend : {"duckdb", "pyspark"} or an Ibis backend

    Returns
    -------
    (DataFrame or None, list of dict)
        Index ``customer_id`` (str), float64 columns (None when nothing is
        declared), and the notes.
    """
    if isinstance(transactions, ir.Table):  # an engine's table runs on its engine
        backend = ibis.get_backend(transactions)
    con = connect(backend)
    expr, notes = config_features(as_table(transactions, con), section, as_of=as_of)
    if expr is None:
        return None, notes
    frame = con.to_pandas(expr)
    frame = frame.assign(customer_id=frame["customer_id"].astype("str"))
    frame = frame.set_index("customer_id").sort_index().astype("float64")
    frame.columns.name = None
    return frame, notes
