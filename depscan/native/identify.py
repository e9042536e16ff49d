"""Which upstream libraries an ELF file holds (see ``depscan.native`` and ``docs/native.md``).

Evidence, strongest first (the classifier table is ``classifiers.CLASSIFIERS``):

- accessor (high): an exported function the library defines that returns a constant, read from its code
  (``WebPGetDecoderVersion`` -> ``0x10301`` = libwebp 1.3.1; ``accessors.py``), or exported data holding one.
  Only accessors the file DEFINES count; ONE regex over ``.dynstr`` says which of the table's accessor names
  the file mentions, and each is then looked up by name in ``.gnu.hash``/``.hash`` (no walk of ``.dynsym``).
- banner (medium): a version string the library itself defines (``OpenSSL 1.1.1k  25 Mar 2021``,
  `` inflate 1.2.13 Copyright 1995-``), found by ONE compiled regex over the file's allocated, non-executable
  data sections. Own code only: a banner of a library whose API the file imports (undefined dynamic symbols)
  without defining any of it is that other library's header text, and does not count.
- soname (low): the file's real name or SONAME in the library's table (``libwebp.so.7.1.7`` is 1.3.1,
  ``libz.so.1.2.13`` is 1.2.13), for the library the file is named after.
- file-name (low): the library the file is named after (``hint``, auditwheel's renaming undone), no version.

A library found in a file named after another library (zlib inside libfreetype, OpenSSL inside
``_rust.abi3.so``, whose hint is None) is ``embedded``.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from typing import NamedTuple

from elftools.common.exceptions import ELFError
from elftools.construct.core import ConstructError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.hash import ELFHashSection, GNUHashSection
from elftools.elf.sections import Section, StringTableSection, Symbol, SymbolTableSection
from packageurl import PackageURL

from depscan.models import Confidence, Evidence
from depscan.native import Identification
from depscan.native.accessors import DECODERS, MAX_CODE, AddressMap, read_string, relocated_pointer
from depscan.native.classifiers import (
    ACCESSORS,
    BANNERS,
    Accessor,
    Classifier,
    classifier_for,
)

IDENT_VERSION = "3"
"""Bumped whenever the classifier table or the rules change what ``identify`` answers for the same bytes
(the ELF cataloger's on-disk cache is keyed on it)."""

# what pyelftools raises on a damaged table (ELFParseError is an ELFError); struct offsets past the end
# of the data surface as ValueError/EOFError from the stream
_DAMAGED = (ELFError, ConstructError, ValueError, EOFError)

_MAX_BANNERS = 64  # matches read per file; a library's banners are few, a file of repeated text is not evidence
_MAX_ACCESSORS = 16  # accessor names looked up per file
_RANK: dict[Confidence, int] = {"high": 0, "medium": 1, "low": 2}
_AUDITWHEEL_HASH = re.compile(r"-[0-9a-f]{8}(?=[.-])")


class _Header(NamedTuple):
    """One section header, as read with ``struct`` (pyelftools' construct costs ~50 us a header)."""

    number: int  # the section's index
    name: str
    type: int  # SHT_*
    flags: int
    addr: int
    offset: int
    size: int


_SHT_PROGBITS, _SHT_RELA, _SHT_NOBITS = 1, 4, 8
_SHDR = {  # (ELFCLASS, little-endian) -> sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size (+ the rest)
    (64, True): struct.Struct("<IIQQQQIIQQ"),
    (64, False): struct.Struct(">IIQQQQIIQQ"),
    (32, True): struct.Struct("<IIIIIIIIII"),
    (32, False): struct.Struct(">IIIIIIIIII"),
}


class _Sections:
    """The file's section headers (read at once with ``struct``), and pyelftools' section objects by name,
    made only for the few sections identification reads (.gnu.hash/.hash, .dynsym, .dynstr, .dynamic).

    ``damaged``: the headers could not all be read (the data regions are then the whole file). A section
    whose pyelftools object cannot be made is absent (a damaged .gnu.hash: the symbols are walked)."""

    def __init__(self, elf: ELFFile, data: bytes) -> None:
        self._elf = elf
        self.headers: list[_Header] = []
        self.damaged = False
        self._by_name: dict[str, _Header] = {}
        self._made: dict[str, Section | None] = {}
        try:
            self._read(elf, data)
        except (*_DAMAGED, struct.error, UnicodeDecodeError, IndexError):
            self.headers, self._by_name, self.damaged = [], {}, True

    def _read(self, elf: ELFFile, data: bytes) -> None:
        count, offset = elf.num_sections(), elf["e_shoff"]
        if not count or not offset:
            return
        layout = _SHDR[(elf.elfclass, elf.little_endian)]
        size = elf["e_shentsize"] or layout.size
        if size < layout.size or offset + count * size > len(data):
            self.damaged = True
            return
        rows = [layout.unpack_from(data, offset + i * size) for i in range(count)]
        names = rows[elf["e_shstrndx"]] if elf["e_shstrndx"] < count else None
        for index, row in enumerate(rows):
            name = ""
            if names is not None and row[0] < names[5]:
                start = names[4] + row[0]
                end = data.find(b"\0", start, names[4] + names[5])
                name = data[start : end if end >= 0 else start].decode("utf-8", "replace")
            header = _Header(index, name, row[1], row[2], row[3], row[4], row[5])
            self.headers.append(header)
            self._by_name.setdefault(name, header)

    def header(self, name: str) -> _Header | None:
        return self._by_name.get(name)

    def get(self, name: str) -> Section | None:
        if name not in self._made:
            header = self._by_name.get(name)
            try:
                self._made[name] = self._elf.get_section(header.number) if header is not None else None
            except _DAMAGED:
                self._made[name] = None
        return self._made[name]


# Allocated, non-executable sections that hold no string data: unwind tables (.eh_frame is megabytes in C++
# libraries: a third of grpc's cygrpc module's data), pointer tables and relocated pointers (const pointers and
# tables of them live in .data.rel.ro; the strings they point to in .rodata).
_NO_STRINGS = frozenset({
    ".eh_frame", ".eh_frame_hdr", ".gcc_except_table", ".got", ".got.plt", ".init_array", ".fini_array",
    ".preinit_array", ".ctors", ".dtors", ".data.rel.ro", ".tdata",
})  # fmt: skip


def _data_regions(sections: _Sections, data: bytes) -> list[memoryview]:
    """The file's allocated, non-executable PROGBITS sections that can hold strings (.rodata, .data and the
    like, not ``_NO_STRINGS``); the whole file when it has no section headers (stripped of them) or some are
    damaged."""
    view = memoryview(data)
    if sections.damaged:
        return [view]
    regions = []
    for section in sections.headers:
        flags = section.flags
        if section.type != _SHT_PROGBITS or not flags & SH_FLAGS.SHF_ALLOC or flags & SH_FLAGS.SHF_EXECINSTR:
            continue
        if section.name in _NO_STRINGS:
            continue
        if section.size and section.offset < len(data):
            regions.append(view[section.offset : section.offset + section.size])
    return regions or [view]


@dataclass
class _Found:
    """One library's evidence in one file: version -> evidence (in the order found)."""

    classifier: Classifier
    versions: dict[str | None, list[Evidence]] = field(default_factory=dict)

    def add(self, version: str | None, evidence: Evidence) -> None:
        self.versions.setdefault(version, []).append(evidence)


class _Symbols:
    """Dynamic symbols by name: the hash table when there is one, else one walk of .dynsym."""

    def __init__(self, sections: _Sections) -> None:
        table = sections.get(".gnu.hash") or sections.get(".hash")
        self._table = table if isinstance(table, GNUHashSection | ELFHashSection) else None
        dynsym = sections.get(".dynsym")
        self._dynsym = dynsym if isinstance(dynsym, SymbolTableSection) else None
        self._walked: dict[str, Symbol] | None = None

    def defined(self, name: str) -> Symbol | None:
        symbol = None
        if self._table is not None:
            try:
                symbol = self._table.get_symbol(name)
            except _DAMAGED:
                self._table = None  # a damaged hash table: walk the symbols instead
        if self._table is None:
            symbol = self._walk().get(name)
        if symbol is None or symbol["st_shndx"] == "SHN_UNDEF":
            return None
        return symbol

    def imported(self, name: str, strings: bytes) -> bool:
        """Whether ``name`` is an undefined (imported) dynamic symbol, ``strings`` being b"\\0" + .dynstr: the
        offsets where ``name`` ends a string, then the raw .dynsym entries (``struct``, no pyelftools symbol
        objects: libscipy_openblas has 10,000 of them) for an undefined one whose name starts there."""
        if self._dynsym is None:
            return False
        encoded = name.encode() + b"\0"
        offsets = set()
        at = strings.find(encoded)
        while at > 0:
            offsets.add(at - 1)  # strings has one NUL in front of .dynstr
            at = strings.find(encoded, at + 1)
        if not offsets:
            return False
        wide = self._dynsym.elffile.elfclass == 64
        layout = struct.Struct(("<" if self._dynsym.elffile.little_endian else ">") + ("IBBHQQ" if wide else "IIIBBH"))
        table = self._dynsym.data()
        for entry in layout.iter_unpack(table[: len(table) // layout.size * layout.size]):
            st_name, st_shndx = entry[0], entry[3] if wide else entry[5]
            if st_name in offsets and st_shndx == 0:  # SHN_UNDEF
                return True
        return False

    def _walk(self) -> dict[str, Symbol]:
        if self._walked is None:
            self._walked = {}
            if self._dynsym is not None:
                for symbol in self._dynsym.iter_symbols():
                    if symbol["st_shndx"] != "SHN_UNDEF":
                        self._walked.setdefault(symbol.name, symbol)
        return self._walked


def _dynstr(sections: _Sections) -> bytes:
    dynstr = sections.get(".dynstr")
    if not isinstance(dynstr, StringTableSection):
        return b""
    try:
        return b"\0" + dynstr.data()
    except _DAMAGED:
        return b""


def _address_map(elf: ELFFile, sections: _Sections, size: int) -> AddressMap:
    ranges: list[tuple[int, int, int]] = []
    if not sections.damaged:
        for section in sections.headers:
            if section.flags & SH_FLAGS.SHF_ALLOC and section.type != _SHT_NOBITS and section.size:
                ranges.append((section.addr, section.size, section.offset))
    if not ranges:
        for segment in elf.iter_segments():
            if segment["p_type"] == "PT_LOAD":
                ranges.append((segment["p_vaddr"], segment["p_filesz"], segment["p_offset"]))
    return AddressMap(ranges, size)


class _Reader:
    """Reads what accessors return from one file's bytes (the address map built on first use)."""

    def __init__(self, elf: ELFFile, sections: _Sections, data: bytes) -> None:
        self._elf, self._sections, self._data = elf, sections, data
        self._map: AddressMap | None = None
        self._decode = DECODERS.get(elf["e_machine"])

    @property
    def addresses(self) -> AddressMap:
        if self._map is None:
            self._map = _address_map(self._elf, self._sections, len(self._data))
        return self._map

    def version(self, accessor: Accessor, symbol: Symbol) -> tuple[str, str] | None:
        """(version, what was seen) from a defined accessor symbol, or None when its value is not decoded."""
        address = symbol["st_value"]
        if accessor.kind in ("int", "str"):
            if self._decode is None or symbol["st_info"]["type"] != "STT_FUNC":
                return None
            start = self.addresses.offset(address)
            if start is None:
                return None
            returned = self._decode(self._data[start : start + MAX_CODE], address)
            if returned is None or returned.is_address != (accessor.kind == "str"):
                return None
            if accessor.kind == "int":
                return self._from_int(accessor, returned.value, f"{accessor.symbol}() returns {returned.value:#x}")
            return self._from_string(accessor, returned.value, f"{accessor.symbol}() returns")
        if symbol["st_info"]["type"] != "STT_OBJECT":
            return None
        width = 4 if accessor.kind == "data-int" else self._elf.elfclass // 8
        start = self.addresses.offset(address, width)
        if start is None:
            return None
        value = int.from_bytes(self._data[start : start + width], "little" if self._elf.little_endian else "big")
        if accessor.kind == "data-int":
            return self._from_int(accessor, value, f"{accessor.symbol} = {value}")
        if not value or self.addresses.offset(value) is None:
            value = self._relocated(address) or 0
        return self._from_string(accessor, value, f"{accessor.symbol} points to")

    def _relocated(self, address: int) -> int | None:
        rela = self._sections.header(".rela.dyn")
        if rela is None or self._elf.elfclass != 64 or rela.type != _SHT_RELA:
            return None
        return relocated_pointer(self._data[rela.offset : rela.offset + rela.size], address, self._elf.little_endian)

    @staticmethod
    def _from_int(accessor: Accessor, value: int, seen: str) -> tuple[str, str] | None:
        version = accessor.decode(value) if accessor.decode is not None else None
        return (version, seen) if version is not None else None

    def _from_string(self, accessor: Accessor, address: int, seen: str) -> tuple[str, str] | None:
        text = read_string(self._data, self.addresses, address)
        if text is None or accessor.pattern is None:
            return None
        match = re.match(accessor.pattern, text)
        if match is None:
            return None
        version = match.group(1).decode("ascii", "replace")
        if accessor.decode is not None:
            version = accessor.decode(int(version)) or ""
        shown = text[:80].decode("ascii", "replace").replace("\n", "\\n")
        return (version, f'{seen} "{shown}"') if version else None


def _accessors(reader: _Reader, symbols: _Symbols, found: dict[str, _Found]) -> set[str]:
    """Evidence from the accessors the file defines; the libraries that define one (their own code). Each of
    the table's accessor names is looked up in the hash table (its Bloom filter answers most with no)."""
    defining: set[str] = set()
    for name, (classifier, accessor) in ACCESSORS.items():
        try:
            symbol = symbols.defined(name)
            if symbol is None:
                continue
            defining.add(classifier.name)
            answer = reader.version(accessor, symbol)
        except _DAMAGED:
            continue
        if answer is not None:
            version, seen = answer
            found.setdefault(classifier.name, _Found(classifier)).add(version, Evidence("accessor", "high", seen))
    return defining


def _banners(regions: list[memoryview], found: dict[str, _Found]) -> set[str]:
    """Evidence from every banner in the file's data; the libraries seen. Each banner is its own compiled
    regex starting with a literal, which ``re`` finds with a fast substring search; one alternation of them
    all is about 3x slower (``re`` then tests every byte that can start any of them: docs/native.md)."""
    seen_libraries: set[str] = set()
    seen = 0
    for region in regions:
        for classifier, pattern in BANNERS:
            for match in pattern.finditer(region):
                version = match.group(1).decode("ascii")
                text = match.group(0).decode("ascii", "replace").strip("\x00 ").replace("\n", "\\n")
                entry = found.setdefault(classifier.name, _Found(classifier))
                if not any(e.method == "banner" for e in entry.versions.get(version, ())):
                    entry.add(version, Evidence("banner", "medium", f'string "{text}"'))
                seen_libraries.add(classifier.name)
                seen += 1
                if seen >= _MAX_BANNERS:
                    return seen_libraries
    return seen_libraries


def _imports_only(symbols: _Symbols, strings: bytes, candidates: list[Classifier]) -> set[str]:
    """The candidates whose API the file imports (undefined dynamic symbols) and does not define.

    Defined symbols are looked up by name in the .gnu.hash/.hash table (no walk of .dynsym, which holds
    thousands of symbols in libcrypto); a name that is not defined but is in .dynstr is imported. The linker
    merges a name into the tail of a longer one (``xsltLibxsltVersion`` inside ``exsltLibxsltVersion``), so a
    name found only as such a tail is confirmed by the symbols themselves."""
    result = set()
    for classifier in candidates:
        defines = imports = False
        for name in classifier.symbols:
            if symbols.defined(name) is not None:
                defines = True
                break
            encoded = name.encode() + b"\0"
            if not imports and encoded in strings:
                imports = b"\0" + encoded in strings or symbols.imported(name, strings)
        if imports and not defines:
            result.add(classifier.name)
    return result


def _imports_only_by_walk(sections: _Sections, candidates: list[Classifier]) -> set[str]:
    wanted = {symbol: c.name for c in candidates for symbol in c.symbols}
    defined: set[str] = set()
    imported: set[str] = set()
    dynsym = sections.get(".dynsym")
    if not isinstance(dynsym, SymbolTableSection):
        return set()
    for symbol in dynsym.iter_symbols():
        library = wanted.get(symbol.name)
        if library is not None:
            (imported if symbol["st_shndx"] == "SHN_UNDEF" else defined).add(library)
    return imported - defined


def _soname(sections: _Sections) -> str | None:
    dynamic = sections.get(".dynamic")
    if not isinstance(dynamic, DynamicSection):
        return None
    try:
        for tag in dynamic.iter_tags():
            if tag.entry.d_tag == "DT_SONAME":
                return str(getattr(tag, "soname", "")) or None
            if tag.entry.d_tag == "DT_NULL":
                break
    except _DAMAGED:
        return None
    return None


def _by_real_name(classifier: Classifier, names: list[tuple[str, str]]) -> tuple[str, str] | None:
    """(version, what was seen) from the library's table of real names / SONAMEs ((label, name) pairs), or
    None. auditwheel's hash is left out of the name (``libwebp-8b6d8948.so.7.1.7`` is ``libwebp.so.7.1.7``)."""
    for label, name in names:
        plain = _AUDITWHEEL_HASH.sub("", name)
        for pattern, template in classifier.sonames:
            match = re.fullmatch(pattern, plain)
            if match is not None:
                return match.expand(template), f"{label} {name}"
    return None


def _identification(
    library: str, classifier: Classifier | None, version: str | None, evidence: list[Evidence], embedded: bool
) -> Identification:
    purl = PackageURL(type="generic", name=library, version=version).to_string()
    cpe = classifier.cpe(version) if classifier else None
    ordered = tuple(sorted(evidence, key=lambda e: _RANK[e.confidence]))
    return Identification(library, version, purl, cpe, ordered, embedded)


def _strongest(evidence: list[Evidence]) -> int:
    return min(_RANK[e.confidence] for e in evidence)


def identify(elf: ELFFile, data: bytes, hint: str | None, file_name: str | None = None) -> list[Identification]:
    """The upstream libraries in the ELF file ``elf`` (parsed from ``data``), strongest evidence first: the
    library the file is named after first, then the libraries embedded in it by name. ``file_name`` (the
    file's base name, optional) lets the SONAME tables read the real name (``libwebp-8b6d8948.so.7.1.7``)."""
    named = classifier_for(hint)
    sections = _Sections(elf, data)
    strings = _dynstr(sections)
    found: dict[str, _Found] = {}
    symbols = _Symbols(sections)
    defining = _accessors(_Reader(elf, sections, data), symbols, found)
    bannered = _banners(_data_regions(sections, data), found)
    # the own-code rule, for banners only: accessors are defined by the file itself, and a file named after a
    # library is that library (libssl imports libcrypto's API and carries the OpenSSL banner of its own)
    candidates = [
        found[name].classifier for name in sorted(bannered - defining) if named is None or name != named.name
    ]
    try:
        imports_only = _imports_only(symbols, strings, candidates)
    except _DAMAGED:
        try:  # a damaged hash table: the symbols one by one
            imports_only = _imports_only_by_walk(sections, candidates)
        except _DAMAGED:
            imports_only = set()  # damaged dynamic symbols: the banners stand (the cataloger reports the damage)
    for library in imports_only:
        entry = found[library]
        for version in list(entry.versions):
            entry.versions[version] = [e for e in entry.versions[version] if e.method != "banner"]
            if not entry.versions[version]:
                del entry.versions[version]
        if not entry.versions:
            del found[library]

    by_name = Evidence("file-name", "low", f"file named {hint}") if hint else None
    if named is not None and named.sonames:
        soname = _soname(sections)
        names = [("file", file_name)] if file_name else []
        table = _by_real_name(named, names + ([("SONAME", soname)] if soname else []))
        if table is not None:
            version, seen = table
            entry = found.setdefault(named.name, _Found(named))
            if version in entry.versions or not entry.versions:
                entry.add(version, Evidence("soname", "low", f"{seen} (release {version})"))
            else:  # stronger evidence says otherwise: kept, marked, on the strongest version
                best = min(entry.versions, key=lambda v: _strongest(entry.versions[v]))
                entry.add(best, Evidence("soname", "low", f"{seen} says release {version} (disagrees)"))

    results: list[Identification] = []
    order = sorted(found, key=lambda name: (named is None or name != named.name, name))
    for library in order:
        entry = found[library]
        embedded = named is None or library != named.name
        for version in sorted(entry.versions, key=lambda v: _strongest(entry.versions[v])):
            evidence = list(entry.versions[version])
            if not embedded and by_name is not None:
                evidence.append(by_name)
            results.append(_identification(library, entry.classifier, version, evidence, embedded))
    if by_name is not None and (named is None or named.name not in found):
        library = named.name if named else str(hint)
        results.insert(0, _identification(library, named, None, [by_name], False))
    return results
