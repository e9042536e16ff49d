"""Generate ``depscan/vendored_names.py``: import name -> the distribution that provides it.

The table is read from real wheels, never typed by hand. Its main input is the package index:

* ``--top FILE`` (default ``bench/data/top-pypi-packages.txt``): the most-downloaded projects of PyPI,
  one name a line (copied from hugovk/top-pypi-packages, see bench/README.md); ``--limit N`` reads the
  first N only. For each project the index's JSON API (``https://pypi.org/pypi/<name>/json``) names the
  latest release and its files; one wheel is picked (``py3-none-any`` first, then a manylinux x86_64
  wheel for cp311, then an abi3 one, then any manylinux x86_64 wheel, then any wheel at all) and only its
  member names are read, with HTTP range requests on files.pythonhosted.org: the end of the zip (the
  end-of-central-directory record and, nearly always, the whole central directory: 64 KiB) and, when the
  directory is larger, the rest of it. Never the whole wheel. The member names give the top-level
  modules (``x.py``, ``x.cpython-311-x86_64-linux-gnu.so``), regular packages (``x/__init__.py``) and
  namespace directories (Python files under ``x/`` without ``x/__init__``: ``google``, ``azure``).
  A project whose latest release has no wheel (an sdist only) is skipped: counted, and listed in the
  report (``bench/data/vendored-names-report.txt``). Answers are cached under
  ``~/.cache/depscan-gen-vendored-names`` (the JSON for ``--max-age`` hours, a wheel's member names for
  good: a file on the index never changes), so a rerun is cheap. ``--jobs`` threads (default 8), each
  request retried with back-off on connection errors, 429 and 5xx.

Zips or directories of installed distributions can be added (positional arguments, e.g. the
benchmark's ``pure-python.zip``): every ``*.dist-info`` in them gives its import names from
``top_level.txt`` when the wheel has one, else from the top level of its RECORD (``x.py``, ``x/...``
with Python files, ``x.cpython-311-...so``). The wheels other wheels vendor with their dist-info
(``setuptools/_vendor/tomli-2.4.0.dist-info``) count too, and so does a vendoring project's pin list
(``pip/_vendor/vendor.txt``): a module or package in that ``_vendor/`` whose name normalizes (PEP 503) to
a pinned distribution's is that distribution's (``pip/_vendor/resolvelib`` is resolvelib, ``tomli_w``
tomli-w). ``EXTRA`` adds the few names no input wheel installs at its top level any more but vendoring
projects still copy, each with its source.

Ambiguity is data too: a name two distributions claim (``jwt`` is PyJWT's and jwt's; ``cv2`` every
opencv-python variant's), a namespace directory (``google``), the namespace of a dotted project name
(``backports`` of ``backports.tarfile``) and generic names (``tests``, ``docs``, ...) are left out:
they identify nothing. The report lists every name left out as shared, with the projects that claim it.

    python bench/gen_vendored_names.py                      # the index, from bench/data/top-pypi-packages.txt
    python bench/gen_vendored_names.py --no-index ~/.cache/depscan-bench/pure-python.zip   # local only

writes ``depscan/vendored_names.py`` (``--output`` to write elsewhere) and the report (``--report``).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import io
import json
import re
import textwrap
import threading
import time
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests
from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

REPO_ROOT = Path(__file__).resolve().parent.parent
TOP_LIST = REPO_ROOT / "bench" / "data" / "top-pypi-packages.txt"
REPORT = REPO_ROOT / "bench" / "data" / "vendored-names-report.txt"
CACHE_DIR = Path("~/.cache/depscan-gen-vendored-names")
INDEX_JSON = "https://pypi.org/pypi/{name}/json"
USER_AGENT = "depscan-gen-vendored-names/1 (bench/gen_vendored_names.py; range requests for wheel member names)"
TAIL_BYTES = 64 * 1024  # the first read of a wheel: its end, where the central directory lies
GENERIC = frozenset({
    "test", "tests", "testing", "doc", "docs", "example", "examples", "benchmark", "benchmarks", "bench",
    "scripts", "script", "tools", "util", "utils", "src", "lib", "bin", "build", "data", "share", "include",
    "conftest", "setup", "__init__", "__main__", "__pycache__", "_version", "version", "main", "app",
    # Names an application's own modules commonly have: at a function's root, config.py or events.py is its
    # own code far more often than a copy of the project that installs a top-level module of that name
    # (config, Events, oci-cli's services, python-hcl2's cli, dm-tree's tree, sampleproject's sample).
    "config", "configs", "settings", "constants", "models", "handler", "handlers", "helpers", "common", "core",
    "api", "server", "client", "db", "errors", "exceptions", "services", "views", "tasks", "worker", "events",
    "index", "routes", "sample", "samples", "cli", "tree", "extras", "result", "progress", "path", "public",
    "com", "org", "net", "id", "plugins", "fixtures", "demo", "tmp", "log", "logs", "base", "types", "schema",
    "schemas", "parse", "parser",
})
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
VENDOR_DIRS = frozenset({"_vendor", "vendor", "_vendored", "vendored", "extern", "_vendored_packages"})
# Names no input wheel installs at its top level, copied by vendoring projects (checked by hand, with the source):
EXTRA = {
    # setuptools' own top-level package in the releases pip vendors it from: pip 26.x ships
    # pip/_vendor/pkg_resources and pins "setuptools==70.3.0" for it in pip/_vendor/vendor.txt
    # (setuptools 84.2.1, the release the benchmark installs, no longer has a top-level pkg_resources).
    "pkg_resources": "setuptools",
}
MODULE, PACKAGE, NAMESPACE = "module", "package", "namespace"
_CODE = (".py", ".so", ".pyd")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _wanted(parts: list[str]) -> bool:
    """A dist-info file at the top (``x.dist-info/RECORD``) or in a vendor tree
    (``setuptools/_vendor/x.dist-info/RECORD``)."""
    return (len(parts) == 2 or (len(parts) == 4 and parts[1] in VENDOR_DIRS)) and parts[-2].endswith(".dist-info") \
        and parts[-1] in ("METADATA", "top_level.txt", "RECORD")


def _read_tree(source: Path) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(dist-info directory, {file name: bytes}) for METADATA, top_level.txt and RECORD, and
    (vendor tree, {"vendor.txt": pins, "entries": its top-level names, one a line}) for pin lists."""
    found: dict[str, dict[str, bytes]] = defaultdict(dict)
    entries: dict[str, set[str]] = defaultdict(set)  # vendor tree -> what lies directly in it
    if source.is_dir():
        members = [p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file()]
    else:
        with zipfile.ZipFile(source) as archive:
            members = archive.namelist()
    for member in members:
        parts = member.split("/")
        if len(parts) >= 3 and parts[1] in VENDOR_DIRS:
            entries["/".join(parts[:2])].add(parts[2])
        if _wanted(parts) or (len(parts) == 3 and parts[1] in VENDOR_DIRS and parts[2] == "vendor.txt"):
            directory = "/".join(parts[:-1])
            found[directory][parts[-1]] = (source / member).read_bytes() if source.is_dir() else b""
    if not source.is_dir():
        with zipfile.ZipFile(source) as archive:
            for directory, files in found.items():
                for name in files:
                    files[name] = archive.read(f"{directory}/{name}")
    for directory, files in found.items():
        if "vendor.txt" in files:
            files["entries"] = "\n".join(sorted(entries[directory])).encode()
    yield from found.items()


