"""The settings sections of a config: one typed model per YAML section.

Every key has its type, range or choices, default and a one-line description here
(``CleaningSettings``, ``QualitySettings``, ..., ``ReportSettings``);
:class:`segkit.config.Config` holds them together with the data sources
(:mod:`segkit.config_sources`) and :mod:`segkit.config` loads and checks a file.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from segkit.config_base import Int, Names, Section, Share, Text, segkit_error

__all__ = [
    "ALGORITHMS",
    "REPRESENTATIONS",
    "LIFECYCLE_STATES",
    "CleaningSettings",
    "QualitySettings",
    "FeatureSettings",
    "ExtraFeature",
    "MixFeature",
    "RfmSettings",
    "PreprocessSettings",
    "ClusteringSettings",
    "ValidationSettings",
    "ProfileSettings",
    "LifecycleSettings",
    "ValueSettings",
    "ReportSettings",
]

#: Clusterers the comparison can fit (``clustering.algorithms``).
ALGORITHMS = ("kmeans", "minibatch_kmeans", "gmm", "ward", "hdbscan")
#: Representations the clusterers run on (``clustering.representations``).
REPRESENTATIONS = ("scaled", "pca", "umap")


_segkit_error = segkit_error


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


class ExtraFeature(Section):
    """One of ``features.extra``: a numeric column of the lines, per customer."""

    column: Text = Field(
        description="a column of transactions.extra (carried as x_<column>)"
    )
    how: Literal["sum", "mean", "share_of_value", "share_of_lines_nonzero"] = Field(
        description="sum or mean over the lines, sum / sales value, or the share "
        "of lines where it is not 0"
    )
    name: Text | None = Field(None, description="feature name; null: <column>_<how>")
    display: Text | None = Field(None, description="display name on the pages")
    definition: Text | None = Field(None, description="one sentence for the reader")


class MixFeature(Section):
    """One of ``features.mix``: share of spend per level of a text column."""

    column: Text = Field(
        description="text column of the lines: category, channel or a lookup's"
    )
    top: Int = Field(8, ge=1, description="levels kept (by sales value); rest: other")
    levels: Names = Field([], description="levels kept, in order; []: the top ones")


def _mix_items(value: Any) -> Any:
    """``mix: [category]`` is short for ``mix: [{column: category}]``."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        return [{"column": v} if isinstance(v, str) else v for v in value]
    return value


class FeatureSettings(Section):
    """``features``: per-customer features."""

    top_countries: Int = Field(10, ge=1, description="countries kept; rest: Other")
    rare_share: float = Field(0.01, ge=0, lt=1, description="rarer levels: Other")
    exclude: Names = Field([], description="feature columns left out")
    ordinal: dict[Text, Names] = Field(
        {}, description="column -> its levels in order, e.g. {Education: [Basic, PhD]}"
    )
    extra: list[ExtraFeature] = Field(
        [], description="features from numeric columns of the lines (sum, mean, share)"
    )
    mix: Annotated[list[MixFeature], BeforeValidator(_mix_items)] = Field(
        [], description="text columns -> share-of-spend features per level"
    )

    def with_levels(self, pinned: dict[str, list[str]]) -> FeatureSettings:
        """A copy whose mixes keep the ``pinned`` levels ({column: levels}).

        Levels written in the config win. The features step pins the levels it
        chose (``artifacts/declared_features.json``) and every later step opens
        the run with them, so rebuilds make the columns the model was fitted on.
        """
        mix = [
            spec
            if spec.levels or spec.column not in pinned
            else spec.model_copy(update={"levels": list(pinned[spec.column])})
            for spec in self.mix
        ]
        return self.model_copy(update={"mix": mix})


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
    stability_scope: Literal["finalists", "all"] = Field(
        "finalists",
        description="candidates given the seed refits: the finalists, or all",
    )
    min_segment_share: Share = Field(0.03, description="smallest segment allowed")
    max_segments: Int = Field(8, ge=2, description="most segments recommended")
    min_stability: Share = Field(0.6, description="seed-stability ARI needed")
    choice: str | None = Field(
        None, description="e.g. kmeans/scaled/5, or clv_tiers: overrides the rule"
    )
    n_init: Int = Field(10, ge=1, description="k-means restarts")
    gmm_n_init: Int = Field(3, ge=1, description="Gaussian-mixture EM restarts")
    n_jobs: Int = Field(
        0, ge=-1, description="parallel fits: 0 auto (cores from 2,000 rows), -1 cores"
    )
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
        parts = (self.choice or "").strip().split("/")
        if parts[0] == "clv_tiers" and parts[1:] not in ([], ["scaled"]):
            raise _segkit_error(
                f"clustering.choice is {self.choice!r}; CLV tiers cut the 'clv' "
                "column, which only the scaled representation keeps: write "
                "clv_tiers or clv_tiers/scaled"
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
    as_features: bool = Field(
        False,
        description="CLV, p_alive, expected purchases as clustering features",
    )
    tiers: list[Share] = Field(
        default_factory=lambda: [0.2, 0.3, 0.5],
        min_length=2,
        max_length=10,
        description="CLV tier shares, top tier first; they sum to 1",
    )

    @model_validator(mode="after")
    def _features_need_value(self) -> ValueSettings:
        if self.as_features and not self.enabled:
            raise _segkit_error(
                "value.as_features is true but value.enabled is false; the CLV "
                "features need the value step: set value.enabled: true or "
                "value.as_features: false"
            )
        if abs(sum(self.tiers) - 1) > 1e-6 or min(self.tiers) <= 0:
            raise _segkit_error(
                f"value.tiers is {self.tiers}, which does not split the customers: "
                "give positive shares, top tier first, that sum to 1, e.g. "
                "[0.2, 0.3, 0.5]"
            )
        return self


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
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="display names of the data's own columns, e.g. MntWines: wine spend",
    )
