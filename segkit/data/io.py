"""Read transaction and customer tables and map their columns to segkit roles.

Reading is the first place real data bites: a semicolon file read with commas, a
Windows-1252 export, a BOM in the header, dates as ``20111209`` integers, prices
with text in them. Every such problem becomes a :class:`~segkit.exceptions.SegkitError`
that names the file, the column, example values and the config key that fixes it.

The canonical transaction frame (see ``docs/architecture.md``) has the columns
``customer_id, order_id, timestamp, quantity, unit_price, amount`` plus any of
``product_id, description, country, category, channel`` that the config maps.

The order id is optional: many shops and panel data sets export one row per
purchase without one. Such a frame has no ``order_id`` column as read; cleaning
(:func:`segkit.data.clean.clean_transactions`) then forms the orders with
:func:`order_ids`: each customer's lines on one timestamp are one order, with the
id ``<customer_id>|<timestamp ISO 8601>`` (e.g. ``17850|2011-12-01T08:26:00``).
"""

from __future__ import annotations

import csv
import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segkit.config_sources import ReadOptions
from segkit.data.lookups import join_lookups_frame, read_lookups
from segkit.data.stack import stack_tables
from segkit.exceptions import DataError, InputFileError, SchemaError
from segkit.fileinfo import is_glob, source_files

if TYPE_CHECKING:
    from segkit.config import Config

__all__ = [
    "ReadResult",
    "read_table",
    "read_tables",
    "source_files",
    "to_canonical",
    "load_transactions",
    "load_customers",
    "normalise_ids",
    "order_ids",
    "ORDER_ID_NOTE",
]

logger = logging.getLogger(__name__)

_TEXT_ROLES = (
    "order_id",
    "product_id",
    "description",
    "country",
    "category",
    "channel",
)
_NUMERIC_ROLES = ("quantity", "unit_price", "amount")
#: The read note of a transactions table without an order id (read_notes.json).
ORDER_ID_NOTE = (
    "The data have no order id (transactions.columns.order_id is not mapped): each "
    "customer's lines on one timestamp form one order, with the order id "
    "'<customer_id>|<timestamp>'."
)
_SNIFF_SEPARATORS = (",", "\t", ";", "|")
_FALLBACK_ENCODINGS = ("cp1252", "latin-1")


@dataclass
class ReadResult:
    """A table as read from disk plus what reading had to decide.

    Attributes
    ----------
    raw : DataFrame
        The file's rows and columns, untouched apart from parsing.
    frame : DataFrame
        The canonical frame (role names, coerced types).
    notes : list of str
        Decisions a reviewer should know about (encoding fallback, sniffed separator).
    """

    raw: pd.DataFrame
    frame: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def _display(path: Path) -> str:
    return str(path)


def _sniff_separator(path: Path, encoding: str) -> str:
    """Guess the separator from the first lines: comma, tab, semicolon, pipe or spaces."""
    try:
        import gzip
        import zipfile

        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding=encoding, errors="replace") as fh:
                sample = "".join(fh.readline() for _ in range(20))
        elif path.suffix == ".zip":
            with zipfile.ZipFile(path) as zf:
                names = [n for n in zf.namelist() if not n.endswith("/")]
                with zf.open(names[0]) as fh:
                    sample = fh.read(20_000).decode(encoding, errors="replace")
        else:
            with path.open(encoding=encoding, errors="replace") as fh:
                sample = "".join(fh.readline() for _ in range(20))
    except (OSError, IndexError, EOFError) as exc:
        raise InputFileError(f"cannot read {_display(path)}: {exc}") from None
    if not sample.strip():
        raise InputFileError(
            f"file {_display(path)} is empty; point the config at a file with a header "
            "row and data rows"
        )
    try:
        return (
            csv.Sniffer().sniff(sample, delimiters="".join(_SNIFF_SEPARATORS)).delimiter
        )
    except csv.Error:
        first = sample.splitlines()[0]
        if any(sep in first for sep in _SNIFF_SEPARATORS):
            return max(_SNIFF_SEPARATORS, key=first.count)
        return r"\s+"


