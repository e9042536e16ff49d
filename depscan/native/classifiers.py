"""The classifier DATA table: one entry per upstream native library (see ``docs/native.md``).

Each entry says what the library is called upstream, its CPE vendor/product, the file-name/SONAME stems
that name it (auditwheel's renaming undone by the cataloger: ``libssl-3a880ada.so.1.1`` -> ``libssl``), the
exported symbols that are the library's own API (the own-code rule: a file that imports them without
defining them links against the library, it does not contain it), and its version evidence, strongest first:

1. ``accessors``: exported functions that return a constant (``WebPGetDecoderVersion`` -> ``0x010301``) or a
   pointer to a constant string (``zlibVersion`` -> ``"1.2.13"``), and exported data holding one
   (``xsltLibxsltVersion`` = ``10138``), decoded by ``accessors.py``; each says how its value becomes a version.
2. ``banners``: regexes over the library's own read-only data, with exactly one capturing group (the
   version). Every banner is anchored on text the library itself defines (never a bare ``"1.6.37"``, which any
   program compiled against the header carries).
3. ``sonames``: how the file's real name (or SONAME) maps to the release, where upstream publishes that
   (libtool ``-version-info`` tables, or a real name that is the version).

Every entry quotes, in comments, the real strings, values and instruction sequences it was checked against
(``strings -a``/``objdump -d`` on the named real build: Debian 12 packages, and the manylinux wheels that
``bench/bench_native_ids.py`` downloads: Pillow 10.0.0, cryptography 41.0.3, psycopg2-binary 2.9.7,
lxml 4.9.3, numpy 1.25.2).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

AccessorKind = Literal["int", "str", "data-int", "data-str"]
"""``int``: a function returning a constant integer (``mov eax, imm32; ret``); ``str``: a function returning
a pointer to a constant string (``lea rax, [rip+d]; ret``); ``data-int``: an exported 32-bit integer object;
``data-str``: an exported pointer object to a string (``const char *xmlParserVersion``)."""


# -- how an accessor's integer becomes a version ---------------------------------------------------------------

def _bytes3(v: int) -> str | None:
    """(major << 16) | (minor << 8) | revision: libwebp's WEBP_DECODER_ABI/``WebPGetDecoderVersion``."""
    return f"{v >> 16}.{(v >> 8) & 0xFF}.{v & 0xFF}" if 0 < v < 1 << 24 else None


def _openssl(v: int) -> str | None:
    """OPENSSL_VERSION_NUMBER. 3.x: 0xMNN00PP0 (``0x30100020`` = 3.1.2); 1.x/0.9.x: 0xMNNFFPPS, the patch a
    letter (``0x1010116f`` = 1.1.1v)."""
    major = v >> 28
    if major >= 3:
        return f"{major}.{(v >> 20) & 0xFF}.{(v >> 4) & 0xFF}"
    if major in (0, 1) and v:
        patch = (v >> 4) & 0xFF
        letter = chr(ord("a") + patch - 1) if 0 < patch <= 26 else ""
        return f"{major}.{(v >> 20) & 0xFF}.{(v >> 12) & 0xFF}{letter}"
    return None


def _sqlite(v: int) -> str | None:
    """SQLITE_VERSION_NUMBER: X*1000000 + Y*1000 + Z (3040001 = 3.40.1)."""
    return f"{v // 1000000}.{v // 1000 % 1000}.{v % 1000}" if 3000000 <= v < 10000000 else None


def _decimal2(v: int) -> str | None:
    """major*10000 + minor*100 + patch (ZSTD_VERSION_NUMBER 10505, PNG_LIBPNG_VER 10640, LIBXSLT_VERSION 10138,
    LIBXML_VERSION 21003)."""
    return f"{v // 10000}.{v // 100 % 100}.{v % 100}" if 0 < v < 1000000 else None


def _lzma(v: int) -> str | None:
    """LZMA_VERSION: major*10000000 + minor*10000 + patch*10 + stability (0 alpha, 1 beta, 2 stable)."""
    if not 10000000 <= v < 100000000:
        return None
    base = f"{v // 10000000}.{v // 10000 % 1000}.{v // 10 % 1000}"
    return base + {0: "alpha", 1: "beta", 2: ""}.get(v % 10, "")


def _postgres(v: int) -> str | None:
    """PG_VERSION_NUM as PQlibVersion returns it: 150003 = 15.3 (10 and later), 90624 = 9.6.24."""
    if 100000 <= v < 1000000:
        return f"{v // 10000}.{v % 10000}"
    return f"{v // 10000}.{v // 100 % 100}.{v % 100}" if 70000 <= v < 100000 else None


def _lcms(v: int) -> str | None:
    """LCMS_VERSION: 2150 = 2.15, 2090 = 2.9."""
    return f"{v // 1000}.{v % 1000 // 10}" if 1000 <= v < 10000 else None


