"""The ELF structure of a native file (``models.ElfFacts``), parsed with pyelftools from its bytes.

Only what the facts need is read: the dynamic section (``DT_SONAME``, ``DT_NEEDED``, ``DT_RPATH``,
``DT_RUNPATH``), the GNU build-id note, the symbol-version sections (``.gnu.version_d`` /
``.gnu.version_r``), the ``PT_INTERP`` segment, and whether a ``.symtab`` section exists. No
symbol table is walked.

Hostile input is bounded: a file with more than ``MAX_SECTIONS`` section headers or
``MAX_SEGMENTS`` program headers, or a dynamic section with more than ``MAX_DYNAMIC_TAGS``
entries, is refused with a reason; a corrupt or truncated file (pyelftools raises ``ELFError``,
``struct.error``, ``ValueError``, ``IndexError``, ...) is a reason too, never a crash.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from elftools.common.exceptions import ELFError
from elftools.construct import ConstructError
from elftools.elf.dynamic import DynamicSection, DynamicSegment
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerDefSection, GNUVerNeedSection
from elftools.elf.notes import iter_notes
from elftools.elf.sections import NoteSection
from elftools.elf.segments import InterpSegment

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


def _attr(tag: object, name: str) -> str:
    """A dynamic tag's string value (pyelftools sets ``soname``/``needed``/``rpath``/``runpath`` per tag)."""
    return str(getattr(tag, name))


def _split_path(value: str) -> tuple[str, ...]:
    return tuple(part for part in value.split(":") if part)


def parse(data: bytes) -> tuple[ELFFile, ElfFacts]:
    """The parsed file and its facts. Raises ``ElfParseError`` naming the problem."""
    try:
        return _parse(data)
    except ElfParseError:
        raise
    except PARSE_ERRORS as e:
        raise ElfParseError(f"corrupt ELF file ({type(e).__name__}: {e})") from None
    except Exception as e:  # struct.error and whatever else a malformed file provokes in pyelftools
        raise ElfParseError(f"corrupt ELF file ({type(e).__name__}: {e})") from None


def _parse(data: bytes) -> tuple[ELFFile, ElfFacts]:
    elf = ELFFile(io.BytesIO(data))
    if elf.num_sections() > MAX_SECTIONS:
        raise ElfParseError(f"{elf.num_sections()} section headers (more than {MAX_SECTIONS})")
    if elf.num_segments() > MAX_SEGMENTS:
        raise ElfParseError(f"{elf.num_segments()} program headers (more than {MAX_SEGMENTS})")

    # One pass over the section headers: each section object is built once (pyelftools' construct
    # parsing of headers is most of the cost of this module).
    dynamic: DynamicSection | DynamicSegment | None = None
    build_id: str | None = None
    definitions: list[str] = []
    needs: list[tuple[str, tuple[str, ...]]] = []
    symtab = False
    for section in elf.iter_sections():
        if section["sh_type"] == "SHT_SYMTAB":
            symtab = True
        elif isinstance(section, DynamicSection):
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

    if dynamic is None:  # no section headers: the PT_DYNAMIC segment
        dynamic = next((seg for seg in elf.iter_segments() if isinstance(seg, DynamicSegment)), None)
    soname: str | None = None
    needed: list[str] = []
    rpath: list[str] = []
    runpath: list[str] = []
    if dynamic is not None:
        count = dynamic.num_tags() or 0
        if count > MAX_DYNAMIC_TAGS:
            raise ElfParseError(f"{count} dynamic entries (more than {MAX_DYNAMIC_TAGS})")
        for tag in dynamic.iter_tags():
            kind = tag.entry.d_tag
            if kind == "DT_SONAME":
                soname = _attr(tag, "soname")
            elif kind == "DT_NEEDED":
                needed.append(_attr(tag, "needed"))
            elif kind == "DT_RPATH":
                rpath.extend(_split_path(_attr(tag, "rpath")))
            elif kind == "DT_RUNPATH":
                runpath.extend(_split_path(_attr(tag, "runpath")))

    if build_id is None and elf.num_sections() == 0:
        for segment in elf.iter_segments():
            if segment["p_type"] == "PT_NOTE":
                notes = iter_notes(elf, segment["p_offset"], segment["p_filesz"])
                for note in _bounded(notes, MAX_NOTES, "notes in a segment"):
                    if note["n_type"] == "NT_GNU_BUILD_ID":
                        build_id = str(note["n_desc"])
                        break

    interpreter: str | None = None
    for segment in elf.iter_segments():
        if isinstance(segment, InterpSegment):
            interpreter = segment.get_interp_name()
            break

    version_needs = tuple(needs)
    facts = ElfFacts(
        sha256=hashlib.sha256(data).hexdigest(),
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
