"""Assign every customer to a segment on the engine, out of core.

The compare step fits its model on a stratified sample (``clustering.fit_sample``);
:func:`assign_all` then puts **every** customer of a features table through the
fitted :class:`~segkit.clustering.model.SegmentationModel` without holding them
all in memory, and writes ``customer_id, segment_id`` as one Parquet file:

- DuckDB (default): the features are streamed as Arrow record batches of
  ``batch_rows`` customers (a DuckDB relation's ``to_arrow_reader``); each batch is
  predicted in pandas and appended to a ``pyarrow.parquet.ParquetWriter``, so
  memory holds one batch at a time.
- Spark: the Ibis table's Spark DataFrame runs the model in ``mapInPandas`` (the
  fitted model travels to the executors inside the function, so any model
  works, HDBSCAN included); Spark writes its part files into a folder next to
  ``out_path``, which are then merged into the one file, batch by batch.

The result equals ``model.predict`` on the whole frame (row order aside: read it
by ``customer_id``). Only the columns the model was fitted on are read.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from segkit.exceptions import ModelError, SchemaError

__all__ = ["ASSIGNMENT_SCHEMA", "assign_all", "model_columns"]

logger = logging.getLogger(__name__)

#: Columns and types of the assignments file.
ASSIGNMENT_SCHEMA = pa.schema(
    [("customer_id", pa.string()), ("segment_id", pa.int64())]
)
_SPARK_SCHEMA = "customer_id string, segment_id long"


def model_columns(model: Any) -> list[str]:
    """The input columns a fitted model reads (``feature_names_in_``).

    Raises
    ------
    ModelError
        The model is not fitted, or was fitted on an array (no column names).
    """
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        raise ModelError(
            f"{type(model).__name__} has no feature_names_in_: assign_all needs a "
            "model fitted on a features frame (columns by name), e.g. the compare "
            "step's model.joblib"
        )
    return [str(c) for c in names]


def _connect(backend: str | Any) -> Any:
    if not isinstance(backend, str):
        return backend
    from segkit.features.behaviour import connect

    return connect("pyspark" if backend == "spark" else backend)


def _backend_of(features: Any, backend: str | Any) -> Any:
    """The table's own backend (a memtable: Ibis' default); for a path, ``backend``."""
    if isinstance(features, ir.Table):
        return features.get_backend()
    return _connect(backend)


def _is_spark(con: Any) -> bool:
    return getattr(con, "name", "") == "pyspark"


def _features_table(features: Any, con: Any, columns: list[str]) -> ir.Table:
    if isinstance(features, ir.Table):
        table = features
    elif isinstance(features, str | Path):
        path = Path(features)
        if not path.exists():
            raise SchemaError(
                f"features file {str(path)!r} does not exist; run the features step "
                "first (artifacts/features.parquet) or pass an Ibis table"
            )
        table = con.read_parquet(str(path))
    else:
        raise SchemaError(
            f"features is a {type(features).__name__}; pass the Parquet path of "
            "features.parquet or an Ibis table with a customer_id column (a pandas "
            "frame fits in memory: call model.predict on it)"
        )
    wanted = ["customer_id", *columns]
    missing = [c for c in wanted if c not in table.columns]
    if missing:
        raise SchemaError(
            f"features lack the column(s) {missing} (columns: {list(table.columns)}); "
            "the model reads customer_id and the columns it was fitted on: build "
            "the features with the same config (the features step)"
        )
    return table.select(*wanted)


def _predict_frame(model: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """``customer_id, segment_id`` of one batch (customer ids as strings)."""
    frame = frame.set_index("customer_id")
    frame.index = frame.index.astype("str")
    labels = model.predict(frame)
    return pd.DataFrame(
        {
            "customer_id": labels.index.astype("str"),
            "segment_id": labels.to_numpy(dtype="int64"),
        }
    )


def _as_batch(frame: pd.DataFrame) -> pa.RecordBatch:
    return pa.RecordBatch.from_pandas(
        frame, schema=ASSIGNMENT_SCHEMA, preserve_index=False
    )


def _write_batches(batches: Iterator[pa.RecordBatch], out_path: Path) -> Counter:
    """Stream record batches into one Parquet file; the segment counts."""
    counts: Counter = Counter()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(out_path.name + ".partial")
    try:
        with pq.ParquetWriter(partial, ASSIGNMENT_SCHEMA) as writer:
            for batch in batches:
                if batch.num_rows == 0:
                    continue
                writer.write_batch(batch)
                values, sizes = pc.value_counts(batch["segment_id"]).flatten()
                counts.update(
                    dict(zip(values.to_pylist(), sizes.to_pylist(), strict=True))
                )
    except BaseException:
        partial.unlink(missing_ok=True)  # a failed run leaves no half file behind
        raise
    partial.replace(out_path)
    return counts


def _duckdb_reader(con: Any, table: ir.Table, batch_rows: int) -> pa.RecordBatchReader:
    """A streaming reader of ``table``'s rows, ``batch_rows`` at a time."""
    # Ibis 12's DuckDB Table.to_pyarrow_batches calls the cursor's
    # fetch_record_batch, which DuckDB 2 removed (AttributeError on the first
    # batch); a DuckDB relation of the same SQL streams the batches instead.
    con._run_pre_execute_hooks(table)  # registers memtables, as Ibis' execute does
    return con.con.sql(str(con.compile(table))).to_arrow_reader(batch_rows)


