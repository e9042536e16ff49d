"""Wheel-embedded SBOMs (PEP 770): ``<name>.dist-info/sboms/*``, merged with what the bytes say.

PEP 770 reserves the ``sboms/`` directory of a ``.dist-info`` for SBOM documents in any format.
auditwheel (6.3 and later, ``auditwheel/sboms.py``) writes ``auditwheel.cdx.json`` when it grafts
libraries into a wheel: CycloneDX 1.4 JSON whose ``metadata.component`` is the wheel
(``pkg:pypi/<name>@<version>``) and whose other components are the OS packages the grafted files
came from, as ``rpm -qf`` / ``dpkg -S`` / ``apk info --who-owns`` named them on the build machine
(``{"name": "libwebp", "version": "1.0.0-9.el8_9.1", "purl": "pkg:rpm/almalinux/libwebp@1.0.0-9.el8_9.1"}``).
maturin writes the same file, and a ``<crate>.cyclonedx.json`` of Rust crates beside it.

Reading: CycloneDX JSON only (``json.loads`` under ``MAX_WHEEL_SBOM_BYTES``, nesting refused as in
``sbom_reader``); components whose purl type is an OS package (``deb``, ``rpm``, ``apk``) or
``generic`` are the libraries the merge looks for; ``pypi`` (the wheel itself) and language
packages (``cargo``: compiled into the extension, not files) are not. A document in another
format is left alone with a note; an unreadable one is an ``Unknown``.

Merging (``merge``, called once after the catalogers by ``native.policy.check``), per SBOM
library, against the ``NativeComponent`` s identified in the files of the distribution the SBOM
belongs to. An OS package entry (deb, rpm, apk purl) provided a grafted file: it is compared with
what the bytes say of that file itself, found exactly when the entry's ``bom-ref`` ends with the
SHA-256 of the path the library was copied from, as auditwheel writes it
(``_files_by_build_path_hash``: every grafted library of psycopg2-binary 2.9.13 and Pillow 12.2.0 is
found so), else by the library's name. A ``generic`` entry (cryptography 50's ``sbom.json`` lists
``pkg:generic/openssl@4.0.3``, linked into ``_rust.abi3.so``) is compared by name, embedded
libraries included:

* same library, same upstream version (the package version without epoch and release:
  ``1:1.1.1k-12.el8_9`` -> ``1.1.1k``): ``wheel-sbom`` evidence is added;
* same library, the bytes gave no version: the SBOM's version (and an OS package's purl) is taken,
  with ``wheel-sbom`` evidence (medium) first;
* same library, another version: the disagreement is recorded on the component
  (``NativeComponent.disagreements``) and a ``sbom-disagreement`` policy finding says it;
* a library the bytes did not identify: a new ``NativeComponent`` with ``wheel-sbom`` evidence
  (medium), at the distribution's file of that name when there is one, else at the SBOM itself;
  an OS package entry that no file of the distribution is also gets a disagreement and a finding
  (the SBOM says a file was grafted that is not there).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

from depscan.artifacts.view import ArtifactView, EntryType
from depscan.catalogers import Cataloger, CatalogResult
from depscan.errors import MemberError
from depscan.models import (
    Component,
    Evidence,
    Level,
    Location,
    NativeComponent,
    NativeLib,
    PolicyFinding,
    PythonDist,
    Unknown,
)
from depscan.native.classifiers import CLASSIFIERS

MAX_WHEEL_SBOM_BYTES = 16 * 1024 * 1024  # auditwheel's are a few KB; a Rust tree is a few hundred
_SBOM_PATH = re.compile(r"^(?P<dist_info>(?:.*/)?[^/]+\.dist-info)/sboms/[^/]+$")
_LIBRARY_PURL_TYPES = frozenset({"deb", "rpm", "apk", "generic"})
RULE = "sbom-disagreement"
_SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")
# auditwheel's grafted name: "<stem>-<8 hex>[-<8 hex>...]<rest>" (``catalogers.native`` parses it the same way)
_GRAFTED = re.compile(r"^(?P<stem>[^.]+?)(?:-[0-9a-f]{8})+(?P<rest>\..+)$")
# Where build machines keep the libraries auditwheel grafts (manylinux: CentOS 7 / AlmaLinux 8 /
# RHEL-like; musllinux: Alpine; Debian/Ubuntu multiarch), and where from-source builds install them.
BUILD_LIBRARY_DIRS = (
    "/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib", "/usr/local/lib64",
    *(f"{root}/{triplet}" for root in ("/lib", "/usr/lib") for triplet in (
        "x86_64-linux-gnu", "aarch64-linux-gnu", "i386-linux-gnu", "powerpc64le-linux-gnu", "s390x-linux-gnu",
        "arm-linux-gnueabihf")),
)

# OS package names -> the classifier table's library name (``native/classifiers.py``), for the
# packages manylinux (AlmaLinux, CentOS: rpm), Debian/Ubuntu (deb) and musllinux (Alpine: apk)
# build images provide the commonly grafted libraries from.
_PACKAGE_LIBRARY = {
    # rpm
    "openssl-libs": "openssl", "openssl11-libs": "openssl", "openssl": "openssl",
    "zlib": "zlib", "libpng": "libpng", "libpng15": "libpng", "libjpeg-turbo": "libjpeg-turbo",
    "libtiff": "libtiff", "expat": "expat", "sqlite-libs": "sqlite", "sqlite": "sqlite",
    "libxml2": "libxml2", "freetype": "freetype", "libwebp": "libwebp",
    # deb
    "libssl3": "openssl", "libssl3t64": "openssl", "libssl1.1": "openssl", "zlib1g": "zlib",
    "libpng16-16": "libpng", "libpng16-16t64": "libpng", "libjpeg62-turbo": "libjpeg-turbo",
    "libjpeg-turbo8": "libjpeg-turbo", "libtiff5": "libtiff", "libtiff6": "libtiff", "libexpat1": "expat",
    "libsqlite3-0": "sqlite", "libfreetype6": "freetype", "libwebp6": "libwebp", "libwebp7": "libwebp",
    # apk
    "libcrypto3": "openssl", "libcrypto1.1": "openssl", "tiff": "libtiff", "libexpat": "expat",
}
_CLASSIFIER_BY_NAME = {c.name: c for c in CLASSIFIERS}


@dataclasses.dataclass(frozen=True, slots=True)
class SbomLibrary:
    """One library a wheel SBOM lists."""

    package: str  # as the SBOM names it ("openssl-libs")
    version: str | None  # as written ("1.1.1k-12.el8_9")
    purl: str | None
    # auditwheel's bom-ref "<purl>#<sha256 of the library's path on the build machine>": that hash
    path_sha256: str | None = None

    @property
    def library(self) -> str:
        """The upstream library's name as the classifier table spells it, else the package name."""
        return _PACKAGE_LIBRARY.get(self.package, self.package)

    @property
    def upstream_version(self) -> str | None:
        return upstream_version(self.version)

    @property
    def provides_a_file(self) -> bool:
        """An OS package (deb, rpm, apk purl): it provided a file that was grafted into the wheel."""
        return self.purl is not None and self.purl.split("/", 1)[0].lower() in ("pkg:deb", "pkg:rpm", "pkg:apk")


