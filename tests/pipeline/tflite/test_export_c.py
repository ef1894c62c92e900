"""The C array export compiles to exactly the .tflite's bytes, 16-byte aligned."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import pipeline  # noqa: F401
from pipeline.errors import KwsqError


def _sample_tflite() -> bytes:
    """A real third-party .tflite: the sine model that ships with tflite_micro."""
    import tflite_micro

    path = Path(tflite_micro.__file__).parent / "python" / "tflite_micro" / "sine_float.tflite"
    return path.read_bytes()


MAIN_C = r"""
#include <stdint.h>
#include <stdio.h>
#include "model.h"
int main(int argc, char **argv) {
  FILE *f = argc > 1 ? fopen(argv[1], "wb") : NULL;
  if (!f) return 3;
  fwrite(kwsq_model, 1, kwsq_model_len, f);
  fclose(f);
  return ((uintptr_t)kwsq_model % 16u) != 0u;
}
"""


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs a host C compiler")
def test_c_array_compiles_to_the_same_16_byte_aligned_bytes(tmp_path: Path) -> None:
    from pipeline.tflite.export_c import write_c_array

    data = _sample_tflite()
    header, source = write_c_array(data, tmp_path / "model.h", description="sine test model")
    (tmp_path / "main.c").write_text(MAIN_C)
    exe = tmp_path / "dump"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-o", str(exe),
                    str(tmp_path / "main.c"), str(source)], check=True)
    out = tmp_path / "out.bin"
    assert subprocess.run([str(exe), str(out)]).returncode == 0  # 0: aligned
    assert out.read_bytes() == data


def test_c_header_states_length_and_what_the_model_is() -> None:
    from pipeline.tflite.export_c import c_sources

    data = bytes(range(40))
    header, source = c_sources(data, "kws", "kws.h", "svd_dnn / w4a8 from runs/x */ evil")
    assert "40 bytes" in header and "svd_dnn / w4a8 from runs/x" in header
    assert "*/ evil" not in header.split("\n")[0][3:-3]  # a comment cannot be closed early
    assert "extern const size_t kws_len;" in header
    assert "const size_t kws_len = 40;" in source
    assert source.count("0x") == 40


def test_c_export_rejects_a_symbol_that_is_not_an_identifier() -> None:
    from pipeline.tflite.export_c import c_sources

    with pytest.raises(KwsqError, match="not a C identifier"):
        c_sources(b"\x00", "2bad-name")
