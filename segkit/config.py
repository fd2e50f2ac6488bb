"""Load, validate and override a segkit YAML configuration.

A config is one YAML file per data source (``configs/<name>.yaml``). It is merged
over :data:`DEFAULTS`, so every key a later step reads is always present. Unknown
keys are errors that list the valid keys and the closest match; ``--set a.b=value``
overrides any existing key and refuses one that does not exist.

Paths in ``transactions.path`` and ``customers.path`` are relative to the project
root (the nearest folder above the config that holds ``pyproject.toml`` or
``.git``), or absolute.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from segkit.exceptions import ConfigError

__all__ = [
    "DEFAULTS",
    "ROLES",
    "ATTRIBUTE_GROUPS",
    "load_config",
    "parse_overrides",
    "apply_overrides",
    "validate_config",
    "project_root",
]

#: Column roles a transactions table can map. ``customer_id``, ``order_id`` and
#: ``timestamp`` are required, and either ``amount`` or ``quantity`` + ``unit_price``.
ROLES = (
    "customer_id",
    "order_id",
    "timestamp",
    "quantity",
    "unit_price",
    "amount",
    "product_id",
    "description",
    "country",
    "category",
    "channel",
)

#: Attribute groups a customers table can declare, one per segmentation type.
ATTRIBUTE_GROUPS = (
    "demographic",
    "geographic",
    "psychographic",
    "firmographic",
    "behavioural",
)

_READ_DEFAULTS: dict[str, Any] = {
    "sep": None,  # None: sniffed from the file (comma, tab, semicolon, pipe, spaces)
    "encoding": "utf-8",
    "date_format": None,  # e.g. "%d-%m-%Y" or "%Y%m%d"; None: ISO and common formats
    "dayfirst": False,
    "sheet": None,  # Excel sheet name or index
    "decimal": ".",
}

# Every key a config may hold, with its default. ``None`` means "no default value";
# a dict whose keys are free (role maps, attribute lists) is marked in _FREE_KEYS.
DEFAULTS: dict[str, Any] = {
    "name": None,
    "description": "",
    "transactions": None,
    "customers": None,
    "as_of": None,
    "seed": 0,
    "cleaning": {
        "missing_customer_id": True,
        "cancellations": True,
        "cancellation_prefix": "C",
        "negative_quantity": True,
        "nonpositive_price": True,
        "non_product": True,
        "non_product_codes": [
            "POST",
            "DOT",
            "M",
            "m",
            "C2",
            "D",
            "S",
            "B",
            "BANK CHARGES",
            "AMAZONFEE",
            "CRUK",
            "PADS",
        ],
        "non_product_prefixes": ["gift_0001_"],
        "duplicates": True,
        "after_as_of": True,
    },
    "quality": {
        "min_customers": 500,
        "min_history_days": 180,
        "min_repeat_share": 0.2,
        "outlier_iqr": 3.0,
        "pii_columns": [],
    },
    "features": {
        "top_countries": 10,
        "rare_share": 0.01,
        "exclude": [],
        # column -> its levels in order, e.g. {Education: [Basic, Master, PhD]}
        "ordinal": {},
    },
    "rfm": {
        "bins": 5,
        "scheme": "ten",
    },
    "preprocess": {
        "skew": "log1p",
        "skew_threshold": 1.0,
        "scaler": "robust",
        "near_constant_share": 0.99,
        "correlation_threshold": 0.9,
        "rare_share": 0.01,
        "tied_share": 0.25,
        "clip": 5.0,
    },
    "clustering": {
        "algorithms": ["kmeans", "minibatch_kmeans", "gmm", "ward", "hdbscan"],
        "representations": ["scaled", "pca", "umap"],
        "k_min": 2,
        "k_max": 10,
        "fit_sample": 50000,
        "metric_sample": 10000,
        "ward_sample": 10000,
        "pca_variance": 0.9,
        "umap_components": 5,
        "umap_neighbors": 30,
        "hdbscan_min_cluster_share": 0.02,
        "stability_refits": 3,
        "min_segment_share": 0.03,
        "max_segments": 8,
        "min_stability": 0.6,
        "choice": None,
        "n_init": 10,  # k-means restarts (one k-means++ start lands in bad optima)
        "dbcv_sample": 3000,  # exact DBCV is quadratic in memory: bounded sample
        "max_noise_share": 0.25,  # HDBSCAN "Unassigned" share above this: ineligible
        "max_segment_share": 0.8,  # a segment holding more: ineligible (fringe split)
        "segment_penalty": 0.01,  # score cost of each segment beyond two
        "map_method": "auto",  # 2-D map: "umap", "pca", or auto (umap if listed)
        "map_sample": 5000,  # customers drawn on the 2-D map (embedding.parquet)
    },
    "validation": {
        "bootstrap": 50,
        "sample_size": 2000,
        "horizon_days": 90,
        "alpha": 0.05,
        "outcome": None,
        "ci_level": 0.95,
        "ci_resamples": 1000,  # bootstrap resamples of each outcome CI (cheap)
        "ps_splits": 2,  # prediction strength: random half-splits per k (2 folds each)
        "min_effect": 0.33,  # |Cliff's delta| that separates two segments (medium)
        "keep_jaccard": 0.75,  # verdict: keep at or above (Hennig: stable)
        "watch_jaccard": 0.6,  # verdict: below -> not trustworthy, merge
        "refit": "auto",  # what refits re-estimate: auto|model|representation|clustering
    },
    "profiles": {
        "names_file": None,
        "hash_ids": True,
        "tree_depth": 3,
        "compare_to": None,
        "min_leaf_share": 0.01,  # smallest surrogate-tree leaf, share of customers
        "match_max_distance": 1.0,  # names file: max RMS std distance of centroids
        "key_features": None,  # medians in the profile table; None: RFM columns
    },
    "report": {
        "output_dir": "reports",
        "timeout": 1800,
        "notebooks": None,
    },
}

_TABLE_DEFAULTS: dict[str, Any] = {
    "path": None,
    "read": _READ_DEFAULTS,
    "columns": {},
}
_CUSTOMERS_EXTRA: dict[str, Any] = {
    "attributes": {group: [] for group in ATTRIBUTE_GROUPS},
    "outcomes": [],
    "birth_year": None,
    "signup_date": None,
}

_REQUIRED_ROLES = ("customer_id", "order_id", "timestamp")


def project_root(start: str | Path) -> Path:
    """Return the nearest folder at or above ``start`` holding pyproject.toml or .git.

    Falls back to the folder of ``start`` itself when none is found.
    """
    path = Path(start).resolve()
    folder = path if path.is_dir() else path.parent
    for candidate in (folder, *folder.parents):
        if (candidate / "pyproject.toml").exists() or (candidate / ".git").exists():
            return candidate
    return folder


def _closest(key: str, valid: Iterable[str]) -> str:
    match = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.5)
    return f"; did you mean {match[0]!r}?" if match else ""


def _check_keys(given: Mapping[str, Any], valid: Iterable[str], where: str) -> None:
    valid = list(valid)
    for key in given:
        if key not in valid:
            raise ConfigError(
                f"unknown config key {where + key!r}{_closest(str(key), valid)} "
                f"(valid keys under {where.rstrip('.') or 'the top level'}: "
                f"{', '.join(valid)}); fix the spelling or remove the key"
            )


def _merge(defaults: Any, given: Any, where: str) -> Any:
    """Merge ``given`` over ``defaults`` recursively, refusing unknown keys."""
    if isinstance(defaults, dict) and defaults and given is not None:
        if not isinstance(given, Mapping):
            raise ConfigError(
                f"config key {where.rstrip('.')!r} must be a mapping of "
                f"{', '.join(defaults)}, got {given!r}"
            )
        _check_keys(given, defaults, where)
        merged = copy.deepcopy(defaults)
        for key, value in given.items():
            merged[key] = _merge(defaults[key], value, f"{where}{key}.")
        return merged
    if given is None:
        return copy.deepcopy(defaults)
    return copy.deepcopy(given)


def _merge_table(given: Any, where: str, *, customers: bool) -> dict[str, Any] | None:
    if given is None:
        return None
    defaults = copy.deepcopy(_TABLE_DEFAULTS)
    if customers:
        defaults.update(copy.deepcopy(_CUSTOMERS_EXTRA))
    if not isinstance(given, Mapping):
        raise ConfigError(
            f"config key {where!r} must be a mapping with path and columns, got {given!r}"
        )
    _check_keys(given, defaults, f"{where}.")
    merged = copy.deepcopy(defaults)
    for key, value in given.items():
        if key == "read":
            merged["read"] = _merge(_READ_DEFAULTS, value, f"{where}.read.")
        elif key == "attributes":
            _check_keys(value or {}, ATTRIBUTE_GROUPS, f"{where}.attributes.")
            for group, cols in (value or {}).items():
                merged["attributes"][group] = _as_list(
                    cols, f"{where}.attributes.{group}"
                )
        elif key == "outcomes":
            merged["outcomes"] = _as_list(value, f"{where}.outcomes")
        elif key == "columns":
            if not isinstance(value, Mapping):
                raise ConfigError(
                    f"config key '{where}.columns' must map roles to column names, "
                    f"got {value!r}"
                )
            merged["columns"] = dict(value)
        else:
            merged[key] = value
    return merged


def _as_list(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    raise ConfigError(
        f"config key {where!r} must be a list of column names, got {value!r}"
    )


def _parse_date(value: Any, where: str) -> dt.date | None:
    if (
        value is None
        or isinstance(value, dt.date)
        and not isinstance(value, dt.datetime)
    ):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(
            f"config key {where!r} is {value!r}, which is not a date; "
            "write it as YYYY-MM-DD, e.g. as_of: 2011-12-10"
        ) from None


def validate_config(
    raw: Mapping[str, Any], *, root: Path | None = None
) -> dict[str, Any]:
    """Merge a raw config over the defaults and check it.

    Parameters
    ----------
    raw : mapping
        The parsed YAML.
    root : Path, optional
        Folder that relative data paths are resolved against.

    Returns
    -------
    dict
        The full config; every section of :data:`DEFAULTS` is present. Data paths are
        absolute, ``as_of`` is a ``datetime.date`` or None.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"a config must be a YAML mapping of keys, got {type(raw).__name__}"
        )
    _check_keys(raw, DEFAULTS, "")
    config: dict[str, Any] = {}
    for key, default in DEFAULTS.items():
        if key == "transactions":
            config[key] = _merge_table(raw.get(key), key, customers=False)
        elif key == "customers":
            config[key] = _merge_table(raw.get(key), key, customers=True)
        else:
            config[key] = _merge(default, raw.get(key), f"{key}.")
    if not config["name"]:
        raise ConfigError(
            "config key 'name' is missing; give the data source a short name"
        )
    config["name"] = str(config["name"])
    if config["transactions"] is None and config["customers"] is None:
        raise ConfigError(
            "the config has neither 'transactions' nor 'customers'; declare at least one "
            "data source with a path and its columns"
        )
    config["as_of"] = _parse_date(config["as_of"], "as_of")
    if not isinstance(config["seed"], int) or isinstance(config["seed"], bool):
        raise ConfigError(
            f"config key 'seed' must be an integer, got {config['seed']!r}"
        )
    root = Path(root) if root is not None else Path.cwd()
    config["root"] = str(root)
    for table in ("transactions", "customers"):
        section = config[table]
        if section is None:
            continue
        if not section["path"]:
            raise ConfigError(
                f"config key '{table}.path' is missing; set it to the data file"
            )
        path = Path(str(section["path"])).expanduser()
        section["path"] = str(path if path.is_absolute() else (root / path).resolve())
        _check_roles(section["columns"], table)
    _check_choices(config)
    return config


