"""Where kwsq's own files are, found once from this package's location."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PORT_DIR = REPO_ROOT / "tflm_port"
# Third-party .tflite files (TFLite Micro's micro_speech and hello_world, MLPerf Tiny's
# DS-CNN) that kwsq benchmarks against. They sit beside a development checkout, not in
# the repo; tools that use them say so and skip them when the folder is absent.
ANCHOR_DIR = REPO_ROOT.parent / "shared" / "anchor_models"
