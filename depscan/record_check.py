"""``--verify-record``: the files of each installed distribution against its RECORD (PEP 376, PEP 627).

One call after the catalogers (``verify``), only when the option is given: every file a ``*.dist-info``
RECORD lists with a hash is read once through the view (within the scan's limits) and hashed from the
bytes read; its digest and size are compared with the row's. Rows without a hash (the RECORD's own row,
files an installer writes after the fact) are skipped, as pip skips them. Shadowed copies are checked
too, and their findings say so. A distribution that another one vendors (its ``.dist-info`` listed in the
vendoring distribution's RECORD, as ``setuptools/_vendor/*.dist-info`` are) is checked through that RECORD,
not its own: vendoring projects patch and trim what they vendor. Rules (README, "Policy rules", is the
user-facing table):

* ``record-modified`` (high; medium for a ``.pyc``, which Python itself rewrites when its source's
  timestamp changes): a listed file whose sha256 or size differs from the row's. A changed
  ``certifi/cacert.pem`` is a CA bundle with root certificates added (or removed): the message says so.
* ``record-missing`` (low): a listed file that is not in the artifact. Byte-code caches (``.pyc``) a
  packer stripped, and rows outside the distribution's site-packages directory (console scripts,
  data files: often not packed), are not findings; a note counts them.
* ``record-unlisted`` (medium): a file no RECORD lists (nor any egg-info ``installed-files.txt``) inside a
  directory the distribution's RECORD puts files in (its packages, subpackages, its ``.dist-info``), or
  in a new directory below one (the nearest such directory names the distribution): code added after
  install. ``__pycache__`` and ``*.pyc`` are left out (RECORD legitimately
  omits byte-code compiled after install). A file in a namespace directory (``google/``) that no
  distribution lists a file in directly is not anyone's: the vendored-code check is about those. The
  members of a nested archive (``dateutil-zoneinfo.tar.gz!/...``) are not files of the directory: the
  archive is, and its row is checked.

Per distribution and rule, the first ``MAX_PER_RULE`` files are findings of their own; one more finding
counts the rest. A compressed tar (or image layer) is read in one streaming pass that keeps only what the
catalogers read; with the option, that pass computes the sha256 and size of every regular member as it
streams by (``OpenContext.digests``, ``ArtifactView.digest``), and a file it did not keep is judged by
them. A file that can be neither read nor judged so (a member over the size limit in a zip, a row with
another algorithm than sha256 in a streamed tar) is an ``Unknown``, never a verdict.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from depscan.artifacts.view import ArtifactView, EntryType
from depscan.errors import MemberError
from depscan.models import (
    Component,
    Level,
    Location,
    PolicyFinding,
    PythonDist,
    RecordEntry,
    Status,
    Unknown,
)

MODIFIED = "record-modified"
MISSING = "record-missing"
UNLISTED = "record-unlisted"

RULES: dict[str, Level] = {
    MODIFIED: Level.HIGH,
    MISSING: Level.LOW,
    UNLISTED: Level.MEDIUM,
}
BYTECODE_MODIFIED = Level.MEDIUM  # record-modified for a .pyc file
MAX_PER_RULE = 20  # findings per distribution and rule; the rest are counted in one more
MAX_UNREADABLE = 5  # Unknowns per distribution; the rest are counted in one more
CA_BUNDLE = "certifi/cacert.pem"
STREAMED_ALGORITHM = "sha256"  # what a compressed tar's streaming pass computes (OpenContext.digests)


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    """What ``verify`` returns: the findings, the files it could not read, notes for people, and
    counters for ``ScanResult.stats``."""

    findings: tuple[PolicyFinding, ...]
    unknowns: tuple[Unknown, ...]
    notes: tuple[str, ...]
    stats: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class _Counts:
    distributions: int = 0
    files: int = 0
    bytes: int = 0
    no_hash: int = 0
    bytecode_missing: int = 0
    outside_missing: int = 0
    streamed: int = 0
    unsupported: dict[str, int] = field(default_factory=dict)


def verify(view: ArtifactView, components: Sequence[Component]) -> RecordOutcome:
    """Check every ``*.dist-info`` distribution's files against its RECORD (see the module docstring)."""
    dists = [c for c in components if isinstance(c, PythonDist)]
    with_record = [d for d in dists if d.found_by == "python-dist-info" and d.record]
    vendored = _vendored(with_record)
    checked = [d for d in with_record if d.metadata_location.path not in vendored]
    counts = _Counts(distributions=len(checked))
    findings: list[PolicyFinding] = []
    unknowns: list[Unknown] = []
    seen = _hash_all(view, checked)
    for result in seen.values():
        if not isinstance(result, str):
            counts.files += 1
            counts.bytes += result[1]
            counts.streamed += result[2]
    for dist in checked:
        findings += _check_rows(view, dist, seen, counts, unknowns)
    findings += _unlisted(view, dists, checked)
    notes = []
    if counts.bytecode_missing or counts.outside_missing:
        parts = []
        if counts.bytecode_missing:
            parts.append(f"{counts.bytecode_missing} byte-code file(s) (.pyc) absent (stripped, or never compiled)")
        if counts.outside_missing:
            parts.append(f"{counts.outside_missing} file(s) outside site-packages absent (scripts and data files "
                         "installed elsewhere, not packed)")
        notes.append(f"--verify-record: RECORD rows not reported as missing: {'; '.join(parts)}")
    if counts.unsupported:
        listed = ", ".join(f"{name} ({n})" for name, n in sorted(counts.unsupported.items()))
        notes.append(f"--verify-record: RECORD rows with a hash algorithm hashlib does not guarantee were not "
                     f"checked: {listed}")
    stats = {
        "record_distributions": counts.distributions,
        "record_files_checked": counts.files,
        "record_bytes_read": counts.bytes,
        "record_files_streamed": counts.streamed,
        "record_rows_without_hash": counts.no_hash,
        "record_vendored_skipped": len(with_record) - len(checked),
    }
    return RecordOutcome(tuple(findings), tuple(unknowns), tuple(notes), stats)