def _brotli(v: int) -> str | None:
    """BROTLI_VERSION: (major << 24) | (minor << 12) | patch (0x1000009 = 1.0.9)."""
    return f"{v >> 24}.{(v >> 12) & 0xFFF}.{v & 0xFFF}" if 0 < v < 1 << 32 else None


def _sharpyuv(v: int) -> str | None:
    """SHARPYUV_VERSION: (major << 24) | (minor << 16) | patch (0x20001 = 0.2.1)."""
    return f"{v >> 24}.{(v >> 16) & 0xFF}.{v & 0xFFFF}" if 0 < v < 1 << 32 else None


def _iconv(v: int) -> str | None:
    """_LIBICONV_VERSION: (major << 8) | minor (0x0111 = 1.17)."""
    return f"{v >> 8}.{v & 0xFF}" if 0x100 <= v < 0x10000 else None


@dataclass(frozen=True, slots=True)
class Accessor:
    symbol: str  # the exported function or object
    kind: AccessorKind
    decode: Callable[[int], str | None] | None = None  # int kinds; str kinds: applied to int(group 1) if set
    pattern: bytes | None = None  # str kinds: a regex over the string, group 1 the version


@dataclass(frozen=True, slots=True)
class Classifier:
    name: str  # upstream name, as reported: "openssl", "zlib"
    vendor: str | None  # CPE 2.3 vendor
    product: str | None  # CPE 2.3 product
    names: tuple[str, ...]  # file-name / SONAME stems that name this library ("libssl", "libcrypto")
    symbols: tuple[str, ...]  # the library's own exported API (own-code rule)
    banners: tuple[bytes, ...] = ()  # regexes with one group, the version
    accessors: tuple[Accessor, ...] = ()
    sonames: tuple[tuple[str, str], ...] = ()  # (regex fullmatching the real name, version template)
    name_pattern: str | None = None  # stems the exact ``names`` miss ("libopenblas64_p-r0.3.23.dev")

    def cpe(self, version: str | None) -> str | None:
        if version is None or self.vendor is None or self.product is None:
            return None
        return f"cpe:2.3:a:{self.vendor}:{self.product}:{version}:*:*:*:*:*:*:*"


# FreeType's docs/VERSIONS.TXT, section 2 (release -> shared object number), 2.14.0 back to 2.5.0
_FREETYPE_SONAMES: tuple[tuple[str, str], ...] = (
    (r"libfreetype\.so\.6\.20\.3", "2.14.0"),
    (r"libfreetype\.so\.6\.20\.2", "2.13.3"),
    (r"libfreetype\.so\.6\.20\.1", "2.13.2"),
    (r"libfreetype\.so\.6\.20\.0", "2.13.1"),
    (r"libfreetype\.so\.6\.19\.0", "2.13.0"),
    (r"libfreetype\.so\.6\.18\.3", "2.12.1"),
    (r"libfreetype\.so\.6\.18\.2", "2.12.0"),
    (r"libfreetype\.so\.6\.18\.1", "2.11.1"),
    (r"libfreetype\.so\.6\.18\.0", "2.11.0"),
    (r"libfreetype\.so\.6\.17\.4", "2.10.4"),
    (r"libfreetype\.so\.6\.17\.3", "2.10.3"),
    (r"libfreetype\.so\.6\.17\.2", "2.10.2"),
    (r"libfreetype\.so\.6\.17\.1", "2.10.1"),
    (r"libfreetype\.so\.6\.17\.0", "2.10.0"),
    (r"libfreetype\.so\.6\.16\.1", "2.9.1"),
    (r"libfreetype\.so\.6\.16\.0", "2.9.0"),
    (r"libfreetype\.so\.6\.15\.0", "2.8.1"),
    (r"libfreetype\.so\.6\.14\.0", "2.8.0"),
    (r"libfreetype\.so\.6\.13\.0", "2.7.1"),
    (r"libfreetype\.so\.6\.12\.6", "2.7.0"),
    (r"libfreetype\.so\.6\.12\.5", "2.6.5"),
    (r"libfreetype\.so\.6\.12\.4", "2.6.4"),
    (r"libfreetype\.so\.6\.12\.3", "2.6.3"),
    (r"libfreetype\.so\.6\.12\.2", "2.6.2"),
    (r"libfreetype\.so\.6\.12\.1", "2.6.1"),
    (r"libfreetype\.so\.6\.12\.0", "2.6.0"),
    (r"libfreetype\.so\.6\.11\.4", "2.5.5"),
    (r"libfreetype\.so\.6\.11\.3", "2.5.4"),
    (r"libfreetype\.so\.6\.11\.2", "2.5.3"),
    (r"libfreetype\.so\.6\.11\.1", "2.5.2"),
    (r"libfreetype\.so\.6\.11\.0", "2.5.1"),
    (r"libfreetype\.so\.6\.10\.2", "2.5.0"),
)

