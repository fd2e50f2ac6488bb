"""The engine of the data path: connect, scan order-line files, map them to canonical columns.

``engine.kind`` (:mod:`segkit.config_engine`) picks where the order lines live while
they are read, cleaned and counted: an embedded DuckDB (default; out of core over CSV
and Parquet, so a file larger than memory is scanned, never loaded) or Spark. Both are
reached through Ibis, so the expressions here and in :mod:`segkit.data.clean_sql` are
written once. pandas only ever sees samples and per-customer tables.

:func:`scan` reads the transactions source as it is, every CSV column as text (as
pandas would with ``dtype=str``; the roles are typed by :func:`canonical`), Parquet
columns with their own types. A source the engine cannot read in SQL -- Excel, a
whitespace-separated file, an encoding DuckDB has no reader for -- is read by
:func:`segkit.data.io.read_table` into memory and handed to the engine as a table
(:func:`scan` says so in its notes): small files are what those formats hold.

:func:`~segkit.data.canonical.canonical` (re-exported here) is
:func:`segkit.data.io.to_canonical` as an Ibis expression, with
the same rules (``17850.0`` -> ``17850``, blanks -> missing, text stripped,
``amount = quantity x unit_price`` when no amount is mapped) and the same errors
(values that are not dates or not numbers, counted on the engine, with examples).
Dates are ISO 8601 or ``read.date_format``; pandas' guessing of mixed formats has no
SQL counterpart, so a source whose dates need it is read by pandas when it is small
(:data:`PANDAS_FALLBACK_BYTES`) and refused with the fix otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from segkit.config_engine import EngineSettings
from segkit.config_sources import ReadOptions
from segkit.data.canonical import canonical, check_parsed, unparsed_dates
from segkit.exceptions import DataError, InputFileError, SchemaError
from segkit.fileinfo import source_files

__all__ = [
    "PANDAS_FALLBACK_BYTES",
    "NULL_TEXT",
    "Scan",
    "connect_engine",
    "engine_settings",
    "scan",
    "canonical",
    "check_parsed",
    "unparsed_dates",
    "engine_kind",
    "to_engine",
    "stage_raw",
    "write_parquet",
    "read_artifact",
    "source_label",
]

logger = logging.getLogger(__name__)

#: Sources below this size whose dates need pandas' guessing are read by pandas.
PANDAS_FALLBACK_BYTES = 256 * 1024**2
#: Text read as missing, as pandas' ``read_csv`` does by default.
NULL_TEXT = (
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
)
_PARQUET_SUFFIXES = (".parquet", ".pq")
_DUCKDB_ENCODINGS = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "latin-1": "latin-1",
    "latin1": "latin-1",
    "iso-8859-1": "latin-1",
    "utf-16": "utf-16",
}


def engine_settings(config: Any) -> EngineSettings:
    """The ``engine`` section of a config (or of a plain mapping, with defaults)."""
    if isinstance(config, EngineSettings):
        return config
    section = config.get("engine") if isinstance(config, Mapping) else None
    if section is None:
        section = getattr(config, "engine", None)
    if isinstance(section, str):
        section = {"kind": section}
    return EngineSettings.of(section or {})


def engine_kind(config: Any) -> str:
    """``duckdb``, ``spark`` or ``pandas``: the config's engine."""
    return engine_settings(config).kind


def connect_engine(config: Any) -> Any:
    """An Ibis connection for the config's engine.

    DuckDB gets ``engine.threads`` (1 by default: sums in one order, so reruns are
    identical to the last digit), ``memory_limit`` and ``temp_directory`` (where it
    spills). Spark attaches to the active session or starts one at ``spark.master``
    with the session time zone UTC (timestamps are naive; UTC keeps them
    unshifted) and ``spark.options``.
    """
    settings = engine_settings(config)
    if settings.kind == "spark":
        try:
            from pyspark.sql import SparkSession
        except ImportError:  # pragma: no cover - pyspark is a dependency
            raise DataError(
                "engine.kind is 'spark' but pyspark is not installed; install it "
                "(pip install pyspark) or set engine: duckdb"
            ) from None
        import os
        import sys

        # Workers run this interpreter (mapInPandas needs segkit and the same Python).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = (
            SparkSession.builder.master(settings.spark.master)
            .appName(settings.spark.app_name)
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            # 200 shuffle partitions (Spark's default) are for clusters; override
            # in engine.spark.options.
            .config("spark.sql.shuffle.partitions", "8")
            # Microsecond timestamps, not INT96, so Arrow and DuckDB read them.
            .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        )
        for key, value in settings.spark.options.items():
            builder = builder.config(key, value)
        return ibis.pyspark.connect(builder.getOrCreate())
    options: dict[str, Any] = {"threads": settings.threads or _cores()}
    if settings.memory_limit:
        options["memory_limit"] = settings.memory_limit
    if settings.temp_directory:
        Path(settings.temp_directory).mkdir(parents=True, exist_ok=True)
        options["temp_directory"] = settings.temp_directory
    con = ibis.duckdb.connect(**options)
    # Insertion order is what makes one-thread runs byte-identical; at scale with
    # several threads it only costs memory.
    con.raw_sql(f"SET preserve_insertion_order = {str(settings.threads == 1).lower()}")
    try:  # a progress bar would be noise in a script's output
        con.raw_sql("SET enable_progress_bar = false")
    except Exception:  # DuckDB refuses the setting inside Jupyter
        pass
    return con


