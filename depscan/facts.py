"""The facts every report states, derived once from a ``ScanResult``.

Reporters only serialize: which copy of a distribution is which (identity), what licence its
metadata declares, which distributions require which (the dependency graph), which distribution
ships a native library, and the counts. Each is computed here, once per result, so the JSON
report, CycloneDX, SPDX, SARIF, the table and the Markdown comment cannot disagree
(``tests/reporters/test_cross_format.py`` holds them to it).

**Identity.** A component copy is named by ``component_key``: the first 16 hex digits of the SHA-256
of its purl (or name, for a library without one) and its path inside the artifact. Not the layer:
image layer digests and layer zip names change with every rebuild, and in a merged view the path
alone tells copies apart (the same rule as ``Finding.fingerprint``). CycloneDX bom-refs and SPDX ids
are built from it.

**Licences.** In order, the first that gives an SPDX expression: PEP 639 ``License-Expression``; the
``License`` field when it is a valid SPDX expression (urllib3's ``MIT``); ``License ::`` classifiers
when they name exactly one SPDX licence between them. Validation and canonical case come from
``packaging.licenses``. Whatever else the metadata says (free text such as ``BSD``, ambiguous
classifiers, an invalid expression) is kept as written in ``LicenseFacts.texts``; SPDX ids named by
several classifiers, whose relation (AND? OR?) the metadata does not state, are ``LicenseFacts.ids``.

**Dependencies.** ``Requires-Dist`` entries evaluated with the artifact's marker environment
(``depscan.environment``). Extras asked for by a requirement (``requests[socks]``) switch on the
target's requirements under that extra, to a fixed point; a distribution asking for its own extra
(``foo[bar]`` in foo's own Requires-Dist) switches it on in itself, with no edge to itself or to another
copy of foo. An edge goes to the copy the source
imports: a used copy, in the source's own site root when there are several (a vendored
``py/_vendored_packages/iniconfig`` is not what ``pytest`` imports). A requirement that holds only
under an extra nobody asked for is an *optional* edge. A marker that cannot be evaluated keeps the
edge (the target is installed, so a dependency is the likelier reading) and says so in ``warnings``.
The root's direct dependencies (``top``) are the used distributions nothing requires, plus one entry
into every cycle nothing else reaches; shadowed copies are never imported, so nothing links them.

**Native identification.** An upstream library identified in an ELF file (``NativeComponent``) is shipped by
the distribution whose RECORD lists the file (``identified_owner``; without an owner location, the first copy
with the owner's purl), else by the OS package whose database lists it (``identified_os``); its file is the
``NativeLib`` at the same location (``identified_file``). CycloneDX nests it there and adds the
``dependsOn`` edge, SPDX a CONTAINS, JSON the ``owner_id`` / ``os_package_id``.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import NamedTuple

from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression
from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from depscan.artifacts.kinds import ArtifactKind
from depscan.environment import marker_environment
from depscan.models import (
    ArtifactInfo,
    Component,
    Location,
    NativeComponent,
    NativeLib,
    OsPackage,
    PythonDist,
    ScanResult,
    Status,
    assert_never,
)

_EXTRA_VALUE = re.compile(r'\bextra\s*==\s*"([^"]*)"')

# ``License ::`` classifiers that name exactly one SPDX license. Others ("BSD License", "Apache
# Software License", "GNU General Public License v3 (GPLv3)": which version, "only" or "or later"?)
# are ambiguous and are kept as written.
CATEGORY_CLASSIFIERS = frozenset({"License :: OSI Approved", "License :: DFSG approved"})  # no license named
_OSI = "License :: OSI Approved :: "
CLASSIFIER_SPDX = {
    "License :: Aladdin Free Public License (AFPL)": "Aladdin",
    "License :: CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
    "License :: CeCILL-B Free Software License Agreement (CECILL-B)": "CECILL-B",
    "License :: CeCILL-C Free Software License Agreement (CECILL-C)": "CECILL-C",
    **{_OSI + name: spdx for name, spdx in {
        "Attribution Assurance License": "AAL",
        "Blue Oak Model License (BlueOak-1.0.0)": "BlueOak-1.0.0",
        "Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
        "CEA CNRS Inria Logiciel Libre License, version 2.1 (CeCILL-2.1)": "CECILL-2.1",
        "CMU License (MIT-CMU)": "MIT-CMU",
        "Common Development and Distribution License 1.0 (CDDL-1.0)": "CDDL-1.0",
        "Eclipse Public License 1.0 (EPL-1.0)": "EPL-1.0",
        "Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
        "Educational Community License, Version 2.0 (ECL-2.0)": "ECL-2.0",
        "European Union Public Licence 1.0 (EUPL 1.0)": "EUPL-1.0",
        "European Union Public Licence 1.1 (EUPL 1.1)": "EUPL-1.1",
        "European Union Public Licence 1.2 (EUPL 1.2)": "EUPL-1.2",
        "GNU Affero General Public License v3 or later (AGPLv3+)": "AGPL-3.0-or-later",
        "GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
        "GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
        "GNU Lesser General Public License v2 or later (LGPLv2+)": "LGPL-2.0-or-later",
        "GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
        "Historical Permission Notice and Disclaimer (HPND)": "HPND",
        "ISC License (ISCL)": "ISC",
        "MIT License": "MIT",
        "MIT No Attribution License (MIT-0)": "MIT-0",
        "MirOS License (MirOS)": "MirOS",
        "Mozilla Public License 1.0 (MPL)": "MPL-1.0",
        "Mozilla Public License 1.1 (MPL 1.1)": "MPL-1.1",
        "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
        "Mulan Permissive Software License v2 (MulanPSL-2.0)": "MulanPSL-2.0",
        "NASA Open Source Agreement v1.3 (NASA-1.3)": "NASA-1.3",
        "Open Software License 3.0 (OSL-3.0)": "OSL-3.0",
        "PostgreSQL License": "PostgreSQL",
        "Python License (CNRI Python License)": "CNRI-Python",
        "Python Software Foundation License": "PSF-2.0",
        "SIL Open Font License 1.1 (OFL-1.1)": "OFL-1.1",
        "Sleepycat License": "Sleepycat",
        "The Unlicense (Unlicense)": "Unlicense",
        "Universal Permissive License (UPL)": "UPL-1.0",
        "University of Illinois/NCSA Open Source License": "NCSA",
        "Vovida Software License 1.0": "VSL-1.0",
        "Zero-Clause BSD (0BSD)": "0BSD",
        "zlib/libpng License": "Zlib",
    }.items()},
}


@dataclass(frozen=True, slots=True)
class LicenseFacts:
    """What a distribution's metadata declares about its licence (see the module docstring)."""

    expression: str | None  # canonical SPDX expression, when the metadata states one
    source: str | None  # "License-Expression", "License" or "classifier": where the expression came from
    ids: tuple[str, ...] = ()  # SPDX ids named by several classifiers (relation unstated); only without expression
    texts: tuple[str, ...] = ()  # statements that are no SPDX expression, as written
    note: str | None = None  # why a statement was not taken as an expression


