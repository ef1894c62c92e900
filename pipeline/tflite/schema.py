"""Read and rewrite ``.tflite`` flatbuffers through the generated TFLite schema module.

The interpreters' Python APIs hide what kwsq cares about (``get_tensor_details()``
reports packed INT4 weights as INT8, and neither shows per-channel scales of a
FULLY_CONNECTED), so the converter's post-pass, ``kwsq inspect`` and the tests read
tensor types, scales and raw weight bytes from the flatbuffer itself. Writing goes
through the object API with every buffer 16-byte aligned, as the schema asks
(``force_align: 16``) and as microcontroller runtimes that read weights in place need.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import flatbuffers
import numpy as np

# LiteRT ships the same generated schema module as TensorFlow (a newer revision) and
# imports in a fraction of the time, which keeps ``kwsq inspect`` quick.
from ai_edge_litert import schema_py_generated as schema

from pipeline.errors import KwsqError
from pipeline.tflite.types import NUMPY_DTYPES

FILE_IDENTIFIER = b"TFL3"
BUFFER_ALIGNMENT = 16

TensorType = schema.TensorType
BuiltinOperator = schema.BuiltinOperator

TYPE_NAMES: dict[int, str] = {
    v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_") and isinstance(v, int)
}
OP_NAMES: dict[int, str] = {
    v: k
    for k, v in vars(schema.BuiltinOperator).items()
    if not k.startswith("_") and isinstance(v, int)
}

_NUMPY_TYPES = NUMPY_DTYPES


def load(data: bytes) -> schema.ModelT:
    """Parse a .tflite file's bytes into the mutable object API."""
    if len(data) < 8 or data[4:8] != FILE_IDENTIFIER:
        raise KwsqError("not a TFLite flatbuffer (file identifier TFL3 missing)")
    try:
        return schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    except Exception as exc:  # a corrupt flatbuffer raises anything from struct to Index errors
        raise KwsqError(f"cannot parse the TFLite flatbuffer: {exc}") from exc


class _AlignedBufferT(schema.BufferT):
    """A BufferT whose data vector starts on a 16-byte boundary of the final file."""

    def Pack(self, builder: flatbuffers.Builder) -> int:  # noqa: N802 (flatbuffers API name)
        data_offset = None
        if self.data is not None and len(self.data) > 0:
            payload = np.asarray(self.data, dtype=np.uint8).tobytes()
            builder.StartVector(1, len(payload), BUFFER_ALIGNMENT)
            builder.head -= len(payload)
            builder.Bytes[builder.head : builder.head + len(payload)] = payload
            data_offset = builder.EndVector()
        schema.BufferStart(builder)
        if data_offset is not None:
            schema.BufferAddData(builder, data_offset)
        schema.BufferAddOffset(builder, self.offset)
        schema.BufferAddSize(builder, self.size)
        return schema.BufferEnd(builder)


def dump(model: schema.ModelT) -> bytes:
    """Serialize the object API model back to .tflite bytes (buffers 16-byte aligned)."""
    originals = model.buffers
    model.buffers = [_aligned(b) for b in (originals or [])]
    try:
        builder = flatbuffers.Builder(1 << 16)
        builder.Finish(model.Pack(builder), file_identifier=FILE_IDENTIFIER)
        return bytes(builder.Output())
    finally:
        model.buffers = originals


def _aligned(buffer: schema.BufferT) -> _AlignedBufferT:
    out = _AlignedBufferT()
    out.data, out.offset, out.size = buffer.data, buffer.offset, buffer.size
    return out


# ------------------------------------------------------------------------- int4 packing


def pack_int4(values: np.ndarray) -> np.ndarray:
    """Two signed 4-bit values per byte, low nibble first (TFLite's INT4 layout)."""
    v = np.asarray(values).reshape(-1).astype(np.int16)
    if v.size and (v.min() < -8 or v.max() > 7):
        raise ValueError("int4 values must lie in [-8, 7]")
    if v.size % 2:
        v = np.concatenate([v, np.zeros(1, np.int16)])
    nibbles = (v & 0x0F).astype(np.uint8)
    return (nibbles[0::2] | (nibbles[1::2] << 4)).astype(np.uint8)


def unpack_int4(packed: np.ndarray, count: int) -> np.ndarray:
    """Inverse of :func:`pack_int4`: ``count`` signed values as int8."""
    p = np.asarray(packed, dtype=np.uint8)
    nibbles = np.empty(p.size * 2, dtype=np.int16)
    nibbles[0::2] = p & 0x0F
    nibbles[1::2] = p >> 4
    nibbles = np.where(nibbles > 7, nibbles - 16, nibbles)
    return nibbles[:count].astype(np.int8)


# ---------------------------------------------------------------------------- tensors