@dataclasses.dataclass(frozen=True, slots=True)
class WheelSbom:
    """A wheel-embedded SBOM: where it is, the ``.dist-info`` holding it, the libraries it lists."""

    location: Location
    dist_info: str
    libraries: tuple[SbomLibrary, ...]


def upstream_version(version: str | None) -> str | None:
    """A package version without the epoch and the distribution's release: ``1:1.1.1k-12.el8_9`` ->
    ``1.1.1k``, ``3.0.11-1~deb12u2`` -> ``3.0.11``, ``1.2.13-r1`` -> ``1.2.13``, ``1.2.13.dfsg-1`` ->
    ``1.2.13``. A version without a release is returned as it is."""
    if not version:
        return None
    text = re.sub(r"^\d+:", "", version)
    if "-" in text:
        text = text.rsplit("-", 1)[0]
    text = re.sub(r"[.+~]dfsg\d*$", "", text)
    return text or None


class WheelSbomCataloger(Cataloger):
    """Reads ``*.dist-info/sboms/*`` (PEP 770). Adds no component itself: the SBOMs it read are kept
    in ``sboms`` for the merge after the catalogers (``merge``), which needs every earlier component."""

    name = "wheel-sboms"
    needs = ("python-dists", "native-libs")

    def __init__(self) -> None:
        self.sboms: list[WheelSbom] = []
        self.notes: list[str] = []

    def wants(self, path: str) -> bool:
        return "/sboms/" in path and _SBOM_PATH.match(path) is not None

    def read_limit(self, path: str) -> int | None:
        return MAX_WHEEL_SBOM_BYTES

    def catalog(self, view: ArtifactView, earlier: Sequence[Component] = ()) -> CatalogResult:
        self.sboms, self.notes = [], []
        unknowns: list[Unknown] = []
        for entry in view.entries():
            if entry.type is not EntryType.FILE or not self.wants(entry.path):
                continue
            match = _SBOM_PATH.match(entry.path)
            assert match is not None
            try:
                data = view.read(entry.path, MAX_WHEEL_SBOM_BYTES)
            except MemberError as e:
                unknowns.append(Unknown(entry.location, f"wheel SBOM not read: {e}"))
                continue
            parsed = parse_wheel_sbom(data)
            if isinstance(parsed, str):
                if parsed.startswith("not CycloneDX JSON"):
                    self.notes.append(f"{entry.path}: {parsed}; only CycloneDX JSON wheel SBOMs are read")
                else:
                    unknowns.append(Unknown(entry.location, f"wheel SBOM: {parsed}"))
                continue
            self.sboms.append(WheelSbom(entry.location, match["dist_info"], parsed))
        return CatalogResult((), tuple(unknowns))