def _vendored(dists: Sequence[PythonDist]) -> set[str]:
    """The METADATA paths of distributions another distribution's RECORD lists (``pip/_vendor``,
    ``setuptools/_vendor/*.dist-info``, bleach's patched html5lib): the vendoring distribution's RECORD
    describes those files as installed, so theirs is not checked (the vendoring project may patch or
    trim what it vendors)."""
    own = {d.metadata_location.path: d.metadata_dir for d in dists}
    covered = set()
    for dist in dists:
        for row in dist.record:
            if row.path in own and own[row.path] != dist.metadata_dir:
                covered.add(row.path)
    return covered


def _encoded(digest: bytes) -> str:
    """A digest as RECORD writes it: urlsafe base64 without padding."""
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _site_prefix(dist: PythonDist) -> str:
    """The distribution's site-packages directory as a path prefix ("" for the artifact's top)."""
    return f"{dist.site_root}/" if dist.site_root else ""


def _inside_site(path: str, prefix: str) -> bool:
    """Whether ``path`` lies inside the distribution's site-packages directory (not climbing out of it)."""
    return path.startswith(prefix) if prefix else True


def _label(dist: PythonDist) -> str:
    shadowed = ", a shadowed copy the runtime does not import" if dist.status is Status.SHADOWED else ""
    return f"{dist.name} {dist.version} ({dist.metadata_dir}{shadowed})"


