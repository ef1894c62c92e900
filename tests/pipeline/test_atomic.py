"""Outputs are renamed into place only when complete."""

import pytest

from pipeline.atomic import atomic_path, write_bytes
from pipeline.errors import KwsqError


def test_failed_write_leaves_no_file(tmp_path):
    dest = tmp_path / "out.bin"
    with pytest.raises(RuntimeError):
        with atomic_path(dest) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_existing_file_survives_a_failed_rewrite(tmp_path):
    dest = write_bytes(tmp_path / "out.bin", b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(dest) as tmp:
            tmp.write_bytes(b"new")
            raise RuntimeError("boom")
    assert dest.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_unwritable_destination_is_a_kwsq_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(KwsqError, match="cannot write"):
        write_bytes(blocker / "sub" / "out.bin", b"data")


def test_written_file_has_the_usual_umask_mode(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        dest = write_bytes(tmp_path / "out.bin", b"x")
    finally:
        os.umask(old)
    assert dest.stat().st_mode & 0o777 == 0o644