def pinned_names(files: dict[str, bytes]) -> dict[str, str]:
    """Import name -> distribution, for the modules and packages of a vendor tree named (PEP 503) like a
    distribution its pin list (``vendor.txt``: ``name==version`` lines) pins."""
    pins = {}
    for line in files["vendor.txt"].decode("utf-8", "replace").splitlines():
        name = line.split("#", 1)[0].strip().partition("==")[0].strip()
        if name:
            pins[_canonical(name)] = name
    out = {}
    for entry in files["entries"].decode().splitlines():
        name = entry[:-3] if entry.endswith(".py") else entry
        if _IDENT.match(name) and _canonical(name) in pins:
            out[name] = pins[_canonical(name)]
    return out


def _project_name(metadata: bytes) -> str | None:
    for line in metadata.decode("utf-8", "replace").splitlines():
        if not line.strip():
            return None
        key, _, value = line.partition(":")
        if key.strip().lower() == "name":
            return value.strip()
    return None


def import_names(files: dict[str, bytes]) -> set[str]:
    """The top-level import names a distribution installs."""
    if "top_level.txt" in files:
        names = {line.strip().split("/")[0] for line in files["top_level.txt"].decode("utf-8", "replace").splitlines()}
        return {n for n in names if _IDENT.match(n)}
    names = set()
    text = files.get("RECORD", b"").decode("utf-8", "replace")
    for row in csv.reader(text.splitlines()):
        if not row or row[0].startswith(("..", "/")):
            continue
        head, sep, _ = row[0].partition("/")
        if sep:
            if not head.endswith((".dist-info", ".data", ".libs")) and row[0].endswith(".py"):
                names.add(head)
        elif head.endswith(".py"):
            names.add(head[:-3])
        elif ".so" in head or head.endswith(".pyd"):
            names.add(head.split(".")[0])
    return {n for n in names if _IDENT.match(n)}