def license_facts(dist: PythonDist) -> LicenseFacts:
    """The licence facts of one distribution."""
    texts: list[str] = []
    note = None
    expression = (dist.license_expression or "").strip()
    if expression:
        canonical = _canonical_license(expression)
        if canonical is not None:
            return LicenseFacts(canonical, "License-Expression")
        texts.append(expression)
        note = f"License-Expression {expression!r} is not a valid SPDX expression"
    text = (dist.license or "").strip()
    if text and text.upper() != "UNKNOWN" and not expression:  # setuptools wrote "UNKNOWN" for an unset license
        canonical = _canonical_license(text) if "\n" not in text else None
        if canonical is not None:
            return LicenseFacts(canonical, "License")
        texts.append(text)
    ids: list[str] = []
    for classifier in dist.classifiers:
        if not classifier.startswith("License ::") or classifier in CATEGORY_CLASSIFIERS:
            continue
        spdx = CLASSIFIER_SPDX.get(classifier)
        if spdx is None:
            texts.append(classifier.rsplit(" :: ", 1)[-1])
        elif spdx not in ids:
            ids.append(spdx)
    if len(ids) == 1 and not texts and not expression:
        return LicenseFacts(ids[0], "classifier")
    return LicenseFacts(None, None, tuple(ids), tuple(dict.fromkeys(texts)), note)


