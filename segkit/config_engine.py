"""The ``engine`` section: where the data path runs.

``engine: duckdb`` (the default) reads, cleans, profiles and describes the order
lines with SQL through Ibis on an embedded DuckDB, out of core over CSV and Parquet
files; ``engine: spark`` runs the same Ibis expressions on Spark (``spark.master``:
``local[*]`` on one machine, a cluster URL for real use); ``engine: pandas`` is the
in-memory path of round 1, kept as the baseline of ``benchmarks/scale.py``. Whatever
the engine, the artifacts, notebooks and reports are the same.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from segkit.config_base import Int, Section

__all__ = ["ENGINES", "EngineSettings", "SparkSettings"]

#: Engines of the data path (``engine.kind``).
ENGINES = ("duckdb", "spark", "pandas")


class SparkSettings(Section):
    """``engine.spark``: the Spark session the data path attaches to."""

    master: str = Field(
        "local[*]",
        description="Spark master: local[*] on this machine, or a cluster URL",
    )
    app_name: str = Field("segkit", description="Spark application name")
    options: dict[str, str] = Field(
        default_factory=dict,
        description="extra Spark settings, e.g. {spark.executor.memory: 8g}",
    )


def _kind_only(value: Any) -> Any:
    """``engine: spark`` is short for ``engine: {kind: spark}``."""
    return {"kind": value} if isinstance(value, str) else value


class EngineSettings(Section):
    """``engine``: the engine of reading, cleaning, quality counts and features."""

    kind: Literal["duckdb", "spark", "pandas"] = Field(
        "duckdb",
        description="duckdb (embedded, out of core), spark, or pandas (in memory)",
    )
    threads: Int = Field(
        1,
        ge=0,
        description="DuckDB threads; 0: every core (sums then add in a varying "
        "order, so reruns can differ in the last digits)",
    )
    memory_limit: str | None = Field(
        None, description="DuckDB memory limit, e.g. '6GB'; null: DuckDB's default"
    )
    temp_directory: str | None = Field(
        None, description="where DuckDB spills to disk; null: DuckDB's default"
    )
    spark: SparkSettings = Field(default_factory=SparkSettings)


EngineField = Annotated[EngineSettings, BeforeValidator(_kind_only)]
