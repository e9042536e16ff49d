"""The native cataloger reads ELF files in worker threads: the answer must not depend on it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import depscan.catalogers.native as native
from depscan.config import ScanConfig
from depscan.errors import HostileArtifact
from depscan.models import NativeComponent, ScanResult
from depscan.scan import run
from fixtures.builders import dist, write_tar, write_zip
from tests.test_native_elf import CC, _compile

pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler (cc/gcc) to build the test libraries")


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    if CC is None:
        pytest.skip("no C compiler (cc/gcc) to build the test libraries")
    return _compile(tmp_path_factory.mktemp("threads lib"))


def _files(library: bytes) -> dict[str, bytes]:
    modules = {f"foo.libs/lib{n:02d}-0a1b2c{n:02x}.so.1": library + bytes(n) for n in range(12)}
    files = dist("foo", "1.0", modules=modules)
    files["vendor/libcut.so.2"] = library[:2500]  # corrupt: an Unknown, in its place
    files["bin/tool"] = library  # found by magic
    return files


def _natives(result: ScanResult) -> tuple[object, ...]:
    return (tuple(c for c in result.components if not hasattr(c, "metadata_location")), result.unknowns)


@pytest.mark.parametrize("kind", ["zip", "tar", "tar.gz"])
def test_threads_or_not_the_same_answer(library: bytes, tmp_path: Path, kind: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    files = _files(library)
    if kind == "zip":
        path = write_zip(tmp_path / "a.zip", files)
    else:
        path = write_tar(tmp_path / f"a.{kind}", files, mode="w:gz" if kind == "tar.gz" else "w")
    seen: set[str] = set()
    real_fetch = native._fetch

    def fetch(view: object, member: str) -> object:
        seen.add(threading.current_thread().name)
        return real_fetch(view, member)  # type: ignore[arg-type]

    monkeypatch.setattr(native, "_fetch", fetch)
    monkeypatch.setattr(native, "READ_AHEAD_BYTES", len(library) * 3)  # a small window: waits happen
    monkeypatch.setattr(native, "workers", lambda: 3)
    threaded = run(ScanConfig(str(path), native_cache=False))
    workers_used = {name for name in seen if name.startswith("depscan-elf")}
    monkeypatch.setattr(native, "workers", lambda: 1)
    seen.clear()
    alone = run(ScanConfig(str(path), native_cache=False))
    assert not {name for name in seen if name.startswith("depscan-elf")}
    assert _natives(threaded) == _natives(alone)
    assert sum(isinstance(c, NativeComponent) for c in threaded.components) >= 13
    # A plain tar's members share one file position: read by the main thread only. A compressed tar's
    # ELF files are parsed as its streaming pass reads them (OpenContext.consume_whole): nothing left to read.
    assert bool(workers_used) == (kind == "zip")


def test_an_artifact_error_in_a_worker_ends_the_scan(library: bytes, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A zip bomb found while a worker inflates (the budget raises HostileArtifact) stops the scan, as it
    does in the main thread; the pool is shut down, not left running."""
    path = write_zip(tmp_path / "bomb.zip", _files(library))
    real_fetch = native._fetch

    def fetch(view: object, member: str) -> object:
        if member.endswith("lib05-0a1b2c05.so.1"):
            raise HostileArtifact(f"{member}: more than 1 bytes decompressed (max_total_bytes)")
        return real_fetch(view, member)  # type: ignore[arg-type]

    monkeypatch.setattr(native, "_fetch", fetch)
    monkeypatch.setattr(native, "workers", lambda: 2)
    before = {t.name for t in threading.enumerate()}
    with pytest.raises(HostileArtifact, match="lib05"):
        run(ScanConfig(str(path), native_cache=False))
    assert not {t.name for t in threading.enumerate() if t.name.startswith("depscan-elf")} - before
