"""Overlapped placement: a conv / depthwise output sharing memory with its input.

The planner places an input ``delta`` bytes above its op's output start, with
``delta`` the smallest distance the row-order contract of
``include/kwsq_kernels.h`` allows (each kernel folder states its pass sizes in
``kernels/<folder>/kwsq_overlap.h``). A kernel that reads an input row after
writing over it gives other numbers, so every folder runs overlapped models
bit-exact against TFLite Micro:
- randomized chains of convolutions and depthwise convolutions (strides 1-3,
  filters up to 6 rows, dilation, same/valid padding, depth multipliers, one-
  pixel-wide maps where a pass of several pixels spans several rows), each
  checked to plan a smaller arena than the same runtime built without
  overlapping (``-DKWSQ_NO_OVERLAP``), so the overlap really happens, and
  run with every granted overlap placed (``-DKWSQ_ALWAYS_OVERLAP``; normally
  the planner keeps separate buffers where those plan smaller);
- on the host with kernels/ref and kernels/dsp (portable stand-ins), and under
  QEMU with m4/ref, m4/dsp, m55/mve and a64/neon;
- the anchors on every folder under QEMU, with the exact planned arena
  (deterministic: a change in the planner, a kernel's scratch or an op's
  persistent data shows here first).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from runtime_refs import (
    anchor_bytes,
    assert_same_outputs,
    cli_run,
    convert_int8,
    random_inputs,
    tflm_run,
)

from pipeline.paths import PORT_DIR

N_MODELS = 6
N_QEMU_MODELS = 3


def _build_cli(kernels: str, flag: str = "") -> Path:
    build = f"build/host-{kernels}" + (f"-{flag.lower()}" if flag else "")
    cmd = ["make", "-s", "-C", str(PORT_DIR), f"KERNELS={kernels}", f"BUILD={build}",
           f"{build}/kwsq-run"]
    if flag:
        cmd.append(f"EXTRA_CFLAGS=-DKWSQ_{flag}")
    subprocess.run(cmd, check=True, capture_output=True)
    return PORT_DIR / build / "kwsq-run"


@pytest.fixture(scope="module")
def clis() -> dict[str, Path]:
    if shutil.which("make") is None or shutil.which("cc") is None:
        pytest.skip("needs make and a C compiler")
    return {f"{k}{suffix}": _build_cli(k, flag) for k in ("ref", "dsp")
            for suffix, flag in (("", ""), ("-never", "NO_OVERLAP"), ("-always", "ALWAYS_OVERLAP"))}


def overlap_chain_model(seed: int) -> tuple[bytes, str]:
    """A 1x1 conv (so the chain's inputs are not the graph input), then 3-6
    random CONV_2D / DEPTHWISE_CONV_2D layers, then a Dense layer; int8."""
    import tf_keras as keras

    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed)
    L = keras.layers
    narrow = seed % 3 == 2
    h, c = int(rng.integers(24, 49)), int(rng.integers(1, 4))
    w = 1 if narrow else int(rng.integers(5, 17))
    inp = keras.Input((h, w, c), batch_size=1)
    x = L.Conv2D(int(rng.integers(1, 4)) * (4 if narrow else 1), 1)(inp)
    desc = [f"in {h}x{w}x{c} -> pw {tuple(x.shape[1:])}"]
    for layer in range(int(rng.integers(3, 7))):
        # the first layers widen the map, so that the peak lies in the chain
        kind = str(rng.choice(["conv", "dw", "dw"]))
        kh = int(rng.integers(1, 7))
        kw = 1 if x.shape[2] == 1 else int(rng.integers(1, 5))
        stride = int(rng.choice([1, 2, 2, 3]))
        dil = int(rng.integers(1, 3)) if stride == 1 else 1
        if (kh - 1) * dil + 1 > x.shape[1] or (kw - 1) * dil + 1 > x.shape[2]:
            pad = "same"
        else:
            pad = str(rng.choice(["same", "valid"]))
        sw = 1 if x.shape[2] == 1 else stride
        act = rng.choice([None, "relu"])
        if kind == "conv":
            filters = int(rng.integers(16, 33) if layer < 2 else rng.integers(3, 25))
            x = L.Conv2D(filters, (kh, kw), strides=(stride, sw), dilation_rate=dil,
                         padding=pad, activation=act)(x)
        else:
            mult = int(rng.choice([4, 8] if layer < 2 else [1, 1, 2, 4]))
            x = L.DepthwiseConv2D((kh, kw), strides=(stride, sw), dilation_rate=dil, padding=pad,
                                  depth_multiplier=mult, activation=act)(x)
        desc.append(f"{kind} {kh}x{kw}/s{stride}x{sw}/d{dil}/{pad} -> {tuple(x.shape[1:])}")
        if x.shape[1] < 3:
            break
    out = L.Dense(int(rng.integers(3, 9)))(L.Flatten()(x))
    model = keras.Model(inp, out)
    return convert_int8(model, (h, w, c), seed + 1, per_tensor=seed % 2 == 1), "; ".join(desc)


def depthwise_3x3_valid_model() -> tuple[bytes, str]:
    """A 3x3 stride-1 multiplier-1 depthwise layer with valid padding on an
    intermediate tensor: kernels/dsp computes it channel block by channel
    block (dsp_dw3x3.c), so its kwsq_overlap.h must refuse the overlap the
    reference kernels accept."""
    import tf_keras as keras

    keras.utils.set_random_seed(3)
    L = keras.layers
    inp = keras.Input((20, 12, 2), batch_size=1)
    # 3 channels, 10 output columns: the overlap distance 30 B rounds up to 32,
    # not a multiple of the channel count, so a channel-ordered kernel would
    # overwrite another channel's unread input
    x = L.Conv2D(3, 1)(inp)
    x = L.DepthwiseConv2D(3, padding="valid", activation="relu")(x)
    x = L.DepthwiseConv2D(3, padding="valid")(x)
    out = L.Dense(5)(L.Flatten()(x))
    return convert_int8(keras.Model(inp, out), (20, 12, 2), 4), "pw 3; dw 3x3 valid; dw 3x3 valid"


@pytest.fixture(scope="module")
def models() -> list[tuple[bytes, str]]:
    pytest.importorskip("tflite_micro")
    return [overlap_chain_model(100 + s) for s in range(N_MODELS)] + [depthwise_3x3_valid_model()]


def _cli_arena(cli: Path, model: Path) -> int:
    return int(subprocess.run([str(cli), "--arena", str(model)], check=True, capture_output=True,
                              text=True).stdout.strip())


@pytest.mark.parametrize("kernels", ["ref", "dsp"])
def test_overlapped_chains_on_the_host_are_bit_exact_and_smaller(
        clis: dict[str, Path], models: list[tuple[bytes, str]], kernels: str,
        tmp_path: Path) -> None:
    smaller = 0
    for i, (model, desc) in enumerate(models):
        path = tmp_path / f"m{i}.tflite"
        path.write_bytes(model)
        xs = random_inputs(model, 4, seed=i)
        ref = tflm_run(model, xs)
        for variant in ("", "-always"):
            ours = cli_run(clis[kernels + variant], path, xs, ref[0], tmp_path)
            assert_same_outputs(ours, ref, f"{desc} ({kernels}{variant})")
        with_overlap = _cli_arena(clis[kernels], path)
        without = _cli_arena(clis[f"{kernels}-never"], path)
        assert with_overlap <= without, desc
        smaller += with_overlap < without
    # The chains are drawn so that overlapping pays in most of them.
    assert smaller >= N_MODELS // 2, f"only {smaller} of {len(models)} models planned smaller"


_TARGETS = [("m4", "ref", "qemu-system-arm"), ("m4", "dsp", "qemu-system-arm"),
            ("m55", "mve", "qemu-system-arm"), ("a64", "neon", "qemu-aarch64")]
_qemu_params = [
    pytest.param(t, k, marks=pytest.mark.skipif(
        shutil.which(q) is None or shutil.which("arm-none-eabi-gcc") is None, reason=f"needs {q}"))
    for t, k, q in _TARGETS
]


def _target_run(model: bytes, xs: list[np.ndarray] | None, target: str, kernels: str, tmp: Path):
    from pipeline.device.targets import run_on_target

    path = tmp / "model.tflite"
    path.write_bytes(model)
    return run_on_target(path, None if xs is None else np.stack(xs), target, kernels=kernels)


@pytest.mark.qemu
@pytest.mark.slow
@pytest.mark.parametrize(("target", "kernels"), _qemu_params)
def test_overlapped_chains_under_qemu_are_bit_exact(
        models: list[tuple[bytes, str]], target: str, kernels: str, tmp_path: Path) -> None:
    for i, (model, desc) in enumerate(models[:N_QEMU_MODELS] + models[N_MODELS:]):
        xs = random_inputs(model, 3, seed=i)
        ref = tflm_run(model, xs)
        run = _target_run(model, xs, target, kernels, tmp_path)
        assert_same_outputs(list(run.outputs[0]), ref, f"{desc} ({target}/{kernels})")


# Planned arena bytes (kwsq_arena_used_bytes) of the anchors per target and
# kernel folder. Before overlapped placement micro_speech took 6,728 B on M4;
# before the requantization tables moved into Eval scratch on the Cortex-M
# targets (and the conv op data was packed, and the dsp 3x3 depthwise stopped
# asking for a ring it does not use), DS-CNN took 13,888 B (ref) and 14,216 B (dsp).
# m55/mve DS-CNN took 10,960 B before its depthwise layers took the dot-product path
# (kernels/mve/mve_dw_dot.c: channel planes of 3 rows x 7 bytes x 64 channels = 1,344 B
# of scratch instead of a 640 B ring), for 1,298,492 -> 1,197,832 instructions; 11,664 B
# before the planes held a fourth row (two output rows per pass on its 5-wide maps:
# 1,063,787 -> 1,052,559 instructions).
EXACT_ARENA = {
    ("m4", "ref"): {"micro_speech_quantized": 4928, "mlperf_tiny_kws_ds_cnn_int8": 10960},
    ("m4", "dsp"): {"micro_speech_quantized": 4928, "mlperf_tiny_kws_ds_cnn_int8": 10816},
    # the M55 firmware keeps the requantization tables persistent (boards/Makefile:
    # 5 B per output channel, DS-CNN +2,640 B) and the small-field conv path its
    # records (kernels/mve/mve_conv_dot.c: 10 B per channel plus the geometry and a
    # padded weight copy, DS-CNN's first conv 992 B) and the conv op data a pointer
    # to them: DS-CNN 12,112 -> 15,744 B, micro_speech 4,928 -> 4,952 B; then
    # micro_speech's one-channel depthwise layer took kernels/mve/mve_dw_c1.c, whose
    # scratch strip holds the window's 10 padded input rows (460 B): 4,952 -> 5,416 B
    # for 481,121 -> 167,658 instructions
    ("m55", "mve"): {"micro_speech_quantized": 5416, "mlperf_tiny_kws_ds_cnn_int8": 15744},
    # 64-bit pointers: larger interpreter, node and tensor records; the A-profile
    # firmware keeps the requantization tables persistent (boards/Makefile); the
    # conv op data's kernel-constants pointer: 5,224 -> 5,240 and 14,368 -> 14,432 B
    ("a64", "neon"): {"micro_speech_quantized": 5240, "mlperf_tiny_kws_ds_cnn_int8": 14432},
}


@pytest.mark.qemu
@pytest.mark.slow
@pytest.mark.parametrize(("target", "kernels"), _qemu_params)
@pytest.mark.parametrize("name", ["micro_speech_quantized", "mlperf_tiny_kws_ds_cnn_int8"])
def test_anchors_plan_their_exact_arena_and_stay_bit_exact(
        name: str, target: str, kernels: str, tmp_path: Path) -> None:
    model = anchor_bytes(name)
    xs = random_inputs(model, 3, seed=5)
    ref = tflm_run(model, xs)
    run = _target_run(model, xs, target, kernels, tmp_path)
    assert_same_outputs(list(run.outputs[0]), ref, f"{name} {target}/{kernels}")
    assert run.arena_bytes == EXACT_ARENA[(target, kernels)][name]
