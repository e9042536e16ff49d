"""Native ELF files (``.so`` libraries, extension modules, executables): what they are, for which machine,
and which distribution ships them.

Every regular file is an ELF file when its first bytes are the ELF magic ``\\x7fELF``, whatever its
name, except names that are surely not ELF files (``may_be_elf``: an explicit deny-list of suffixes
such as ``.py``, ``.pyc``, ``.txt``, ``.json``, ``.h``, ``.png`` and of names such as ``METADATA``,
``RECORD``, ``LICENSE*``; their first bytes are not read). A name is only a hint: ``is_candidate``
names (``*.so``, ``*.so.*``, any file in a ``*.libs/`` directory, where auditwheel puts the libraries it
grafts into a wheel) are kept whole by a streaming pass over a compressed tar, any other member once
its first bytes show the magic (``keep_whole``). First only 64 bytes are read
(``ArtifactView.read_prefix``: a zip member is inflated that far and no further, a compressed
tar keeps those bytes during its single pass), and they hold the whole ELF file header (System V
ABI, "ELF Header"; ``Elf32_Ehdr`` / ``Elf64_Ehdr`` in ``elf.h``), parsed with ``struct``:

* ``e_ident[EI_CLASS]`` (offset 4): 1 ``ELFCLASS32``, 2 ``ELFCLASS64``
* ``e_ident[EI_DATA]`` (offset 5): 1 ``ELFDATA2LSB`` (little-endian), 2 ``ELFDATA2MSB`` (big-endian)
* ``e_ident[EI_VERSION]`` (offset 6): 1 ``EV_CURRENT``, the only version
* ``e_type`` (offset 16, 2 bytes) and ``e_machine`` (offset 18, 2 bytes), in the file's byte
  order; the same offsets in both classes. The header is 52 bytes for ELFCLASS32 and 64 for
  ELFCLASS64; a file with the magic but shorter than its class's header is an ``Unknown``.

A file with the magic but an invalid class, byte order or version is an ``Unknown`` too. A file
named like a library without the magic (a text file called ``x.so``) is not a library and is
left alone.

The rest comes from elsewhere, without reading more of the file:

* name, version and kind from the file name (see ``parse_name``): auditwheel's grafted names
  ``<stem>-<8 hex>.<suffix>`` (the 8 hex digits are the start of the original file's SHA-256,
  and the SONAME is rewritten to match), ``libfoo.so.1.2`` (version ``1.2``), and extension
  modules ``<module>.cpython-311-x86_64-linux-gnu.so`` / ``<module>.abi3.so``;
* owner and SHA-256 from the RECORD of the Python distribution that lists the file (the Python
  cataloger runs first and hands its distributions over: ``needs = ("python-dists",)``). A file
  no RECORD lists is still a component, with ``owner`` None: a native library no package owns.

Then every confirmed ELF file is read whole (``wants``: a compressed tar keeps such members whole
during its pass, within the scan's budgets) and parsed with pyelftools (``depscan.native.elf``):
``NativeLib.elf`` holds its ``ElfFacts`` and ``found_by`` is ``"elf"``. ``identify`` is asked what
upstream libraries the file holds, from a hint: the file name's library name (auditwheel's renaming
undone), the SONAME's when the file name is not a library name, None for an extension module. Each
answer becomes a ``NativeComponent`` at the file's location, with the file's SHA-256 and the owner
(and the owner's status) from RECORD. A file that cannot be read whole (over a read limit, a zip
bomb) or parsed (corrupt, truncated, over the parser's bounds) keeps its header-only ``NativeLib``
(``found_by`` ``"elf-header"``) and adds an ``Unknown`` saying why.

What the bytes say is cached on disk by content hash (``depscan.native.cache``): a file whose owner's
RECORD gives its sha256 (and the size agrees) is looked up before anything is read, and a warm scan
neither decompresses nor parses it; a zip member under a RECORD hash is keyed by it on a cold scan too,
without hashing, its entry bound to the member's CRC-32 and size (``_Run._key``; reported as
``elf_sha256_source`` "record"); any other file is read and hashed, then looked up before it is
parsed. Whole reads (decompression, and hashing where needed, which release the GIL) run in worker threads
(``workers()``: one per CPU, at most ``MAX_WORKERS``) while the main thread parses and identifies the
files already read, at most ``READ_AHEAD_BYTES`` ahead (twice that before ``catalog``); a view whose
readers share a file position (a plain tar) is read in the main thread. Results do not depend on the
order files finish in. The reads start before ``catalog`` does: ``prefetch(view)``, called by
``scan.run`` once the view is open, reads the files named like libraries in those threads while the
Python cataloger runs, except the files whose zip fingerprint (CRC-32, size) leads to a cache entry
(a warm scan finds them by their RECORD hash unread).

"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import struct
from collections import deque
from collections.abc import Callable, Sequence
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple

from packageurl import PackageURL

from depscan.artifacts.view import ArtifactView, Entry, EntryType
from depscan.catalogers import Cataloger, CatalogResult
from depscan.errors import MemberError
from depscan.models import (
    Component,
    ElfFacts,
    HashSource,
    NativeComponent,
    NativeKind,
    NativeLib,
    PythonDist,
    RecordEntry,
    Status,
    Unknown,
)
from depscan.native import Identification

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

    from depscan.native.cache import Entry as CacheEntry
    from depscan.native.cache import NativeCache

ELF_MAGIC = b"\x7fELF"
Endianness = Literal["little", "big"]
PREFIX_BYTES = 64  # sizeof(Elf64_Ehdr); an Elf32_Ehdr is 52

# e_ident indexes and values (elf.h).
EI_CLASS, EI_DATA, EI_VERSION = 4, 5, 6
_CLASSES = {1: 32, 2: 64}  # ELFCLASS32, ELFCLASS64
_HEADER_SIZE = {32: 52, 64: 64}  # sizeof(Elf32_Ehdr), sizeof(Elf64_Ehdr)
_ENDIANNESS: dict[int, Endianness] = {1: "little", 2: "big"}  # ELFDATA2LSB, ELFDATA2MSB
EV_CURRENT = 1

# e_type (elf.h ET_*).
_TYPES = {0: "none", 1: "relocatable", 2: "executable", 3: "shared-object", 4: "core"}

# e_machine (elf.h EM_*), named as Linux ``uname -m`` and wheel platform tags spell the machine.
# Some names depend on the class or the byte order (see ``machine_name``).
_MACHINES = {
    2: "sparc",  # EM_SPARC
    3: "i386",  # EM_386
    8: "mips",  # EM_MIPS (mips, mipsel, mips64, mips64el)
    20: "ppc",  # EM_PPC
    21: "ppc64",  # EM_PPC64 (ppc64 big-endian, ppc64le)
    22: "s390",  # EM_S390 (s390 for ELFCLASS32, s390x for ELFCLASS64)
    40: "arm",  # EM_ARM (armeb when big-endian)
    43: "sparc64",  # EM_SPARCV9
    50: "ia64",  # EM_IA_64
    62: "x86_64",  # EM_X86_64 (x32 for the ELFCLASS32 ABI)
    183: "aarch64",  # EM_AARCH64 (aarch64_be when big-endian)
    243: "riscv",  # EM_RISCV (riscv32, riscv64)
    258: "loongarch",  # EM_LOONGARCH (loongarch32, loongarch64)
}

# An extension module (PEP 3149 tags, importlib.machinery.EXTENSION_SUFFIXES on Linux):
# "_cffi_backend.cpython-311-x86_64-linux-gnu.so", "_rust.abi3.so", "_x.pypy310-pp73-x86_64-linux-gnu.so".
# The module part is not always an identifier: mypyc names its shared runtime
# "650fdafa2468af73c11f__mypyc.cpython-311-x86_64-linux-gnu.so" (chardet 7 wheels).
_EXTENSION = re.compile(r"^(?P<module>[A-Za-z0-9_]+)\.(?P<tag>cpython-[^./]+|abi3|pypy[^./]*)\.so$")
# auditwheel's grafted copy: the original name split at its first ".", "-<first 8 hex of its SHA-256>"
# inserted ("libgfortran.so.5.0.0" -> "libgfortran-040039e1.so.5.0.0"). A library grafted twice
# (into a wheel, then from that wheel into another) carries two: numpy 2.2 ships
# "numpy.libs/libgfortran-040039e1-0352e75f.so.5.0.0".
_GRAFTED = re.compile(r"^(?P<stem>[^.]+?)(?P<hashes>(?:-[0-9a-f]{8})+)(?P<rest>\..+)$")
# "libfoo.so", "libfoo.so.1.2", "libpython3.11.so.1.0": the name is what precedes the first ".so"
# that ends the file name or is followed by a dot.
_SHARED = re.compile(r"^(?P<name>.+?)\.so(?:\.(?P<suffix>.*))?$")
_VERSION = re.compile(r"^[0-9]+(?:\.[0-9]+)*$")


class ElfHeader(NamedTuple):
    """The ELF file header fields the inventory reports."""

    elf_class: int  # 32 or 64
    endianness: Endianness
    elf_type: str
    machine: int  # e_machine as found
    arch: str


class LibName(NamedTuple):
    """What a file name says about a library."""

    name: str
    kind: NativeKind
    version: str | None
    bundled_hash: str | None
    abi_tag: str | None


def is_candidate(path: str) -> bool:
    """Whether a member's name says it is probably an ELF library: streaming passes keep such members
    whole (any other member is kept whole only once its first bytes show the ELF magic)."""
    parent, _, base = path.rpartition("/")
    return base.endswith(".so") or ".so." in base or parent.endswith(".libs")


# Names that are surely not ELF files: their first bytes are not checked. Everything else is (a name
# is only a hint: an ELF file can be called anything). Measured on the benchmark zips: the Lambda zip
# (33,234 members) leaves 276 files to check besides its 351 ELF files, the pure-Python one (14,736) 185;
# bench/README.md has the cost.
NOT_ELF_SUFFIXES = frozenset({
    # Python sources, stubs, bytecode, Cython/f2py sources
    "py", "pyc", "pyo", "pyi", "pyx", "pxd", "pxi", "pyf", "pth",
    # text, documentation, markup, data formats
    "txt", "md", "rst", "json", "html", "htm", "xml", "xsl", "svg", "yaml", "yml", "toml", "cfg", "ini", "csv",
    "tsv", "typed", "mo", "po", "pem", "crt", "js", "css", "map", "mako", "jinja", "j2", "tpl", "proto",
    # C/C++/Fortran sources and headers
    "h", "hpp", "hh", "c", "cc", "cpp", "cxx", "f", "f90",
    # images, fonts, sounds, numpy/matlab data
    "png", "jpg", "jpeg", "gif", "ico", "ttf", "otf", "woff", "woff2", "wav", "npy", "npz", "mat",
    # archives (opened as nested archives by their own magic)
    "gz", "zip", "whl", "bz2", "xz", "zst", "tar",
})
NOT_ELF_NAMES = frozenset({"METADATA", "RECORD", "WHEEL", "INSTALLER", "REQUESTED", "PKG-INFO", "zip-safe",
                           "top_level.txt", "entry_points.txt", "direct_url.json", ".gitignore"})
NOT_ELF_PREFIXES = ("LICENSE", "LICENCE", "COPYING", "AUTHORS", "NOTICE", "README", "CHANGELOG")
# Time-zone files (TZif data, named after zones: "Europe/Paris", "GMT+0"): tzdata and pytz ship about 600
# each, two thirds of what is left to check in a pure-Python deployment.
NOT_ELF_DIRECTORY = "zoneinfo"


def may_be_elf(path: str) -> bool:
    """Whether the first bytes of the file at ``path`` are checked for the ELF magic: every name but the
    deny-list's (``NOT_ELF_SUFFIXES``, ``NOT_ELF_NAMES``, ``NOT_ELF_PREFIXES``, files below a
    ``NOT_ELF_DIRECTORY``)."""
    parent, _, base = path.rpartition("/")
    if base in NOT_ELF_NAMES or base.startswith(NOT_ELF_PREFIXES):
        return False
    dot = base.rfind(".")
    if dot >= 0 and base[dot + 1 :].lower() in NOT_ELF_SUFFIXES:
        return False
    return NOT_ELF_DIRECTORY not in parent or NOT_ELF_DIRECTORY not in parent.split("/")


def machine_name(machine: int, elf_class: int, little: bool) -> str:
    """The architecture an ``e_machine`` value names, with the class and byte order where they matter."""
    base = _MACHINES.get(machine)
    if base is None:
        return "unknown"
    if base == "ppc64":
        return "ppc64le" if little else "ppc64"
    if base == "s390":
        return "s390x" if elf_class == 64 else "s390"
    if base == "mips":
        return ("mips64" if elf_class == 64 else "mips") + ("el" if little else "")
    if base in ("riscv", "loongarch"):
        return f"{base}{elf_class}"
    if base == "arm" and not little:
        return "armeb"
    if base == "aarch64" and not little:
        return "aarch64_be"
    if base == "x86_64" and elf_class == 32:
        return "x32"
    return base


def parse_header(data: bytes) -> ElfHeader | str:
    """The ELF header at the start of ``data`` (which starts with the magic), or why it is not one."""
    if len(data) <= EI_VERSION:
        return f"truncated ELF header ({len(data)} bytes)"
    elf_class = _CLASSES.get(data[EI_CLASS])
    if elf_class is None:
        return f"invalid ELF class {data[EI_CLASS]} (EI_CLASS must be 1 or 2)"
    endianness = _ENDIANNESS.get(data[EI_DATA])
    if endianness is None:
        return f"invalid ELF data encoding {data[EI_DATA]} (EI_DATA must be 1 or 2)"
    if data[EI_VERSION] != EV_CURRENT:
        return f"unsupported ELF version {data[EI_VERSION]} (EI_VERSION must be 1)"
    need = _HEADER_SIZE[elf_class]
    if len(data) < need:
        return f"truncated ELF header ({len(data)} bytes; an ELFCLASS{elf_class} header is {need})"
    little = endianness == "little"
    e_type, e_machine = struct.unpack_from("<HH" if little else ">HH", data, 16)
    return ElfHeader(
        elf_class=elf_class,
        endianness=endianness,
        elf_type=_TYPES.get(e_type, f"unknown (0x{e_type:04x})"),
        machine=e_machine,
        arch=machine_name(e_machine, elf_class, little),
    )


def parse_name(path: str) -> LibName:
    """Name, kind, version, auditwheel hash and extension tag from a library's path (nothing guessed).

    The auditwheel hash is recognized only in a ``*.libs`` directory, the only place auditwheel
    puts the libraries it grafts; elsewhere ``libfoo-deadbeef.so`` keeps its whole name. Of a
    library grafted twice, ``bundled_hash`` is the last hash, the one added when it was copied
    into the wheel that ships it here.
    """
    parent, _, base = path.rpartition("/")
    extension = _EXTENSION.match(base)
    if extension is not None:
        return LibName(extension["module"], "python-extension", None, None, extension["tag"])
    bundled = None
    grafted = _GRAFTED.match(base) if parent.endswith(".libs") else None
    if grafted is not None:
        bundled = grafted["hashes"][-8:]
        base = grafted["stem"] + grafted["rest"]
    shared = _SHARED.match(base)
    if shared is None:
        return LibName(base, "shared-library", None, bundled, None)
    suffix = shared["suffix"]
    version = suffix if suffix is not None and _VERSION.match(suffix) else None
    return LibName(shared["name"], "shared-library", version, bundled, None)


def generic_purl(name: str, version: str | None) -> str:
    """``pkg:generic/<name>[@<version>]`` (purl spec, ``generic`` type)."""
    return str(PackageURL(type="generic", name=name, version=version).to_string())


class NativeLibCataloger(Cataloger):
    """Finds ELF files by name and magic, parses them, identifies them, and finds the distribution owning each.

    ``use_cache`` False (``depscan scan --no-cache``): every file is read, parsed and identified, and
    the on-disk cache (``depscan.native.cache``) is neither read nor written; ``cache_dir`` overrides
    where it lives (default ``$DEPSCAN_CACHE_DIR``, else the user cache directory).
    """

    name = "native-libs"
    needs = ("python-dists",)

    def __init__(self, use_cache: bool = True, cache_dir: Path | None = None) -> None:
        self.use_cache = use_cache
        self.cache_dir = cache_dir
        self._prefetch: _Prefetch | None = None
        self._streamed: _StreamedStore | None = None  # the cache as ``consume_whole`` opened it

    def prefetch(self, view: ArtifactView) -> None:
        """Start reading (inflating and hashing) the files named like libraries in worker threads now, while
        the catalogers before this one run; ``catalog`` takes the bytes from there. Files the cache is
        likely to know (``ArtifactView.fingerprint`` -> a stored entry) and files without a fingerprint are
        left to ``catalog``, which reads what it needs as before: what a file is reported as never depends
        on this. The threads stop when ``catalog`` is done or the view is closed, whichever comes first."""
        if self._prefetch is not None or workers() == 1:
            return
        named = [e for e in view.entries() if e.type is EntryType.FILE and is_candidate(e.path)]
        prints = {e.path: view.fingerprint(e.path) for e in named if view.concurrent(e.path)}
        known_prints = {path: fingerprint for path, fingerprint in prints.items() if fingerprint is not None}
        if not known_prints:
            return
        store = self._open_cache()
        known = store.known_members(known_prints.values()) if store is not None else set()
        chosen = [e for e in named if e.path in known_prints and known_prints[e.path] not in known]
        self._prefetch = _Prefetch(view, chosen, store)
        view.on_close(self._prefetch.abandon)  # runs before the archive is closed (closers run last first)

    def wants(self, path: str) -> bool:
        return is_candidate(path)  # the whole file: its structure is parsed

    def wants_prefix(self, path: str) -> int:
        return PREFIX_BYTES if may_be_elf(path) else 0

    def keep_whole(self, path: str, head: bytes) -> bool:
        return head.startswith(ELF_MAGIC)  # found by its magic: parsed whole

    def consume_whole(self, path: str, data: bytes) -> Streamed | None:
        """What the bytes of an ELF file say, taken while a streaming pass holds them (``OpenContext.consume_whole``:
        the pass then keeps only this and the file's first bytes). Hashed, looked up in the cache, else parsed and
        identified under the file name's hint, exactly as ``catalog`` would after a whole read; ``catalog`` takes
        the result from ``ArtifactView.consumed``. None (the pass keeps the bytes) for anything that is not an ELF
        file with a valid header (``catalog`` reports those from their first bytes)."""
        if not data.startswith(ELF_MAGIC):
            return None
        header = parse_header(data[:PREFIX_BYTES])
        if isinstance(header, str):
            return None
        if self._streamed is None:
            self._streamed = _StreamedStore(self._open_cache)
        store = self._streamed.store
        sha256 = hashlib.sha256(data).hexdigest()
        entry = Entry(path, EntryType.FILE, len(data))
        stored = store.get(sha256) if store is not None else None
        if stored is not None and not _usable(stored, None):
            stored = None
        if stored is not None and stored.header is not None and _from_cache(entry, None, stored, "bytes") is not None:
            return Streamed(stored)  # known bytes under this name: not parsed again
        known = _analysis(_Fetched(data, sha256), header, entry, None, stored, "bytes")
        if known is stored:
            known.verified = True
        else:
            known.verified, known.fingerprint = True, None
        if store is not None:
            store.put(sha256, known)
        return Streamed(known)

    def catalog(self, view: ArtifactView, earlier: Sequence[Component] = ()) -> CatalogResult:
        prefetch, self._prefetch = self._prefetch, None
        if prefetch is not None and prefetch.view is not view:
            prefetch.abandon()
            prefetch = None
        candidates = [e for e in view.entries() if e.type is EntryType.FILE and may_be_elf(e.path)]
        if not candidates:
            if prefetch is not None:
                prefetch.abandon()
            return CatalogResult((), ())
        owners = _owners(earlier, {e.path for e in candidates})
        if prefetch is not None:  # the files read ahead from now on are hashed in the threads when they need it
            prefetch.begin({e.path for e in candidates if _recorded_sha256(_owner(owners.get(e.path), e), e) is None})
        work = _Run(view, self._open_cache if prefetch is None else prefetch.hand_over_store, prefetch)
        streamed, self._streamed = self._streamed, None
        if streamed is not None:  # the cache ``consume_whole`` opened: flushed and closed below
            work.opened, work._asked = streamed.store, True
        try:
            outcomes = work.run(candidates, owners)
        finally:
            if prefetch is not None:
                prefetch.stop()
            store = work.opened
            if store is not None:
                store.flush()
                store.close()
                view.warnings.extend(store.warnings)
        components: list[NativeLib] = []
        identified: list[NativeComponent] = []
        unknowns: list[Unknown] = []
        for outcome in outcomes:
            if outcome is None:
                continue
            if outcome.lib is not None:
                components.append(outcome.lib)
            identified.extend(outcome.identified)
            unknowns.extend(outcome.unknowns)
        components.sort(key=lambda lib: (lib.location.path, lib.location.layer or ""))
        identified.sort(key=lambda c: (c.location.path, c.location.layer or "", c.name, c.embedded))
        found: tuple[Component, ...] = (*components, *identified)
        return CatalogResult(found, tuple(unknowns))

    def _open_cache(self) -> NativeCache | None:
        if not self.use_cache:
            return None
        from depscan.native.cache import NativeCache  # sqlite3 only for scans that meet an ELF candidate

        return NativeCache(self.cache_dir)


class _Outcome(NamedTuple):
    """What one candidate file contributes: its ``NativeLib`` (None: not an ELF file), the libraries
    identified in it, and the Unknowns it caused."""

    lib: NativeLib | None
    identified: tuple[NativeComponent, ...] = ()
    unknowns: tuple[Unknown, ...] = ()


class _Fetched(NamedTuple):
    """An ELF file read whole (in a worker thread where the view allows it), and hashed or not yet."""

    data: bytes
    sha256: str | None  # None: not hashed (a zip member under a RECORD hash needs none, see _Run._key)


def _fetch(view: ArtifactView, path: str) -> _Fetched:
    return _Fetched(view.read(path), None)


def _fetch_hashed(view: ArtifactView, path: str) -> _Fetched:
    data = _fetch(view, path).data
    return _Fetched(data, hashlib.sha256(data).hexdigest())


def workers() -> int:
    """Threads that read (inflate) and hash ELF files while the main thread parses: one per CPU this
    process may run on, at most ``MAX_WORKERS``; 1 means no threads."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cpus))


MAX_WORKERS = 4
# Bytes of ELF files read ahead of the parser at most (plus the file being parsed): the peak memory
# the threads add. A file larger than this is read alone, or beside at most a quarter of it.
READ_AHEAD_BYTES = 64 * 1024 * 1024
# The window is this many times wider until ``catalog`` takes its first file: the catalogers before it
# (METADATA and RECORD files) hold little memory, and the threads would otherwise wait for ``catalog``
# with a core free (the Lambda zip: about 0.35 s).
EARLY_WINDOW = 2
# Files read ahead that ``catalog`` looks at for one that is ready (the next in order may not be).
LOOK_AHEAD = 16


class _Prefetch:
    """Whole reads of the files named like libraries, started as soon as the view is open (the prefix is
    checked first: a file without the ELF magic is not read whole), in ``workers()`` threads that take the
    files in the view's order; ``catalog`` takes each file's bytes (``take``) in the same order and says
    when it is done with them (``release``). Files read and not yet released hold at most
    ``READ_AHEAD_BYTES`` (a larger file is read alone, or beside at most a quarter of that), or
    ``EARLY_WINDOW`` times that until ``catalog`` begins (``begin``).
    An error reading a file is its future's exception, raised where ``catalog`` takes it, as for a read of
    its own."""

    def __init__(self, view: ArtifactView, entries: list[Entry], store: NativeCache | None) -> None:
        import threading
        from concurrent.futures import Future

        self.view = view
        self._store: NativeCache | None = store
        self._store_handed_over = False
        self._entries = entries
        self._futures: dict[str, Future[_Fetched | None]] = {e.path: Future() for e in entries}
        self._sizes: dict[str, int] = {}  # path -> bytes counted as read ahead (taken by a worker, not released)
        self._next = 0
        self._ahead = 0
        self._window = EARLY_WINDOW * READ_AHEAD_BYTES  # READ_AHEAD_BYTES once ``catalog`` begins
        self._stopped = False
        self._hashed: frozenset[str] = frozenset()  # paths to hash as they are read (``begin``)
        self._lock = threading.Condition()
        self._threads = [
            threading.Thread(target=self._work, name=f"depscan-elf-prefetch-{n}", daemon=True)
            for n in range(min(workers(), len(entries)))
        ]
        for thread in self._threads:
            thread.start()

    def _claim(self) -> Entry | None:
        """The next file to read (waiting while the files read ahead fill the window), None when done."""
        with self._lock:
            while True:
                if self._stopped or self._next >= len(self._entries):
                    return None
                entry = self._entries[self._next]
                if entry.path not in self._futures:  # released before it was read: not needed
                    self._next += 1
                    continue
                # a file larger than the window waits only until the window is three quarters empty: it is
                # read while ``catalog`` parses the last files before it, not after them
                full = self._ahead and self._ahead + entry.size > self._window
                if full and (entry.size <= self._window or self._ahead > self._window // 4):
                    self._lock.wait()
                    continue
                self._next += 1
                self._sizes[entry.path] = entry.size
                self._ahead += entry.size
                return entry

    def _work(self) -> None:
        while (entry := self._claim()) is not None:
            with self._lock:
                future = self._futures.get(entry.path)
            if future is None or not future.set_running_or_notify_cancel():
                continue
            try:
                head = self.view.read_prefix(entry.path, PREFIX_BYTES)
                fetched = _fetch(self.view, entry.path) if head.startswith(ELF_MAGIC) else None
                if fetched is not None and entry.path in self._hashed:
                    fetched = _Fetched(fetched.data, hashlib.sha256(fetched.data).hexdigest())
                future.set_result(fetched)
            except BaseException as e:  # handed to the thread that takes the file
                future.set_exception(e)

    def take(self, path: str) -> Future[_Fetched | None] | None:
        """The read of ``path`` (done or coming), or None when it is not read ahead."""
        with self._lock:
            return self._futures.get(path)

    def release(self, path: str) -> None:
        """``catalog`` is done with ``path`` (or does not need it): its bytes leave the window."""
        with self._lock:
            future = self._futures.pop(path, None)
            if future is not None:
                future.cancel()  # not started yet: never read
            size = self._sizes.pop(path, 0)
            if size:
                self._ahead -= size
                self._lock.notify_all()

    def begin(self, hashed: set[str]) -> None:
        """``catalog`` takes files from now on: the window narrows to ``READ_AHEAD_BYTES``; the files in
        ``hashed`` (no RECORD hash: ``_Run._key`` hashes them) are hashed by the threads that read them from
        now on (the ones read before are hashed by ``catalog``)."""
        with self._lock:
            self._window = READ_AHEAD_BYTES
            self._hashed = frozenset(hashed)

    def hand_over_store(self) -> NativeCache | None:
        """The cache opened for the fingerprint lookups: from now on ``catalog`` flushes and closes it."""
        self._store_handed_over = True
        return self._store

    def stop(self) -> None:
        """No more files are started; the threads end once the files being read are (their bytes dropped)."""
        with self._lock:
            self._stopped = True
            futures, self._futures = self._futures, {}
            self._sizes.clear()
            self._ahead = 0
            self._lock.notify_all()
        for future in futures.values():
            future.cancel()
        for thread in self._threads:
            thread.join()

    def abandon(self) -> None:
        """``stop``, and close the cache when ``catalog`` never took it over (the scan ended before it)."""
        self.stop()
        if self._store is not None and not self._store_handed_over:
            self._store_handed_over = True
            self._store.close()


class Streamed(NamedTuple):
    """What ``NativeLibCataloger.consume_whole`` made of an ELF file's bytes during a streaming pass."""

    known: CacheEntry


class _StreamedStore:
    """The cache as opened for ``consume_whole`` (once, at the first ELF file a streaming pass offers)."""

    def __init__(self, open_store: Callable[[], NativeCache | None]) -> None:
        self.store = open_store()


class _Run:
    """One catalog pass: cache lookups, prefix checks, whole reads (threaded), parse and identify."""

    def __init__(
        self, view: ArtifactView, open_store: Callable[[], NativeCache | None], prefetch: _Prefetch | None = None
    ) -> None:
        self.view = view
        self._open_store = open_store
        self._prefetch = prefetch
        self._missed: set[str] = set()
        self._asked = False
        self.opened: NativeCache | None = None

    @property
    def store(self) -> NativeCache | None:
        """The cache, opened at the first lookup: a scan without ELF files never touches it (nor imports sqlite3)."""
        if not self._asked:
            self._asked = True
            self.opened = self._open_store()
        return self.opened

    def run(self, candidates: list[Entry], owners: dict[str, list[_Claim]]) -> list[_Outcome | None]:
        claims = [_owner(owners.get(entry.path), entry) for entry in candidates]
        recorded = [_recorded_sha256(claim, entry) for claim, entry in zip(claims, candidates, strict=True)]
        # Looked up before anything is read: files named like libraries. Any other file is looked up by
        # its content hash once its first bytes showed the ELF magic.
        named = [key for key, entry in zip(recorded, candidates, strict=True) if key and is_candidate(entry.path)]
        store = self.store if named else None
        hits = store.get_many(named) if store is not None else {}
        self._missed = set(named) - hits.keys()  # not in the file when the scan began
        outcomes: list[_Outcome | None] = [None] * len(candidates)
        pending: list[int] = []
        for index, entry in enumerate(candidates):
            consumed = self.view.consumed(entry.path)
            if isinstance(consumed, Streamed):  # parsed while a streaming pass held the bytes
                outcome = _from_cache(entry, claims[index], consumed.known, "bytes")
                if outcome is not None:
                    outcomes[index] = outcome
                    continue
            key = recorded[index]
            hit = hits.get(key) if key else None
            if hit is not None and not _usable(hit, self.view.fingerprint(entry.path)):
                hit = None  # RECORD names bytes of another CRC-32 or size: read
            outcome = _from_cache(entry, claims[index], hit, "record") if hit is not None else None
            if outcome is not None:
                outcomes[index] = outcome  # a warm run: the file is not read at all
            else:
                pending.append(index)
        if self._prefetch is not None:
            for index, outcome in enumerate(outcomes):
                if outcome is not None:
                    self._prefetch.release(candidates[index].path)  # known by its RECORD hash: not needed
        self._read_and_analyze(candidates, claims, pending, outcomes)
        return outcomes

    def _key(self, entry: Entry, claim: _Claim | None, fetched: _Fetched, fingerprint: str | None
             ) -> tuple[str, bool, CacheEntry | None]:
        """The key of a file read whole, whether it is the hash of its bytes (hashed here when needed),
        and the usable cache entry under it.

        A zip member whose owner's RECORD gives its sha256 (the size agreeing) is keyed by that hash without
        hashing: its bytes were checked against the member's CRC-32 and size as they were inflated, and its
        entry is stored with them (``cache.usable``). It is hashed after all when the entry stored under the
        RECORD hash was made from bytes of another CRC-32 or size, so that such an entry is never replaced or
        extended by another file's facts under that hash. Any other file is hashed, and an entry under its
        hash that was made under a RECORD hash from bytes of another (or no known) CRC-32 and size is not
        taken: the file's own analysis replaces it. (One made from bytes of the same CRC-32 and size is taken
        and extended, and stays unverified.)"""
        recorded = _recorded_sha256(claim, entry)
        if fetched.sha256 is None and recorded is not None and fingerprint is not None:
            stored = self._lookup(recorded)
            if stored is None or stored.fingerprint == fingerprint:
                return recorded, False, stored
        sha256 = fetched.sha256 if fetched.sha256 is not None else hashlib.sha256(fetched.data).hexdigest()
        stored = self._lookup(sha256)
        if stored is not None and not _usable(stored, fingerprint):
            stored = None  # made from other bytes under a RECORD hash that lied: replaced by this file's
        return sha256, True, stored

    def _lookup(self, key: str) -> CacheEntry | None:
        if self.store is None:
            return None
        if key in self._missed:  # a RECORD hash not in the file: only this scan's entries
            return self.store.get_pending(key)
        return self.store.get(key)

    def _needs_hash(self, entry: Entry, claim: _Claim | None) -> bool:
        """Whether a whole read of ``entry`` will be hashed (``_key``): read and hashed in a worker then."""
        return _recorded_sha256(claim, entry) is None or self.view.fingerprint(entry.path) is None

    def _read_and_analyze(
        self, candidates: list[Entry], claims: list[_Claim | None], pending: list[int], outcomes: list[_Outcome | None]
    ) -> None:
        view = self.view
        prefetch = self._prefetch
        threads = workers()
        pool: ThreadPoolExecutor | None = None  # started with the first file read in a worker
        in_flight: dict[Future[_Fetched], tuple[int, ElfHeader]] = {}
        ahead = 0
        # Files read ahead (``prefetch``), in the order its threads read them: finished in that order, each
        # header taken from the bytes read (the main thread reads no prefix of them).
        early: deque[tuple[int, Future[_Fetched | None]]] = deque()

        def finish(future: Future[_Fetched]) -> None:
            nonlocal ahead
            index, header = in_flight.pop(future)
            ahead -= candidates[index].size
            outcomes[index] = self._analyze(candidates[index], claims[index], header, future)

        def finish_one_or_more() -> None:
            from concurrent.futures import FIRST_COMPLETED, wait

            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                finish(future)

        def finish_ready(block: bool = False) -> None:
            for future in [f for f in in_flight if f.done()]:
                finish(future)  # parse what is ready while the workers inflate the rest
            # Any of the next few files that is read, not only the first: a large file being read does
            # not hold up the main thread while the small ones after it are ready (the workers read in
            # order, so the ready ones are near the front). Blocking: wait for one of them.
            while early:
                near = list(islice(early, LOOK_AHEAD))
                ready = [item for item in near if item[1].done()]
                if not ready:
                    if not block:
                        return
                    from concurrent.futures import FIRST_COMPLETED, wait

                    wait([future for _, future in near], return_when=FIRST_COMPLETED)
                    continue
                for item in ready:
                    early.remove(item)
                    index, done = item
                    outcomes[index] = self._read_ahead(candidates[index], claims[index], done)
                    assert prefetch is not None
                    prefetch.release(candidates[index].path)

        try:
            for index in pending:
                entry = candidates[index]
                read_ahead = prefetch.take(entry.path) if prefetch is not None else None
                if read_ahead is not None:
                    early.append((index, read_ahead))
                    finish_ready()
                    continue
                header = self._header(entry)
                if isinstance(header, _Outcome) or header is None:
                    outcomes[index] = header
                    continue
                if threads == 1 or not view.concurrent(entry.path):
                    outcomes[index] = self._analyze(entry, claims[index], header, None)
                    continue
                if pool is None:
                    from concurrent.futures import ThreadPoolExecutor  # only for scans with ELF files

                    pool = ThreadPoolExecutor(threads, thread_name_prefix="depscan-elf")
                while in_flight and (ahead + entry.size > READ_AHEAD_BYTES or len(in_flight) >= 2 * threads):
                    finish_one_or_more()
                read = _fetch_hashed if self._needs_hash(entry, claims[index]) else _fetch
                in_flight[pool.submit(read, view, entry.path)] = (index, header)
                ahead += entry.size
                finish_ready()
            while in_flight:
                finish_one_or_more()
            finish_ready(block=True)
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)

    def _read_ahead(self, entry: Entry, claim: _Claim | None, future: Future[_Fetched | None]) -> _Outcome | None:
        """The outcome of a file ``prefetch`` read: its header from its first bytes (None: not an ELF file).
        When the read failed with a MemberError, the file goes the way of a file not read ahead (its prefix,
        then a whole read), which reports the problem as such a file's would be."""
        try:
            fetched = future.result()
        except MemberError:
            header = self._header(entry)
            if isinstance(header, _Outcome) or header is None:
                return header
            return self._analyze(entry, claim, header, None)
        if fetched is None:
            return None  # its first bytes are not the ELF magic
        parsed = parse_header(fetched.data[:PREFIX_BYTES])
        if isinstance(parsed, str):
            return _Outcome(None, (), (Unknown(entry.location, parsed),))
        return self._analyze(entry, claim, parsed, future)

    def _header(self, entry: Entry) -> ElfHeader | _Outcome | None:
        """The file's ELF header (its first bytes), None when it is not an ELF file, or an outcome
        with the Unknown that says why it could not be read or is not a valid header."""
        try:
            head = self.view.read_prefix(entry.path, PREFIX_BYTES)
        except MemberError as e:
            return _Outcome(None, (), (Unknown(entry.location, str(e)),))
        if not head.startswith(ELF_MAGIC):
            return None  # named like a library, but it is not an ELF file
        header = parse_header(head)
        if isinstance(header, str):
            return _Outcome(None, (), (Unknown(entry.location, header),))
        return header

    def _analyze(
        self,
        entry: Entry,
        claim: _Claim | None,
        header: ElfHeader,
        future: Future[_Fetched] | Future[_Fetched | None] | None,
    ) -> _Outcome:
        """Parse and identify one ELF file read whole (or take what the cache knows of its bytes)."""
        try:
            fetched = future.result() if future is not None else None
            if fetched is None:  # not read yet
                fetched = _fetch(self.view, entry.path)
        except MemberError as e:
            lib = _component(entry, header, claim)
            return _Outcome(lib, (), (Unknown(entry.location, f"ELF structure not read: {e}"),))
        fingerprint = self.view.fingerprint(entry.path)
        key, hashed, stored = self._key(entry, claim, fetched, fingerprint)
        source: HashSource = "bytes" if hashed else "record"
        if self.store is not None and fingerprint is not None:
            self.store.remember_member(fingerprint, key)
        if stored is not None and stored.header is not None:
            outcome = _from_cache(entry, claim, stored, source)
            if outcome is not None:
                return outcome  # known bytes under another name or RECORD hash: not parsed again
        known = _analysis(_Fetched(fetched.data, key), header, entry, claim, stored, source)
        if known is not stored:  # a new entry: made from these bytes
            known.verified, known.fingerprint = hashed, fingerprint
        if self.store is not None:
            self.store.put(key, known)
        outcome = _from_cache(entry, claim, known, source)
        assert outcome is not None  # _analysis identified the file under this entry's hint
        return outcome


def _usable(entry: CacheEntry, fingerprint: str | None) -> bool:
    from depscan.native.cache import usable  # imported with the cache, which gave the entry

    return usable(entry, fingerprint)


def _recorded_sha256(claim: _Claim | None, entry: Entry) -> str | None:
    """The owner's RECORD sha256 of the file (hex) while its size agrees with the entry's."""
    if claim is None:
        return None
    row = claim[1]
    if row.algorithm != "sha256" or (row.size is not None and row.size != entry.size):
        return None
    try:
        return row.digest
    except ValueError:  # not base64: the Python cataloger reported the row
        return None


def _analysis(
    fetched: _Fetched,
    header: ElfHeader,
    entry: Entry,
    claim: _Claim | None,
    stored: CacheEntry | None,
    source: HashSource,
) -> CacheEntry:
    """What the bytes say (a new cache entry, or ``stored`` with this entry's hint added); ``fetched.sha256``
    is the file's key (``_Run._key``)."""
    # pyelftools and the classifiers are imported once an ELF file is found (a scan without one: 0.02 s less)
    from depscan.native import elf
    from depscan.native.cache import Entry as CacheEntry
    from depscan.native.cache import Header
    from depscan.native.identify import identify

    known = stored if stored is not None and stored.header is not None else CacheEntry(header=Header(*header))
    try:
        elf_file, facts = elf.parse(fetched.data, fetched.sha256)
    except elf.ElfParseError as e:
        known.facts, known.problem = None, str(e)
        return known
    known.facts, known.problem = facts, None
    lib = dataclasses.replace(_component(entry, header, claim), found_by="elf", elf=facts, elf_sha256_source=source)
    hint = identification_hint(lib, facts)
    file_name = entry.path.rpartition("/")[2]
    key = _answers_key(hint, file_name)
    try:
        known.identified[key] = tuple(identify(elf_file, fetched.data, hint, file_name))
    except elf.PARSE_ERRORS as e:
        known.identified[key] = f"{type(e).__name__}: {e}"
    return known


def _answers_key(hint: str | None, file_name: str) -> str:
    """Where a file's identifications are kept in its cache entry: the answers depend on the hint and on
    the file's name (the SONAME tables read the version from it), not only on the bytes."""
    return f"{hint or ''}|{file_name}"


def _from_cache(entry: Entry, claim: _Claim | None, known: CacheEntry, source: HashSource) -> _Outcome | None:
    """The outcome for ``entry`` from what its bytes say; None when they were never identified under
    this entry's hint (then the file is parsed and identified again). ``source``: whether this scan hashed
    the file (``bytes``) or took its owner's RECORD hash (``record``)."""
    if known.header is None:
        return None
    stored = known.header
    header = ElfHeader(stored.elf_class, "big" if stored.endianness == "big" else "little", stored.elf_type,
                       stored.machine, stored.arch)
    lib = _component(entry, header, claim)
    if known.facts is None:
        return _Outcome(lib, (), (Unknown(entry.location, f"{entry.path}: {known.problem}"),))
    lib = dataclasses.replace(lib, found_by="elf", elf=known.facts, elf_sha256_source=source)
    answers = known.identified.get(_answers_key(identification_hint(lib, known.facts), entry.path.rpartition("/")[2]))
    if answers is None:
        return None
    if isinstance(answers, str):
        return _Outcome(lib, (), (Unknown(entry.location, f"identification failed ({answers})"),))
    return _Outcome(lib, tuple(_native_component(answer, lib, claim) for answer in answers))


_Claim = tuple[PythonDist, RecordEntry]


def _owners(earlier: Sequence[Component], paths: set[str]) -> dict[str, list[_Claim]]:
    """RECORD rows naming one of ``paths``, by path (usually one claim each)."""
    owners: dict[str, list[_Claim]] = {}
    if not paths:
        return owners
    for component in earlier:
        if not isinstance(component, PythonDist):
            continue
        for row in component.record:
            if row.path in paths:
                owners.setdefault(row.path, []).append((component, row))
    return owners


def _owner(claims: list[_Claim] | None, entry: Entry) -> _Claim | None:
    """The claim to believe when several RECORDs list one file: the same layer's, then a used copy's."""
    if not claims:
        return None
    return min(
        claims,
        key=lambda claim: (
            claim[0].metadata_location.layer != entry.layer,
            claim[0].status is Status.SHADOWED,
            claim[0].metadata_location.path,
        ),
    )


def _component(entry: Entry, header: ElfHeader, claim: _Claim | None) -> NativeLib:
    named = parse_name(entry.path)
    owner = owner_location = None
    if claim is not None:
        owner, owner_location = claim[0].purl, claim[0].metadata_location
    # RECORD's hash describes the file as installed: believe it only while the size agrees.
    sha256 = _recorded_sha256(claim, entry)
    return NativeLib(
        name=named.name,
        kind=named.kind,
        version=named.version,
        location=entry.location,
        size=entry.size,
        arch=header.arch,
        elf_class=header.elf_class,
        endianness=header.endianness,
        elf_type=header.elf_type,
        purl=None if named.kind == "python-extension" else generic_purl(named.name, named.version),
        sha256=sha256,
        bundled_hash=named.bundled_hash,
        abi_tag=named.abi_tag,
        owner=owner,
        owner_location=owner_location,
    )


def identification_hint(lib: NativeLib, facts: ElfFacts) -> str | None:
    """The upstream-ish name ``identify`` starts from: the file name's (auditwheel's renaming undone),
    else the SONAME's when the file name is not a library name; None for an extension module."""
    if lib.kind == "python-extension":
        return None
    base = lib.location.path.rpartition("/")[2]
    if _SHARED.match(base) is None and facts.soname:
        return parse_name(facts.soname).name
    return lib.name


def _native_component(answer: Identification, lib: NativeLib, claim: _Claim | None) -> NativeComponent:
    status = claim[0].status if claim is not None else Status.USED
    return NativeComponent(
        name=answer.library,
        version=answer.version,
        purl=answer.purl,
        cpe=answer.cpe,
        location=lib.location,
        evidence=answer.evidence,
        embedded=answer.embedded,
        file_sha256=lib.elf.sha256 if lib.elf is not None else lib.sha256,
        file_sha256_source=lib.elf_sha256_source if lib.elf is not None else "record" if lib.sha256 else None,
        owner=lib.owner,
        owner_location=lib.owner_location,
        status=status,
    )
