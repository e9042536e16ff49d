"""Version accessors (depscan.native.accessors + identify): tiny .so files compiled with ``cc`` at test time,
aarch64 through raw instruction bytes (no cross compiler needed), and real instruction bytes quoted from
Pillow 10.0.0's and psycopg2-binary 2.9.7's manylinux wheels."""

from __future__ import annotations

import shutil
import struct
import subprocess
from io import BytesIO
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from depscan.native import Identification
from depscan.native import identify as identify_module
from depscan.native.accessors import AddressMap, decode_aarch64, decode_x86_64, read_string, relocated_pointer
from depscan.native.classifiers import BY_NAME, CLASSIFIERS
from depscan.native.identify import IDENT_VERSION, identify

CC = shutil.which("cc") or shutil.which("gcc")
needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler (cc/gcc) on PATH to build test .so files")

WEBP = "int WebPGetDecoderVersion(void) { return 0x010301; }\nint WebPGetInfo(const void *d) { return d != 0; }\n"
WEBP_124 = "int WebPGetDecoderVersion(void) { return 0x010204; }\nint WebPGetInfo(const void *d) { return d != 0; }\n"

# Pillow's _webp module: calls libwebp's accessor, defines none of libwebp
WEBP_IMPORTER = """
extern int WebPGetDecoderVersion(void);
int webp_decoder_version(void) { return WebPGetDecoderVersion(); }
"""

ZLIB_ACCESSOR = 'const char *zlibVersion(void) { return "1.2.13"; }\n'

LXML_LIKE = r"""
const int xsltLibxsltVersion = 10138;
const char *xmlParserVersion = "21003";
const char *zlibVersion(void) { return "1.2.13"; }
"""

# an accessor that is not a constant: read from memory (psycopg2-binary's libssl SSL_version is 8b 07 c3)
NOT_CONSTANT = "int WebPGetDecoderVersion(void) { extern volatile int v; return v; }\nvolatile int v = 7;\n"


def build(tmp_path: Path, name: str, source: str, *flags: str) -> Path:
    assert CC is not None
    src = tmp_path / f"{name}.c"
    src.write_text(source)
    out = tmp_path / f"{name}.so"
    subprocess.run([CC, "-shared", "-fPIC", *flags, "-o", str(out), str(src)], check=True, capture_output=True)
    return out


def ids(path: Path, hint: str | None, file_name: str | None = None, data: bytes | None = None) -> list[Identification]:
    data = path.read_bytes() if data is None else data
    return identify(ELFFile(BytesIO(data)), data, hint, file_name)


def summary(found: list[Identification]) -> list[tuple[str, str | None, str, str, bool]]:
    return [(i.library, i.version, i.evidence[0].method, i.evidence[0].confidence, i.embedded) for i in found]


# -- the decoders, on real instruction bytes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "value"),
    [
        (bytes.fromhex("b801030100c3"), 0x10301),  # Pillow 10.0.0 libwebp WebPGetDecoderVersion
        (bytes.fromhex("554889e5b8902900005dc3"), 10640),  # its libpng16 png_access_version_number (-O0 frame)
        (bytes.fromhex("b86f111010c3"), 0x1010116F),  # psycopg2-binary 2.9.7 libcrypto OpenSSL_version_num
        (bytes.fromhex("f30f1efab801030100c3"), 0x10301),  # endbr64 first (-fcf-protection)
        (bytes.fromhex("b801030100f3c3"), 0x10301),  # repz ret
        (bytes.fromhex("48c7c0ffffffffc3"), 0xFFFFFFFFFFFFFFFF),  # mov rax, -1
    ],
)
def test_x86_64_constant_shapes(code: bytes, value: int) -> None:
    returned = decode_x86_64(code, 0x1000)
    assert returned is not None and returned == (value, False)


def test_x86_64_string_pointer_is_rip_relative() -> None:
    # Pillow 10.0.0's libopenjp2 opj_version at 0x43695: 55 48 89 e5 48 8d 05 60 b5 03 00 5d c3 -> 0x7ec00
    returned = decode_x86_64(bytes.fromhex("554889e5488d0560b503005dc3"), 0x43695)
    assert returned is not None and returned == (0x7EC00, True)


