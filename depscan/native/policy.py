"""Policy findings on native code: what the runtime would fail to load, and what nobody owns.

One call after the catalogers (``check``): wheel-embedded SBOMs are merged with what the bytes
said (``catalogers.wheel_sboms.merge``), the target runtime is settled (``runtimes.infer_target``),
and each rule below turns components into ``models.PolicyFinding``. Rules, with their level (README,
"Policy rules", is the user-facing table):

* ``native-unowned`` (low): an ELF file no RECORD lists and no OS package owns: its path, its
  SHA-256 and the best identity the bytes gave. Nobody will upgrade it. (Files outside Python
  site-packages are not judged while an OS package database's file lists are unknown.) A file
  inside a vendored copy that has no RECORD of its own (``catalogers.vendored.attribute_natives``
  makes the copy its owner) is reported too, naming the copy: no installer updates that copy either.
* ``native-wrong-machine`` (high): an ELF file for another machine than the target's.
* ``native-glibc-too-new`` (high): an ELF file needing a ``GLIBC_2.x`` newer than the target's glibc
  (or any, on a musl target).
* ``wheel-tag-mismatch`` (high): a distribution none of whose WHEEL tags fits the target Python,
  machine and glibc; an extension module whose ``cpython-3XY`` tag names another Python.
* ``sbom-disagreement`` (low): a wheel's own SBOM (PEP 770) says another version than the bytes,
  or lists a library no file of the distribution holds.

A rule that needs a part of the target that is unknown is skipped, and a note says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from packaging.tags import Tag, parse_tag

from depscan.catalogers.vendored import held_without_record
from depscan.catalogers.wheel_sboms import WheelSbom, merge
from depscan.models import (
    Component,
    Level,
    NativeComponent,
    NativeLib,
    OsPackage,
    PolicyFinding,
    PythonDist,
    Status,
    TargetRuntime,
)
from depscan.runtimes import infer_target, site_python, version_tuple

UNOWNED = "native-unowned"
WRONG_MACHINE = "native-wrong-machine"
GLIBC_TOO_NEW = "native-glibc-too-new"
TAG_MISMATCH = "wheel-tag-mismatch"
SBOM_DISAGREEMENT = "sbom-disagreement"

RULES: dict[str, Level] = {
    UNOWNED: Level.LOW,
    WRONG_MACHINE: Level.HIGH,
    GLIBC_TOO_NEW: Level.HIGH,
    TAG_MISMATCH: Level.HIGH,
    SBOM_DISAGREEMENT: Level.LOW,
}

# Legacy manylinux platform tags and the glibc each stands for (PEP 513, PEP 571, PEP 599; PEP 600
# made them aliases of manylinux_2_5, _2_12 and _2_17).
_LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
# Wheel platform-tag machine names that differ from the ELF names ``TargetRuntime.machine`` uses.
_TAG_MACHINES = {"arm64": "aarch64", "amd64": "x86_64", "i686": "i386", "armv7l": "arm"}
_CONFIDENCE_RANK = {"high": 0, "medium": 1, "low": 2}


@dataclass(frozen=True, slots=True)
class PolicyOutcome:
    """What ``check`` returns: the components (wheel SBOMs merged in), the findings, the target
    runtime and notes for people (how the target was learned, which checks were skipped)."""

    components: tuple[Component, ...]
    findings: tuple[PolicyFinding, ...]
    target: TargetRuntime
    notes: tuple[str, ...]


def check(
    components: Sequence[Component],
    kind: str,
    runtime: str | None = None,
    arch: str | None = None,
    sboms: Sequence[WheelSbom] = (),
) -> PolicyOutcome:
    """Merge wheel SBOMs, settle the target runtime and apply every rule."""
    merged, findings = merge(components, sboms)
    target = infer_target(merged, kind, runtime, arch)
    notes: list[str] = []
    unowned_findings, not_judged, blind = _unowned(merged)
    findings += unowned_findings
    findings += wrong_machine(merged, target)
    findings += glibc_too_new(merged, target)
    findings += tag_mismatches(merged, target)
    # A note only when a check had something to judge and could not (the target itself is in
    # ``ScanResult.target``; notes reach every report, so they are kept for what people must act on).
    libs = [c for c in merged if isinstance(c, NativeLib)]
    skipped = []
    if libs and target.machine is None:
        skipped.append(f"{WRONG_MACHINE} (the machine is unknown: give --arch)")
    needs_glibc = any(lib.elf is not None and lib.elf.min_glibc for lib in libs)
    if target.glibc is None and target.libc != "musl" and needs_glibc:
        skipped.append(f"{GLIBC_TOO_NEW} (the glibc is unknown: give --runtime)")
    if target.python is None and any(
        isinstance(c, PythonDist) and c.wheel is not None and c.wheel.tags and not _pure(c) for c in merged
    ):
        skipped.append(f"the Python part of {TAG_MISMATCH} (the Python version is unknown: give --runtime)")
    if not_judged:
        skipped.append(
            f"{UNOWNED} for {not_judged} ELF file(s) outside Python site-packages (the file lists of the "
            f"{'/'.join(blind)} database are not read, so an OS package may own them)"
        )
    if skipped:
        notes.append(f"policy checks skipped: {'; '.join(skipped)}; target runtime: {target.describe()}")
    return PolicyOutcome(tuple(merged), tuple(findings), target, tuple(notes))


def _finding(rule: str, component: Component, message: str, purl: str | None) -> PolicyFinding:
    location = component.metadata_location if isinstance(component, PythonDist) else component.location
    return PolicyFinding(rule=rule, level=RULES[rule], location=location, message=message, component=purl)


def _best_identity(identities: Sequence[NativeComponent]) -> NativeComponent | None:
    """The identity to name a file by: the file itself before what is linked into it, then the surest."""
    if not identities:
        return None
    return min(
        identities,
        key=lambda c: (c.embedded, _CONFIDENCE_RANK.get(c.confidence or "low", 3), c.version is None, c.name),
    )


def _identity_text(identity: NativeComponent | None) -> str:
    if identity is None:
        return "not identified"
    version = identity.version or "(version unknown)"
    how = f" ({identity.evidence[0].method}, {identity.evidence[0].confidence} confidence)" if identity.evidence else ""
    return f"identified as {identity.name} {version}{how}"


def unowned(components: Sequence[Component]) -> list[PolicyFinding]:
    """``native-unowned``: ELF files no distribution's RECORD lists and no OS package database owns."""
    return _unowned(components)[0]