def _check_rows(
    view: ArtifactView,
    dist: PythonDist,
    seen: dict[tuple[str, str], tuple[str, int, bool] | str],
    counts: _Counts,
    unknowns: list[Unknown],
) -> list[PolicyFinding]:
    prefix = _site_prefix(dist)
    modified: list[PolicyFinding] = []
    missing: list[PolicyFinding] = []
    unreadable: list[Unknown] = []
    layer = dist.metadata_location.layer
    for row in dist.record:
        if row.algorithm is None or row.encoded_digest is None:
            counts.no_hash += 1
            continue
        if row.algorithm not in hashlib.algorithms_guaranteed:
            counts.unsupported[row.algorithm] = counts.unsupported.get(row.algorithm, 0) + 1
            continue
        entry = view.get(row.path)
        if entry is None or entry.type is EntryType.DIR:
            if row.path.endswith(".pyc"):
                counts.bytecode_missing += 1
            elif not _inside_site(row.path, prefix):
                counts.outside_missing += 1
            else:
                missing.append(_missing(dist, row, layer))
            continue
        where = Location(row.path, entry.layer)
        result = seen[(row.path, row.algorithm)]
        if isinstance(result, str):
            unreadable.append(Unknown(where, f"--verify-record: {result}"))
            continue
        digest, size, _streamed = result
        expected = row.encoded_digest.rstrip("=")
        if digest != expected or (row.size is not None and row.size != size):
            modified.append(_modified(dist, row, where, digest, size))
    if len(unreadable) > MAX_UNREADABLE:
        rest = len(unreadable) - MAX_UNREADABLE
        unreadable = [*unreadable[:MAX_UNREADABLE],
                      Unknown(dist.metadata_location, f"--verify-record: {rest} more file(s) of {_label(dist)} "
                                                      "could not be read; not verified")]
    unknowns += unreadable
    return [*_capped(MODIFIED, dist, modified), *_capped(MISSING, dist, missing)]


def _hashable(row: RecordEntry) -> bool:
    return row.encoded_digest is not None and row.algorithm in hashlib.algorithms_guaranteed


def _hash_all(
    view: ArtifactView, dists: Sequence[PythonDist]
) -> dict[tuple[str, str], tuple[str, int, bool] | str]:
    """Every listed file with a usable hash, read and hashed once: ``(path, algorithm)`` -> (digest, size,
    from a streaming pass), or why it could not be judged. In this thread: worker threads (as the native
    cataloger uses) were measured slower here (bench/README.md, ``bench_verify_record.py``): most of the time
    is inflating, file by file."""
    results: dict[tuple[str, str], tuple[str, int, bool] | str] = {}
    for dist in dists:
        for row in dist.record:
            if row.algorithm is None or not _hashable(row) or (row.path, row.algorithm) in results:
                continue
            entry = view.get(row.path)
            if entry is not None and entry.type is not EntryType.DIR:
                results[(row.path, row.algorithm)] = _hash(view, row.path, row.algorithm)
    return results


def _hash(view: ArtifactView, path: str, algorithm: str) -> tuple[str, int, bool] | str:
    """The file's digest (RECORD's encoding), size and whether they came from a streaming pass, or why the
    file could not be judged. Read once when it can be; a member a compressed tar's single pass did not
    keep is judged by the sha256 that pass computed of every byte of it (``ArtifactView.digest``), never
    by what it kept (a prefix)."""
    try:
        data = view.read(path)
    except MemberError as e:
        streamed = view.digest(path)
        if streamed is None:
            return str(e)
        if algorithm != STREAMED_ALGORITHM:
            return (f"{e}; the streaming pass computed its {STREAMED_ALGORITHM} only, and its RECORD row "
                    f"gives {algorithm}")
        return _encoded(streamed[0]), streamed[1], True
    return _encoded(hashlib.new(algorithm, data).digest()), len(data), False


def _modified(dist: PythonDist, row: RecordEntry, where: Location, digest: str, size: int) -> PolicyFinding:
    expected_size = "no size" if row.size is None else f"{row.size} bytes"
    what = (f"{row.path}: changed since {_label(dist)} was installed: its RECORD says "
            f"{row.algorithm}={row.encoded_digest} and {expected_size}, the file has "
            f"{row.algorithm}={digest} and {size} bytes")
    level = RULES[MODIFIED]
    if row.path == CA_BUNDLE or row.path.endswith("/" + CA_BUNDLE):
        advice = ("the CA bundle differs from the one certifi ships: root certificates were added (or removed), "
                  "so TLS connections trust certificates certifi never vetted; find what changed it and "
                  "reinstall certifi")
    elif row.path.endswith(".pyc"):
        level = BYTECODE_MODIFIED
        advice = ("a byte-code cache: Python rewrites it when its source's timestamp changes, and a planted "
                  "one runs instead of the source; reinstall the distribution")
    elif row.path.endswith(".so") or ".so." in row.path.rpartition("/")[2]:
        advice = ("the native code is not what the wheel shipped (stripping debug symbols, as serverless "
                  "slim packaging does, changes it too); find what changed it and reinstall")
    else:
        advice = "the installed code or data is not what the wheel shipped; find what changed it and reinstall"
    return PolicyFinding(MODIFIED, level, where, f"{what}; {advice}", dist.purl)


