"""Config loading: defaults, path resolution, unknown keys, overrides."""

from __future__ import annotations

import datetime as dt

import pytest

from segkit.config import DEFAULTS, apply_overrides, load_config, parse_overrides
from segkit.exceptions import ConfigError
from tests.conftest import ROOT, TINY_COLUMNS, write_config


def _body(**extra):
    body = {
        "name": "t",
        "transactions": {"path": "t.csv", "columns": dict(TINY_COLUMNS)},
    }
    body.update(extra)
    return body


def test_defaults_fill_every_section(tmp_path):
    config = load_config(write_config(tmp_path, _body()))
    for section in DEFAULTS:
        assert section in config
    assert config["clustering"]["max_segments"] == 8
    assert config["clustering"]["min_segment_share"] == 0.03
    assert config["seed"] == 0 and config["as_of"] is None


def test_relative_data_paths_start_at_the_project_root(tmp_path):
    (tmp_path / "configs").mkdir()
    path = write_config(tmp_path, _body())
    moved = tmp_path / "configs" / "c.yaml"
    path.rename(moved)
    config = load_config(moved)
    assert config["transactions"]["path"] == str(tmp_path / "t.csv")


def test_as_of_is_parsed_as_a_date(tmp_path):
    config = load_config(write_config(tmp_path, _body(as_of="2011-12-10")))
    assert config["as_of"] == dt.date(2011, 12, 10)


def test_bad_as_of_says_how_to_write_it(tmp_path):
    with pytest.raises(ConfigError, match=r"'as_of' is 'yesterday'.*YYYY-MM-DD"):
        load_config(write_config(tmp_path, _body(as_of="yesterday")))


def test_unknown_top_level_key_lists_valid_keys_and_closest_match(tmp_path):
    with pytest.raises(
        ConfigError,
        match=r"unknown config key 'clustring'; did you mean 'clustering'\? \(valid keys under the top level: name,",
    ):
        load_config(write_config(tmp_path, _body(clustring={"k_max": 4})))


def test_unknown_nested_key_is_named_with_its_path(tmp_path):
    with pytest.raises(
        ConfigError, match=r"unknown config key 'clustering.kmax'; did you mean 'k_max'"
    ):
        load_config(write_config(tmp_path, _body(clustering={"kmax": 4})))


def test_unknown_role_is_refused(tmp_path):
    body = _body()
    body["transactions"]["columns"]["price"] = "UnitPrice"
    with pytest.raises(
        ConfigError, match=r"'transactions.columns.price'; did you mean 'unit_price'"
    ):
        load_config(write_config(tmp_path, body))


def test_missing_required_roles_are_listed(tmp_path):
    body = _body()
    del body["transactions"]["columns"]["order_id"]
    with pytest.raises(ConfigError, match=r"lacks the roles \['order_id'\]"):
        load_config(write_config(tmp_path, body))


def test_amount_or_quantity_and_price_is_required(tmp_path):
    body = _body()
    del body["transactions"]["columns"]["unit_price"]
    with pytest.raises(
        ConfigError, match="either 'amount'.*or both 'quantity' and 'unit_price'"
    ):
        load_config(write_config(tmp_path, body))


def test_attribute_only_config_is_valid(tmp_path):
    body = {
        "name": "a",
        "customers": {
            "path": "c.csv",
            "columns": {"customer_id": "id"},
            "attributes": {"demographic": ["age"]},
        },
    }
    config = load_config(write_config(tmp_path, body))
    assert config["transactions"] is None
    assert config["customers"]["attributes"]["demographic"] == ["age"]
    assert config["customers"]["attributes"]["firmographic"] == []


def test_config_without_any_data_source_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="neither 'transactions' nor 'customers'"):
        load_config(write_config(tmp_path, {"name": "x"}))


def test_missing_config_file_names_it(tmp_path):
    with pytest.raises(ConfigError, match=r"config file .*missing.yaml' not found"):
        load_config(tmp_path / "missing.yaml")


def test_overrides_are_parsed_as_yaml_values():
    assert parse_overrides(
        [
            "clustering.k_max=8",
            "clustering.algorithms=[kmeans, gmm]",
            "as_of=2011-01-01",
            "profiles.names_file=null",
        ]
    ) == {
        "clustering.k_max": 8,
        "clustering.algorithms": ["kmeans", "gmm"],
        "as_of": dt.date(2011, 1, 1),
        "profiles.names_file": None,
    }


def test_override_replaces_a_key(tmp_path):
    config = load_config(
        write_config(tmp_path, _body()), ["clustering.k_max=5", "seed=3"]
    )
    assert config["clustering"]["k_max"] == 5 and config["seed"] == 3
    assert config["overrides"] == {"clustering.k_max": 5, "seed": 3}


def test_override_of_a_data_source_key_works(tmp_path):
    config = load_config(write_config(tmp_path, _body()), ["transactions.read.sep=;"])
    assert config["transactions"]["read"]["sep"] == ";"


def test_override_for_a_key_that_does_not_exist_is_refused(tmp_path):
    with pytest.raises(
        ConfigError,
        match=r"override 'clustering.k_mx': there is no key 'k_mx' under clustering; did you mean 'k_max'",
    ):
        load_config(write_config(tmp_path, _body()), ["clustering.k_mx=8"])


def test_override_without_equals_sign_is_refused():
    with pytest.raises(ConfigError, match=r"override 'k_max' has no '='"):
        parse_overrides(["k_max"])


def test_overrides_do_not_modify_the_raw_config():
    raw = {"name": "x", "clustering": {"k_max": 4}}
    apply_overrides(raw, {"clustering.k_max": 9})
    assert raw == {"name": "x", "clustering": {"k_max": 4}}


def test_bad_choice_lists_the_allowed_values(tmp_path):
    with pytest.raises(ConfigError, match=r"'rfm.bins' is 7; use one of \[3, 4, 5\]"):
        load_config(write_config(tmp_path, _body(rfm={"bins": 7})))


def test_k_range_must_be_a_range(tmp_path):
    with pytest.raises(ConfigError, match="do not make a range"):
        load_config(write_config(tmp_path, _body(clustering={"k_min": 5, "k_max": 3})))


def test_the_bundled_config_loads():
    config = load_config(ROOT / "configs" / "online_retail.yaml")
    assert config["name"] == "online-retail"
    assert config["transactions"]["path"].endswith("data/raw/online_retail.csv.gz")