def _unowned(components: Sequence[Component]) -> tuple[list[PolicyFinding], int, list[str]]:
    """The findings, and how many files were not judged because an OS package database's file lists
    are unknown (with the package managers concerned).

    A file outside every Python ``site_root`` may belong to an OS package; when the artifact has a
    package database whose file lists depscan does not have (no package of that manager lists
    files, and no library was attributed to a package), such a file cannot be called unowned.
    """
    packages = [c for c in components if isinstance(c, OsPackage)]
    owned_by_os = {path for c in packages for path in c.files}
    attributed = any(isinstance(c, NativeLib) and c.os_package is not None for c in components)
    managers: list[str] = sorted({p.package_manager for p in packages})
    blind = [m for m in managers if not any(p.files for p in packages if p.package_manager == m)]
    roots = {c.site_root for c in components if isinstance(c, PythonDist)}
    judge_all = not blind or attributed or "" in roots
    prefixes = tuple(f"{root}/" for root in roots if root)
    identities: dict[tuple[str, str | None], list[NativeComponent]] = {}
    for c in components:
        if isinstance(c, NativeComponent):
            identities.setdefault((c.location.path, c.location.layer), []).append(c)
    in_copy = held_without_record(components)  # id(file) -> the vendored copy holding it
    by_metadata = {(c.metadata_location.path, c.metadata_location.layer): c for c in components
                   if isinstance(c, PythonDist)} if in_copy else {}
    findings = []
    not_judged = 0
    for lib in components:
        if not isinstance(lib, NativeLib) or lib.os_package is not None:
            continue
        copy = in_copy.get(id(lib))
        if lib.owner is not None and copy is None:
            continue
        if lib.location.path in owned_by_os:
            continue
        if not judge_all and not lib.location.path.startswith(prefixes):
            not_judged += 1
            continue
        sha256 = lib.elf.sha256 if lib.elf is not None else lib.sha256
        best = _best_identity(identities.get((lib.location.path, lib.location.layer), ()))
        what = "extension module" if lib.kind == "python-extension" else "shared library"
        where = f" ({_copy_text(copy, by_metadata)})" if copy is not None else ""
        message = (
            f"{lib.location.path}: an ELF {what} no RECORD lists and no OS package owns{where} "
            f"(sha256 {sha256 or 'not computed'}; {_identity_text(best)}): nothing will upgrade it; "
            "install it from a package, or rebuild it and record where it comes from"
        )
        purl = best.purl if best is not None else lib.purl
        findings.append(_finding(UNOWNED, lib, message, purl if purl is not None or copy is None else copy.purl))
    return findings, not_judged, blind


