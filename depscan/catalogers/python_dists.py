"""Installed Python distributions: ``*.dist-info`` (PEP 376, PEP 627) and ``*.egg-info``.

The header fields of METADATA / PKG-INFO (core metadata 1.0 to 2.4) are read as
``packaging.metadata.parse_email`` reads them, without the email parser (``core_metadata``); names are
normalized per PEP 503 for matching and kept as spelled for display. RECORD gives file ownership
(path, hash, size) for later checks. A distribution whose metadata cannot be read becomes an
``Unknown`` naming the file and the reason, and the scan goes on.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import posixpath
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from packageurl import PackageURL
from packaging.utils import InvalidName, canonicalize_name
from packaging.version import InvalidVersion, Version

from depscan.artifacts.limits import irregular_path, join_inside
from depscan.artifacts.view import ArtifactView, EntryType, gc_paused, split_nested
from depscan.catalogers import Cataloger, CatalogResult
from depscan.catalogers.core_metadata import parse_headers
from depscan.errors import MemberError
from depscan.models import Component, Location, PythonDist, RecordEntry, Status, Unknown, WheelInfo

DIST_INFO_FILES = frozenset({"METADATA", "RECORD", "WHEEL", "INSTALLER", "direct_url.json"})
EGG_INFO_FILES = frozenset({"PKG-INFO", "installed-files.txt"})
MAX_BAD_RECORD_ROWS = 5  # reported one by one per RECORD; the rest are counted
# What the inventory keeps of one distribution's files, whatever the artifact claims. The largest
# real RECORDs have tens of thousands of rows (a few MB); a METADATA header block is a few KB (a
# few hundred with an old-style Description header). Past these, the rest is not read, and an
# Unknown says so (a 200 MB RECORD of short rows would otherwise take gigabytes as row objects).
MAX_RECORD_ROWS = 200_000
MAX_RECORD_BYTES = 64 * 1024 * 1024  # RECORD, installed-files.txt
MAX_METADATA_BYTES = 64 * 1024 * 1024  # METADATA, PKG-INFO (a long description is the body: not read)
MAX_HEADER_BYTES = 8 * 1024 * 1024
MAX_SMALL_FILE_BYTES = 1024 * 1024  # WHEEL, INSTALLER, direct_url.json


def read_limit(path: str) -> int:
    """The most bytes the inventory reads of a metadata file at ``path`` (``Cataloger.read_limit``)."""
    base = path.rpartition("/")[2]
    if base in ("RECORD", "installed-files.txt"):
        return MAX_RECORD_BYTES
    if base in ("WHEEL", "INSTALLER", "direct_url.json"):
        return MAX_SMALL_FILE_BYTES
    return MAX_METADATA_BYTES


# A RECORD hash: "<algorithm>=<urlsafe base64 digest, no padding>" (PEP 376, PEP 627).
_HASH = re.compile(r"^(?P<alg>[A-Za-z0-9_]+)=(?P<digest>[A-Za-z0-9_\-]+=*)$")

# _HASH with the digest's "=" padding left out of its group (the greedy class stops there), for fullmatch.
_HASH_PARTS = re.compile(r"([A-Za-z0-9_]+)=([A-Za-z0-9_\-]+)=*")

ImportRank = Callable[[str], "int | None"]


@dataclass(frozen=True, slots=True)
class _Found:
    """A metadata file discovered in the view."""

    metadata_path: str  # METADATA or PKG-INFO (or the egg-info file itself)
    metadata_dir: str
    site_root: str
    layer: str | None
    kind: str  # "dist-info" | "egg-info"


class PythonDistCataloger(Cataloger):
    """Finds installed distributions in every site-packages-like root of the view."""

    name = "python-dists"

    def wants(self, path: str) -> bool:
        parent, _, base = path.rpartition("/")
        if base in DIST_INFO_FILES and parent.endswith(".dist-info"):
            return True
        if base in EGG_INFO_FILES and (parent.endswith(".egg-info") or parent.endswith("EGG-INFO")):
            return True
        return base.endswith(".egg-info")

    def read_limit(self, path: str) -> int | None:
        return read_limit(path)

    def catalog(self, view: ArtifactView, earlier: Sequence[Component] = ()) -> CatalogResult:
        components: list[PythonDist] = []
        unknowns: list[Unknown] = []
        with gc_paused():  # tens of thousands of RECORD rows, no garbage cycles
            for found in _discover(view, unknowns):
                dist = _read_dist(view, found, unknowns)
                if dist is not None:
                    components.append(dist)
        if view.import_rank is not None:
            # Where the runtime's sys.path order is known (Lambda), a distribution earlier on the
            # path shadows the same distribution later on it.
            components = _mark_shadowed(components, view.import_rank)
        components.sort(key=lambda d: (d.normalized_name, d.status is Status.SHADOWED, d.metadata_location.path))
        result: tuple[Component, ...] = tuple(components)
        return CatalogResult(result, tuple(unknowns))


def _parent(path: str) -> str:
    """The directory holding ``path``: ``"a.whl!"`` for a nested archive's top level."""
    prefix, inner = split_nested(path)
    head = posixpath.dirname(inner)
    if head:
        return prefix + head
    return prefix[: -len("/")] if prefix else ""