# --- the package index: the latest release's wheel, its member names by range requests ---


@dataclass
class Project:
    """What the index says of one project of the list, and what its wheel installs."""

    listed: str  # the name as the list spells it
    name: str | None = None  # as the index spells it (info.name)
    version: str | None = None
    wheel: str | None = None  # the wheel's file name
    skipped: str | None = None  # why no names: "sdist only", "not on the index", an error
    names: dict[str, str] = field(default_factory=dict)  # top-level name -> MODULE / PACKAGE / NAMESPACE
    fetched_at: float | None = None  # when the index answered (the cache keeps it)
    ranges: int = 0  # range requests reading the member names took (the cache keeps the figure)
    bytes_read: int = 0
    wheel_size: int = 0


def wheel_rank(tags: Iterable[Tag]) -> int:
    """0 pure Python 3, 1 pure, 2 cp311 manylinux x86_64, 3 abi3 manylinux x86_64, 4 other manylinux x86_64,
    5 anything else (a Windows- or macOS-only project): the lowest rank of the wheel's tags."""
    ranks = [5]
    for tag in tags:
        linux = "manylinux" in tag.platform and tag.platform.endswith("x86_64")
        if tag.platform == "any":
            ranks.append(0 if tag.interpreter.startswith("py3") else 1)
        elif linux and tag.interpreter == "cp311" and tag.abi == "cp311":
            ranks.append(2)
        elif linux and tag.abi == "abi3":
            ranks.append(3)
        elif linux:
            ranks.append(4)
    return min(ranks)


def pick_wheel(files: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The wheel to read among a release's files (the index's ``urls``), or None when it has none."""
    best: tuple[tuple[int, str], dict[str, Any]] | None = None
    for file in files:
        if file.get("packagetype") != "bdist_wheel" or file.get("yanked"):
            continue
        try:
            tags = parse_wheel_filename(file["filename"])[3]
        except InvalidWheelFilename:
            continue
        key = (wheel_rank(tags), file["filename"])
        if best is None or key < best[0]:
            best = (key, file)
    return best[1] if best else None


def top_level(members: Iterable[str]) -> dict[str, str]:
    """Top-level import name -> MODULE, PACKAGE or NAMESPACE, from a wheel's member names."""
    kinds: dict[str, str] = {}
    for member in members:
        parts = member.split("/")
        if len(parts) > 2 and parts[0].endswith(".data") and parts[1] in ("purelib", "platlib"):
            parts = parts[2:]  # installed into site-packages like the root
        head = parts[0]
        if len(parts) == 1:
            if head.endswith(_CODE):
                name = head[:-3] if head.endswith(".py") else head.split(".", 1)[0]
                if _IDENT.match(name):
                    kinds[name] = MODULE
            continue
        if not _IDENT.match(head) or head == "__pycache__" or not parts[-1].endswith(_CODE):
            continue
        if len(parts) == 2 and parts[1].split(".", 1)[0] == "__init__":
            kinds[head] = PACKAGE
        else:
            kinds.setdefault(head, NAMESPACE)
    return kinds


