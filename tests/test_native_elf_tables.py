"""``depscan.native.elf.Elf`` reads the section/program header tables and the dynamic entries with struct:
it must answer exactly what stock pyelftools answers, for both classes and both byte orders."""

from __future__ import annotations

import glob
import hashlib
import io
import struct
from pathlib import Path
from typing import Any

import pytest
from elftools.elf.dynamic import DynamicSection, DynamicSegment
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerDefSection, GNUVerNeedSection
from elftools.elf.sections import NoteSection
from elftools.elf.segments import InterpSegment

from depscan.models import ElfFacts
from depscan.native import elf
from tests.test_native_elf import CC, _compile


def tiny_elf(elf_class: int, little: bool, machine: int, *, rpath: str | None = "/opt/tiny") -> bytes:
    """A minimal shared object built byte by byte (System V ABI layouts): PT_LOAD, PT_INTERP and
    PT_DYNAMIC; .interp, .dynstr, .dynamic (DT_SONAME, DT_NEEDED, DT_RPATH, DT_STRTAB) and .shstrtab."""
    e = "<" if little else ">"
    wide = elf_class == 64
    ehdr_size, phdr_size, shdr_size, dyn_size = (64, 56, 64, 16) if wide else (52, 32, 40, 8)
    interp = b"/lib/ld-tiny.so.1\0"
    dynstr = b"\0libtiny.so.1\0libc.so.6\0" + (rpath.encode() + b"\0" if rpath else b"")
    shstrtab = b"\0.shstrtab\0.interp\0.dynstr\0.dynamic\0"
    phnum = 3
    at = ehdr_size + phnum * phdr_size
    interp_at = at
    dynstr_at = interp_at + len(interp)
    dynamic_at = (dynstr_at + len(dynstr) + 7) // 8 * 8
    tags = [(14, 1), (1, 14)] + ([(15, 24)] if rpath else []) + [(5, dynstr_at), (0, 0)]
    dynamic = b"".join(struct.pack(e + ("qQ" if wide else "iI"), tag, value) for tag, value in tags)
    shstrtab_at = dynamic_at + len(dynamic)
    shoff = (shstrtab_at + len(shstrtab) + 7) // 8 * 8
    end = shoff + 5 * shdr_size

    def phdr(p_type: int, flags: int, offset: int, size: int) -> bytes:
        if wide:
            return struct.pack(e + "IIQQQQQQ", p_type, flags, offset, offset, offset, size, size, 8)
        return struct.pack(e + "8I", p_type, offset, offset, offset, size, size, flags, 4)

    def shdr(name: int, sh_type: int, offset: int, size: int, link: int = 0, entsize: int = 0) -> bytes:
        layout = "IIQQQQIIQQ" if wide else "10I"
        return struct.pack(e + layout, name, sh_type, 2, offset, offset, size, link, 0, 1, entsize)

    ident = b"\x7fELF" + bytes([2 if wide else 1, 1 if little else 2, 1, 0]) + bytes(8)
    header = ident + struct.pack(
        e + ("HHIQQQIHHHHHH" if wide else "HHIIIIIHHHHHH"),
        3, machine, 1, 0, ehdr_size, shoff, 0, ehdr_size, phdr_size, phnum, shdr_size, 5, 1,
    )
    out = bytearray(end)
    out[: len(header)] = header
    phdrs = phdr(1, 5, 0, end) + phdr(3, 4, interp_at, len(interp)) + phdr(2, 6, dynamic_at, len(dynamic))
    out[ehdr_size : ehdr_size + len(phdrs)] = phdrs
    for offset, blob in ((interp_at, interp), (dynstr_at, dynstr), (dynamic_at, dynamic), (shstrtab_at, shstrtab)):
        out[offset : offset + len(blob)] = blob
    shdrs = (
        bytes(shdr_size)
        + shdr(1, 3, shstrtab_at, len(shstrtab))
        + shdr(11, 1, interp_at, len(interp))
        + shdr(19, 3, dynstr_at, len(dynstr))
        + shdr(27, 6, dynamic_at, len(dynamic), link=3, entsize=dyn_size)
    )
    out[shoff:end] = shdrs
    return bytes(out)


TINY = {
    "elf32-little-arm": tiny_elf(32, True, 40),
    "elf32-big-ppc": tiny_elf(32, False, 20),
    "elf64-big-s390x": tiny_elf(64, False, 22, rpath=None),
    "elf64-little-aarch64": tiny_elf(64, True, 183),
}


