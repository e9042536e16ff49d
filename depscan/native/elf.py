"""The ELF structure of a native file (``models.ElfFacts``), parsed with pyelftools from its bytes.

Only what the facts need is read: the dynamic section (``DT_SONAME``, ``DT_NEEDED``, ``DT_RPATH``,
``DT_RUNPATH``), the GNU build-id note, the symbol-version sections (``.gnu.version_d`` /
``.gnu.version_r``), the ``PT_INTERP`` segment, and whether a ``.symtab`` section exists. No
symbol table is walked. pyelftools builds the section and segment objects; the fixed-size tables it
would parse with construct again and again (section and program headers, dynamic entries) are read
with ``struct`` (``Elf``, ``_string_tags``: 0.5 s instead of 3.3 s of CPU for the 351 libraries of the
benchmark Lambda zip), and tests compare every answer with stock pyelftools'.

Hostile input is bounded: a file with more than ``MAX_SECTIONS`` section headers or
``MAX_SEGMENTS`` program headers, or a dynamic section with more than ``MAX_DYNAMIC_TAGS``
entries, is refused with a reason; a corrupt or truncated file (pyelftools raises ``ELFError``,
``struct.error``, ``ValueError``, ``IndexError``, ...) is a reason too, never a crash.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

import elftools
from elftools.common.exceptions import ELFError, ELFParseError
from elftools.common.utils import struct_parse
from elftools.construct import ConstructError
from elftools.construct.lib.container import Container
from elftools.elf.dynamic import DynamicSection, DynamicSegment
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerDefSection, GNUVerNeedSection
from elftools.elf.notes import iter_notes
from elftools.elf.sections import NoteSection, Section
from elftools.elf.segments import InterpSegment, Segment
from elftools.elf.structs import ELFStructs

from depscan.models import ElfFacts

MAX_SECTIONS = 4096  # real libraries have tens; a forged e_shnum can claim 65535
MAX_SEGMENTS = 256
MAX_DYNAMIC_TAGS = 8192  # libraries have tens to a few hundred
MAX_VERSION_ENTRIES = 16384
MAX_NOTES = 256

# What pyelftools (and construct underneath) raise on a malformed file.
PARSE_ERRORS = (ELFError, ConstructError, ValueError, IndexError, KeyError, TypeError, AttributeError, EOFError,
                UnicodeDecodeError, OverflowError, MemoryError, RecursionError, AssertionError)

_GLIBC = re.compile(r"^GLIBC_([0-9]+(?:\.[0-9]+)*)$")


# -- pyelftools, with its fixed-size header tables read by struct -------------------------------------------
#
# pyelftools is the parser of record: every section and segment object, the dynamic tags, notes and
# symbol versions come from it. What it spends most of its time on for this inventory is construct
# parsing the fixed-size tables every lookup starts from: each section header (Elf_Shdr, ten fields, about
# 40 us through construct) and program header (Elf_Phdr) again at every get_section / get_segment, and
# the ELFStructs it builds for every file (about 1 ms). ``Elf`` keeps pyelftools' objects and reads only
# those two tables with ``struct`` (System V ABI layouts, ``Elf32_Shdr`` / ``Elf64_Shdr`` / ``Elf32_Phdr``
# / ``Elf64_Phdr`` in ``elf.h``), decoding sh_type / p_type with pyelftools' own enum mappings, so the
# Containers are equal to pyelftools' (tests/test_native_elf.py compares them on real libraries); each
# header, section and segment is built once per file and shared (identify() reads the same ELFFile); the
# ELFStructs are shared between files of the same class, byte order, type, machine and OS ABI.

# Field names in file order, and the struct layout per (class): elf.h.
_SHDR_FIELDS = ("sh_name", "sh_type", "sh_flags", "sh_addr", "sh_offset", "sh_size", "sh_link", "sh_info",
                "sh_addralign", "sh_entsize")
_SHDR_LAYOUT = {32: "10I", 64: "IIQQQQIIQQ"}
_PHDR_FIELDS = {
    32: ("p_type", "p_offset", "p_vaddr", "p_paddr", "p_filesz", "p_memsz", "p_flags", "p_align"),
    64: ("p_type", "p_flags", "p_offset", "p_vaddr", "p_paddr", "p_filesz", "p_memsz", "p_align"),
}
_PHDR_LAYOUT = {32: "8I", 64: "IIQQQQQQ"}

_STRUCTS: dict[tuple[bool, int, object, object, object], ELFStructs] = {}
# The ELFFile.__init__ this replaces (to share ELFStructs) is pyelftools 0.33's; another version builds its
# own structs (slower, the same answers).
_SHARED_STRUCTS = getattr(elftools, "__version__", "") == "0.33"


def _enum_decoder(table: Any, field: str) -> Any:
    """pyelftools' enum adapter for ``field`` of a construct Struct (its ``_decode`` maps a value to a name)."""
    for subcon in table.subcons:
        if subcon.name == field:
            return subcon
    raise AssertionError(f"pyelftools struct without {field}")  # pragma: no cover - a pyelftools change


