"""The package index client: release lists, file hashes and core metadata (``--check-index``).

* **Simple API, JSON form** (PEP 691): ``GET <index>/<name>/`` with
  ``Accept: application/vnd.pypi.simple.v1+json``. Each file has ``filename``, ``url``, ``hashes``,
  ``requires-python``, ``yanked`` (PEP 592: false, true or the reason) and ``core-metadata`` (PEP 714;
  ``data-dist-info-metadata`` is the older spelling, PEP 658): the wheel's METADATA is served at
  ``<url>.metadata``. An index that answers HTML only (or 406) is asked through the per-project JSON
  API instead (``<base>/pypi/<name>/json``, ``<base>`` being the index URL without ``/simple/``): its
  ``releases`` give the same files, with ``digests`` and ``yanked``; ``<base>/pypi/<name>/<version>/json``
  gives ``info.requires_dist`` when no ``.metadata`` file is advertised, and failing that a wheel's
  ``.metadata`` is asked for anyway (PyPI serves it for older wheels whose page entry does not say so).
* **Bounded like the advisory sources** (``advisories/http.py``): one deadline per phase (``phase()``,
  ``--index-timeout``), retries with backoff on 429/5xx and dropped connections, bodies read with a cap,
  JSON nesting checked before parsing. A failure is an ``IndexUnavailable`` with a one-line reason, never
  a crash.
* **Cached on disk** (``<cache>/pypi-index/``): project pages for ``max_age`` seconds (releases appear and
  are yanked), ``.metadata`` files for good (a file's metadata never changes; its sha256 is checked
  against the index's when the index gives one).
* **Which files install on the target** (``TargetTags``): the wheel tags ``packaging.tags`` generates for
  the target's CPython (``cpython_tags`` + ``compatible_tags``) on its platform: ``manylinux_2_N_<machine>``
  for every glibc from the target's down to 2.17 (2.5 on x86_64/i686) and the legacy aliases
  (``manylinux2014``, ``manylinux2010``, ``manylinux1``), ``musllinux_1_N`` on musl, and ``linux_<machine>``;
  a wheel's tags from ``packaging.utils.parse_wheel_filename``; ``Requires-Python`` checked for the target's
  Python. A release with no wheel but an sdist installs by building it (said so).

Written to be reused by a ``depscan fix`` command for the hashes of the files of a version
(``IndexClient.project`` + ``Project.files_of`` + ``IndexFile.sha256``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags, parse_tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from depscan.advisories.http import (
    BoundedClient,
    BoundExceeded,
    loads_bounded,
    read_capped,
    request_timeout,
)
from depscan.config import INDEX_TIMEOUT, INDEX_URL
from depscan.models import PythonDist, TargetRuntime

DEFAULT_INDEX_URL = INDEX_URL
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
MAX_PAGE_BYTES = 64 * 1024 * 1024  # a project page (boto3's JSON simple page is ~30 MB)
MAX_METADATA_BYTES = 8 * 1024 * 1024
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
PAGE_MAX_AGE = 3600.0


class IndexUnavailable(Exception):
    """The index could not answer (network, HTTP status, a garbled answer); the message is one line."""


class ProjectNotFound(IndexUnavailable):
    """The index has no such project (HTTP 404)."""


@dataclass(frozen=True, slots=True)
class IndexFile:
    """One file of a project on the index."""

    filename: str
    url: str
    version: Version | None  # from the file name (None: a name that is neither a wheel nor an sdist)
    sha256: str | None
    requires_python: str | None = None
    yanked: bool = False
    yanked_reason: str | None = None
    has_metadata: bool = False  # a PEP 658/714 ``.metadata`` file is served beside it
    metadata_sha256: str | None = None
    tags: frozenset[Tag] = frozenset()  # a wheel's tags; empty for an sdist

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(".whl")

    @property
    def is_sdist(self) -> bool:
        return not self.is_wheel and self.version is not None


@dataclass(frozen=True, slots=True)
class Project:
    """A project's files on the index, and how they were read (``simple-json`` or ``json-api``)."""

    name: str
    files: tuple[IndexFile, ...]
    source: str
    url: str

    def releases(self) -> dict[Version, list[IndexFile]]:
        """Files by version."""
        out: dict[Version, list[IndexFile]] = {}
        for f in self.files:
            if f.version is not None:
                out.setdefault(f.version, []).append(f)
        return out

    def files_of(self, version: str) -> list[IndexFile]:
        wanted = Version(version)
        return [f for f in self.files if f.version == wanted]


