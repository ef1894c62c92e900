"""Shared fixtures for pipeline tests: one tiny synthetic corpus per test session.

``tiny_corpus`` is made once (about 6-10 s on 2 cores) with ``kwsq synth --size tiny``'s
function and reused by every test that needs WAV data; tests must not modify it (copy it
with ``copy_corpus`` first).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

import pipeline  # noqa: F401  (sets TF_USE_LEGACY_KERAS before any TensorFlow import)

TINY_SEED = 0


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of a tiny kwsq corpus (20 speakers, 10 commands + 4 other words, noise files)."""
    from pipeline.corpus.synth import synthesize

    out = tmp_path_factory.mktemp("corpus") / "kwsq_tiny"
    synthesize(out, size="tiny", seed=TINY_SEED, progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_stats(tiny_corpus: Path) -> dict:
    import json

    return json.loads((tiny_corpus / "kwsq_synth.json").read_text())


@pytest.fixture
def copy_corpus() -> Callable[[Path, Path], Path]:
    """``copy_corpus(src, dest)``: a private copy (without feature cache) a test may modify."""

    def _copy(src: Path, dest: Path) -> Path:
        shutil.copytree(src, dest, ignore=shutil.ignore_patterns(".kwsq_cache"))
        return dest

    return _copy