# Deprecated GNU ids of the SPDX license list and the ids that replace them (SPDX license list 3.0+).
_DEPRECATED_GNU = {
    f"{family}-{version}{suffix}": f"{family}-{version}-{'or-later' if suffix else 'only'}"
    for family, versions in (("GPL", ("1.0", "2.0", "3.0")), ("LGPL", ("2.0", "2.1", "3.0")), ("AGPL", ("3.0",)))
    for version in versions
    for suffix in ("", "+")
}
_TOKEN = re.compile(r"[A-Za-z0-9.+-]+")


def _canonical_license(text: str) -> str | None:
    """``text`` as a canonical SPDX expression (``packaging.licenses``), deprecated GNU ids replaced
    (``GPL-2.0+`` -> ``GPL-2.0-or-later``); None when it is not one."""
    try:
        canonical = str(canonicalize_license_expression(text))
    except (InvalidLicenseExpression, ValueError):
        return None
    return _TOKEN.sub(lambda m: _DEPRECATED_GNU.get(m[0], m[0]), canonical)


_HEX64 = re.compile(r"[0-9a-f]{64}")


def archive_sha256(dist: PythonDist) -> str | None:
    """The SHA-256 of the archive the distribution was installed from, when ``direct_url.json``
    (PEP 610) records it (``archive_info.hashes.sha256``, or the older ``archive_info.hash``
    ``"sha256=<hex>"``): the one hash that names the package as an index or a lock file does.

    The METADATA file's digest is not that: it matches no published file, so SBOMs carry it only as
    evidence under its own name (``depscan:metadata:sha256``, an SPDX comment), never as the
    package hash."""
    info = (dist.direct_url or {}).get("archive_info")
    if not isinstance(info, dict):
        return None
    hashes = info.get("hashes")
    value = hashes.get("sha256") if isinstance(hashes, dict) else None
    if value is None and isinstance(info.get("hash"), str):
        algorithm, _, digest = str(info["hash"]).partition("=")
        value = digest if algorithm.lower() == "sha256" else None
    if not isinstance(value, str) or not _HEX64.fullmatch(value.lower()):
        return None
    return value.lower()


@dataclass(frozen=True, slots=True)
class ExternalLink:
    """A URL the metadata gives for a distribution, with what it is (CycloneDX's reference types)."""

    kind: str  # website, vcs, issue-tracker, documentation, release-notes, distribution, other
    url: str
    label: str  # "Home-page", or the Project-URL label as written


# PEP 753 (well-known Project-URL labels), normalized: lowercase, punctuation and spaces removed.
_LINK_KINDS = {
    "homepage": "website",
    "source": "vcs", "repository": "vcs", "sourcecode": "vcs", "github": "vcs", "code": "vcs",
    "issues": "issue-tracker", "bugtracker": "issue-tracker", "bugs": "issue-tracker", "tracker": "issue-tracker",
    "issuetracker": "issue-tracker",
    "documentation": "documentation", "docs": "documentation",
    "changelog": "release-notes", "changes": "release-notes", "releasenotes": "release-notes",
    "whatsnew": "release-notes", "history": "release-notes",
    "download": "distribution",
}
_LABEL_NOISE = re.compile(r"[\s_.:-]+")


def external_links(dist: PythonDist) -> tuple[ExternalLink, ...]:
    """``Home-page`` and every ``Project-URL`` of a distribution, each URL once, typed by its label."""
    links: dict[str, ExternalLink] = {}
    candidates = [("Home-page", dist.home_page or ""), *dist.project_urls]
    for label, url in candidates:
        url = url.strip()
        if not url.startswith(("https://", "http://")) or url in links:  # "UNKNOWN", empty, or not a web link
            continue
        kind = "website" if label == "Home-page" else _LINK_KINDS.get(_LABEL_NOISE.sub("", label.lower()), "other")
        links[url] = ExternalLink(kind, url, label)
    return tuple(links.values())


