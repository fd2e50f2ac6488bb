"""Config loading: typed defaults, path resolution, every problem at once, overrides."""

from __future__ import annotations

import copy
import datetime as dt
import pickle

import joblib
import pytest

from segkit.config import (
    DEFAULTS,
    Config,
    ConfigError,
    apply_overrides,
    config_schema,
    load_config,
    parse_overrides,
    validate_config,
)
from tests.conftest import ROOT, TINY_COLUMNS, python_under_hash_seeds, write_config


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


def test_relative_data_paths_try_the_config_folder_then_the_project_root(tmp_path):
    (tmp_path / "configs").mkdir()
    path = write_config(tmp_path, _body())
    moved = tmp_path / "configs" / "c.yaml"
    path.rename(moved)
    # neither place has t.csv: the project-root candidate is kept
    config = load_config(moved, root=tmp_path)
    assert config["transactions"]["path"] == str(tmp_path / "t.csv")
    # next to the config: the config folder wins
    (tmp_path / "configs" / "t.csv").touch()
    config = load_config(moved, root=tmp_path)
    assert config.transactions.path == str(tmp_path / "configs" / "t.csv")


def test_as_of_is_parsed_as_a_date(tmp_path):
    config = load_config(write_config(tmp_path, _body(as_of="2011-12-10")))
    assert config["as_of"] == dt.date(2011, 12, 10)


def test_as_of_of_a_number_is_not_read_as_a_timestamp(tmp_path):
    with pytest.raises(ConfigError, match=r"'as_of' is 20111210, which is not a date"):
        load_config(write_config(tmp_path, _body(as_of=20111210)))


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
    del body["transactions"]["columns"]["timestamp"]
    with pytest.raises(ConfigError, match=r"lacks the roles \['timestamp'\]"):
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


def test_missing_name_is_named(tmp_path):
    body = _body()
    del body["name"]
    with pytest.raises(
        ConfigError, match=r"^config key 'name' is missing; set it \(short name"
    ):
        load_config(write_config(tmp_path, body))


def test_alpha_outside_zero_one_names_the_range(tmp_path):
    with pytest.raises(
        ConfigError,
        match=r"^config key 'validation.alpha' is 7; use a number > 0 and < 1$",
    ):
        load_config(write_config(tmp_path, _body(validation={"alpha": 7})))


def test_negative_bootstrap_is_refused(tmp_path):
    with pytest.raises(
        ConfigError,
        match=r"^config key 'validation.bootstrap' is -5; use a whole number >= 1$",
    ):
        load_config(write_config(tmp_path, _body(validation={"bootstrap": -5})))


def test_misspelt_algorithm_suggests_the_closest_choice(tmp_path):
    with pytest.raises(
        ConfigError,
        match=r"^config key 'clustering.algorithms\[1\]' is 'kmenas'; use one of "
        r"\['kmeans', .*'hdbscan'\]; did you mean 'kmeans'\?$",
    ):
        load_config(
            write_config(
                tmp_path, _body(clustering={"algorithms": ["kmeans", "kmenas"]})
            )
        )


def test_k_max_in_words_is_a_config_error_not_a_type_error(tmp_path):
    with pytest.raises(
        ConfigError,
        match=r"^config key 'clustering.k_max' is 'eight'; use a whole number >= 2$",
    ):
        load_config(write_config(tmp_path, _body(clustering={"k_max": "eight"})))


def test_true_is_not_a_count(tmp_path):
    with pytest.raises(ConfigError, match=r"'seed' is True; use a whole number"):
        load_config(write_config(tmp_path, _body(seed=True)))


