"""Which upstream libraries an ELF file holds (see ``depscan.native`` and ``docs/native.md``).

Evidence, strongest first (the classifier table is ``classifiers.CLASSIFIERS``):

- accessor (high): an exported function the library defines that returns a constant, read from its code
  (``WebPGetDecoderVersion`` -> ``0x10301`` = libwebp 1.3.1; ``accessors.py``), or exported data holding one.
  Only accessors the file DEFINES count: each of the table's accessor names is looked up in ``.gnu.hash``
  (its Bloom filter answers most with no) or ``.hash``, read with ``struct`` (no walk of ``.dynsym``).
- banner (medium): a version string the library itself defines (``OpenSSL 1.1.1k  25 Mar 2021``,
  `` inflate 1.2.13 Copyright 1995-``), each found by its literal start (``bytes.find``) in the file's
  allocated, non-executable data sections, then matched by its regex there. Own code only: a banner of a
  library whose API the file imports (undefined dynamic symbols) without defining any of it is that other
  library's header text, and does not count.
- soname (low): the file's real name or SONAME in the library's table (``libwebp.so.7.1.7`` is 1.3.1,
  ``libz.so.1.2.13`` is 1.2.13), for the library the file is named after.
- file-name (low): the library the file is named after (``hint``, auditwheel's renaming undone), no version.

A library found in a file named after another library (zlib inside libfreetype, OpenSSL inside
``_rust.abi3.so``, whose hint is None) is ``embedded``.
"""

from __future__ import annotations

import functools
import re
import struct
from dataclasses import dataclass, field
from typing import NamedTuple

from elftools.common.exceptions import ELFError
from elftools.construct.core import ConstructError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile
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

IDENT_VERSION = "4"
"""Bumped whenever the classifier table or the rules change what ``identify`` answers for the same bytes
(the ELF cataloger's on-disk cache is keyed on it)."""

# what a damaged file raises: pyelftools (ELFParseError is an ELFError; offsets past the end of the data
# surface as ValueError/EOFError from its stream) and struct reads of out-of-range tables
_DAMAGED = (ELFError, ConstructError, ValueError, EOFError, struct.error, IndexError, OverflowError, UnicodeDecodeError)

_MAX_BANNERS = 64  # matches read per file; a library's banners are few, a file of repeated text is not evidence
_MAX_TRIES = 4096  # places a banner's literal start is tried per file (libssl's error texts say "OpenSSL " often)
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
    """The file's section headers, read at once with ``struct``, by position and by name (the first of a
    name). ``damaged``: the headers could not all be read (the data regions are then the whole file)."""

    def __init__(self, elf: ELFFile, data: bytes) -> None:
        self._elf = elf
        self.headers: list[_Header] = []
        self.damaged = False
        self._by_name: dict[str, _Header] = {}
        try:
            self._read(elf, data)
        except _DAMAGED:
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


# Allocated, non-executable sections that hold no string data: unwind tables (.eh_frame is megabytes in C++
# libraries: a third of grpc's cygrpc module's data), pointer tables and relocated pointers (const pointers and
# tables of them live in .data.rel.ro; the strings they point to in .rodata).
_NO_STRINGS = frozenset({
    ".eh_frame", ".eh_frame_hdr", ".gcc_except_table", ".got", ".got.plt", ".init_array", ".fini_array",
    ".preinit_array", ".ctors", ".dtors", ".data.rel.ro", ".tdata",
})  # fmt: skip


def _data_regions(sections: _Sections, data: bytes) -> list[tuple[int, int]]:
    """Where (start, end) the file's allocated, non-executable PROGBITS sections that can hold strings are
    (.rodata, .data and the like, not ``_NO_STRINGS``); the whole file when it has no section headers
    (stripped of them) or some are damaged."""
    if sections.damaged:
        return [(0, len(data))]
    regions = []
    for section in sections.headers:
        flags = section.flags
        if section.type != _SHT_PROGBITS or not flags & SH_FLAGS.SHF_ALLOC or flags & SH_FLAGS.SHF_EXECINSTR:
            continue
        if section.name in _NO_STRINGS:
            continue
        if section.size and section.offset < len(data):
            regions.append((section.offset, min(section.offset + section.size, len(data))))
    return regions or [(0, len(data))]


