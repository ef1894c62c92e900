"""The dsp kernels with packed INT4 weights give exactly the reference results.

kernels/dsp computes packed int4 weights without unpacking them to memory:
FULLY_CONNECTED widens the input once per call and runs two rows per pass
(rows of an odd length start mid-byte every other row: those rows run
against an input led by one zero), the six-pixel CONV_2D path reads eight
nibbles per word (rows starting mid-byte are first copied byte-aligned),
and both put nibble pairs into the top bits of 16-bit lanes (4096x the
weights), dividing the sums back in runs short enough never to overflow.
Each of these is a place where an off-by-one nibble, a wrong lane order or a
missed tail would still give plausible outputs, so they are checked against
independent references:
- random Keras models (dense stacks with odd, even, short and long rows;
  convolutions with odd and even receptive fields, padding, strides,
  dilation; depthwise layers) converted to int8 by the TF converter and then
  re-gridded to packed INT4 weights (per channel and per tensor, the full
  -8..7 range), run by tflite_micro and by kwsq-run built for the host with
  the dsp folder (its portable stand-ins for the DSP instructions: the same
  lane orders, pairings and tails), and under QEMU on Cortex-M4 (the real
  instructions);
- convolutions whose fields are whole groups of eight (the rows that keep
  their sums in registers: 8..248 values, and 256 just past them), with
  the full-range, clamped and general output stages, on the host and M4;
- rows of all -8 weights against inputs at the end of their range, long
  enough that the 4096x sums would overflow without the kernels' runs;
- the hybrid FULLY_CONNECTED (float input, int8 weights) against
  kernels/ref on the host and under QEMU;
- the kernel check firmware on m4/dsp: every dsp kernel against
  kernels/ref, bit for bit, on a few hundred randomized shapes per kernel.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from runtime_refs import _convert, assert_same_outputs, check_host, cli_run, random_inputs, tflm_run

from pipeline.paths import PORT_DIR

N_DENSE_MODELS = 5
N_CONV_MODELS = 6


def to_int4(model: bytes, seed: int, per_tensor_conv: bool = False) -> bytes:
    """Re-grid every FULLY_CONNECTED / CONV_2D / DEPTHWISE_CONV_2D weight
    tensor of an int8 model to packed INT4 (the full -8..7 range, scales and
    biases rescaled so the layer computes about what it did); with
    `per_tensor_conv`, convolutions get one scale shared by all channels."""
    from pipeline.tflite import schema as tfs

    m = tfs.load(model)
    rng = np.random.default_rng(seed)
    for sg in m.subgraphs:
        for op in sg.operators:
            kind = tfs.op_name(m, op)
            if kind not in ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D"):
                continue
            ins = [int(i) for i in op.inputs]
            w = sg.tensors[ins[1]]
            q = tfs.quant(w)
            if w.type != tfs.TensorType.INT8 or q is None:
                continue
            axis = 3 if kind == "DEPTHWISE_CONV_2D" else 0
            vals = tfs.tensor_values(m, w).astype(np.float64)
            moved = np.moveaxis(vals, axis, 0).reshape(vals.shape[axis], -1)
            # TFLM takes INT4 FULLY_CONNECTED weights per tensor only
            one = kind == "FULLY_CONNECTED" or per_tensor_conv
            scale = np.broadcast_to(q.scales.astype(np.float64), (vals.shape[axis],))
            peak = np.maximum(np.abs(moved).max(axis=1), 1.0) * scale
            if one:
                peak = np.full_like(peak, peak.max())
            # a step slightly off 1/8 of the (real-valued) peak, jittered, so
            # -8 and 7 both occur
            step = peak / rng.uniform(7.2, 8.4, size=peak.shape)
            if one:
                step = np.full_like(step, step[0])
            shape = [1] * vals.ndim
            shape[axis] = -1
            real_w = vals * scale.reshape(shape)
            levels = np.clip(np.round(real_w / step.reshape(shape)), -8, 7).astype(np.int8)
            new = step[:1] if one else step
            tfs.set_tensor_values(m, w, levels, tfs.TensorType.INT4)
            tfs.set_quant(w, new, np.zeros(new.size, np.int64), 0 if one else axis)
            if len(ins) > 2 and ins[2] >= 0:
                b = sg.tensors[ins[2]]
                bq = tfs.quant(b)
                in_scale = float(tfs.quant(sg.tensors[ins[0]]).scales[0])
                real = tfs.tensor_values(m, b).astype(np.float64) * bq.scales.astype(np.float64)
                bscale = in_scale * np.broadcast_to(new, real.shape)
                tfs.set_tensor_values(m, b, np.round(real / bscale).astype(np.int32),
                                      tfs.TensorType.INT32)
                tfs.set_quant(b, bscale.astype(np.float32), np.zeros(bscale.size, np.int64), 0)
    return tfs.dump(m)


def dense_model(seed: int) -> tuple[bytes, str]:
    """A stack of dense layers whose row lengths are drawn odd and even, short
    (below one group of eight), longer than the widened-input limit (1024) and
    than one 4096x run (504 values), with odd and even row counts."""
    import tf_keras as keras

    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed)
    sizes = {0: [39, 128, 39, 12], 1: [620, 7, 3, 5], 2: [1031, 9, 2],
             3: [505, 33, 4, 6], 4: [200, 200, 13]}[seed % 5]
    sizes = [s + int(rng.integers(0, 2)) * (seed >= 5) for s in sizes]
    inp = keras.Input((sizes[0],), batch_size=1)
    x = inp
    for n in sizes[1:]:
        # (a narrow ReLU layer could be dead for every input)
        act = str(rng.choice(["relu", "linear", "sigmoid"])) if n >= 8 else "linear"
        x = keras.layers.Dense(n, activation=act)(x)
    model = _convert(keras.Model(inp, x), (sizes[0],), int8_io=True)
    return to_int4(model, seed), "dense " + "->".join(map(str, sizes))


def _int4_with_head(inp, x, rng: np.random.Generator, shape: tuple[int, ...], desc: list[str],
                    seed: int, per_tensor: bool) -> tuple[bytes, str]:
    """A random model's FLATTEN + FULLY_CONNECTED head, converted to int8 TFLite with int8
    input and output, its convolutions' weights packed to int4 (per tensor or per channel),
    and its description."""
    import tf_keras as keras

    out = keras.layers.Dense(int(rng.integers(3, 12)))(keras.layers.Flatten()(x))
    model = _convert(keras.Model(inp, out), shape, int8_io=True)
    desc.append("per-tensor" if per_tensor else "per-channel")
    return to_int4(model, seed, per_tensor_conv=per_tensor), "; ".join(desc)


def conv_model(seed: int) -> tuple[bytes, str]:
    """Random convolutions (odd and even receptive fields, pointwise, padded,
    strided, dilated) and depthwise layers, per channel or per tensor."""
    import tf_keras as keras

    rng = np.random.default_rng(100 + seed)
    keras.utils.set_random_seed(seed)
    L = keras.layers
    h, w, c = int(rng.integers(6, 13)), int(rng.integers(5, 12)), int(rng.integers(1, 9))
    inp = keras.Input((h, w, c), batch_size=1)
    x = inp
    desc = [f"in {h}x{w}x{c}"]
    for i in range(int(rng.integers(3, 6))):
        kind = ["conv", "pw", "dw"][int(rng.integers(0, 3))] if i else "conv"
        kh, kw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        stride = int(rng.integers(1, 3))
        dil = int(rng.integers(1, 3)) if stride == 1 else 1
        small = min(x.shape[1], x.shape[2]) < (max(kh, kw) - 1) * dil + 2
        pad = "same" if small else ["same", "valid"][int(rng.integers(0, 2))]
        act = [None, "relu", "relu6"][int(rng.integers(0, 3))]
        if kind == "conv":
            x = L.Conv2D(int(rng.integers(1, 21)), (kh, kw), strides=stride, dilation_rate=dil,
                         padding=pad, activation=act)(x)
        elif kind == "dw":
            x = L.DepthwiseConv2D((kh, kw), strides=stride, dilation_rate=dil, padding=pad,
                                  depth_multiplier=int(rng.integers(1, 3)), activation=act)(x)
        else:
            x = L.Conv2D(int(rng.integers(1, 40)), 1, activation=act)(x)
        desc.append(f"{kind} {kh}x{kw}/s{stride}/d{dil}/{pad} -> {tuple(x.shape[1:])}")
    return _int4_with_head(inp, x, rng, (h, w, c), desc, seed, per_tensor=seed % 2 == 1)


def aligned_conv_model(seed: int) -> tuple[bytes, str]:
    """Convolutions whose receptive fields are whole groups of eight (the
    register-accumulator rows: 8 to 248 values, every row on a byte), DS-CNN's
    10x4x1 first conv and 1x1 layers among them, one field just past one run
    (256), with no activation, ReLU and ReLU6 (the full-range and the clamped
    output stage), per channel or per tensor."""
    import tf_keras as keras

    rng = np.random.default_rng(300 + seed)
    keras.utils.set_random_seed(300 + seed)
    L = keras.layers
    c = [1, 8, 16, 2][seed % 4]
    h, w = int(rng.integers(10, 16)), int(rng.integers(4, 10))
    inp = keras.Input((h, w, c), batch_size=1)
    desc = [f"in {h}x{w}x{c}"]
    kernels = {1: [(10, 4), (2, 4), (8, 1)], 2: [(2, 2), (4, 1)], 8: [(1, 1), (3, 3)],
               16: [(1, 1), (2, 1)]}
    kh, kw = kernels[c][int(rng.integers(0, len(kernels[c])))]
    acts = [None, "relu", "relu6"]
    act = acts[int(rng.integers(0, 3))]
    x = L.Conv2D(int(rng.choice([8, 24, 64])), (kh, kw), strides=int(rng.integers(1, 3)),
                 padding="same", activation=act)(inp)
    desc.append(f"conv {kh}x{kw}x{c} {act} -> {tuple(x.shape[1:])}")
    for i in range(int(rng.integers(2, 4))):
        # seeds 0 and 1: a 248-value field (one whole run) and a 256-value one (past it)
        cout = [248, 256][seed] if i == 0 and seed < 2 else int(rng.choice([8, 16, 40, 64]))
        act = acts[int(rng.integers(0, 3))]
        x = L.Conv2D(cout, 1, activation=act)(x)
        desc.append(f"pw {act} -> {tuple(x.shape[1:])}")
    return _int4_with_head(inp, x, rng, (h, w, c), desc, seed, per_tensor=seed % 3 == 2)


def extreme_model(conv: bool) -> tuple[bytes, str]:
    """Every weight -8 and inputs at the far end of their range: rows long
    enough (1000 values; a 300-value receptive field) that the 4096x lane
    sums would overflow 32 bits without the kernels' runs."""
    import tf_keras as keras

    from pipeline.tflite import schema as tfs

    keras.utils.set_random_seed(3)
    shape = (2, 3, 300) if conv else (1000,)
    inp = keras.Input(shape, batch_size=1)
    layer = keras.layers.Conv2D(5, 1) if conv else keras.layers.Dense(5)
    model = to_int4(_convert(keras.Model(inp, layer(inp)), shape, int8_io=True), 4)
    m = tfs.load(model)
    sg = m.subgraphs[0]
    for op in sg.operators:
        w = sg.tensors[int(op.inputs[1])]
        if w.type == tfs.TensorType.INT4:
            tfs.set_tensor_values(m, w, np.full(tfs.tensor_values(m, w).shape, -8, np.int8),
                                  tfs.TensorType.INT4)
    # input zero point 127: an input of -128 is -255 once the offset is added
    x = sg.tensors[int(sg.inputs[0])]
    tfs.set_quant(x, tfs.quant(x).scales, np.array([127]), 0)
    return tfs.dump(m), f"all -8 weights, {'conv 1x1 on 300 channels' if conv else 'dense 1000'}"


