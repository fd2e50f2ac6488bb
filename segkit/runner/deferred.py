"""Imports the runner defers: libraries that cost seconds at import and are rarely used.

``rfc3987_syntax`` (1.1.0, pulled in by ``jsonschema[format-nongpl]`` through
jupyter-events) builds its Lark grammar of IRIs when it is imported: about 2 s on
this machine, in every process that imports nbformat, papermill or nbconvert,
because ``jsonschema`` imports it eagerly to offer the ``iri`` format check. The
runner never checks an IRI. jsonschema measured the same cost (2.2 s) when it
moved to a lazily loading fork, rfc3987-syntax2 (python-jsonschema/jsonschema
pull request 1521); until the jsonschema we install uses it, :func:`defer_iri_grammar`
puts a stand-in module in ``sys.modules`` whose ``is_valid_syntax`` and ``parse``
import the real module on their first call and hand over to it, so an IRI check
still gives the library's own answer.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

__all__ = ["IRI_MODULE", "defer_iri_grammar"]

#: The module whose import builds the IRI grammar.
IRI_MODULE = "rfc3987_syntax"


def _real() -> types.ModuleType:
    module = sys.modules.get(IRI_MODULE)
    if module is None or getattr(module, "__segkit_deferred__", False):
        sys.modules.pop(IRI_MODULE, None)
        module = importlib.import_module(IRI_MODULE)
    return module


def _forward(name: str) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(_real(), name)(*args, **kwargs)

    call.__name__ = name
    return call


def defer_iri_grammar() -> bool:
    """Put the stand-in for ``rfc3987_syntax`` in place, if nothing imported it yet.

    Returns
    -------
    bool
        True when the stand-in is in place (False: the module is already
        imported, or not installed, and nothing changes).
    """
    if IRI_MODULE in sys.modules or importlib.util.find_spec(IRI_MODULE) is None:
        return False
    stand_in = types.ModuleType(
        IRI_MODULE, "segkit's deferred import of rfc3987_syntax"
    )
    stand_in.__segkit_deferred__ = True  # type: ignore[attr-defined]
    stand_in.is_valid_syntax = _forward("is_valid_syntax")  # type: ignore[attr-defined]
    stand_in.parse = _forward("parse")  # type: ignore[attr-defined]
    sys.modules[IRI_MODULE] = stand_in
    return True