def file_name(path: str) -> str:
    """The last part of a path given on the command line (POSIX or Windows separators, trailing
    separators ignored): how SBOMs name the artifact and its input files."""
    return re.split(r"[/\\]", path.rstrip("/\\"))[-1] or path


def artifact_kind(info: ArtifactInfo) -> ArtifactKind | None:
    """The kind of the scanned artifact; None for a rescan (whose kind names the SBOM read)."""
    try:
        return ArtifactKind(info.kind)
    except ValueError:
        return None


def component_key(component: Component) -> str:
    """16 hex digits naming one component copy: its purl (or name) and path, not its layer."""
    if isinstance(component, PythonDist):
        key = f"{component.purl}|{component.metadata_location.path}"
    elif isinstance(component, NativeLib):
        key = f"{component.purl or component.name}|{component.location.path}"
    elif isinstance(component, NativeComponent):
        # marked and named: the file's own NativeLib can have the same purl and path, and one file can hold
        # several libraries
        key = f"identified|{component.purl}|{component.location.path}|{component.name}"
    elif isinstance(component, OsPackage):
        key = f"{component.purl}|{component.location.path}"
    else:
        assert_never(component)
    # surrogatepass: tar member names that are not UTF-8 arrive as lone surrogates
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Counts:
    """The numbers every summary states. Advisory counts are None when advisories were not checked:
    never "0 vulnerabilities" by default."""

    components: int
    python_distributions: int
    shadowed: int
    vendored: int  # copies with status vendored (no dist-info, or inside another distribution's tree)
    native_libraries: int
    native_libraries_unowned: int
    native_components: int  # upstream libraries identified in ELF files
    native_components_high: int  # ... by the confidence of their strongest evidence
    native_components_medium: int
    native_components_low: int
    native_components_without_version: int
    os_packages: int
    unknowns: int
    warnings: int
    policy_findings: int
    vulnerabilities: int | None  # active findings, a bundled library's finding its distribution's covers left out
    covered: int | None  # active findings of bundled libraries linked to their distribution's (Finding.covered_by)
    suppressed: int | None
    unchecked: int | None
    not_verifiable: int | None  # components advisories cannot vouch for; None when advisories were not checked
    malicious: int | None = None  # active findings of known-malicious packages (OSV MAL- records), also counted above

    @property
    def confidence_levels(self) -> list[str]:
        """The identified libraries by confidence, as every summary words it: ``["2 high", "1 low"]``."""
        return [f"{n} {level}" for n, level in ((self.native_components_high, "high"),
                                                 (self.native_components_medium, "medium"),
                                                 (self.native_components_low, "low")) if n]


def counts(result: ScanResult) -> Counts:
    """The counts of one result."""
    dists = [c for c in result.components if isinstance(c, PythonDist)]
    natives = [c for c in result.components if isinstance(c, NativeLib)]
    identified = [c for c in result.components if isinstance(c, NativeComponent)]
    confidence = {"high": 0, "medium": 0, "low": 0}
    for comp in identified:
        if comp.confidence is not None:
            confidence[comp.confidence] += 1
    checked = result.advisory_data is not None
    active = sum(1 for f in result.findings if f.suppressed is None)
    covered = sum(1 for f in result.findings if f.suppressed is None and f.covered_by is not None)
    return Counts(
        components=len(result.components),
        python_distributions=len(dists),
        shadowed=sum(1 for d in dists if d.status is Status.SHADOWED),
        vendored=sum(1 for d in dists if d.status is Status.VENDORED),
        native_libraries=len(natives),
        native_libraries_unowned=sum(1 for lib in natives if lib.owner is None and lib.os_package is None)
        + len(_held_without_record(result.components, dists)),
        native_components=len(identified),
        native_components_high=confidence["high"],
        native_components_medium=confidence["medium"],
        native_components_low=confidence["low"],
        native_components_without_version=sum(1 for c in identified if c.version is None),
        os_packages=sum(1 for c in result.components if isinstance(c, OsPackage)),
        unknowns=len(result.unknowns),
        warnings=len(result.warnings),
        policy_findings=len(result.policy_findings),
        vulnerabilities=active - covered if checked else None,
        covered=covered if checked else None,
        suppressed=len(result.findings) - active if checked else None,
        unchecked=len(result.unchecked) if checked else None,
        not_verifiable=len(result.not_verifiable) if checked else None,
        malicious=sum(1 for f in result.findings if f.suppressed is None and f.malicious) if checked else None,
    )