def _duckdb_batches(
    model: Any, con: Any, table: ir.Table, batch_rows: int
) -> Iterator[pa.RecordBatch]:
    for batch in _duckdb_reader(con, table, batch_rows):
        if batch.num_rows:
            yield _as_batch(_predict_frame(model, batch.to_pandas()))


def _spark_assign(model: Any, con: Any, table: ir.Table, out_path: Path) -> Counter:
    # Ibis 12 has no public "Spark DataFrame of this table"; the backend's session
    # runs the table's compiled SQL (what Backend.to_parquet does itself).
    frame = con._session.sql(con.compile(table))

    def predict(parts: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for part in parts:
            if len(part):
                yield _predict_frame(model, part)

    parts_dir = out_path.with_name(out_path.name + ".parts")
    shutil.rmtree(parts_dir, ignore_errors=True)
    frame.mapInPandas(predict, _SPARK_SCHEMA).write.mode("overwrite").parquet(
        str(parts_dir)
    )
    # One file, as on DuckDB: the part files are merged batch by batch rather than
    # coalesce(1), which would run the whole prediction in a single Spark task.
    files = sorted(parts_dir.glob("*.parquet"))

    def batches() -> Iterator[pa.RecordBatch]:
        for file in files:
            for batch in pq.ParquetFile(file).iter_batches():
                yield batch.cast(ASSIGNMENT_SCHEMA)

    try:
        return _write_batches(batches(), out_path)
    finally:
        shutil.rmtree(parts_dir, ignore_errors=True)


def assign_all(
    model: Any,
    features: str | Path | ir.Table,
    out_path: str | Path,
    *,
    backend: str | Any = "duckdb",
    batch_rows: int = 250_000,
) -> dict[str, Any]:
    """Assign every customer of ``features`` with a fitted model; write Parquet.

    Parameters
    ----------
    model : SegmentationModel
        Fitted on a features frame (:meth:`~SegmentationModel.predict` is used,
        so preprocessing, representation and clusterer are the fitted ones).
    features : str, Path or Ibis table
        ``features.parquet`` as the features step writes it (index column
        ``customer_id``), or an Ibis table with ``customer_id`` and the model's
        columns (on the backend it belongs to).
    out_path : str or Path
        The Parquet file written: ``customer_id`` (string), ``segment_id``
        (int64; -1 = HDBSCAN noise), one row per customer.
    backend : {"duckdb", "spark"} or an Ibis backend
        Where the features are read (a path) and the model applied: DuckDB
        streams record batches through the model; Spark runs it in
        ``mapInPandas``. An Ibis table brings its own backend.
    batch_rows : int
        Customers per batch on DuckDB (memory holds one batch).

    Returns
    -------
    dict
        ``rows`` (customers assigned), ``segments`` (segment id -> customers),
        ``seconds``, ``engine`` ("duckdb" or "pyspark"), ``path``.

    Raises
    ------
    ModelError
        The model has no input column names.
    SchemaError
        The features are missing, of an unsupported type, or lack a column.
    """
    if int(batch_rows) < 1:
        raise ModelError(
            f"batch_rows={batch_rows} must be a positive number of customers per batch"
        )
    start = time.perf_counter()
    columns = model_columns(model)
    con = _backend_of(features, backend)
    table = _features_table(features, con, columns)
    out_path = Path(out_path)
    if _is_spark(con):
        counts = _spark_assign(model, con, table, out_path)
    else:
        counts = _write_batches(
            _duckdb_batches(model, con, table, int(batch_rows)), out_path
        )
    segments = {int(k): int(v) for k, v in sorted(counts.items())}
    result = {
        "rows": int(sum(segments.values())),
        "segments": segments,
        "seconds": round(time.perf_counter() - start, 2),
        "engine": "pyspark" if _is_spark(con) else getattr(con, "name", "duckdb"),
        "path": str(out_path),
    }
    logger.info(
        "assigned %d customers to %d segments in %.1f s",
        result["rows"],
        len(segments),
        result["seconds"],
    )
    return result
