"""The segkit config: typed settings with their defaults, loaded from YAML.

A config is one YAML file per data source (``configs/<name>.yaml``). Every key has
its type, its allowed range or choices, its default and a one-line description in
one place: the pydantic models, one per section (``CleaningSettings``,
``ClusteringSettings``, ...) under :class:`Config`. ``segkit config schema`` prints
their JSON Schema (for editor completion), ``segkit config show`` the effective
config with every default.

The section models live in :mod:`segkit.config_sections`, the data sources in
:mod:`segkit.config_sources`; this module holds :class:`Config`, the loader and the
validator, and re-exports every model so ``from segkit.config import ...`` works.

Unknown keys and bad values are refused together: one :class:`ConfigError` with one
line per problem naming the dotted key, the value given, what is allowed and the
closest valid key or choice. ``--set a.b=value`` overrides any existing key.

Paths in ``transactions.path`` and ``customers.path`` are absolute, or relative to
the config file's folder or else to the project root (the first that exists; see
:mod:`segkit.project`).

Code reads typed fields, ``config.clustering.k_max``; item access
``config["clustering"]["k_max"]``, ``.get``, ``in``, ``keys()``/``items()`` and item
assignment work too, so a config passes wherever a mapping did.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BeforeValidator, Field, ValidationError, model_validator
from pydantic.json_schema import SkipJsonSchema

from segkit.config_base import (
    Int,
    Section,
    apply_dotted,
    as_text,
    segkit_error,
)
from segkit.config_engine import ENGINES, EngineField, EngineSettings, SparkSettings
from segkit.config_messages import error_lines
from segkit.config_sections import (
    ALGORITHMS,
    LIFECYCLE_STATES,
    REPRESENTATIONS,
    CleaningSettings,
    ClusteringSettings,
    ExtraFeature,
    FeatureSettings,
    LifecycleSettings,
    MixFeature,
    PreprocessSettings,
    ProfileSettings,
    QualitySettings,
    ReportSettings,
    RfmSettings,
    ValidationSettings,
    ValueSettings,
)
from segkit.config_sources import (
    ATTRIBUTE_GROUPS,
    REQUIRED_ROLES,
    ROLES,
    AttributeGroups,
    CustomerColumns,
    CustomersSource,
    LookupSource,
    ReadOptions,
    TableSource,
    TransactionColumns,
    TransactionsSource,
)
from segkit.exceptions import ConfigError
from segkit.project import (
    data_path_exists,
    find_project_root,
    missing_data_message,
    resolve_data_path,
)

__all__ = [
    "ALGORITHMS",
    "ATTRIBUTE_GROUPS",
    "LIFECYCLE_STATES",
    "DEFAULTS",
    "REPRESENTATIONS",
    "REQUIRED_ROLES",
    "ROLES",
    "Section",
    "ReadOptions",
    "TransactionColumns",
    "CustomerColumns",
    "AttributeGroups",
    "TableSource",
    "TransactionsSource",
    "CustomersSource",
    "LookupSource",
    "ExtraFeature",
    "MixFeature",
    "CleaningSettings",
    "QualitySettings",
    "FeatureSettings",
    "RfmSettings",
    "PreprocessSettings",
    "ClusteringSettings",
    "ValidationSettings",
    "ProfileSettings",
    "LifecycleSettings",
    "ValueSettings",
    "ReportSettings",
    "ENGINES",
    "EngineSettings",
    "SparkSettings",
    "Config",
    "load_config",
    "parse_overrides",
    "apply_overrides",
    "validate_config",
    "missing_data_files",
    "project_root",
    "config_schema",
]

_SET_BY_SEGKIT = ("root", "config_path", "overrides")

# Short private names the validators below use.
_segkit_error, _as_text = segkit_error, as_text


def _as_date(value: Any) -> Any:
    if value is None or type(value) is dt.date:
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _segkit_error(
        f"config key 'as_of' is {value!r}, which is not a date; write it as "
        "YYYY-MM-DD, e.g. as_of: 2011-12-10"
    )


class Config(Section):
    """A whole segkit config (see the module docstring)."""

    name: Annotated[str, BeforeValidator(_as_text)] = Field(
        min_length=1, description="short name of the data source"
    )
    description: str = Field("", description="one line about the data")
    transactions: TransactionsSource | None = None
    customers: CustomersSource | None = None
    as_of: Annotated[dt.date | None, BeforeValidator(_as_date)] = Field(
        None, description="analysis date; null: day after the newest transaction"
    )
    seed: Int = Field(0, ge=0, description="random seed of every step")
    cleaning: CleaningSettings = Field(default_factory=CleaningSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    features: FeatureSettings = Field(default_factory=FeatureSettings)
    rfm: RfmSettings = Field(default_factory=RfmSettings)
    preprocess: PreprocessSettings = Field(default_factory=PreprocessSettings)
    clustering: ClusteringSettings = Field(default_factory=ClusteringSettings)
    validation: ValidationSettings = Field(default_factory=ValidationSettings)
    profiles: ProfileSettings = Field(default_factory=ProfileSettings)
    lifecycle: LifecycleSettings = Field(default_factory=LifecycleSettings)
    value: ValueSettings = Field(default_factory=ValueSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    engine: EngineField = Field(default_factory=EngineSettings)
    # Set by segkit when it loads a file, never in the YAML:
    root: SkipJsonSchema[str] = "."
    config_path: SkipJsonSchema[str | None] = None
    overrides: SkipJsonSchema[dict[str, Any]] = {}

    @model_validator(mode="after")
    def _a_source(self) -> Config:
        if self.transactions is None and self.customers is None:
            raise _segkit_error(
                "the config has neither 'transactions' nor 'customers'; declare at "
                "least one data source with a path and its columns"
            )
        return self


def config_schema() -> dict[str, Any]:
    """JSON Schema of a config file (``segkit config schema``)."""
    schema = Config.model_json_schema()
    schema["title"] = "segkit config"
    return schema


def _defaults() -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": None,
        "description": "",
        "transactions": None,
        "customers": None,
        "as_of": None,
        "seed": 0,
    }
    for key, info in Config.model_fields.items():
        if key not in out and key not in _SET_BY_SEGKIT:
            out[key] = info.default_factory().model_dump()  # type: ignore[misc]
    return out


#: Every section's defaults as plain dicts (read-only view for tests and benchmarks;
#: the models above are the source).
DEFAULTS: dict[str, Any] = _defaults()


def project_root(start: str | Path | None = None) -> Path:
    """The segkit project folder, found from the current folder (or ``start``).

    See :func:`segkit.project.find_project_root`.
    """
    return find_project_root(start)


def _fail(problems: list[str], source: str | None) -> ConfigError:
    if len(problems) == 1:
        error = ConfigError(problems[0])
    else:
        where = f"config file {source!r}" if source else "the config"
        error = ConfigError(
            f"{where} has {len(problems)} problems:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
    error.problems = problems  # type: ignore[attr-defined]
    return error


def validate_config(
    raw: Mapping[str, Any],
    *,
    root: Path | None = None,
    config_dir: Path | None = None,
    source: str | None = None,
) -> Config:
    """Check a raw config and fill in every default.

    Parameters
    ----------
    raw : mapping
        The parsed YAML.
    root : Path, optional
        The project root; default :func:`project_root` (from the current folder).
    config_dir : Path, optional
        The config file's folder, tried before ``root`` for relative data paths.
    source : str, optional
        The config file, named in a message with several problems.

    Returns
    -------
    Config
        Data paths are absolute, ``as_of`` is a ``datetime.date`` or None.

    Raises
    ------
    ConfigError
        One line per problem (all of them at once).
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"a config must be a YAML mapping of keys, got {type(raw).__name__}"
        )
    problems = [
        f"config key {key!r} is set by segkit, not in the file; remove it"
        for key in _SET_BY_SEGKIT
        if key in raw
    ]
    body = {k: v for k, v in raw.items() if k not in _SET_BY_SEGKIT}
    if body.get("transactions") is None and body.get("customers") is None:
        problems.append(
            "the config has neither 'transactions' nor 'customers'; declare at "
            "least one data source with a path and its columns"
        )
    root = Path(root) if root is not None else project_root()
    problems += _across_sections(body)
    try:
        config = Config.model_validate({**body, "root": str(root)})
    except ValidationError as exc:
        problems += error_lines(Config, exc.errors(), hidden=_SET_BY_SEGKIT)
    if problems:
        raise _fail(list(dict.fromkeys(problems)), source)
    for table in ("transactions", "customers"):
        section = config[table]
        if section is not None:
            path, tried = resolve_data_path(
                section.path, config_dir=config_dir, root=root
            )
            section._given = section.path
            section.path = str(path)
            section._tried = [str(p) for p in tried]
    if config.transactions is not None:  # lookup tables resolve like the data files
        for lookup in config.transactions.lookups:
            path, _ = resolve_data_path(lookup.path, config_dir=config_dir, root=root)
            lookup.path = str(path)
    return config