class RangeReader(io.RawIOBase):
    """A read-only, seekable view of a remote file of known size through HTTP range requests, for
    ``zipfile``: the end of the file is read first (``TAIL_BYTES``), any other range when asked for."""

    def __init__(self, get: Callable[[int, int], bytes], size: int) -> None:
        super().__init__()
        self._get, self._size, self._pos = get, size, 0
        self._blocks: list[tuple[int, bytes]] = []
        self.requests = self.bytes_read = 0
        self._fetch(max(0, size - TAIL_BYTES), size)

    def _fetch(self, start: int, end: int) -> bytes:
        data = self._get(start, end)
        if len(data) != end - start:
            raise OSError(f"asked for bytes {start}-{end - 1}, got {len(data)} bytes")
        self._blocks.append((start, data))
        self.requests += 1
        self.bytes_read += len(data)
        return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        end = min(self._size, self._pos + len(buffer))
        if end <= self._pos:
            return 0
        data = next((block[self._pos - start:end - start] for start, block in self._blocks
                     if start <= self._pos and end <= start + len(block)), None)
        if data is None:
            data = self._fetch(self._pos, end)
        buffer[:len(data)] = data
        self._pos += len(data)
        return len(data)


class Index:
    """The package index through a polite client: a session per thread, retries with back-off, a disk cache."""

    def __init__(self, cache: Path, max_age_hours: float, json_url: str = INDEX_JSON) -> None:
        self.cache = cache
        self.max_age = max_age_hours * 3600
        self.json_url = json_url
        self._local = threading.local()

    def session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            retry = Retry(total=5, backoff_factor=0.5, status_forcelist=(429, 500, 502, 503, 504),
                          allowed_methods=frozenset({"GET"}), respect_retry_after_header=True)
            session.mount("https://", HTTPAdapter(max_retries=retry))
            session.headers["User-Agent"] = USER_AGENT
            self._local.session = session
        return session

    def release(self, project: str) -> dict[str, Any] | None:
        """{name, version, urls, fetched_at} of the project's latest release, or None when the index has
        no such project. The cache keeps only these fields."""
        path = self.cache / "json" / f"{_canonical(project)}.json"
        if path.is_file() and time.time() - path.stat().st_mtime < self.max_age:
            cached: dict[str, Any] = json.loads(path.read_text())
            return cached if cached.get("name") else None
        response = self.session().get(self.json_url.format(name=project), timeout=60)
        if response.status_code == 404:
            slim: dict[str, Any] = {"name": None, "fetched_at": time.time()}
        else:
            response.raise_for_status()
            body = response.json()
            slim = {"name": body["info"]["name"], "version": body["info"]["version"], "fetched_at": time.time(),
                    "urls": [{**{k: u.get(k) for k in ("filename", "packagetype", "size", "yanked")},
                              "url": urljoin(response.url, u["url"])}  # a mirror may answer with relative URLs
                             for u in body.get("urls", [])]}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(slim))
        return slim if slim["name"] else None

    def _range(self, url: str, start: int, end: int) -> bytes:
        with self.session().get(url, headers={"Range": f"bytes={start}-{end - 1}"}, timeout=60,
                                stream=True) as response:
            if response.status_code != 206:  # never read a whole wheel the server sends instead
                raise OSError(f"no range answer (HTTP {response.status_code})")
            return response.content

    def members(self, file: dict[str, Any]) -> tuple[list[str], int, int]:
        """The wheel's member names, and the range requests and bytes reading them took (the cache keeps both)."""
        path = self.cache / "wheels" / f"{file['filename']}.json"
        if path.is_file():
            cached = json.loads(path.read_text())
            return cached["members"], cached["requests"], cached["bytes"]
        reader = RangeReader(lambda start, end: self._range(file["url"], start, end), int(file["size"]))
        with zipfile.ZipFile(reader) as archive:
            names = archive.namelist()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"members": names, "requests": reader.requests, "bytes": reader.bytes_read}))
        return names, reader.requests, reader.bytes_read

    def project(self, listed: str) -> Project:
        out = Project(listed)
        try:
            release = self.release(listed)
            if release is None:
                out.skipped = "not on the index"
                return out
            out.name, out.version, out.fetched_at = release["name"], release["version"], release["fetched_at"]
            wheel = pick_wheel(release["urls"])
            if wheel is None:
                out.skipped = "sdist only" if release["urls"] else "no files"
                return out
            out.wheel, out.wheel_size = wheel["filename"], int(wheel["size"])
            members, out.ranges, out.bytes_read = self.members(wheel)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, requests.RequestException) as exc:
            out.skipped = f"error: {type(exc).__name__}: {exc}"
            return out
        out.names = top_level(members)
        return out