def _copy_text(copy: PythonDist, by_metadata: dict[tuple[str, str | None], PythonDist]) -> str:
    """``inside urllib3 1.25.7 vendored by pip 20.0 (no RECORD of its own)``."""
    vendoring = None
    if copy.vendored_by is not None:
        vendoring = by_metadata.get((copy.vendored_by.path, copy.vendored_by.layer))
    by = f" vendored by {vendoring.name} {vendoring.version}" if vendoring is not None else ", a copy without dist-info"
    return f"inside {copy.name} {copy.version}{by} (no RECORD of its own)"


def _loaded(components: Sequence[Component]) -> list[NativeLib]:
    """The ELF files the runtime may load: not those of a shadowed copy of a distribution (the
    runtime imports the copy that shadows it)."""
    shadowed = {c.metadata_location for c in components if isinstance(c, PythonDist) and c.status is Status.SHADOWED}
    return [c for c in components if isinstance(c, NativeLib) and c.owner_location not in shadowed]


def wrong_machine(components: Sequence[Component], target: TargetRuntime) -> list[PolicyFinding]:
    """``native-wrong-machine``: ELF files built for another machine than the target's."""
    if target.machine is None:
        return []
    findings = []
    for lib in _loaded(components):
        if lib.arch not in ("unknown", target.machine):
            message = (
                f"{lib.location.path}: built for {lib.arch}, the target machine is {target.machine}: "
                "the runtime cannot load it; install the build for the target's architecture"
            )
            findings.append(_finding(WRONG_MACHINE, lib, message, lib.purl or lib.owner))
    return findings


def glibc_too_new(components: Sequence[Component], target: TargetRuntime) -> list[PolicyFinding]:
    """``native-glibc-too-new``: ELF files whose ``GLIBC_2.x`` needs exceed the target's glibc (or
    that need glibc at all on a musl target)."""
    musl = target.libc == "musl"
    if target.glibc is None and not musl:
        return []
    have = version_tuple(target.glibc) if target.glibc else ()
    runtime = f"the target ({target.runtime})" if target.runtime else "the target"
    findings = []
    for lib in _loaded(components):
        if lib.elf is None or not lib.elf.min_glibc:
            continue
        if musl:
            message = (
                f"{lib.location.path}: needs GLIBC_{lib.elf.min_glibc}, {runtime} runs musl libc: loading it fails; "
                "use a musllinux build"
            )
        elif version_tuple(lib.elf.min_glibc) > have:
            message = (
                f"{lib.location.path}: needs GLIBC_{lib.elf.min_glibc}, {runtime} has glibc {target.glibc}: "
                "loading it fails (version `GLIBC_...' not found); use a build for an older glibc "
                "(a manylinux tag at or below the runtime's)"
            )
        else:
            continue
        findings.append(_finding(GLIBC_TOO_NEW, lib, message, lib.purl or lib.owner))
    return findings


def tag_mismatches(components: Sequence[Component], target: TargetRuntime) -> list[PolicyFinding]:
    """``wheel-tag-mismatch``: installed wheels none of whose tags fit the target, and extension
    modules tagged for another Python (skipped when their distribution is already reported).

    Not judged when the artifact also has the target's own ``lib/python3.X/site-packages``: what
    lives under another Python's (a layer built for several runtimes ships one directory per version,
    and the target imports only its own). Without one, everything is judged: nothing would be imported."""
    findings = []
    reported: set[tuple[str, str | None]] = set()
    sites = {site_python(c.metadata_location.path) for c in components if isinstance(c, PythonDist)}
    own_site = target.python is not None and target.python in sites

    def elsewhere(path: str) -> bool:
        version = site_python(path)
        return own_site and version is not None and version != target.python

    for dist in components:
        if not isinstance(dist, PythonDist) or dist.status is not Status.USED or dist.wheel is None:
            continue
        if elsewhere(dist.metadata_location.path):
            continue
        problems = wheel_tag_problems(dist.wheel.tags, target)
        if problems:
            message = (
                f"{dist.name} {dist.version} is tagged {', '.join(dist.wheel.tags)}, which does not fit the target: "
                f"{'; '.join(problems)}; install the wheel built for the target"
            )
            findings.append(_finding(TAG_MISMATCH, dist, message, dist.purl))
            reported.add((dist.metadata_location.path, dist.metadata_location.layer))
    if target.python is None:
        return findings
    want = version_tuple(target.python)
    for lib in _loaded(components):
        if lib.kind != "python-extension" or not lib.abi_tag:
            continue
        if lib.owner_location is not None and (lib.owner_location.path, lib.owner_location.layer) in reported:
            continue
        if elsewhere(lib.location.path):
            continue
        problem = _module_tag_problem(lib.abi_tag, want)
        if problem is not None:
            message = f"{lib.location.path}: {problem}, the target is Python {target.python}: importing it fails"
            findings.append(_finding(TAG_MISMATCH, lib, message, lib.owner))
    return findings


