"""Orchestration: open -> catalog -> ScanResult. Returns data; never prints or exits."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from depscan import __version__
from depscan.artifacts.detect import open_artifact
from depscan.artifacts.kinds import ArtifactKind
from depscan.artifacts.view import OpenContext
from depscan.catalogers import Cataloger, check_order
from depscan.catalogers.native import NativeLibCataloger
from depscan.catalogers.os_packages import OsPackageCataloger
from depscan.catalogers.python_dists import PythonDistCataloger
from depscan.catalogers.vendored import VendoredCodeCataloger, attribute_natives, mark_vendored_dists
from depscan.catalogers.wheel_sboms import WheelSbomCataloger
from depscan.config import DB_ENV, AdvisorySettings, ScanConfig
from depscan.gc_pause import paused_gc
from depscan.models import ArtifactInfo, Component, FixAdvice, InputFile, ScanResult, Unknown
from depscan.ospkg.attribution import attribute as attribute_os_packages
from depscan.timestamps import parse_timestamp

if TYPE_CHECKING:
    from depscan.advisories.backend import AdvisoryBackend
    from depscan.match import MatchResult
    from depscan.native.policy import PolicyOutcome

# Called with a stage name and how far it is (done, total); total 0 when unknown.
Progress = Callable[[str, int, int], None]


def default_catalogers(native_cache: bool = True) -> list[Cataloger]:
    """The catalogers every scan runs, in order: native libraries take their owners from the
    distributions the Python cataloger found before them."""
    return [
        PythonDistCataloger(),
        OsPackageCataloger(),
        VendoredCodeCataloger(),
        NativeLibCataloger(use_cache=native_cache),
        WheelSbomCataloger(),
    ]


def run(config: ScanConfig, progress: Progress | None = None) -> ScanResult:
    """Scan one artifact (plus Lambda layers) and return what was found."""
    started = time.perf_counter()
    report = progress or (lambda stage, done, total: None)
    catalogers = default_catalogers(config.native_cache)
    check_order(catalogers)

    def wants(path: str) -> bool:
        return any(c.wants(path) for c in catalogers)

    def wants_prefix(path: str) -> int:
        return max(c.wants_prefix(path) for c in catalogers)

    def read_limit(path: str) -> int | None:
        caps = [c.read_limit(path) for c in catalogers if c.wants(path)]
        return None if not caps or None in caps else max(cap for cap in caps if cap is not None)

    def keep_whole(path: str, head: bytes) -> bool:
        return any(c.keep_whole(path, head) for c in catalogers)

    native = next((c for c in catalogers if isinstance(c, NativeLibCataloger)), None)
    others = [c for c in catalogers if c is not native]

    def consume_whole(path: str, data: bytes) -> object | None:
        # ELF files parsed as a streaming pass reads them (their bytes then released), unless another
        # cataloger reads the file too
        if native is None or any(c.wants(path) for c in others):
            return None
        return native.consume_whole(path, data)

    ctx = OpenContext(limits=config.limits, wants=wants, wants_prefix=wants_prefix, read_limit=read_limit,
                      keep_whole=keep_whole, digests=config.verify_record, consume_whole=consume_whole)
    report("opening", 0, 0)
    with open_artifact(config.path, ctx, config.kind, config.layers) as view:
        opened = time.perf_counter()
        for cataloger in catalogers:
            if isinstance(cataloger, NativeLibCataloger):
                cataloger.prefetch(view)  # ELF files read in threads while the catalogers before it run
        components: list[Component] = []
        unknowns: list[Unknown] = list(view.unknowns)
        for number, cataloger in enumerate(catalogers):
            report(f"cataloging ({cataloger.name})", number, len(catalogers))
            found = cataloger.catalog(view, tuple(components))
            components.extend(found.components)
            unknowns.extend(found.unknowns)
        components = attribute_os_packages(components)  # native libraries an OS package lists
        components = mark_vendored_dists(components)  # dist-info inside another distribution's _vendor/
        components = attribute_natives(components)  # native libraries inside a vendored copy belong to it
        report("done", len(catalogers), len(catalogers))
        policy = _policy(components, catalogers, view.kind, config)
        if view.kind == "directory" and not config.layers and os.path.isdir(config.path):
            from depscan.declared.check import check_directory  # the repository rules (DS0xx) on a checkout

            declared, declared_notes = check_directory(Path(config.path), [e.path for e in view.entries()])
            if declared or declared_notes:
                policy = replace(policy, findings=(*policy.findings, *declared),
                                 notes=(*policy.notes, *declared_notes))
        record_stats: dict[str, int] = {}
        if config.verify_record:  # every listed file read: only when asked
            from depscan.record_check import verify

            checked = verify(view, policy.components)
            policy = replace(policy, findings=(*policy.findings, *checked.findings),
                             notes=(*policy.notes, *checked.notes))
            unknowns.extend(checked.unknowns)
            record_stats = checked.stats
        if view.kind == ArtifactKind.DIRECTORY:  # the top of a git checkout: what it commits (DS101-DS104)
            policy = _committed(policy, config)
        info = ArtifactInfo(
            path=config.path,
            kind=view.kind,
            size=_size(config.path),
            layers=tuple(view.layers),
            sha256=_sha256(config.path) if config.hash_artifact else None,
            inputs=tuple(
                InputFile(layer, _sha256(layer) if config.hash_artifact else None, _size(layer))
                for layer in config.layers
            ),
        )
        entries = len(view)
        warnings = tuple(view.warnings)
    finished = time.perf_counter()
    assert ctx.budget is not None
    result = ScanResult(
        artifact=info,
        components=policy.components,
        unknowns=tuple(unknowns),
        warnings=warnings,
        tool_version=__version__,
        policy_findings=policy.findings,
        target=policy.target,
        notes=(*(n for c in catalogers if isinstance(c, VendoredCodeCataloger) for n in c.notes), *policy.notes),
        stats={
            "entries": entries,
            "bytes_read": ctx.budget.bytes_read,
            "open_seconds": round(opened - started, 4),
            "total_seconds": round(finished - started, 4),
            **record_stats,
        },
    )
    if config.advisories.mode == "skip":
        return result
    report("checking advisories", 0, 0)
    return with_advisories(result, config.advisories)


def _policy(components: list[Component], catalogers: list[Cataloger], kind: str, config: ScanConfig) -> PolicyOutcome:
    """Wheel SBOMs merged, the target runtime settled, the policy rules applied (``native.policy``)."""
    from depscan.native.policy import check

    sboms = next((c for c in catalogers if isinstance(c, WheelSbomCataloger)), None)
    outcome = check(components, kind, config.runtime, config.arch, sboms.sboms if sboms else ())
    if sboms is not None and sboms.notes:
        outcome = replace(outcome, notes=(*sboms.notes, *outcome.notes))
    from depscan import requirements_check  # Requires-Dist of the used copies against what is installed

    found, notes = requirements_check.check(outcome.components, outcome.target, kind)
    if found or notes:
        outcome = replace(outcome, findings=(*outcome.findings, *found), notes=(*outcome.notes, *notes))
    return outcome


def _committed(policy: PolicyOutcome, config: ScanConfig) -> PolicyOutcome:
    """The repository rules on committed dependencies (``committed.py``), for a directory at the top of a
    git checkout: another directory (an unpacked deployment) is made of installed files by design."""
    from depscan.committed import committed_findings, has_git

    root = Path(config.path)
    if not has_git(root):
        return policy
    found, notes = committed_findings(root, limits=config.limits, native_cache=config.native_cache)
    if not found and not notes:
        return policy
    return replace(policy, findings=(*policy.findings, *found), notes=(*policy.notes, *notes))


def with_advisories(
    result: ScanResult, settings: AdvisorySettings, backend: AdvisoryBackend | None = None
) -> ScanResult:
    """Match a result's components against advisories (also used by rescans of stored SBOMs)."""
    from depscan.match import match

    started = time.perf_counter()
    backend = backend or make_backend(settings)
    try:
        matched = match(result.components, backend, settings.ignores)
        checked = _matched(result, matched, settings, started)
        # fix advice while the backend is open: each recommended version is looked up too (depscan/fixes.py)
        return replace(checked, fixes=_fix_advice(checked, backend, settings))
    finally:
        close = getattr(backend, "close", None)
        if close is not None:
            close()