def test_every_problem_is_reported_at_once_one_line_each(tmp_path):
    body = _body(
        validation={"alpha": 7, "bootstrap": -5},
        clustering={"algorithms": ["kmeans", "kmenas"], "k_max": "eight"},
        clustring={"k_max": 4},
        rfm={"bins": 7},
    )
    del body["name"]
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, body))
    message = str(caught.value)
    lines = message.splitlines()
    assert lines[0].endswith("config.yaml' has 7 problems:")
    assert sorted(caught.value.problems) == sorted(line[4:] for line in lines[1:])
    for expected in (
        "config key 'name' is missing",
        "'validation.alpha' is 7",
        "'validation.bootstrap' is -5",
        "'clustering.algorithms[1]' is 'kmenas'",
        "'clustering.k_max' is 'eight'",
        "unknown config key 'clustring'; did you mean 'clustering'?",
        "'rfm.bins' is 7; use one of [3, 4, 5]",
    ):
        assert sum(expected in line for line in lines[1:]) == 1, expected
    assert "Input should be" not in message and "pydantic" not in message


def test_keys_set_by_segkit_are_refused_in_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"'root' is set by segkit, not in the file"):
        load_config(write_config(tmp_path, _body(root="/elsewhere")))


def test_config_reads_as_typed_attributes_and_as_a_mapping(tmp_path):
    config = load_config(write_config(tmp_path, _body()), ["clustering.k_max=6"])
    assert isinstance(config, Config)
    assert config.clustering.k_max == config["clustering"]["k_max"] == 6
    assert config.get("customers") is None and config.get("nope", 1) == 1
    assert "clustering" in config and "nope" not in config
    assert "k_max" in config["clustering"] and dict(config["rfm"]) == DEFAULTS["rfm"]
    assert list(config.keys())[:2] == ["name", "description"]
    assert dict(config["preprocess"].items()) == DEFAULTS["preprocess"]
    assert {**config["rfm"]} == {"bins": 5, "scheme": "ten"}
    config["clustering"]["k_max"] = 7
    assert config.clustering.k_max == 7
    with pytest.raises(Exception, match="k_max"):
        config["clustering"]["k_max"] = "seven"  # assignments are validated too


def test_config_survives_deepcopy_pickle_and_joblib(tmp_path):
    config = load_config(write_config(tmp_path, _body(as_of="2021-01-02")))
    twin = copy.deepcopy(config)
    twin["transactions"]["path"] = "/new/path.csv"
    assert config.transactions.path != "/new/path.csv"
    assert pickle.loads(pickle.dumps(config)) == config
    joblib.dump(config, tmp_path / "c.joblib")
    assert joblib.load(tmp_path / "c.joblib") == config
    plain = config.to_dict(mode="json")
    assert plain["as_of"] == "2021-01-02" and plain["clustering"]["k_max"] == 10
    assert plain["config_path"] == config.config_path


def test_schema_covers_every_section_with_ranges_and_descriptions():
    schema = config_schema()
    assert schema["required"] == ["name"]
    assert {"clustering", "validation", "transactions"} <= set(schema["properties"])
    assert not {"root", "config_path", "overrides"} & set(schema["properties"])
    alpha = schema["$defs"]["ValidationSettings"]["properties"]["alpha"]
    assert (alpha["exclusiveMinimum"], alpha["exclusiveMaximum"]) == (0, 1)
    assert alpha["default"] == 0.05 and alpha["description"]
    assert schema["$defs"]["ClusteringSettings"]["additionalProperties"] is False


def test_validate_config_takes_a_dict_and_a_root(tmp_path):
    config = validate_config(_body(), root=tmp_path)
    assert config.transactions.path == str(tmp_path / "t.csv")
    assert config.root == str(tmp_path)


def test_the_bundled_config_loads():
    config = load_config(ROOT / "configs" / "online_retail.yaml")
    assert config["name"] == "online-retail"
    assert config["transactions"]["path"].endswith("data/raw/online_retail.csv.gz")


def test_a_pickled_config_is_the_same_bytes_in_every_process():
    """model.joblib holds the config: its pickle must not follow string hashing."""
    code = (
        "import hashlib, pickle; from segkit.config import load_config; "
        "c = load_config('tests/fixtures/retail_small.yaml'); "
        "b = pickle.dumps(c); assert pickle.loads(b) == c; "
        "print(hashlib.sha256(b).hexdigest())"
    )
    digests = set(python_under_hash_seeds(code, seeds=("1", "2", "3")))
    assert len(digests) == 1
