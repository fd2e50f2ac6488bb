"""The validation's costly computations kept across report runs, by their inputs.

The step cache (:mod:`segkit.reuse`) reuses a whole step when none of its inputs
changed. A one-parameter rerun of validation changes one input of the validate
step, so the whole step is computed again, although most of its time goes into
parts that parameter does not touch: a new ``validation.ci_level`` changes where
the intervals are read off the bootstrap draws, not the draws; a new
``validation.horizon_days`` changes the outcome, not the bootstrap refits of the
segmentation. Measured on Online Retail (2 cores): bootstrap stability 2.1 s,
prediction strength 2.8 s and the held-out draws 4.5 s of the step's 13 s.

:func:`call` runs such a part through :class:`joblib.Memory`, keyed by joblib's
hash of the function (by module and name), of every argument by value and of
segkit's code fingerprint (:func:`segkit.reuse.code_fingerprint`: the sources and
the versions of the libraries that shape the numbers), so a changed line of
segkit or a new scikit-learn computes afresh. The parts memoised are seeded and
deterministic: a result from the memo equals a recomputed one
(tests/test_memo.py, and the byte-identical step test in tests/test_reuse.py).

When: like the figure cache, only where :func:`segkit.context.open_run` turns it
on, in a report run folder; ``segkit report --fresh`` computes everything and
refreshes the memo. JupyterLab scratch folders and direct calls always compute.

Where: ``<reports parent>/exports/.cache/memo/`` beside the step cache;
:func:`prune` keeps the newest :data:`KEEP` results.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["KEEP", "call", "call_keyed", "configure", "folder", "prune"]

logger = logging.getLogger(__name__)

#: Results kept (the newest by use): one validate step stores three, of a few KB
#: to a few hundred KB.
KEEP = 200

_STATE: dict[str, Any] = {"folder": None, "read": False}


def configure(path: str | Path | None, *, read: bool = True) -> None:
    """Keep results in ``path`` (None: off); ``read=False`` only writes (fresh)."""
    _STATE["folder"] = None if path is None else Path(path)
    _STATE["read"] = bool(read)


def folder() -> Path | None:
    """The memo folder in use, or None when everything is computed."""
    return _STATE["folder"]


def _compute(fingerprint: str, func: Callable[..., Any], args: tuple, kwargs: dict):
    """What joblib.Memory caches: ``func(*args, **kwargs)``; the fingerprint only
    enters the key."""
    return func(*args, **kwargs)


def call[T](func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``func(*args, **kwargs)``, from the memo when it holds this very call.

    Arguments that joblib cannot hash (a local function, an open file) compute as
    usual.
    """
    path = _STATE["folder"]
    if path is None:
        return func(*args, **kwargs)
    import joblib

    from segkit.reuse import code_fingerprint, fresh_requested

    try:
        joblib.hash((func, args, kwargs))
    except Exception as exc:  # unpicklable argument: compute as usual
        logger.debug("%s not memoised: %s", getattr(func, "__qualname__", func), exc)
        return func(*args, **kwargs)
    memorized = joblib.Memory(path, verbose=0).cache(_compute)
    if _STATE["read"] and not fresh_requested():
        return memorized(code_fingerprint(), func, args, kwargs)
    result, _ = memorized.call(code_fingerprint(), func, args, kwargs)
    return result


def _compute_keyed(
    fingerprint: str, name: str, key: Any, func: Callable[..., Any], args, kwargs
):
    """What :func:`call_keyed` caches; only the fingerprint, name and key are hashed."""
    return func(*args, **kwargs)


def call_keyed[T](key: Any, func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``func(*args, **kwargs)``, from the memo when it holds a result under ``key``.

    For calls whose arguments are large but summed up by a small key: the rebuild
    of the features at an earlier date reads every transaction before it, which
    the fingerprints of the steps that made them (:func:`segkit.pipeline.
    step_fingerprint`: data checksums, the config they read, segkit's code) and
    the date identify exactly. The caller guarantees that ``key`` changes whenever
    anything the result depends on changes; the function's module and name and
    segkit's code fingerprint enter the key too.
    """
    path = _STATE["folder"]
    if path is None:
        return func(*args, **kwargs)
    import joblib

    from segkit.reuse import code_fingerprint, fresh_requested

    name = f"{getattr(func, '__module__', '')}.{getattr(func, '__qualname__', func)}"
    memorized = joblib.Memory(path, verbose=0).cache(
        _compute_keyed, ignore=["func", "args", "kwargs"]
    )
    if _STATE["read"] and not fresh_requested():
        return memorized(code_fingerprint(), name, key, func, args, kwargs)
    result, _ = memorized.call(code_fingerprint(), name, key, func, args, kwargs)
    return result


def prune(path: str | Path, keep: int = KEEP) -> None:
    """Keep the ``keep`` most recently used results in ``path``."""
    path = Path(path)
    if not path.is_dir():
        return
    import joblib

    joblib.Memory(path, verbose=0).reduce_size(items_limit=keep)