def _across_sections(body: Mapping[str, Any]) -> list[str]:
    """Problems that involve two sections (each section validates itself), read
    from the raw file so they are reported with every other problem at once."""

    def raw(section: str, key: str) -> Any:
        part = body.get(section)
        return part.get(key) if isinstance(part, Mapping) else None

    problems = []
    choice = raw("clustering", "choice")
    if choice and str(choice).split("/")[0].strip() == "clv_tiers":
        if raw("value", "as_features") is not True:
            problems.append(
                f"clustering.choice is {choice!r}, but value.as_features is false: "
                "the CLV tiers are cut on the clv feature; set value.as_features: "
                "true (and value.enabled: true) or choose a clustering candidate"
            )
    return problems


def missing_data_files(config: Config) -> list[str]:
    """A message per declared data file that does not exist (naming where it was
    looked for); empty when every file is there."""
    out = []
    for table in ("transactions", "customers"):
        section = config.get(table)
        if section is None or data_path_exists(section["path"]):
            continue
        tried = list(getattr(section, "_tried", None) or [])
        given = getattr(section, "_given", "")
        if str(section.path) not in tried:  # set after loading: only it was tried
            tried, given = [str(section.path)], str(section.path)
        out.append(
            missing_data_message(f"{table}.path", given, [Path(p) for p in tried])
        )
    return out


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

    A key must be one the config models know (or any key of a free map such as
    ``features.ordinal``); anything else is refused with the closest valid key.
    """
    return apply_dotted(raw, overrides, Config, hidden=_SET_BY_SEGKIT)


def _read_yaml(path: Path) -> Any:
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
    return raw


def load_config(
    path: str | Path,
    overrides: Iterable[str] | Mapping[str, Any] | None = None,
    *,
    root: str | Path | None = None,
) -> Config:
    """Read a YAML config, apply overrides, validate and return the full config.

    Parameters
    ----------
    path : str or Path
        The YAML file, anywhere on disk.
    overrides : list of "key.path=value" strings or a mapping, optional
        Values that replace keys of the file (``--set`` on the command line).
    root : str or Path, optional
        The project root; default: found from the current folder
        (:func:`project_root`).

    Returns
    -------
    Config
        See :func:`validate_config`; also holds ``config_path`` (absolute),
        ``overrides`` (the parsed overrides) and ``root``.
    """
    path = Path(path).expanduser()
    raw = _read_yaml(path)
    parsed = parse_overrides(overrides)
    config = validate_config(
        apply_overrides(raw, parsed),
        root=Path(root) if root is not None else None,
        config_dir=path.resolve().parent,
        source=str(path),
    )
    config.config_path = str(path.resolve())
    config.overrides = parsed
    return config
