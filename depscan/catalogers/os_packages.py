"""OS packages: what dpkg (Debian, Ubuntu, distroless) and apk (Alpine) say is installed.

Reads ``var/lib/dpkg/status``, every file under ``var/lib/dpkg/status.d/`` and
``lib/apk/db/installed`` at the root of the artifact (a container image's merged filesystem, a
layer tarball, a directory), and ``etc/os-release`` (else ``usr/lib/os-release``) for the
release: the OSV ecosystem (``Debian:12``) and the purl's namespace and ``distro`` qualifier
(``pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12``, per the purl spec's
``deb`` and ``apk`` types). Without os-release, the namespace is the package manager's home
distribution (``debian``, ``alpine``) and the ecosystem is unknown (None).

A database that cannot be read (binary, a malformed line, a package without a name or
version) is one ``Unknown`` naming the file and the problem; its packages are not reported.

Not read yet: rpm databases, dpkg's per-package file lists (``var/lib/dpkg/info/*.list``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from packageurl import PackageURL

from depscan.artifacts.view import ArtifactView, Entry, EntryType
from depscan.catalogers import Cataloger, CatalogResult
from depscan.errors import MemberError
from depscan.models import Component, OsPackage, Unknown
from depscan.ospkg import DatabaseError
from depscan.ospkg.apk import INSTALLED, parse_installed
from depscan.ospkg.dpkg import STATUS, is_status_d, parse_status
from depscan.ospkg.osrelease import OS_RELEASE_PATHS, OsRelease, parse_os_release

_DATABASES = (STATUS, INSTALLED)


def _purl(kind: str, namespace: str, name: str, version: str, arch: str | None, release: OsRelease | None) -> str:
    qualifiers: dict[str, str] = {}
    if arch:
        qualifiers["arch"] = arch
    if release is not None and release.distro:
        qualifiers["distro"] = release.distro
    return str(
        PackageURL(type=kind, namespace=namespace, name=name, version=version, qualifiers=qualifiers).to_string()
    )


class OsPackageCataloger(Cataloger):
    name = "os-packages"

    def wants(self, path: str) -> bool:
        return path in _DATABASES or path in OS_RELEASE_PATHS or is_status_d(path)

    def catalog(self, view: ArtifactView, earlier: Sequence[Component] = ()) -> CatalogResult:
        # One C-level prefix test per entry (bench/bench_ospkg.py): this runs in every scan, over every entry.
        candidates = [e for e in view.entries() if e[0].startswith(_DATABASES)]  # e[0]: path; STATUS prefixes STATUS_D
        databases = [e for e in candidates if e.type is EntryType.FILE and self.wants(e.path)]
        if not databases:
            return CatalogResult((), ())
        unknowns: list[Unknown] = []
        release = self._release(view, unknowns)
        components: list[OsPackage] = []
        for entry in sorted(databases, key=lambda e: e.path):
            try:
                data = view.read(entry.path)
                components.extend(self._packages(entry, data, release))
            except (MemberError, DatabaseError) as e:
                unknowns.append(Unknown(entry.location, f"{_kind(entry.path)}: {e}"))
        found: tuple[Component, ...] = tuple(components)
        return CatalogResult(found, tuple(unknowns))

    @staticmethod
    def _release(view: ArtifactView, unknowns: list[Unknown]) -> OsRelease | None:
        for path in OS_RELEASE_PATHS:
            entry = view.resolve(path)
            if entry is None or entry.type is not EntryType.FILE:
                continue
            try:
                release = parse_os_release(view.read_text(path))
            except MemberError as e:
                unknowns.append(Unknown(entry.location, f"os-release: {e}"))
                continue
            if release is not None:
                return release
        return None

    @staticmethod
    def _packages(entry: Entry, data: bytes, release: OsRelease | None) -> list[OsPackage]:
        manager: Literal["apk", "dpkg"]
        if entry.path == INSTALLED:
            manager, purl_type, namespace = "apk", "apk", "alpine"
            # (name, version, arch, source name, source version, files)
            rows = [(p.name, p.version, p.arch, p.origin, p.version, p.files) for p in parse_installed(data)]
        else:
            manager, purl_type, namespace = "dpkg", "deb", "debian"
            rows = [(p.name, p.version, p.arch, p.source_name, p.source_version, ())
                    for p in parse_status(data, status_d=entry.path != STATUS)]
        if release is not None:
            namespace = release.id
        return [
            OsPackage(
                name=name,
                version=version,
                purl=_purl(purl_type, namespace, name, version, arch, release),
                package_manager=manager,
                location=entry.location,
                ecosystem=release.ecosystem if release else None,
                arch=arch,
                source_name=source_name,
                source_version=source_version,
                files=files,
            )
            for name, version, arch, source_name, source_version, files in rows
        ]


def _kind(path: str) -> str:
    return "apk installed database" if path == INSTALLED else "dpkg status"