def _inside_metadata(directory: str) -> bool:
    """Whether ``directory`` is, or lies below, a ``.dist-info`` / ``.egg-info`` / ``EGG-INFO`` directory."""
    return any(
        part.endswith((".dist-info", ".egg-info")) or part == "EGG-INFO" for part in directory.split("/") if part
    )


def _discover(view: ArtifactView, unknowns: list[Unknown]) -> Iterator[_Found]:
    dist_info_dirs: dict[str, str | None] = {}
    with_metadata: set[str] = set()
    for entry in view.entries():
        path = entry.path
        # Every path that matters below has "-info" (.dist-info, .egg-info) or "-INFO" (EGG-INFO,
        # PKG-INFO) in it: one test turns the package files down.
        if ("-info" not in path and "-INFO" not in path) or entry.type is EntryType.DIR:
            continue
        if ".dist-info/" in path or ".egg-info/" in path or "EGG-INFO/" in path:
            # Skip files nested below a metadata directory's own subdirectories (PEP 639
            # ``licenses/`` mirrors vendored trees, ``x.dist-info/licenses/y-1.0.dist-info/``).
            parent_dir = path.rsplit("/", 2)[0] if path.count("/") >= 2 else ""
            if _inside_metadata(parent_dir):
                continue
        parent, _, base = path.rpartition("/")
        if parent.endswith(".dist-info"):
            dist_info_dirs.setdefault(parent, entry.layer)
            if base == "METADATA":
                with_metadata.add(parent)
                yield _Found(path, parent, _parent(parent), entry.layer, "dist-info")
        elif base == "PKG-INFO" and (parent.endswith(".egg-info") or parent.endswith("EGG-INFO")):
            yield _Found(path, parent, _parent(parent), entry.layer, "egg-info")
        elif base.endswith(".egg-info") and entry.type is EntryType.FILE:
            yield _Found(path, path, _parent(path), entry.layer, "egg-info")
    for directory, layer in dist_info_dirs.items():
        if directory not in with_metadata:
            unknowns.append(Unknown(Location(directory, layer), "dist-info directory without METADATA"))