@dataclass
class _Found:
    """One library's evidence in one file: version -> evidence (in the order found)."""

    classifier: Classifier
    versions: dict[str | None, list[Evidence]] = field(default_factory=dict)

    def add(self, version: str | None, evidence: Evidence) -> None:
        self.versions.setdefault(version, []).append(evidence)


class _Sym(NamedTuple):
    """One dynamic symbol, read with ``struct`` from the raw .dynsym entry."""

    name: bytes
    value: int
    type: int  # STT_*: 1 object, 2 function
    shndx: int  # 0: undefined (imported)


_STT_OBJECT, _STT_FUNC = 1, 2
_SHT_STRTAB, _SHT_HASH, _SHT_DYNAMIC, _SHT_DYNSYM, _SHT_GNU_HASH = 3, 5, 6, 11, 0x6FFFFFF6
_DT_NULL, _DT_SONAME = 0, 14


@functools.lru_cache(maxsize=1024)  # the table's names, asked of every file
def _gnu_hash(name: bytes) -> int:
    h = 5381
    for c in name:
        h = (h * 33 + c) & 0xFFFFFFFF
    return h


@functools.lru_cache(maxsize=1024)
def _sysv_hash(name: bytes) -> int:
    h = 0
    for c in name:
        h = ((h << 4) + c) & 0xFFFFFFFF
        g = h & 0xF0000000
        if g:
            h ^= g >> 24
        h &= ~g & 0xFFFFFFFF
    return h