def _fix_advice(result: ScanResult, backend: AdvisoryBackend, settings: AdvisorySettings) -> tuple[FixAdvice, ...]:
    from depscan import fixes

    if settings.index_url is None:
        return fixes.verified(result, backend)
    from depscan.pypi_index import IndexClient

    index = IndexClient(settings.index_url, cache_dir=_cache_dir(settings), timeout=settings.index_timeout)
    with index.phase():
        return fixes.verified(result, backend, index)


def _matched(result: ScanResult, matched: MatchResult, settings: AdvisorySettings, started: float) -> ScanResult:
    notes = [*result.notes, *matched.notes, *_staleness(matched, settings.max_age_days)]
    findings = matched.findings
    if settings.only_fixed:
        kept = [f for f in findings if f.fix is not None]
        if len(kept) != len(findings):
            notes.append(
                f"{len(findings) - len(kept)} finding(s) without a fixed version above the installed one "
                "left out (--only-fixed)"
            )
        findings = kept
    stats = dict(result.stats)
    stats["advisory_seconds"] = round(time.perf_counter() - started, 4)
    return replace(
        result,
        findings=tuple(findings),
        advisory_data=matched.data,
        unchecked=tuple(sorted(matched.unchecked.items())),
        not_verifiable=tuple(sorted(set(matched.not_verifiable))),
        notes=tuple(notes),
        stats=stats,
    )


def _staleness(matched: MatchResult, max_age_days: int) -> list[str]:
    newest = matched.data.newest_modified if matched.data else None
    if not newest or not matched.data or not matched.data.source.startswith("offline:"):
        return []
    when = parse_timestamp(newest)
    if when is None:
        return []
    age = (datetime.now(timezone.utc) - when).days
    if age <= max_age_days:
        return []
    return [
        f"advisory data is {age} days old (newest record modified {when.date()}); "
        "run 'depscan db update' for current advisories"
    ]


