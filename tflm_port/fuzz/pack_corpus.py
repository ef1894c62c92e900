"""Pack a fuzz corpus folder into one file for replay.c: for each input (sorted by
name, so the order is reproducible) a little-endian u32 length, then its bytes.

    python tflm_port/fuzz/pack_corpus.py CORPUS_DIR [MORE_DIRS...] OUT.bin
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path


def pack(dirs: list[Path], out: Path, max_bytes: int = 1 << 20) -> int:
    """Writes the inputs of `dirs` (those up to max_bytes) to `out`; returns their count."""
    files = sorted(p for d in dirs for p in d.iterdir() if p.is_file())
    count = 0
    tmp = out.with_suffix(out.suffix + ".tmp")
    with tmp.open("wb") as f:
        for p in files:
            data = p.read_bytes()
            if len(data) <= max_bytes:
                f.write(struct.pack("<I", len(data)) + data)
                count += 1
    tmp.replace(out)
    return count


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    n = pack([Path(a) for a in sys.argv[1:-1]], Path(sys.argv[-1]))
    print(f"packed {n} inputs into {sys.argv[-1]}")
