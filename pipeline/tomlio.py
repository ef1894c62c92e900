"""Minimal TOML writer for run configs (the standard library only reads TOML).

Supports what ``config.toml`` needs: nested tables, arrays of tables, strings,
numbers, booleans and flat arrays. ``None`` values are omitted (TOML has no null).
"""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _is_table(value: Any) -> bool:
    return isinstance(value, dict)


def _is_table_array(value: Any) -> bool:
    return (isinstance(value, (list, tuple)) and bool(value)
            and all(isinstance(v, dict) for v in value))


def dumps(data: dict[str, Any], _prefix: str = "") -> str:
    lines: list[str] = []
    for key, value in data.items():
        if value is None or _is_table(value) or _is_table_array(value):
            continue
        lines.append(f"{key} = {_scalar(value)}")
    for key, value in data.items():
        name = f"{_prefix}{key}"
        if _is_table(value):
            lines.append(f"\n[{name}]")
            lines.append(dumps(value, f"{name}.").rstrip("\n"))
        elif _is_table_array(value):
            for item in value:
                lines.append(f"\n[[{name}]]")
                lines.append(dumps(item, f"{name}.").rstrip("\n"))
    return "\n".join(line for line in lines if line != "") + "\n"


def load(path: str | Path) -> dict[str, Any]:
    with open(path, "rb") as f:
        return tomllib.load(f)
