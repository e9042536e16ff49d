"""Writing outputs: atomically (temp file in the same directory, then rename), or to stdout."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterable

from depscan.errors import OutputError


def write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one, never half."""
    if path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    except OSError as e:
        raise OutputError(f"{path}: cannot write ({e.strerror or e})") from e
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as e:
        _remove(tmp)
        raise OutputError(f"{path}: cannot write ({e.strerror or e})") from e
    except BaseException:
        _remove(tmp)
        raise


class Staged:
    """A report written piece by piece to a temporary file beside ``path``: nothing is visible at
    ``path`` until ``commit`` renames it into place; ``discard`` removes it (a later report failed).
    For reports too large to hold in memory twice (text and bytes)."""

    def __init__(self, path: str, pieces: Iterable[str]) -> None:
        self.path = path
        directory = os.path.dirname(os.path.abspath(path))
        try:
            fd, self.tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
        except OSError as e:
            raise OutputError(f"{path}: cannot write ({e.strerror or e})") from e
        try:
            with os.fdopen(fd, "wb") as fh:
                batch: list[str] = []
                size = 0
                for piece in pieces:
                    batch.append(piece)
                    size += len(piece)
                    if size >= 1 << 20:
                        fh.write("".join(batch).encode("utf-8"))
                        batch.clear()
                        size = 0
                fh.write("".join(batch).encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(self.tmp, 0o666 & ~_umask())
        except OSError as e:
            _remove(self.tmp)
            raise OutputError(f"{path}: cannot write ({e.strerror or e})") from e
        except BaseException:
            _remove(self.tmp)
            raise

    def commit(self) -> None:
        try:
            os.replace(self.tmp, self.path)
        except OSError as e:
            _remove(self.tmp)
            raise OutputError(f"{self.path}: cannot write ({e.strerror or e})") from e

    def discard(self) -> None:
        _remove(self.tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
