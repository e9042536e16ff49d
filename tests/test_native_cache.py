"""The on-disk cache of what native files' bytes say (depscan.native.cache) and its use by the native cataloger."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import zlib
from pathlib import Path

import pytest

from depscan.artifacts.view import ArtifactView
from depscan.config import ScanConfig
from depscan.models import ElfFacts, Evidence, NativeComponent, ScanResult
from depscan.native import Identification, cache, elf
from depscan.scan import run
from fixtures.builders import dist, write_tar, write_zip
from tests.helpers import cli, natives
from tests.test_native_elf import CC, _compile

pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler (cc/gcc) to build the test libraries")

OWNED = "foo.libs/libfoo-0a1b2c3d.so.1.2"
UNOWNED = "vendor/libfoo.so.1"
RENAMED = "other.libs/renamed.bin"


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    if CC is None:
        pytest.skip("no C compiler (cc/gcc) to build the test libraries")
    return _compile(tmp_path_factory.mktemp("cache lib"))


@pytest.fixture
def artifact(library: bytes, tmp_path: Path) -> Path:
    files = dist("foo", "1.0", modules={OWNED: library, "foo/__init__.py": b""})
    files[UNOWNED] = library  # in no RECORD: hashed while read
    files[RENAMED] = library  # same bytes, another hint (its SONAME's name)
    files["foo.libs/libbroken-11223344.so.3"] = library[:3000]
    return write_zip(tmp_path / "function space.zip", files)


def _scan(path: Path, *, native_cache: bool = True) -> ScanResult:
    return run(ScanConfig(str(path), native_cache=native_cache))


def _native_parts(result: ScanResult) -> tuple[object, ...]:
    libs = tuple(sorted(natives(result).items()))
    found = tuple(c for c in result.components if isinstance(c, NativeComponent))
    return libs, found, tuple(u for u in result.unknowns)


class _Reads:
    """Counts whole reads and parses (the cache's whole point is to avoid them)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.read: list[str] = []
        self.parsed = 0
        real_read, real_parse = ArtifactView.read, elf.parse

        def read(view: ArtifactView, path: str, max_bytes: int | None = None) -> bytes:
            self.read.append(path)
            return real_read(view, path, max_bytes)

        def parse(data: bytes, sha256: str | None = None) -> object:
            self.parsed += 1
            return real_parse(data, sha256)

        monkeypatch.setattr(ArtifactView, "read", read)
        monkeypatch.setattr(elf, "parse", parse)


def test_a_warm_scan_reads_no_owned_file_and_parses_nothing(artifact: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cold = _scan(artifact)
    assert (Path(os.environ[cache.ENV]) / cache.FILE_NAME).is_file()
    reads = _Reads(monkeypatch)
    warm = _scan(artifact)
    assert _native_parts(warm) == _native_parts(cold)  # the same components, evidence and Unknowns
    assert OWNED not in reads.read  # its RECORD sha256 was the key: not even decompressed
    assert UNOWNED in reads.read  # no RECORD: read and hashed, then found by its hash
    assert reads.parsed == 0
    lib = natives(warm)[OWNED]
    assert lib.found_by == "elf" and lib.elf is not None and lib.elf.soname == "libfoo.so.1"
    assert any(u.location.path == "foo.libs/libbroken-11223344.so.3" and "corrupt ELF file" in u.reason
               for u in warm.unknowns)


def test_no_cache_reads_and_parses_everything_and_writes_nothing(
    artifact: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(cache.ENV, str(tmp_path / "never"))
    reads = _Reads(monkeypatch)
    _scan(artifact, native_cache=False)
    assert OWNED in reads.read and reads.parsed >= 3
    assert not (tmp_path / "never").exists()


def test_the_cli_option_no_cache(artifact: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache.ENV, str(tmp_path / "cli cache"))
    # --fail-on high: the test libraries are unowned (a low policy finding), which is not what this checks
    proc = cli("scan", artifact, "--source", "skip", "--no-cache", "--format", "json", "--fail-on", "high")
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "cli cache").exists()
    proc = cli("scan", artifact, "--source", "skip", "--format", "json", "--fail-on", "high")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "cli cache" / cache.FILE_NAME).is_file()


def _impostor(library: bytes) -> bytes:
    impostor = bytearray(library)
    impostor[-1] ^= 0xFF  # same size, other content (another CRC-32)
    return bytes(impostor)


def _entry(key: str) -> cache.Entry | None:
    store = cache.NativeCache()
    try:
        return store.get(key)
    finally:
        store.close()


def test_a_cold_scan_keys_owned_zip_members_by_their_record_hash_without_hashing(
    artifact: Path, library: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The RECORD hash of a zip member (size agreeing) is its key on a cold scan too: not recomputed, and
    reported as such; files no RECORD lists are hashed."""
    from depscan.catalogers import native

    hashed: list[bytes] = []
    real_sha256 = hashlib.sha256

    class Counting:
        @staticmethod
        def sha256(data: bytes = b"") -> object:
            hashed.append(bytes(data))
            return real_sha256(data)

    monkeypatch.setattr(native, "hashlib", Counting)
    for threads in (2, 1):
        monkeypatch.setattr(native, "workers", lambda threads=threads: threads)
        hashed.clear()
        monkeypatch.setenv(cache.ENV, str(artifact.parent / f"cache {threads}"))
        result = _scan(artifact)
        assert hashed.count(library) == 2  # UNOWNED and RENAMED; never OWNED, whose RECORD gives its hash
        libs = natives(result)
        claimed = real_sha256(library).hexdigest()
        assert (libs[OWNED].elf_sha256_source, libs[OWNED].elf.sha256 if libs[OWNED].elf else None) == ("record",
                                                                                                        claimed)
        assert libs[UNOWNED].elf_sha256_source == "bytes"
        found = {c.location.path: c for c in result.components if isinstance(c, NativeComponent)}
        assert found[OWNED].file_sha256_source == "record" and found[UNOWNED].file_sha256_source == "bytes"
        # made under OWNED's RECORD hash first (the zip's order); UNOWNED and RENAMED, hashed later, have the same
        # CRC-32 and size: they extend it, and it stays unverified (hashing other bytes proves nothing about it)
        entry = _entry(claimed)
        assert entry is not None and not entry.verified
        assert entry.fingerprint == f"zip:{zlib.crc32(library):08x}:{len(library)}"
        names = {key.partition("|")[2] for key in entry.identified}
        assert names == {"libfoo-0a1b2c3d.so.1.2", "libfoo.so.1", "renamed.bin"}
        warm = _scan(artifact)
        assert _native_parts(warm) == _native_parts(result)


def test_a_record_hash_that_lies_is_bound_to_the_bytes_read(
    library: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RECORD claims other bytes of the same size. The lying zip's entry is stored under the claimed hash
    unhashed, with its member's CRC-32 and size: a scan of the genuine file (another CRC-32) does not take
    it, hashes its bytes and replaces it; the lying zip scanned again then hashes its own file."""
    impostor = _impostor(library)
    lying = dict(dist("foo", "1.0", modules={OWNED: library}))
    lying[OWNED] = impostor
    lying_zip = write_zip(tmp_path / "lying.zip", lying)
    genuine_zip = write_zip(tmp_path / "genuine.zip", dist("foo", "1.0", modules={OWNED: library}))
    claimed, real = hashlib.sha256(library).hexdigest(), hashlib.sha256(impostor).hexdigest()
    first = natives(_scan(lying_zip))[OWNED]
    assert first.elf is not None and (first.elf.sha256, first.elf_sha256_source) == (claimed, "record")
    poisoned = _entry(claimed)
    assert poisoned is not None and not poisoned.verified
    assert poisoned.fingerprint == f"zip:{zlib.crc32(impostor):08x}:{len(impostor)}"
    reads = _Reads(monkeypatch)
    genuine = natives(_scan(genuine_zip))[OWNED]
    assert OWNED in reads.read and reads.parsed == 1  # the lying zip's entry was not taken
    assert genuine.elf is not None and (genuine.elf.sha256, genuine.elf_sha256_source) == (claimed, "bytes")
    healed = _entry(claimed)
    assert healed is not None and healed.verified
    assert healed.fingerprint == f"zip:{zlib.crc32(library):08x}:{len(library)}"
    reads.read.clear()
    again = natives(_scan(lying_zip))[OWNED]
    assert OWNED in reads.read  # the genuine entry's CRC-32 is not the impostor's: read and hashed
    assert again.elf is not None and (again.elf.sha256, again.elf_sha256_source) == (real, "bytes")
    assert _entry(claimed) == healed  # neither replaced nor extended by the impostor
    checked = run(ScanConfig(str(lying_zip), verify_record=True))  # --verify-record says RECORD lies
    assert any(f.rule == "record-modified" and OWNED in f.location.path for f in checked.policy_findings)


def test_an_unverified_entry_is_not_taken_for_a_file_without_a_fingerprint(
    library: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A directory has no CRC-32 to compare: an entry stored under a RECORD hash without hashing is a miss."""
    lying = dict(dist("foo", "1.0", modules={OWNED: library}))
    lying[OWNED] = _impostor(library)
    _scan(write_zip(tmp_path / "lying.zip", lying))
    root = tmp_path / "site packages"
    for name, data in dist("foo", "1.0", modules={OWNED: library}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    reads = _Reads(monkeypatch)
    lib = natives(_scan(root))[OWNED]
    assert reads.parsed == 1 and lib.elf_sha256_source == "bytes"
    entry = _entry(hashlib.sha256(library).hexdigest())
    assert entry is not None and entry.verified and entry.fingerprint is None


def test_the_same_bytes_under_another_hint_are_identified_again(library: bytes, tmp_path: Path) -> None:
    files = dist("foo", "1.0", modules={OWNED: library})
    first = _scan(write_zip(tmp_path / "one.zip", files))
    files["bar.libs/libbar-99887766.so.1"] = library  # a file name that names another library
    second = _scan(write_zip(tmp_path / "two.zip", files))
    names = {(c.location.path, c.name) for c in second.components if isinstance(c, NativeComponent)}
    assert ("bar.libs/libbar-99887766.so.1", "libbar") in names and (OWNED, "libfoo") in names
    assert [c for c in first.components if isinstance(c, NativeComponent)] == [
        c for c in second.components if isinstance(c, NativeComponent) and c.location.path == OWNED
    ]
    entry = cache.NativeCache().get(hashlib.sha256(library).hexdigest())
    assert entry is not None and {"libfoo", "libbar"} <= {key.partition("|")[0] for key in entry.identified}


def test_a_corrupt_cache_file_is_a_warning_and_rebuilt(artifact: Path) -> None:
    where = Path(os.environ[cache.ENV])
    where.mkdir(parents=True, exist_ok=True)
    (where / cache.FILE_NAME).write_bytes(b"this is not a database" * 100)
    result = _scan(artifact)
    (warning,) = [w for w in result.warnings if "native cache" in w]
    assert str(where / cache.FILE_NAME) in warning and "rebuilt" in warning and "\n" not in warning
    assert natives(result)[OWNED].found_by == "elf"
    again = _scan(artifact)  # the rebuilt cache works
    assert not [w for w in again.warnings if "native cache" in w]
    assert _native_parts(again) == _native_parts(result)


def test_an_unusable_cache_directory_is_a_warning(artifact: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("not a directory")
    monkeypatch.setenv(cache.ENV, str(blocker / "cache"))
    result = _scan(artifact)
    (warning,) = [w for w in result.warnings if "native cache" in w]
    assert "scanning without it" in warning
    assert natives(result)[OWNED].found_by == "elf"


def test_rows_of_another_code_version_are_misses_and_are_dropped(
    artifact: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _scan(artifact)
    monkeypatch.setattr(cache, "IDENT_VERSION", "a new classifier table")
    reads = _Reads(monkeypatch)
    _scan(artifact)
    assert OWNED in reads.read and reads.parsed >= 1
    db = sqlite3.connect(Path(os.environ[cache.ENV]) / cache.FILE_NAME)
    codes = {code for (code,) in db.execute("SELECT DISTINCT code FROM entries")}
    db.close()
    assert codes == {cache.code_version()} and "a new classifier table" in cache.code_version()


def test_a_damaged_row_is_a_miss(artifact: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _scan(artifact)
    db = sqlite3.connect(Path(os.environ[cache.ENV]) / cache.FILE_NAME)
    db.execute("UPDATE entries SET value = '{\"header\": ['")
    db.commit()
    db.close()
    reads = _Reads(monkeypatch)
    result = _scan(artifact)
    assert reads.parsed >= 1 and natives(result)[OWNED].found_by == "elf"
    assert any("damaged entry" in w for w in result.warnings)


def test_values_round_trip() -> None:
    facts = ElfFacts(sha256="ab" * 32, soname="libz.so.1", needed=("libc.so.6",), rpath=("$ORIGIN",),
                     version_needs=(("libc.so.6", ("GLIBC_2.2.5", "GLIBC_2.14")),), min_glibc="2.14", stripped=True)
    answer = Identification("zlib", "1.2.13", "pkg:generic/zlib@1.2.13", "cpe:2.3:a:zlib:zlib:1.2.13:*:*:*:*:*:*:*",
                            (Evidence("banner", "medium", 'string " inflate 1.2.13 Copyright 1995-"'),), False)
    entry = cache.Entry(cache.Header(64, "little", "shared-object", 62, "x86_64"), None, facts,
                        {"libz": (answer,), "": "ELFError: damaged"})
    assert cache.loads(cache.dumps(entry)) == entry


def test_concurrent_writers_do_not_fail(tmp_path: Path) -> None:
    facts = ElfFacts(sha256="00" * 32)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for round_ in range(20):
                store = cache.NativeCache(tmp_path)
                for n in range(20):
                    store.put(f"{worker:02x}{round_:02x}{n:060x}", cache.Entry(cache.Header(64, "little", "x", 62, "x"),
                                                                             None, facts, {"": ()}))
                store.flush()
                assert not store.warnings, store.warnings
                store.close()
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    db = sqlite3.connect(tmp_path / cache.FILE_NAME)
    assert db.execute("SELECT count(*) FROM entries").fetchone() == (4 * 20 * 20,)
    db.close()


def test_two_names_for_the_same_bytes_in_one_scan_are_both_remembered(
    library: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = dist("foo", "1.0", modules={OWNED: library, "bar.libs/libbar-99887766.so.1": library})
    path = write_zip(tmp_path / "twice.zip", files)
    _scan(path)
    entry = cache.NativeCache().get(hashlib.sha256(library).hexdigest())
    assert entry is not None and {"libfoo", "libbar"} <= {key.partition("|")[0] for key in entry.identified}
    reads = _Reads(monkeypatch)
    _scan(path)
    assert reads.parsed == 0 and not [p for p in reads.read if ".so" in p]


def test_a_scan_without_elf_files_never_opens_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cache.ENV, str(tmp_path / "untouched"))
    modules = {"foo/__init__.py": b"", "foo/data.bin": b"\0" * 100, "foo/tool": b"#!/bin/sh\n"}
    files = dist("foo", "1.0", modules=modules)
    result = _scan(write_zip(tmp_path / "pure.zip", files))
    assert not natives(result) and not (tmp_path / "untouched").exists()


def test_files_without_a_record_hash_read_ahead_after_catalog_began_are_hashed_in_the_threads(
    artifact: Path, library: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    from depscan.catalogers import native

    began = threading.Event()
    real_begin, real_fetch, real_sha256 = native._Prefetch.begin, native._fetch, hashlib.sha256
    hashing_threads: list[str] = []

    def begin(self: native._Prefetch, hashed: set[str]) -> None:
        real_begin(self, hashed)
        began.set()

    def fetch(view: ArtifactView, member: str) -> object:
        if member == UNOWNED:
            assert began.wait(30)  # read once catalog knows which files have no RECORD hash
        return real_fetch(view, member)

    class Recording:
        @staticmethod
        def sha256(data: bytes = b"") -> object:
            hashing_threads.append(threading.current_thread().name)
            return real_sha256(data)

    monkeypatch.setattr(native._Prefetch, "begin", begin)
    monkeypatch.setattr(native, "_fetch", fetch)
    monkeypatch.setattr(native, "hashlib", Recording)
    monkeypatch.setattr(native, "workers", lambda: 2)
    early = _scan(artifact, native_cache=False)
    assert any(name.startswith("depscan-elf-prefetch") for name in hashing_threads)
    assert natives(early)[UNOWNED].elf_sha256_source == "bytes"
    monkeypatch.setattr(native, "workers", lambda: 1)
    assert _native_parts(_scan(artifact, native_cache=False)) == _native_parts(early)


def test_files_without_a_zip_fingerprint_are_hashed(library: bytes, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A tar has no CRC-32 to bind an entry to: owned files are hashed and keyed by that hash."""
    from depscan.catalogers import native

    files = dist("foo", "1.0", modules={OWNED: library})
    for threads in (2, 1):
        monkeypatch.setattr(native, "workers", lambda threads=threads: threads)
        monkeypatch.setenv(cache.ENV, str(tmp_path / f"cache {threads}"))
        lib = natives(_scan(write_tar(tmp_path / f"a{threads}.tar", files)))[OWNED]
        assert lib.elf is not None and lib.elf_sha256_source == "bytes"
        assert lib.elf.sha256 == hashlib.sha256(library).hexdigest()
        entry = _entry(lib.elf.sha256)
        assert entry is not None and entry.verified and entry.fingerprint is None


def test_a_locked_cache_is_waited_for_and_never_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A locked database (another depscan writing it) is an OperationalError, which is a DatabaseError too: it
    must not be taken for corruption. Removing the file and its -wal/-shm under another process's mapping
    crashed that process with SIGBUS (seen in test_concurrent_writers_do_not_fail)."""
    store = cache.NativeCache(tmp_path)
    store.put("ab" * 32, cache.Entry(cache.Header(64, "little", "x", 62, "x"), None, ElfFacts(sha256="ab" * 32),
                                     {"": ()}))
    store.flush()
    store.close()
    calls: list[int] = []

    def locked(self: cache.NativeCache) -> sqlite3.Connection:
        calls.append(1)
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(cache.NativeCache, "_open", locked)
    monkeypatch.setattr(cache.time, "sleep", lambda seconds: None)
    blocked = cache.NativeCache(tmp_path)
    assert blocked._connect() is None
    assert len(calls) == cache.OPEN_ATTEMPTS  # tried again before giving up
    assert blocked.warnings == [f"native cache {blocked.path}: cannot be opened (database is locked); scanning "
                                "without it"]
    assert blocked.path.exists()  # not "rebuilt"
    monkeypatch.undo()
    db = sqlite3.connect(blocked.path)
    assert db.execute("SELECT count(*) FROM entries").fetchone() == (1,)
    db.close()
    assert cache._corrupt(sqlite3.DatabaseError("file is not a database"))
    assert not cache._corrupt(sqlite3.OperationalError("database is locked"))