class Elf(ELFFile):
    """pyelftools' ``ELFFile`` over a file's bytes, with its header tables read by struct (see above)."""

    # Set once the structs are known; until then (an older pyelftools reads the section header string
    # table inside its own __init__) headers are pyelftools' own.
    _sh_type: Any = None
    _p_type: Any = None

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._shdrs: dict[int, Container] = {}
        self._phdrs: dict[int, Container] = {}
        self._section_objects: dict[int, Section] = {}
        self._segment_objects: dict[int, Segment] = {}
        if not _SHARED_STRUCTS:
            super().__init__(io.BytesIO(data))
        else:
            self._init_shared(io.BytesIO(data))
        order = "<" if self.little_endian else ">"
        self._shdr = struct.Struct(order + _SHDR_LAYOUT[self.elfclass])
        self._phdr = struct.Struct(order + _PHDR_LAYOUT[self.elfclass])
        self._phdr_fields = _PHDR_FIELDS[self.elfclass]
        self._sh_type = _enum_decoder(self.structs.Elf_Shdr, "sh_type")
        self._p_type = _enum_decoder(self.structs.Elf_Phdr, "p_type")

    def _init_shared(self, stream: io.BytesIO) -> None:
        """``ELFFile.__init__`` (pyelftools 0.33) with the ELFStructs of an earlier file of the same kind."""
        self.stream = stream
        self.stream_len = len(self._data)
        self._identify_file()
        key = (self.little_endian, self.elfclass, None, None, None)
        shared = _STRUCTS.get(key)
        if shared is None:
            shared = ELFStructs(little_endian=self.little_endian, elfclass=self.elfclass)
            shared.create_basic_structs()
            _STRUCTS[key] = shared
        self.header = struct_parse(shared.Elf_Ehdr, self.stream, stream_pos=0)
        e_type, e_machine, osabi = self["e_type"], self["e_machine"], self["e_ident"]["EI_OSABI"]
        key = (self.little_endian, self.elfclass, e_type, e_machine, osabi)
        structs = _STRUCTS.get(key)
        if structs is None:
            structs = ELFStructs(little_endian=self.little_endian, elfclass=self.elfclass)
            structs.create_basic_structs()
            structs.create_advanced_structs(e_type, e_machine, osabi)
            if len(_STRUCTS) < 64:  # e_machine and OS ABI come from the file: a bounded memo
                _STRUCTS[key] = structs
        self.structs = structs
        self.e_ident_raw = self._data[:16]
        self.stream.seek(0)
        self.stream_loader = None

    def _section_offset(self, n: int) -> int:
        """pyelftools' own, with the header size from struct (it asks construct for ``Elf_Shdr.sizeof()``,
        about 10 us, at every header)."""
        layout: struct.Struct | None = self.__dict__.get("_shdr")
        if layout is None:
            return int(super()._section_offset(n))
        shentsize: int = self["e_shentsize"]
        if self["e_shoff"] > 0 and shentsize < layout.size:
            raise ELFError(f"Too small e_shentsize: {shentsize}")
        return int(self["e_shoff"]) + n * shentsize

    def _segment_offset(self, n: int) -> int:
        """pyelftools' own, with the header size from struct (see ``_section_offset``)."""
        layout: struct.Struct | None = self.__dict__.get("_phdr")
        if layout is None:
            return int(super()._segment_offset(n))
        phentsize: int = self["e_phentsize"]
        if self["e_phoff"] > 0 and phentsize < layout.size:
            raise ELFError(f"Too small e_phentsize: {phentsize}")
        return int(self["e_phoff"]) + n * phentsize

    def _get_section_header(self, n: int) -> Container:
        found = self._shdrs.get(n)
        if found is not None:
            return found
        if self._sh_type is None:
            return super()._get_section_header(n)
        at = self._section_offset(n)
        if at > self.stream_len:
            raise ELFParseError(f"Reading section {n} at offset {at} past EOF {self.stream_len}")
        if at < 0 or at + self._shdr.size > len(self._data):
            raise ELFParseError(f"section header {n} at offset {at} runs past the end of the file")
        values = dict(zip(_SHDR_FIELDS, self._shdr.unpack_from(self._data, at), strict=True))
        values["sh_type"] = self._sh_type._decode(values["sh_type"], None)
        header = Container(**values)
        self._shdrs[n] = header
        return header

    def _get_segment_header(self, n: int) -> Container:
        found = self._phdrs.get(n)
        if found is not None:
            return found
        if self._p_type is None:
            return super()._get_segment_header(n)
        at = self._segment_offset(n)
        if at < 0 or at + self._phdr.size > len(self._data):
            raise ELFParseError(f"program header {n} at offset {at} runs past the end of the file")
        values = dict(zip(self._phdr_fields, self._phdr.unpack_from(self._data, at), strict=True))
        values["p_type"] = self._p_type._decode(values["p_type"], None)
        header = Container(**values)
        self._phdrs[n] = header
        return header

    def get_section(self, n: int, type: Any = None) -> Section:
        section = self._section_objects.get(n)
        if section is None:
            section = super().get_section(n)
            self._section_objects[n] = section
        if type and section["sh_type"] not in type:
            raise ELFError(f"Unexpected section type {section['sh_type']}, expected {type}")
        return section

    def get_segment(self, n: int) -> Segment:
        segment = self._segment_objects.get(n)
        if segment is None:
            segment = super().get_segment(n)
            self._segment_objects[n] = segment
        return segment

    def section_header(self, n: int) -> Container:
        """Section header ``n`` (a pyelftools Container), without building the section object."""
        return self._get_section_header(n)

    def segment_header(self, n: int) -> Container:
        """Program header ``n`` (a pyelftools Container), without building the segment object."""
        return self._get_segment_header(n)


