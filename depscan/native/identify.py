"""Which upstream libraries an ELF file holds (see ``depscan.native`` and ``docs/native.md``).

Evidence, strongest first (the classifier table is ``classifiers.CLASSIFIERS``):

- banner (medium): a version string the library itself defines (``OpenSSL 1.1.1k  25 Mar 2021``,
  `` inflate 1.2.13 Copyright 1995-``), found by ONE compiled regex over the file's allocated, non-executable
  data sections. Own code only: a banner of a library whose API the file imports (undefined dynamic symbols)
  without defining any of it is that other library's header text, and does not count.
- file-name (low): the library the file is named after (``hint``, auditwheel's renaming undone), no version.

A library found by banner in a file named after another library (zlib inside libfreetype, OpenSSL inside
``_rust.abi3.so``, whose hint is None) is ``embedded``. Exported accessors come later.
"""

from __future__ import annotations

from elftools.common.exceptions import ELFError
from elftools.construct.core import ConstructError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile
from elftools.elf.hash import ELFHashSection, GNUHashSection
from elftools.elf.sections import Section, StringTableSection, SymbolTableSection
from packageurl import PackageURL

from depscan.models import Evidence
from depscan.native import Identification
from depscan.native.classifiers import BANNER_OWNER, BANNERS, BY_HINT, Classifier

# what pyelftools raises on a damaged table (ELFParseError is an ELFError); struct offsets past the end
# of the data surface as ValueError/EOFError from the stream
_DAMAGED = (ELFError, ConstructError, ValueError, EOFError)

IDENT_VERSION = "1"  # bump with any change to what identify() answers (code or table): the native cache keys on it

_MAX_BANNERS = 64  # matches read per file; a library's banners are few, a file of repeated text is not evidence


def _sections(elf: ELFFile) -> tuple[dict[str, Section], bool]:
    """The file's sections by name (the first of a name), and whether some could not be read. pyelftools
    builds its own name map from every section at once, so one damaged section (a .gnu.hash whose counts
    run past the end) would hide all the others: each is read on its own here."""
    sections: dict[str, Section] = {}
    damaged = False
    try:
        count = elf.num_sections()
    except _DAMAGED:
        return sections, True
    for index in range(count):
        try:
            section = elf.get_section(index)
            sections.setdefault(section.name, section)
        except _DAMAGED:
            damaged = True
    return sections, damaged


def _data_regions(sections: dict[str, Section], damaged: bool, data: bytes) -> list[memoryview]:
    """The file's allocated, non-executable PROGBITS sections (.rodata, .data.rel.ro, .data); the whole file
    when it has no section headers (stripped of them) or some are damaged."""
    view = memoryview(data)
    if damaged:
        return [view]
    regions = []
    for section in sections.values():
        flags = section["sh_flags"]
        if section["sh_type"] != "SHT_PROGBITS" or not flags & SH_FLAGS.SHF_ALLOC or flags & SH_FLAGS.SHF_EXECINSTR:
            continue
        start, size = section["sh_offset"], section["sh_size"]
        if size and start < len(data):
            regions.append(view[start : start + size])
    return regions or [view]


def _banners(regions: list[memoryview]) -> dict[str, tuple[Classifier, dict[str, str]]]:
    """library -> (classifier, {version: the text seen}) for every banner in the file's data."""
    found: dict[str, tuple[Classifier, dict[str, str]]] = {}
    seen = 0
    for region in regions:
        for match in BANNERS.finditer(region):
            group = match.lastgroup
            if group is None:
                continue
            classifier = BANNER_OWNER[int(group[1:])]
            version = match.group(group).decode("ascii")
            text = match.group(0).decode("ascii", "replace").strip().replace("\n", "\\n")
            found.setdefault(classifier.name, (classifier, {}))[1].setdefault(version, text)
            seen += 1
            if seen >= _MAX_BANNERS:
                return found
    return found


def _imports_only(sections: dict[str, Section], candidates: list[Classifier]) -> set[str]:
    """The candidates whose API the file imports (undefined dynamic symbols) and does not define.

    Defined symbols are looked up by name in the .gnu.hash/.hash table (no walk of .dynsym, which holds
    thousands of symbols in libcrypto); a name that is not defined but is in .dynstr is imported."""
    if not candidates:
        return set()
    table = sections.get(".gnu.hash") or sections.get(".hash")
    dynstr = sections.get(".dynstr")
    if not isinstance(table, GNUHashSection | ELFHashSection) or not isinstance(dynstr, StringTableSection):
        return _imports_only_by_walk(sections, candidates)
    strings = b"\0" + dynstr.data()
    result = set()
    for classifier in candidates:
        defines = imports = False
        for name in classifier.symbols:
            symbol = table.get_symbol(name)
            if symbol is not None and symbol["st_shndx"] != "SHN_UNDEF":
                defines = True
                break
            imports = imports or b"\0" + name.encode() + b"\0" in strings
        if imports and not defines:
            result.add(classifier.name)
    return result


def _imports_only_by_walk(sections: dict[str, Section], candidates: list[Classifier]) -> set[str]:
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


def _identification(
    library: str, classifier: Classifier | None, version: str | None, evidence: tuple[Evidence, ...], embedded: bool
) -> Identification:
    purl = PackageURL(type="generic", name=library, version=version).to_string()
    cpe = classifier.cpe(version) if classifier else None
    return Identification(library, version, purl, cpe, evidence, embedded)


def identify(elf: ELFFile, data: bytes, hint: str | None) -> list[Identification]:
    """The upstream libraries in the ELF file ``elf`` (parsed from ``data``), strongest evidence first: the
    library the file is named after first, then the libraries embedded in it by name."""
    named = BY_HINT.get(hint) if hint else None
    sections, damaged = _sections(elf)
    found = _banners(_data_regions(sections, damaged, data))
    candidates = [c for c, _ in found.values()]
    try:
        imports_only = _imports_only(sections, candidates)
    except _DAMAGED:
        try:  # a damaged hash table: the symbols one by one
            imports_only = _imports_only_by_walk(sections, candidates)
        except _DAMAGED:
            imports_only = set()  # damaged dynamic symbols: the banners stand (the cataloger reports the damage)
    for library in imports_only:
        del found[library]
    results: list[Identification] = []
    by_name = Evidence("file-name", "low", f"file named {hint}") if hint else None
    for library in sorted(found, key=lambda name: (named is None or name != named.name, name)):
        classifier, versions = found[library]
        embedded = named is None or library != named.name
        for version, text in versions.items():
            evidence: tuple[Evidence, ...] = (Evidence("banner", "medium", f'string "{text}"'),)
            if not embedded and by_name is not None:
                evidence += (by_name,)
            results.append(_identification(library, classifier, version, evidence, embedded))
    if by_name is not None and (named is None or named.name not in found):
        library = named.name if named else str(hint)
        results.insert(0, _identification(library, named, None, (by_name,), False))
    return results