def extreme_inputs(model: bytes) -> list[np.ndarray]:
    xs = random_inputs(model, 3, seed=5)
    return [np.full_like(xs[0], -128), np.full_like(xs[0], 127), *xs]


N_ALIGNED_MODELS = 8


@pytest.fixture(scope="module")
def aligned_models() -> list[tuple[bytes, str]]:
    """With conv output scales x4 (ReLU/ReLU6 clamp inside the int8 range: the
    clamped stage) and x1/64 (left shifts: the general stage) on per-channel models."""
    from test_kernels_dsp import rescaled_outputs

    models = [aligned_conv_model(s) for s in range(N_ALIGNED_MODELS)]
    rescaled = [(rescaled_outputs(models[s][0], f, "CONV_2D"),
                 f"{models[s][1]}; conv output scale x{f:g}")
                for s, f in ((0, 4.0), (3, 4.0), (4, 4.0), (1, 1 / 64))]
    return models + rescaled


def test_aligned_int4_convs_cover_one_run_and_past_it(aligned_models) -> None:
    fields = {n for model, _ in aligned_models for op, n in _int4_rows(model) if op == "CONV_2D"}
    assert {8, 40, 64, 72, 248, 256} <= fields, fields
    descs = " ".join(d for _, d in aligned_models)
    assert "per-tensor" in descs and "per-channel" in descs and "relu6" in descs
    assert "scale x4" in descs and "scale x0.015625" in descs