def _read_csv(
    path: Path,
    *,
    sep: str | None,
    encoding: str,
    decimal: str,
    dtype: dict,
    nrows: int | None = None,
):
    notes: list[str] = []
    if sep is None:
        sep = _sniff_separator(path, encoding)
        notes.append(f"separator sniffed as {sep!r}")
    elif sep in ("whitespace", " ", r"\s+"):
        sep = r"\s+"
    # utf-8-sig reads plain UTF-8 too and strips a byte-order mark from the header.
    encodings = [
        "utf-8-sig" if encoding.lower().replace("_", "-") == "utf-8" else encoding
    ]
    encodings += [e for e in _FALLBACK_ENCODINGS if e not in encodings]
    for attempt, enc in enumerate(encodings):
        try:
            frame = pd.read_csv(
                path,
                sep=sep,
                encoding=enc,
                decimal=decimal,
                dtype=dtype,
                nrows=nrows,
                engine="python" if sep == r"\s+" else "c",
                skipinitialspace=sep != r"\s+",
            )
        except UnicodeDecodeError:
            continue
        except pd.errors.EmptyDataError:
            raise InputFileError(
                f"file {_display(path)} is empty; point the config at a file with a "
                "header row and data rows"
            ) from None
        except pd.errors.ParserError as exc:
            raise InputFileError(
                f"cannot parse {_display(path)} with separator {sep!r}: "
                f"{str(exc).splitlines()[0]}; set read.sep in the config to the file's "
                "separator (',', ';', '\\t', '|' or 'whitespace')"
            ) from None
        if attempt:
            notes.append(
                f"file is not {encoding}; read as {enc}. Set read.encoding: {enc} in the "
                "config to silence this note"
            )
            logger.warning("%s is not %s; read as %s", path, encoding, enc)
        return frame, notes, sep
    raise InputFileError(
        f"cannot decode {_display(path)} as {encoding} or {', '.join(_FALLBACK_ENCODINGS)}; "
        "set read.encoding in the config to the file's encoding"
    )