class ElfParseError(Exception):
    """The file is not a well-formed ELF file (or exceeds a bound); the message says why."""


def glibc_key(version: str) -> tuple[int, ...]:
    """``"2.17"`` -> ``(2, 17)``: glibc versions compare numerically, part by part."""
    return tuple(int(part) for part in version.split("."))


def min_glibc(version_needs: tuple[tuple[str, tuple[str, ...]], ...]) -> str | None:
    """The highest ``GLIBC_x.y[.z]`` version needed (of any file), without the prefix; None without one."""
    best: str | None = None
    for _file, names in version_needs:
        for name in names:
            m = _GLIBC.match(name)
            if m is not None and (best is None or glibc_key(m[1]) > glibc_key(best)):
                best = m[1]
    return best


_T = TypeVar("_T")


def _bounded(items: Iterable[_T], limit: int, what: str) -> Iterator[_T]:
    for count, item in enumerate(items, 1):
        if count > limit:
            raise ElfParseError(f"more than {limit} {what}")
        yield item


def _split_path(value: str) -> tuple[str, ...]:
    return tuple(part for part in value.split(":") if part)


def parse(data: bytes, sha256: str | None = None) -> tuple[ELFFile, ElfFacts]:
    """The parsed file and its facts (``sha256``: the bytes' hash when the caller has it already).
    Raises ``ElfParseError`` naming the problem."""
    try:
        return _parse(data, sha256)
    except ElfParseError:
        raise
    except PARSE_ERRORS as e:
        raise ElfParseError(f"corrupt ELF file ({type(e).__name__}: {e})") from None
    except Exception as e:  # struct.error and whatever else a malformed file provokes in pyelftools
        raise ElfParseError(f"corrupt ELF file ({type(e).__name__}: {e})") from None


