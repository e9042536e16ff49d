"""The read-ahead window of the native cataloger's threads (``native._Prefetch``): twice as wide until
``catalog`` begins (the threads go on reading while the Python cataloger runs), ``READ_AHEAD_BYTES`` after;
a file larger than the window starts once the window is three quarters empty, not only when it is empty.
Answers never change (the tests compare them with a scan without threads)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import depscan.catalogers.native as native
from depscan.artifacts.view import ArtifactView
from depscan.catalogers.python_dists import PythonDistCataloger
from depscan.config import ScanConfig
from depscan.models import NativeComponent, ScanResult
from depscan.scan import run
from fixtures.builders import dist, write_zip
from tests.test_native_elf import CC, _compile

pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler (cc/gcc) to build the test libraries")


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    if CC is None:
        pytest.skip("no C compiler (cc/gcc) to build the test libraries")
    return _compile(tmp_path_factory.mktemp("window lib"))


def _natives(result: ScanResult) -> tuple[object, ...]:
    return (tuple(c for c in result.components if not hasattr(c, "metadata_location")), result.unknowns)


class _Reads:
    """The files read whole, in order, and how many were read before the Python cataloger was done."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths: list[str] = []
        self.before_catalog: list[int] = []
        real = native._fetch

        def fetch(view: ArtifactView, path: str) -> object:
            self.paths.append(path)
            return real(view, path)

        monkeypatch.setattr(native, "_fetch", fetch)
        real_catalog = PythonDistCataloger.catalog

        def catalog(cataloger: PythonDistCataloger, view: ArtifactView, earlier: object = ()) -> object:
            pause = threading.Event()
            seen, steady = -1, 0
            for _ in range(1000):  # until the threads stop reading (the window is full), at most 10 s
                steady = steady + 1 if len(self.paths) == seen else 0
                if steady >= 20:
                    break
                seen = len(self.paths)
                pause.wait(0.01)
            self.before_catalog.append(len(self.paths))
            return real_catalog(cataloger, view, earlier)  # type: ignore[arg-type]

        monkeypatch.setattr(PythonDistCataloger, "catalog", catalog)


def test_the_window_is_wider_before_catalog_begins(library: bytes, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    modules = {f"foo.libs/lib{n:02d}-0a1b2c{n:02x}.so.1": library + bytes(n) for n in range(12)}
    path = write_zip(tmp_path / "a function.zip", dist("foo", "1.0", modules=modules))
    monkeypatch.setattr(native, "workers", lambda: 1)
    alone = run(ScanConfig(str(path), native_cache=False))
    monkeypatch.setattr(native, "workers", lambda: 2)
    size = len(library) + 11
    monkeypatch.setattr(native, "READ_AHEAD_BYTES", 2 * size)  # two files; four before catalog begins
    reads = _Reads(monkeypatch)
    result = run(ScanConfig(str(path), native_cache=False))
    assert _natives(result) == _natives(alone)
    assert sum(isinstance(c, NativeComponent) for c in result.components) >= 12
    assert reads.before_catalog == [4]  # not 2: the early window; not more: it is a window
    assert sorted(reads.paths) == sorted(modules)  # each read once

    monkeypatch.setattr(native, "EARLY_WINDOW", 1)
    reads = _Reads(monkeypatch)
    assert _natives(run(ScanConfig(str(path), native_cache=False))) == _natives(alone)
    assert reads.before_catalog == [2]


def test_a_file_larger_than_the_window_starts_beside_a_quarter_of_it(library: bytes, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Four small files, then one larger than the window: it is read while the window holds one small
    file (a quarter), not only once every small one is released."""
    small = {f"foo.libs/liba{n}-0a1b2c0{n}.so.1": library + bytes(n) for n in range(4)}
    big = {"foo.libs/libz-0a1b2cff.so.1": library * 6}
    path = write_zip(tmp_path / "a.zip", dist("foo", "1.0", modules={**small, **big}))
    monkeypatch.setattr(native, "workers", lambda: 1)
    alone = run(ScanConfig(str(path), native_cache=False))
    monkeypatch.setattr(native, "workers", lambda: 2)
    monkeypatch.setattr(native, "READ_AHEAD_BYTES", 4 * (len(library) + 3))  # the four small files
    monkeypatch.setattr(native, "EARLY_WINDOW", 1)
    reads = _Reads(monkeypatch)
    result = run(ScanConfig(str(path), native_cache=False))
    assert _natives(result) == _natives(alone)
    assert reads.before_catalog == [4]  # the window is full: the big file waits
    big_path = next(iter(big))
    claimed_beside: list[bool] = []
    real_release = native._Prefetch.release

    def release(prefetch: native._Prefetch, path: str) -> None:
        if path == list(small)[-1]:  # the last small file: is the big one read beside it? (waits at most 5 s)
            pause = threading.Event()
            for _ in range(500):
                if big_path in prefetch._sizes or big_path not in prefetch._futures:
                    break
                pause.wait(0.01)
            claimed_beside.append(big_path in prefetch._sizes or prefetch._futures[big_path].done())
        real_release(prefetch, path)

    monkeypatch.setattr(native._Prefetch, "release", release)
    reads = _Reads(monkeypatch)
    assert _natives(run(ScanConfig(str(path), native_cache=False))) == _natives(alone)
    assert claimed_beside == [True]


def test_a_file_still_being_read_does_not_hold_up_the_ready_ones_after_it(library: bytes, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The main thread parses a file read after one that is still being read (a large one, say), instead of
    waiting for that one first; the answers are the same as without threads."""
    modules = {f"foo.libs/lib{n:02d}-0a1b2c{n:02x}.so.1": library + bytes(n) for n in range(6)}
    path = write_zip(tmp_path / "a.zip", dist("foo", "1.0", modules=modules))
    monkeypatch.setattr(native, "workers", lambda: 1)
    alone = run(ScanConfig(str(path), native_cache=False))
    monkeypatch.setattr(native, "workers", lambda: 2)
    slow, later = list(modules)[1], list(modules)[3]
    later_released = threading.Event()
    waited: list[bool] = []
    real_fetch = native._fetch
    real_release = native._Prefetch.release

    def fetch(view: ArtifactView, member: str) -> object:
        if member == slow:
            waited.append(later_released.wait(5))  # a read lasting until a file after it is done with (<= 5 s)
        return real_fetch(view, member)

    def release(prefetch: native._Prefetch, member: str) -> None:
        if member == later:
            later_released.set()
        real_release(prefetch, member)

    monkeypatch.setattr(native, "_fetch", fetch)
    monkeypatch.setattr(native._Prefetch, "release", release)
    result = run(ScanConfig(str(path), native_cache=False))
    assert waited == [True]  # released while the file before it was still being read
    assert _natives(result) == _natives(alone)
