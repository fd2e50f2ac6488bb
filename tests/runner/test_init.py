"""``segkit init``: guessed roles, the config it writes, and that it runs as is."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import segkit.runner.init_config as init_module
from segkit.context import open_run
from segkit.data.io import read_table
from segkit.exceptions import ConfigError, InputFileError
from segkit.pipeline import ensure
from segkit.runner.cli import main
from segkit.runner.init_config import SAMPLE_ROWS, init_config, slugify
from segkit.runner.init_guess import guess_customers, guess_transactions
from tests.conftest import PERSONALITY, ROOT, TINY_COLUMNS

RETAIL = ROOT / "data" / "raw" / "online_retail.csv.gz"
FIXTURE = ROOT / "tests" / "fixtures" / "retail_small.csv.gz"
RETAIL_ROLES = TINY_COLUMNS  # the retail files' roles, as the shared fixtures map them


def _written(result) -> dict:
    return yaml.safe_load(result.path.read_text(encoding="utf-8"))


def _cdnow_like(folder: Path, customers: int = 200) -> Path:
    """Whitespace-separated purchases, integer dates, no order id (like CDNOW)."""
    rng = np.random.default_rng(0)
    rows = []
    start = pd.Timestamp("1997-01-01")
    for cid in range(1, customers + 1):
        days = np.sort(rng.choice(540, size=rng.integers(1, 8), replace=False))
        for day in days:
            quantity = int(rng.integers(1, 5))
            amount = round(quantity * float(rng.uniform(8, 30)), 2)
            stamp = (start + pd.Timedelta(days=int(day))).strftime("%Y%m%d")
            rows.append(f"{cid:05d} {stamp}  {quantity:>2} {amount:>8.2f}")
    path = folder / "cdnow_like.txt"
    text = "customer_id date quantity amount\n" + "\n".join(rows) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def test_guesses_the_eight_online_retail_roles_from_the_real_file_sample():
    frame, _ = read_table(RETAIL, nrows=SAMPLE_ROWS)
    assert len(frame) == SAMPLE_ROWS
    guesses, profiles = guess_transactions(frame)
    assert {g.role: g.column for g in guesses} == RETAIL_ROLES
    assert not [g.column for g in guesses if g.uncertain]
    assert profiles["InvoiceDate"].kind == "date"
    assert profiles["InvoiceDate"].date_format is None  # ISO: no format needed


def test_init_on_retail_fixture_writes_a_config_that_runs_data_and_features(
    tmp_path, capsys
):
    code = main(["init", str(FIXTURE), "--configs", str(tmp_path / "configs")])
    out = capsys.readouterr().out
    assert code == 0
    path = tmp_path / "configs" / "retail_small.yaml"
    body = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert body["transactions"]["columns"] == RETAIL_ROLES
    assert body["transactions"]["path"] == "tests/fixtures/retail_small.csv.gz"
    assert body["transactions"]["read"] == {"sep": ",", "encoding": "utf-8"}
    assert "as_of" not in body and body["seed"] == 0
    text = path.read_text(encoding="utf-8")
    assert "# guessed from name 'InvoiceNo' and values like 5" in text
    assert "checked: 24,874 rows, 300 customers" in out
    assert f"next: segkit report --config {path}" in out
    ctx = open_run(path, tmp_path / "run")
    ensure(ctx, "features")
    features = ctx.load_frame("features.parquet")
    summary = ctx.load_json("data_summary.json")
    assert summary["customers"] == 300
    assert len(features) == summary["kept_customers"] == 297  # 3 only cancelled


def test_init_on_whitespace_file_with_integer_dates_and_no_order_id_runs(tmp_path):
    data = _cdnow_like(tmp_path)
    result = init_config(data, configs_dir=tmp_path / "configs", root=ROOT)
    assert result.error is None, result.error
    body = _written(result)["transactions"]
    assert body["read"]["sep"] == r"\s+"
    assert body["read"]["date_format"] == "%Y%m%d"
    assert body["columns"] == {
        "customer_id": "customer_id",
        "timestamp": "date",
        "quantity": "quantity",
        "amount": "amount",
    }
    assert body["path"] == str(data)  # outside the project: absolute
    text = result.path.read_text(encoding="utf-8")
    assert "no order id found" in text
    ctx = open_run(result.path, tmp_path / "run")
    ensure(ctx, "features")
    assert len(ctx.load_frame("features.parquet")) == 200
    clean = ctx.load_frame("transactions.parquet")
    dates = pd.read_csv(data, sep=r"\s+", dtype=str)["date"]
    assert clean["timestamp"].min() == pd.to_datetime(dates, format="%Y%m%d").min()
    assert clean["customer_id"].iloc[0] == "00001"  # zeros kept


def test_init_fails_clearly_on_columns_it_cannot_place_and_writes_nothing(tmp_path):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.random((100, 3)), columns=["a", "b", "c"])
    frame.to_csv(tmp_path / "floats.csv", index=False)
    configs = tmp_path / "configs"
    with pytest.raises(
        ConfigError,
        match=r"could not place the roles customer_id, timestamp, amount \(or "
        r"quantity \+ unit_price\).*'a': decimals like .* \(100 distinct\)"
        r".*'c': decimals.*"
        r"\{customer_id: a, timestamp: b, amount: c\}",
    ):
        init_config(tmp_path / "floats.csv", configs_dir=configs, root=ROOT)
    assert not configs.exists()


def test_a_day_number_is_not_taken_for_a_timestamp(tmp_path):
    frame = pd.DataFrame(
        {
            "household_key": np.arange(60) % 20,
            "BASKET_ID": np.arange(60) + 1000,
            "DAY": np.arange(60) % 30 + 1,
            "SALES_VALUE": np.round(np.linspace(1.5, 9.99, 60), 2),
        }
    )
    with pytest.raises(ConfigError, match=r"roles timestamp: .*'DAY': integers like"):
        guess_transactions(frame)


def test_init_refuses_to_overwrite_and_names_the_fix(tmp_path, capsys):
    args = ["init", str(FIXTURE), "--configs", str(tmp_path), "--name", "My Shop"]
    assert main(args) == 0
    path = tmp_path / "my_shop.yaml"
    before = path.read_text(encoding="utf-8")
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"config {path} exists already" in err
    assert "--name" in err and "delete the file" in err
    assert path.read_text(encoding="utf-8") == before
    with pytest.raises(ConfigError, match=r"exists already.*pass --name OTHER_NAME"):
        init_config(FIXTURE, name="my shop", configs_dir=tmp_path, root=ROOT)


def test_uncertain_guesses_are_marked_in_the_file(tmp_path):
    frame = pd.DataFrame(
        {
            "cust_no": [f"K{i % 40:03d}" for i in range(120)],
            "purchased": pd.date_range("2021-01-01", periods=120, freq="D").strftime(
                "%d/%m/%Y"
            ),
            "spend": np.round(np.linspace(3.0, 80.0, 120), 2),
        }
    )
    frame.to_csv(tmp_path / "shop.csv", index=False, sep=";")
    result = init_config(tmp_path / "shop.csv", configs_dir=tmp_path, root=ROOT)
    assert result.error is None, result.error
    lines = result.path.read_text(encoding="utf-8").splitlines()
    line = {k: next(s for s in lines if s.startswith(f"    {k}:")) for k in
            ("customer_id", "timestamp", "amount")}  # fmt: skip
    assert (
        "# UNCERTAIN: 'cust_no' only partly matches a customer_id name"
        in line["customer_id"]
    )
    assert "# UNCERTAIN: no timestamp name; only the values" in line["timestamp"]
    assert "if it is not, remove the line" in line["timestamp"]
    assert "UNCERTAIN" not in line["amount"]
    read = _written(result)["transactions"]["read"]
    assert read == {"sep": ";", "encoding": "utf-8", "date_format": "%d/%m/%Y"}


def test_odd_column_names_and_a_latin1_file_are_written_as_valid_yaml(tmp_path):
    text = "Customer ID,Date: of sale,Sales Value,yes\n" + "".join(
        f"{i % 30},2021-03-{i % 28 + 1:02d},{i + 0.5:.2f},Caf\xe9\n" for i in range(90)
    )
    (tmp_path / "odd.csv").write_bytes(text.encode("latin-1"))
    result = init_config(tmp_path / "odd.csv", configs_dir=tmp_path, root=ROOT)
    assert result.error is None, result.error
    body = _written(result)["transactions"]
    assert body["columns"] == {
        "customer_id": "Customer ID",
        "timestamp": "Date: of sale",
        "amount": "Sales Value",
    }
    assert body["read"]["encoding"] == "cp1252"
    assert "yes: text like Café" in result.path.read_text(encoding="utf-8")
    assert "encoding 'cp1252'" in result.lines[0]


def test_init_reads_parquet_without_text_read_options(tmp_path):
    raw, _ = read_table(FIXTURE, nrows=2_000)
    raw.to_parquet(tmp_path / "shop.parquet")
    result = init_config(tmp_path / "shop.parquet", configs_dir=tmp_path, root=ROOT)
    assert result.error is None, result.error
    body = _written(result)["transactions"]
    assert "read" not in body
    assert body["columns"] == RETAIL_ROLES


def test_read_table_reads_only_nrows(tmp_path):
    frame, _ = read_table(FIXTURE, nrows=7)
    assert len(frame) == 7
    frame.to_parquet(tmp_path / "t.parquet", row_group_size=3)
    again, _ = read_table(tmp_path / "t.parquet", nrows=5)
    assert len(again) == 5
    pd.testing.assert_frame_equal(again, frame.head(5))


def _late_bad_date(folder: Path) -> Path:
    rows = [f"{i % 10},2021-01-{i % 28 + 1:02d},{i + 1}.25" for i in range(60)]
    rows[55] = "3,soon,4.00"  # past a 50-row sample: the guesses pass, the load fails
    path = folder / "late.csv"
    path.write_text("customer,date,amount\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_a_failed_check_keeps_the_config_and_names_the_key(tmp_path):
    data = _late_bad_date(tmp_path)
    result = init_config(data, configs_dir=tmp_path, root=ROOT, sample_rows=50)
    assert result.path.exists()
    assert "1 values are not dates, e.g. ['soon']" in result.error
    check, fix = result.failure_lines()
    assert check.startswith("check failed: column 'date' (role timestamp)")
    assert fix.startswith("the config is kept: fix transactions.read.date_format")
    assert not any(line.startswith("next:") for line in result.lines)


def test_cli_exits_1_when_the_check_fails_and_keeps_the_config(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(init_module, "SAMPLE_ROWS", 50)
    code = main(["init", str(_late_bad_date(tmp_path)), "--configs", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 1
    assert (tmp_path / "late.yaml").exists()
    assert "read a sample of 50 rows" in out
    assert "wrote " in out and "next:" not in out
    assert "segkit: check failed: column 'date' (role timestamp)" in err
    assert "fix transactions.read.date_format" in err


def test_slugify_makes_file_names_and_refuses_empty_names():
    assert slugify("My Shop (2024)") == "my_shop_2024"
    with pytest.raises(ConfigError, match=r"--name '\?\?' has no letters or digits"):
        slugify("??")


@pytest.mark.skipif(not PERSONALITY.exists(), reason="shared data not present")
def test_customers_file_attributes_are_sorted_into_groups(tmp_path):
    result = init_config(
        FIXTURE, customers=PERSONALITY, configs_dir=tmp_path, root=ROOT
    )
    assert result.error is None, result.error
    section = _written(result)["customers"]
    assert section["columns"] == {"customer_id": "ID"}
    assert section["read"] == {
        "sep": "\t",
        "encoding": "utf-8",
        "date_format": "%d-%m-%Y",
    }
    assert section["birth_year"] == "Year_Birth"
    assert section["signup_date"] == "Dt_Customer"
    demographic = section["attributes"]["demographic"]
    assert {"Income", "Education", "Marital_Status"} <= set(demographic)
    assert "Year_Birth" not in demographic
    assert set(section["attributes"]) == {"demographic"}
    text = result.path.read_text(encoding="utf-8")
    assert "#   Z_Revenue: constant in the sample" in text  # not firmographic
    assert "#   Response: could be an outcome" in text
    assert "customers table: 2,240 customers, 0 of them in the transactions" in (
        result.lines
    )
    assert any("warning: no customer of the customers table" in x for x in result.lines)


def test_guess_customers_needs_a_unique_id():
    frame = pd.DataFrame({"name": ["a", "b"], "age": [30, 40]})
    with pytest.raises(
        ConfigError, match=r"no customer id .*columns: \['name', 'age'\]"
    ):
        guess_customers(frame)


def test_ambiguous_dates_take_the_shortest_reading_and_say_uncertain(tmp_path):
    # UCI's own export: month first, the first days of December 2010.
    stamps = [f"12/{day}/2010 {hour}:26" for day in range(1, 10) for hour in (8, 17)]
    frame = pd.DataFrame(
        {"CustomerID": [str(12000 + i % 5) for i in range(18)], "InvoiceDate": stamps}
    )
    frame["Amount"] = 9.95
    frame.to_csv(tmp_path / "uci.csv", index=False)
    result = init_config(tmp_path / "uci.csv", configs_dir=tmp_path, root=ROOT)
    assert result.error is None, result.error
    read = _written(result)["transactions"]["read"]
    assert read["date_format"] == "%m/%d/%Y %H:%M"
    text = result.path.read_text(encoding="utf-8")
    assert "UNCERTAIN: the dates parse as '%m/%d/%Y %H:%M' and as" in text
    assert any("checked: 18 rows, 5 customers, 2010-12-01 to 2010-12-09" in line
               for line in result.lines)  # fmt: skip


def test_init_reads_excel(tmp_path):
    pytest.importorskip("openpyxl")
    raw, _ = read_table(FIXTURE)
    raw.sample(300, random_state=0).to_excel(tmp_path / "shop.xlsx", index=False)
    result = init_config(tmp_path / "shop.xlsx", configs_dir=tmp_path, root=ROOT)
    assert result.error is None, result.error
    assert _written(result)["transactions"]["columns"] == RETAIL_ROLES


def test_init_names_a_missing_data_file(tmp_path):
    with pytest.raises(InputFileError, match=r"data file .*nope.csv not found"):
        init_config(tmp_path / "nope.csv", configs_dir=tmp_path, root=ROOT)
    assert list(tmp_path.iterdir()) == []


def test_init_on_a_folder_of_daily_files_writes_the_folder_as_path(tmp_path):
    raw, _ = read_table(FIXTURE)
    (tmp_path / "days").mkdir()
    raw.iloc[:12_000].to_csv(tmp_path / "days" / "2010.csv", index=False)
    raw.iloc[12_000:].to_csv(tmp_path / "days" / "2011.csv", index=False)
    result = init_config(tmp_path / "days", configs_dir=tmp_path, root=ROOT)
    assert result.error is None, result.error
    assert result.path.name == "days.yaml"
    body = _written(result)["transactions"]
    assert body["path"] == str(tmp_path / "days")
    assert body["columns"] == RETAIL_ROLES
    assert any(line.startswith("checked: 24,874 rows") for line in result.lines)


def _tilde_separated(folder: Path) -> Path:
    # '~' is none of the separators sniffed (comma, tab, semicolon, pipe): the
    # first lines then read as space-separated, which splits the descriptions
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame(
        {
            "customer": [f"C{i % 60:03d}" for i in range(n)],
            "invoice": [f"I{i // 2:04d}" for i in range(n)],
            "date": pd.date_range("2021-01-01", periods=n, freq="19h").strftime(
                "%Y-%m-%d %H:%M"
            ),
            "qty": rng.integers(1, 5, n),
            "price": rng.integers(100, 999, n) / 100,
            "description": ["blue mug gift box" for _ in range(n)],
        }
    )
    path = folder / "tilde.csv"
    frame.to_csv(path, sep="~", index=False)
    return path


def test_init_takes_the_separator_given_with_sep_instead_of_sniffing(tmp_path):
    data = _tilde_separated(tmp_path)
    _, notes = read_table(data, nrows=50)
    assert notes == [r"separator sniffed as '\\s+'"]  # the sniff is wrong here
    with pytest.raises(ConfigError, match=r"1 column\(s\) .* segkit init --sep"):
        init_config(data, configs_dir=tmp_path, root=ROOT, check=False)
    code = main(["init", str(data), "--configs", str(tmp_path), "--sep", "~"])
    assert code == 0
    body = yaml.safe_load((tmp_path / "tilde.yaml").read_text(encoding="utf-8"))
    tx = body["transactions"]
    assert tx["read"]["sep"] == "~"
    assert tx["columns"]["customer_id"] == "customer"
    assert tx["columns"]["order_id"] == "invoice"
    assert tx["columns"]["description"] == "description"
    assert "given with --sep" in (tmp_path / "tilde.yaml").read_text(encoding="utf-8")
