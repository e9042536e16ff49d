"""Native identification (depscan.native.identify): tiny shared libraries compiled with ``cc`` at test time."""

from __future__ import annotations

import re
import shutil
import subprocess
from io import BytesIO
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from depscan.native import Identification
from depscan.native.classifiers import BANNERS, BY_HINT, CLASSIFIERS, search_banner
from depscan.native.identify import identify

CC = shutil.which("cc") or shutil.which("gcc")
needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler (cc/gcc) on PATH to build test .so files")

ZLIB_OWN = r"""
__attribute__((used)) const char inflate_copyright[] = " inflate 1.2.11 Copyright 1995-2017 Mark Adler ";
const char *zlibVersion(void) { return "1.2.11"; }
int inflate(void *strm, int flush) { return inflate_copyright[flush] + (strm != 0); }
"""

# A module that links against libpng: png.h's version text in its own data, libpng's API imported.
PNG_IMPORTER = r"""
extern void *png_create_read_struct(const char *ver, void *a, void *b, void *c);
__attribute__((used)) const char header[] = " libpng version 1.6.37 - April 14, 2019\n";
void *open_png(void) { return png_create_read_struct(header, 0, 0, 0); }
"""

# The same text, but the file imports nothing of libpng's: libpng linked in statically (hidden symbols).
PNG_STATIC = r"""
__attribute__((used)) const char header[] = " libpng version 1.6.37 - April 14, 2019\n";
__attribute__((visibility("hidden"))) const char *png_get_header_version(void *p) { return p ? header : 0; }
const char *module_version(void *p) { return png_get_header_version(p); }
"""

# freetype with zlib compiled in (hidden), as manylinux freetype builds have it
FREETYPE_WITH_ZLIB = r"""
__attribute__((used)) static const char inflate_copyright[] =
    " inflate 1.2.13 Copyright 1995-2022 Mark Adler ";
__attribute__((visibility("hidden"))) int inflate(void *strm, int flush) { return inflate_copyright[flush] + !strm; }
int FT_Init_FreeType(void **library) { return inflate(*library, 0); }
"""


def build(tmp_path: Path, name: str, source: str, *flags: str) -> Path:
    assert CC is not None
    src = tmp_path / f"{name}.c"
    src.write_text(source)
    out = tmp_path / f"{name}.so"
    subprocess.run([CC, "-shared", "-fPIC", "-O2", *flags, "-o", str(out), str(src)], check=True, capture_output=True)
    return out


def ids(path: Path, hint: str | None, file_name: str | None = None) -> list[Identification]:
    data = path.read_bytes()
    return identify(ELFFile(BytesIO(data)), data, hint, file_name)


def summary(found: list[Identification]) -> list[tuple[str, str | None, str, str, bool]]:
    return [(i.library, i.version, i.evidence[0].method, i.evidence[0].confidence, i.embedded) for i in found]


@needs_cc
def test_a_banner_in_the_library_s_own_data_gives_its_version(tmp_path: Path) -> None:
    found = ids(build(tmp_path / "", "libz", ZLIB_OWN), "libz")
    assert summary(found) == [("zlib", "1.2.11", "accessor", "high", False)]
    (zlib,) = found
    # strongest evidence first: zlibVersion()'s answer, the banner, then the file name that agrees with them
    assert [(e.method, e.confidence) for e in zlib.evidence] == [
        ("accessor", "high"),
        ("banner", "medium"),
        ("file-name", "low"),
    ]
    assert zlib.evidence[0].detail == 'zlibVersion() returns "1.2.11"'
    assert "inflate 1.2.11 Copyright" in zlib.evidence[1].detail
    assert zlib.purl == "pkg:generic/zlib@1.2.11"
    assert zlib.cpe == "cpe:2.3:a:zlib:zlib:1.2.11:*:*:*:*:*:*:*"


@needs_cc
def test_a_stripped_library_keeps_its_banner(tmp_path: Path) -> None:
    lib = build(tmp_path, "libz", ZLIB_OWN)
    strip = shutil.which("strip")
    if strip is None:
        pytest.skip("no strip on PATH")
    subprocess.run([strip, "--strip-all", str(lib)], check=True)
    (zlib,) = ids(lib, "libz")
    assert (zlib.version, [e.method for e in zlib.evidence]) == ("1.2.11", ["accessor", "banner", "file-name"])


