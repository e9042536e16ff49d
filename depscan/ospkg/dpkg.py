"""dpkg's database of installed packages: ``var/lib/dpkg/status`` and, in distroless images,
one file per package under ``var/lib/dpkg/status.d/`` (beside ``<package>.md5sums`` files, skipped).

Both are deb822 control paragraphs (``man 5 deb-status``, ``man 5 deb822``): ``Field: value``
lines, continuation lines starting with a space or tab, paragraphs separated by blank lines. A
package is installed when the third word of ``Status`` is not ``not-installed`` or
``config-files`` (status.d files have no ``Status`` field: every paragraph is installed).
``Source`` is ``name`` or ``name (version)``; without it the source package is the binary one.

The files a package owns: ``var/lib/dpkg/info/<package>.list`` (``<package>:<arch>.list`` for
Multi-Arch: same packages), one absolute path a line, directories included; distroless images
have no ``info/`` but a ``status.d/<package>.md5sums`` beside each paragraph (``<md5>  <path>``
lines, paths relative to the root, regular files only).
"""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass

from depscan.ospkg import DatabaseError

STATUS = "var/lib/dpkg/status"
STATUS_D = "var/lib/dpkg/status.d/"
INFO = "var/lib/dpkg/info/"

_FIELD = re.compile(r"^([!-9;-~][!-9;-~]*):(.*)$")  # deb822: any printable except ':' and space
_SOURCE = re.compile(r"^(\S+)(?:\s+\((.+)\))?$")
_NOT_INSTALLED = {"not-installed", "config-files"}


def is_status_d(path: str) -> bool:
    """A package's paragraph in a distroless ``status.d/`` (``libssl3``), not its checksums
    (``libssl3.md5sums``, written beside it by newer distroless images)."""
    return path.startswith(STATUS_D) and not path.endswith(".md5sums") and "/" not in path[len(STATUS_D) :]


def is_list(path: str) -> bool:
    """A package's file list: ``var/lib/dpkg/info/<package>[:<arch>].list``."""
    return path.startswith(INFO) and path.endswith(".list") and "/" not in path[len(INFO) :]


def list_path(name: str, arch: str | None, present: Container[str]) -> str | None:
    """The file list of package ``name`` among ``present`` paths (the arch-qualified one first)."""
    if arch:
        qualified = f"{INFO}{name}:{arch}.list"
        if qualified in present:
            return qualified
    plain = f"{INFO}{name}.list"
    return plain if plain in present else None


def _lines(data: bytes, what: str) -> list[str]:
    if b"\x00" in data:
        raise DatabaseError(f"binary data (NUL bytes), not a dpkg {what}")
    return data.decode("utf-8", errors="replace").splitlines()


def parse_list(data: bytes) -> tuple[str, ...]:
    """The paths of an ``info/*.list`` file, relative to the root (``/.`` dropped). A Debian image
    lists ~100k paths: the leading slashes go in one ``str.replace``, not one call per line."""
    if b"\x00" in data:
        raise DatabaseError("binary data (NUL bytes), not a dpkg file list")
    text = "\n" + data.decode("utf-8", errors="replace").replace("\r\n", "\n")
    return tuple(path for path in text.replace("\n/", "\n").split("\n") if path and path != ".")


def parse_md5sums(data: bytes) -> tuple[str, ...]:
    """The paths of a ``<package>.md5sums`` file (``<32 hex digits>  <path>`` lines)."""
    paths: list[str] = []
    for number, line in enumerate(_lines(data, "md5sums file"), 1):
        if not line.strip():
            continue
        digest, _, path = line.partition("  ")
        if len(digest) != 32 or not path:
            raise DatabaseError(f"line {number}: not an '<md5>  <path>' line")
        paths.append(path.lstrip("/"))
    return tuple(paths)


@dataclass(frozen=True, slots=True)
class DpkgPackage:
    name: str
    version: str
    arch: str | None
    source_name: str
    source_version: str


def _paragraphs(text: str) -> list[tuple[int, dict[str, str]]]:
    """(first line number, fields) of each paragraph; DatabaseError for a line that is neither."""
    paragraphs: list[tuple[int, dict[str, str]]] = []
    fields: dict[str, str] = {}
    start = 0
    last: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            if fields:
                paragraphs.append((start, fields))
            fields, last = {}, None
            continue
        if line[0] in " \t":
            if last is None:
                raise DatabaseError(f"line {number}: continuation line outside a field")
            continue  # only single-line fields are used
        match = _FIELD.match(line)
        if not match:
            raise DatabaseError(f"line {number}: not a 'Field: value' line")
        if not fields:
            start = number
        last = match.group(1)
        fields[last] = match.group(2).strip()
    if fields:
        paragraphs.append((start, fields))
    return paragraphs


def parse_status(data: bytes, *, status_d: bool = False) -> list[DpkgPackage]:
    """The installed packages a ``status`` file (or a ``status.d`` file) lists."""
    if b"\x00" in data:
        raise DatabaseError("binary data (NUL bytes), not a dpkg status file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DatabaseError(f"not UTF-8 at byte {e.start}") from None
    packages: list[DpkgPackage] = []
    for line, fields in _paragraphs(text):
        name, version = fields.get("Package"), fields.get("Version")
        status = fields.get("Status", "install ok installed" if status_d else "")
        words = status.split()
        if len(words) == 3 and words[2] in _NOT_INSTALLED:
            continue
        if not name:
            raise DatabaseError(f"line {line}: paragraph without a Package field")
        if not version:
            if len(words) != 3:
                raise DatabaseError(f"line {line}: package {name} has no Version")
            continue  # half-removed packages can lack a version
        source_name, source_version = name, version
        source = _SOURCE.match(fields.get("Source", ""))
        if source:
            source_name = source.group(1)
            source_version = source.group(2) or version
        packages.append(DpkgPackage(name, version, fields.get("Architecture") or None, source_name, source_version))
    return packages