def _held_without_record(components: Sequence[Component], dists: list[PythonDist]) -> dict[int, PythonDist]:
    """ELF files inside a vendored copy no RECORD lists (``catalogers.vendored.held_without_record``)."""
    if not any(d.found_by == "vendored-code" for d in dists):
        return {}
    from depscan.catalogers.vendored import held_without_record  # only when there are such copies

    return held_without_record(components)


@dataclass(frozen=True, slots=True)
class Graph:
    """``Requires-Dist`` edges between distribution copies, by index into ``Facts.dists``."""

    requires: tuple[tuple[int, ...], ...]  # requires[i]: the copies dists[i] imports, sorted
    optional: tuple[tuple[int, ...], ...]  # optional[i]: required only under an extra nobody asked for
    top: tuple[int, ...]  # what the artifact itself depends on: used copies nothing requires (+ cycle entries)
    warnings: tuple[str, ...]


def dependency_graph(dists: Sequence[PythonDist], env: dict[str, str]) -> Graph:
    """The graph of ``dists`` in the marker environment ``env`` (see the module docstring)."""
    warnings: list[str] = []
    by_name: dict[str, list[int]] = defaultdict(list)
    for i, dist in enumerate(dists):
        by_name[dist.normalized_name].append(i)
    requirements: list[list[ParsedRequirement]] = []
    for dist in dists:
        parsed = []
        for line in dist.requires_dist:
            requirement = parse_requirement(line)
            if isinstance(requirement, str):
                warnings.append(f"{dist.name} {dist.version} ({dist.metadata_location}): Requires-Dist {line!r} "
                                f"does not parse ({requirement}); no edge")
            else:
                parsed.append(requirement)
        requirements.append(parsed)
    failed: set[tuple[int, str]] = set()
    # Markers repeat across distributions and env is fixed here. Keyed by the marker object's id, not the
    # marker (Marker.__hash__ serializes it on every call): parse_requirement caches markers by their text,
    # so one text is one object, and every marker here lives as long as ``requirements``.
    evaluated: dict[tuple[int, str], bool] = {}
    # Whether a marker can mention ``extra`` at all; one that cannot has one verdict for every extra.
    mentions_extra: dict[int, bool] = {}

    def evaluate(marker: Marker, extra: str) -> bool:
        uses = mentions_extra.get(id(marker))
        if uses is None:
            uses = mentions_extra[id(marker)] = "extra" in str(marker)
        key = (id(marker), extra if uses else "")
        verdict = evaluated.get(key)
        if verdict is None:
            verdict = evaluated[key] = bool(marker.evaluate({**env, "extra": extra}))
        return verdict

    def holds(i: int, marker: Marker, extras: Collection[str]) -> bool:
        try:
            if len(extras) == 1:  # most copies: no extra asked for ({""})
                for extra in extras:
                    return evaluate(marker, extra)
            return any(evaluate(marker, extra) for extra in extras)
        except Exception as e:  # an undefined comparison: keep the edge, say so once
            if (i, str(marker)) not in failed:
                failed.add((i, str(marker)))
                warnings.append(f"{dists[i].name} {dists[i].version}: marker {str(marker)!r} cannot be evaluated "
                                f"({e}); edge kept")
            return True

    extras: list[set[str]] = [{""} for _ in dists]
    requires: list[set[int]] = [set() for _ in dists]
    pending = list(range(len(dists)))
    while pending:  # asked-for extras can switch on requirements that ask for more extras
        i = pending.pop()
        for req in requirements[i]:
            if req.marker is not None and not holds(i, req.marker, extras[i]):
                continue
            # Its own extra (``foo[bar]`` in foo's Requires-Dist) switches on more of the copy itself: no edge.
            j = i if req.name == dists[i].normalized_name else _target(dists, by_name.get(req.name, []), i)
            if j is None:
                continue
            if j != i:
                requires[i].add(j)
            wanted = req.extras - extras[j]
            if wanted:
                extras[j] |= wanted
                pending.append(j)
    optional: list[set[int]] = [set() for _ in dists]
    marker_extras: dict[int, set[str]] = {}  # by id, as ``evaluated``
    for i, reqs in enumerate(requirements):
        for req in reqs:
            if req.marker is None:
                continue
            named = marker_extras.get(id(req.marker))
            if named is None:
                named = marker_extras[id(req.marker)] = _marker_extras(req.marker)
            named = named - extras[i]
            if (not named or req.name == dists[i].normalized_name or holds(i, req.marker, extras[i])
                    or not holds(i, req.marker, named)):
                continue
            j = _target(dists, by_name.get(req.name, []), i)
            if j is not None and j not in requires[i]:
                optional[i].add(j)
    used = [i for i, d in enumerate(dists) if d.status is Status.USED]
    required = {j for i in used for j in requires[i]}
    top = [i for i in used if i not in required]
    reachable = _reach(top, requires)
    for i in used:  # a cycle nobody else requires (a <-> b) would be unreachable: enter it at its first member
        if i not in reachable:
            top.append(i)
            reachable |= _reach([i], requires)
    return Graph(
        requires=tuple(tuple(sorted(s)) for s in requires),
        optional=tuple(tuple(sorted(s)) for s in optional),
        top=tuple(top),
        warnings=tuple(warnings),
    )