def op_name(model: schema.ModelT, op: schema.OperatorT) -> str:
    code = model.operatorCodes[op.opcodeIndex]
    # Operators past 127 keep deprecatedBuiltinCode at 127 (PLACEHOLDER_FOR_GREATER_OP_CODES).
    builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
    if builtin == BuiltinOperator.CUSTOM:
        name = code.customCode.decode() if code.customCode else "?"
        return f"CUSTOM({name})"
    return OP_NAMES.get(builtin, f"OP{builtin}")


def operators(model: schema.ModelT,
              name: str) -> Iterator[tuple[schema.SubGraphT, schema.OperatorT]]:
    """Every operator called `name` (as op_name spells it), with its subgraph, in file order."""
    for sg in model.subgraphs:
        for op in sg.operators:
            if op_name(model, op) == name:
                yield sg, op


def tensor_name(tensor: schema.TensorT) -> str:
    name = tensor.name
    return name.decode(errors="replace") if isinstance(name, bytes) else str(name or "")


def num_elements(tensor: schema.TensorT) -> int:
    shape = tensor.shape if tensor.shape is not None else []
    return int(np.prod([int(d) for d in shape], dtype=np.int64)) if len(shape) else 1


def buffer_bytes(model: schema.ModelT, tensor: schema.TensorT) -> np.ndarray:
    """The raw bytes of a tensor's constant buffer (empty for activations)."""
    buf = model.buffers[tensor.buffer] if 0 < tensor.buffer < len(model.buffers) else None
    if buf is None or buf.data is None:
        return np.zeros(0, dtype=np.uint8)
    return np.asarray(buf.data, dtype=np.uint8)


def is_constant(model: schema.ModelT, tensor: schema.TensorT) -> bool:
    return buffer_bytes(model, tensor).size > 0


def tensor_values(model: schema.ModelT, tensor: schema.TensorT) -> np.ndarray:
    """A constant tensor's stored integer or float values, shaped (INT4 unpacked to int8)."""
    raw = buffer_bytes(model, tensor)
    shape = [int(d) for d in (tensor.shape if tensor.shape is not None else [])]
    if tensor.type == TensorType.INT4:
        return unpack_int4(raw, num_elements(tensor)).reshape(shape)
    dtype = _NUMPY_TYPES.get(int(tensor.type))
    if dtype is None:
        raise KwsqError(f"tensor '{tensor_name(tensor)}' has unsupported type "
                        f"{TYPE_NAMES.get(int(tensor.type), tensor.type)}")
    return np.frombuffer(raw.tobytes(), dtype=dtype).reshape(shape)


def set_tensor_values(model: schema.ModelT, tensor: schema.TensorT, values: np.ndarray,
                      tensor_type: int) -> None:
    """Store ``values`` as the tensor's constant data with the given TFLite type."""
    values = np.asarray(values)
    if tensor_type == TensorType.INT4:
        data = pack_int4(values)
    else:
        data = np.frombuffer(values.astype(_NUMPY_TYPES[tensor_type]).tobytes(), dtype=np.uint8)
    if not (0 < tensor.buffer < len(model.buffers)):
        raise KwsqError(f"tensor '{tensor_name(tensor)}' has no constant buffer to rewrite")
    model.buffers[tensor.buffer].data = data
    tensor.type = tensor_type
    tensor.shape = np.asarray(values.shape, dtype=np.int32)


def add_constant(model: schema.ModelT, sg: schema.SubGraphT, name: str,
                 values: np.ndarray, tensor_type: int) -> int:
    """Append a constant tensor (with its own buffer) to ``sg``; returns its index."""
    buffer = schema.BufferT()
    buffer.offset, buffer.size = 0, 0
    model.buffers.append(buffer)
    tensor = schema.TensorT()
    tensor.name = name.encode()
    tensor.buffer = len(model.buffers) - 1
    set_tensor_values(model, tensor, values, tensor_type)
    sg.tensors.append(tensor)
    return len(sg.tensors) - 1


@dataclass(frozen=True)
class Quant:
    """A tensor's quantization parameters as plain arrays."""

    scales: np.ndarray
    zero_points: np.ndarray
    axis: int

    @property
    def per_channel(self) -> bool:
        return self.scales.size > 1


def quant(tensor: schema.TensorT) -> Quant | None:
    q = tensor.quantization
    if q is None or q.scale is None or len(q.scale) == 0:
        return None
    zp = q.zeroPoint if q.zeroPoint is not None else np.zeros(len(q.scale), np.int64)
    return Quant(np.asarray(q.scale, np.float32), np.asarray(zp, np.int64),
                 int(q.quantizedDimension))


def set_quant(tensor: schema.TensorT, scales: np.ndarray, zero_points: np.ndarray,
              axis: int = 0) -> None:
    q = tensor.quantization or schema.QuantizationParametersT()
    q.scale = np.asarray(scales, np.float32).reshape(-1)
    q.zeroPoint = np.asarray(zero_points, np.int64).reshape(-1)
    q.quantizedDimension = int(axis)
    q.min = q.max = None
    tensor.quantization = q


def tensor_bytes(model: schema.ModelT, tensor: schema.TensorT) -> int:
    return int(buffer_bytes(model, tensor).size)
