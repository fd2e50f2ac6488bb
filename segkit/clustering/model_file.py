"""The saved-model file: a header (format and library versions), then joblib.

:func:`save_model` writes a fitted model, :func:`load_model` reads it back and
refuses a file of another format or one saved with another minor version of
scikit-learn or hdbscan (their pickles are not portable across those).
:meth:`segkit.clustering.model.SegmentationModel.save` and ``.load`` call them.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn

from segkit.exceptions import ModelError

__all__ = ["FORMAT_VERSION", "save_model", "load_model"]

#: Version of the saved-model layout; bump when it changes.
FORMAT_VERSION = 2


def _versions() -> dict[str, str]:
    import hdbscan

    return {
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "hdbscan": getattr(hdbscan, "__version__", "unknown"),
    }


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def save_model(model: Any, path: str | Path) -> Path:
    """Write ``model`` to ``path`` (header, then joblib); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {"format_version": FORMAT_VERSION, "versions": _versions()}
    with path.open("wb") as handle:
        pickle.dump(header, handle)
        joblib.dump(model, handle)
    return path


def load_model(path: str | Path, cls: type) -> Any:
    """Read a model written by :func:`save_model`; it must be a ``cls``.

    Raises
    ------
    ModelError
        The file is missing, is not a segkit model file, has another format, was
        saved with another minor version of scikit-learn or hdbscan, or holds
        something else than a ``cls``.
    """
    path = Path(path)
    if not path.exists():
        raise ModelError(
            f"model file {str(path)!r} not found; run the compare step "
            "(notebook 03) to write artifacts/model.joblib"
        )
    with path.open("rb") as handle:
        try:
            header = pickle.load(handle)
        except Exception as exc:
            raise ModelError(
                f"{str(path)!r} is not a segkit model file ({exc}); "
                "re-create it with SegmentationModel.save"
            ) from None
        if not isinstance(header, dict) or "format_version" not in header:
            raise ModelError(
                f"{str(path)!r} is not a segkit model file; "
                "re-create it with SegmentationModel.save"
            )
        if header["format_version"] != FORMAT_VERSION:
            raise ModelError(
                f"{str(path)!r} has model format {header['format_version']}, this "
                f"segkit reads format {FORMAT_VERSION}; refit the model"
            )
        saved, now = header["versions"], _versions()
        for lib in ("sklearn", "hdbscan"):
            if _minor(saved.get(lib, "")) != _minor(now[lib]):
                raise ModelError(
                    f"{str(path)!r} was saved with {lib} {saved.get(lib)} but "
                    f"{now[lib]} is installed; refit the model (segkit report) or "
                    f"install {lib}=={saved.get(lib)}"
                )
        model = joblib.load(handle)
    if not isinstance(model, cls):
        raise ModelError(f"{str(path)!r} holds a {type(model).__name__}, not a model")
    return model