class ParsedRequirement(NamedTuple):
    """What the graph needs of a ``Requires-Dist`` line: the PEP 503 name, the extras asked for (PEP 685
    normalized) and the marker; and the version specifier (the graph links the copy installed whatever it
    says; ``requirements_check`` judges it)."""

    name: str
    extras: frozenset[str]
    marker: Marker | None
    specifier: SpecifierSet | None = None  # None: none given (a bare name or a URL requirement)


_REQ_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
# The usual line: a name, extras, a specifier (no URL), a marker. Anything else goes to packaging's parser.
_SIMPLE_REQUIREMENT = re.compile(
    rf"[ \t]*({_REQ_NAME})[ \t]*(?:\[[ \t]*((?:{_REQ_NAME}[ \t]*,[ \t]*)*{_REQ_NAME})?[ \t]*\])?"
    r"[ \t]*([^;@\[\]]*?)[ \t]*(?:;[ \t]*(.+?))?[ \t]*"
)


@lru_cache(maxsize=16384)
def parse_requirement(line: str) -> ParsedRequirement | str:
    """A ``Requires-Dist`` line as packaging reads it (``packaging.requirements.Requirement``), or why it
    does not parse. The usual form is split by one pattern, its specifier and marker checked by
    packaging (each cached: they repeat across distributions); any other form goes through
    ``Requirement`` itself. ``tests/test_facts_requirements.py`` holds both to the same answers."""
    match = _SIMPLE_REQUIREMENT.fullmatch(line)
    if match is not None:
        name, extras, specifier, marker = match.groups()
        try:
            parsed_specifier = _specifier(
                specifier[1:-1] if specifier.startswith("(") and specifier.endswith(")") else specifier)
            parsed_marker = _marker(marker) if marker else None
        except (InvalidSpecifier, InvalidMarker):
            pass  # packaging's parser says what is wrong
        else:
            asked = frozenset(canonicalize_name(x.strip()) for x in extras.split(",")) if extras else frozenset()
            return ParsedRequirement(canonicalize_name(name), asked, parsed_marker, parsed_specifier or None)
    try:
        requirement = Requirement(line)
    except InvalidRequirement as e:
        return str(e)
    return ParsedRequirement(canonicalize_name(requirement.name),
                             frozenset(canonicalize_name(x) for x in requirement.extras), requirement.marker,
                             requirement.specifier or None)


@lru_cache(maxsize=4096)
def _specifier(text: str) -> SpecifierSet:
    return SpecifierSet(text)


@lru_cache(maxsize=4096)
def _marker(text: str) -> Marker:
    return Marker(text)