def _read_dist(view: ArtifactView, found: _Found, unknowns: list[Unknown]) -> PythonDist | None:
    where = Location(found.metadata_path, found.layer)
    try:
        data = view.read(found.metadata_path, read_limit(found.metadata_path))
    except MemberError as e:
        unknowns.append(Unknown(where, str(e)))
        return None
    # Only the header block: the body is the long description (often a whole README), which the
    # inventory does not use and which costs most of the parsing time. parse_headers gives the
    # fields read below exactly as packaging.metadata.parse_email does, without the email parser.
    headers = _headers_only(data)
    if len(headers) > MAX_HEADER_BYTES:
        # Parse the lines that fit: real files put Name and Version first.
        headers = headers[: headers.rfind(b"\n", 0, MAX_HEADER_BYTES) + 1]
        unknowns.append(
            Unknown(where, f"header block longer than {MAX_HEADER_BYTES} bytes; only the first {len(headers)} read")
        )
    raw = parse_headers(headers)
    name = raw.get("name")
    version = raw.get("version")
    base = found.metadata_path.rsplit("/", 1)[-1]
    if not name:
        unknowns.append(Unknown(where, f"{base} has no Name field"))
        return None
    if not version:
        unknowns.append(Unknown(where, f"{base} has no Version field"))
        return None
    try:
        normalized = canonicalize_name(name, validate=True)
    except InvalidName:
        unknowns.append(Unknown(where, f"{base}: invalid distribution name {name!r}"))
        return None
    version = version.strip()
    files = (_dist_info_files(view, found, unknowns) if found.kind == "dist-info"
             else _egg_info_files(view, found, unknowns))
    return PythonDist(
        name=name,
        normalized_name=normalized,
        version=version,
        purl=_purl(name, version),
        found_by="python-dist-info" if found.kind == "dist-info" else "python-egg-info",
        metadata_location=where,
        metadata_sha256=hashlib.sha256(data).hexdigest(),
        metadata_dir=found.metadata_dir,
        site_root=found.site_root,
        summary=raw.get("summary"),
        home_page=raw.get("home_page"),
        project_urls=tuple(raw.get("project_urls", {}).items()),
        license=raw.get("license"),
        license_expression=raw.get("license_expression"),
        requires_python=raw.get("requires_python"),
        requires_dist=tuple(raw.get("requires_dist", ())),
        classifiers=tuple(raw.get("classifiers", ())),
        **files,
    )


def _headers_only(data: bytes) -> bytes:
    """The RFC 822 header block of a METADATA / PKG-INFO file (up to the first empty line)."""
    for separator in (b"\n\n", b"\r\n\r\n"):
        cut = data.find(separator)
        if cut >= 0:
            return data[: cut + len(separator)]
    return data


def _purl(name: str, version: str) -> str:
    # The purl spec's pypi type: the name lowercased with "_" as "-", dots kept (pkg:pypi/ruamel.yaml);
    # packageurl-python applies exactly that, as other SBOM tools do. Not PEP 503 (which turns dots into "-").
    with contextlib.suppress(InvalidVersion):  # legacy version strings are kept as written
        version = str(Version(version))
    return str(PackageURL(type="pypi", name=name, version=version).to_string())


def _optional_read(view: ArtifactView, path: str, unknowns: list[Unknown], layer: str | None) -> bytes | None:
    if view.get(path) is None:
        return None
    try:
        return view.read(path, read_limit(path))
    except MemberError as e:
        unknowns.append(Unknown(Location(path, layer), str(e)))
        return None


def _dist_info_files(view: ArtifactView, found: _Found, unknowns: list[Unknown]) -> dict[str, Any]:
    """The ``PythonDist`` fields the files beside a dist-info's METADATA give (RECORD, WHEEL, INSTALLER,
    direct_url.json), read after the METADATA so that the distribution is built once."""
    directory, layer = found.metadata_dir, found.layer
    record: tuple[RecordEntry, ...] = ()
    outside = 0
    data = _optional_read(view, f"{directory}/RECORD", unknowns, layer)
    if data is not None:
        record, outside = _parse_record(data, f"{directory}/RECORD", found.site_root, layer, view, unknowns)
    wheel = None
    data = _optional_read(view, f"{directory}/WHEEL", unknowns, layer)
    if data is not None:
        wheel = _parse_wheel(data)
    installer = None
    data = _optional_read(view, f"{directory}/INSTALLER", unknowns, layer)
    if data is not None:
        installer = data.decode("utf-8", errors="replace").strip().splitlines()[0] if data.strip() else None
    direct_url = None
    data = _optional_read(view, f"{directory}/direct_url.json", unknowns, layer)
    if data is not None:
        try:
            parsed = json.loads(data)
        except (ValueError, UnicodeDecodeError) as e:
            unknowns.append(Unknown(Location(f"{directory}/direct_url.json", layer), f"invalid JSON ({e})"))
        else:
            if isinstance(parsed, dict):
                direct_url = parsed
            else:
                unknowns.append(Unknown(Location(f"{directory}/direct_url.json", layer), "not a JSON object"))
    return {"record": record, "record_outside": outside, "wheel": wheel, "installer": installer,
            "direct_url": direct_url}