def read_top_list(path: Path, limit: int | None = None) -> tuple[dict[str, str], list[str]]:
    """The list's header fields (``# key: value`` lines) and its project names, in order."""
    header: dict[str, str] = {}
    names: list[str] = []
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            key, sep, value = line[1:].partition(":")
            if sep:
                header[key.strip()] = value.strip()
        elif line.strip():
            names.append(line.strip())
    return header, names[:limit]


def fetch(index: Index, names: list[str], jobs: int) -> list[Project]:
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(index.project, names))


# --- the table ---

Claims = dict[str, dict[str, tuple[str, str]]]  # import name -> {PEP 503 project: (project as spelled, kind)}


def local_claims(sources: list[Path], claims: Claims) -> None:
    pinned: list[dict[str, str]] = []
    for source in sources:
        for _directory, files in _read_tree(source):
            if "vendor.txt" in files:
                pinned.append(pinned_names(files))
                continue
            project = _project_name(files.get("METADATA", b""))
            if not project:
                continue
            for name in import_names(files):
                claims[name].setdefault(_canonical(project), (project, MODULE))
    for names in pinned:  # after the wheels: their METADATA spelling wins
        for name, project in names.items():
            claims[name].setdefault(_canonical(project), (project, MODULE))


def index_claims(projects: list[Project], claims: Claims) -> None:
    for project in projects:
        for name, kind in project.names.items():
            assert project.name is not None
            claims[name].setdefault(_canonical(project.name), (project.name, kind))


def why_left_out(name: str, projects: dict[str, tuple[str, str]]) -> str | None:
    """Why an import name identifies no distribution ("shared", "namespace", "generic"), or None.

    A name is shared even when only one project installs it as a regular package and the others add
    files below it: that package's ``__init__.py`` may be an old-style namespace declaration
    (``azure/__init__.py`` of azure-servicemanagement-legacy, with ``pkgutil.extend_path``), which the
    member names cannot tell from Twisted's ``twisted/__init__.py`` (autobahn adds ``twisted/plugins/``)."""
    if name.lower() in GENERIC or name.startswith("__"):
        return "generic"
    if len(projects) > 1:
        return "shared"
    ((project, kind),) = projects.values()
    # a namespace directory, or the namespace a dotted project lives in (backports of backports.tarfile)
    if kind == NAMESPACE or project.lower().startswith(name.lower() + "."):
        return "namespace"
    return None


def table_from(claims: Claims) -> dict[str, str]:
    for name, project in EXTRA.items():
        claims[name].setdefault(_canonical(project), (project, MODULE))
    return {name: next(iter(projects.values()))[0] for name, projects in sorted(claims.items())
            if why_left_out(name, projects) is None}


