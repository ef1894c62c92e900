"""Fixtures for the runtime tests: anchor models, small models made by our
TF 2.21 converter (one per op family), and the two references (tflite_micro
for bit-exactness, LiteRT for the hybrid kernel TFLM does not have)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from runtime_refs import _build


@pytest.fixture(scope="session")
def converted(tmp_path_factory) -> Callable[[str], bytes]:
    """Converted models by kind, built once per session and cached on disk."""
    cache = tmp_path_factory.mktemp("converted")

    def get(kind: str) -> bytes:
        path = cache / f"{kind}.tflite"
        if not path.exists():
            path.write_bytes(_build(kind))
        return path.read_bytes()

    return get
