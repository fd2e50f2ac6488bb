"""Lookup tables joined to the transaction lines by key (``transactions.lookups``).

Real exports often keep the product attributes apart from the fact table: a
``products`` file on ``product_id`` gives ``category``, ``department``, ``brand``.
Each entry of ``transactions.lookups`` names such a table, the transactions
column it joins on (``key``: a role such as ``product_id`` or a raw column) and
the columns it provides (``columns``: a role such as ``category`` or a new name
such as ``department`` -> the lookup table's column). The provided columns become
text columns of the canonical lines, so category-mix features
(``features.mix``) work whether the category was in the file or in a lookup.

Rules:

- the lookup's key must be unique (one row per key);
- keys are compared as text after the id normalisation of the transactions
  (:func:`segkit.data.io.normalise_ids`: stripped, ``123.0`` -> ``123``);
- lines whose key is not in the lookup keep missing values, and the coverage
  (share of lines and of revenue matched) goes into the read notes.

:func:`join_lookups_frame` does this on pandas frames (the pandas data path);
:func:`join_lookups_table` builds the same left join as an Ibis expression (the
engine path), the small lookup tables as ``ibis.memtable``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from segkit.config_sources import LookupSource, TransactionsSource
from segkit.exceptions import SchemaError
from segkit.project import resolve_data_path

if TYPE_CHECKING:
    import ibis.expr.types as ir

__all__ = ["Lookup", "read_lookups", "join_lookups_frame", "join_lookups_table"]

#: Key values of the lookup table: the normalised text of ``on``.
KEY = "__lookup_key"
_ID_NUMBER = r"^(-?\d+)\.0+$"


@dataclass(frozen=True)
class Lookup:
    """A lookup table ready to join.

    Attributes
    ----------
    name : str
        The file name (for notes and messages).
    key : str
        The column of the lines joined on: the role name when ``key`` is a
        transactions role, else the raw column name.
    table : DataFrame
        Column ``__lookup_key`` (normalised text key, unique) and one text column
        per provided name.
    """

    name: str
    key: str
    table: pd.DataFrame

    @property
    def provides(self) -> list[str]:
        """The names this lookup adds to the lines."""
        return [c for c in self.table.columns if c != KEY]


def _normalise(values: pd.Series) -> pd.Series:
    text = values.astype("str").str.strip()
    text = text.where(values.notna() & (text != "") & (text.str.lower() != "nan"))
    return text.str.replace(_ID_NUMBER, r"\1", regex=True)


def _read_plain(path: Path, *, read: Any, text_columns: list[str]):
    """A lookup file read by pandas alone (Parquet, or CSV with ``read.sep`` or a
    sniffed separator); the data step passes :func:`segkit.data.io.read_table`
    instead, which also handles encodings, Excel and the file's problems."""
    if path.suffix.lower() in (".parquet", ".pq"):
        frame = pd.read_parquet(path)
        cols = [c for c in text_columns if c in frame.columns]
        return frame.astype(dict.fromkeys(cols, "str")), []
    frame = pd.read_csv(
        path,
        sep=read.sep,
        encoding=read.encoding,
        dtype=dict.fromkeys(text_columns, "str"),
        engine="python" if read.sep is None else "c",
    )
    return frame, []


def _read_one(
    lookup: LookupSource,
    index: int,
    columns: Mapping[str, str],
    where: dict,
    reader: Callable[..., tuple[pd.DataFrame, list[str]]],
) -> Lookup:
    key = lookup.key
    on = lookup.on or columns.get(key, key)
    path = Path(lookup.path)
    if not path.is_absolute() and where:
        path, _ = resolve_data_path(path, **where)
    raw, _ = reader(path, read=lookup.read, text_columns=[on])
    missing = [c for c in [on, *lookup.columns.values()] if c not in raw.columns]
    if missing:
        raise SchemaError(
            f"column(s) {missing} not found in lookup {path.name} (columns: "
            f"{list(raw.columns)}); fix transactions.lookups[{index}].on or .columns "
            "in the config"
        )
    keys = _normalise(raw[on])
    dupes = keys[keys.duplicated(keep=False) & keys.notna()]
    if len(dupes):
        raise SchemaError(
            f"lookup {path.name}: key column {on!r} has {dupes.nunique():,} duplicated "
            f"values, e.g. {list(dupes.unique()[:3])}; a lookup needs one row per key: "
            f"deduplicate the file or set transactions.lookups[{index}].on to a "
            "unique column"
        )
    table = pd.DataFrame({KEY: keys})
    for name, col in lookup.columns.items():
        values = raw[col]
        table[name] = values.astype("str").str.strip().where(values.notna())
    return Lookup(name=path.name, key=key, table=table.dropna(subset=[KEY]))


def read_lookups(
    section: TransactionsSource | Mapping[str, Any],
    *,
    config_dir: Path | None = None,
    root: Path | None = None,
    reader: Callable[..., tuple[pd.DataFrame, list[str]]] | None = None,
) -> list[Lookup]:
    """Read the lookup tables of a ``transactions`` section (small tables, pandas).

    Parameters
    ----------
    section : TransactionsSource or mapping
        The config's ``transactions``; its ``lookups`` are read in order.
    config_dir, root : Path, optional
        Where a relative lookup path is tried (the config's folder, then the
        project root; :func:`segkit.project.resolve_data_path`); without them a
        relative path starts at the current folder.
    reader : callable, optional
        ``reader(path, read=..., text_columns=[...]) -> (frame, notes)``; pass
        :func:`segkit.data.io.read_table` (the data step does). Default: pandas
        only (CSV and Parquet).

    Returns
    -------
    list of Lookup
        One per entry, in the config's order.

    Raises
    ------
    SchemaError
        A declared column is missing from a lookup file, or its key repeats.
    """
    section = TransactionsSource.of(section)
    where = {"config_dir": config_dir, "root": root} if root is not None else {}
    columns = dict(section.columns)
    reader = reader or _read_plain
    return [
        _read_one(lk, i, columns, where, reader) for i, lk in enumerate(section.lookups)
    ]