@pytest.mark.parametrize(
    "code",
    [
        bytes.fromhex("8b07c3"),  # mov eax, [rdi]; ret: not a constant
        bytes.fromhex("b801030100"),  # no ret
        bytes.fromhex("b80103010090c3"),  # something between the constant and the ret
        bytes.fromhex("554889e5b8902900c3"),  # frame pushed, never popped
        bytes.fromhex("b801"),  # truncated
        b"",
    ],
)
def test_x86_64_other_shapes_are_not_decoded(code: bytes) -> None:
    assert decode_x86_64(code, 0) is None


def words(*insns: int) -> bytes:
    return b"".join(struct.pack("<I", i) for i in insns)


def test_aarch64_shapes_from_real_files() -> None:
    # Pillow 10.0.0 aarch64 libwebp-e14d733e.so.7.1.7 WebPGetDecoderVersion: mov w0, #0x301; movk w0, #1, lsl 16
    assert decode_aarch64(words(0x52806020, 0x72A00020, 0xD65F03C0), 0xB3E4) == (0x10301, False)
    # its libpng16 png_access_version_number: mov w0, #0x2990; ret
    assert decode_aarch64(words(0x52853200, 0xD65F03C0), 0x6EAC) == (10640, False)
    # its liblzma lzma_version_number: 50040032
    assert decode_aarch64(words(0x52919C00, 0x72A05F60, 0xD65F03C0), 0x3B34) == (50040032, False)
    # its libopenjp2 opj_version at 0x419d4: adrp x0, 0x81000; add x0, x0, #0x868; ret
    assert decode_aarch64(words(0x90000200, 0x9121A000, 0xD65F03C0), 0x419D4) == (0x81868, True)


def test_aarch64_prefixes_and_rejections() -> None:
    bti, paciasp, autiasp, ret = 0xD503245F, 0xD503233F, 0xD50323BF, 0xD65F03C0
    assert decode_aarch64(words(bti, 0x52806020, 0x72A00020, ret), 0) == (0x10301, False)
    assert decode_aarch64(words(paciasp, 0x52806020, autiasp, ret), 0) == (0x301, False)
    assert decode_aarch64(words(0x52806021, ret), 0) is None  # mov w1: not the return register
    assert decode_aarch64(words(0x52806020, 0xD503201F, ret), 0) is None  # a nop before ret: not a shape
    assert decode_aarch64(words(0x90000200, ret), 0) is None  # adrp without its add
    assert decode_aarch64(words(0x52806020), 0) is None  # no ret
    assert decode_aarch64(b"\x20\x60", 0) is None


# -- the value decoders of the table ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("library", "symbol", "value", "version"),
    [
        ("libwebp", "WebPGetDecoderVersion", 0x10301, "1.3.1"),
        ("openssl", "OpenSSL_version_num", 0x1010116F, "1.1.1v"),
        ("openssl", "OpenSSL_version_num", 0x1010100F, "1.1.1"),
        ("openssl", "OpenSSL_version_num", 0x30000130, "3.0.19"),
        ("openssl", "OpenSSL_version_num", 0x30100020, "3.1.2"),
        ("openssl", "SSLeay", 0x1000215F, "1.0.2u"),
        ("sqlite", "sqlite3_libversion_number", 3040001, "3.40.1"),
        ("zstd", "ZSTD_versionNumber", 10505, "1.5.5"),
        ("libpng", "png_access_version_number", 10640, "1.6.40"),
        ("xz", "lzma_version_number", 50040032, "5.4.3"),
        ("xz", "lzma_version_number", 50050000, "5.5.0alpha"),
        ("libpq", "PQlibVersion", 150003, "15.3"),
        ("libpq", "PQlibVersion", 90624, "9.6.24"),
        ("lcms2", "cmsGetEncodedCMMversion", 2150, "2.15"),
        ("brotli", "BrotliDecoderVersion", 0x1000009, "1.0.9"),
        ("libxslt", "xsltLibxsltVersion", 10138, "1.1.38"),
        ("libiconv", "_libiconv_version", 0x111, "1.17"),
        ("libsharpyuv", "SharpYuvGetVersion", 0x20001, "0.2.1"),
    ],
)
def test_accessor_values_become_versions(library: str, symbol: str, value: int, version: str) -> None:
    (accessor,) = [a for a in BY_NAME[library].accessors if a.symbol == symbol]
    assert accessor.decode is not None and accessor.decode(value) == version