@pytest.fixture(scope="module")
def s4_models() -> list[tuple[bytes, str]]:
    return ([dense_model(s) for s in range(N_DENSE_MODELS)]
            + [conv_model(s) for s in range(N_CONV_MODELS)])


def _int4_rows(model: bytes) -> list[tuple[str, int]]:
    """(operator, receptive field) of every INT4 weight tensor."""
    from pipeline.tflite import schema as tfs

    m = tfs.load(model)
    rows = []
    for sg in m.subgraphs:
        for op in sg.operators:
            ins = [int(i) for i in op.inputs]
            if len(ins) > 1 and ins[1] >= 0 and sg.tensors[ins[1]].type == tfs.TensorType.INT4:
                shape = [int(d) for d in sg.tensors[ins[1]].shape]
                field = int(np.prod(shape[1:])) if tfs.op_name(m, op) != "DEPTHWISE_CONV_2D" else \
                    shape[1] * shape[2]
                rows.append((tfs.op_name(m, op), field))
    return rows


def test_int4_models_cover_the_rows_the_kernels_special_case(s4_models) -> None:
    """The generator really makes what the bit-exactness tests claim to cover."""
    rows = [r for model, _ in s4_models for r in _int4_rows(model)]
    fc = [n for op, n in rows if op == "FULLY_CONNECTED"]
    conv = [n for op, n in rows if op == "CONV_2D"]
    assert any(n % 2 for n in fc) and any(n % 8 == 0 for n in fc), fc  # odd rows, whole groups
    # shorter than a group; streamed (longer than the widened-input limit)
    assert any(n < 8 for n in fc) and any(n > 1024 for n in fc), fc
    assert any(504 < n <= 1024 for n in fc), fc  # more than one 4096x run
    assert any(n % 2 for n in conv) and any(n % 2 == 0 for n in conv), conv
    assert any(op == "DEPTHWISE_CONV_2D" for op, _ in rows)
    from pipeline.tflite import schema as tfs

    levels = np.concatenate([tfs.unpack_int4(np.frombuffer(b, np.uint8), 2 * len(b))
                             for model, _ in s4_models for b in _int4_buffers(model)])
    assert levels.min() == -8 and levels.max() == 7