def _cores() -> int:
    import os

    return max(len(os.sched_getaffinity(0)), 1)


def source_label(files: list[Path]) -> str:
    """How the summary names a source: the file, or the count and the first file."""
    if len(files) == 1:
        return files[0].name
    return f"{len(files)} files ({files[0].name}, ...)"


def _kind_of(files: list[Path]) -> str:
    kinds = set()
    for file in files:
        suffixes = [s.lower() for s in file.suffixes]
        if any(s in _PARQUET_SUFFIXES for s in suffixes):
            kinds.add("parquet")
        elif suffixes and suffixes[-1] in (".xlsx", ".xlsm", ".xls"):
            kinds.add("excel")
        else:
            kinds.add("csv")
    if len(kinds) > 1:
        raise InputFileError(
            f"the transactions source mixes {sorted(kinds)} files ({files[0].name}, "
            "...); point transactions.path at files of one format"
        )
    return kinds.pop()


@dataclass
class Scan:
    """A scanned source: the raw table on the engine and how it was read."""

    table: ir.Table | None
    files: list[Path]
    format: str
    via_pandas: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        """Total size of the source files."""
        return sum(f.stat().st_size for f in self.files)


def _rename_clean(table: ir.Table) -> ir.Table:
    """Strip spaces and a byte-order mark from header names (as io.read_table does)."""
    renames = {
        str(c).strip().lstrip("\ufeff"): c
        for c in table.columns
        if str(c).strip().lstrip("\ufeff") != c
    }
    return table.rename(renames) if renames else table


def _pandas_scan(files: list[Path], reason: str) -> Scan:
    """A source for pandas to read (segkit.data.io.load_transactions), and why."""
    return Scan(
        table=None,
        files=files,
        format="pandas",
        via_pandas=True,
        notes=[f"Read into memory by pandas: {reason}."],
    )


def to_engine(con: Any, frame: pd.DataFrame) -> ir.Table:
    """A pandas frame as a table on the engine (DuckDB: a memtable; Spark: a view)."""
    frame = frame.copy()
    for column in frame.columns:  # pandas 3 'str' and object text -> plain object
        if pd.api.types.is_string_dtype(
            frame[column]
        ) and not pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = (
                frame[column].astype("object").where(frame[column].notna(), None)
            )
    if con.name == "pyspark":
        name = f"segkit_{abs(hash(tuple(frame.columns))) % 10**8}_{len(frame)}"
        return con.create_table(name, frame, temp=True, overwrite=True)
    return ibis.memtable(frame)