@needs_cc
def test_a_module_that_imports_a_library_does_not_contain_it(tmp_path: Path) -> None:
    importer = build(tmp_path, "importer", PNG_IMPORTER)
    assert b"libpng version 1.6.37 - " in importer.read_bytes()  # the text is there ...
    assert ids(importer, None) == []  # ... but it is libpng's header text, not libpng
    # control: the same text in a file that does not import libpng's API is an embedded libpng
    static = build(tmp_path, "static", PNG_STATIC)
    assert summary(ids(static, None)) == [("libpng", "1.6.37", "banner", "medium", True)]


@needs_cc
def test_a_library_linked_statically_into_another_is_embedded(tmp_path: Path) -> None:
    found = ids(build(tmp_path, "libfreetype", FREETYPE_WITH_ZLIB), "libfreetype")
    assert summary(found) == [
        ("freetype", None, "file-name", "low", False),
        ("zlib", "1.2.13", "banner", "medium", True),
    ]
    assert found[0].cpe is None and found[0].purl == "pkg:generic/freetype"


@needs_cc
def test_names_alone_are_low_confidence_and_unknown_names_are_kept(tmp_path: Path) -> None:
    plain = build(tmp_path, "plain", "int f(int x) { return x + 1; }\n")
    assert summary(ids(plain, "libssl")) == [("openssl", None, "file-name", "low", False)]
    assert summary(ids(plain, "libfoo")) == [("libfoo", None, "file-name", "low", False)]
    assert ids(plain, None) == []


@pytest.mark.parametrize(
    ("text", "library", "version"),
    [
        (b"OpenSSL 1.1.1k  25 Mar 2021", "openssl", "1.1.1k"),
        (b"OpenSSL 3.0.19 27 Jan 2026", "openssl", "3.0.19"),
        (b"OpenSSL 1.0.2u-fips  20 Dec 2019", "openssl", "1.0.2u"),
        (b" inflate 1.2.13 Copyright 1995-2022 Mark Adler ", "zlib", "1.2.13"),
        (b" deflate 1.2.11 Copyright 1995-2017 Jean-loup Gailly and Mark Adler ", "zlib", "1.2.11"),
        (b" libpng version 1.6.39 - November 20, 2022\n", "libpng", "1.6.39"),
        (b"libjpeg-turbo version 2.1.5 (build 20230203)", "libjpeg-turbo", "2.1.5"),
        (b"libjpeg-turbo version 2.1.5.1 (build 20230701)", "libjpeg-turbo", "2.1.5.1"),
        (b"expat_2.5.0\x00", "expat", "2.5.0"),
        (b"\x00libcurl/7.88.1\x00", "curl", "7.88.1"),
        (b"OpenBLAS 0.3.23.dev  USE64BITINT DYNAMIC_ARCH", "openblas", "0.3.23.dev"),
        (b"KRB5_BRAND: krb5-1.20.1-final 1.20.1 20230124", "krb5", "1.20.1"),
        (b"LIBTIFF, Version 4.1.0\nCopyright (c) 1988-1996 Sam Leffler\n", "libtiff", "4.1.0"),
    ],
)
def test_banner_table_reads_real_strings(text: bytes, library: str, version: str) -> None:
    found = search_banner(b"\x00junk\x00" + text)
    assert found is not None
    classifier, match = found
    assert classifier.name == library
    assert match.group(1) == version.encode()


@pytest.mark.parametrize("text", [b"1.6.37\x00", b"OpenSSL 1.1.1k\x00", b"expat_2.5.0.dev", b"inflate 1.2.11\x00"])
def test_bare_versions_are_not_banners(text: bytes) -> None:
    assert search_banner(text) is None


def test_table_names_and_hints() -> None:
    assert BY_HINT["libssl"].name == BY_HINT["libcrypto"].name == "openssl"
    assert BY_HINT["libz"].name == "zlib"
    assert len({c.name for c in CLASSIFIERS}) == len(CLASSIFIERS)
    for c in CLASSIFIERS:
        assert c.symbols, c.name  # the own-code rule needs each library's API
        for banner in c.banners:
            assert re.compile(banner).groups == 1
    for _, pattern, anchor in BANNERS:
        # a literal first (found with bytes.find), and the regex starts with exactly that literal
        assert len(anchor) >= 5 and pattern.pattern.startswith(anchor), pattern.pattern