def _file_version(filename: str, project: str) -> tuple[Version | None, frozenset[Tag]]:
    try:
        if filename.endswith(".whl"):
            name, version, _build, tags = parse_wheel_filename(filename)
            return (version, frozenset(tags)) if name == canonicalize_name(project) else (None, frozenset())
        if filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
            return (version, frozenset()) if name == canonicalize_name(project) else (None, frozenset())
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        pass
    return None, frozenset()


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def parse_simple_json(data: object, project: str, page_url: str) -> list[IndexFile]:
    """The files of a PEP 691 project page; ``IndexUnavailable`` when it is not one."""
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, list):
        raise IndexUnavailable(f"{page_url}: not a PEP 691 project page (no files list)")
    out = []
    for item in files:
        if not isinstance(item, dict) or not isinstance(item.get("filename"), str) or not isinstance(
                item.get("url"), str):
            continue
        filename = item["filename"]
        hashes = item.get("hashes")
        metadata = item.get("core-metadata", item.get("data-dist-info-metadata", False))
        yanked = item.get("yanked", False)
        version, tags = _file_version(filename, project)
        out.append(IndexFile(
            filename=filename,
            url=urljoin(page_url, item["url"]),
            version=version,
            sha256=_text(hashes.get("sha256")) if isinstance(hashes, dict) else None,
            requires_python=_text(item.get("requires-python")),
            yanked=bool(yanked),
            yanked_reason=yanked if isinstance(yanked, str) and yanked else None,
            has_metadata=bool(metadata),
            metadata_sha256=_text(metadata.get("sha256")) if isinstance(metadata, dict) else None,
            tags=tags,
        ))
    return out


def parse_json_api(data: object, project: str, page_url: str) -> list[IndexFile]:
    """The files of a per-project JSON API answer (``releases``)."""
    releases = data.get("releases") if isinstance(data, dict) else None
    if not isinstance(releases, dict):
        raise IndexUnavailable(f"{page_url}: not a JSON API project answer (no releases)")
    out = []
    for files in releases.values():
        if not isinstance(files, list):
            continue
        for item in files:
            if not isinstance(item, dict) or not isinstance(item.get("filename"), str) or not isinstance(
                    item.get("url"), str):
                continue
            digests = item.get("digests")
            version, tags = _file_version(item["filename"], project)
            out.append(IndexFile(
                filename=item["filename"],
                url=item["url"],
                version=version,
                sha256=_text(digests.get("sha256")) if isinstance(digests, dict) else None,
                requires_python=_text(item.get("requires_python")),
                yanked=bool(item.get("yanked", False)),
                yanked_reason=_text(item.get("yanked_reason")) or None,
                tags=tags,
            ))
    return out