def test_nonsense_values_are_not_versions() -> None:
    for classifier in CLASSIFIERS:
        for accessor in classifier.accessors:
            if accessor.kind in ("int", "data-int") and accessor.decode is not None:
                assert accessor.decode(0) is None, accessor.symbol


def test_every_table_entry_has_evidence_or_says_why_not() -> None:
    issue_list = {
        "openssl", "libwebp", "sqlite", "zlib", "libpng", "libjpeg-turbo", "libtiff", "freetype", "libxml2",
        "libxslt", "expat", "curl", "zstd", "xz", "bzip2", "libpq", "openblas", "libffi", "lcms2", "openjpeg",
        "harfbuzz", "brotli", "libyaml", "libgfortran", "libquadmath",
    }  # fmt: skip
    assert issue_list <= set(BY_NAME)
    assert IDENT_VERSION and isinstance(IDENT_VERSION, str)


# -- end to end: compiled libraries -------------------------------------------------------------------------------


@needs_cc
@pytest.mark.parametrize(
    "flags",
    [("-O2",), ("-O2", "-fcf-protection=full"), ("-O2", "-fcf-protection=none"), ("-O0",), ("-Os",)],
)
def test_an_accessor_returning_a_constant_gives_the_version(tmp_path: Path, flags: tuple[str, ...]) -> None:
    try:
        lib = build(tmp_path, "libwebp", WEBP, *flags)
    except subprocess.CalledProcessError:
        pytest.skip(f"this compiler does not take {flags}")
    (webp,) = ids(lib, "libwebp")
    assert (webp.library, webp.version, webp.embedded) == ("libwebp", "1.3.1", False)
    assert [(e.method, e.confidence) for e in webp.evidence] == [("accessor", "high"), ("file-name", "low")]
    assert webp.evidence[0].detail == "WebPGetDecoderVersion() returns 0x10301"
    assert webp.cpe == "cpe:2.3:a:webmproject:libwebp:1.3.1:*:*:*:*:*:*:*"
    assert webp.purl == "pkg:generic/libwebp@1.3.1"


@needs_cc
def test_a_stripped_library_keeps_its_accessor(tmp_path: Path) -> None:
    lib = build(tmp_path, "libwebp", WEBP, "-O2")
    strip = shutil.which("strip")
    if strip is None:
        pytest.skip("no strip on PATH")
    subprocess.run([strip, "--strip-all", str(lib)], check=True)
    assert ELFFile(BytesIO(lib.read_bytes())).get_section_by_name(".symtab") is None
    assert summary(ids(lib, "libwebp")) == [("libwebp", "1.3.1", "accessor", "high", False)]


@needs_cc
@pytest.mark.parametrize("hash_style", ["gnu", "sysv", "both"])
def test_a_module_calling_the_accessor_does_not_hold_the_library(tmp_path: Path, hash_style: str) -> None:
    # a SysV .hash lists undefined symbols too: found there, an import is still not a definition
    importer = build(tmp_path, "_webp", WEBP_IMPORTER, "-O2", f"-Wl,--hash-style={hash_style}")
    assert ids(importer, None) == []
    assert summary(ids(importer, "libwebp")) == [("libwebp", None, "file-name", "low", False)]


@needs_cc
def test_an_accessor_that_is_not_a_constant_is_not_read(tmp_path: Path) -> None:
    lib = build(tmp_path, "libwebp", NOT_CONSTANT, "-O2")
    assert summary(ids(lib, "libwebp")) == [("libwebp", None, "file-name", "low", False)]