def test_a_banner_s_literal_start_stops_before_metacharacters_and_quantified_characters() -> None:
    from depscan.native.classifiers import _literal_prefix

    assert _literal_prefix(rb"OpenSSL (\d+)") == b"OpenSSL "
    assert _literal_prefix(rb"libcurl/(\d+)") == b"libcurl/"
    assert _literal_prefix(rb"colou?r (\d)") == b"colo"  # the "u" is optional: not part of the literal
    assert _literal_prefix(rb"ab{2}c") == b"a"
    assert _literal_prefix(rb"\x00abc") == b""


def test_a_file_without_section_headers_is_searched_whole(tmp_path: Path) -> None:
    # a minimal ELF64 header with no sections: the banner anywhere in the file still counts
    header = bytearray(64)
    header[:16] = b"\x7fELF\x02\x01\x01" + bytes(9)
    header[16:18] = (3).to_bytes(2, "little")  # ET_DYN
    header[18:20] = (62).to_bytes(2, "little")  # EM_X86_64
    header[20:24] = (1).to_bytes(4, "little")
    header[52:54] = (64).to_bytes(2, "little")  # e_ehsize
    data = bytes(header) + b"\x00expat_2.2.10\x00"
    assert summary(identify(ELFFile(BytesIO(data)), data, None)) == [("expat", "2.2.10", "banner", "medium", True)]


@needs_cc
def test_the_own_code_rule_with_a_sysv_hash_table(tmp_path: Path) -> None:
    importer = build(tmp_path, "importer", PNG_IMPORTER, "-Wl,--hash-style=sysv")
    assert ids(importer, None) == []
    static = build(tmp_path, "static", PNG_STATIC, "-Wl,--hash-style=sysv")
    assert summary(ids(static, None)) == [("libpng", "1.6.37", "banner", "medium", True)]


def _overwrite_section(path: Path, name: str) -> bytes:
    data = bytearray(path.read_bytes())
    section = ELFFile(BytesIO(bytes(data))).get_section_by_name(name)
    assert section is not None
    start, size = section["sh_offset"], section["sh_size"]
    data[start : start + size] = b"\xff" * size
    return bytes(data)


@needs_cc
@pytest.mark.parametrize("damaged", [".gnu.hash", ".dynsym", ".rodata"])
def test_damaged_tables_do_not_crash_and_keep_the_own_code_rule(tmp_path: Path, damaged: str) -> None:
    importer = build(tmp_path, "importer", PNG_IMPORTER, "-Wl,--hash-style=gnu")
    data = _overwrite_section(importer, damaged)
    # a damaged hash table: the symbols are walked one by one; damaged symbols or data: no libpng either way
    assert identify(ELFFile(BytesIO(data)), data, None) == []
    static = build(tmp_path, "static", PNG_STATIC, "-Wl,--hash-style=gnu")
    data = _overwrite_section(static, damaged)
    expected = [] if damaged == ".rodata" else [("libpng", "1.6.37", "banner", "medium", True)]
    assert summary(identify(ELFFile(BytesIO(data)), data, None)) == expected


# zlib's banner in a module that imports zlib's `deflate`; the module also defines `gz_deflate`, so the linker
# stores "deflate" as the tail of "gz_deflate" in .dynstr (no NUL in front of it)
ZLIB_TAIL_IMPORTER = r"""
extern int deflate(void *strm, int flush);
__attribute__((used)) const char c[] = " deflate 1.2.11 Copyright 1995-2017 Jean-loup Gailly and Mark Adler ";
int gz_deflate(void *strm) { return deflate(strm, c[0]); }
"""
ZLIB_TAIL_ONLY = r"""
__attribute__((used)) const char c[] = " deflate 1.2.11 Copyright 1995-2017 Jean-loup Gailly and Mark Adler ";
int gz_deflate(void *strm) { return c[strm != 0]; }
"""