def _int4_buffers(model: bytes) -> list[bytes]:
    from pipeline.tflite import schema as tfs

    m = tfs.load(model)
    return [tfs.buffer_bytes(m, t).tobytes() for sg in m.subgraphs for t in sg.tensors
            if t.type == tfs.TensorType.INT4]


@pytest.fixture(scope="module")
def dsp_cli() -> Path:
    if shutil.which("make") is None or shutil.which("cc") is None:
        pytest.skip("needs make and a C compiler")
    build = "build/host-dsp"
    subprocess.run(["make", "-s", "-C", str(PORT_DIR), "KERNELS=dsp", f"BUILD={build}",
                    f"{build}/kwsq-run"], check=True, capture_output=True)
    return PORT_DIR / build / "kwsq-run"


def test_dsp_int4_kernels_on_the_host_match_tflite_micro(dsp_cli: Path, s4_models,
                                                         tmp_path: Path) -> None:
    check_host(dsp_cli, s4_models, 6, 3, tmp_path)


def test_dsp_aligned_int4_convs_on_the_host_match_tflite_micro(dsp_cli: Path, aligned_models,
                                                                tmp_path: Path) -> None:
    check_host(dsp_cli, aligned_models, 4, 3, tmp_path)


@pytest.mark.parametrize("conv", [False, True], ids=["dense", "conv"])
def test_dsp_int4_sums_do_not_overflow_on_extreme_rows(dsp_cli: Path, conv: bool,
                                                       tmp_path: Path) -> None:
    model, desc = extreme_model(conv)
    xs = extreme_inputs(model)
    ref = tflm_run(model, xs)
    saturated = ref[0].min() == -128 or ref[0].max() == 127
    assert saturated, f"{desc}: the extreme input does not saturate"
    assert_same_outputs(cli_run(dsp_cli, model, xs, ref[0], tmp_path), ref, desc)


@pytest.fixture(scope="module")
def ref_cli() -> Path:
    build = "build/host-ref"
    subprocess.run(["make", "-s", "-C", str(PORT_DIR), "KERNELS=ref", f"BUILD={build}",
                    f"{build}/kwsq-run"], check=True, capture_output=True)
    return PORT_DIR / build / "kwsq-run"