def parse_wheel_sbom(data: bytes) -> tuple[SbomLibrary, ...] | str:
    """The libraries a CycloneDX JSON document lists, or why it cannot be read."""
    if data.lstrip()[:1] != b"{":
        return "not CycloneDX JSON (does not start with '{')"
    try:
        doc: Any = json.loads(data)
    except RecursionError:
        return "JSON nested too deeply"
    except (ValueError, UnicodeDecodeError) as e:
        return f"not valid JSON ({e})"
    if not isinstance(doc, dict) or doc.get("bomFormat") != "CycloneDX":
        return "not CycloneDX JSON (no bomFormat CycloneDX)"
    components = doc.get("components", [])
    if not isinstance(components, list):
        return "'components' is not a list"
    libraries = []
    for component in components:
        if not isinstance(component, dict):
            continue
        name, version, purl = component.get("name"), component.get("version"), component.get("purl")
        if not isinstance(name, str) or not name:
            continue
        purl = purl if isinstance(purl, str) else None
        purl_type = purl[4:].split("/", 1)[0].lower() if purl and purl.startswith("pkg:") else None
        if purl_type is not None and purl_type not in _LIBRARY_PURL_TYPES:
            continue  # the wheel itself (pypi), crates compiled into it (cargo): not library files
        ref = component.get("bom-ref")
        fragment = ref.rpartition("#")[2] if isinstance(ref, str) and "#" in ref else ""
        path_sha256 = fragment.lower() if _SHA256_HEX.match(fragment) else None
        version = version if isinstance(version, str) and version else None
        libraries.append(SbomLibrary(name, version, purl, path_sha256))
    return tuple(libraries)


def _generic_purl(name: str, version: str | None) -> str:
    from depscan.catalogers.native import generic_purl

    return generic_purl(name, version)


def _file_matches(lib: NativeLib, library: SbomLibrary) -> bool:
    """Whether an ELF file of the distribution is the library an SBOM entry names."""
    classifier = _CLASSIFIER_BY_NAME.get(library.library)
    names = set(classifier.names) if classifier is not None else set()
    names |= {library.library, library.package}
    if lib.name in names:
        return True
    # "libgfortran5" (deb) / "libgfortran" (rpm) for the file libgfortran-040039e1.so.5.0.0
    return lib.kind == "shared-library" and library.package.startswith(lib.name) and len(lib.name) > 3


def merge(
    components: Sequence[Component], sboms: Sequence[WheelSbom]
) -> tuple[list[Component], list[PolicyFinding]]:
    """``components`` with every wheel SBOM merged in (see the module docstring), and the
    ``sbom-disagreement`` findings."""
    merged = list(components)
    findings: list[PolicyFinding] = []
    if not sboms:
        return merged, findings
    dists = {
        (c.metadata_dir, c.metadata_location.layer): c for c in components if isinstance(c, PythonDist)
    }
    # the ELF files and the identified libraries of each distribution, by its METADATA location (one pass)
    files_of: dict[Location, list[NativeLib]] = {}
    identified_in: dict[Location, list[int]] = {}
    for i, c in enumerate(merged):
        if isinstance(c, NativeLib) and c.owner_location is not None:
            files_of.setdefault(c.owner_location, []).append(c)
        elif isinstance(c, NativeComponent) and c.owner_location is not None:
            identified_in.setdefault(c.owner_location, []).append(i)
    for sbom in sboms:
        dist = dists.get((sbom.dist_info, sbom.location.layer))
        if dist is None:
            continue  # a dist-info without METADATA: the Python cataloger already said so
        home = dist.metadata_location
        files = files_of.get(home, [])
        by_path_hash = _files_by_build_path_hash(files)
        owned_at = identified_in.setdefault(home, [])
        done: set[tuple[str, str | None, str]] = set()
        for library in sbom.libraries:
            file = by_path_hash.get(library.path_sha256 or "")
            # auditwheel lists a package once per file it provided: one merge per (package, file)
            key = (library.package, library.version, file.location.path if file is not None else "")
            if key in done:
                continue
            done.add(key)
            evidence = Evidence("wheel-sbom", "medium", f"{sbom.location.path} lists {library.purl or library.package}"
                                + (f" {library.version}" if library.version and not library.purl else ""))
            owned = [(i, c) for i in owned_at if isinstance(c := merged[i], NativeComponent)]
            # what the bytes say of the file itself: the exact file when the path hash found it, else by
            # name. An OS package provided a file, so a library linked into another file is not it; a
            # generic entry (cryptography's "pkg:generic/openssl@4.0.3") may well be linked in.
            if file is not None:
                same = [(i, c) for i, c in owned if c.location == file.location and not c.embedded]
            else:
                same = [(i, c) for i, c in owned
                        if c.name == library.library and (not c.embedded or not library.provides_a_file)]
            if same:
                for i, current in same:
                    merged[i], finding = _merge_one(current, library, evidence, sbom)
                    if finding is not None:
                        findings.append(finding)
                continue
            file = file or next((f for f in files if _file_matches(f, library)), None)
            new = _from_sbom(library, evidence, file, sbom, dist)
            if file is None and library.provides_a_file:
                said = f"{sbom.location.path} lists {library.package} {library.version or ''}".rstrip()
                disagreement = f"{said}; no file of {dist.name} {dist.version} is that library"
                new = dataclasses.replace(new, disagreements=(disagreement,))
                findings.append(_disagreement(new, disagreement))
            owned_at.append(len(merged))
            merged.append(new)
    return merged, findings