def _parse(data: bytes, sha256: str | None) -> tuple[ELFFile, ElfFacts]:
    elf = Elf(data)
    sections = elf.num_sections()
    if sections > MAX_SECTIONS:
        raise ElfParseError(f"{sections} section headers (more than {MAX_SECTIONS})")
    segments = elf.num_segments()
    if segments > MAX_SEGMENTS:
        raise ElfParseError(f"{segments} program headers (more than {MAX_SEGMENTS})")

    # The section headers say which sections matter; only those become pyelftools section objects.
    dynamic: DynamicSection | DynamicSegment | None = None
    build_id: str | None = None
    definitions: list[str] = []
    needs: list[tuple[str, tuple[str, ...]]] = []
    symtab = False
    for index in range(sections):
        kind = elf.section_header(index)["sh_type"]
        if kind == "SHT_SYMTAB":
            symtab = True
        elif kind not in _WANTED_SECTIONS:
            continue
        section = elf.get_section(index)
        if isinstance(section, DynamicSection):
            dynamic = dynamic or section
        elif isinstance(section, NoteSection) and build_id is None:
            for note in _bounded(section.iter_notes(), MAX_NOTES, "notes in a section"):
                if note["n_type"] == "NT_GNU_BUILD_ID":
                    build_id = str(note["n_desc"])
                    break
        elif isinstance(section, GNUVerDefSection):
            verdefs: Iterable[tuple[Any, Iterable[Any]]] = section.iter_versions()
            for verdef, auxiliaries in _bounded(verdefs, MAX_VERSION_ENTRIES, "version definitions"):
                if verdef["vd_flags"] & 1:  # VER_FLG_BASE: the file's own name, not a version
                    continue
                for aux in auxiliaries:
                    definitions.append(str(aux.name))
                    break  # the first auxiliary names the version; later ones its parents
        elif isinstance(section, GNUVerNeedSection):
            verneeds: Iterable[tuple[Any, Iterable[Any]]] = section.iter_versions()
            for verneed, auxiliaries in _bounded(verneeds, MAX_VERSION_ENTRIES, "version needs"):
                names = tuple(str(aux.name) for aux in _bounded(auxiliaries, MAX_VERSION_ENTRIES, "version needs"))
                needs.append((str(verneed.name), names))

    interpreter: str | None = None
    for index in range(segments):
        kind = elf.segment_header(index)["p_type"]
        if kind == "PT_DYNAMIC" and dynamic is None:  # no section headers: the PT_DYNAMIC segment
            segment = elf.get_segment(index)
            if isinstance(segment, DynamicSegment):
                dynamic = segment
        elif kind == "PT_INTERP" and interpreter is None:
            segment = elf.get_segment(index)
            if isinstance(segment, InterpSegment):
                interpreter = segment.get_interp_name()
        elif kind == "PT_NOTE" and build_id is None and sections == 0:
            header = elf.segment_header(index)
            notes = iter_notes(elf, header["p_offset"], header["p_filesz"])
            for note in _bounded(notes, MAX_NOTES, "notes in a segment"):
                if note["n_type"] == "NT_GNU_BUILD_ID":
                    build_id = str(note["n_desc"])
                    break

    soname: str | None = None
    needed: list[str] = []
    rpath: list[str] = []
    runpath: list[str] = []
    if dynamic is not None:
        for tag, value in _string_tags(elf, dynamic, data):
            if tag == DT_SONAME:
                soname = value
            elif tag == DT_NEEDED:
                needed.append(value)
            elif tag == DT_RPATH:
                rpath.extend(_split_path(value))
            elif tag == DT_RUNPATH:
                runpath.extend(_split_path(value))

    version_needs = tuple(needs)
    facts = ElfFacts(
        sha256=sha256 or hashlib.sha256(data).hexdigest(),
        soname=soname,
        needed=tuple(needed),
        rpath=tuple(rpath),
        runpath=tuple(runpath),
        build_id=build_id,
        version_definitions=tuple(definitions),
        version_needs=version_needs,
        min_glibc=min_glibc(version_needs),
        stripped=not symtab,
        interpreter=interpreter,
    )
    return elf, facts


# d_tag values (elf.h) of the entries whose value is an offset in the dynamic string table.
DT_NULL, DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH = 0, 1, 14, 15, 29
_STRING_TAGS = frozenset({DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH})


def _string_tags(elf: Elf, dynamic: DynamicSection | DynamicSegment, data: bytes) -> Iterator[tuple[int, str]]:
    """(d_tag, string) of the dynamic entries that name strings, up to DT_NULL or the table's end.

    The entries (``Elf32_Dyn`` / ``Elf64_Dyn``: a signed tag and a word) are read with struct, not one
    construct parse and one ``DynamicTag`` per entry (which checks its string table against a runtime
    Protocol each time: half the cost of a file); the strings come from pyelftools' string table for
    the dynamic section (``sh_link``; for a file without section headers, found through DT_STRTAB)."""
    if isinstance(dynamic, DynamicSection):
        if dynamic["sh_type"] == "SHT_NOBITS":
            return
        start, size = dynamic["sh_offset"], dynamic["sh_size"]
    else:
        start, size = dynamic["p_offset"], dynamic["p_filesz"]
    entry = struct.Struct(("<" if elf.little_endian else ">") + ("qQ" if elf.elfclass == 64 else "iI"))
    end = min(start + size, len(data))
    strings = None
    for count, at in enumerate(range(start, end - entry.size + 1, entry.size)):
        if count >= MAX_DYNAMIC_TAGS:
            raise ElfParseError(f"more than {MAX_DYNAMIC_TAGS} dynamic entries")
        tag, value = entry.unpack_from(data, at)
        if tag == DT_NULL:
            return
        if tag in _STRING_TAGS:
            if strings is None:
                strings = dynamic._get_stringtable()  # pyelftools' own lookup (DynamicTag uses it too)
            yield tag, strings.get_string(value)


_WANTED_SECTIONS = frozenset({"SHT_DYNAMIC", "SHT_NOTE", "SHT_GNU_verdef", "SHT_GNU_verneed"})
