"""Reading files and mapping roles: formats, encodings, and every bad-input error."""

from __future__ import annotations

import gzip
import zipfile

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from segkit.config import load_config
from segkit.data.io import (
    load_customers,
    load_transactions,
    normalise_ids,
    read_table,
    to_canonical,
)
from segkit.exceptions import DataError, InputFileError, SchemaError
from tests.conftest import (
    ONLINE_RETAIL,
    PERSONALITY,
    ROOT,
    TINY_COLUMNS,
    TINY_CSV,
    write_config,
)


def _config(tmp_path, filename, **read):
    body = {
        "name": "t",
        "transactions": {"path": filename, "columns": dict(TINY_COLUMNS)},
    }
    if read:
        body["transactions"]["read"] = read
    return load_config(write_config(tmp_path, body))


def test_tiny_csv_maps_roles_and_types(tiny_config):
    frame = load_transactions(load_config(tiny_config)).frame
    assert list(frame.columns[:6]) == [
        "customer_id",
        "order_id",
        "timestamp",
        "quantity",
        "unit_price",
        "amount",
    ]
    assert frame.loc[0, "customer_id"] == "11"  # 11.0 in the file
    assert frame["timestamp"].dtype == "datetime64[ns]"
    assert frame.loc[1, "amount"] == 10.0
    assert frame["customer_id"].isna().sum() == 1


def test_ids_like_floats_become_clean_strings():
    ids = pd.Series([17850.0, None, "12.0", " 7 ", "A-1"])
    assert normalise_ids(ids).tolist()[0] == "17850"
    assert normalise_ids(ids).isna().tolist() == [False, True, False, False, False]
    assert normalise_ids(ids).tolist()[2:] == ["12", "7", "A-1"]


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_other_separators_are_sniffed(tmp_path, sep):
    (tmp_path / "t.csv").write_text(TINY_CSV.replace(",", sep))
    frame = load_transactions(_config(tmp_path, "t.csv")).frame
    assert len(frame) == 10 and frame["amount"].sum() == 98.0


def test_whitespace_separated_file_is_read(tmp_path):
    text = "cust order day qty price\n1 a 2021-01-01 2 3.5\n2 b 2021-01-02 1 4\n"
    (tmp_path / "w.txt").write_text(text)
    cfg = write_config(
        tmp_path,
        {
            "name": "w",
            "transactions": {
                "path": "w.txt",
                "read": {"sep": "whitespace"},
                "columns": {
                    "customer_id": "cust",
                    "order_id": "order",
                    "timestamp": "day",
                    "quantity": "qty",
                    "unit_price": "price",
                },
            },
        },
    )
    frame = load_transactions(load_config(cfg)).frame
    assert frame["amount"].tolist() == [7.0, 4.0]


def test_gzip_and_zip_files_are_read(tmp_path):
    with gzip.open(tmp_path / "t.csv.gz", "wt") as fh:
        fh.write(TINY_CSV)
    with zipfile.ZipFile(tmp_path / "t.zip", "w") as zf:
        zf.writestr("t.csv", TINY_CSV)
    for name in ("t.csv.gz", "t.zip"):
        assert len(load_transactions(_config(tmp_path, name)).frame) == 10


def test_parquet_and_excel_files_are_read(tmp_path, tiny_csv):
    raw = pd.read_csv(tiny_csv)
    raw.to_parquet(tmp_path / "t.parquet")
    raw.to_excel(tmp_path / "t.xlsx", index=False)
    for name in ("t.parquet", "t.xlsx"):
        frame = load_transactions(_config(tmp_path, name)).frame
        assert frame["amount"].sum() == 98.0
        assert frame.loc[0, "customer_id"] == "11"


def test_integer_dates_with_an_explicit_format(tmp_path):
    text = TINY_CSV.replace("2021-01-05 10:00:00", "20210105")
    for old, new in [
        ("2021-02-01 09:30:00", "20210201"),
        ("2021-02-03 12:00:00", "20210203"),
        ("2021-03-01 08:00:00", "20210301"),
        ("2021-03-02 08:00:00", "20210302"),
        ("2021-03-10 15:00:00", "20210310"),
        ("2021-04-01 11:00:00", "20210401"),
    ]:
        text = text.replace(old, new)
    (tmp_path / "d.csv").write_text(text)
    frame = load_transactions(_config(tmp_path, "d.csv", date_format="%Y%m%d")).frame
    assert frame["timestamp"].min() == pd.Timestamp("2021-01-05")


def test_day_first_dates_with_an_explicit_format(tmp_path):
    frame = pd.read_csv(pd.io.common.StringIO(TINY_CSV))
    frame["InvoiceDate"] = pd.to_datetime(frame["InvoiceDate"]).dt.strftime("%d-%m-%Y")
    frame.to_csv(tmp_path / "d.csv", index=False)
    out = load_transactions(_config(tmp_path, "d.csv", date_format="%d-%m-%Y")).frame
    assert out["timestamp"].max() == pd.Timestamp("2021-04-01")


def test_bom_in_the_header_is_ignored(tmp_path):
    (tmp_path / "b.csv").write_bytes(b"\xef\xbb\xbf" + TINY_CSV.encode())
    frame = load_transactions(_config(tmp_path, "b.csv")).frame
    assert len(frame) == 10


def test_non_utf8_file_falls_back_and_says_which_encoding(tmp_path):
    (tmp_path / "l.csv").write_bytes(TINY_CSV.replace("MUG", "MÜG").encode("cp1252"))
    result = load_transactions(_config(tmp_path, "l.csv"))
    assert result.frame.loc[0, "description"] == "MÜG"
    assert any("read.encoding: cp1252" in note for note in result.notes)


