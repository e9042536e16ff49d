"""``os-release`` (freedesktop.org, ``man 5 os-release``): which distribution and release an image is.

The file is ``KEY=value`` lines; values may be quoted with ``"`` or ``'`` and use backslash
escapes; ``#`` starts a comment. ``/etc/os-release`` takes precedence over
``/usr/lib/os-release``.

From ``ID`` and ``VERSION_ID`` come the OSV ecosystem (the spellings of the OSV schema's
ecosystem list: ``Debian:12``, ``Ubuntu:22.04:LTS`` (``:LTS`` is mandatory for LTS releases),
``Alpine:v3.19``, ``AlmaLinux:9``, ``Rocky Linux:9``, ``Wolfi``, ``Chainguard``) and the purl
namespace and ``distro`` qualifier (``debian`` / ``debian-12``, ``amzn`` / ``amzn-2023``).

OSV defines no ecosystem for Amazon Linux (none in the schema's ecosystem list, version 1.7.5:
ALAS advisories are not published as OSV), nor one Red Hat can be scoped to from ``os-release``
(``Red Hat:<CPE of a product stream>``): their packages get no ecosystem (None).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OS_RELEASE_PATHS = ("etc/os-release", "usr/lib/os-release")

# OSV ecosystems without a release suffix (apk-based rolling distributions).
_UNVERSIONED = {"wolfi": "Wolfi", "chainguard": "Chainguard"}

# OSV ecosystems scoped by the major release (AlmaLinux, Rocky Linux: "a numeric version").
_MAJOR_ONLY = {"almalinux": "AlmaLinux", "rocky": "Rocky Linux"}

_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


@dataclass(frozen=True, slots=True)
class OsRelease:
    """The fields of ``os-release`` depscan uses."""

    id: str  # "debian", "ubuntu", "alpine" (lower case, as the file spells it)
    version_id: str | None = None  # "12", "22.04", "3.19.1"
    version: str | None = None  # "22.04.4 LTS (Jammy Jellyfish)"
    version_codename: str | None = None  # "bookworm"

    @property
    def ecosystem(self) -> str | None:
        """The OSV ecosystem of this release's packages; None when OSV has none for it or the
        release is not known (Debian testing has no ``VERSION_ID``)."""
        if self.id in _UNVERSIONED:  # rolling distributions: one ecosystem, no release suffix
            return _UNVERSIONED[self.id]
        if not self.version_id:
            return None
        if self.id == "debian":
            return f"Debian:{self.version_id.split('.')[0]}"
        if self.id == "ubuntu":
            lts = ":LTS" if self.version and "LTS" in self.version else ""
            return f"Ubuntu:{self.version_id}{lts}"
        if self.id == "alpine":
            major_minor = ".".join(self.version_id.split(".")[:2])
            return f"Alpine:v{major_minor}"
        if self.id in _MAJOR_ONLY:  # "9.3" -> "AlmaLinux:9"
            return f"{_MAJOR_ONLY[self.id]}:{self.version_id.split('.')[0]}"
        return None

    @property
    def distro(self) -> str | None:
        """The purl ``distro`` qualifier: ``<id>-<VERSION_ID>`` (``debian-12``, ``alpine-3.19.1``),
        else ``<id>-<codename>``, else None."""
        release = self.version_id or self.version_codename
        return f"{self.id}-{release}" if release else None


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        inner = value[1:-1]
        return re.sub(r"\\(.)", r"\1", inner) if value[0] == '"' else inner
    return value


def parse_os_release(text: str) -> OsRelease | None:
    """The release ``text`` describes; None when it has no ``ID``."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match:
            fields[match.group(1)] = _unquote(match.group(2))
    distro_id = fields.get("ID", "").lower()
    if not distro_id:
        return None
    return OsRelease(
        id=distro_id,
        version_id=fields.get("VERSION_ID") or None,
        version=fields.get("VERSION") or None,
        version_codename=fields.get("VERSION_CODENAME") or None,
    )
