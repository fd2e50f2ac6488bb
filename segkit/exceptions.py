"""The one error hierarchy of segkit.

Every problem a user can cause (a bad config, a missing file, a column that is not
there, data that cannot support a segmentation) is raised as a subclass of
:class:`SegkitError`. Each subclass also inherits the matching built-in exception so
that callers who catch ``ValueError`` or ``FileNotFoundError`` keep working.

Messages say *what* is wrong, *where* (file, column, value) and *how to fix it*.
"""

from __future__ import annotations


class SegkitError(Exception):
    """Base class of every error segkit raises on purpose."""


class ConfigError(SegkitError, ValueError):
    """The configuration file or an override is invalid."""


class InputFileError(SegkitError, FileNotFoundError):
    """A data file is missing, empty or cannot be read."""


class SchemaError(SegkitError, ValueError):
    """A required column is missing or has values of the wrong type."""


class DataError(SegkitError, ValueError):
    """The data is readable but cannot support the requested analysis."""


class NotFittedError(SegkitError, AttributeError):
    """A model was used before it was fitted."""


class ModelError(SegkitError, ValueError):
    """A saved model cannot be used with the given input or library versions."""


class RunError(SegkitError, RuntimeError):
    """A report run could not be set up or one of its notebooks failed."""
