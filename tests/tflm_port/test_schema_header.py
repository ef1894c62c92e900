"""The runtime's schema constants (src/kwsq_schema.h) against the TFLite schema.

Field ids are checked by writing a table with the generated builder functions
(``<Table>Add<Field>``) and finding which vtable slot got filled, so the check
does not share the generator's way of reading ids from the accessors' source.
"""

from __future__ import annotations

import re
import subprocess
import sys

import flatbuffers
import pytest
from ai_edge_litert import schema_py_generated as schema

from pipeline.paths import PORT_DIR

HEADER = PORT_DIR / "src" / "kwsq_schema.h"
sys.path.insert(0, str(PORT_DIR / "tools"))
from gen_schema import snake  # noqa: E402


def header_constants() -> dict[str, int]:
    text = HEADER.read_text()
    return {m[1]: int(m[2]) for m in re.finditer(r"^#define (KWSQ_\w+) (-?\d+)$", text, re.M)}


def filled_slot(table: str, field: str) -> int:
    """The vtable slot that ``<table>Add<field>`` writes."""
    b = flatbuffers.Builder(0)
    b.ForceDefaults(True)  # written even where the value equals the default
    value = b.CreateString("x")  # a valid offset, and a small scalar
    getattr(schema, f"{table}Start")(b)
    try:
        getattr(schema, f"{table}Add{field}")(b, value)
    except TypeError:  # a bool slot
        getattr(schema, f"{table}Add{field}")(b, True)
    b.Finish(getattr(schema, f"{table}End")(b))
    buf = b.Output()
    pos = flatbuffers.encode.Get(flatbuffers.packer.uoffset, buf, 0)
    tab = flatbuffers.table.Table(buf, pos)
    vt_len = tab.Bytes[tab.Pos - tab.Get(flatbuffers.number_types.SOffsetTFlags, tab.Pos)]
    slots = [i for i in range((vt_len - 4) // 2) if tab.Offset(4 + 2 * i) != 0]
    assert len(slots) == 1, (table, field, slots)
    return slots[0]


def test_header_is_what_the_generator_writes() -> None:
    run = subprocess.run(
        [sys.executable, str(PORT_DIR / "tools" / "gen_schema.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_builtin_codes_and_option_types_match_the_schema() -> None:
    consts = header_constants()
    ops = {k[len("KWSQ_OP_"):]: v for k, v in consts.items() if k.startswith("KWSQ_OP_")}
    assert ops["FULLY_CONNECTED"] == 9 and ops["CUSTOM"] == 32  # two the old code spelled out
    for name, value in ops.items():
        assert getattr(schema.BuiltinOperator, name) == value, name
    options = {snake(k): v for k, v in vars(schema.BuiltinOptions).items() if not k.startswith("_")}
    for key, value in consts.items():
        if key.startswith("KWSQ_OPTIONS_"):
            assert options[key[len("KWSQ_OPTIONS_"):]] == value, key


def test_every_field_id_is_the_slot_the_schema_builder_writes() -> None:
    consts = header_constants()
    fields = {k: v for k, v in consts.items() if k.startswith("KWSQ_FIELD_")}
    assert len(fields) > 60
    adders = {}
    for name in dir(schema):
        m = re.fullmatch(r"(\w+?)Add(\w+)", name)
        if m and hasattr(schema, f"{m[1]}Start"):
            adders[f"KWSQ_FIELD_{snake(m[1])}_{snake(m[2])}"] = (m[1], m[2])
    checked = 0
    for key, fid in fields.items():
        if key not in adders:
            pytest.fail(f"{key}: no builder function in the schema module")
        assert filled_slot(*adders[key]) == fid, key
        checked += 1
    assert checked == len(fields)


def test_public_tensor_types_match_the_schema() -> None:
    text = (PORT_DIR / "include" / "kwsq_rt.h").read_text()
    enum = text.split("kwsq_type;")[0].split("KWSQ_ERR_EVAL")[1]
    types = dict(re.findall(r"KWSQ_(\w+) = (\d+),?\n", enum))
    assert types, "no kwsq_type values found"
    for name, value in types.items():
        assert getattr(schema.TensorType, name) == int(value), name