@needs_cc
def test_string_and_data_accessors_of_a_static_bundle(tmp_path: Path) -> None:
    # lxml's etree module exports the libxml2/libxslt/zlib it holds: each is an embedded component
    etree = build(tmp_path, "etree", LXML_LIKE, "-O2")
    found = ids(etree, None)
    assert summary(found) == [
        ("libxml2", "2.10.3", "accessor", "high", True),
        ("libxslt", "1.1.38", "accessor", "high", True),
        ("zlib", "1.2.13", "accessor", "high", True),
    ]
    details = {i.library: i.evidence[0].detail for i in found}
    assert details == {
        "libxml2": 'xmlParserVersion points to "21003"',
        "libxslt": "xsltLibxsltVersion = 10138",
        "zlib": 'zlibVersion() returns "1.2.13"',
    }


@needs_cc
def test_a_pointer_left_zero_is_read_from_its_relocation(tmp_path: Path) -> None:
    # GNU ld on x86_64 writes a RELATIVE relocation's addend in place too; aarch64's does not: zero it
    etree = build(tmp_path, "etree", LXML_LIKE, "-O2")
    data = bytearray(etree.read_bytes())
    elf = ELFFile(BytesIO(bytes(data)))
    dynsym = elf.get_section_by_name(".dynsym")
    (symbol,) = dynsym.get_symbol_by_name("xmlParserVersion")
    section = elf.get_section(symbol["st_shndx"])
    at = symbol["st_value"] - section["sh_addr"] + section["sh_offset"]
    assert int.from_bytes(data[at : at + 8], "little") != 0
    data[at : at + 8] = bytes(8)
    found = {i.library: i.version for i in ids(etree, None, data=bytes(data))}
    assert found["libxml2"] == "2.10.3"


@needs_cc
def test_the_accessor_outranks_the_banner_and_the_real_name(tmp_path: Path) -> None:
    # a libwebp whose accessor says 1.2.4 in a file whose real name says 1.3.1: the code wins, the name is
    # kept as disagreeing low evidence
    lib = build(tmp_path, "libwebp", WEBP_124, "-O2")
    (webp,) = ids(lib, "libwebp", "libwebp-8b6d8948.so.7.1.7")
    assert webp.version == "1.2.4"
    assert [(e.method, e.confidence) for e in webp.evidence] == [
        ("accessor", "high"),
        ("soname", "low"),
        ("file-name", "low"),
    ]
    assert "says release 1.3.1 (disagrees)" in webp.evidence[1].detail
    # zlib: the accessor's "1.2.13" before a stale banner "1.2.11" in the same file
    source = ZLIB_ACCESSOR + (
        '__attribute__((used)) const char c[] = " inflate 1.2.11 Copyright 1995-2017 Mark Adler ";\n'
    )
    found = ids(build(tmp_path, "libz", source, "-O2"), "libz")
    assert summary(found) == [
        ("zlib", "1.2.13", "accessor", "high", False),
        ("zlib", "1.2.11", "banner", "medium", False),
    ]


@needs_cc
def test_the_real_name_table_when_nothing_stronger_exists(tmp_path: Path) -> None:
    plain = build(tmp_path, "plain", "int f(int x) { return x + 1; }\n", "-O2")
    found = ids(plain, "libpng16", "libpng16-39c06ea1.so.16.40.0")
    assert summary(found) == [("libpng", "1.6.40", "soname", "low", False)]
    assert found[0].evidence[0].detail == "file libpng16-39c06ea1.so.16.40.0 (release 1.6.40)"
    # the SONAME, when the file name says nothing
    named = build(tmp_path, "named", "int f(int x) { return x + 1; }\n", "-O2", "-Wl,-soname,libwebp.so.7.1.7")
    assert summary(ids(named, "libwebp", "named.so")) == [("libwebp", "1.3.1", "soname", "low", False)]
    # a real name the table does not know: named only
    assert summary(ids(plain, "libwebp", "libwebp.so.7.9.9")) == [("libwebp", None, "file-name", "low", False)]


# -- aarch64 end to end: a compiled x86_64 library turned aarch64 by its header and raw instruction bytes --------


