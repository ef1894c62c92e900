"""Op-selective builds: the op list ``kwsq convert`` writes (model_ops.c) is exactly the
model's ops, a program built with it runs the model bit-exact with TFLite Micro and
refuses a model needing an op it lacks, and on the Cortex-M4 it links less code."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from runtime_refs import anchor_bytes, convert_int8, random_inputs, tflm_run

from pipeline.errors import KwsqError
from pipeline.paths import PORT_DIR
from pipeline.tflite import export_c
from pipeline.tflite import schema as ts

MAIN_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kwsq_ops.h"
extern const kwsq_op_resolver kwsq_model_ops;
static unsigned char arena[1 << 20] __attribute__((aligned(16)));
int main(int argc, char **argv) {
  /* argv: model, inputs (back to back), outputs */
  static unsigned char model[1 << 20] __attribute__((aligned(16)));
  FILE *f = fopen(argv[1], "rb");
  size_t len = fread(model, 1, sizeof model, f);
  fclose(f);
  kwsq_interpreter *ip; kwsq_error err;
  if (kwsq_init_with_ops(&ip, &kwsq_model_ops, model, len, arena, sizeof arena, &err) != KWSQ_OK) {
    fprintf(stderr, "%s\n", err.message);
    return 1;
  }
  const kwsq_tensor *in = kwsq_input(ip, 0), *out = kwsq_output(ip, 0);
  FILE *x = fopen(argv[2], "rb"), *y = fopen(argv[3], "wb");
  while (fread(in->data, 1, in->bytes, x) == in->bytes) {
    if (kwsq_invoke(ip, &err) != KWSQ_OK) return 2;
    fwrite(out->data, 1, out->bytes, y);
  }
  fclose(x); fclose(y);
  (void)argc;
  return 0;
}
"""


