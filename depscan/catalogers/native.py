"""Native ELF libraries (``.so`` files): what they are, for which machine, and which distribution ships them.

Cheap by design. A file is a candidate by its name (``*.so``, ``*.so.*``, or any file in a
``*.libs/`` directory, where auditwheel puts the libraries it grafts into a wheel) and is
confirmed by the ELF magic ``\\x7fELF``. Only its first 64 bytes are read
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

Not yet: files found by magic whatever their name (today a candidate needs a library-like name, the
magic only confirms it), a cache of parsed facts, threads.
"""

from __future__ import annotations

import dataclasses
import re
import struct
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, NamedTuple

from packageurl import PackageURL

from depscan.artifacts.view import ArtifactView, Entry, EntryType
from depscan.catalogers import Cataloger, CatalogResult
from depscan.errors import MemberError
from depscan.models import (
    Component,
    ElfFacts,
    NativeComponent,
    NativeKind,
    NativeLib,
    PythonDist,
    RecordEntry,
    Status,
    Unknown,
)
from depscan.native import Identification

if TYPE_CHECKING:  # pyelftools and the classifiers are imported once an ELF file is found (0.02 s otherwise)
    from elftools.elf.elffile import ELFFile

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
    """Whether a member's name says it may be an ELF library (confirmed later by its magic)."""
    parent, _, base = path.rpartition("/")
    return base.endswith(".so") or ".so." in base or parent.endswith(".libs")


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
    """Finds ELF files by name and magic, parses them, identifies them, and finds the distribution owning each."""

    name = "native-libs"
    needs = ("python-dists",)

    def wants(self, path: str) -> bool:
        return is_candidate(path)  # the whole file: its structure is parsed

    def wants_prefix(self, path: str) -> int:
        return PREFIX_BYTES if is_candidate(path) else 0

    def catalog(self, view: ArtifactView, earlier: Sequence[Component] = ()) -> CatalogResult:
        candidates = [e for e in view.entries() if e.type is EntryType.FILE and is_candidate(e.path)]
        owners = _owners(earlier, {e.path for e in candidates})
        components: list[NativeLib] = []
        identified: list[NativeComponent] = []
        unknowns: list[Unknown] = []
        for entry in candidates:
            try:
                head = view.read_prefix(entry.path, PREFIX_BYTES)
            except MemberError as e:
                unknowns.append(Unknown(entry.location, str(e)))
                continue
            if not head.startswith(ELF_MAGIC):
                continue  # named like a library, but it is not an ELF file
            header = parse_header(head)
            if isinstance(header, str):
                unknowns.append(Unknown(entry.location, header))
                continue
            claim = _owner(owners.get(entry.path), entry)
            lib = _component(entry, header, claim)
            parsed = _parse_whole(view, entry, unknowns)
            if parsed is not None:
                elf_file, facts, data = parsed
                lib = dataclasses.replace(lib, found_by="elf", elf=facts)
                hint = identification_hint(lib, facts)
                from depscan.native import elf
                from depscan.native.identify import identify

                try:
                    answers = identify(elf_file, data, hint)
                except elf.PARSE_ERRORS as e:
                    unknowns.append(Unknown(entry.location, f"identification failed ({type(e).__name__}: {e})"))
                    answers = []
                identified.extend(_native_component(answer, lib, claim) for answer in answers)
            components.append(lib)
        components.sort(key=lambda lib: (lib.location.path, lib.location.layer or ""))
        identified.sort(key=lambda c: (c.location.path, c.location.layer or "", c.name, c.embedded))
        found: tuple[Component, ...] = (*components, *identified)
        return CatalogResult(found, tuple(unknowns))


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
    sha256 = owner = owner_location = None
    if claim is not None:
        dist, row = claim
        owner, owner_location = dist.purl, dist.metadata_location
        # RECORD's hash describes the file as installed: believe it only while the size agrees.
        if row.algorithm == "sha256" and (row.size is None or row.size == entry.size):
            sha256 = row.digest
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


def _parse_whole(view: ArtifactView, entry: Entry, unknowns: list[Unknown]) -> tuple[ELFFile, ElfFacts, bytes] | None:
    """The whole file read and parsed, or None with an ``Unknown`` saying why it could not be."""
    from depscan.native import elf

    try:
        data = view.read(entry.path)
    except MemberError as e:
        unknowns.append(Unknown(entry.location, f"ELF structure not read: {e}"))
        return None
    try:
        elf_file, facts = elf.parse(data)
    except elf.ElfParseError as e:
        unknowns.append(Unknown(entry.location, f"{entry.path}: {e}"))
        return None
    return elf_file, facts, data


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
        owner=lib.owner,
        owner_location=lib.owner_location,
        status=status,
    )
