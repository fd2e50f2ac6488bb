"""The segkit config: typed settings with their defaults, loaded from YAML.

A config is one YAML file per data source (``configs/<name>.yaml``). Every key has
its type, its allowed range or choices, its default and a one-line description in
one place: the pydantic models below, one per section (``CleaningSettings``,
``ClusteringSettings``, ...) under :class:`Config`. ``segkit config schema`` prints
their JSON Schema (for editor completion), ``segkit config show`` the effective
config with every default.

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
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BeforeValidator,
    Field,
    ValidationError,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from segkit.config_base import (
    Int,
    Names,
    Section,
    Share,
    Text,
    apply_dotted,
    as_list,
    as_text,
    segkit_error,
)
from segkit.config_messages import error_lines
from segkit.config_sources import (
    ATTRIBUTE_GROUPS,
    REQUIRED_ROLES,
    ROLES,
    AttributeGroups,
    CustomerColumns,
    CustomersSource,
    ReadOptions,
    TableSource,
    TransactionColumns,
    TransactionsSource,
)
from segkit.exceptions import ConfigError
from segkit.project import find_project_root, missing_data_message, resolve_data_path

__all__ = [
    "ALGORITHMS",
    "ATTRIBUTE_GROUPS",
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
    "CleaningSettings",
    "QualitySettings",
    "FeatureSettings",
    "RfmSettings",
    "PreprocessSettings",
    "ClusteringSettings",
    "ValidationSettings",
    "ProfileSettings",
    "ReportSettings",
    "Config",
    "load_config",
    "parse_overrides",
    "apply_overrides",
    "validate_config",
    "missing_data_files",
    "project_root",
    "config_schema",
]

#: Clusterers the comparison can fit (``clustering.algorithms``).
ALGORITHMS = ("kmeans", "minibatch_kmeans", "gmm", "ward", "hdbscan")
#: Representations the clusterers run on (``clustering.representations``).
REPRESENTATIONS = ("scaled", "pca", "umap")

_SET_BY_SEGKIT = ("root", "config_path", "overrides")

# Short private names the section validators below use.
_segkit_error, _as_text, _as_list = segkit_error, as_text, as_list


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


_NON_PRODUCT_CODES = [
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
]


class CleaningSettings(Section):
    """``cleaning``: which documented rules run (each leaves a ledger line)."""

    missing_customer_id: bool = Field(True, description="drop lines without customer")
    cancellations: bool = Field(True, description="drop cancelled orders")
    cancellation_prefix: str = Field("C", description="order id prefix of cancels")
    negative_quantity: bool = Field(True, description="move returns aside")
    nonpositive_price: bool = Field(True, description="drop zero / negative prices")
    non_product: bool = Field(True, description="drop postage, fees, ...")
    non_product_codes: Names = Field(
        default_factory=lambda: list(_NON_PRODUCT_CODES),
        description="product ids that are not products",
    )
    non_product_prefixes: Names = Field(
        default_factory=lambda: ["gift_0001_"],
        description="product id prefixes that are not products",
    )
    duplicates: bool = Field(True, description="drop exact duplicate lines")
    after_as_of: bool = Field(True, description="drop lines after as_of")


class QualitySettings(Section):
    """``quality``: data-sufficiency gate and quality checks."""

    min_customers: Int = Field(500, ge=0, description="fewest customers to segment")
    min_history_days: Int = Field(180, ge=0, description="shortest history, days")
    min_repeat_share: Share = Field(0.2, description="share of repeat customers")
    outlier_iqr: float = Field(3.0, gt=0, description="outlier fence, IQR multiples")
    pii_columns: Names = Field([], description="columns known to hold personal data")


class FeatureSettings(Section):
    """``features``: per-customer features."""

    top_countries: Int = Field(10, ge=1, description="countries kept; rest: Other")
    rare_share: float = Field(0.01, ge=0, lt=1, description="rarer levels: Other")
    exclude: Names = Field([], description="feature columns left out")
    ordinal: dict[Text, Names] = Field(
        {}, description="column -> its levels in order, e.g. {Education: [Basic, PhD]}"
    )


class RfmSettings(Section):
    """``rfm``: RFM scores and the named RFM segments."""

    bins: Literal[3, 4, 5] = Field(5, description="score bins per R, F, M")
    scheme: Literal["ten", "six"] = Field("ten", description="named-segment scheme")


class PreprocessSettings(Section):
    """``preprocess``: the Preprocessor's settings (skew, scaling, pruning)."""

    skew: Literal["log1p", "yeo-johnson", "none"] = Field(
        "log1p", description="transform of skewed features"
    )
    skew_threshold: float = Field(1.0, ge=0, description="|skewness| that counts")
    scaler: Literal["robust", "standard"] = Field("robust", description="scaling")
    near_constant_share: float = Field(0.99, gt=0, le=1, description="drop above")
    correlation_threshold: float = Field(0.9, gt=0, le=1, description="drop above")
    rare_share: float = Field(0.01, ge=0, lt=1, description="rare one-hot levels")
    tied_share: Share = Field(0.25, description="share of ties that switches scaler")
    clip: float | None = Field(5.0, gt=0, description="clip scaled values; null: no")
    duplicate_threshold: float | None = Field(
        0.9, gt=0, le=1, description="|Spearman r| of near-duplicates; null: keep all"
    )