def _as_aarch64(path: Path, symbol_name: str, code: bytes) -> bytes:
    data = bytearray(path.read_bytes())
    elf = ELFFile(BytesIO(bytes(data)))
    (symbol,) = elf.get_section_by_name(".dynsym").get_symbol_by_name(symbol_name)
    section = elf.get_section(symbol["st_shndx"])
    at = symbol["st_value"] - section["sh_addr"] + section["sh_offset"]
    data[at : at + len(code)] = code
    data[18:20] = (183).to_bytes(2, "little")  # e_machine = EM_AARCH64
    return bytes(data)


def _adrp_add(pc: int, target: int) -> bytes:
    page = ((target & ~0xFFF) - (pc & ~0xFFF)) >> 12
    adrp = 0x90000000 | ((page & 3) << 29) | (((page >> 2) & 0x7FFFF) << 5)
    add = 0x91000000 | ((target & 0xFFF) << 10)
    return words(adrp, add, 0xD65F03C0)


@needs_cc
def test_aarch64_accessors_through_raw_bytes(tmp_path: Path) -> None:
    source = WEBP + "__attribute__((aligned(64))) int pad(int x) { return x * 3 + 1; }\n"
    lib = build(tmp_path, "libwebp", source, "-O2", "-falign-functions=64")
    # Pillow 10.0.0 aarch64 libwebp's bytes: mov w0, #0x301; movk w0, #1, lsl 16; ret
    data = _as_aarch64(lib, "WebPGetDecoderVersion", words(0x52806020, 0x72A00020, 0xD65F03C0))
    assert summary(ids(lib, "libwebp", data=data)) == [("libwebp", "1.3.1", "accessor", "high", False)]
    # the same bytes on x86_64 are not a shape: named only
    x86 = bytearray(data)
    x86[18:20] = (62).to_bytes(2, "little")
    assert summary(ids(lib, "libwebp", data=bytes(x86))) == [("libwebp", None, "file-name", "low", False)]


@needs_cc
def test_aarch64_string_accessor_through_raw_bytes(tmp_path: Path) -> None:
    source = ZLIB_ACCESSOR + "__attribute__((aligned(64))) int pad(int x) { return x * 3 + 1; }\n"
    lib = build(tmp_path, "libz", source, "-O2", "-falign-functions=64")
    raw = lib.read_bytes()
    elf = ELFFile(BytesIO(raw))
    (symbol,) = elf.get_section_by_name(".dynsym").get_symbol_by_name("zlibVersion")
    rodata = elf.get_section_by_name(".rodata")
    string_at = rodata["sh_addr"] + rodata.data().index(b"1.2.13\x00")
    data = _as_aarch64(lib, "zlibVersion", _adrp_add(symbol["st_value"], string_at))
    (zlib,) = ids(lib, "libz", data=data)
    assert (zlib.version, zlib.evidence[0].detail) == ("1.2.13", 'zlibVersion() returns "1.2.13"')


# -- bad input ------------------------------------------------------------------------------------------------------


def test_addresses_outside_the_file_are_not_read() -> None:
    addresses = AddressMap([(0x1000, 0x100, 0x0)], size=0x80)
    assert addresses.offset(0x1010) == 0x10
    assert addresses.offset(0x10F0) is None  # mapped, but past the end of the bytes
    assert addresses.offset(0x2000) is None
    assert read_string(b"1.2.13" + bytes(0x7A), addresses, 0x1000) == b"1.2.13"
    assert read_string(b"x" * 0x80, addresses, 0x1000) is None  # no NUL within the bytes read


def test_relocations_are_matched_by_offset_and_type() -> None:
    rela = struct.pack("<QQq", 0x5000, 8, 0x1234) + struct.pack("<QQq", 0x5008, 1, 0x99)
    assert relocated_pointer(rela, 0x5000, True) == 0x1234
    assert relocated_pointer(rela, 0x5008, True) is None  # R_X86_64_64, not RELATIVE
    assert relocated_pointer(rela[:30], 0x5008, True) is None