def _marker_extras(marker: Marker) -> set[str]:
    """The extra names a marker compares ``extra`` with (packaging writes them ``extra == "name"``)."""
    return {canonicalize_name(name) for name in _EXTRA_VALUE.findall(str(marker))}


def _target(dists: Sequence[PythonDist], candidates: list[int], source: int) -> int | None:
    """The copy ``source`` imports: a used one, in the same site root if there are several. A vendored
    copy (pip/_vendor/urllib3) is imported only by the vendored code beside it, never by name. Never
    ``source`` itself (a requirement on its own name is handled by ``dependency_graph``)."""
    vendored = dists[source].status is Status.VENDORED
    candidates = [j for j in candidates if j != source and (vendored or dists[j].status is not Status.VENDORED)]
    if not candidates:
        return None
    used = [j for j in candidates if dists[j].status is Status.USED] or candidates
    same_root = [j for j in used if dists[j].site_root == dists[source].site_root]
    return (same_root or used)[0]


def _reach(start: Iterable[int], edges: Sequence[set[int]]) -> set[int]:
    seen: set[int] = set()
    stack = list(start)
    while stack:
        i = stack.pop()
        if i not in seen:
            seen.add(i)
            stack.extend(edges[i])
    return seen


@dataclass(frozen=True)
class Facts:
    """Everything derived from one result that more than one report states."""

    dists: tuple[PythonDist, ...]  # sorted by metadata path, then layer
    natives: tuple[NativeLib, ...]  # sorted by path, then layer
    dist_keys: tuple[str, ...]  # component_key of each, unique within the result
    native_keys: tuple[str, ...]
    licenses: tuple[LicenseFacts, ...]  # per dist
    graph: Graph
    native_owner: tuple[int | None, ...]  # index into dists of the distribution whose RECORD lists each library
    # Upstream libraries identified in ELF files, sorted by file path, layer, name and purl, with their keys,
    # the distribution that ships each (index into dists: its RECORD lists the file), and the ELF file's
    # NativeLib (index into natives) when it was cataloged.
    identified: tuple[NativeComponent, ...]
    identified_keys: tuple[str, ...]
    identified_owner: tuple[int | None, ...]
    identified_file: tuple[int | None, ...]
    os_packages: tuple[OsPackage, ...]  # sorted by database path, layer, name
    os_keys: tuple[str, ...]
    # identified_os[i]: index into os_packages of the OS package that lists identified[i]'s file
    identified_os: tuple[int | None, ...]
    counts: Counts
    environment: dict[str, str]

    index: dict[tuple[str, str, str | None], int]  # (purl, metadata path, layer) -> index into dists

    def dist_index(self, dist: PythonDist) -> int | None:
        """The index of a copy, None for one not in the result."""
        return self.index.get((dist.purl, dist.metadata_location.path, dist.metadata_location.layer))

    def key_of(self, component: Component) -> str | None:
        """The (unique) key of a component of the result; None for one not in it (a finding's copy read
        back from elsewhere is found by its purl and location)."""
        if isinstance(component, PythonDist):
            index = self.dist_index(component)
            return None if index is None else self.dist_keys[index]
        return self.other_keys.get(_identity(component))

    def ships(self, index: int) -> tuple[int, ...]:
        """Indexes into ``identified`` of the libraries distribution ``index`` ships (in files its RECORD lists)."""
        return self.shipped.get(index, ())

    @cached_property
    def other_keys(self) -> dict[tuple[str, str, str, str | None, str], str]:
        """Keys of the native libraries, identified libraries and OS packages, by ``_identity``."""
        keys: dict[tuple[str, str, str, str | None, str], str] = {}
        for lib, key in zip(self.natives, self.native_keys, strict=True):
            keys[_identity(lib)] = key
        for comp, key in zip(self.identified, self.identified_keys, strict=True):
            keys[_identity(comp)] = key
        for package, key in zip(self.os_packages, self.os_keys, strict=True):
            keys[_identity(package)] = key
        return keys

    @cached_property
    def identified_at(self) -> dict[str, int]:
        """Key -> index into ``identified``."""
        return {key: i for i, key in enumerate(self.identified_keys)}

    @cached_property
    def shipped(self) -> dict[int, tuple[int, ...]]:
        """Distribution index -> indexes into ``identified`` of what it ships."""
        found: dict[int, list[int]] = defaultdict(list)
        for i, owner in enumerate(self.identified_owner):
            if owner is not None:
                found[owner].append(i)
        return {owner: tuple(items) for owner, items in found.items()}


