"""segkit: a customer-segmentation research workbench.

The package behind the numbered notebooks. Each module has one job (see
``docs/architecture.md``); the names below are the public API. Importing segkit
does no I/O and configures no logging.
"""

from segkit import (
    attributes,
    clean,
    compare,
    config,
    datasets,
    distinct,
    evolution,
    exceptions,
    features,
    io,
    metrics,
    model,
    naming,
    outcomes,
    pipeline,
    preprocess,
    privacy,
    profile,
    quality,
    recommend,
    reduce,
    rfm,
    rules,
    run,
    score,
    stability,
    validate,
)
from segkit.attributes import attribute_features
from segkit.clean import CleanResult, clean_transactions
from segkit.compare import compare_candidates
from segkit.config import load_config
from segkit.datasets import (
    make_b2b_accounts,
    make_b2c_transactions,
    make_customer_features,
)
from segkit.distinct import kruskal_table, pairwise_distinctness, segment_effects
from segkit.evolution import compare_assignments, migration_matrix
from segkit.exceptions import (
    ConfigError,
    DataError,
    InputFileError,
    ModelError,
    NotFittedError,
    RunError,
    SchemaError,
    SegkitError,
)
from segkit.features import FEATURE_DEFINITIONS, behaviour_expr, compute_features
from segkit.io import load_customers, load_transactions, read_table
from segkit.model import SegmentationModel
from segkit.naming import auto_names, resolve_names
from segkit.outcomes import outcome_rates, outcome_validity
from segkit.preprocess import Preprocessor
from segkit.privacy import pseudonymise
from segkit.profile import persona_cards, segment_indices, segment_profiles
from segkit.quality import detect_pii, quality_profile, sufficiency
from segkit.rfm import rfm_summary, rfm_table
from segkit.rules import surrogate_rules
from segkit.run import RunContext, open_run
from segkit.score import score_file
from segkit.stability import bootstrap_stability, prediction_strength
from segkit.validate import validate_segmentation

__version__ = "0.1.0"

__all__ = [
    "FEATURE_DEFINITIONS",
    "CleanResult",
    "ConfigError",
    "DataError",
    "InputFileError",
    "ModelError",
    "NotFittedError",
    "Preprocessor",
    "RunContext",
    "RunError",
    "SchemaError",
    "SegkitError",
    "SegmentationModel",
    "__version__",
    "attribute_features",
    "attributes",
    "auto_names",
    "behaviour_expr",
    "bootstrap_stability",
    "clean",
    "clean_transactions",
    "compare",
    "compare_assignments",
    "compare_candidates",
    "compute_features",
    "config",
    "datasets",
    "detect_pii",
    "distinct",
    "evolution",
    "exceptions",
    "features",
    "io",
    "kruskal_table",
    "load_config",
    "load_customers",
    "load_transactions",
    "metrics",
    "model",
    "make_b2b_accounts",
    "make_b2c_transactions",
    "make_customer_features",
    "migration_matrix",
    "naming",
    "open_run",
    "outcome_rates",
    "outcome_validity",
    "outcomes",
    "pairwise_distinctness",
    "persona_cards",
    "pipeline",
    "prediction_strength",
    "preprocess",
    "privacy",
    "profile",
    "pseudonymise",
    "quality",
    "quality_profile",
    "read_table",
    "recommend",
    "reduce",
    "resolve_names",
    "rfm",
    "rfm_summary",
    "rfm_table",
    "rules",
    "run",
    "score",
    "score_file",
    "segment_effects",
    "segment_indices",
    "segment_profiles",
    "stability",
    "sufficiency",
    "surrogate_rules",
    "validate",
    "validate_segmentation",
]
