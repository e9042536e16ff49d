"""Which upstream libraries an ELF file holds (see ``depscan.native``).

For now only the name: a shared library named ``libwebp-74f033ac.so.7.1.7`` (``hint`` = ``libwebp``, the
name the cataloger derives from the file name and SONAME, auditwheel's renaming undone) is reported as that
library with no version, on ``file-name`` evidence. Version classifiers come next.
"""

from __future__ import annotations

from elftools.elf.elffile import ELFFile
from packageurl import PackageURL

from depscan.models import Evidence
from depscan.native import Identification


def identify(elf: ELFFile, data: bytes, hint: str | None) -> list[Identification]:
    """The upstream libraries in the ELF file ``elf`` (parsed from ``data``), strongest evidence first."""
    if not hint:
        return []
    purl = PackageURL(type="generic", name=hint).to_string()
    return [Identification(hint, None, purl, None, (Evidence("file-name", "low", f"file named {hint}"),), False)]
