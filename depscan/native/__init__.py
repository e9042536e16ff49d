"""What native (ELF) files really are: their structure (``elf.py``) and the upstream libraries in
them (``identify.py``: a data table of classifiers; exported accessors, banner strings, SONAME tables).

The seam between the two: the native-library cataloger parses a file once with pyelftools and
asks ``identify.identify(elf, data, hint)`` what upstream libraries it holds; each answer is an
``Identification``, which the cataloger turns into a ``models.NativeComponent`` with the file's
location, owner and hash.
"""

from __future__ import annotations

from typing import NamedTuple

from depscan.models import Evidence


class Identification(NamedTuple):
    """One upstream library found in one ELF file."""

    library: str  # the classifier table's name: "openssl", "libwebp", "zlib"
    version: str | None  # None: the library is known, its version is not
    purl: str  # pkg:generic/<library>[@<version>]
    cpe: str | None  # cpe:2.3:a:<vendor>:<product>:<version>:*:*:*:*:*:*:* (None without a version or a known product)
    evidence: tuple[Evidence, ...]  # strongest first
    embedded: bool  # linked statically into a file that is something else (OpenSSL in _rust.abi3.so)
