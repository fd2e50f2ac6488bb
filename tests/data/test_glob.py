"""Transactions from a glob or a folder of daily files (issue 13, item 2)."""

from __future__ import annotations

import gzip
import hashlib

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from segkit.config import load_config
from segkit.context import open_run
from segkit.data.io import read_table, source_files
from segkit.exceptions import InputFileError, SchemaError
from segkit.fileinfo import file_sha256, files_sha256, source_record
from segkit.project import data_path_exists, missing_data_message
from segkit.reuse import data_checksums
from tests.conftest import TINY_COLUMNS, TINY_CSV, write_config

HEADER, *LINES = TINY_CSV.splitlines()


def _split_by_month(folder, *, gz=True):
    """Write the tiny fixture as one file per month (Jan..Apr), names sorted by day."""
    folder.mkdir(parents=True, exist_ok=True)
    months = sorted({line.split(",")[4][:7] for line in LINES})
    for month in months:
        rows = [line for line in LINES if line.split(",")[4].startswith(month)]
        text = "\n".join([HEADER, *rows]) + "\n"
        name = f"day-{month}.csv"
        if gz:
            with gzip.open(folder / f"{name}.gz", "wt", encoding="utf-8") as fh:
                fh.write(text)
        else:
            (folder / name).write_text(text, encoding="utf-8")
    return months


def _config(tmp_path, path, name, engine="pandas"):
    body = {
        "name": name,
        "transactions": {"path": path, "columns": TINY_COLUMNS},
        "as_of": "2021-04-02",
        "seed": 0,
        "engine": engine,
    }
    return write_config(tmp_path, body, name=f"{name}.yaml")


def test_source_files_lists_a_glob_and_a_folder_sorted_by_name(tmp_path):
    _split_by_month(tmp_path / "days")
    (tmp_path / "days" / "notes.md").write_text("not data", encoding="utf-8")
    by_glob = source_files(tmp_path / "days" / "*.csv.gz")
    by_folder = source_files(tmp_path / "days")
    assert [p.name for p in by_glob] == [
        "day-2021-01.csv.gz",
        "day-2021-02.csv.gz",
        "day-2021-03.csv.gz",
        "day-2021-04.csv.gz",
    ]
    assert by_folder == by_glob  # notes.md is not a data file


def test_a_glob_matching_nothing_names_the_pattern(tmp_path):
    with pytest.raises(
        InputFileError, match=r"pattern '.*\*\.parquet' matches no file"
    ):
        source_files(tmp_path / "*.parquet")
    with pytest.raises(InputFileError, match="holds no CSV or Parquet file"):
        source_files(tmp_path)
    message = missing_data_message("transactions.path", "days/*.csv", [tmp_path])
    assert "the pattern 'days/*.csv' matches no file" in message
    assert not data_path_exists(tmp_path / "*.csv")


def test_files_with_other_columns_name_the_first_that_differs(tmp_path):
    _split_by_month(tmp_path / "days", gz=False)
    odd = tmp_path / "days" / "day-2021-03.csv"
    odd.write_text(odd.read_text().replace("Country", "Land"), encoding="utf-8")
    with pytest.raises(SchemaError, match=r"day-2021-03\.csv has the columns .*'Land'"):
        read_table(tmp_path / "days")


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_glob_of_daily_files_gives_the_ledger_and_features_of_the_single_file(
    tmp_path, engine
):
    (tmp_path / "all.csv").write_text(TINY_CSV, encoding="utf-8")
    _split_by_month(tmp_path / "days")
    one = _config(tmp_path, "all.csv", "single", engine)
    many = _config(tmp_path, "days/*.csv.gz", "daily", engine)
    single = open_run(one, tmp_path / "one")
    daily = open_run(many, tmp_path / "many")
    for ctx in (single, daily):
        ctx.run_step("data")
        ctx.run_step("features")
    for name in ("ledger.csv", "transactions.parquet", "features.parquet"):
        assert_frame_equal(single.load_frame(name), daily.load_frame(name))
    if engine == "pandas":
        notes = daily.load_json("read_notes.json")["transactions"]
        assert notes[0].startswith("read 4 files in file-name order (day-2021-01.csv")


def test_files_sha256_is_one_digest_over_the_sorted_files(tmp_path):
    _split_by_month(tmp_path / "days", gz=False)
    files = source_files(tmp_path / "days")
    lines = "".join(f"{file_sha256(p)}  {p.name}\n" for p in files)
    assert files_sha256(reversed(files)) == hashlib.sha256(lines.encode()).hexdigest()
    assert files_sha256(files[:1]) == file_sha256(files[0])  # one file: its own
    record = source_record(str(tmp_path / "days" / "*.csv"))
    assert record["exists"] and record["files"] == [p.name for p in files]
    assert record["sha256"] == files_sha256(files)
    before = files_sha256(files)
    files[1].write_text(files[1].read_text() + LINES[0] + "\n", encoding="utf-8")
    assert files_sha256(files) != before


def test_config_resolves_a_glob_and_its_checksum_enters_the_fingerprint(tmp_path):
    _split_by_month(tmp_path / "days")
    config = load_config(_config(tmp_path, "days/*.csv.gz", "daily"))
    assert config.transactions.path == str(tmp_path / "days" / "*.csv.gz")
    sums = data_checksums(config)
    assert sums["transactions"] == files_sha256(source_files(config.transactions.path))
    frame, _ = read_table(config.transactions.path)
    assert len(frame) == len(LINES)
    assert isinstance(frame.index, pd.RangeIndex)