def _module_tag_problem(abi_tag: str, want: tuple[int, ...]) -> str | None:
    if abi_tag.startswith("cpython-3"):
        digits = abi_tag[len("cpython-3"):].split("-", 1)[0]
        if digits.isdigit() and (3, int(digits)) != want:
            return f"an extension module for CPython 3.{int(digits)} ({abi_tag})"
        return None
    if abi_tag.startswith("pypy"):
        return f"an extension module for PyPy ({abi_tag})"
    return None


def _pure(dist: PythonDist) -> bool:
    """Tagged only ``*-none-any``: nothing for the target to refuse but the Python version."""
    return dist.wheel is not None and all(t.endswith("-none-any") for t in dist.wheel.tags)


def wheel_tag_problems(tags: Sequence[str], target: TargetRuntime) -> list[str]:
    """Why none of ``tags`` fits ``target`` (empty when one does, or when no tag can be judged).

    Each tag (compressed sets like ``cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64``
    expanded by ``packaging.tags.parse_tag``) is judged on what the target knows: the interpreter
    and ABI against its Python version, the platform's machine against its machine, a manylinux
    tag's glibc against its glibc, a musllinux tag against a glibc runtime.
    """
    problems: list[str] = []
    fits = False
    judged = False
    for text in tags:
        try:
            expanded = parse_tag(text)
        except (ValueError, IndexError):
            continue
        for tag in sorted(expanded, key=str):
            judged = True
            found = [p for p in (_interpreter_problem(tag, target), _platform_problem(tag.platform, target)) if p]
            if not found:
                fits = True
            problems += [p for p in found if p not in problems]
    return [] if fits or not judged else problems


def _interpreter_problem(tag: Tag, target: TargetRuntime) -> str | None:
    if target.python is None:
        return None
    want = version_tuple(target.python)
    interpreter, abi = tag.interpreter, tag.abi
    if interpreter.startswith("py"):
        digits = interpreter[2:]
        if digits[:1] not in ("", "3"):
            return f"{interpreter} is for Python {digits[0]}"
        if len(digits) > 1 and digits[1:].isdigit() and (3, int(digits[1:])) > want:
            return f"{interpreter} needs Python 3.{int(digits[1:])} (target Python {target.python})"
        return None
    if interpreter.startswith("cp") and interpreter[2:].isdigit() and interpreter[2:3] == "3":
        version = (3, int(interpreter[3:])) if len(interpreter) > 3 else (3,)
        shown = ".".join(map(str, version))
        if abi == "abi3":
            if version > want:
                return f"{interpreter}-abi3 needs CPython {shown} or later (target Python {target.python})"
            return None
        if version != want:
            return f"{interpreter} is built for CPython {shown} (target Python {target.python})"
        return None
    return f"{interpreter} is for another Python implementation than CPython"


def _platform_problem(platform: str, target: TargetRuntime) -> str | None:
    if platform == "any":
        return None
    if platform.startswith(("macosx_", "win", "ios_", "android_")):
        return f"{platform} is not a Linux platform"
    machine = None
    glibc: tuple[int, ...] | None = None
    musl = False
    legacy, _, rest = platform.partition("_")
    if legacy in _LEGACY_MANYLINUX:
        glibc, machine = _LEGACY_MANYLINUX[legacy], rest
    elif platform.startswith("manylinux_"):
        major, minor, machine = [*platform[len("manylinux_"):].split("_", 2), "", "", ""][:3]
        if major.isdigit() and minor.isdigit():
            glibc = (int(major), int(minor))
    elif platform.startswith("musllinux_"):
        musl = True
        machine = platform[len("musllinux_"):].split("_", 2)[-1]
    elif platform.startswith("linux_"):
        machine = rest
    else:
        return None  # a platform this check does not know: not judged
    machine = _TAG_MACHINES.get(machine, machine)
    if target.machine is not None and machine and machine != target.machine:
        return f"{platform} is for {machine} (target machine {target.machine})"
    if musl and target.libc == "glibc":
        return f"{platform} is for musl libc (the target runs glibc{' ' + target.glibc if target.glibc else ''})"
    if glibc is not None and target.libc == "musl":
        return f"{platform} is for glibc (the target runs musl libc)"
    if glibc is not None and target.glibc is not None and glibc > version_tuple(target.glibc):
        return f"{platform} needs glibc {glibc[0]}.{glibc[1]} (the target has {target.glibc})"
    return None