def test_dsp_hybrid_fully_connected_matches_ref_bit_for_bit(dsp_cli: Path, ref_cli: Path, converted,
                                                            tmp_path: Path) -> None:
    """Float input, int8 weights (TFLM has no hybrid kernel: kernels/ref,
    itself checked against LiteRT, is the reference)."""
    model = converted("hybrid_dense")
    xs = random_inputs(model, 8, seed=4)
    like = np.zeros(48, np.float32)
    ref = cli_run(ref_cli, model, xs, like, tmp_path)
    assert_same_outputs(cli_run(dsp_cli, model, xs, like, tmp_path), ref, "hybrid dense 40->64->48")


_missing = [t for t in ("qemu-system-arm", "arm-none-eabi-gcc", "make") if shutil.which(t) is None]
needs_qemu = pytest.mark.skipif(bool(_missing), reason=f"needs {', '.join(_missing)} (make setup)")


@pytest.mark.qemu
@needs_qemu
def test_dsp_int4_kernels_under_qemu_m4_match_tflite_micro(s4_models, tmp_path: Path) -> None:
    from pipeline.device.targets import run_on_target

    extreme = [extreme_model(c) for c in (False, True)]
    for model, desc in s4_models + extreme:
        xs = extreme_inputs(model) if (model, desc) in extreme else random_inputs(model, 3, seed=8)
        ref = tflm_run(model, xs)
        path = tmp_path / "model.tflite"
        path.write_bytes(model)
        run = run_on_target(path, np.stack(xs), "m4", kernels="dsp")
        assert_same_outputs(list(run.outputs[0]), ref, f"{desc} m4")


@pytest.mark.qemu
@needs_qemu
def test_dsp_aligned_int4_convs_under_qemu_m4_match_tflite_micro(aligned_models,
                                                                 tmp_path: Path) -> None:
    """The register-accumulator rows' assembly (the host build runs their C stand-in)."""
    from pipeline.device.targets import run_on_target

    for model, desc in aligned_models:
        xs = random_inputs(model, 3, seed=11)
        ref = tflm_run(model, xs)
        path = tmp_path / "model.tflite"
        path.write_bytes(model)
        run = run_on_target(path, np.stack(xs), "m4", kernels="dsp")
        assert_same_outputs(list(run.outputs[0]), ref, f"{desc} m4")


@pytest.mark.qemu
@needs_qemu
def test_dsp_hybrid_fully_connected_under_qemu_m4_matches_ref(ref_cli: Path, converted,
                                                              tmp_path: Path) -> None:
    from pipeline.device.targets import run_on_target

    model = converted("hybrid_dense")
    xs = random_inputs(model, 3, seed=9)
    like = np.zeros(48, np.float32)
    ref = cli_run(ref_cli, model, xs, like, tmp_path)
    path = tmp_path / "model.tflite"
    path.write_bytes(model)
    run = run_on_target(path, np.stack(xs), "m4", kernels="dsp")
    assert_same_outputs([o.reshape(like.shape) for o in run.outputs[0]], ref, "hybrid dense m4")


CHECK_LINE = re.compile(r"^KWSQ CHECK (\S+) (\d+) (\d+) instructions (\d+)k ref (\d+)k", re.M)


@pytest.mark.qemu
@needs_qemu
@pytest.mark.parametrize("seed", [7, 29])
def test_dsp_kernels_match_ref_on_the_kernel_checks_random_shapes(tmp_path: Path,
                                                                  seed: int) -> None:
    from pipeline.device.targets import BOARDS_DIR, run_firmware

    cases = 300
    subprocess.run(["make", "-j2", "--no-print-directory", "-C", str(BOARDS_DIR), "kernel-check",
                    "TARGET=m4", "KERNELS=dsp", f"BUILD_ROOT={tmp_path}", f"CHECK_CASES={cases}",
                    f"CHECK_SEED={seed}"], check=True, capture_output=True)
    elf = tmp_path / "m4" / "check-dsp" / f"kernel_check-{cases}-{seed}.elf"
    code, text = run_firmware("m4", elf, timeout_s=600)
    found = {m[1]: (int(m[2]), int(m[3])) for m in CHECK_LINE.finditer(text)}
    assert set(found) == {"conv_s8", "conv_s4", "depthwise_conv_s8", "depthwise_conv_s4",
                          "fully_connected_s8", "fully_connected_s4"}, text
    for op, (ran, mismatches) in found.items():
        assert mismatches == 0, f"{op}: {mismatches} of {ran} random cases differ from kernels/ref"
        assert ran >= 200, f"{op}: only {ran} cases ran"
    assert code == 0, text