class IndexClient(BoundedClient):
    """Talks HTTP to one package index (``index_url``, a PEP 503/691 simple index), with retries inside
    one deadline per phase and a disk cache. The session is injected for testing."""

    deadline_label = "--index-timeout"

    def __init__(
        self,
        index_url: str = DEFAULT_INDEX_URL,
        *,
        cache_dir: Path | None = None,
        session: requests.Session | None = None,
        timeout: float = INDEX_TIMEOUT,
        retries: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        max_age: float = PAGE_MAX_AGE,
    ) -> None:
        self.index_url = index_url if index_url.endswith("/") else index_url + "/"
        super().__init__(session, timeout)
        self.cache_dir = cache_dir
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.max_age = max_age
        self._projects: dict[str, Project | IndexUnavailable] = {}
        self._requires: dict[tuple[str, str], tuple[str, ...] | None] = {}

    @property
    def json_api_base(self) -> str:
        """``https://pypi.org/`` for ``https://pypi.org/simple/``: where ``pypi/<name>/json`` lives."""
        base = self.index_url
        return base[: -len("simple/")] if base.endswith("/simple/") else base

    # -- HTTP -------------------------------------------------------------------------------------

    def _cache_path(self, url: str, accept: str) -> Path | None:
        if self.cache_dir is None:
            return None
        digest = hashlib.sha256(f"{accept}\n{url}".encode()).hexdigest()
        return self.cache_dir / "pypi-index" / f"{digest}.json"

    def _cached(self, url: str, accept: str, max_age: float | None) -> tuple[bytes, str] | None:
        path = self._cache_path(url, accept)
        if path is None:
            return None
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            if max_age is not None and time.time() - float(entry["fetched"]) > max_age:
                return None
            return entry["body"].encode("utf-8", "surrogateescape"), str(entry["type"])
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent or damaged: fetched again

    def _store(self, url: str, accept: str, body: bytes, content_type: str) -> None:
        path = self._cache_path(url, accept)
        if path is None:
            return
        with contextlib.suppress(OSError):  # a cache that cannot be written is only slower
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump({"url": url, "fetched": time.time(), "type": content_type,
                               "body": body.decode("utf-8", "surrogateescape")}, fh)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise

    def get(self, url: str, accept: str, limit: int, max_age: float | None) -> tuple[bytes, str]:
        """The body and content type of ``url`` (from the cache when fresh); ``ProjectNotFound`` on 404,
        ``IndexUnavailable`` on any other failure."""
        cached = self._cached(url, accept, max_age)
        if cached is not None:
            return cached
        where = f"GET {url}"
        deadline = self.deadline()
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                pause = min(self.backoff * 2 ** (attempt - 1), 30.0)
                if pause >= deadline.remaining():
                    raise IndexUnavailable(f"{where}: {problem}; {deadline.message()}")
                self.sleep(pause)
            try:
                timeout = request_timeout(deadline)
                with self.session.get(url, headers={"Accept": accept}, timeout=timeout, stream=True) as response:
                    status = response.status_code
                    if status in RETRY_STATUS:
                        problem = f"HTTP {status}"
                        continue
                    if status == 404:
                        raise ProjectNotFound(f"{where}: HTTP 404")
                    if status != 200:
                        raise IndexUnavailable(f"{where}: HTTP {status}")
                    body = read_capped(response, limit, deadline, where)
                    content_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
            except BoundExceeded as e:
                raise IndexUnavailable(str(e) if str(e).startswith(where) else f"{where}: {e}") from e
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError) as e:
                if deadline.passed():
                    raise IndexUnavailable(f"{where}: {deadline.message()}") from e
                problem = f"{type(e).__name__}: {e}"
                continue
            except requests.RequestException as e:
                raise IndexUnavailable(f"{where}: {type(e).__name__}: {e}") from e
            self._store(url, accept, body, content_type)
            return body, content_type
        raise IndexUnavailable(f"{where}: {problem} after {self.retries + 1} attempts")

    def _json(self, url: str, accept: str, max_age: float | None) -> tuple[Any, str]:
        body, content_type = self.get(url, accept, MAX_PAGE_BYTES, max_age)
        try:
            return loads_bounded(body, f"GET {url}"), content_type
        except BoundExceeded as e:
            raise IndexUnavailable(str(e)) from e
        except ValueError as e:
            raise IndexUnavailable(f"GET {url}: answer is not JSON ({content_type or 'no content type'})") from e

    # -- what the index says ----------------------------------------------------------------------

    def project(self, name: str) -> Project:
        """The project's files: the PEP 691 page, else the JSON API (an index serving HTML only)."""
        key = canonicalize_name(name)
        known = self._projects.get(key)
        if isinstance(known, IndexUnavailable):
            raise known
        if known is not None:
            return known
        try:
            found = self._project(key)
        except IndexUnavailable as e:
            self._projects[key] = e
            raise
        self._projects[key] = found
        return found

    def _project(self, key: str) -> Project:
        page = f"{self.index_url}{key}/"
        simple_problem = ""
        try:
            body, content_type = self.get(page, f"{SIMPLE_JSON}, text/html;q=0.01", MAX_PAGE_BYTES, self.max_age)
        except ProjectNotFound:
            raise ProjectNotFound(f"{key} is not on the index {self.index_url}") from None
        except IndexUnavailable as e:
            simple_problem = str(e)
        else:
            if content_type == SIMPLE_JSON or (content_type.endswith("json") and body.lstrip().startswith(b"{")):
                try:
                    data = loads_bounded(body, f"GET {page}")
                except (BoundExceeded, ValueError) as e:
                    raise IndexUnavailable(f"GET {page}: the PEP 691 answer is not JSON ({e})") from e
                return Project(key, tuple(parse_simple_json(data, key, page)), "simple-json", page)
            simple_problem = f"GET {page}: answered {content_type or 'no content type'}, not PEP 691 JSON"
        api = f"{self.json_api_base}pypi/{key}/json"
        try:
            data, _type = self._json(api, "application/json", self.max_age)
        except ProjectNotFound:
            raise ProjectNotFound(f"{key} is not on the index {self.index_url}") from None
        except IndexUnavailable as e:
            raise IndexUnavailable(f"{simple_problem}; the JSON API too: {e}") from e
        return Project(key, tuple(parse_json_api(data, key, api)), "json-api", api)

    def requires_dist(self, project: Project, version: str) -> tuple[str, ...] | None:
        """The ``Requires-Dist`` of a release: from a wheel's ``.metadata`` file (PEP 658/714), else the
        JSON API's ``info.requires_dist``; None when neither can be read."""
        key = (project.name, version)
        if key in self._requires:
            return self._requires[key]
        found: tuple[str, ...] | None = None
        for f in project.files_of(version):
            if f.has_metadata and not f.yanked:
                found = self._metadata_requires(f)
                if found is not None:
                    break
        if found is None:
            url = f"{self.json_api_base}pypi/{project.name}/{version}/json"
            try:
                data, _type = self._json(url, "application/json", None)
                info = data.get("info") if isinstance(data, dict) else None
                requires = info.get("requires_dist") if isinstance(info, dict) else None
                if requires is None and isinstance(info, dict):
                    found = ()
                elif isinstance(requires, list) and all(isinstance(r, str) for r in requires):
                    found = tuple(requires)
            except IndexUnavailable:
                found = None
        if found is None:
            # last: a wheel's ``.metadata`` the page does not advertise (PyPI serves it for wheels uploaded
            # before PEP 658 metadata was recorded; some mirrors answer 404 to per-version JSON API URLs)
            for f in project.files_of(version):
                if f.is_wheel and not f.has_metadata and not f.yanked:
                    found = self._metadata_requires(f)
                    if found is not None:
                        break
        self._requires[key] = found
        return found

    def _metadata_requires(self, f: IndexFile) -> tuple[str, ...] | None:
        from depscan.catalogers.core_metadata import parse_headers

        url = f.url.split("#", 1)[0] + ".metadata"
        try:
            body, _type = self.get(url, "*/*", MAX_METADATA_BYTES, None)
        except IndexUnavailable:
            return None
        if f.metadata_sha256 is not None and hashlib.sha256(body).hexdigest() != f.metadata_sha256.lower():
            return None  # not the file the index describes
        raw = parse_headers(body)
        return tuple(raw.get("requires_dist", []))