def read_table(
    path: str | Path,
    *,
    read: ReadOptions | Mapping[str, Any] | None = None,
    text_columns: list[str] | tuple[str, ...] = (),
    nrows: int | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Read a CSV (any separator; .gz/.zip), Parquet or Excel file as it is.

    A glob or a folder is read by :func:`read_tables` (its files concatenated in
    file-name order).

    Parameters
    ----------
    path : str or Path
        The file, a folder of CSV/Parquet files or a glob (``days/*.csv.gz``).
    read : ReadOptions or mapping, optional
        Read options from the config: ``sep``, ``encoding``, ``sheet``, ``decimal``.
    text_columns : sequence of str
        Columns read as text (ids), so ``00123`` keeps its zeros.
    nrows : int, optional
        Read only the first ``nrows`` data rows (a sample, e.g. for ``segkit init``).

    Returns
    -------
    (DataFrame, list of str)
        The table and notes on what reading decided.
    """
    if is_glob(path) or Path(path).is_dir():
        files = source_files(path)
        return read_tables(files, read=read, text_columns=text_columns, nrows=nrows)
    path = Path(path)
    read = ReadOptions.of(read)
    if not path.exists():
        raise InputFileError(
            f"data file {_display(path)} not found; check the path in the config "
            "(relative paths start at the project root) or pass --set <table>.path=FILE"
        )
    if path.is_dir():
        raise InputFileError(
            f"{_display(path)} is a folder; point the config at a file"
        )
    if path.stat().st_size == 0:
        raise InputFileError(
            f"file {_display(path)} is empty (0 bytes); point the config at a file with "
            "a header row and data rows"
        )
    suffixes = [s.lower() for s in path.suffixes]
    dtype = dict.fromkeys(text_columns, "str")
    notes: list[str] = []
    if ".parquet" in suffixes or ".pq" in suffixes:
        if nrows is None:
            frame = pd.read_parquet(path)
        else:  # a sample: the first row batches only, never the whole file
            import pyarrow as pa
            import pyarrow.parquet as pq

            parquet, batches, rows = pq.ParquetFile(path), [], 0
            for batch in parquet.iter_batches(batch_size=nrows):
                batches.append(batch)
                rows += batch.num_rows
                if rows >= nrows:
                    break
            table = pa.Table.from_batches(batches, schema=parquet.schema_arrow)
            frame = table.slice(0, nrows).to_pandas()
        for col in text_columns:
            if col in frame.columns:
                frame[col] = frame[col].astype("str").where(frame[col].notna())
    elif suffixes and suffixes[-1] in (".xlsx", ".xlsm", ".xls"):
        sheet = read.sheet
        try:
            frame = pd.read_excel(
                path,
                sheet_name=0 if sheet is None else sheet,
                dtype=dtype,
                nrows=nrows,
            )
        except ValueError as exc:
            raise InputFileError(
                f"cannot read sheet {sheet!r} of {_display(path)}: {exc}; set read.sheet "
                "to an existing sheet name or index"
            ) from None
    else:
        frame, notes, sep = _read_csv(
            path,
            sep=read.sep,
            encoding=read.encoding,
            decimal=read.decimal,
            dtype=dtype,
            nrows=nrows,
        )
        if frame.shape[1] == 1 and len(text_columns) > 1:
            header = str(frame.columns[0])
            guess = next((s for s in _SNIFF_SEPARATORS if s in header), None)
            fix = (
                f"set read.sep: {guess!r}" if guess else "set read.sep to its separator"
            )
            raise SchemaError(
                f"file {_display(path)} was read with separator {sep!r} into one column "
                f"{header[:80]!r}; the separator is probably wrong: {fix} in the config"
            )
    frame.columns = [str(c).strip().lstrip("\ufeff") for c in frame.columns]
    if frame.empty:
        raise InputFileError(
            f"file {_display(path)} has a header but no data rows; point the config at "
            "a file with data"
        )
    return frame, notes


def read_tables(
    paths: list[str | Path] | tuple[str | Path, ...],
    *,
    read: ReadOptions | Mapping[str, Any] | None = None,
    text_columns: list[str] | tuple[str, ...] = (),
    nrows: int | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Read several files of one table with :func:`read_table` and stack them in
    the order given; see :func:`segkit.data.stack.stack_tables` (same columns in
    every file, else a SchemaError naming the first file that differs)."""
    return stack_tables(
        paths, reader=read_table, nrows=nrows, read=read, text_columns=text_columns
    )


def normalise_ids(values: pd.Series) -> pd.Series:
    """Customer ids as clean strings: ``17850.0`` -> ``17850``, blanks -> missing."""
    text = values.astype("str").str.strip()
    text = text.where(values.notna() & (text != "") & (text.str.lower() != "nan"))
    return text.str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True)


def order_ids(transactions: pd.DataFrame) -> pd.Series:
    """The order id of each line: ``order_id`` if present, else one per customer and time.

    Parameters
    ----------
    transactions : DataFrame
        Canonical transactions with ``customer_id`` and ``timestamp`` (and
        optionally ``order_id``).

    Returns
    -------
    Series
        The ``order_id`` column when the frame has one; otherwise
        ``<customer_id>|<timestamp ISO 8601>`` (seconds; microseconds when any
        timestamp has them), so each customer's lines on one timestamp form one
        order. A line without customer id gets ``|<timestamp>``. Same index as the
        input, name ``order_id``; the input is not modified.
    """
    if "order_id" in transactions.columns:
        return transactions["order_id"].rename("order_id")
    stamps = transactions["timestamp"]
    fine = bool((stamps.dt.microsecond.fillna(0) != 0).any())
    text = stamps.dt.strftime("%Y-%m-%dT%H:%M:%S.%f" if fine else "%Y-%m-%dT%H:%M:%S")
    ids = transactions["customer_id"].astype("object").fillna("").astype("str")
    return (ids + "|" + text.fillna("")).astype("str").rename("order_id")


def _check_columns(raw: pd.DataFrame, columns: dict[str, str], path: Path, table: str):
    missing = {role: col for role, col in columns.items() if col not in raw.columns}
    if missing:
        role, col = next(iter(missing.items()))
        raise SchemaError(
            f"column {col!r} (role {role}) not found in {table} file {_display(path)} "
            f"(columns: {list(raw.columns)}); set {table}.columns.{role} in the config "
            "to the column that holds it"
        )


def _parse_timestamps(
    values: pd.Series, *, date_format: str | None, dayfirst: bool, where: str
):
    text = values.astype("str").str.strip().where(values.notna())
    if date_format:
        if pd.api.types.is_float_dtype(values):
            text = values.astype("Int64").astype("str").where(values.notna())
        parsed = pd.to_datetime(text, format=date_format, errors="coerce")
    else:
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
        if parsed.notna().sum() < text.notna().sum():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                parsed = pd.to_datetime(
                    text, format="mixed", dayfirst=dayfirst, errors="coerce"
                )
    bad = text.notna() & parsed.isna()
    if bad.any():
        examples = list(dict.fromkeys(text[bad].head(50)))[:3]
        raise SchemaError(
            f"{where}: {int(bad.sum()):,} values are not dates, e.g. {examples}; set "
            "read.date_format in the config (e.g. '%d-%m-%Y' or '%Y%m%d') to the "
            "format the file uses"
        )
    return parsed.astype("datetime64[ns]")


def _parse_numbers(values: pd.Series, *, where: str) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    text = values.astype("str").str.strip().where(values.notna())
    parsed = pd.to_numeric(text, errors="coerce")
    bad = text.notna() & parsed.isna()
    if bad.any():
        examples = list(dict.fromkeys(text[bad].head(50)))[:3]
        raise SchemaError(
            f"{where}: {int(bad.sum()):,} values are not numbers, e.g. {examples}; fix "
            "the file, or set read.decimal: ',' if it uses decimal commas"
        )
    return parsed.astype("float64")


def to_canonical(
    raw: pd.DataFrame,
    columns: dict[str, str],
    *,
    read: ReadOptions | Mapping[str, Any] | None = None,
    source: str = "transactions",
) -> pd.DataFrame:
    """Map a raw transactions table to the canonical columns and types.

    Parameters
    ----------
    raw : DataFrame
        The table as read.
    columns : dict
        Role -> column in ``raw`` (``transactions.columns`` of the config).
    read : ReadOptions or mapping, optional
        Read options (``date_format``, ``dayfirst``).
    source : str
        The file name, used in error messages.

    Returns
    -------
    DataFrame
        Columns ``customer_id`` (str), ``order_id`` (str; only when the role is
        mapped, see :func:`order_ids`), ``timestamp`` (datetime64[ns]),
        ``quantity``, ``unit_price``, ``amount`` (float64) and any mapped text
        roles. The input is not modified.
    """
    read = ReadOptions.of(read)
    _check_columns(raw, columns, Path(source), "transactions")
    out = pd.DataFrame(index=raw.index)
    out["customer_id"] = normalise_ids(raw[columns["customer_id"]])
    if "order_id" in columns:
        out["order_id"] = raw[columns["order_id"]].astype("str").str.strip()
    out["timestamp"] = _parse_timestamps(
        raw[columns["timestamp"]],
        date_format=read.date_format,
        dayfirst=read.dayfirst,
        where=f"column {columns['timestamp']!r} (role timestamp) of {source}",
    )
    for role in _NUMERIC_ROLES:
        if role in columns:
            out[role] = _parse_numbers(
                raw[columns[role]],
                where=f"column {columns[role]!r} (role {role}) of {source}",
            )
        else:
            out[role] = np.nan
    if "amount" not in columns:
        out["amount"] = out["quantity"] * out["unit_price"]
    for role in _TEXT_ROLES[1:]:
        if role in columns:
            col = raw[columns[role]]
            out[role] = col.astype("str").str.strip().where(col.notna())
    if out["customer_id"].isna().all():
        raise DataError(
            f"every row of {source} lacks a customer id (column "
            f"{columns['customer_id']!r}); map transactions.columns.customer_id to the "
            "column that identifies customers"
        )
    return out


def _extra_columns(raw: pd.DataFrame, extra: list[str], source: str) -> pd.DataFrame:
    """``transactions.extra`` columns as float64 ``x_<column>`` (features.extra)."""
    missing = [c for c in extra if c not in raw.columns]
    if missing:
        raise SchemaError(
            f"column(s) {missing} of transactions.extra not found in {source} "
            f"(columns: {list(raw.columns)}); fix the names in the config"
        )
    return pd.DataFrame(
        {
            f"x_{col}": _parse_numbers(
                raw[col], where=f"column {col!r} (transactions.extra) of {source}"
            )
            for col in extra
        },
        index=raw.index,
    )


def load_transactions(config: Config) -> ReadResult:
    """Read the config's transactions file and return raw + canonical frames.

    ``transactions.path`` may be a file, a folder or a glob (:func:`read_tables`);
    ``transactions.extra`` columns are carried as float64 ``x_<column>``; the
    ``transactions.lookups`` tables are joined by key
    (:func:`segkit.data.lookups.join_lookups_frame`; their coverage in the notes).
    """
    section = config["transactions"]
    if section is None:
        raise DataError(
            f"config {config['name']!r} has no transactions section; this data set "
            "is attribute-only"
        )
    path = Path(section.path)
    columns = dict(section.columns)
    text_cols = [
        columns[r] for r in ("customer_id", "order_id", "product_id") if r in columns
    ]
    text_cols += [lk.key for lk in section.lookups if lk.key not in columns]
    raw, notes = read_table(path, read=section.read, text_columns=text_cols)
    frame = to_canonical(raw, columns, read=section.read, source=path.name)
    if section.extra:
        frame = frame.join(_extra_columns(raw, list(section.extra), path.name))
    if section.lookups:
        where = Path(config.config_path).parent if config.config_path else None
        tables = read_lookups(
            section, config_dir=where, root=Path(config.root), reader=read_table
        )
        frame, lookup_notes = join_lookups_frame(frame, tables, raw=raw)
        notes += lookup_notes
    if "order_id" not in columns:
        notes.append(ORDER_ID_NOTE)
    return ReadResult(raw=raw, frame=frame, notes=notes)


def load_customers(config: Config) -> ReadResult:
    """Read the config's customers table; ``frame`` is indexed by ``customer_id``.

    Declared attribute, outcome, birth-year and signup-date columns must exist. A
    ``signup_date`` column is parsed as dates (``read.date_format`` applies).
    """
    section = config["customers"]
    if section is None:
        raise DataError(f"config {config['name']!r} has no customers section")
    path = Path(section.path)
    id_col = section.columns["customer_id"]
    raw, notes = read_table(path, read=section.read, text_columns=[id_col])
    declared = {"customer_id": id_col}
    for group, cols in section.attributes.items():
        for col in cols:
            declared[f"attributes.{group}"] = col
            if col not in raw.columns:
                raise SchemaError(
                    f"column {col!r} declared in customers.attributes.{group} not found "
                    f"in {path.name} (columns: {list(raw.columns)}); fix the name or "
                    "remove it from the config"
                )
    for key in ("birth_year", "signup_date"):
        if section[key]:
            declared[key] = section[key]
    for col in section.outcomes:
        declared["outcomes"] = col
    _check_columns(raw, declared, path, "customers")
    frame = raw.copy()
    ids = normalise_ids(frame[id_col])
    if ids.isna().all():
        raise DataError(
            f"every row of {path.name} lacks a customer id (column {id_col!r}); set "
            "customers.columns.customer_id to the id column"
        )
    dupes = ids[ids.duplicated(keep=False) & ids.notna()]
    if len(dupes):
        raise SchemaError(
            f"customers file {path.name}: column {id_col!r} has {dupes.nunique():,} "
            f"duplicated ids, e.g. {list(dupes.unique()[:3])}; a customers table needs "
            "one row per customer: deduplicate the file or aggregate it first"
        )
    missing_ids = int(ids.isna().sum())
    if missing_ids:
        notes.append(f"{missing_ids:,} rows without a customer id were dropped")
    frame = frame.assign(customer_id=ids).dropna(subset=["customer_id"])
    frame = frame.drop(columns=[id_col]) if id_col != "customer_id" else frame
    frame = frame.set_index("customer_id")
    if section.signup_date:
        col = section.signup_date
        frame[col] = _parse_timestamps(
            frame[col],
            date_format=section.read.date_format,
            dayfirst=section.read.dayfirst,
            where=f"column {col!r} (customers.signup_date) of {path.name}",
        )
    return ReadResult(raw=raw, frame=frame, notes=notes)