def _coverage_note(
    lookup: Lookup, lines: int, hit: int, revenue: float, hit_rev: float
):
    line_share = hit / lines if lines else 0.0
    rev_share = hit_rev / revenue if revenue else 0.0
    note = (
        f"lookup {lookup.name} on {lookup.key}: {hit:,} of {lines:,} lines "
        f"({line_share:.1%}) and {rev_share:.1%} of revenue matched"
    )
    if hit < lines:
        note += f"; the other lines keep missing {', '.join(lookup.provides)}"
    return note


def _key_column(frame: pd.DataFrame, raw: pd.DataFrame | None, lookup: Lookup):
    if lookup.key in frame.columns:
        return frame[lookup.key]
    if raw is not None and lookup.key in raw.columns:
        return raw[lookup.key]
    raise SchemaError(
        f"lookup {lookup.name}: key {lookup.key!r} is neither a mapped transactions "
        f"role nor a column of the transactions file (columns: "
        f"{list(frame.columns if raw is None else raw.columns)}); set the lookup's "
        "key to a role in transactions.columns or a column of the file"
    )


def join_lookups_frame(
    frame: pd.DataFrame, lookups: Iterable[Lookup], *, raw: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """Left-join lookup tables to canonical lines (pandas).

    Parameters
    ----------
    frame : DataFrame
        Canonical transactions (``amount`` and the key columns).
    lookups : iterable of Lookup
        From :func:`read_lookups`.
    raw : DataFrame, optional
        The file as read, same index, for a key that is a raw column.

    Returns
    -------
    (DataFrame, list of str)
        A new frame with each lookup's columns added (text; missing where the key
        is not in the lookup; an existing column of that name is replaced), and
        one coverage note per lookup. ``frame`` is not modified.
    """
    out = frame.copy()
    notes = []
    for lookup in lookups:
        keys = _normalise(_key_column(out, raw, lookup)).rename(KEY)
        matched = keys.to_frame().merge(lookup.table, on=KEY, how="left")
        matched.index = out.index
        hit = keys.isin(set(lookup.table[KEY]))
        for name in lookup.provides:
            out[name] = matched[name].astype("object").where(hit, None)
        amount = out["amount"].fillna(0.0) if "amount" in out else pd.Series(0.0)
        notes.append(
            _coverage_note(
                lookup,
                len(out),
                int(hit.sum()),
                float(amount.sum()),
                float(amount[hit].sum()),
            )
        )
    return out, notes


def join_lookups_table(
    table: ir.Table, lookups: Iterable[Lookup]
) -> tuple[ir.Table, list[str]]:
    """Left-join lookup tables to canonical lines as an Ibis expression.

    Same rules as :func:`join_lookups_frame`; each lookup travels as an
    ``ibis.memtable`` (lookups are small). The coverage notes need one small
    aggregate query per lookup, run on ``table``'s backend.

    Parameters
    ----------
    table : ibis.Table
        Canonical lines holding each lookup's key column and ``amount``.
    lookups : iterable of Lookup

    Returns
    -------
    (ibis.Table, list of str)
        The joined expression (the columns of ``table``, then each lookup's
        columns) and one coverage note per lookup.
    """
    import ibis

    notes = []
    for i, lookup in enumerate(lookups):
        if lookup.key not in table.columns:
            raise SchemaError(
                f"lookup {lookup.name}: key {lookup.key!r} is not a column of the "
                f"transactions table (columns: {list(table.columns)}); set the "
                "lookup's key to a role in transactions.columns or a column of the file"
            )
        key_name = f"{KEY}_{i}"
        small = ibis.memtable(
            lookup.table.rename(columns={KEY: key_name}).astype("object")
        )
        small = small.cast({c: "string" for c in small.columns})
        kept = [c for c in table.columns if c not in lookup.provides]
        text = table[lookup.key].cast("string").strip()
        # re_extract, not a back-reference: DuckDB writes \1 and Spark $1.
        key = ibis.ifelse(
            text.re_search(r"^-?[0-9]+\.0+$"),
            text.re_extract(r"^(-?[0-9]+)\.", 1),
            text,
        )
        base = table.select(*kept).mutate(**{key_name: key})
        joined = base.left_join(small, base[key_name] == small[key_name])
        hit = joined[f"{key_name}_right"].notnull()
        amount = joined.amount.cast("float64").fill_null(0.0)
        stats = joined.aggregate(
            lines=joined.count(),
            hit=hit.sum(),
            revenue=amount.sum(),
            hit_revenue=ibis.ifelse(hit, amount, 0.0).sum(),
        ).to_pandas()
        row = stats.iloc[0]
        notes.append(
            _coverage_note(
                lookup,
                int(row["lines"]),
                int(row["hit"] or 0),
                float(row["revenue"] or 0.0),
                float(row["hit_revenue"] or 0.0),
            )
        )
        table = joined.drop(key_name, f"{key_name}_right")
    return table, notes