class ClusteringSettings(Section):
    """``clustering``: candidates, k range, samples and the recommendation rule."""

    algorithms: list[Literal[ALGORITHMS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: list(ALGORITHMS), min_length=1, description="clusterers"
    )
    representations: list[Literal[REPRESENTATIONS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: list(REPRESENTATIONS),
        min_length=1,
        description="feature spaces the clusterers run on",
    )
    k_min: Int = Field(2, ge=2, description="fewest segments tried")
    k_max: Int = Field(10, ge=2, description="most segments tried")
    fit_sample: Int = Field(50000, ge=1, description="customers a model is fit on")
    metric_sample: Int = Field(10000, ge=1, description="silhouette sample")
    ward_sample: Int = Field(10000, ge=1, description="Ward (quadratic) sample")
    pca_variance: float = Field(0.9, gt=0, le=1, description="variance PCA keeps")
    umap_components: Int = Field(5, ge=1, description="UMAP dimensions")
    umap_neighbors: Int = Field(30, ge=2, description="UMAP n_neighbors")
    hdbscan_min_cluster_share: float = Field(0.02, gt=0, lt=1, description="share")
    stability_refits: Int = Field(3, ge=0, description="seed refits per candidate")
    min_segment_share: Share = Field(0.03, description="smallest segment allowed")
    max_segments: Int = Field(8, ge=2, description="most segments recommended")
    min_stability: Share = Field(0.6, description="seed-stability ARI needed")
    choice: str | None = Field(None, description="e.g. kmeans/scaled/5: overrides")
    n_init: Int = Field(10, ge=1, description="k-means restarts")
    gmm_n_init: Int = Field(3, ge=1, description="Gaussian-mixture EM restarts")
    n_jobs: Int = Field(1, ge=-1, description="parallel candidate fits (-1: cores)")
    dbcv_sample: Int = Field(3000, ge=2, description="DBCV sample (quadratic memory)")
    max_noise_share: Share = Field(0.25, description="HDBSCAN noise above: ineligible")
    max_segment_share: float = Field(0.8, gt=0, le=1, description="bigger: ineligible")
    segment_penalty: float = Field(0.01, ge=0, description="score cost per segment >2")
    map_method: Literal["auto", "umap", "pca"] = Field("auto", description="2-D map")
    map_sample: Int = Field(5000, ge=1, description="customers on the 2-D map")
    finalists_per_k: Int = Field(2, ge=1, description="candidates refitted per k")
    ps_splits: Int = Field(10, ge=1, description="prediction-strength half-splits")
    ps_cutoff: Share = Field(0.8, description="median prediction strength needed")
    jaccard_refits: Int = Field(20, ge=1, description="bootstrap refits (Jaccard)")
    min_jaccard: Share = Field(0.6, description="every segment's Jaccard needed")
    stable_jaccard: Share = Field(0.75, description="below: doubtful, weak")
    refit_sample: Int = Field(2000, ge=20, description="customers per refit")
    null_refs: Int = Field(10, ge=2, description="structureless references per k")
    null_z: float = Field(3.0, ge=0, description="SDs above the null R2 needed")
    null_margin: Share = Field(0.01, description="R2 above the null needed")
    weak_silhouette: float = Field(0.25, ge=-1, le=1, description="below: weak")
    stability_tolerance: Share = Field(0.05, description="equally stable within")

    @model_validator(mode="after")
    def _k_range(self) -> ClusteringSettings:
        if self.k_max < self.k_min:
            raise _segkit_error(
                f"clustering.k_min={self.k_min} and k_max={self.k_max} do not make a "
                "range; use 2 <= k_min <= k_max"
            )
        return self


class ValidationSettings(Section):
    """``validation``: stability, distinctness and outcome validity."""

    bootstrap: Int = Field(50, ge=1, description="bootstrap refits (Jaccard)")
    sample_size: Int = Field(2000, ge=2, description="customers per refit")
    horizon_days: Int = Field(90, ge=1, description="outcome window after as_of")
    alpha: float = Field(0.05, gt=0, lt=1, description="significance level")
    outcome: str | None = Field(None, description="outcome column; null: first one")
    ci_level: float = Field(0.95, gt=0, lt=1, description="confidence level")
    ci_resamples: Int = Field(1000, ge=1, description="bootstrap resamples per CI")
    ps_splits: Int = Field(2, ge=1, description="prediction-strength half splits")
    min_effect: Share = Field(0.33, description="|Cliff's delta| that separates")
    keep_jaccard: Share = Field(0.75, description="keep at or above (stable)")
    watch_jaccard: Share = Field(0.6, description="below: not trustworthy, merge")
    refit: Literal["auto", "model", "representation", "clustering"] = Field(
        "auto", description="what the refits re-estimate"
    )
    permutations: Int = Field(
        200, ge=19, description="label permutations of the held-out outcome null"
    )

    @model_validator(mode="after")
    def _jaccard_order(self) -> ValidationSettings:
        if self.watch_jaccard > self.keep_jaccard:
            raise _segkit_error(
                f"validation.watch_jaccard={self.watch_jaccard} is above "
                f"keep_jaccard={self.keep_jaccard}; use watch_jaccard <= keep_jaccard"
            )
        return self


class ProfileSettings(Section):
    """``profiles``: profiles, names, rules and migration."""

    names_file: str | None = Field(None, description="YAML of segment names")
    hash_ids: bool = Field(True, description="pseudonymise ids in reports")
    tree_depth: Int = Field(3, ge=1, le=10, description="surrogate-tree depth")
    compare_to: str | None = Field(None, description="earlier run folder")
    min_leaf_share: float = Field(0.01, gt=0, le=0.5, description="smallest leaf")
    match_max_distance: float = Field(1.0, gt=0, description="names file: max RMS")
    key_features: Names | None = Field(None, description="null: RFM columns")
    claim_coverage: Share = Field(
        0.8, description="share of members a name's claim must hold for"
    )
    recent_days: Int = Field(
        30, ge=1, description="bought within: never suppressed or 'reactivated'"
    )


LIFECYCLE_STATES = ("new", "active", "at risk", "lapsed")


class LifecycleSettings(Section):
    """``lifecycle``: rule-based states new / active / at risk / lapsed."""

    new_days: Int = Field(90, ge=0, description="first order within: new")
    lapsed_days: Int = Field(180, ge=0, description="no order for more: lapsed")
    at_risk_days: Int = Field(90, ge=0, description="no order for more: at risk")
    at_risk_gap_factor: float = Field(
        2.0, gt=0, description="silent > this x own typical gap: at risk"
    )
    at_risk_min_days: Int = Field(30, ge=0, description="floor of the gap rule, days")
    cluster_within: list[Literal[LIFECYCLE_STATES]] | None = Field(  # type: ignore[valid-type]
        None, description="segment only these states; null: everyone"
    )

    @model_validator(mode="after")
    def _order(self) -> LifecycleSettings:
        if self.at_risk_days > self.lapsed_days:
            raise _segkit_error(
                f"lifecycle.at_risk_days={self.at_risk_days} exceeds lapsed_days="
                f"{self.lapsed_days}; at risk comes before lapsed: use at_risk_days "
                "<= lapsed_days"
            )
        if self.cluster_within is not None and not self.cluster_within:
            raise _segkit_error(
                "lifecycle.cluster_within is []; list states or use null for everyone"
            )
        return self


def _as_selection(value: Any) -> Any:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, int) and not isinstance(value, bool):
        return [f"{value:02d}"]
    if isinstance(value, list | tuple):
        return [f"{v:02d}" if isinstance(v, int) else v for v in value]
    return value


class ValueSettings(Section):
    """``value``: customer lifetime value (BG/NBD + Gamma-Gamma, pymc-marketing)."""

    enabled: bool = Field(True, description="estimate CLV when there are transactions")
    method: Literal["map", "mcmc"] = Field(
        "map", description="map: seconds, no intervals; mcmc: NUTS with intervals"
    )
    horizon_days: Int | None = Field(
        None, ge=1, description="expected-revenue horizon; null: validation's"
    )
    clv_months: Int = Field(12, ge=1, le=120, description="CLV period, months")
    discount_rate: float = Field(
        0.01, ge=0, lt=1, description="monthly discount rate of the CLV"
    )
    risk_threshold: Share = Field(
        0.5, description="probability alive below it: customer at risk"
    )


class ReportSettings(Section):
    """``report``: where run folders go and how long a cell may run."""

    output_dir: str = Field("reports", description="relative: to the project root")
    timeout: Int | None = Field(1800, ge=1, description="seconds per cell; null: none")
    notebooks: Annotated[list[str] | None, BeforeValidator(_as_selection)] = Field(
        None, description="run only these, e.g. [01, 02]; null: all"
    )
    currency: str = Field(
        "", max_length=5, description="money prefix in reports, e.g. '£' or 'EUR '"
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
    return config


def missing_data_files(config: Config) -> list[str]:
    """A message per declared data file that does not exist (naming where it was
    looked for); empty when every file is there."""
    out = []
    for table in ("transactions", "customers"):
        section = config.get(table)
        if section is None or Path(section["path"]).exists():
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