# -- which files install on the target ----------------------------------------------------------

# ELF machine names (TargetRuntime.machine, NativeLib.arch) as wheel platform tags spell them.
_WHEEL_MACHINE = {"i386": "i686", "arm": "armv7l"}
_LEGACY_MANYLINUX = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}
_LEGACY_MACHINES = {"manylinux2014": {"x86_64", "i686", "aarch64", "armv7l", "ppc64", "ppc64le", "s390x"},
                    "manylinux2010": {"x86_64", "i686"}, "manylinux1": {"x86_64", "i686"}}
_ANY_GLIBC_MINOR = 40  # glibc unknown: every manylinux up to 2.40 is accepted (said so)


@dataclass(frozen=True, slots=True)
class TargetTags:
    """The wheel tags a target installs, and how they were chosen; ``tags`` None: not enough is known
    (the Python version or the machine) to tell, and every file is accepted (``caveat`` says so)."""

    tags: frozenset[Tag] | None
    python: str | None
    describe: str
    caveat: str | None = None
    order: dict[Tag, int] = field(default_factory=dict)


def _platforms(machine: str, libc: str | None, glibc: str | None) -> tuple[list[str], str | None]:
    caveat = None
    if libc == "musl":
        return [*(f"musllinux_1_{minor}_{machine}" for minor in range(2, -1, -1)), f"linux_{machine}"], None
    low = 5 if machine in ("x86_64", "i686") else 17
    top = _ANY_GLIBC_MINOR
    if glibc is not None:
        parts = glibc.split(".")
        if len(parts) >= 2 and parts[0] == "2" and parts[1].isdigit():
            top = int(parts[1])
    else:
        caveat = "the target's glibc is unknown: any manylinux wheel for the machine is accepted"
    platforms = []
    for minor in range(top, low - 1, -1):
        platforms.append(f"manylinux_2_{minor}_{machine}")
        legacy = _LEGACY_MANYLINUX.get((2, minor))
        if legacy is not None and machine in _LEGACY_MACHINES[legacy]:
            platforms.append(f"{legacy}_{machine}")
    platforms.append(f"linux_{machine}")
    return platforms, caveat