def test_missing_file_names_the_path_and_the_fix(tmp_path):
    with pytest.raises(
        InputFileError, match=r"data file .*nope.csv not found; check the path"
    ):
        load_transactions(_config(tmp_path, "nope.csv"))


def test_empty_file_is_a_clear_error(tmp_path):
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(InputFileError, match=r"e.csv is empty"):
        load_transactions(_config(tmp_path, "e.csv"))


def test_header_only_file_is_a_clear_error(tmp_path):
    (tmp_path / "h.csv").write_text(TINY_CSV.splitlines()[0] + "\n")
    with pytest.raises(InputFileError, match=r"h.csv has a header but no data rows"):
        load_transactions(_config(tmp_path, "h.csv"))


def test_wrong_separator_says_which_one_to_set(tmp_path):
    (tmp_path / "s.csv").write_text(TINY_CSV.replace(",", ";"))
    with pytest.raises(SchemaError, match=r"into one column .*set read.sep: ';'"):
        load_transactions(_config(tmp_path, "s.csv", sep=","))


def test_missing_role_column_lists_the_columns_found(tmp_path):
    (tmp_path / "m.csv").write_text(TINY_CSV.replace("UnitPrice", "Price"))
    with pytest.raises(
        SchemaError,
        match=r"column 'UnitPrice' \(role unit_price\) not found .*columns: \[.*'Price'.*set transactions.columns.unit_price",
    ):
        load_transactions(_config(tmp_path, "m.csv"))


def test_unparseable_dates_show_examples(tmp_path):
    (tmp_path / "d.csv").write_text(
        TINY_CSV.replace("2021-03-10 15:00:00", "next tuesday")
    )
    with pytest.raises(
        SchemaError,
        match=r"'InvoiceDate'.*1 values are not dates, e.g. \['next tuesday'\].*read.date_format",
    ):
        load_transactions(_config(tmp_path, "d.csv"))


@pytest.mark.parametrize("column,bad", [("Quantity", "two"), ("UnitPrice", "3,5x")])
def test_non_numeric_quantity_or_price_shows_examples(tmp_path, column, bad):
    frame = pd.read_csv(pd.io.common.StringIO(TINY_CSV), dtype=str)
    frame.loc[3, column] = bad
    frame.to_csv(tmp_path / "n.csv", index=False)
    with pytest.raises(
        SchemaError, match=rf"'{column}'.*not numbers, e.g. \['{bad}'\]"
    ):
        load_transactions(_config(tmp_path, "n.csv"))


def test_all_customer_ids_missing_is_a_clear_error(tmp_path):
    frame = pd.read_csv(pd.io.common.StringIO(TINY_CSV))
    frame["CustomerID"] = None
    frame.to_csv(tmp_path / "c.csv", index=False)
    with pytest.raises(
        DataError, match=r"every row of c.csv lacks a customer id .*'CustomerID'"
    ):
        load_transactions(_config(tmp_path, "c.csv"))


def test_to_canonical_does_not_modify_the_raw_frame(tiny_csv):
    raw, _ = read_table(tiny_csv, text_columns=["CustomerID", "InvoiceNo"])
    before = raw.copy()
    to_canonical(raw, TINY_COLUMNS)
    assert_frame_equal(raw, before)


def test_customers_table_with_duplicate_ids_is_refused(tmp_path):
    (tmp_path / "c.csv").write_text("id,age\n1,30\n2,40\n1,31\n")
    cfg = write_config(
        tmp_path,
        {
            "name": "c",
            "customers": {
                "path": "c.csv",
                "columns": {"customer_id": "id"},
                "attributes": {"demographic": ["age"]},
            },
        },
    )
    with pytest.raises(
        SchemaError, match=r"'id' has 1 duplicated ids, e.g. \['1'\].*deduplicate"
    ):
        load_customers(load_config(cfg))


def test_customers_attribute_that_does_not_exist_is_named(tmp_path):
    (tmp_path / "c.csv").write_text("id,age\n1,30\n2,40\n")
    cfg = write_config(
        tmp_path,
        {
            "name": "c",
            "customers": {
                "path": "c.csv",
                "columns": {"customer_id": "id"},
                "attributes": {"demographic": ["income"]},
            },
        },
    )
    with pytest.raises(
        SchemaError,
        match=r"'income' declared in customers.attributes.demographic not found .*\['id', 'age'\]",
    ):
        load_customers(load_config(cfg))


@pytest.mark.skipif(
    not PERSONALITY.exists(), reason="needs ../shared/data beside the clone"
)
def test_customer_personality_reads_tab_separated_with_day_first_signup(tmp_path):
    cfg = write_config(
        tmp_path,
        {
            "name": "cp",
            "customers": {
                "path": str(PERSONALITY),
                "read": {"date_format": "%d-%m-%Y"},
                "columns": {"customer_id": "ID"},
                "signup_date": "Dt_Customer",
                "attributes": {"demographic": ["Income", "Education"]},
            },
        },
    )
    frame = load_customers(load_config(cfg)).frame
    assert frame.shape[0] == 2240
    assert frame["Dt_Customer"].min() == pd.Timestamp("2012-07-30")
    assert frame.index.name == "customer_id"


@pytest.mark.slow
def test_online_retail_raw_counts_match_the_published_ones():
    config = load_config(ROOT / "configs" / "online_retail.yaml")
    result = load_transactions(config)
    raw, frame = result.raw, result.frame
    assert ONLINE_RETAIL.exists()
    assert len(raw) == 541_909
    assert frame["order_id"].nunique() == 25_900
    assert frame["customer_id"].nunique() == 4_372
    assert frame["customer_id"].isna().sum() == 135_080
    assert int(raw.duplicated().sum()) == 5_268
    assert frame["country"].nunique() == 38
