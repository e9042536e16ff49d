"""OS packages: what dpkg (Debian, Ubuntu, distroless), apk (Alpine) and rpm (Amazon Linux 2023,
Fedora, RHEL 9 and its rebuilds) say is installed, and the files each package owns.

Reads, at the root of the artifact (a container image's merged filesystem, a layer tarball, a
directory): ``var/lib/dpkg/status`` with the ``var/lib/dpkg/info/*.list`` file lists, every
paragraph file under ``var/lib/dpkg/status.d/`` with its ``.md5sums`` file list,
``lib/apk/db/installed`` (files from its F/R lines), ``var/lib/rpm/rpmdb.sqlite`` (or
``usr/lib/sysimage/rpm/rpmdb.sqlite``, with its ``-wal`` log when one is left; else the Berkeley DB
``var/lib/rpm/Packages`` of Amazon Linux 2 and RHEL/CentOS 7-8; files from
BASENAMES/DIRNAMES/DIRINDEXES), and
``etc/os-release`` (else ``usr/lib/os-release``) for the release: the OSV ecosystem
(``Debian:12``) and the purl's namespace and ``distro`` qualifier
(``pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12``,
``pkg:rpm/amzn/openssl-libs@3.0.8-1.amzn2023.0.14?arch=x86_64&distro=amzn-2023&epoch=1``, per the
purl spec's ``deb``, ``apk`` and ``rpm`` types). Without os-release, the namespace is the package
manager's home distribution (``debian``, ``alpine``; none for rpm) and the ecosystem is unknown.

A database that cannot be read (binary, a malformed line, a package without a name or version, a
corrupt sqlite file or rpm header) is one ``Unknown`` naming the file and the problem; its
packages are not reported. A file list that cannot be read is an Unknown too; its package is
reported without files. rpm's ndb database (openSUSE) is recognised and reported as an Unknown
(format not read).
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
from depscan.ospkg.dpkg import (
    STATUS,
    STATUS_D,
    is_list,
    is_status_d,
    list_path,
    parse_list,
    parse_md5sums,
    parse_status,
)
from depscan.ospkg.osrelease import OS_RELEASE_PATHS, OsRelease, parse_os_release
from depscan.ospkg.rpm import RPMDB_BDB, RPMDB_SQLITE, UNREAD, parse_rpmdb

# Every database or file list this cataloger reads or reports starts with one of these: one C-level
# prefix test per entry (this runs in every scan, over every entry; bench/bench_ospkg.py). "var/lib/"
# covers dpkg and rpm at once: one prefix fewer to test than both directories.
_PREFIXES = ("var/lib/", INSTALLED, "usr/lib/sysimage/rpm/")
_WANTED_PREFIXES = (*_PREFIXES, *OS_RELEASE_PATHS)
_DATABASES = (STATUS, INSTALLED, *RPMDB_SQLITE, RPMDB_BDB)

# (name, version, arch, source name, source version, files, purl version, extra purl qualifiers)
_Row = tuple[str, str, str | None, str, str, tuple[str, ...], str, dict[str, str]]


def _purl(
    kind: str,
    namespace: str | None,
    name: str,
    version: str,
    arch: str | None,
    release: OsRelease | None,
    extra: dict[str, str],
) -> str:
    qualifiers: dict[str, str] = {}
    if arch:
        qualifiers["arch"] = arch
    if release is not None and release.distro:
        qualifiers["distro"] = release.distro
    qualifiers.update(extra)
    return str(
        PackageURL(type=kind, namespace=namespace, name=name, version=version, qualifiers=qualifiers).to_string()
    )


def _is_md5sums(path: str) -> bool:
    return path.startswith(STATUS_D) and path.endswith(".md5sums") and "/" not in path[len(STATUS_D) :]


class OsPackageCataloger(Cataloger):
    name = "os-packages"

    def wants(self, path: str) -> bool:
        return path.startswith(_WANTED_PREFIXES) and (
            path in _DATABASES
            or path in OS_RELEASE_PATHS
            or is_status_d(path)
            or _is_md5sums(path)
            or is_list(path)
            or (path.endswith("-wal") and path[:-4] in RPMDB_SQLITE)
        )

    def catalog(self, view: ArtifactView, earlier: Sequence[Component] = ()) -> CatalogResult:
        candidates = [e for e in view.entries() if e[0].startswith(_PREFIXES)]  # e[0]: path
        if not candidates:
            return CatalogResult((), ())
        files = {e.path: e for e in candidates if e.type is EntryType.FILE}
        databases = [e for path, e in files.items() if path in _DATABASES or is_status_d(path)]
        if any(p in files for p in RPMDB_SQLITE):  # rpm >= 4.16 reads only its sqlite database: leftovers
            databases = [e for e in databases if e.path != RPMDB_BDB]  # of an older format are not installed
            unread = []
        else:
            unread = [e for p, e in files.items() if p in UNREAD]
        if not databases and not unread:
            return CatalogResult((), ())
        unknowns: list[Unknown] = [Unknown(e.location, UNREAD[e.path]) for e in sorted(unread, key=lambda e: e.path)]
        release = self._release(view, unknowns)
        components: list[OsPackage] = []
        for entry in sorted(databases, key=lambda e: e.path):
            try:
                data = view.read(entry.path)
                components.extend(self._packages(view, entry, data, release, files, unknowns))
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
    def _file_list(
        view: ArtifactView, path: str | None, files: dict[str, Entry], unknowns: list[Unknown]
    ) -> tuple[str, ...]:
        """The paths a dpkg file list (``info/*.list`` or ``status.d/*.md5sums``) names; () when
        there is none, or an Unknown when it cannot be read."""
        entry = files.get(path) if path else None
        if entry is None:
            return ()
        try:
            data = view.read(entry.path)
            return parse_md5sums(data) if entry.path.endswith(".md5sums") else parse_list(data)
        except (MemberError, DatabaseError) as e:
            unknowns.append(Unknown(entry.location, f"dpkg file list: {e}"))
            return ()

    def _packages(
        self,
        view: ArtifactView,
        entry: Entry,
        data: bytes,
        release: OsRelease | None,
        files: dict[str, Entry],
        unknowns: list[Unknown],
    ) -> list[OsPackage]:
        manager: Literal["apk", "dpkg", "rpm"]
        namespace: str | None
        rows: list[_Row]
        if entry.path == INSTALLED:
            manager, purl_type, namespace = "apk", "apk", "alpine"
            rows = [
                (p.name, p.version, p.arch, p.origin, p.version, p.files, p.version, {}) for p in parse_installed(data)
            ]
        elif entry.path in RPMDB_SQLITE or entry.path == RPMDB_BDB:
            manager, purl_type, namespace = "rpm", "rpm", None
            log = files.get(f"{entry.path}-wal")
            wal = view.read(log.path) if log is not None and log.size else b""
            rows = []
            for r in parse_rpmdb(data, wal, berkeley=entry.path == RPMDB_BDB):
                source_name, source_version = r.source
                epoch = {"epoch": str(r.epoch)} if r.epoch is not None else {}
                purl_version = f"{r.version}-{r.release}"  # the purl spec's rpm type: epoch as a qualifier
                rows.append((r.name, r.evr, r.arch, source_name, source_version, r.files, purl_version, epoch))
        else:
            manager, purl_type, namespace = "dpkg", "deb", "debian"
            status_d = entry.path != STATUS
            rows = []
            for p in parse_status(data, status_d=status_d):
                listed = f"{entry.path}.md5sums" if status_d else list_path(p.name, p.arch, files)
                owned = self._file_list(view, listed, files, unknowns)
                rows.append((p.name, p.version, p.arch, p.source_name, p.source_version, owned, p.version, {}))
        if release is not None:
            namespace = release.id
        return [
            OsPackage(
                name=name,
                version=version,
                purl=_purl(purl_type, namespace, name, purl_version, arch, release, extra),
                package_manager=manager,
                location=entry.location,
                ecosystem=release.ecosystem if release else None,
                arch=arch,
                source_name=source_name,
                source_version=source_version,
                files=owned,
            )
            for name, version, arch, source_name, source_version, owned, purl_version, extra in rows
        ]


def _kind(path: str) -> str:
    if path == INSTALLED:
        return "apk installed database"
    if path in RPMDB_SQLITE or path == RPMDB_BDB:
        return "rpm database"
    return "dpkg status"