def _identity(component: NativeLib | NativeComponent | OsPackage) -> tuple[str, str, str, str | None, str]:
    """What tells two components apart within a result (type, purl, path, layer, name)."""
    loc = component.location
    return (type(component).__name__, component.purl or "", loc.path, loc.layer, component.name)


_last: tuple[ScanResult, Facts] | None = None


def facts_for(result: ScanResult) -> Facts:
    """The facts of ``result``, computed once (several reports of one run share them)."""
    global _last
    if _last is not None and _last[0] is result:
        return _last[1]
    dists = tuple(sorted((c for c in result.components if isinstance(c, PythonDist)),
                         key=lambda d: (d.metadata_location.path, d.metadata_location.layer or "")))
    natives = tuple(sorted((c for c in result.components if isinstance(c, NativeLib)),
                           key=lambda lib: (lib.location.path, lib.location.layer or "")))
    env = marker_environment(result)
    owner_of: dict[tuple[str, Location | None], int] = {(d.purl, d.metadata_location): i for i, d in enumerate(dists)}
    first_of: dict[str, int] = {}
    for i, d in enumerate(dists):
        first_of.setdefault(d.purl, i)
    identified = tuple(sorted((c for c in result.components if isinstance(c, NativeComponent)),
                              key=lambda c: (c.location.path, c.location.layer or "", c.name, c.purl)))
    packages = tuple(sorted((c for c in result.components if isinstance(c, OsPackage)),
                            key=lambda p: (p.location.path, p.location.layer or "", p.name, p.purl)))
    file_of = {lib.location: i for i, lib in enumerate(natives)}
    package_of: dict[str, int] = {}
    for i, package in enumerate(packages):
        package_of.setdefault(package.purl, i)
    facts = Facts(
        dists=dists,
        natives=natives,
        dist_keys=_unique([component_key(d) for d in dists]),
        native_keys=_unique([component_key(lib) for lib in natives]),
        licenses=tuple(license_facts(d) for d in dists),
        graph=dependency_graph(dists, env),
        native_owner=tuple(
            owner_of.get((lib.owner, lib.owner_location))
            if lib.owner is not None and lib.owner_location is not None else None
            for lib in natives
        ),
        identified=identified,
        identified_keys=_unique([component_key(c) for c in identified]),
        # the owning copy; without its location (a hand-made or read-back result), the first copy with that purl
        identified_owner=tuple(_owner(c, owner_of, first_of) for c in identified),
        identified_file=tuple(file_of.get(c.location) for c in identified),
        os_packages=packages,
        os_keys=_unique([component_key(p) for p in packages]),
        identified_os=tuple(None if c.os_package is None else package_of.get(c.os_package) for c in identified),
        counts=counts(result),
        environment=env,
        index={(d.purl, d.metadata_location.path, d.metadata_location.layer): i for i, d in enumerate(dists)},
    )
    _last = (result, facts)
    return facts


def _owner(comp: NativeComponent, owner_of: dict[tuple[str, Location | None], int],
           first_of: dict[str, int]) -> int | None:
    """The distribution copy that ships ``comp``; without its location (a hand-made or read-back result),
    the first copy with the owner's purl."""
    if comp.owner is None:
        return None
    found = owner_of.get((comp.owner, comp.owner_location))
    return first_of.get(comp.owner) if found is None else found


def _unique(keys: list[str]) -> tuple[str, ...]:
    """Keys made unique (one file reported twice cannot happen, but must never merge two components)."""
    seen: set[str] = set()
    out = []
    for key in keys:
        candidate, number = key, 1
        while candidate in seen:
            number += 1
            candidate = f"{key}-{number}"
        seen.add(candidate)
        out.append(candidate)
    return tuple(out)