def reference_facts(data: bytes) -> ElfFacts:
    """The facts by stock pyelftools, every object built its own way (the slow path elf.Elf replaces)."""
    stock = ELFFile(io.BytesIO(data))
    soname, needed, rpath, runpath, build_id = None, [], [], [], None
    definitions: list[str] = []
    needs: list[tuple[str, tuple[str, ...]]] = []
    symtab = False
    dynamic: Any = None
    for section in stock.iter_sections():
        if section["sh_type"] == "SHT_SYMTAB":
            symtab = True
        elif isinstance(section, DynamicSection):
            dynamic = dynamic or section
        elif isinstance(section, NoteSection) and build_id is None:
            build_id = next((str(n["n_desc"]) for n in section.iter_notes() if n["n_type"] == "NT_GNU_BUILD_ID"), None)
        elif isinstance(section, GNUVerDefSection):
            definitions += [str(next(iter(aux)).name) for vd, aux in section.iter_versions() if not vd["vd_flags"] & 1]
        elif isinstance(section, GNUVerNeedSection):
            needs += [(str(vn.name), tuple(str(a.name) for a in aux)) for vn, aux in section.iter_versions()]
    if dynamic is None:
        dynamic = next((s for s in stock.iter_segments() if isinstance(s, DynamicSegment)), None)
    for tag in dynamic.iter_tags() if dynamic is not None else ():
        kind = tag.entry.d_tag
        if kind == "DT_SONAME":
            soname = tag.soname
        elif kind == "DT_NEEDED":
            needed.append(tag.needed)
        elif kind == "DT_RPATH":
            rpath += [p for p in tag.rpath.split(":") if p]
        elif kind == "DT_RUNPATH":
            runpath += [p for p in tag.runpath.split(":") if p]
    interp = next((s.get_interp_name() for s in stock.iter_segments() if isinstance(s, InterpSegment)), None)
    return ElfFacts(hashlib.sha256(data).hexdigest(), soname, tuple(needed), tuple(rpath), tuple(runpath), build_id,
                    tuple(definitions), tuple(needs), elf.min_glibc(tuple(needs)), not symtab, interp)


def _same_tables(data: bytes) -> None:
    fast, stock = elf.Elf(data), ELFFile(io.BytesIO(data))
    assert fast.header == stock.header and fast.e_ident_raw == stock.e_ident_raw
    assert fast.num_sections() == stock.num_sections() and fast.num_segments() == stock.num_segments()
    for n in range(stock.num_sections()):
        mine, theirs = fast.get_section(n), stock.get_section(n)
        assert mine.header == theirs.header and mine.name == theirs.name and type(mine) is type(theirs)
        assert fast.get_section(n) is mine  # built once, shared with identify()
    for n in range(stock.num_segments()):
        mine_seg, theirs_seg = fast.get_segment(n), stock.get_segment(n)
        assert mine_seg.header == theirs_seg.header and type(mine_seg) is type(theirs_seg)
    assert fast.get_section_by_name(".dynstr") is not None or stock.get_section_by_name(".dynstr") is None


@pytest.mark.parametrize("name", sorted(TINY))
def test_both_classes_and_byte_orders_read_as_pyelftools_reads_them(name: str) -> None:
    data = TINY[name]
    _same_tables(data)
    _, facts = elf.parse(data)
    assert facts == reference_facts(data)
    assert facts.soname == "libtiny.so.1" and facts.needed == ("libc.so.6",)
    assert facts.interpreter == "/lib/ld-tiny.so.1"
    assert facts.rpath == (() if name == "elf64-big-s390x" else ("/opt/tiny",))


def test_a_file_without_section_headers_uses_the_dynamic_segment() -> None:
    data = bytearray(TINY["elf64-little-aarch64"])
    data[0x28:0x30] = bytes(8)  # e_shoff = 0
    data[0x3C:0x40] = bytes(4)  # e_shnum = e_shstrndx = 0
    _, facts = elf.parse(bytes(data))
    assert facts.soname == "libtiny.so.1" and facts.needed == ("libc.so.6",) and facts.rpath == ("/opt/tiny",)
    assert facts == reference_facts(bytes(data))


def test_a_section_header_table_past_the_end_is_a_reason() -> None:
    data = bytearray(TINY["elf32-little-arm"])
    struct.pack_into("<I", data, 0x20, len(data) - 10)  # e_shoff: the table starts 10 bytes before the end
    with pytest.raises(elf.ElfParseError, match="corrupt ELF file"):
        elf.parse(bytes(data))


def _real_libraries() -> list[Path]:
    found = []
    for pattern in ("/usr/lib/x86_64-linux-gnu/*.so*", "/usr/lib/aarch64-linux-gnu/*.so*", "/lib64/*.so*"):
        found += [Path(p) for p in sorted(glob.glob(pattern)) if Path(p).is_file() and not Path(p).is_symlink()]
    real = [p for p in found if p.read_bytes()[:4] == b"\x7fELF"]
    return real[:: max(1, len(real) // 25)][:25]  # a spread of up to 25


@pytest.mark.parametrize("path", _real_libraries(), ids=lambda p: p.name)
def test_real_libraries_give_the_facts_stock_pyelftools_gives(path: Path) -> None:
    data = path.read_bytes()
    _same_tables(data)
    assert elf.parse(data)[1] == reference_facts(data)


@pytest.mark.skipif(CC is None, reason="no C compiler (cc/gcc) to build the test library")
def test_a_compiled_library_gives_the_facts_stock_pyelftools_gives(tmp_path: Path) -> None:
    data = _compile(tmp_path, "-Wl,-rpath,$ORIGIN/x", "-Wl,--enable-new-dtags")
    _same_tables(data)
    assert elf.parse(data)[1] == reference_facts(data)


def test_without_shared_structs_the_same_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another pyelftools version runs its own ELFFile.__init__ (headers read its way until the structs are
    known): the same facts."""
    monkeypatch.setattr(elf, "_SHARED_STRUCTS", False)
    for data in TINY.values():
        _same_tables(data)
        assert elf.parse(data)[1] == reference_facts(data)
