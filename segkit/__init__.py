"""segkit: a customer-segmentation research workbench.

Importing segkit does no I/O and configures no logging.
"""

from segkit import clean, config, exceptions, io, pipeline, privacy, run
from segkit.clean import CleanResult, clean_transactions
from segkit.config import load_config
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
from segkit.io import load_customers, load_transactions
from segkit.privacy import pseudonymise
from segkit.run import RunContext, open_run

__version__ = "0.1.0"

__all__ = [
    "CleanResult",
    "ConfigError",
    "DataError",
    "InputFileError",
    "ModelError",
    "NotFittedError",
    "RunContext",
    "RunError",
    "SchemaError",
    "SegkitError",
    "__version__",
    "clean",
    "clean_transactions",
    "config",
    "exceptions",
    "io",
    "load_config",
    "load_customers",
    "load_transactions",
    "open_run",
    "pipeline",
    "privacy",
    "pseudonymise",
    "run",
]
