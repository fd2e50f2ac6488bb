"""Every shipped config loads, and its declared columns exist in its data files."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from segkit.config import load_config
from segkit.features.attributes import attribute_features

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))


def _header(path: Path, sep: str) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return handle.readline().rstrip("\n").split(sep)


def _declared(section: dict) -> list[str]:
    cols = list(section["columns"].values())
    for group in (section.get("attributes") or {}).values():
        cols += group
    cols += section.get("outcomes") or []
    cols += [section[k] for k in ("birth_year", "signup_date") if section.get(k)]
    return cols


def test_there_are_configs_to_check():
    names = {p.name for p in CONFIGS}
    assert {"customer_personality.yaml", "b2b_synthetic.yaml"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_config_loads_and_validates(path):
    config = load_config(path)
    assert config["name"]
    assert config["transactions"] or config["customers"]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_declared_columns_exist_in_the_data_files(path):
    config = load_config(path)
    for table in ("transactions", "customers"):
        section = config[table]
        if section is None:
            continue
        data = Path(section["path"])
        if not data.exists():
            pytest.skip(f"{data} is not on this machine")
        sep = section["read"]["sep"] or ","
        missing = set(_declared(section)) - set(_header(data, sep))
        assert not missing, f"{path.name}: {table} columns {missing} not in {data.name}"


def test_customer_personality_reads_the_shared_copy_and_can_be_pointed_elsewhere(
    tmp_path,
):
    path = ROOT / "configs" / "customer_personality.yaml"
    config = load_config(path)
    expected = (
        ROOT / "../shared/data/customer_personality/marketing_campaign.csv"
    ).resolve()
    assert config["customers"]["path"] == str(expected)
    assert config["transactions"] is None  # attribute-only
    own = tmp_path / "my_copy.csv"
    moved = load_config(path, [f"customers.path={own}"])
    assert moved["customers"]["path"] == str(own)
    # the licence is unconfirmed: the file must never be copied into the repository
    assert not list((ROOT / "data").rglob("marketing_campaign*"))


def test_customer_personality_attributes_build_from_the_config():
    from segkit.data import io

    config = load_config(ROOT / "configs" / "customer_personality.yaml")
    if not Path(config["customers"]["path"]).exists():
        pytest.skip("shared Customer Personality file not on this machine")
    section = config["customers"]
    customers = io.load_customers(config).frame
    features, notes = attribute_features(
        customers,
        attributes=section["attributes"],
        as_of=config["as_of"],
        birth_year=section["birth_year"],
        signup_date=section["signup_date"],
        top_countries=config["features"]["top_countries"],
        rare_share=config["features"]["rare_share"],
        ordinal=config["features"]["ordinal"],
    )
    assert features.shape == (2240, 19)
    assert {"age", "signup_tenure_days", "Education"} <= set(features.columns)
    assert not set(section["outcomes"]) & set(features.columns)
    assert features["signup_tenure_days"].between(0, 800).all()


def test_b2b_synthetic_attributes_build_from_the_committed_files():
    from segkit.data import io

    config = load_config(ROOT / "configs" / "b2b_synthetic.yaml")
    section = config["customers"]
    features, notes = attribute_features(
        io.load_customers(config).frame,
        attributes=section["attributes"],
        as_of=config["as_of"],
        birth_year=section["birth_year"],
        signup_date=section["signup_date"],
        top_countries=config["features"]["top_countries"],
        rare_share=config["features"]["rare_share"],
    )
    assert len(features) == 1500
    # company size bands are ordered codes 0..4
    assert sorted(features["company_size"].unique()) == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert features["industry"].dtype == "str"
    assert (features["industry"] == "Missing").sum() == notes.query(
        "column == 'industry' and action.str.contains('Missing')"
    )["rows"].iloc[0]
    truth = pd.read_csv(ROOT / "data/synthetic/b2b_truth.csv.gz", dtype=str)
    assert set(truth["account_id"]) == set(features.index)