def _build(tmp_path: Path, ops_source: str, defines: tuple[str, ...] = (),
           kernels: str = "ref") -> Path:
    srcs = subprocess.run(["make", "-s", "-C", str(PORT_DIR), "-f", "-", "print",
                           f"KERNELS={kernels}"],
                          input="include sources.mk\nprint:\n\t@echo $(RT_SRCS) $(RT_INCLUDES)\n",
                          capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    files = [str(PORT_DIR / s) for s in srcs if not s.startswith("-I")]
    incs = [f"-I{PORT_DIR / s[2:]}" for s in srcs if s.startswith("-I")]
    (tmp_path / "main.c").write_text(MAIN_C)
    (tmp_path / "model_ops.c").write_text(ops_source)
    exe = tmp_path / "run"
    subprocess.run(["gcc", "-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", *defines,
                    f"-I{PORT_DIR / 'include'}", *incs, "-o", str(exe), str(tmp_path / "main.c"),
                    str(tmp_path / "model_ops.c"), *files, "-lm"], check=True)  # fmt: skip
    return exe


def test_op_list_is_the_models_ops_in_graph_order() -> None:
    model = anchor_bytes("micro_speech_quantized")
    source = export_c.op_list_source(model, description="micro_speech")
    listed = [line.strip()[len("&kwsq_kernel_"):-1] for line in source.splitlines()
              if line.strip().startswith("&kwsq_kernel_")]
    m = ts.load(model)
    # int8 everywhere: the typed records, which link only the int8 kernels
    assert listed == ["reshape", "depthwise_conv_2d_s8", "fully_connected_s8", "softmax_s8"]
    assert {k.removesuffix("_s8") for k in listed} == {
        ts.op_name(m, op).lower() for op in m.subgraphs[0].operators}


def test_op_list_refuses_a_model_with_an_op_the_runtime_lacks(converted) -> None:
    with pytest.raises(KwsqError, match="the kwsq runtime has no SUB op"):
        export_c.op_list_source(converted("unsupported_sub"))


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs a host C compiler")
def test_program_built_with_the_op_list_runs_bit_exact(tmp_path: Path) -> None:
    model = anchor_bytes("micro_speech_quantized")
    (tmp_path / "m.tflite").write_bytes(model)
    exe = _build(tmp_path, export_c.op_list_source(model))
    xs = random_inputs(model, 8, seed=4)
    (tmp_path / "x.bin").write_bytes(b"".join(x.tobytes() for x in xs))
    subprocess.run([str(exe), str(tmp_path / "m.tflite"), str(tmp_path / "x.bin"),
                    str(tmp_path / "y.bin")], check=True)  # fmt: skip
    ref = np.stack(tflm_run(model, xs))
    got = np.frombuffer((tmp_path / "y.bin").read_bytes(), dtype=ref.dtype).reshape(ref.shape)
    assert np.array_equal(got, ref)


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs a host C compiler")
def test_model_needing_an_unlisted_op_is_refused_naming_it(tmp_path: Path) -> None:
    model = anchor_bytes("micro_speech_quantized")
    (tmp_path / "m.tflite").write_bytes(model)
    # hello_world's list: FULLY_CONNECTED only.
    exe = _build(tmp_path, export_c.op_list_source(anchor_bytes("hello_world_int8")))
    (tmp_path / "x.bin").write_bytes(b"")
    run = subprocess.run([str(exe), str(tmp_path / "m.tflite"), str(tmp_path / "x.bin"),
                          str(tmp_path / "y.bin")], capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 1
    assert run.stderr.startswith("RESHAPE (op 0): op not in the op list this program was built")


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs a host C compiler")
def test_terse_build_names_the_builtin_code_and_the_source_line(tmp_path: Path) -> None:
    """-DKWSQ_NO_OP_NAMES -DKWSQ_SHORT_ERRORS (small firmware): the op is named by its
    builtin code, the message by the source line that refused."""
    model = anchor_bytes("micro_speech_quantized")
    (tmp_path / "m.tflite").write_bytes(model)
    exe = _build(tmp_path, export_c.op_list_source(anchor_bytes("hello_world_int8")),
                 ("-DKWSQ_NO_OP_NAMES", "-DKWSQ_SHORT_ERRORS", f"-fmacro-prefix-map={PORT_DIR}/="))
    (tmp_path / "x.bin").write_bytes(b"")
    run = subprocess.run([str(exe), str(tmp_path / "m.tflite"), str(tmp_path / "x.bin"),
                          str(tmp_path / "y.bin")], capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 1
    assert re.fullmatch(r"error at src/model\.c:\d+\n", run.stderr), run.stderr
    assert b"this program was built with" not in (tmp_path / "run").read_bytes()


@pytest.mark.qemu
def test_terse_firmware_is_smaller_and_gives_the_same_outputs(tmp_path: Path) -> None:
    from pipeline.device.targets import run_on_target

    model = anchor_bytes("micro_speech_quantized")
    path = tmp_path / "micro_speech_quantized.tflite"
    path.write_bytes(model)
    xs = np.stack(random_inputs(model, 3, seed=9))
    named = run_on_target(path, xs, "m4", op_list=True)
    bare = run_on_target(path, xs, "m4", op_list=True, terse=True)
    assert np.array_equal(bare.outputs[0], named.outputs[0])
    # the same kernels; only code placement in the runtime core differs
    assert abs(bare.instructions - named.instructions) <= named.instructions // 1000
    assert [name for name, _ in bare.op_instructions] == ["-"] * 4
    # an op-list build names its ops from their records, without the ~200-name table
    assert [name for name, _ in named.op_instructions] == [
        "RESHAPE", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX"]
    # what TERSE leaves out then is the messages' text: about 3 KB on the M4
    assert named.code_bytes["runtime"] - bare.code_bytes["runtime"] > 2500


@pytest.mark.qemu
def test_lto_terse_firmware_gives_tflite_micro_outputs(tmp_path: Path) -> None:
    """boards/Makefile LTO=1 (link-time optimization across the runtime's objects) with
    TERSE and the op list, kernels/dsp on the M4: bit-exact with TFLite Micro, and the
    runtime code is attributed from the linker's ltrans objects, not left to the harness."""
    from pipeline.device.targets import run_on_target

    model = anchor_bytes("micro_speech_quantized")
    path = tmp_path / "micro_speech_quantized.tflite"
    path.write_bytes(model)
    xs = np.stack(random_inputs(model, 3, seed=11))
    run = run_on_target(path, xs, "m4", kernels="dsp", op_list=True, terse=True, lto=True)
    assert np.array_equal(run.outputs[0], np.stack(tflm_run(model, list(xs))))
    assert ".ltrans" in (run.firmware.parent / "fw.map").read_text()
    # harness = bench_main, board objects: only a few KB of the firmware's code
    assert run.code_bytes["runtime"] > run.code_bytes["harness"] + run.code_bytes["libc"]
    # the link step splits the ltrans code into sections too, so --gc-sections still drops
    # what the op list does not reach: LTO never links more than the same build without it
    plain = run_on_target(path, xs[:1], "m4", kernels="dsp", op_list=True, terse=True)
    assert run.code_bytes["runtime"] < plain.code_bytes["runtime"]


@pytest.mark.qemu
@pytest.mark.parametrize("kernels", ["ref", "dsp"])
def test_op_list_firmware_is_smaller_and_gives_the_same_outputs(
        tmp_path: Path, kernels: str) -> None:
    """The op-list firmware links the model's typed op records and, with
    kernels/dsp, only the depthwise paths its layer shapes need (VARIANTS)."""
    from pipeline.device.targets import run_on_target

    model = anchor_bytes("micro_speech_quantized")
    path = tmp_path / "micro_speech_quantized.tflite"
    path.write_bytes(model)
    xs = np.stack(random_inputs(model, 3, seed=9))
    every = run_on_target(path, xs, "m4", kernels=kernels)
    only = run_on_target(path, xs, "m4", kernels=kernels, op_list=True)
    assert np.array_equal(every.outputs[0], only.outputs[0])
    assert np.array_equal(only.outputs[0], np.stack(tflm_run(model, list(xs))))
    # the same kernel paths run; the typed records' Eval skips the type dispatch,
    # code placement differs
    assert abs(every.instructions - only.instructions) <= every.instructions // 1000
    # 4 of the 19 ops: most kernels are not linked.
    assert only.code_bytes["runtime"] < 0.8 * every.code_bytes["runtime"]


def test_variant_flags_name_the_models_layer_classes() -> None:
    flags = {f: export_c.variant_flags(anchor_bytes(f)) for f in
             ("micro_speech_quantized", "mlperf_tiny_kws_ds_cnn_int8", "hello_world_int8")}
    assert flags["micro_speech_quantized"] == [  # depth multiplier 8 on one input channel
        "-DKWSQ_MODEL_VARIANTS", "-DKWSQ_MODEL_HAS_DW_DM1=0", "-DKWSQ_MODEL_HAS_DW_MULT=1",
        "-DKWSQ_MODEL_HAS_DW_3X3=0", "-DKWSQ_MODEL_HAS_INT4=0",
        "-DKWSQ_MODEL_HAS_FC_SHORT=0",  # its one FULLY_CONNECTED sums 4,000 values
        "-DKWSQ_MODEL_HAS_DW_GENERIC=0",  # 10x8 window, 40 tap pairs: (8 + 4) * 10 <= 768
        "-DKWSQ_MODEL_HAS_DW_MULT_CH=0",  # one input channel
        "-DKWSQ_MODEL_HAS_DW_DM1_ANY=0"]
    assert flags["mlperf_tiny_kws_ds_cnn_int8"][1:] == [
        "-DKWSQ_MODEL_HAS_DW_DM1=1", "-DKWSQ_MODEL_HAS_DW_MULT=0", "-DKWSQ_MODEL_HAS_DW_3X3=1",
        "-DKWSQ_MODEL_HAS_INT4=0", "-DKWSQ_MODEL_HAS_FC_SHORT=1",  # FC 64 -> 12
        "-DKWSQ_MODEL_HAS_DW_GENERIC=0", "-DKWSQ_MODEL_HAS_DW_MULT_CH=0",
        "-DKWSQ_MODEL_HAS_DW_DM1_ANY=0"]  # all 3x3 stride 1 multiplier 1: the planes path only
    assert flags["hello_world_int8"][1:] == [  # three dense layers of depth 1 and 16
        *(f"-DKWSQ_MODEL_HAS_{c}=0" for c in ("DW_DM1", "DW_MULT", "DW_3X3", "INT4")),
        "-DKWSQ_MODEL_HAS_FC_SHORT=1", "-DKWSQ_MODEL_HAS_DW_GENERIC=0",
        "-DKWSQ_MODEL_HAS_DW_MULT_CH=0", "-DKWSQ_MODEL_HAS_DW_DM1_ANY=0"]


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs a host C compiler")
@pytest.mark.parametrize("name", ["micro_speech_quantized", "mlperf_tiny_kws_ds_cnn_int8"])
def test_build_without_any_fast_path_runs_bit_exact(tmp_path: Path, name: str) -> None:
    """kernels/dsp (portable stand-ins) built as if the model had no layer of any fast
    class (and a DW_GENERIC one): every depthwise layer takes the generic path, and the
    outputs stay TFLM's."""
    model = anchor_bytes(name)
    (tmp_path / "m.tflite").write_bytes(model)
    flags = ("-DKWSQ_MODEL_VARIANTS",
             *(f"-DKWSQ_MODEL_HAS_{c}={int(c == 'DW_GENERIC')}" for c in export_c.VARIANT_CLASSES))
    exe = _build(tmp_path, export_c.op_list_source(model), flags, kernels="dsp")
    xs = random_inputs(model, 4, seed=6)
    (tmp_path / "x.bin").write_bytes(b"".join(x.tobytes() for x in xs))
    subprocess.run([str(exe), str(tmp_path / "m.tflite"), str(tmp_path / "x.bin"),
                    str(tmp_path / "y.bin")], check=True)  # fmt: skip
    ref = np.stack(tflm_run(model, xs))
    got = np.frombuffer((tmp_path / "y.bin").read_bytes(), dtype=ref.dtype).reshape(ref.shape)
    assert np.array_equal(got, ref)


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs a host C compiler")
def test_typed_records_follow_the_weight_type_and_refuse_others(converted, tmp_path: Path) -> None:
    """An INT4 model gets the INT4-only FULLY_CONNECTED record and runs bit-exact with
    it; the int8-only record of another model's list refuses it, naming the type."""
    model = converted("dense_int4")
    assert export_c.model_kernels(model)[0] == "fully_connected_s4"
    (tmp_path / "m.tflite").write_bytes(model)
    xs = random_inputs(model, 4, seed=2)
    (tmp_path / "x.bin").write_bytes(b"".join(x.tobytes() for x in xs))
    args = [str(tmp_path / "m.tflite"), str(tmp_path / "x.bin"), str(tmp_path / "y.bin")]
    own = tmp_path / "own"
    own.mkdir()
    subprocess.run([str(_build(own, export_c.op_list_source(model))), *args], check=True)
    ref = np.stack(tflm_run(model, xs))
    got = np.frombuffer((tmp_path / "y.bin").read_bytes(), dtype=ref.dtype).reshape(ref.shape)
    assert np.array_equal(got, ref)
    # hello_world's list: FULLY_CONNECTED for int8 weights only
    exe = _build(tmp_path, export_c.op_list_source(anchor_bytes("hello_world_int8")))
    run = subprocess.run([str(exe), *args], capture_output=True, text=True)
    assert run.returncode == 1
    assert re.fullmatch(r"FULLY_CONNECTED \(op 0\): weights tensor \d+ '[^']*': type INT4 not "
                        r"supported with int8 input by this op list \(kwsq_ops\.h\)\n",
                        run.stderr), run.stderr


def _dw_model(shape: tuple[int, int, int], kernel: tuple[int, int], mult: int, dil: int) -> bytes:
    import tf_keras as keras

    keras.utils.set_random_seed(11)
    inp = keras.Input(shape, batch_size=1)
    out = keras.layers.DepthwiseConv2D(
        kernel, padding="same", depth_multiplier=mult, dilation_rate=dil,
        bias_initializer=keras.initializers.RandomNormal(0.0, 0.3))(inp)
    return convert_int8(keras.Model(inp, out), shape, seed=11)


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs a host C compiler")
def test_build_without_dw_generic_computes_plain_layers_and_refuses_others(
        tmp_path: Path) -> None:
    """kernels/dsp built for micro_speech (no DW_GENERIC layer) links no reference
    depthwise loop: plain layers near the class bounds (kwsq_kernels.h) still run on its
    fast paths bit-exact with TFLM, and a layer outside them is refused in Prepare with a
    one-line message, never computed another way."""
    ms = anchor_bytes("micro_speech_quantized")
    exe = _build(tmp_path, export_c.op_list_source(ms), tuple(export_c.variant_flags(ms)),
                 kernels="dsp")
    cases = {  # (input, kernel, multiplier, dilation): plain?
        ((40, 9, 1), (10, 3), 2, 4): True,   # window 9 x 37: (9 + 8 + 2) * 37 = 703
        ((3, 260, 2), (1, 255), 3, 1): True,  # 128 tap pairs a row
        ((3, 260, 1), (1, 257), 2, 1): False,  # 129 tap pairs
        ((50, 12, 1), (4, 3), 2, 16): False,  # window 33 x 49: (33 + 34) * 49 > 768
    }
    for (shape, kernel, mult, dil), plain in cases.items():
        model = _dw_model(shape, kernel, mult, dil)
        assert export_c.model_variants(model)["DW_GENERIC"] is not plain
        (tmp_path / "m.tflite").write_bytes(model)
        xs = random_inputs(model, 2, seed=4)
        (tmp_path / "x.bin").write_bytes(b"".join(x.tobytes() for x in xs))
        run = subprocess.run([str(exe), str(tmp_path / "m.tflite"), str(tmp_path / "x.bin"),
                              str(tmp_path / "y.bin")], capture_output=True, text=True)  # fmt: skip
        if not plain:
            assert run.returncode == 1, (shape, kernel)
            assert re.fullmatch(r"DEPTHWISE_CONV_2D \(op 0\): its shape needs a kernel path this "
                                r"model-selective build leaves out \(kwsq_kernels\.h\)\n",
                                run.stderr), run.stderr
            continue
        assert run.returncode == 0, run.stderr
        ref = np.stack(tflm_run(model, xs))
        got = np.frombuffer((tmp_path / "y.bin").read_bytes(), dtype=ref.dtype)
        assert np.array_equal(got.reshape(ref.shape), ref), (shape, kernel)