def _check_roles(columns: Mapping[str, Any], table: str) -> None:
    if table == "customers":
        if "customer_id" not in columns:
            raise ConfigError(
                "config key 'customers.columns.customer_id' is missing; set it to the "
                "column holding the customer id"
            )
        return
    _check_keys(columns, ROLES, f"{table}.columns.")
    missing = [role for role in _REQUIRED_ROLES if role not in columns]
    if missing:
        raise ConfigError(
            f"config key '{table}.columns' lacks the roles {missing}; map each to the "
            "column of the file that holds it"
        )
    if "amount" not in columns and not {"quantity", "unit_price"} <= set(columns):
        raise ConfigError(
            f"config key '{table}.columns' needs either 'amount' (the order-line value) "
            "or both 'quantity' and 'unit_price'"
        )


def _check_choices(config: Mapping[str, Any]) -> None:
    choices = {
        ("rfm", "bins"): (3, 4, 5),
        ("rfm", "scheme"): ("ten", "six"),
        ("preprocess", "skew"): ("log1p", "yeo-johnson", "none"),
        ("preprocess", "scaler"): ("robust", "standard"),
    }
    for (section, key), allowed in choices.items():
        value = config[section][key]
        if value not in allowed:
            raise ConfigError(
                f"config key '{section}.{key}' is {value!r}; use one of {list(allowed)}"
            )
    clustering = config["clustering"]
    if clustering["k_min"] < 2 or clustering["k_max"] < clustering["k_min"]:
        raise ConfigError(
            f"clustering.k_min={clustering['k_min']} and k_max={clustering['k_max']} "
            "do not make a range; use 2 <= k_min <= k_max"
        )


