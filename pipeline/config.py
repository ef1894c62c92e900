"""TOML files and strict config sections: one place decides what a config may say.

Every section of a run config (the top level, ``[data]``, ``[features]``, each
``[[stages]]`` entry) is a dataclass, and :func:`load_section` builds it from a table:
an unknown key or a value of the wrong type is a one-line :class:`KwsqError` naming the
section, the key and what is allowed, never a silently dropped setting or a traceback.
TOML is read with the standard library's ``tomllib`` and written with ``tomli-w``.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import tomli_w

from pipeline.atomic import write_text
from pipeline.errors import KwsqError

T = TypeVar("T")


# ------------------------------------------------------------------------------ TOML


def read_toml(path: str | Path) -> dict[str, Any]:
    """The table in ``path``; a missing file or invalid TOML is a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise KwsqError(f"config file {path} does not exist")
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise KwsqError(f"{path} is not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise KwsqError(f"{path} is not UTF-8 text: {exc}") from exc


def _without_none(value: Any) -> Any:
    """TOML has no null: ``None`` values (and table entries holding them) are left out."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_without_none(v) for v in value]
    return value


def dumps_toml(data: dict[str, Any]) -> str:
    return tomli_w.dumps(_without_none(data))


def write_toml(path: str | Path, data: dict[str, Any]) -> None:
    """Write ``data`` as TOML atomically (temp file, then rename)."""
    write_text(path, dumps_toml(data))


# ------------------------------------------------------------------------------ sections


def _type_name(tp: Any) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
             dict: "a table", list: "an array"}
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        parts = [a for a in typing.get_args(tp) if a is not type(None)]
        return " or ".join(_type_name(a) for a in parts)
    return names.get(origin or tp, getattr(tp, "__name__", str(tp)))


def _matches(value: Any, tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if tp is Any:
        return True
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    base = origin or tp
    if isinstance(base, type):
        return isinstance(value, base)
    return True  # a type this checker does not know: the dataclass checks it


def _coerce(value: Any, tp: Any) -> Any:
    """An integer where a float is declared becomes a float (TOML writes ``1.0`` as ``1.0``,
    but a person writes ``learning_rate = 1``)."""
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def allowed_keys(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.init]


def load_section(cls: type[T], table: Any, section: str) -> T:
    """Build dataclass ``cls`` from ``table``: unknown keys and wrongly typed values are
    one-line errors naming ``section`` (e.g. ``"[data]"``, ``"[[stages]] entry 2"``)."""
    if not isinstance(table, dict):
        raise KwsqError(f"{section} must be a table of settings, not {table!r}")
    check_keys(table, allowed_keys(cls), section)
    hints = typing.get_type_hints(cls)
    values = {}
    for key, value in table.items():
        tp = hints.get(key, Any)
        if not _matches(value, tp):
            raise KwsqError(f"{section}: {key} must be {_type_name(tp)}, not {value!r}")
        values[key] = _coerce(value, tp)
    required = [f.name for f in dataclasses.fields(cls) if f.init and f.name not in values
                and f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING]
    if required:
        raise KwsqError(f"{section} lacks {', '.join(required)}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise KwsqError(f"{section}: {exc}") from exc


def check_keys(table: dict[str, Any], allowed: list[str] | tuple[str, ...], section: str) -> None:
    """Only the key check of :func:`load_section`, for tables that are not one dataclass."""
    unknown = [k for k in table if k not in allowed]
    if unknown:
        raise KwsqError(f"unknown key{'s' if len(unknown) > 1 else ''} "
                        f"{', '.join(repr(k) for k in unknown)} in {section}; "
                        f"allowed: {', '.join(allowed)}")
