"""The classifier DATA table: one entry per upstream native library (see ``docs/native.md``).

Each entry says what the library is called upstream, its CPE vendor/product, the file-name/SONAME stems
that name it (auditwheel's renaming undone by the cataloger: ``libssl-3a880ada.so.1.1`` -> ``libssl``), the
exported symbols that are the library's own API (the own-code rule: a file that imports them without
defining them links against the library, it does not contain it), and banner regexes over the library's own
read-only data. A banner regex has exactly one capturing group: the version. Every banner is anchored on
text the library itself defines (never a bare ``"1.6.37"``, which any program compiled against the header
carries). Each entry quotes a real string it matches (``strings -a`` on a real build).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Classifier:
    name: str  # upstream name, as reported: "openssl", "zlib"
    vendor: str | None  # CPE 2.3 vendor
    product: str | None  # CPE 2.3 product
    names: tuple[str, ...]  # file-name / SONAME stems that name this library ("libssl", "libcrypto")
    symbols: tuple[str, ...]  # the library's own exported API (own-code rule)
    banners: tuple[bytes, ...] = ()  # regexes with one group, the version

    def cpe(self, version: str | None) -> str | None:
        if version is None or self.vendor is None or self.product is None:
            return None
        return f"cpe:2.3:a:{self.vendor}:{self.product}:{version}:*:*:*:*:*:*:*"


CLASSIFIERS: tuple[Classifier, ...] = (
    Classifier(
        "openssl",
        "openssl",
        "openssl",
        ("libssl", "libcrypto"),
        ("OpenSSL_version", "OpenSSL_version_num", "SSLeay", "SSLeay_version"),
        # libcrypto's OPENSSL_VERSION_TEXT: "OpenSSL 1.1.1k  25 Mar 2021" (1.1.x: two spaces),
        # "OpenSSL 3.0.19 27 Jan 2026" (Debian 12 libcrypto.so.3), "OpenSSL 1.0.2u  20 Dec 2019";
        # a "-fips"/"-dev" suffix may follow the version.
        (rb"OpenSSL (\d+\.\d+\.\d+[a-z]{0,2})(?:-[A-Za-z0-9_.]+)?  ?\d{1,2} [A-Z][a-z]{2} \d{4}",),
    ),
    Classifier(
        "zlib",
        "zlib",
        "zlib",
        ("libz",),
        ("zlibVersion", "inflate", "deflate", "inflateInit_", "deflateInit_"),
        # inflate.c's inflate_copyright: " inflate 1.2.13 Copyright 1995-2022 Mark Adler "
        # deflate.c's deflate_copyright: " deflate 1.2.11 Copyright 1995-2017 Jean-loup Gailly and Mark Adler "
        (rb" (?:in|de)flate (\d+\.\d+(?:\.\d+){0,2}(?:\.[A-Za-z0-9-]+)?) Copyright 1995-",),
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
    ),
    Classifier(
        "sqlite",
        "sqlite",
        "sqlite",
        ("libsqlite3", "libsqlite"),
        ("sqlite3_libversion", "sqlite3_libversion_number", "sqlite3_open_v2", "sqlite3_prepare_v2"),
        # no banner: sqlite3_version[] is a bare "3.40.1" next to a dateline source id without the version;
        # the version comes from the sqlite3_libversion_number accessor (later).
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
    ),
    Classifier(
        "libxml2",
        "xmlsoft",
        "libxml2",
        ("libxml2",),
        ("xmlCheckVersion", "xmlReadMemory", "xmlParseDocument", "xmlInitParser"),
        # no anchored banner: xmlParserVersion is a bare "20914" (LIBXML_VERSION_STRING); version from the
        # LIBXML2_2.9.x symbol version definitions (later).
    ),
    Classifier(
        "expat",
        "libexpat_project",
        "libexpat",
        ("libexpat",),
        ("XML_ExpatVersion", "XML_ExpatVersionInfo", "XML_ParserCreate", "XML_Parse"),
        # xmlparse.c's XML_ExpatVersion() returns "expat_2.5.0" (libexpat.so.1 of Debian 12)
        (rb"expat_(\d+\.\d+\.\d+)\x00",),
    ),
    Classifier(
        "libtiff",
        "libtiff",
        "libtiff",
        ("libtiff",),
        ("TIFFGetVersion", "TIFFOpen", "TIFFClientOpen", "TIFFReadDirectory"),
        # tif_version.c's TIFFVersion (tiffvers.h TIFFLIB_VERSION_STR):
        # "LIBTIFF, Version 4.1.0\nCopyright (c) 1988-1996 Sam Leffler\n..."
        (rb"LIBTIFF, Version (\d+\.\d+\.\d+)\n",),
    ),
    Classifier(
        "freetype",
        "freetype",
        "freetype",
        ("libfreetype",),
        ("FT_Library_Version", "FT_Init_FreeType", "FT_New_Face", "FT_Done_FreeType"),
        # no banner: libfreetype.so.6 holds no version text; FT_Library_Version sets it from constants (later).
    ),
    Classifier(
        "libwebp",
        "webmproject",
        "libwebp",
        ("libwebp", "libwebpdemux", "libwebpmux", "libsharpyuv"),
        ("WebPGetDecoderVersion", "WebPGetEncoderVersion", "WebPDecode", "WebPGetInfo"),
        # no banner: the version is only the constant WebPGetDecoderVersion returns (0x010301 for 1.3.1; later).
    ),
)

BY_NAME: dict[str, Classifier] = {c.name: c for c in CLASSIFIERS}
BY_HINT: dict[str, Classifier] = {stem: c for c in CLASSIFIERS for stem in c.names}

# One regex over all banners: each banner's version group is named "b<index into BANNER_OWNER>", so a match's
# ``lastgroup`` says which library it is (the version group is each alternative's only capturing group).
BANNER_OWNER: tuple[Classifier, ...] = tuple(c for c in CLASSIFIERS for _ in c.banners)


_VERSION_GROUP = re.compile(rb"(?<!\\)\((?!\?)")  # the first unescaped "(" not followed by "?"


def _one_regex() -> re.Pattern[bytes]:
    parts = []
    for i, banner in enumerate(b for c in CLASSIFIERS for b in c.banners):
        if re.compile(banner).groups != 1:
            raise ValueError(f"banner {banner!r}: needs exactly one capturing group (the version)")
        parts.append(b"(?:" + _VERSION_GROUP.sub(b"(?P<b%d>" % i, banner, count=1) + b")")
    return re.compile(b"|".join(parts))


BANNERS: re.Pattern[bytes] = _one_regex()