_NUM = rb"(\d+\.\d+\.\d+)"  # a string accessor that returns exactly "X.Y.Z"
_DOTTED = r"(\d+(?:\.\d+)+)"  # a real name whose version suffix is the release

CLASSIFIERS: tuple[Classifier, ...] = (
    Classifier(
        "openssl",
        "openssl",
        "openssl",
        ("libssl", "libcrypto"),
        ("OpenSSL_version", "OpenSSL_version_num", "SSLeay", "SSLeay_version"),
        # libcrypto's OPENSSL_VERSION_TEXT: "OpenSSL 1.1.1k  25 Mar 2021" (1.1.x: two spaces),
        # "OpenSSL 3.0.19 27 Jan 2026" (Debian 12 libcrypto.so.3), "OpenSSL 1.0.2u  20 Dec 2019",
        # "OpenSSL 1.1.1v  1 Aug 2023" (psycopg2-binary 2.9.7's libssl and libcrypto), "OpenSSL 3.1.2 1 Aug 2023"
        # (cryptography 41.0.3's _rust.abi3.so, linked statically); a "-fips"/"-dev" suffix may follow.
        (rb"OpenSSL (\d+\.\d+\.\d+[a-z]{0,2})(?:-[A-Za-z0-9_.]+)?  ?\d{1,2} [A-Z][a-z]{2} \d{4}",),
        # psycopg2-binary 2.9.7's libcrypto-435d27ef.so.1.1: OpenSSL_version_num = b8 6f 11 10 10 c3
        # (mov eax, 0x1010116f; ret: 1.1.1v); SSLeay is the 1.0.x name of the same function.
        (Accessor("OpenSSL_version_num", "int", _openssl), Accessor("SSLeay", "int", _openssl)),
        # libssl.so.1.1 / libssl.so.3 name a series, not a release: no table.
    ),
    Classifier(
        "zlib",
        "zlib",
        "zlib",
        ("libz",),
        ("zlibVersion", "inflate", "deflate", "inflateInit_", "deflateInit_"),
        # inflate.c's inflate_copyright: " inflate 1.2.13 Copyright 1995-2022 Mark Adler "
        # deflate.c's deflate_copyright: " deflate 1.2.11 Copyright 1995-2017 Jean-loup Gailly and Mark Adler "
        (
            rb" inflate (\d+\.\d+(?:\.\d+){0,2}(?:\.[A-Za-z0-9-]+)?) Copyright 1995-",
            rb" deflate (\d+\.\d+(?:\.\d+){0,2}(?:\.[A-Za-z0-9-]+)?) Copyright 1995-",
        ),
        # lxml 4.9.3's etree module exports zlib's zlibVersion: 48 8d 05 b4 2a 05 00 c3 (lea rax,[rip+..]; ret)
        # -> ZLIB_VERSION "1.2.13"
        (Accessor("zlibVersion", "str", pattern=rb"(\d+\.\d+(?:\.\d+){0,2}(?:\.[A-Za-z0-9-]+)?)"),),
        # libz.so.1.2.13 (Debian 12): the real name's suffix is the release
        ((r"libz\.so\.(1\.\d+\.\d+(?:\.\d+)?)", r"\1"),),
    ),
    Classifier(
        "libpng",
        "libpng",
        "libpng",
        ("libpng", "libpng16", "libpng12"),
        ("png_access_version_number", "png_create_read_struct", "png_create_write_struct", "png_get_libpng_ver"),
        # png.c's png_get_header_version / png_get_copyright (libpng16.so.16 of Debian 12):
        # " libpng version 1.6.39 - November 20, 2022\n" and " libpng version 1.6.39\nCopyright ..."
        # (importers carry only the bare PNG_LIBPNG_VER_STRING "1.6.39", which no banner matches)
        (rb"libpng version (\d+\.\d+\.\d+(?:\.\d+)?)(?: - |\n)",),
        # Pillow 10.0.0's libpng16-39c06ea1.so.16.40.0: png_access_version_number =
        # 55 48 89 e5 b8 90 29 00 00 5d c3 (push rbp; mov rbp,rsp; mov eax, 10640; pop rbp; ret) -> 1.6.40;
        # aarch64: 52853200 d65f03c0 (mov w0, #0x2990; ret)
        (Accessor("png_access_version_number", "int", _decimal2),),
        # libpng16.so.16.40.0 is libpng 1.6.40 (PNGLIB_RELEASE in the real name), libpng12.so.0.59.0 is 1.2.59
        ((r"libpng16\.so\.16\.(\d+)\.0", r"1.6.\1"), (r"libpng12\.so\.0\.(\d+)\.0", r"1.2.\1")),
    ),
    Classifier(
        "sqlite",
        "sqlite",
        "sqlite",
        ("libsqlite3", "libsqlite"),
        ("sqlite3_libversion", "sqlite3_libversion_number", "sqlite3_open_v2", "sqlite3_prepare_v2"),
        # no banner: sqlite3_version[] is a bare "3.40.1" next to a dateline source id without the version.
        # sqlite3_libversion_number(): mov eax, SQLITE_VERSION_NUMBER (3040001); ret.
        # sqlite3_libversion(): lea rax, [rip+sqlite3_version]; ret -> "3.40.1".
        (),
        (Accessor("sqlite3_libversion_number", "int", _sqlite), Accessor("sqlite3_libversion", "str", pattern=_NUM)),
        # libsqlite3.so.0.8.6 is every 3.x release: no table.
    ),
    Classifier(
        "libjpeg-turbo",
        "libjpeg-turbo",
        "libjpeg-turbo",
        ("libjpeg", "libturbojpeg"),
        ("jpeg_CreateDecompress", "jpeg_CreateCompress", "jpeg_std_error", "tjInitDecompress"),
        # jversion.h's JVERSION-based string in libjpeg.so.62.3.0 (Debian 12):
        # "libjpeg-turbo version 2.1.5 (build 20230203)"; Pillow 10.0.0's Pillow.libs/libjpeg-6d18ab84.so.62.3.0:
        # "libjpeg-turbo version 2.1.5.1 (build 20230701)"
        (rb"libjpeg-turbo version (\d+\.\d+\.\d+(?:\.\d+)?) \(build \d{8}\)",),
        # no accessor; libjpeg.so.62.3.0 is every 2.x release: no table.
    ),
    Classifier(
        "libxml2",
        "xmlsoft",
        "libxml2",
        ("libxml2",),
        ("xmlCheckVersion", "xmlReadMemory", "xmlParseDocument", "xmlInitParser"),
        # no anchored banner: xmlParserVersion is a bare "21003" (LIBXML_VERSION_STRING).
        (),
        # lxml 4.9.3's etree module exports libxml2's `const char *xmlParserVersion` (.data, 8 bytes) pointing at
        # "21003" (the pointer's relocation addend, also written in place by GNU ld on x86_64) -> 2.10.3
        (Accessor("xmlParserVersion", "data-str", _decimal2, rb"(\d{5,6})"),),
        # libxml2.so.2.9.14 (Debian 12): the real name's suffix is the release
        ((r"libxml2\.so\." + _DOTTED, r"\1"),),
    ),
    Classifier(
        "libxslt",
        "xmlsoft",
        "libxslt",
        ("libxslt", "libexslt"),
        ("xsltParseStylesheetDoc", "xsltApplyStylesheet", "xsltInit", "xsltLibxsltVersion"),
        # no banner: xsltEngineVersion is a bare "1.1.38".
        (),
        # lxml 4.9.3's etree module: `const int xsltLibxsltVersion` (.rodata) = 9a 27 00 00 = 10138 -> 1.1.38
        # (xsltLibxmlVersion beside it is the libxml2 header libxslt was built against: not libxslt's own)
        (Accessor("xsltLibxsltVersion", "data-int", _decimal2), Accessor("exsltLibxsltVersion", "data-int", _decimal2)),
        # libxslt.so.1.1.35 (Debian 12): the real name's suffix is the release
        ((r"libxslt\.so\." + _DOTTED, r"\1"),),
    ),
    Classifier(
        "expat",
        "libexpat_project",
        "libexpat",
        ("libexpat",),
        ("XML_ExpatVersion", "XML_ExpatVersionInfo", "XML_ParserCreate", "XML_Parse"),
        # xmlparse.c's XML_ExpatVersion() returns "expat_2.5.0" (libexpat.so.1 of Debian 12)
        (rb"expat_(\d+\.\d+\.\d+)\x00",),
        (Accessor("XML_ExpatVersion", "str", pattern=rb"expat_(\d+\.\d+\.\d+)"),),
    ),
    Classifier(
        "libtiff",
        "libtiff",
        "libtiff",
        ("libtiff",),
        ("TIFFGetVersion", "TIFFOpen", "TIFFClientOpen", "TIFFReadDirectory"),
        # tif_version.c's TIFFVersion (tiffvers.h TIFFLIB_VERSION_STR):
        # "LIBTIFF, Version 4.1.0\nCopyright (c) 1988-1996 Sam Leffler\n..."; Pillow 10.0.0's libtiff-189042a3.so.6.0.1:
        # "LIBTIFF, Version 4.5.1\n"
        (rb"LIBTIFF, Version (\d+\.\d+\.\d+)\n",),
        # Pillow 10.0.0's libtiff: TIFFGetVersion = 55 48 89 e5 48 8d 05 a6 a3 02 00 5d c3 (lea rax,[rip+..]; ret)
        (Accessor("TIFFGetVersion", "str", pattern=rb"LIBTIFF, Version (\d+\.\d+\.\d+)"),),
    ),
    Classifier(
        "freetype",
        "freetype",
        "freetype",
        ("libfreetype",),
        ("FT_Library_Version", "FT_Init_FreeType", "FT_New_Face", "FT_Done_FreeType"),
        # no banner: libfreetype.so.6 holds no version text; FT_Library_Version reads the version from the
        # library object (set in FT_New_Library), not a constant.
        (),
        (),
        # FreeType's docs/VERSIONS.TXT publishes, per release since 2.5.0, the shared object number "found on
        # most systems, but not all" (hence low): "2.13.1  26.0.20  6.20.0" -- checked against Pillow 10.0.0's
        # libfreetype-8b16add1.so.6.20.0 and Debian 12's libfreetype.so.6.18.3 (libfreetype6 2.12.1+dfsg)
        _FREETYPE_SONAMES,
    ),
    Classifier(
        "libwebp",
        "webmproject",
        "libwebp",
        ("libwebp", "libwebpdemux", "libwebpmux", "libwebpdecoder"),
        ("WebPGetDecoderVersion", "WebPGetEncoderVersion", "WebPDecode", "WebPGetInfo", "WebPGetDemuxVersion",
         "WebPGetMuxVersion"),
        # no banner: the version is only the constant the accessors return.
        (),
        # Pillow 10.0.0's libwebp-8b6d8948.so.7.1.7 (x86_64): WebPGetDecoderVersion = b8 01 03 01 00 c3
        # (mov eax, 0x10301; ret) -> 1.3.1, the version of CVE-2023-4863; aarch64 (libwebp-e14d733e.so.7.1.7):
        # 52806020 72a00020 d65f03c0 (mov w0, #0x301; movk w0, #0x1, lsl #16; ret). Its libwebpdemux and
        # libwebpmux return the same from WebPGetDemuxVersion / WebPGetMuxVersion.
        (
            Accessor("WebPGetDecoderVersion", "int", _bytes3),
            Accessor("WebPGetEncoderVersion", "int", _bytes3),
            Accessor("WebPGetDemuxVersion", "int", _bytes3),
            Accessor("WebPGetMuxVersion", "int", _bytes3),
        ),
        # libwebp's libtool -version-info per release (its makefiles): 1.3.1 -> libwebp.so.7.1.7,
        # libwebpdemux.so.2.0.13, libwebpmux.so.3.0.12 (Pillow 10.0.0's Pillow.libs); 1.2.4 -> libwebp.so.7.1.5,
        # libwebpdemux.so.2.0.11, libwebpmux.so.3.0.10 (Debian 12's libwebp7/libwebpdemux2/libwebpmux3 1.2.4)
        (
            (r"libwebp\.so\.7\.1\.7", "1.3.1"),
            (r"libwebpdemux\.so\.2\.0\.13", "1.3.1"),
            (r"libwebpmux\.so\.3\.0\.12", "1.3.1"),
            (r"libwebp\.so\.7\.1\.5", "1.2.4"),
            (r"libwebpdemux\.so\.2\.0\.11", "1.2.4"),
            (r"libwebpmux\.so\.3\.0\.10", "1.2.4"),
        ),
    ),
    Classifier(
        "libsharpyuv",
        None,  # part of libwebp, versioned on its own: no CPE product of its own
        None,
        ("libsharpyuv",),
        ("SharpYuvGetVersion", "SharpYuvConvert", "SharpYuvInit"),
        (),
        # Pillow 10.0.0's libsharpyuv-20f78091.so.0.0.1: SharpYuvGetVersion = b8 01 00 02 00 c3 (mov eax, 0x20001)
        # -> 0.2.1 (libwebp 1.3.1's sharpyuv)
        (Accessor("SharpYuvGetVersion", "int", _sharpyuv),),
    ),
    Classifier(
        "curl",
        "haxx",
        "curl",
        ("libcurl", "libcurl-gnutls"),
        ("curl_version", "curl_version_info", "curl_easy_init", "curl_easy_perform", "curl_global_init"),
        # version.c's curl_version() starts from the literal "libcurl/" LIBCURL_VERSION: "libcurl/7.88.1"
        # (libcurl.so.4.8.0 of Debian 12), NUL-terminated; the TLS/zlib parts are appended at run time.
        (rb"libcurl/(\d+\.\d+\.\d+(?:-DEV)?)\x00",),
        # libcurl.so.4.8.0 is every 7.x/8.x release since 7.62: no table.
    ),
    Classifier(
        "zstd",
        "facebook",
        "zstandard",
        ("libzstd",),
        ("ZSTD_versionNumber", "ZSTD_versionString", "ZSTD_compress", "ZSTD_decompress"),
        (),
        # ZSTD_versionNumber(): mov eax, ZSTD_VERSION_NUMBER (10505 for 1.5.5); ret
        (Accessor("ZSTD_versionNumber", "int", _decimal2), Accessor("ZSTD_versionString", "str", pattern=_NUM)),
        # libzstd.so.1.5.4 (Debian 12): the real name's suffix is the release
        ((r"libzstd\.so\." + _DOTTED, r"\1"),),
    ),
    Classifier(
        "xz",
        "tukaani",
        "xz",
        ("liblzma",),
        ("lzma_version_number", "lzma_version_string", "lzma_code", "lzma_end"),
        (),
        # Pillow 10.0.0's liblzma-9dd5c569.so.5.4.3: lzma_version_number = 55 48 89 e5 b8 e0 8c fb 02 5d c3
        # (mov eax, 50040032) -> 5.4.3 (stable); aarch64: 52919c00 72a05f60 d65f03c0
        (Accessor("lzma_version_number", "int", _lzma), Accessor("lzma_version_string", "str", pattern=_NUM)),
        # liblzma.so.5.4.3: the real name's suffix is the release
        ((r"liblzma\.so\.(5\.\d+\.\d+)", r"\1"),),
    ),
    Classifier(
        "bzip2",
        "bzip",
        "bzip2",
        ("libbz2",),
        ("BZ2_bzlibVersion", "BZ2_bzCompress", "BZ2_bzDecompress", "BZ2_bzDecompressInit"),
        (),
        # BZ2_bzlibVersion() returns BZ_VERSION: "1.0.8, 13-Jul-2019" (libbz2.so.1.0.4 of Debian 12)
        (Accessor("BZ2_bzlibVersion", "str", pattern=rb"(\d+\.\d+\.\d+), \d"),),
        # libbz2.so.1.0.8 (manylinux builds): the real name's suffix is the release; Debian's libbz2.so.1.0.4
        # is 1.0.8 too (its SONAME never moved), so only suffixes past 1.0.4 are believed
        ((r"libbz2\.so\.(1\.0\.[5-9])", r"\1"),),
    ),
    Classifier(
        "libpq",
        "postgresql",
        "postgresql",
        ("libpq",),
        ("PQlibVersion", "PQconnectdb", "PQexec", "PQfinish"),
        (),
        # psycopg2-binary 2.9.7's libpq-7e710c18.so.5.15: PQlibVersion = b8 f3 49 02 00 c3 (mov eax, 150003; ret)
        # -> 15.3
        (Accessor("PQlibVersion", "int", _postgres),),
        # libpq.so.5.15 is every 15.x: the major only, no release
    ),
    Classifier(
        "openblas",
        "openblas_project",
        "openblas",
        ("libopenblas", "libopenblasp", "libopenblas64_", "libopenblas64_p"),
        ("openblas_get_config", "openblas_get_parallel", "openblas_set_num_threads", "openblas_set_num_threads64_"),
        # openblas_get_config.c's openblas_config_str: "OpenBLAS 0.3.23.dev  USE64BITINT DYNAMIC_ARCH NO..."
        # (numpy 1.25.2's libopenblas64_p-r0-5007b62f.3.23.dev.so)
        (rb"OpenBLAS (\d+\.\d+\.\d+(?:\.dev)?) ",),
        (),
        # the real name carries the release: libopenblas64_p-r0.3.23.dev.so (auditwheel's hash removed),
        # libopenblasp-r0.3.21.so
        ((r"libopenblas(?:64_)?p?-r(\d+\.\d+\.\d+(?:\.dev)?)\.so", r"\1"),),
        # SciPy's builds (scipy-openblas): libscipy_openblas-b75cc656.so, libscipy_openblas64_-56d6093b.so
        r"lib(?:scipy_)?openblas[A-Za-z0-9_]*(?:-r[0-9.a-z]+)?",
    ),
    Classifier(
        "libffi",
        "libffi_project",
        "libffi",
        ("libffi",),
        ("ffi_prep_cif", "ffi_call", "ffi_closure_alloc", "ffi_get_version"),
        (),
        # libffi 3.4.5 added ffi_get_version() (returns FFI_VERSION_STRING "3.4.6") and
        # ffi_get_version_number() (FFI_VERSION_NUMBER 30406)
        (Accessor("ffi_get_version_number", "int", _decimal2), Accessor("ffi_get_version", "str", pattern=_NUM)),
        # libtool real names: libffi.so.8.1.2 is 3.4.4 (Debian 12's libffi8 3.4.4-1)
        ((r"libffi\.so\.8\.1\.2", "3.4.4"),),
    ),
    Classifier(
        "lcms2",
        "littlecms",
        "little_cms_color_engine",
        ("liblcms2",),
        ("cmsGetEncodedCMMversion", "cmsOpenProfileFromMem", "cmsCreateTransform", "cmsCloseProfile"),
        (),
        # Pillow 10.0.0's liblcms2-0821774a.so.2.0.15: cmsGetEncodedCMMversion = 55 48 89 e5 b8 66 08 00 00 5d c3
        # (mov eax, 2150) -> 2.15
        (Accessor("cmsGetEncodedCMMversion", "int", _lcms),),
        # liblcms2.so.2.0.15 is lcms2 2.15, liblcms2.so.2.0.14 (Debian 12) 2.14
        ((r"liblcms2\.so\.2\.0\.(\d+)", r"2.\1"),),
    ),
    Classifier(
        "openjpeg",
        "uclouvain",
        "openjpeg",
        ("libopenjp2",),
        ("opj_version", "opj_create_decompress", "opj_decode", "opj_read_header"),
        (),
        # Pillow 10.0.0's libopenjp2-20e347f0.so.2.5.0: opj_version = 55 48 89 e5 48 8d 05 60 b5 03 00 5d c3
        # -> "2.5.0"; aarch64: 90000200 9121a000 d65f03c0 (adrp x0; add x0, x0, #0x868; ret)
        (Accessor("opj_version", "str", pattern=_NUM),),
        # libopenjp2.so.2.5.0: the real name's suffix is the release
        ((r"libopenjp2\.so\.(2\.\d+\.\d+)", r"\1"),),
    ),
    Classifier(
        "harfbuzz",
        "harfbuzz_project",
        "harfbuzz",
        ("libharfbuzz", "libharfbuzz-subset"),
        ("hb_version_string", "hb_version", "hb_buffer_create", "hb_shape"),
        (),
        # Pillow 10.0.0's libharfbuzz-adaef2a2.so.0.60730.0: hb_version_string = 55 48 89 e5 48 8d 05 3c ee 15 00
        # 5d c3 -> "7.3.0"
        (Accessor("hb_version_string", "str", pattern=_NUM),),
        # real names differ by build system (Debian 12's 6.0.0 is libharfbuzz.so.0.60000.0): no table.
    ),
    Classifier(
        "brotli",
        "google",
        "brotli",
        ("libbrotlidec", "libbrotlienc", "libbrotlicommon"),
        ("BrotliDecoderVersion", "BrotliEncoderVersion", "BrotliDecoderDecompress", "BrotliEncoderCompress"),
        (),
        # Pillow 10.0.0's libbrotlidec-7a796284.so.1.0.9: BrotliDecoderVersion = b8 09 00 00 01 c3
        # (mov eax, 0x1000009; ret) -> 1.0.9
        (Accessor("BrotliDecoderVersion", "int", _brotli), Accessor("BrotliEncoderVersion", "int", _brotli)),
        # libbrotlidec.so.1.0.9: the real name's suffix is the release
        ((r"libbrotli(?:dec|enc|common)\.so\.(1\.\d+\.\d+)", r"\1"),),
    ),
    Classifier(
        "libyaml",
        "pyyaml",
        "libyaml",
        ("libyaml", "libyaml-0"),
        ("yaml_get_version_string", "yaml_get_version", "yaml_parser_initialize", "yaml_parser_parse"),
        (),
        # yaml_get_version_string() returns YAML_VERSION_STRING: "0.2.5" (libyaml-0.so.2.0.9 of Debian 12)
        (Accessor("yaml_get_version_string", "str", pattern=_NUM),),
    ),
    Classifier(
        "krb5",
        "mit",
        "kerberos_5",
        ("libkrb5", "libgssapi_krb5", "libk5crypto", "libkrb5support"),
        ("krb5_init_context", "krb5_free_context", "gss_init_sec_context", "krb5int_buf_init"),
        # the build's brand: "KRB5_BRAND: krb5-1.15.1-final 1.15.1 20170302" (psycopg2-binary 2.9.7's libkrb5)
        (rb"KRB5_BRAND: krb5-(\d+\.\d+(?:\.\d+)?)-final ",),
    ),
    Classifier(
        "libiconv",
        "gnu",
        "libiconv",
        ("libiconv",),
        ("libiconv_open", "libiconv", "libiconv_close"),
        (),
        # lxml 4.9.3's etree module: `const int _libiconv_version` (.data) = 11 01 00 00 (0x0111) -> 1.17
        (Accessor("_libiconv_version", "data-int", _iconv),),
    ),
    Classifier(
        "pcre",
        "pcre",
        "pcre",
        ("libpcre",),
        ("pcre_version", "pcre_compile", "pcre_exec"),
        (),
        # pcre_version() returns "8.32 2012-11-30" (psycopg2-binary 2.9.7's libpcre-9513aab5.so.1.2.0)
        (Accessor("pcre_version", "str", pattern=rb"(\d+\.\d+) \d{4}-\d\d-\d\d"),),
    ),
    Classifier(
        "libavif",
        "aomedia",
        "libavif",
        ("libavif",),
        ("avifVersion", "avifDecoderCreate", "avifEncoderCreate", "avifImageCreate"),
        (),
        # Pillow's libavif-0b1c2ae7.so.16.4.1 (the benchmark Lambda zip): avifVersion = 48 8d 05 a9 bf 63 00 c3
        # (lea rax,[rip+..]; ret) -> AVIF_VERSION_STRING "1.4.1"
        (Accessor("avifVersion", "str", pattern=_NUM),),
    ),
    Classifier(
        "dav1d",
        "videolan",
        "dav1d",
        ("libdav1d",),
        ("dav1d_version", "dav1d_open", "dav1d_send_data", "dav1d_get_picture"),
        (),
        # linked into the same libavif and exported: dav1d_version = 48 8d 05 8b 51 6e 00 c3 (lea; ret) -> "1.5.3"
        (Accessor("dav1d_version", "str", pattern=_NUM),),
    ),
    Classifier(
        "libaom",
        "aomedia",
        "aomedia",
        ("libaom",),
        ("aom_codec_version", "aom_codec_encode", "aom_codec_decode", "aom_codec_enc_init_ver"),
        # the encoder interface's name: "AOMedia Project AV1 Encoder 3.13.2" (the same libavif, aom linked in
        # statically); "AOMedia Project AV1 Decoder v3.8.2" in other builds
        (rb"AOMedia Project AV1 (?:Encoder|Decoder) v?(\d+\.\d+\.\d+)",),
    ),
    Classifier(
        "libgfortran",
        "gnu",
        "gcc",
        ("libgfortran",),
        ("_gfortran_st_write", "_gfortran_runtime_error", "_gfortran_set_args"),
        # part of GCC; its files hold no GCC release (no .comment in numpy 1.25.2's libgfortran-040039e1.so.5.0.0)
        # and libgfortran.so.5 is every GCC since 8: named only.
    ),
    Classifier(
        "libquadmath",
        "gnu",
        "gcc",
        ("libquadmath",),
        ("quadmath_snprintf", "strtoflt128", "sqrtq"),
        # part of GCC, like libgfortran: libquadmath.so.0.0.0 names no release.
    ),
)