class _Symbols:
    """The file's dynamic symbols, read with ``struct`` from the raw sections (pyelftools' symbol and hash
    objects cost about a millisecond a file to build, and its SysV lookup follows a hash chain without
    bound): by name through .gnu.hash (its Bloom filter first) or .hash, each walk bounded by its section;
    one pass over .dynsym when there is no hash table."""

    def __init__(self, elf: ELFFile, sections: _Sections, data: bytes) -> None:
        self._data = data
        self._order = "<" if elf.little_endian else ">"
        self._wide = elf.elfclass == 64
        self._entry = struct.Struct(self._order + ("IBBHQQ" if self._wide else "IIIBBH"))
        self._shndx = 3 if self._wide else 5  # st_shndx's place in an entry
        self._table = self._bounds(sections.header(".dynsym"), _SHT_DYNSYM)
        self._strings = self._bounds(sections.header(".dynstr"), _SHT_STRTAB)
        self._gnu = self._bounds(sections.header(".gnu.hash"), _SHT_GNU_HASH)
        self._sysv = self._bounds(sections.header(".hash"), _SHT_HASH)
        self._gnu_params = self._gnu_layout(*self._gnu) if self._gnu is not None else None
        if self._gnu_params is None:
            self._gnu = None  # absent or damaged: the other table, or one walk of .dynsym
        self._sysv_params = self._sysv_layout(*self._sysv) if self._sysv is not None else None
        if self._sysv_params is None:
            self._sysv = None
        self._walked: dict[bytes, _Sym] | None = None

    def _gnu_layout(self, start: int, end: int) -> tuple[int, int, int, int, int] | None:
        """nbuckets, symoffset, bloom_size, bloom_shift, where the chains start; None if they do not fit."""
        if end - start < 16:
            return None
        nbuckets, symoffset, bloom_size, bloom_shift = struct.unpack_from(self._order + "4I", self._data, start)
        chains = start + 16 + bloom_size * (8 if self._wide else 4) + nbuckets * 4
        if not nbuckets or not bloom_size or chains > end:
            return None
        return nbuckets, symoffset, bloom_size, bloom_shift, chains

    def _sysv_layout(self, start: int, end: int) -> tuple[int, int] | None:
        """nbucket, nchain; None if they do not fit."""
        if end - start < 8:
            return None
        nbucket, nchain = struct.unpack_from(self._order + "II", self._data, start)
        return (nbucket, nchain) if nbucket and start + 8 + (nbucket + nchain) * 4 <= end else None

    def _bounds(self, header: _Header | None, kind: int) -> tuple[int, int] | None:
        if header is None or header.type != kind or not header.size:
            return None
        end = header.offset + header.size
        return (header.offset, end) if end <= len(self._data) else None

    def strings(self) -> bytes:
        """b"\\0" + .dynstr (empty without one)."""
        return b"\0" + self._data[self._strings[0] : self._strings[1]] if self._strings else b""

    def _name(self, offset: int) -> bytes:
        if self._strings is None:
            return b""
        start = self._strings[0] + offset
        end = self._data.find(b"\0", start, self._strings[1])
        return self._data[start:end] if end >= 0 else b""

    def _symbol(self, index: int) -> _Sym | None:
        if self._table is None:
            return None
        at = self._table[0] + index * self._entry.size
        if index < 0 or at + self._entry.size > self._table[1]:
            return None
        return self._make(self._entry.unpack_from(self._data, at))

    def _make(self, row: tuple[int, ...]) -> _Sym:
        if self._wide:  # st_name, st_info, st_other, st_shndx, st_value, st_size
            return _Sym(self._name(row[0]), row[4], row[1] & 0xF, row[3])
        return _Sym(self._name(row[0]), row[1], row[3] & 0xF, row[5])  # st_name, st_value, st_size, st_info...

    def defined(self, name: str) -> _Sym | None:
        encoded = name.encode()
        if self._gnu is not None:
            symbol = self._gnu_lookup(encoded, *self._gnu)
        elif self._sysv is not None:
            symbol = self._sysv_lookup(encoded, *self._sysv)
        else:
            symbol = self._walk().get(encoded)
        return symbol if symbol is not None and symbol.shndx != 0 else None

    def _gnu_lookup(self, name: bytes, start: int, end: int) -> _Sym | None:
        if self._gnu_params is None:
            return None
        nbuckets, symoffset, bloom_size, bloom_shift, chains = self._gnu_params
        word = 8 if self._wide else 4
        buckets = chains - nbuckets * 4
        h = _gnu_hash(name)
        bits = word * 8
        bloom_at = start + 16 + (h // bits) % bloom_size * word
        (bloom,) = struct.unpack_from(self._order + ("Q" if self._wide else "I"), self._data, bloom_at)
        mask = (1 << (h % bits)) | (1 << ((h >> bloom_shift) % bits))
        if bloom & mask != mask:
            return None
        (index,) = struct.unpack_from(self._order + "I", self._data, buckets + h % nbuckets * 4)
        if index < symoffset:
            return None
        while True:  # bounded: each step moves 4 bytes along the chain array, which ends with the section
            at = chains + (index - symoffset) * 4
            if at + 4 > end:
                return None
            (chain,) = struct.unpack_from(self._order + "I", self._data, at)
            if chain | 1 == h | 1:
                symbol = self._symbol(index)
                if symbol is not None and symbol.name == name:
                    return symbol
            if chain & 1:
                return None
            index += 1

    def _sysv_lookup(self, name: bytes, start: int, end: int) -> _Sym | None:
        if self._sysv_params is None:
            return None
        nbucket, nchain = self._sysv_params
        chains = start + 8 + nbucket * 4
        (index,) = struct.unpack_from(self._order + "I", self._data, start + 8 + _sysv_hash(name) % nbucket * 4)
        for _ in range(nchain):  # a chain that loops is cut at the table's length
            if index == 0 or index >= nchain:
                return None
            symbol = self._symbol(index)
            if symbol is not None and symbol.name == name:
                return symbol
            (index,) = struct.unpack_from(self._order + "I", self._data, chains + index * 4)
        return None

    def _rows(self) -> list[tuple[int, ...]]:
        if self._table is None:
            return []
        start, end = self._table
        end -= (end - start) % self._entry.size
        return list(self._entry.iter_unpack(self._data[start:end]))

    def _walk(self) -> dict[bytes, _Sym]:
        if self._walked is None:
            self._walked = {}
            for row in self._rows():
                if row[self._shndx] != 0:
                    symbol = self._make(row)
                    self._walked.setdefault(symbol.name, symbol)
        return self._walked

    def imported(self, name: str, strings: bytes) -> bool:
        """Whether ``name`` is an undefined (imported) dynamic symbol, ``strings`` being b"\\0" + .dynstr: the
        offsets where ``name`` ends a string, then the raw .dynsym entries for an undefined one whose name
        starts there (the linker stores a name as the tail of a longer one, with no NUL in front of it)."""
        encoded = name.encode() + b"\0"
        offsets = set()
        at = strings.find(encoded)
        while at > 0:
            offsets.add(at - 1)  # strings has one NUL in front of .dynstr
            at = strings.find(encoded, at + 1)
        return bool(offsets) and any(row[0] in offsets and row[self._shndx] == 0 for row in self._rows())


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

    def version(self, accessor: Accessor, symbol: _Sym) -> tuple[str, str] | None:
        """(version, what was seen) from a defined accessor symbol, or None when its value is not decoded."""
        address = symbol.value
        if accessor.kind in ("int", "str"):
            if self._decode is None or symbol.type != _STT_FUNC:
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
        if symbol.type != _STT_OBJECT:
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


def _banners(data: bytes, regions: list[tuple[int, int]], found: dict[str, _Found]) -> set[str]:
    """Evidence from every banner in the file's data regions; the libraries seen. Each banner's literal start
    is found with ``bytes.find``, its regex tried only there (see ``classifiers.BANNERS``)."""
    seen_libraries: set[str] = set()
    seen = 0
    for start, end in regions:
        for classifier, pattern, anchor in BANNERS:
            at = data.find(anchor, start, end)
            tries = 0
            while at >= 0 and tries < _MAX_TRIES:
                tries += 1
                match = pattern.match(data, at, end)
                at = data.find(anchor, at + 1, end)
                if match is None:
                    continue
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


def _soname(sections: _Sections, symbols: _Symbols, data: bytes, elf: ELFFile) -> str | None:
    """DT_SONAME from the raw .dynamic entries (bounded by the section), or None."""
    dynamic = sections.header(".dynamic")
    strings = symbols.strings()
    if dynamic is None or dynamic.type != _SHT_DYNAMIC or not strings:
        return None
    entry = struct.Struct(("<" if elf.little_endian else ">") + ("qQ" if elf.elfclass == 64 else "iI"))
    end = min(dynamic.offset + dynamic.size, len(data))
    for at in range(dynamic.offset, end - entry.size + 1, entry.size):
        tag, value = entry.unpack_from(data, at)
        if tag == _DT_NULL:
            return None
        if tag == _DT_SONAME and 0 <= value < len(strings) - 1:
            name = strings[value + 1 : strings.find(b"\0", value + 1)]
            return name.decode("utf-8", "replace") or None
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
    symbols = _Symbols(elf, sections, data)
    strings = symbols.strings()
    found: dict[str, _Found] = {}
    defining = _accessors(_Reader(elf, sections, data), symbols, found)
    bannered = _banners(data, _data_regions(sections, data), found)
    # the own-code rule, for banners only: accessors are defined by the file itself, and a file named after a
    # library is that library (libssl imports libcrypto's API and carries the OpenSSL banner of its own)
    candidates = [
        found[name].classifier for name in sorted(bannered - defining) if named is None or name != named.name
    ]
    imports_only = _imports_only(symbols, strings, candidates)
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
        soname = _soname(sections, symbols, data, elf)
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
