"""The native cataloger starts reading ELF files as soon as the view is open (``NativeLibCataloger.prefetch``),
while the Python cataloger runs: it must read each file once, change no answer, skip what the cache knows,
stay within its window and leave no thread or open cache behind, whatever happens to the scan."""

from __future__ import annotations

import hashlib
import random
import threading
import zipfile
import zlib
from pathlib import Path

import pytest

import depscan.catalogers.native as native
from depscan.artifacts import zipfile_
from depscan.artifacts.view import PIECE, ArtifactView, OpenContext
from depscan.artifacts.zipfile_ import open_zip
from depscan.catalogers.python_dists import PythonDistCataloger
from depscan.config import ScanConfig
from depscan.errors import HostileArtifact, MemberError
from depscan.models import NativeComponent, ScanResult
from depscan.native import cache
from depscan.scan import run
from fixtures.builders import dist, write_tar, write_zip
from tests.test_native_elf import CC, _compile

pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler (cc/gcc) to build the test libraries")


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    if CC is None:
        pytest.skip("no C compiler (cc/gcc) to build the test libraries")
    return _compile(tmp_path_factory.mktemp("prefetch lib"))


def _files(library: bytes) -> dict[str, bytes]:
    modules = {f"foo.libs/lib{n:02d}-0a1b2c{n:02x}.so.1": library + bytes(n) for n in range(10)}
    files = dist("foo", "1.0", modules=modules)
    files["vendor/libloose.so.3"] = library + b"loose"  # in no RECORD
    files["vendor/libcut.so.2"] = library[:2500]  # corrupt: an Unknown
    files["vendor/notelf.so"] = b"not an ELF file at all" * 10  # named like one: the prefix says no
    files["bin/tool"] = library  # found by magic only: not read ahead (not named like a library)
    return files


def _natives(result: ScanResult) -> tuple[object, ...]:
    return (tuple(c for c in result.components if not hasattr(c, "metadata_location")), result.unknowns)


class _Fetches:
    """Which files are read whole, and in which threads."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths: list[str] = []
        self.threads: set[str] = set()
        real = native._fetch

        def fetch(view: ArtifactView, path: str) -> object:
            self.paths.append(path)
            self.threads.add(threading.current_thread().name)
            return real(view, path)

        monkeypatch.setattr(native, "_fetch", fetch)


def _no_prefetch_threads() -> bool:
    return not any(t.name.startswith("depscan-elf-prefetch") for t in threading.enumerate())


def test_prefetch_reads_each_file_once_and_answers_the_same(library: bytes, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_zip(tmp_path / "a function.zip", _files(library))
    monkeypatch.setattr(native, "workers", lambda: 1)  # no threads, no prefetch: the reference
    alone = run(ScanConfig(str(path), native_cache=False))
    monkeypatch.setattr(native, "workers", lambda: 2)
    monkeypatch.setattr(native, "READ_AHEAD_BYTES", len(library) * 2)  # a small window: the threads wait
    fetches = _Fetches(monkeypatch)
    early = run(ScanConfig(str(path), native_cache=False))
    assert _natives(early) == _natives(alone)
    assert sum(isinstance(c, NativeComponent) for c in early.components) >= 12
    assert sorted(fetches.paths) == sorted(set(fetches.paths))  # each file read once
    assert "vendor/notelf.so" not in fetches.paths  # its first bytes said no: never read whole
    assert any(name.startswith("depscan-elf-prefetch") for name in fetches.threads)
    assert _no_prefetch_threads()


def test_prefetch_overlaps_the_python_cataloger(library: bytes, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The reads start when the view opens, before the Python cataloger is done (not after it)."""
    path = write_zip(tmp_path / "a.zip", _files(library))
    monkeypatch.setattr(native, "workers", lambda: 2)
    fetches = _Fetches(monkeypatch)
    started_during: list[int] = []
    real_catalog = PythonDistCataloger.catalog

    def catalog(self: PythonDistCataloger, view: ArtifactView, earlier: object = ()) -> object:
        deadline = threading.Event()
        for _ in range(1000):  # wait (at most 10 s: loaded CI machines) for the first read ahead meanwhile
            if fetches.paths:
                break
            deadline.wait(0.01)
        started_during.append(len(fetches.paths))
        return real_catalog(self, view, earlier)  # type: ignore[arg-type]

    monkeypatch.setattr(PythonDistCataloger, "catalog", catalog)
    run(ScanConfig(str(path), native_cache=False))
    assert started_during and started_during[0] > 0