def build(sources: list[Path], projects: list[Project] | None = None) -> dict[str, str]:
    """The table from installed distributions (zips, directories) and the index's wheels."""
    claims: Claims = defaultdict(dict)
    index_claims(projects or [], claims)  # first: the index spells a project's name
    local_claims(sources, claims)
    return table_from(claims)


def pack(table: dict[str, str]) -> tuple[str, str]:
    """The sorted names, and their projects in the same order, each separated by spaces: a project is
    ``=`` when it is spelled like the name, ``-`` when it is the name with ``-`` for ``_``
    (``typing_extensions``), else spelled out (``yaml``: ``PyYAML``)."""
    names = sorted(table)
    projects = ["=" if table[n] == n else "-" if table[n] == n.replace("_", "-") else table[n] for n in names]
    return " ".join(names), " ".join(projects)


def _literal(text: str, indent: str = "    ") -> list[str]:
    return [f'{indent}"{chunk} "' for chunk in textwrap.wrap(text, 110, break_on_hyphens=False)]


def render(table: dict[str, str], provenance: list[str]) -> str:
    names, projects = pack(table)
    lines = [
        '"""DATA: top-level import name -> the PyPI distribution that installs it (generated; do not edit).',
        "",
        *provenance,
        "Names two distributions claim, namespaces (google, backports of backports.tarfile) and generic names",
        "(tests, docs, ...) are left out (bench/data/vendored-names-report.txt lists the shared ones).",
        "",
        "Packed in two strings, so that importing it costs two constants rather than a dict of every entry:",
        "the sorted names, and their projects in the same order (``=`` the name itself, ``-`` the name with",
        "``-`` for ``_``). A lookup splits them once and bisects.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from bisect import bisect_left",
        "from collections.abc import Iterator, Mapping",
        "",
        "_NAMES = (",
        *_literal(names),
        ")",
        "_PROJECTS = (",
        *_literal(projects),
        ")",
        "",
        "",
        "class _Table(Mapping[str, str]):",
        '    """The packed table as a read-only mapping."""',
        "",
        "    def __init__(self) -> None:",
        "        self._names: list[str] = []",
        "        self._projects: list[str] = []",
        "",
        "    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]",
        "        names = self._names or self._split()",
        "        at = bisect_left(names, name)",
        "        if at == len(names) or names[at] != name:",
        "            return default",
        "        if not self._projects:",
        "            self._projects = _PROJECTS.split()",
        "        project = self._projects[at]",
        '        return name if project == "=" else name.replace("_", "-") if project == "-" else project',
        "",
        "    def __getitem__(self, name: str) -> str:",
        "        project = self.get(name)",
        "        if project is None:",
        "            raise KeyError(name)",
        "        return project",
        "",
        "    def _split(self) -> list[str]:",
        "        self._names = _NAMES.split()",
        "        return self._names",
        "",
        "    def __iter__(self) -> Iterator[str]:",
        "        return iter(self._names or self._split())",
        "",
        "    def __len__(self) -> int:",
        "        return len(self._names or self._split())",
        "",
        "",
        "IMPORT_NAMES: Mapping[str, str] = _Table()",
        "",
    ]
    return "\n".join(lines)