def scan(con: Any, source: Any, *, fallback_reason: str | None = None) -> Scan:
    """Scan the transactions source on the engine, as it is in the file(s).

    Parameters
    ----------
    con : Ibis backend
        From :func:`connect_engine`.
    source : TransactionsSource
        The config's ``transactions`` section (``path`` may be a glob or a folder).
    fallback_reason : str, optional
        Read by pandas for this reason (e.g. dates need pandas' guessing).

    Returns
    -------
    Scan
    """
    files = source_files(source.path)
    for file in files:
        if file.stat().st_size == 0:
            raise InputFileError(
                f"file {file} is empty (0 bytes); point the config at a file with a "
                "header row and data rows"
            )
    kind = _kind_of(files)
    read = ReadOptions.of(source.read)
    if fallback_reason:
        return _pandas_scan(files, fallback_reason)
    if kind == "excel":
        return _pandas_scan(files, "Excel workbooks have no SQL reader")
    if kind == "csv" and read.sep == r"\s+":
        return _pandas_scan(files, "a whitespace-separated file has no SQL reader")
    encoding = _DUCKDB_ENCODINGS.get(read.encoding.lower().replace("_", "-"))
    if kind == "csv" and encoding is None:
        return _pandas_scan(files, f"encoding {read.encoding!r} has no SQL reader")
    paths = [str(f) for f in files]
    if kind == "parquet":
        table = con.read_parquet(paths if len(paths) > 1 else paths[0])
    elif con.name == "pyspark":
        # Every column as text, as on DuckDB: inferring would turn 00123 into 123.
        options: dict[str, Any] = {
            "header": True,
            "encoding": read.encoding,
            "inferSchema": False,
            "escape": '"',  # RFC 4180 "" inside quotes; Spark's default is \
        }
        if read.sep:
            options["sep"] = read.sep
        table = con.read_csv(paths, **options)
    else:
        options = {
            "all_varchar": True,
            "header": True,
            "nullstr": list(NULL_TEXT),
            "encoding": encoding,
        }
        if read.sep:
            options["delim"] = read.sep
        table = con.read_csv(paths, **options)
    table = _rename_clean(table)
    notes: list[str] = []
    if kind == "csv" and not read.sep and con.name != "pyspark":
        notes.append(f"separator sniffed as {_sniffed(con, files[0])!r}")
    if len(table.columns) == 1 and len(source.columns) > 1:
        header = str(table.columns[0])
        raise SchemaError(
            f"file {files[0].name} was read into one column {header[:80]!r}; the "
            "separator is probably wrong: set transactions.read.sep in the config"
        )
    return Scan(table=table, files=files, format=kind, notes=notes)


def _sniffed(con: Any, path: Path) -> str:
    """The delimiter DuckDB's sniffer found (the note pandas' path writes too)."""
    quoted = str(path).replace("'", "''")
    row = con.raw_sql(f"SELECT Delimiter FROM sniff_csv('{quoted}')").fetchone()
    return str(row[0]) if row else ","


def stage_raw(con: Any, scanned: Scan, folder: Path) -> ir.Table:
    """A CSV source parsed once into Parquet, so later passes scan columns, not text.

    Parquet sources and tables read by pandas are returned as they are.
    """
    if scanned.format != "csv" or con.name == "pyspark":
        return scanned.table
    path = Path(folder) / "raw.parquet"
    con.to_parquet(scanned.table, path)
    return con.read_parquet(str(path))


def write_parquet(con: Any, table: ir.Table, path: Path) -> None:
    """Write a table to ONE Parquet file (the artifact contract), streaming.

    DuckDB copies it directly. Spark writes its part files into a folder beside
    ``path`` (executors write, nothing gathers in the driver), which are then
    merged batch by batch into the one file and removed. (Ibis' Spark
    ``to_pyarrow_batches`` collects the whole table first, so it is not used.)
    """
    path = Path(path)
    if con.name != "pyspark":
        con.to_parquet(table, path)
        return
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = path.with_name(path.name + ".parts")
    shutil.rmtree(parts, ignore_errors=True)
    frame = con._session.sql(str(con.compile(table)))  # Ibis has no public handle
    frame.write.mode("overwrite").parquet(str(parts))
    files = sorted(parts.glob("part-*.parquet"))
    try:
        if not files:  # no rows: an empty file with the table's columns
            con.to_pyarrow(table.limit(0)).to_pandas().to_parquet(path)
            return
        source = pq.read_schema(files[0])
        schema = _naive_schema(source)
        with pq.ParquetWriter(path, schema) as writer:
            for file in files:
                for batch in pq.ParquetFile(file).iter_batches(batch_size=250_000):
                    writer.write_table(pa.Table.from_batches([batch]).cast(schema))
    finally:
        shutil.rmtree(parts, ignore_errors=True)


def _naive_schema(schema: Any) -> Any:
    """Spark's UTC-adjusted timestamps as the naive microsecond ones DuckDB writes.

    The session time zone is UTC, so dropping the zone keeps every wall-clock time.
    """
    import pyarrow as pa

    fields = [
        pa.field(f.name, pa.timestamp("us"), f.nullable)
        if pa.types.is_timestamp(f.type)
        else f
        for f in schema
    ]
    return pa.schema(fields)


def read_artifact(path: str | Path, con: Any = None) -> ir.Table:
    """A Parquet artifact of the run folder as an Ibis table (one-thread DuckDB by default)."""
    con = ibis.duckdb.connect(threads=1) if con is None else con
    return con.read_parquet(str(path))