@needs_cc
def test_an_import_stored_as_the_tail_of_another_name_still_counts(tmp_path: Path) -> None:
    importer = build(tmp_path, "importer", ZLIB_TAIL_IMPORTER)
    dynstr = ELFFile(BytesIO(importer.read_bytes())).get_section_by_name(".dynstr").data()
    assert b"gz_deflate\x00" in dynstr and b"\x00deflate\x00" not in dynstr  # merged: the case under test
    assert ids(importer, None) == []
    # control: the same names with no import of deflate: zlib linked in
    tail_only = build(tmp_path, "tail", ZLIB_TAIL_ONLY)
    assert summary(ids(tail_only, None)) == [("zlib", "1.2.11", "banner", "medium", True)]


@needs_cc
def test_a_banner_in_writable_data_counts(tmp_path: Path) -> None:
    # MIT krb5 keeps its brand in a writable array (.data): "KRB5_BRAND: krb5-1.15.1-final 1.15.1 20170302"
    source = (
        'char krb5_brand[] = "KRB5_BRAND: krb5-1.15.1-final 1.15.1 20170302";\n'
        "int krb5_init_context(void **c) { return krb5_brand[0] + !c; }\n"
        'const char *krb5_cc_default_name(void) { return "FILE:/tmp/krb5cc"; }\n'  # a .rodata too
    )
    lib = build(tmp_path, "libkrb5", source)
    section = ELFFile(BytesIO(lib.read_bytes())).get_section_by_name(".data")
    assert section is not None and b"KRB5_BRAND" in section.data()
    assert ELFFile(BytesIO(lib.read_bytes())).get_section_by_name(".rodata") is not None
    assert summary(ids(lib, "libkrb5")) == [("krb5", "1.15.1", "banner", "medium", False)]


@pytest.mark.parametrize(
    ("hint", "library"),
    [
        ("libopenblas64_p-r0.3.23.dev", "openblas"),  # numpy 1.25.2's, auditwheel's hash removed
        ("libscipy_openblas", "openblas"),  # scipy's
        ("libscipy_openblas64_", "openblas"),  # numpy 2's
        ("libwebpdemux", "libwebp"),
        ("libcrypto", "openssl"),
        ("libopenblasfoo-bar", None),
    ],
)
def test_stems_name_their_library(hint: str, library: str | None) -> None:
    from depscan.native.classifiers import classifier_for

    found = classifier_for(hint)
    assert (found.name if found else None) == library


@needs_cc
@pytest.mark.parametrize(
    ("file_name", "version"),
    [
        ("libfreetype-8b16add1.so.6.20.0", "2.13.1"),  # Pillow 10.0.0's
        ("libfreetype.so.6.18.3", "2.12.1"),  # Debian 12's
        ("libfreetype.so.6.10.2", "2.5.0"),  # the oldest row of FreeType's docs/VERSIONS.TXT
        ("libfreetype.so.6.20.6", None),  # newer than the table: named only
    ],
)
def test_freetype_s_published_table(tmp_path: Path, file_name: str, version: str | None) -> None:
    lib = build(tmp_path, "plain", "int FT_Init_FreeType(void **l) { return !l; }\n")
    (freetype,) = ids(lib, "libfreetype", file_name)
    assert (freetype.library, freetype.version) == ("freetype", version)
    assert freetype.evidence[0].method == ("soname" if version else "file-name")


def test_repeated_text_is_bounded(tmp_path: Path) -> None:
    # a file of one banner's literal start over and over, then a real banner: the search stops trying
    # (bounded work), and a file of real banners stops at the match cap
    from depscan.native import identify as identify_module

    header = bytearray(64)
    header[:16] = b"\x7fELF\x02\x01\x01" + bytes(9)
    header[16:18] = (3).to_bytes(2, "little")
    header[18:20] = (62).to_bytes(2, "little")
    header[20:24] = (1).to_bytes(4, "little")
    header[52:54] = (64).to_bytes(2, "little")
    noise = b"OpenSSL x" * (identify_module._MAX_TRIES + 10)
    data = bytes(header) + noise + b"\x00expat_2.2.10\x00OpenSSL 1.1.1k  25 Mar 2021\x00"
    found = summary(identify(ELFFile(BytesIO(data)), data, None))
    assert found == [("expat", "2.2.10", "banner", "medium", True)]  # openssl's tries ran out in the noise
    many = bytes(header) + b"".join(b"\x00expat_2.%d.0\x00" % i for i in range(200))
    versions = identify(ELFFile(BytesIO(many)), many, None)
    assert len(versions) == identify_module._MAX_BANNERS