def parse_overrides(items: Iterable[str] | Mapping[str, Any] | None) -> dict[str, Any]:
    """Turn ``["clustering.k_max=8", ...]`` into ``{"clustering.k_max": 8}``.

    Values are read as YAML, so ``8`` is an int, ``[a, b]`` a list, ``null`` None.
    """
    if items is None:
        return {}
    if isinstance(items, Mapping):
        return dict(items)
    parsed: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(
                f"override {item!r} has no '='; write it as key.path=value, "
                "e.g. clustering.k_max=8"
            )
        key, _, text = item.partition("=")
        try:
            parsed[key.strip()] = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            parsed[key.strip()] = text
    return parsed


def apply_overrides(
    raw: Mapping[str, Any], overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """Return a copy of ``raw`` with dotted-key overrides applied.

    A key must exist in the config or in :data:`DEFAULTS` (for data sources: in the
    table's own keys); anything else is refused with the closest valid key.
    """
    result = copy.deepcopy(dict(raw))
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        node: dict[str, Any] = result
        defaults: Any = DEFAULTS
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            valid = _valid_children(node, defaults, parts[:depth])
            if part not in valid:
                where = ".".join(parts[:depth]) or "the top level"
                raise ConfigError(
                    f"override {dotted!r}: there is no key {part!r} under {where}"
                    f"{_closest(part, valid)} (valid keys: {', '.join(sorted(valid))})"
                )
            if last:
                node[part] = value
            else:
                child = node.get(part)
                if child is None:
                    child = {}
                    node[part] = child
                if not isinstance(child, dict):
                    raise ConfigError(
                        f"override {dotted!r}: {'.'.join(parts[: depth + 1])!r} is a "
                        "value, not a section"
                    )
                node = child
                defaults = defaults.get(part) if isinstance(defaults, dict) else None
    return result


def _valid_children(
    node: Mapping[str, Any], defaults: Any, path: list[str]
) -> list[str]:
    keys = set(node)
    if isinstance(defaults, dict):
        keys |= set(defaults)
    if path and path[0] in ("transactions", "customers"):
        if len(path) == 1:
            keys |= set(_TABLE_DEFAULTS)
            if path[0] == "customers":
                keys |= set(_CUSTOMERS_EXTRA)
        elif path[1:] == ["read"]:
            keys |= set(_READ_DEFAULTS)
        elif path[1:] == ["columns"]:
            keys |= set(ROLES) if path[0] == "transactions" else {"customer_id"}
        elif path[1:] == ["attributes"]:
            keys |= set(ATTRIBUTE_GROUPS)
    return sorted(keys)


def load_config(
    path: str | Path,
    overrides: Iterable[str] | Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Read a YAML config, apply overrides, validate and return the full config.

    Parameters
    ----------
    path : str or Path
        The YAML file.
    overrides : list of "key.path=value" strings or a mapping, optional
        Values that replace keys of the file (``--set`` on the command line).

    Returns
    -------
    dict
        See :func:`validate_config`. Also holds ``config_path`` (absolute) and
        ``overrides`` (the parsed overrides).
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(
            f"config file {str(path)!r} not found; pass an existing YAML file, "
            "e.g. --config configs/online_retail.yaml"
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"config file {str(path)!r} is not valid YAML: {exc}"
        ) from None
    if raw is None:
        raise ConfigError(
            f"config file {str(path)!r} is empty; see configs/online_retail.yaml"
        )
    parsed = parse_overrides(overrides)
    config = validate_config(apply_overrides(raw, parsed), root=project_root(path))
    config["config_path"] = str(path.resolve())
    config["overrides"] = parsed
    return config