def report(projects: list[Project], claims: Claims, header: str) -> tuple[str, dict[str, int]]:
    """The report file's text and the run's figures."""
    skipped = [p for p in projects if p.skipped]
    reasons = Counter("error" if p.skipped.startswith("error") else p.skipped for p in skipped if p.skipped)
    left = {name: why_left_out(name, projs) for name, projs in claims.items()}
    shared = sorted(n for n, why in left.items() if why == "shared")
    figures = {
        "projects": len(projects),
        "with names": sum(1 for p in projects if p.names),
        "wheel without import names": sum(1 for p in projects if not p.skipped and not p.names),
        **{f"skipped: {k}": v for k, v in sorted(reasons.items())},
        "names claimed": len(claims),
        **{f"left out: {k}": v for k, v in sorted(Counter(w for w in left.values() if w).items())},
        "range requests": sum(p.ranges for p in projects),
        "bytes read by range": sum(p.bytes_read for p in projects),
        "bytes of the wheels read": sum(p.wheel_size for p in projects if p.ranges),
    }
    lines = [header, "", "## figures", *(f"{k}: {v}" for k, v in figures.items()), "",
             "## skipped projects (the latest release has no wheel, or the index has no such project)",
             *(f"{p.listed}: {p.skipped}" for p in skipped), "",
             "## shared names (claimed by several projects: left out)",
             *(f"{n}: {', '.join(sorted(project for project, _ in claims[n].values()))}" for n in shared), ""]
    return "\n".join(lines), figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="*", type=Path, help="zips or directories of installed distributions")
    parser.add_argument("--top", type=Path, default=TOP_LIST, help="the list of projects to read from the index")
    parser.add_argument("--limit", type=int, default=None, help="read the first N projects of the list only")
    parser.add_argument("--no-index", action="store_true", help="the positional sources only")
    parser.add_argument("--jobs", type=int, default=8, help="threads asking the index (default 8)")
    parser.add_argument("--max-age", type=float, default=24.0, help="hours a cached index answer stays fresh")
    parser.add_argument("--cache", type=Path, default=CACHE_DIR,
                        help=f"answers kept between runs (default {CACHE_DIR})")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "depscan" / "vendored_names.py",
                        help="the table module to write (default depscan/vendored_names.py)")
    parser.add_argument("--report", type=Path, default=REPORT,
                        help="the run's figures, skipped projects and shared names "
                             "(default bench/data/vendored-names-report.txt)")
    args = parser.parse_args()
    sources = [s.expanduser() for s in args.sources]
    projects: list[Project] = []
    command = "python bench/gen_vendored_names.py" + "".join(f" {s.name}" for s in sources)
    provenance = []
    if not args.no_index:
        list_header, names = read_top_list(args.top, args.limit)
        started = time.monotonic()
        projects = fetch(Index(args.cache.expanduser(), args.max_age), names, args.jobs)
        elapsed = time.monotonic() - started
        times = [p.fetched_at for p in projects if p.fetched_at]
        when = (datetime.datetime.fromtimestamp(min(times), datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
                if times else "-")
        with_names = sum(1 for p in projects if p.names)
        sdist = sum(1 for p in projects if p.skipped == "sdist only")
        if args.limit:
            command += f" --limit {args.limit}"
        provenance += [
            f"Generated by ``{command}`` from the wheels of the latest releases on PyPI",
            f"(the index read {when}) of the {len(names)} most-downloaded projects in",
            f"bench/data/{args.top.name} ({list_header.get('source', '?').split(' ')[0]},",
            f"last_update {list_header.get('last_update', '?')}): their member names, read by range requests",
            f"(top-level modules, packages with __init__). {with_names} projects gave names; {sdist} have an",
            "sdist only (skipped, listed in the report).",
        ]
        print(f"index: {len(projects)} projects in {elapsed:.1f} s")
    else:
        command += " --no-index"
        provenance.append(f"Generated by ``{command}``.")
    if sources:
        provenance += ["With the dist-info directories (top_level.txt, else the RECORD's top level; also the",
                       "dist-info of wheels vendored inside them, and the modules a pin list such as",
                       "pip/_vendor/vendor.txt names) of " + ", ".join(f"``{s.name}``" for s in sources) + "."]
    provenance.append("Plus the generator's documented EXTRA names (pkg_resources).")
    claims: Claims = defaultdict(dict)
    index_claims(projects, claims)
    local_claims(sources, claims)
    table = table_from(claims)
    args.output.write_text(render(table, provenance))
    print(f"wrote {args.output}: {len(table)} import names")
    if projects:
        text, figures = report(projects, claims, "# " + "\n# ".join(provenance))
        args.report.write_text(text)
        for key, value in figures.items():
            print(f"  {key}: {value}")
        print(f"wrote {args.report}")


if __name__ == "__main__":
    main()