def _from_sbom(
    library: SbomLibrary, evidence: Evidence, file: NativeLib | None, sbom: WheelSbom, dist: PythonDist
) -> NativeComponent:
    version = library.upstream_version
    classifier = _CLASSIFIER_BY_NAME.get(library.library)
    return NativeComponent(
        name=library.library,
        version=version,
        purl=library.purl or _generic_purl(library.library, version),
        cpe=classifier.cpe(version) if classifier is not None else None,
        location=file.location if file is not None else sbom.location,
        evidence=(evidence,),
        file_sha256=(file.elf.sha256 if file.elf is not None else file.sha256) if file is not None else None,
        owner=dist.purl,
        owner_location=dist.metadata_location,
        status=dist.status,
    )


def _files_by_build_path_hash(files: Sequence[NativeLib]) -> dict[str, NativeLib]:
    """The distribution's grafted files by the SHA-256 of each one's likely path on the build machine.

    auditwheel's ``bom-ref`` for a library is ``<purl>#<sha256 of the path it copied the file from>``
    (``/lib64/libkrb5.so.3.3``), and the grafted copy keeps that file's name with its hash inserted
    (``libkrb5-fcafa220.so.3.3``). Hashing the original name under the usual library directories
    finds which file each SBOM entry is, exactly, when it was copied from one of them.
    """
    found: dict[str, NativeLib] = {}
    for file in files:
        parent, _, base = file.location.path.rpartition("/")
        grafted = _GRAFTED.match(base) if parent.endswith(".libs") else None
        if grafted is None:
            continue
        original = grafted["stem"] + grafted["rest"]
        for directory in BUILD_LIBRARY_DIRS:
            found[hashlib.sha256(f"{directory}/{original}".encode()).hexdigest()] = file
    return found


def _merge_one(
    current: NativeComponent, library: SbomLibrary, evidence: Evidence, sbom: WheelSbom
) -> tuple[NativeComponent, PolicyFinding | None]:
    version = library.upstream_version
    if version is None or current.version == version:
        return dataclasses.replace(current, evidence=_ranked((*current.evidence, evidence))), None
    if current.version is None:
        # the bytes named the file, nothing more: the SBOM's package says what it is
        classifier = _CLASSIFIER_BY_NAME.get(current.name)
        purl = current.purl
        if purl.startswith("pkg:generic/"):
            purl = library.purl if library.provides_a_file and library.purl else _generic_purl(current.name, version)
        return dataclasses.replace(
            current,
            version=version,
            purl=purl,
            cpe=classifier.cpe(version) if classifier is not None else current.cpe,
            evidence=_ranked((*current.evidence, evidence)),
        ), None
    method = current.evidence[0].method if current.evidence else "the bytes"
    disagreement = (
        f"{sbom.location.path} lists {library.package} {library.version} ({version} upstream); "
        f"the bytes say {current.version} ({method})"
    )
    updated = dataclasses.replace(current, disagreements=(*current.disagreements, disagreement))
    return updated, _disagreement(updated, disagreement)


def _ranked(evidence: tuple[Evidence, ...]) -> tuple[Evidence, ...]:
    """Strongest first (stable: equal confidence keeps its order)."""
    rank = {"high": 0, "medium": 1, "low": 2}
    return tuple(sorted(evidence, key=lambda e: rank[e.confidence]))


def _disagreement(component: NativeComponent, text: str) -> PolicyFinding:
    return PolicyFinding(
        rule=RULE,
        level=Level.LOW,
        location=component.location,
        message=f"{component.location.path}: {component.name}: {text}; believe the bytes, and rebuild the wheel "
        "if its SBOM is wrong",
        component=component.purl,
    )
