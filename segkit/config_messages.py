"""Turn pydantic's validation errors into segkit's config messages.

One line per problem: the dotted key, the value given, what is allowed, and the
closest valid key or choice (``did you mean 'kmeans'?``). The allowed values are
read from the config models themselves (their types, ``Literal`` choices and
``Field(ge=..., le=...)`` bounds), so a message can never disagree with the model.
"""

from __future__ import annotations

import datetime as dt
import difflib
import types
import typing
from collections.abc import Iterable, Sequence
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

__all__ = [
    "closest",
    "dotted",
    "children",
    "child",
    "describe_allowed",
    "error_lines",
]

#: Error type of the messages segkit's own validators raise (already final text).
SEGKIT_ERROR = "segkit"


def closest(word: str, valid: Iterable[Any]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``valid``, or ``""``."""
    names = [str(v) for v in valid]
    match = difflib.get_close_matches(str(word), names, n=1, cutoff=0.5)
    return f"; did you mean {match[0]!r}?" if match else ""


def dotted(loc: Sequence[Any]) -> str:
    """``("clustering", "algorithms", 1)`` -> ``"clustering.algorithms[1]"``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _strip(tp: Any) -> tuple[Any, list[Any]]:
    """Drop ``Annotated`` (keeping its metadata) and ``None`` from a union."""
    metadata: list[Any] = []
    while get_origin(tp) is typing.Annotated:
        args = get_args(tp)
        tp, metadata = args[0], [*metadata, *args[1:]]
    if get_origin(tp) in (Union, types.UnionType):
        members = [a for a in get_args(tp) if a is not type(None)]
        if len(members) == 1:
            inner, more = _strip(members[0])
            return inner, [*metadata, *more]
    return tp, metadata


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _is_typeddict(tp: Any) -> bool:
    return typing.is_typeddict(tp)


def children(tp: Any) -> dict[str, Any] | None:
    """Keys a mapping type allows, with their types; None for a free map."""
    tp, _ = _strip(tp)
    if _is_model(tp):
        return {
            name: typing.Annotated[info.annotation, info]
            for name, info in tp.model_fields.items()
        }
    if _is_typeddict(tp):
        return typing.get_type_hints(tp, include_extras=True)
    return None


def child(tp: Any, key: Any) -> Any:
    """Type of ``key`` inside ``tp`` (a model, TypedDict, dict or list); or None."""
    tp, _ = _strip(tp)
    allowed = children(tp)
    if allowed is not None:
        return allowed.get(key)
    origin = get_origin(tp)
    if origin is dict and isinstance(key, str):
        return get_args(tp)[1] if get_args(tp) else Any
    if origin in (list, tuple, set) and isinstance(key, int):
        return get_args(tp)[0] if get_args(tp) else Any
    return None


def _walk(root: Any, loc: Sequence[Any]) -> tuple[Any, list[Any]]:
    """The type at ``loc``, and ``loc`` without pydantic's union-member tags."""
    tp, path = root, []
    for part in loc:
        nxt = child(tp, part)
        if nxt is None:
            inner, _ = _strip(tp)
            if get_origin(inner) in (Union, types.UnionType):
                continue  # a tag such as 'str' or 'list[str]' naming a union member
            return None, [*path, part]
        tp, path = nxt, [*path, part]
    return tp, path


def _bounds(metadata: Iterable[Any]) -> list[str]:
    out = []
    for item in metadata:
        if isinstance(item, FieldInfo):
            out += _bounds(item.metadata)
            continue
        for attr, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            bound = getattr(item, attr, None)
            if isinstance(item, annotated_types.BaseMetadata) and bound is not None:
                out.append(f"{sign} {bound}")
    return out


def _kind(tp: Any) -> str:
    tp, metadata = _strip(tp)
    bounds = _bounds(metadata)
    suffix = f" {' and '.join(bounds)}" if bounds else ""
    origin = get_origin(tp)
    if origin is Literal:
        return f"one of {list(get_args(tp))}"
    if tp is bool:
        return "true or false"
    if tp is int:
        return f"a whole number{suffix}"
    if tp is float:
        return f"a number{suffix}"
    if tp is str:
        return "text"
    if tp is dt.date:
        return "a date written YYYY-MM-DD, e.g. 2011-12-10"
    if origin in (list, tuple, set):
        args = get_args(tp)
        return f"a list of {_kind(args[0]) if args else 'values'}"
    if origin is dict or children(tp) is not None:
        keys = children(tp)
        return f"a mapping of {', '.join(keys)}" if keys else "a mapping"
    if origin in (Union, types.UnionType):
        return " or ".join(_kind(a) for a in get_args(tp) if a is not type(None))
    return getattr(tp, "__name__", str(tp))


def describe_allowed(tp: Any) -> str:
    """What a type accepts, in words: ``"a whole number >= 2"``, ``"one of [...]"``."""
    text = _kind(tp)
    raw_args = get_args(_strip_annotated(tp))
    nullable = get_origin(_strip_annotated(tp)) in (Union, types.UnionType) and (
        type(None) in raw_args
    )
    return f"{text}, or null" if nullable else text


def _strip_annotated(tp: Any) -> Any:
    while get_origin(tp) is typing.Annotated:
        tp = get_args(tp)[0]
    return tp


def _hint(tp: Any, value: Any) -> str:
    inner, _ = _strip(tp)
    if get_origin(inner) is Literal and isinstance(value, str):
        return closest(value, get_args(inner))
    return ""


def _description(tp: Any) -> str:
    for item in get_args(tp)[1:] if get_origin(tp) is typing.Annotated else ():
        if isinstance(item, FieldInfo) and item.description:
            return item.description
    return ""


def _one(root: Any, error: dict[str, Any], hidden: frozenset[str]) -> str:
    kind, loc = error["type"], tuple(error["loc"])
    tp, path = _walk(root, loc)
    key = dotted(path)
    if kind == SEGKIT_ERROR:
        return str((error.get("ctx") or {}).get("message") or error["msg"])
    if kind == "extra_forbidden":
        parent_tp, parent = _walk(root, loc[:-1])
        valid = [k for k in children(parent_tp) or () if k not in hidden]
        under = dotted(parent) or "the top level"
        return (
            f"unknown config key {key!r}{closest(str(loc[-1]), valid)} (valid keys "
            f"under {under}: {', '.join(valid)}); fix the spelling or remove the key"
        )
    if kind == "missing":
        what = _description(tp) if tp is not None else ""
        return f"config key {key!r} is missing; set it" + (f" ({what})" if what else "")
    value = error.get("input")
    if tp is None:
        return f"config key {key!r} is {value!r}: {error['msg']}"
    return (
        f"config key {key!r} is {value!r}; use {describe_allowed(tp)}{_hint(tp, value)}"
    )


def error_lines(
    root: Any, errors: Iterable[dict[str, Any]], *, hidden: Iterable[str] = ()
) -> list[str]:
    """One line per problem of ``pydantic.ValidationError.errors()`` (no repeats).

    Parameters
    ----------
    root : type
        The model validated (the types at each error's location are read from it).
    errors : iterable of dict
        ``ValidationError.errors()``.
    hidden : iterable of str
        Keys never listed among the valid ones (set by segkit, not by a user).
    """
    hide = frozenset(hidden)
    lines = [_one(root, dict(error), hide) for error in errors]
    return list(dict.fromkeys(lines))