def make_backend(settings: AdvisorySettings) -> AdvisoryBackend:
    """The advisory backend the settings choose (see ``AdvisorySettings``)."""
    from depscan.advisories import osv_db

    if settings.mode == "online":
        # Online means online: neither --db nor $DEPSCAN_DB turns it into an offline lookup.
        return _online_backend(settings)
    if settings.export is not None:
        # Reports name the export, not the cache file indexed from it.
        database = osv_db.cached_export_db(settings.export, _cache_dir(settings))
        return osv_db.OfflineDatabase(database, label=f"offline:{settings.export}")
    chosen_db = settings.db_path or (Path(os.environ[DB_ENV]) if os.environ.get(DB_ENV) else None)
    if settings.mode == "offline" or chosen_db is not None:
        return osv_db.OfflineDatabase(chosen_db or osv_db.default_db_path())
    if settings.mode == "auto" and osv_db.default_db_path().is_file():
        return osv_db.OfflineDatabase(osv_db.default_db_path())
    return _online_backend(settings)


def _online_backend(settings: AdvisorySettings) -> AdvisoryBackend:
    from depscan.advisories.osv_api import OnlineOSV, OSVClient, RecordCache

    client = OSVClient(base_url=settings.osv_url, retries=settings.osv_retries, timeout=settings.osv_timeout)
    return OnlineOSV(client, RecordCache(_cache_dir(settings) / "osv-records"))


def _cache_dir(settings: AdvisorySettings) -> Path:
    if settings.cache_dir is not None:
        return settings.cache_dir
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("depscan"))


def _sha256(path: str) -> str | None:
    """Hex SHA-256 of the input file (None for a directory)."""
    if not os.path.isfile(path):
        return None
    from depscan.hashing import file_sha256

    return file_sha256(Path(path))


def _size(path: str) -> int | None:
    try:
        return os.path.getsize(path) if os.path.isfile(path) else None
    except OSError:
        return None


def rescan(sbom: str, settings: AdvisorySettings, backend: AdvisoryBackend | None = None) -> ScanResult:
    """Match the components a stored SBOM lists against current advisories (``depscan rescan``)."""
    started = time.perf_counter()
    with paused_gc():  # hundreds of thousands of acyclic objects (see gc_pause)
        return _rescan(sbom, settings, backend, started)


def _rescan(sbom: str, settings: AdvisorySettings, backend: AdvisoryBackend | None, started: float) -> ScanResult:
    from depscan.hashing import file_sha256
    from depscan.sbom_reader import read_sbom

    contents = read_sbom(Path(sbom))
    checkable = len(contents.components)
    notes = []
    if not checkable:
        notes.append(
            f"nothing was checked: the SBOM lists no PyPI component with a version "
            f"({contents.entries} component(s) in all)"
        )
    for purl_type, count in sorted(contents.other_ecosystems.items()):
        notes.append(f"{count} {purl_type} component(s) in the SBOM were not checked: only PyPI advisories are matched")
    if contents.native:
        notes.append(f"{contents.native} native librar{'y' if contents.native == 1 else 'ies'} in the SBOM: "
                     "PyPI advisories do not apply to them")
    if contents.natives or contents.os_packages:
        notes.append(f"{len(contents.natives)} native component(s) (pkg:generic) and {len(contents.os_packages)} OS "
                     "package(s) (pkg:deb, pkg:apk, pkg:rpm) read from the SBOM")
    if contents.without_purl:
        notes.append(f"{contents.without_purl} component(s) in the SBOM have no usable purl and were not checked")
    notes += [f"SBOM entry skipped (wrong type): {note}" for note in contents.skipped]
    if contents.skipped_total > len(contents.skipped):
        notes.append(f"{contents.skipped_total - len(contents.skipped)} more SBOM entries skipped (wrong type)")
    result = ScanResult(
        artifact=ArtifactInfo(
            path=sbom,
            kind=f"sbom:{contents.format}:{contents.spec_version}",
            size=_size(sbom),
            layers=contents.subject_layers,
            sha256=file_sha256(Path(sbom)),
            describes=contents.subject,
        ),
        components=(*contents.components, *contents.natives, *contents.os_packages),
        unknowns=(),
        tool_version=__version__,
        stats={
            "total_seconds": round(time.perf_counter() - started, 4),
            # What the SBOM held, and how much of it can be checked (0: nothing was checked).
            "sbom_entries": contents.entries,
            "sbom_checkable": checkable,
            "sbom_other_ecosystems": sum(contents.other_ecosystems.values()),
            "sbom_without_purl": contents.without_purl,
            "sbom_native": contents.native,
            "sbom_native_components": len(contents.natives),
            "sbom_os_packages": len(contents.os_packages),
            "sbom_skipped": contents.skipped_total,
        },
        notes=tuple(notes),
        source_kind="sbom",
    )
    return with_advisories(result, settings, backend)
