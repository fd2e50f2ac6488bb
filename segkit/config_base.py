"""The base of the config models: a section that is typed and also a mapping.

:class:`Section` is a pydantic model whose fields also answer item access
(``section["k_max"]``), so code written for the plain dicts of earlier versions keeps
working. The small annotated types (:data:`Text`, :data:`Names`, :data:`Int`,
:data:`Share`) and :func:`segkit_error` (a validator message printed as is) are
shared by every section; :func:`apply_dotted` applies ``--set a.b=value`` overrides
checked against the models.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from segkit.config_messages import (
    SEGKIT_ERROR,
    child,
    children,
    closest,
    error_lines,
)
from segkit.exceptions import ConfigError

__all__ = [
    "Section",
    "Text",
    "Names",
    "Int",
    "Share",
    "segkit_error",
    "as_text",
    "as_list",
    "apply_dotted",
    "field_default",
]


def field_default(model: type[BaseModel], name: str) -> Any:
    """The default of field ``name`` of a config model (the one place it is set).

    Estimators whose keyword defaults follow the config read them from here, so a
    default is never written twice.
    """
    info = model.model_fields[name]
    return info.default_factory() if info.default_factory else info.default  # type: ignore[call-arg]


def segkit_error(message: str) -> PydanticCustomError:
    """An error whose text is final (the translator prints it as is)."""
    return PydanticCustomError(SEGKIT_ERROR, "{message}", {"message": message})


def as_text(value: Any) -> Any:
    """Column names may be numbers in YAML (``2021: ...``): read them as text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def as_list(value: Any) -> Any:
    """``None`` -> ``[]``, one name -> a list of it; lists pass through."""
    if value is None:
        return []
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return [str(value)]
    if isinstance(value, list | tuple):
        return [as_text(v) for v in value]
    return value


Text = Annotated[str, BeforeValidator(as_text)]
Names = Annotated[list[Text], BeforeValidator(as_list)]
Int = Annotated[int, Strict()]  # strict: ``true`` or ``2.5`` is not a count
Share = Annotated[float, Field(ge=0, le=1)]


class Section(BaseModel):
    """A config section: typed fields that also answer as a mapping.

    ``section["key"]``, ``section.get("key", default)``, ``"key" in section``,
    ``section["key"] = value`` (validated), ``keys()``, ``values()``, ``items()``,
    ``dict(section)`` and ``**section`` all work, so code written for the plain dicts
    of earlier versions keeps working; attribute access is the preferred style.
    """

    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, validate_default=True
    )

    @classmethod
    def of(cls, value: Mapping[str, Any] | None) -> Any:
        """``value`` as this section: itself if it is one, else validated.

        Functions that take a section also accept a plain mapping (tests, notebooks);
        the missing keys get the model's defaults, so no caller restates them.
        """
        if isinstance(value, cls):
            return value
        try:
            return cls.model_validate(dict(value or {}))
        except ValidationError as exc:
            lines = error_lines(cls, exc.errors())
            raise ConfigError(f"{cls.__name__}: " + "; ".join(lines)) from None

    def __getstate__(self) -> dict[Any, Any]:
        # pydantic pickles the names of the explicitly set fields as a set, whose
        # order follows string hashing and so changes between processes: the same
        # config pickled differently in every run (model.joblib was never the same
        # bytes twice). A sorted list is the same set, written the same way.
        state = dict(super().__getstate__())
        state["__pydantic_fields_set__"] = sorted(state["__pydantic_fields_set__"])
        return state

    def __setstate__(self, state: dict[Any, Any]) -> None:
        state = dict(state)
        state["__pydantic_fields_set__"] = set(state["__pydantic_fields_set__"])
        super().__setstate__(state)

    def __getitem__(self, key: str) -> Any:
        if key in type(self).model_fields:
            return getattr(self, key)
        raise KeyError(key)

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in type(self).model_fields:
            where = type(self).__name__
            raise ConfigError(
                f"there is no config key {key!r} in {where}"
                f"{closest(key, type(self).model_fields)}"
            )
        setattr(self, key, value)

    def __contains__(self, key: object) -> bool:
        return key in type(self).model_fields

    def __iter__(self) -> Iterator[str]:  # type: ignore[override]  # mapping-style
        return iter(type(self).model_fields)

    def __len__(self) -> int:
        return len(type(self).model_fields)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in type(self).model_fields else default

    def keys(self) -> list[str]:
        return list(type(self).model_fields)

    def values(self) -> list[Any]:
        return [getattr(self, k) for k in type(self).model_fields]

    def items(self) -> list[tuple[str, Any]]:
        return [(k, getattr(self, k)) for k in type(self).model_fields]

    def to_dict(self, *, mode: str = "python") -> dict[str, Any]:
        """Plain nested dicts (``mode="json"``: dates as ISO text)."""
        return self.model_dump(mode=mode)

    def __repr_args__(self):  # the default uses __iter__, which yields keys here
        return [(k, getattr(self, k)) for k in type(self).model_fields]


Mapping.register(Section)


def _valid_keys(tp: Any, hidden: Iterable[str]) -> list[str] | None:
    """Keys allowed under a raw node of type ``tp``; None when the map is free."""
    allowed = children(tp)
    if allowed is None:
        return None
    return sorted(set(allowed) - set(hidden))


def apply_dotted(
    raw: Mapping[str, Any],
    overrides: Mapping[str, Any],
    model: type[BaseModel],
    *,
    hidden: Iterable[str] = (),
) -> dict[str, Any]:
    """Return a copy of ``raw`` with dotted-key overrides applied.

    Parameters
    ----------
    raw : mapping
        The parsed YAML (not modified).
    overrides : mapping
        ``{"clustering.k_max": 8, ...}``.
    model : type
        The model ``raw`` is for; a key it (or a nested section) does not know is
        refused with the closest valid key. Keys of free maps pass.
    hidden : iterable of str
        Top-level keys that are never valid here (set by segkit).
    """
    result = copy.deepcopy(dict(raw))
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        node: dict[str, Any] = result
        tp: Any = model
        for depth, part in enumerate(parts):
            valid = _valid_keys(tp, hidden if depth == 0 else ())
            if valid is not None and part not in valid:
                where = ".".join(parts[:depth]) or "the top level"
                raise ConfigError(
                    f"override {dotted!r}: there is no key {part!r} under {where}"
                    f"{closest(part, valid)} (valid keys: {', '.join(valid)})"
                )
            if depth == len(parts) - 1:
                node[part] = value
                break
            child_node = node.get(part)
            if child_node is None:
                child_node = node[part] = {}
            if not isinstance(child_node, dict):
                raise ConfigError(
                    f"override {dotted!r}: {'.'.join(parts[: depth + 1])!r} is a "
                    "value, not a section"
                )
            node, tp = child_node, child(tp, part)
    return result