BY_NAME: dict[str, Classifier] = {c.name: c for c in CLASSIFIERS}
BY_HINT: dict[str, Classifier] = {stem: c for c in CLASSIFIERS for stem in c.names}
_BY_PATTERN: tuple[tuple[re.Pattern[str], Classifier], ...] = tuple(
    (re.compile(c.name_pattern), c) for c in CLASSIFIERS if c.name_pattern is not None
)


def classifier_for(hint: str | None) -> Classifier | None:
    """The library a file-name stem names: an exact stem first, then the entries' ``name_pattern``."""
    if not hint:
        return None
    found = BY_HINT.get(hint)
    if found is not None:
        return found
    for pattern, classifier in _BY_PATTERN:
        if pattern.fullmatch(hint):
            return classifier
    return None


_META = frozenset(b"\\()[]{}.*+?|^$")


def _literal_prefix(banner: bytes) -> bytes:
    """The literal text a banner regex starts with (up to its first metacharacter; a character that a
    quantifier follows is not part of it)."""
    end = 0
    while end < len(banner) and banner[end] not in _META:
        end += 1
    if end < len(banner) and banner[end] in b"*+?{":
        end -= 1
    return banner[:end]


# Every banner compiled on its own, with its library and the literal it starts with: ``identify`` finds each
# literal with ``bytes.find`` (a C substring search) and tries the regex only there. One alternation of all
# banners is about 3x slower over the same data (``re`` then tests every byte that could start any of them),
# and each regex's own ``finditer`` about 1.3x (docs/native.md).
BANNERS: tuple[tuple[Classifier, re.Pattern[bytes], bytes], ...] = tuple(
    (c, re.compile(banner), _literal_prefix(banner)) for c in CLASSIFIERS for banner in c.banners
)
for _classifier, _pattern, _anchor in BANNERS:
    if _pattern.groups != 1:
        raise ValueError(f"banner {_pattern.pattern!r}: needs exactly one capturing group (the version)")
    if len(_anchor) < 5:
        raise ValueError(f"banner {_pattern.pattern!r}: needs a literal start of 5 bytes or more")


def search_banner(text: bytes) -> tuple[Classifier, re.Match[bytes]] | None:
    """The first banner in ``text`` (for tests and tools; ``identify`` searches a file's data regions)."""
    hits = [(m.start(), c, m) for c, p, _ in BANNERS if (m := p.search(text)) is not None]
    if not hits:
        return None
    _, classifier, match = min(hits, key=lambda hit: hit[0])
    return classifier, match


# Every accessor symbol -> (its classifier, the accessor): each is looked up by name in a file's hash table.
ACCESSORS: dict[str, tuple[Classifier, Accessor]] = {a.symbol: (c, a) for c in CLASSIFIERS for a in c.accessors}