def test_a_warm_scan_reads_nothing_ahead(library: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The zip's CRC-32 and size of each file lead to the entry its bytes had: owned files are then found by
    their RECORD hash without being read, as without prefetch; unowned ones are read (and hashed) as before."""
    monkeypatch.setenv(cache.ENV, str(tmp_path / "cache dir"))
    monkeypatch.setattr(native, "workers", lambda: 2)
    path = write_zip(tmp_path / "a.zip", _files(library))
    cold = run(ScanConfig(str(path)))
    fetches = _Fetches(monkeypatch)
    warm = run(ScanConfig(str(path)))
    assert _natives(warm) == _natives(cold)
    assert not any(name.startswith("depscan-elf-prefetch") for name in fetches.threads)
    assert not any(p.startswith("foo.libs/") for p in fetches.paths)  # owned: neither read ahead nor read
    assert "vendor/libloose.so.3" in fetches.paths  # unowned: read and hashed to find its entry


def test_a_changed_file_under_a_known_fingerprint_is_still_read(library: bytes, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The fingerprint is a hint for scheduling only: a file whose RECORD hash is not in the cache is read
    (by the cataloger) even when the prefetch skipped it."""
    monkeypatch.setenv(cache.ENV, str(tmp_path / "cache dir"))
    monkeypatch.setattr(native, "workers", lambda: 2)
    files = _files(library)
    path = write_zip(tmp_path / "a.zip", files)
    run(ScanConfig(str(path)))
    other = dict(files)
    other["foo-1.0.dist-info/RECORD"] = other["foo-1.0.dist-info/RECORD"].replace(b"sha256=", b"sha256=AAAA")
    changed = write_zip(tmp_path / "b.zip", other)
    fetches = _Fetches(monkeypatch)
    result = run(ScanConfig(str(changed)))
    assert {f"foo.libs/lib{n:02d}-0a1b2c{n:02x}.so.1" for n in range(10)} <= set(fetches.paths)
    assert sum(isinstance(c, NativeComponent) for c in result.components) >= 12


def test_no_prefetch_without_fingerprints(library: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A compressed tar (members kept during one pass) has no central directory: read as before."""
    path = write_tar(tmp_path / "a.tar.gz", _files(library), mode="w:gz")
    monkeypatch.setattr(native, "workers", lambda: 2)
    fetches = _Fetches(monkeypatch)
    result = run(ScanConfig(str(path), native_cache=False))
    assert not any(name.startswith("depscan-elf-prefetch") for name in fetches.threads)
    assert sum(isinstance(c, NativeComponent) for c in result.components) >= 12


def test_a_scan_that_fails_before_the_native_cataloger_stops_the_prefetch(
    library: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(cache.ENV, str(tmp_path / "cache dir"))
    monkeypatch.setattr(native, "workers", lambda: 2)
    path = write_zip(tmp_path / "a.zip", _files(library))
    closed: list[object] = []
    real_close = cache.NativeCache.close

    def close(self: cache.NativeCache) -> None:
        closed.append(self)
        real_close(self)

    def fail(self: PythonDistCataloger, view: ArtifactView, earlier: object = ()) -> object:
        raise HostileArtifact("a.zip: something hostile found by the Python cataloger")

    monkeypatch.setattr(cache.NativeCache, "close", close)
    monkeypatch.setattr(PythonDistCataloger, "catalog", fail)
    with pytest.raises(HostileArtifact, match="something hostile"):
        run(ScanConfig(str(path)))
    assert _no_prefetch_threads()
    assert closed  # the cache opened for the fingerprints was closed with the view


def test_an_artifact_error_in_a_prefetch_thread_ends_the_scan(library: bytes, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_zip(tmp_path / "bomb.zip", _files(library))
    real = native._fetch

    def fetch(view: ArtifactView, member: str) -> object:
        if member.endswith("lib04-0a1b2c04.so.1"):
            raise HostileArtifact(f"{member}: more than 1 bytes decompressed (max_total_bytes)")
        return real(view, member)

    monkeypatch.setattr(native, "_fetch", fetch)
    monkeypatch.setattr(native, "workers", lambda: 2)
    with pytest.raises(HostileArtifact, match="lib04"):
        run(ScanConfig(str(path), native_cache=False))
    assert _no_prefetch_threads()


@pytest.mark.parametrize("whole_read_bytes", [zipfile_.WHOLE_READ_BYTES, 1])
def test_a_whole_read_in_one_piece_or_many_is_the_same(tmp_path: Path, whole_read_bytes: int,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Members read whole are inflated in one call (up to ``WHOLE_READ_BYTES`` compressed), others piece by
    piece: the same bytes, the same CRC check, the same refusal of a member longer than it says."""
    monkeypatch.setattr(zipfile_, "WHOLE_READ_BYTES", whole_read_bytes)
    data = random.Random(9).randbytes(3 * PIECE) + bytes(2 * PIECE)  # over PIECE compressed
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.so", data)
        zf.writestr("stored.so", data, compress_type=zipfile.ZIP_STORED)
    direct: list[int] = []
    real_pread = zipfile_._pread

    def pread(fd: int, offset: int, n: int) -> bytes:
        direct.append(n)
        return real_pread(fd, offset, n)

    monkeypatch.setattr(zipfile_, "_pread", pread)
    with open_zip(str(path), "a.zip", OpenContext()) as view:
        assert view.read("big.so") == data and view.read("stored.so") == data
        assert direct  # reads of a megabyte or more: os.pread, outside the lock
        assert (max(direct) > 2 * PIECE) == (whole_read_bytes > 1)  # a whole read: all its compressed bytes at once
        for slack in (zipfile_.PREFIX_SLACK, 0):  # 0: the first compressed bytes read are too few, more follow
            monkeypatch.setattr(zipfile_, "PREFIX_SLACK", slack)
            for n in (64, 5000, 3 * PIECE + 10):
                assert view.read_prefix("big.so", n) == data[:n]
                assert view.read_prefix("stored.so", n) == data[:n]
    raw = bytearray(path.read_bytes())
    at = raw.find(b"big.so", raw.find(b"PK\x01\x02"))  # the central directory's name: its CRC is 30 bytes before
    raw[at - 30] ^= 0xFF
    path.write_bytes(bytes(raw))
    with open_zip(str(path), "a.zip", OpenContext()) as view, pytest.raises(MemberError, match="Bad CRC-32"):
        view.read("big.so")


def _outcomes(path: Path) -> list[object]:
    found: list[object] = []
    with open_zip(str(path), "m.zip", OpenContext()) as view:
        for entry in view.entries():
            for read in (lambda p: view.read(p), lambda p: view.read_prefix(p, 100)):
                try:
                    found.append(hashlib.sha256(read(entry.path)).hexdigest())
                except MemberError as e:
                    found.append(type(e).__name__)
    return found


def test_isal_and_zlib_inflate_damaged_members_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ISA-L (python-isal) inflates zip members when installed: on intact and on damaged deflate data it
    gives zlib's bytes or a MemberError where zlib gives one (its own error class is caught too)."""
    isal_zlib = pytest.importorskip("isal.isal_zlib")
    rng = random.Random(7)
    data = {f"m{n}.so": rng.randbytes(rng.randrange(10, 4000)) + bytes(rng.randrange(0, 300_000)) for n in range(4)}
    path = tmp_path / "m.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in data.items():
            zf.writestr(name, content)
    original = path.read_bytes()
    directory = original.find(b"PK\x01\x02")
    compared = 0
    for trial in range(60):
        damaged = bytearray(original)
        for _ in range(1 + trial % 3):  # flip bytes inside the members' data (not the central directory)
            damaged[rng.randrange(40, directory)] ^= 1 << rng.randrange(8)
        mutated = tmp_path / f"m{trial}.zip"
        mutated.write_bytes(bytes(damaged))
        monkeypatch.setattr(zipfile_, "_zlib", isal_zlib)
        monkeypatch.setattr(zipfile_, "_ZLIB_ERROR", isal_zlib.error)
        with_isal = _outcomes(mutated)
        monkeypatch.setattr(zipfile_, "_zlib", zlib)
        monkeypatch.setattr(zipfile_, "_ZLIB_ERROR", zlib.error)
        assert _outcomes(mutated) == with_isal
        compared += with_isal.count("MemberError")
    assert compared > 20  # damage was seen, not only intact reads


def test_a_member_error_in_a_read_ahead_is_reported_as_without_it(library: bytes, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_zip(tmp_path / "a.zip", _files(library))
    real = native._fetch

    def fetch(view: ArtifactView, member: str) -> object:
        if member.endswith("lib03-0a1b2c03.so.1"):
            raise MemberError(f"a.zip: {member}: cannot decompress (Error -3 while decompressing data)")
        return real(view, member)

    monkeypatch.setattr(native, "_fetch", fetch)
    results = []
    for threads in (2, 1):
        monkeypatch.setattr(native, "workers", lambda threads=threads: threads)
        results.append(run(ScanConfig(str(path), native_cache=False)))
    early, alone = results
    assert _natives(early) == _natives(alone)
    assert any(u.location.path.endswith("lib03-0a1b2c03.so.1") and "ELF structure not read" in u.reason
               for u in early.unknowns)