@needs_cc
def test_an_accessor_pointing_past_the_end_does_not_crash(tmp_path: Path) -> None:
    lib = build(tmp_path, "libz", ZLIB_ACCESSOR, "-O2")
    data = bytearray(lib.read_bytes())
    elf = ELFFile(BytesIO(bytes(data)))
    (symbol,) = elf.get_section_by_name(".dynsym").get_symbol_by_name("zlibVersion")
    section = elf.get_section(symbol["st_shndx"])
    at = symbol["st_value"] - section["sh_addr"] + section["sh_offset"]
    data[at : at + 8] = bytes.fromhex("488d05ffffff7fc3")  # lea rax, [rip + 0x7fffffff]; ret
    assert summary(ids(lib, "libz", data=bytes(data))) == [("zlib", None, "file-name", "low", False)]
    assert identify_module.IDENT_VERSION == IDENT_VERSION


def _damage(data: bytes, name: str) -> bytes:
    out = bytearray(data)
    section = ELFFile(BytesIO(data)).get_section_by_name(name)
    assert section is not None
    start, size = section["sh_offset"], section["sh_size"]
    out[start : start + size] = b"\xff" * size
    return bytes(out)


@needs_cc
@pytest.mark.parametrize(("hash_style", "table"), [("gnu", ".gnu.hash"), ("sysv", ".hash")])
def test_a_damaged_hash_table_falls_back_to_the_symbols(tmp_path: Path, hash_style: str, table: str) -> None:
    lib = build(tmp_path, "libwebp", WEBP, "-O2", f"-Wl,--hash-style={hash_style}")
    data = _damage(lib.read_bytes(), table)
    assert summary(ids(lib, "libwebp", data=data)) == [("libwebp", "1.3.1", "accessor", "high", False)]


@needs_cc
def test_a_sysv_hash_chain_that_loops_ends(tmp_path: Path) -> None:
    lib = build(tmp_path, "libwebp", WEBP, "-O2", "-Wl,--hash-style=sysv")
    data = bytearray(lib.read_bytes())
    section = ELFFile(BytesIO(bytes(data))).get_section_by_name(".hash")
    start = section["sh_offset"]
    nbucket, nchain = struct.unpack_from("<II", data, start)
    # every bucket and chain entry points at symbol 1, whose chain points at itself
    struct.pack_into(f"<{nbucket + nchain}I", data, start + 8, *([1] * (nbucket + nchain)))
    found = ids(lib, "libwebp", data=bytes(data))  # returns (the loop is cut at nchain steps)
    assert [i.library for i in found] == ["libwebp"]


@needs_cc
def test_a_scan_reports_the_version_the_accessor_returns(tmp_path: Path) -> None:
    # the issue's case, end to end: a Pillow-like wheel grafting libwebp 1.3.1 under auditwheel's name, and a
    # _webp module that calls it; the scan says which libwebp, how, and that the module is not libwebp
    from depscan.models import NativeComponent
    from fixtures.builders import dist, write_zip
    from tests.helpers import scan

    lib = build(tmp_path, "libwebp", WEBP, "-O2", "-Wl,-soname,libwebp-74f033ac.so.7.1.7").read_bytes()
    module = build(tmp_path, "_webp", WEBP_IMPORTER, "-O2").read_bytes()
    files = dist(
        "pillow",
        "10.0.0",
        modules={
            "Pillow.libs/libwebp-74f033ac.so.7.1.7": lib,
            "PIL/_webp.cpython-311-x86_64-linux-gnu.so": module,
            "PIL/__init__.py": b"",
        },
    )
    result = scan(write_zip(tmp_path / "function.zip", files))
    found = [c for c in result.components if isinstance(c, NativeComponent)]
    assert [(c.location.path, c.name, c.version, c.embedded) for c in found] == [
        ("Pillow.libs/libwebp-74f033ac.so.7.1.7", "libwebp", "1.3.1", False)
    ]
    (webp,) = found
    assert webp.purl == "pkg:generic/libwebp@1.3.1" and webp.cpe == "cpe:2.3:a:webmproject:libwebp:1.3.1:*:*:*:*:*:*:*"
    assert [(e.method, e.confidence) for e in webp.evidence] == [
        ("accessor", "high"),
        ("soname", "low"),  # the real name agrees: libwebp.so.7.1.7 is 1.3.1
        ("file-name", "low"),
    ]
    assert webp.owner == "pkg:pypi/pillow@10.0.0"
