"""What a person sees: kwsq's own lines and progress bars on the terminal, the rest in a log.

TensorFlow, the TFLite converter, LiteRT and the C toolchain write to the process's file
descriptors 1 and 2 from C++ (absl log lines, converter debug prints), and Python
libraries raise warnings. None of that is kwsq's output. :func:`session` therefore
points descriptors 1 and 2 at a log file and gives ``sys.stdout``/``sys.stderr`` private
copies of the terminal, so only what kwsq prints (and its progress bars) reaches the
person; Python warnings and the ``tensorflow``/``absl`` loggers go to the log too.
Commands that own a run folder move the log there (``runs/<name>/kwsq.log``) with
:func:`use_run_log`; ``--verbose`` turns all of this off and shows everything.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tqdm import tqdm

T = TypeVar("T")

LOG_NAME = "kwsq.log"
_LOGGERS = ("tensorflow", "absl", "py.warnings", "h5py", "matplotlib")


@dataclass
class _State:
    log_path: Path  # where descriptors 1 and 2 point now
    temporary: bool  # a temp file (no run folder yet): removed at exit unless kept
    handler: logging.Handler
    created: bool = False  # use_run_log made the file: removed at exit if still empty


_state: _State | None = None


def _log_stream(path: Path) -> io.TextIOWrapper:
    return open(path, "a", buffering=1, encoding="utf-8", errors="replace")  # noqa: SIM115


@contextlib.contextmanager
def session(verbose: bool = False) -> Iterator[None]:
    """Keep the terminal for kwsq's own output for the duration of one command."""
    global _state
    if verbose or _state is not None:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    old_streams = (sys.stdout, sys.stderr)
    own: list[io.TextIOWrapper] = []
    for fd, name in ((1, "stdout"), (2, "stderr")):
        stream = getattr(sys, name)
        try:
            real = stream.fileno() == fd
        except (AttributeError, OSError, ValueError):  # pytest's capsys, StringIO, ...
            real = False
        if real:  # the same terminal (or pipe), through a descriptor nobody else writes to
            copy = open(os.dup(fd), "w", buffering=1, encoding=stream.encoding,  # noqa: SIM115
                        errors=stream.errors or "strict")
            own.append(copy)
            setattr(sys, name, copy)
    fd, tmp = tempfile.mkstemp(prefix="kwsq-", suffix=".log")
    os.close(fd)
    log_path = Path(tmp)
    handler = logging.StreamHandler(_log_stream(log_path))
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    old_loggers = []
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        old_loggers.append((logger, logger.handlers[:], logger.propagate))
        logger.handlers[:] = [handler]
        logger.propagate = False
    logging.captureWarnings(True)
    _state = _State(log_path, True, handler)
    _point_descriptors(log_path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)
        sys.stdout, sys.stderr = old_streams
        for stream in own:
            stream.close()
        logging.captureWarnings(False)
        for logger, handlers, propagate in old_loggers:
            logger.handlers[:] = handlers
            logger.propagate = propagate
        handler.stream.close()
        path = _state.log_path
        if _state.temporary or (_state.created and path.is_file()
                                and path.stat().st_size == 0):
            path.unlink(missing_ok=True)
        _state = None


def _point_descriptors(path: Path) -> None:
    with open(path, "ab") as f:
        for fd in (1, 2):
            os.dup2(f.fileno(), fd)


def use_run_log(folder: str | os.PathLike[str]) -> Path | None:
    """From now on (and what was logged so far), log into ``folder/kwsq.log``."""
    if _state is None:
        return None
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / LOG_NAME
    if dest == _state.log_path and dest.exists():
        return dest
    created = not dest.exists()
    earlier = _state.log_path.read_bytes() if _state.log_path.exists() else b""
    if dest == _state.log_path:  # the folder was remade (--fresh): what was logged is gone
        earlier = b""
    with open(dest, "ab") as f:
        f.write(earlier)
    _point_descriptors(dest)
    old = _state.handler.stream
    _state.handler.setStream(_log_stream(dest))
    old.close()
    if _state.temporary:
        _state.log_path.unlink(missing_ok=True)
    _state.log_path, _state.temporary, _state.created = dest, False, created
    return dest


def log_path() -> Path | None:
    """The log file now in use, if output is being kept off the terminal."""
    return None if _state is None else _state.log_path


def keep_log() -> Path | None:
    """Keep a temporary log after the command (e.g. to point at it after a crash)."""
    if _state is None:
        return None
    _state.temporary = False
    return _state.log_path


def progress(iterable: Iterable[T], total: int | None = None, desc: str = "",
             unit: str = "it", leave: bool = False, disable: bool = False,
             **kwargs: Any) -> Iterator[T]:
    """A progress bar on the terminal (stderr); nothing when stderr is not a terminal
    (a log or a pipe gets kwsq's summary lines, not a stream of bar updates)."""
    return tqdm(iterable, total=total, desc=desc, unit=unit, leave=leave, file=sys.stderr,
                disable=disable or not _is_terminal(), dynamic_ncols=True, **kwargs)


def bar(total: int | None, desc: str = "", unit: str = "it", leave: bool = False,
        disable: bool = False, lines: bool = False, **kwargs: Any) -> tqdm | _LineBar:
    """A manually advanced progress bar (``update(n)``, ``close()``), like :func:`progress`.

    ``lines``: for steps of minutes, when stderr is not a terminal (a log, CI), print a
    plain line at every tenth of the way instead of nothing.
    """
    if lines and not disable and not _is_terminal() and total:
        return _LineBar(total, desc, unit)
    return tqdm(total=total, desc=desc, unit=unit, leave=leave, file=sys.stderr,
                disable=disable or not _is_terminal(), dynamic_ncols=True, **kwargs)


class _LineBar:
    """The part of tqdm's interface kwsq uses, printing ``desc: n/total unit`` lines."""

    def __init__(self, total: int, desc: str, unit: str):
        self.total, self.desc, self.unit, self.n = total, desc, unit, 0
        self.start = time.monotonic()
        self.postfix: dict[str, Any] = {}
        self.step = max(1, total // 10)

    def update(self, n: int = 1) -> None:
        before, self.n = self.n, self.n + n
        if self.n // self.step > before // self.step or self.n == self.total:
            extra = "".join(f", {k} {v}" for k, v in self.postfix.items())
            print(f"{self.desc}: {self.n}/{self.total} {self.unit}s{extra}, "
                  f"{time.monotonic() - self.start:.0f} s", file=sys.stderr, flush=True)

    def set_postfix(self, refresh: bool = True, **kwargs: Any) -> None:
        self.postfix.update(kwargs)

    def close(self) -> None:
        pass

    def __enter__(self) -> _LineBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_terminal() -> bool:
    if os.environ.get("KWSQ_PROGRESS") == "1":
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