def _egg_info_files(view: ArtifactView, found: _Found, unknowns: list[Unknown]) -> dict[str, Any]:
    """The ``PythonDist`` fields an egg-info's ``installed-files.txt`` gives (its record)."""
    if found.metadata_dir == found.metadata_path:
        return {}  # a single-file egg-info has nothing beside it
    listing = f"{found.metadata_dir}/installed-files.txt"
    data = _optional_read(view, listing, unknowns, found.layer)
    if data is None:
        return {}
    # installed-files.txt (pip's legacy installs): one path per line, relative to the egg-info dir.
    entries = []
    for line in data.decode("utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line:
            continue
        path = _resolve(found.metadata_dir, line, view.absolute_links_inside)
        if path is not None:
            entries.append(RecordEntry(path, None, None, None))
    return {"record": tuple(entries)}


def _resolve(base_dir: str, rel: str, absolute_inside: bool) -> str | None:
    """Resolve a RECORD path against ``base_dir`` inside the artifact; None if it climbs out.

    RECORD paths are relative to the site-packages root and may climb out of it
    (``../../bin/script``), but never out of the artifact, nor out of the nested archive holding
    the distribution.
    """
    prefix, inner_base = split_nested(base_dir + "/")
    inner = join_inside(inner_base, rel, absolute_is_root=absolute_inside)
    return None if inner is None else prefix + inner


def _parse_record(
    data: bytes, path: str, site_root: str, layer: str | None, view: ArtifactView, unknowns: list[Unknown]
) -> tuple[tuple[RecordEntry, ...], int]:
    """RECORD rows resolved inside the artifact, and how many name files outside it."""
    entries: list[RecordEntry] = []
    bad = 0
    if len(data) >= MAX_RECORD_ROWS:  # shorter, it cannot have more lines than that (_end_of_line: ten passes)
        cut = _end_of_line(data, MAX_RECORD_ROWS)
        if cut < len(data):
            unknowns.append(Unknown(Location(path, layer), f"more than {MAX_RECORD_ROWS} rows; the rest not read"))
            data = data[:cut]
    text = data.decode("utf-8", errors="replace")
    if '"' in text or "\x00" in text:
        import csv  # quoted rows are rare: csv is imported for them only

        try:
            rows = list(csv.reader(text.splitlines()))
        except csv.Error as e:
            unknowns.append(Unknown(Location(path, layer), f"unreadable CSV ({e})"))
            return (), 0
    else:
        # Without quotes (nearly every RECORD), csv splits each line at every comma and nothing
        # else; NUL is left to csv too (Python 3.10's csv refuses it).
        rows = [line.split(",") if line else [] for line in text.splitlines()]
    outside = 0
    prefix, inner_root = split_nested(site_root + "/")
    base = prefix + inner_root.strip("/")
    if base and not base.endswith("/"):
        base += "/"
    new = tuple.__new__  # RecordEntry(...) without its Python-level __new__
    hash_parts = _HASH_PARTS.fullmatch
    for number, row in enumerate(rows, start=1):
        if len(row) == 3:
            # The usual row, inline: a plain relative path, "<alg>=<digest>" or nothing, ASCII
            # digits or nothing. Anything else takes _record_row, which says what is wrong.
            rel, hash_field, size_field = row
            if rel and not irregular_path(rel) and (
                not size_field or (size_field.isascii() and size_field.isdigit())
            ):
                size = int(size_field) if size_field else None
                if not hash_field:
                    entries.append(new(RecordEntry, (base + rel, None, None, size)))
                    continue
                match = hash_parts(hash_field)
                if match is not None:
                    algorithm, digest = match.groups()
                    if len(digest) % 4 != 1:
                        entries.append(new(RecordEntry, (base + rel, algorithm.lower(), digest, size)))
                        continue
        elif not row or row == [""]:
            continue
        parsed = _record_row(row, base, site_root, view.absolute_links_inside)
        if parsed is None:
            # Installed outside what was packed (console scripts under ../../bin when only
            # site-packages was zipped): not in the artifact, nothing to own or check here.
            outside += 1
        elif isinstance(parsed, str):
            bad += 1
            if bad <= MAX_BAD_RECORD_ROWS:
                unknowns.append(Unknown(Location(path, layer), f"RECORD line {number}: {parsed}"))
        else:
            entries.append(parsed)
    if bad > MAX_BAD_RECORD_ROWS:
        unknowns.append(Unknown(Location(path, layer), f"{bad - MAX_BAD_RECORD_ROWS} more bad RECORD lines"))
    return tuple(entries), outside


# Every line break str.splitlines knows, as UTF-8 bytes (\r\n counted once by the pattern).
_BREAK_BYTES = (
    b"\n",
    b"\r",
    b"\x0b",
    b"\x0c",
    b"\x1c",
    b"\x1d",
    b"\x1e",
    b"\xc2\x85",
    b"\xe2\x80\xa8",
    b"\xe2\x80\xa9",
)
_BREAK = re.compile(rb"\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e]|\xc2\x85|\xe2\x80[\xa8\xa9]")


def _end_of_line(data: bytes, lines: int) -> int:
    """Where line number ``lines`` of ``data`` ends (after its line break, by str.splitlines's
    breaks), or ``len(data)`` when it has no more lines than that."""
    if sum(data.count(b) for b in _BREAK_BYTES) <= lines:  # an upper bound of the line count (cheap)
        return len(data)
    end = len(data)
    for number, match in enumerate(_BREAK.finditer(data), start=1):
        if number == lines:
            end = match.end()
            break
    return end


def _record_row(row: list[str], base: str, site_root: str, absolute_inside: bool) -> RecordEntry | str | None:
    """A RECORD row as an entry, a problem (str), or None when it names a file outside the artifact.

    ``base`` is ``site_root`` as a path prefix: a plain relative path (nearly every row) is joined
    to it directly; anything else is resolved with ``_resolve``.
    """
    if len(row) != 3:
        return f"expected 3 columns (path, hash, size), found {len(row)}"
    rel, hash_field, size_field = row
    if not rel:
        return "empty path"
    algorithm = digest = None
    if hash_field:
        match = _HASH.match(hash_field)
        if match is None:
            return f"bad hash {hash_field!r} (expected <algorithm>=<urlsafe-base64>)"
        digest = match["digest"].rstrip("=")
        if len(digest) % 4 == 1:  # no base64 string has this length: it cannot decode
            return f"bad hash encoding {hash_field!r}"
        algorithm = match["alg"].lower()
    size = None
    if size_field:
        try:
            size = int(size_field)
        except ValueError:
            return f"bad size {size_field!r}"
        if size < 0:
            return f"negative size {size_field!r}"
    path = base + rel if not irregular_path(rel) else _resolve(site_root, rel, absolute_inside)
    if path is None:
        return None
    return RecordEntry(path, algorithm, digest, size)


def _parse_wheel(data: bytes) -> WheelInfo:
    """The WHEEL file (PEP 427): ``Key: value`` lines, ``Tag`` repeated. No continuation lines."""
    fields: dict[str, list[str]] = {}
    for line in data.decode("utf-8", errors="replace").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip().lower(), []).append(value.strip())
    purelib = fields.get("root-is-purelib", [None])[0]
    return WheelInfo(
        generator=fields.get("generator", [None])[0],
        root_is_purelib=None if purelib is None else purelib.lower() == "true",
        tags=tuple(fields.get("tag", [])),
    )


def _mark_shadowed(dists: list[PythonDist], rank: ImportRank) -> list[PythonDist]:
    """Mark every copy of a distribution that an earlier ``sys.path`` entry hides as shadowed."""
    by_name: dict[str, list[tuple[int, PythonDist]]] = defaultdict(list)
    out: list[PythonDist] = []
    for dist in dists:
        position = rank(dist.site_root)
        if position is None:
            out.append(dist)
        else:
            by_name[dist.normalized_name].append((position, dist))
    for copies in by_name.values():
        copies.sort(key=lambda pair: pair[0])
        first_rank, winner = copies[0]
        for position, dist in copies:
            if position > first_rank:
                out.append(replace(dist, status=Status.SHADOWED, shadowed_by=winner.metadata_location))
            else:
                out.append(dist)
    return out