def _from_wheel(dist: PythonDist) -> tuple[str | None, str | None]:
    """The Python (``3.11``) and machine a copy's own WHEEL tags name (``cp311-cp311-manylinux_2_17_aarch64``)."""
    python = machine = None
    for text in dist.wheel.tags if dist.wheel is not None else ():
        try:
            tags = parse_tag(text)
        except ValueError:
            continue
        for tag in tags:
            if tag.interpreter.startswith("cp3") and tag.interpreter[3:].isdigit():
                python = python or f"3.{tag.interpreter[3:]}"
            for prefix in ("manylinux_", "musllinux_", "manylinux1_", "manylinux2010_", "manylinux2014_", "linux_"):
                if tag.platform.startswith(prefix):
                    rest = tag.platform[len(prefix):]
                    if prefix in ("manylinux_", "musllinux_"):
                        rest = rest.split("_", 2)[2] if rest.count("_") >= 2 else rest
                    machine = machine or rest
    return python, machine


def target_tags(target: TargetRuntime | None, dist: PythonDist) -> TargetTags:
    """The tags the copy's target installs: the target runtime (``runtimes.infer_target``), the copy's own
    WHEEL tags for what the target leaves unknown."""
    wheel_python, wheel_machine = _from_wheel(dist)
    python = (target.python if target else None) or wheel_python
    machine = (target.machine if target else None)
    machine = _WHEEL_MACHINE.get(machine, machine) if machine else wheel_machine
    libc = target.libc if target else None
    glibc = target.glibc if target else None
    if python is None or machine is None:
        missing = " and ".join(x for x, known in (("Python version", python), ("machine", machine)) if not known)
        return TargetTags(None, python, "unknown target",
                          f"the target's {missing} is unknown: wheel compatibility not checked (give --runtime/--arch)")
    platforms, caveat = _platforms(machine, libc, glibc)
    major, minor = (int(x) for x in python.split(".")[:2])
    ordered: list[Tag] = [*cpython_tags((major, minor), platforms=platforms),
                          *compatible_tags((major, minor), f"cp{major}{minor}", platforms)]
    order = {tag: i for i, tag in reversed(list(enumerate(ordered)))}
    glibc_text = f"glibc {glibc}" if glibc else ("musl" if libc == "musl" else "glibc unknown")
    return TargetTags(frozenset(ordered), python, f"cp{major}{minor} {machine} ({glibc_text})", caveat, order)


def installable(files: Sequence[IndexFile], target: TargetTags) -> tuple[list[IndexFile], str | None, str | None]:
    """(the files of one release that install on the target: compatible wheels and sdists; why none does;
    a note on how it installs)."""
    live = [f for f in files if not f.yanked]
    if not live:
        reasons = sorted({f.yanked_reason for f in files if f.yanked_reason})
        return [], "yanked" + (f" ({'; '.join(reasons)})" if reasons else ""), None
    python_ok = [f for f in live if _python_ok(f.requires_python, target.python)]
    if not python_ok:
        return [], f"Requires-Python {live[0].requires_python} excludes Python {target.python}", None
    wheels = [f for f in python_ok if f.is_wheel]
    sdists = [f for f in python_ok if f.is_sdist]
    if target.tags is None:
        return wheels + sdists, None, None
    fitting = [f for f in wheels if f.tags & target.tags]
    if fitting:
        return fitting + sdists, None, None
    if sdists and not wheels:
        return sdists, None, "sdist only: pip builds it on install (fine for pure Python; C code needs a compiler " \
                             "and the target's headers)"
    # wheels for other targets only: the sdist would have to be built for this one (an extension module needs
    # a compiler and the target's headers), so the release is not counted as installable
    return [], (f"no wheel for {target.describe} ({len(wheels)} wheel(s) for other targets"
                + (", and an sdist to build)" if sdists else ", no sdist)")), None


def _python_ok(requires_python: str | None, python: str | None) -> bool:
    if not requires_python or python is None:
        return True
    try:
        return SpecifierSet(requires_python).contains(f"{python}.0", prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return True  # pip ignores a Requires-Python it cannot parse