def _missing(dist: PythonDist, row: RecordEntry, layer: str | None) -> PolicyFinding:
    size = "" if row.size is None else f", {row.size} bytes"
    code = row.path.endswith((".py", ".so")) or ".cpython-" in row.path
    consequence = "importing it fails at runtime" if code else "what reads it fails at runtime"
    message = (f"{row.path}: listed in the RECORD of {_label(dist)} ({row.algorithm}={row.encoded_digest}{size}) "
               f"but not in the artifact: removed after install; {consequence}")
    return PolicyFinding(MISSING, RULES[MISSING], Location(row.path, layer), message, dist.purl)


def _capped(rule: str, dist: PythonDist, found: list[PolicyFinding]) -> list[PolicyFinding]:
    """The first ``MAX_PER_RULE`` findings, and one counting the rest (at the distribution's METADATA)."""
    if len(found) <= MAX_PER_RULE:
        return found
    rest = found[MAX_PER_RULE:]
    level = max((f.level for f in rest), key=lambda lvl: lvl.rank)
    examples = ", ".join(f.location.path for f in rest[:3])
    message = (f"{len(rest)} more file(s) of {_label(dist)} break {rule} (first: {examples}); "
               f"{_REST_ADVICE[rule]}")
    return [*found[:MAX_PER_RULE], PolicyFinding(rule, level, dist.metadata_location, message, dist.purl)]


_REST_ADVICE = {
    MODIFIED: "reinstall the distribution and find what changed it",
    MISSING: "reinstall the distribution, or trim it with a tool that rewrites its RECORD",
    UNLISTED: "find what added them; reinstall the distribution",
}


def _parents(path: str) -> Iterator[str]:
    """The directories holding ``path``, nearest first (a nested archive's ``x.whl!`` included)."""
    while "/" in path:
        path = path.rpartition("/")[0]
        yield path


def _unlisted(view: ArtifactView, dists: Sequence[PythonDist], checked: Sequence[PythonDist]) -> list[PolicyFinding]:
    """``record-unlisted``: files inside a directory a RECORD puts files in, that no RECORD lists."""
    listed: set[str] = set()
    for dist in dists:
        listed.update(row.path for row in dist.record)
    # The directories each distribution's RECORD puts a file in directly, below its site-packages directory
    # (not their parents: a namespace directory such as google/ is shared, and nobody's own).
    owners: dict[str, list[int]] = {}
    for number, dist in enumerate(checked):
        prefix = _site_prefix(dist)
        for row in dist.record:
            directory = row.path.rpartition("/")[0]
            if not directory or not _inside_site(row.path, prefix) or len(directory) < len(prefix):
                continue  # outside the site-packages directory, or a module at its top (six.py)
            holders = owners.setdefault(directory, [])
            if number not in holders:
                holders.append(number)
    if not owners:
        return []
    found: dict[int, list[PolicyFinding]] = {}
    for entry in view.entries():
        path = entry.path
        if entry.type is EntryType.DIR or path in listed or path.endswith(".pyc") or "__pycache__/" in path:
            continue
        for directory in _parents(path):
            if directory.endswith("!"):
                break  # a member of a nested archive: the archive file is what a RECORD lists and hashes
            owned = owners.get(directory)
            if owned is None:
                continue
            for number in owned:
                dist = checked[number]
                where = Location(path, entry.layer)
                size = f"{entry.size} bytes" if entry.type is EntryType.FILE else f"a {entry.type.value}"
                message = (f"{path}: in {directory}/, a directory of {_label(dist)}, but no RECORD lists it "
                           f"({size}): added after install; find what put it there")
                found.setdefault(number, []).append(PolicyFinding(UNLISTED, RULES[UNLISTED], where, message,
                                                                  dist.purl))
            break
    return [finding for number in sorted(found) for finding in _capped(UNLISTED, checked[number], found[number])]
