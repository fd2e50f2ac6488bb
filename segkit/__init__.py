"""segkit: a customer-segmentation research workbench.

The package behind the numbered notebooks. One subpackage per stage of the data
walk (see ``docs/architecture.md``)::

    config -> data -> features -> clustering -> validation -> profiles -> runner

Importing segkit is cheap and does nothing: the names below are resolved on first
use (PEP 562), so ``segkit --help`` does not pay for pandas, scikit-learn or Ibis.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

#: Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    "ConfigError": "segkit.exceptions",
    "DataError": "segkit.exceptions",
    "InputFileError": "segkit.exceptions",
    "ModelError": "segkit.exceptions",
    "NotFittedError": "segkit.exceptions",
    "RunError": "segkit.exceptions",
    "SchemaError": "segkit.exceptions",
    "SegkitError": "segkit.exceptions",
    "Config": "segkit.config",
    "load_config": "segkit.config",
    "RunContext": "segkit.context",
    "open_run": "segkit.context",
    "load_customers": "segkit.data.io",
    "load_transactions": "segkit.data.io",
    "read_table": "segkit.data.io",
    "CleanResult": "segkit.data.clean",
    "clean_transactions": "segkit.data.clean",
    "detect_pii": "segkit.data.quality",
    "quality_profile": "segkit.data.quality",
    "sufficiency": "segkit.data.quality",
    "FEATURE_DEFINITIONS": "segkit.features.behaviour",
    "behaviour_expr": "segkit.features.behaviour",
    "compute_features": "segkit.features.behaviour",
    "attribute_features": "segkit.features.attributes",
    "Preprocessor": "segkit.features.preprocess",
    "rfm_summary": "segkit.features.rfm",
    "rfm_table": "segkit.features.rfm",
    "SegmentationModel": "segkit.clustering.model",
    "compare_candidates": "segkit.clustering.compare",
    "bootstrap_stability": "segkit.clustering.stability",
    "prediction_strength": "segkit.clustering.stability",
    "kruskal_table": "segkit.validation.distinct",
    "pairwise_distinctness": "segkit.validation.distinct",
    "segment_effects": "segkit.validation.distinct",
    "outcome_rates": "segkit.validation.outcomes",
    "outcome_validity": "segkit.validation.outcomes",
    "validate_segmentation": "segkit.validation.verdict",
    "persona_cards": "segkit.profiles.profile",
    "segment_indices": "segkit.profiles.profile",
    "segment_profiles": "segkit.profiles.profile",
    "auto_names": "segkit.profiles.naming",
    "resolve_names": "segkit.profiles.naming",
    "surrogate_rules": "segkit.profiles.rules",
    "compare_assignments": "segkit.profiles.evolution",
    "migration_matrix": "segkit.profiles.evolution",
    "score_file": "segkit.scoring",
    "pseudonymise": "segkit.privacy",
    "make_b2b_accounts": "segkit.datasets",
    "make_b2c_transactions": "segkit.datasets",
    "make_customer_features": "segkit.datasets",
}

#: Subpackages and modules reachable as attributes (``segkit.clustering``...).
_MODULES = (
    "clustering",
    "config",
    "context",
    "data",
    "datasets",
    "display",
    "exceptions",
    "features",
    "pipeline",
    "privacy",
    "profiles",
    "project",
    "runner",
    "scoring",
    "validation",
)

__all__ = sorted([*_EXPORTS, *_MODULES, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _MODULES:
        value = importlib.import_module(f"segkit.{name}")
    else:
        raise AttributeError(f"module 'segkit' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # for editors and type checkers only
    from segkit.clustering.model import SegmentationModel  # noqa: F401
    from segkit.context import RunContext, open_run  # noqa: F401
