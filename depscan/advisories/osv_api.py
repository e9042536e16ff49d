"""The online backend: the OSV API (https://google.github.io/osv.dev/api/).

1. ``POST /v1/querybatch`` in chunks of at most 1000 queries. A result may carry
   ``next_page_token``: only those queries are sent again, with ``page_token``, until none does
   (a page can hold only a token and no vulns).
   Each PyPI package is also asked once without a version (the API then lists every record of
   the package): of that answer only the ``MAL-`` ids are kept (OpenSSF malicious-packages
   records), because a malicious project is malicious at every version, listed or not; they join
   the answer of every queried version of the package.
2. ``GET /v1/vulns/{id}`` for each unique id, with bounded concurrency, unless the on-disk cache
   holds that id at the ``modified`` the batch reported.

One deadline for the whole lookup (``--osv-timeout``, default 120 s), not a timeout per read;
retries with exponential backoff (honouring ``Retry-After``) on 429, 5xx and connection errors,
within that deadline. Answers are capped after decoding (8 MiB for a querybatch answer and for a
record), answers listing more than 50,000 distinct advisories in all are not fetched from, and
JSON nested more than 64 deep is refused; a record whose ``id`` is not the one asked for is not
an answer. A query whose lookup ultimately fails is reported in ``failed``; the scan then exits 4
naming what was not checked, never "no vulnerabilities".
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from depscan.advisories.backend import AdvisoryBackend, LookupResult, PackageQuery
from depscan.advisories.http import (
    BoundedClient,
    BoundExceeded,
    loads_bounded,
    read_capped,
    request_timeout,
)
from depscan.advisories.osv_schema import OSVError, is_malicious_id, parse_osv
from depscan.config import OSV_API_URL, OSV_TIMEOUT
from depscan.models import Advisory, AdvisoryData
from depscan.timestamps import latest, parse_timestamp

DEFAULT_URL = OSV_API_URL
BATCH_SIZE = 1000
DEFAULT_TIMEOUT = OSV_TIMEOUT  # seconds for one whole lookup phase (--osv-timeout)
# One querybatch answer, decoded: ids and times of ~120,000 records (over twice MAX_ADVISORIES); a
# worst case of that size (only short distinct ids) parses into ~160 MB of objects.
MAX_BATCH_BYTES = 8 * 1024 * 1024
MAX_RECORD_BYTES = 8 * 1024 * 1024  # one /v1/vulns/{id} record, decoded (as the offline import caps it)
MAX_PAGES = 100  # per query; a runaway token loop must end
MAX_ADVISORIES = 50_000  # distinct ids one lookup fetches (a big image lists a few thousand)
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class _AnyVersion(PackageQuery):
    """A PyPI package asked for without a version (``version`` unused): only its ``MAL-`` ids are
    kept. Another class, so it never equals a real query of the same name."""


class LookupFailed(Exception):
    """One HTTP exchange failed after every retry, or broke a bound (deadline, size, nesting)."""


class OSVClient(BoundedClient):
    """Talks HTTP to one OSV API base URL, with retries, inside one deadline per lookup phase.

    ``timeout`` is that deadline in seconds (``--osv-timeout``): every request of a phase, its
    retries and backoff included, ends by then (see ``depscan.advisories.http``). Answers are read
    with a cap per kind (``max_batch_bytes``, ``max_record_bytes``, after decoding) and JSON
    nested deeper than ``http.MAX_JSON_DEPTH`` is refused. The session is injected for testing.
    """

    deadline_label = "--osv-timeout"

    def __init__(
        self,
        session: requests.Session | None = None,
        base_url: str = DEFAULT_URL,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = 4,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        max_batch_bytes: int = MAX_BATCH_BYTES,
        max_record_bytes: int = MAX_RECORD_BYTES,
    ) -> None:
        super().__init__(session, timeout)
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.max_batch_bytes = max_batch_bytes
        self.max_record_bytes = max_record_bytes

    def _request(self, method: str, path: str, body: dict[str, Any] | None, limit: int) -> Any:
        url = f"{self.base_url}{path}"
        where = f"{method} {url}"
        deadline = self.deadline()
        problem = ""
        delay: float | None = None  # from Retry-After, else exponential backoff
        for attempt in range(self.retries + 1):
            if attempt:
                pause = delay if delay is not None else min(self.backoff * 2 ** (attempt - 1), 30.0)
                if pause >= deadline.remaining():
                    raise LookupFailed(f"{where}: {problem}; {deadline.message()}")
                self.sleep(pause)
            delay = None
            if deadline.passed():
                raise LookupFailed(f"{where}: {deadline.message()}" + (f" (last: {problem})" if problem else ""))
            try:
                timeout = request_timeout(deadline)
                with self.session.request(method, url, json=body, timeout=timeout, stream=True) as response:
                    status = response.status_code
                    if status in RETRY_STATUS:
                        problem = f"HTTP {status}"
                        retry_after = response.headers.get("Retry-After", "")
                        if retry_after.isdigit():
                            delay = float(min(int(retry_after), 60))
                        continue
                    if status != 200:
                        raise LookupFailed(f"{where}: HTTP {status}")
                    data = read_capped(response, limit, deadline, where)
            except BoundExceeded as e:
                raise LookupFailed(str(e) if str(e).startswith(where) else f"{where}: {e}") from e
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError) as e:
                if deadline.passed():  # the deadline shut the socket down: not worth another try
                    raise LookupFailed(f"{where}: {deadline.message()}") from e
                problem = f"{type(e).__name__}: {e}"  # dropped or garbled on the way: worth another try
                continue
            except requests.RequestException as e:
                raise LookupFailed(f"{where}: {type(e).__name__}: {e}") from e
            try:
                return loads_bounded(data, where)
            except BoundExceeded as e:
                raise LookupFailed(str(e)) from e
            except ValueError as e:
                raise LookupFailed(f"{where}: response is not JSON") from e
        raise LookupFailed(f"{where}: {problem} after {self.retries + 1} attempts")

    def querybatch(self, queries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One ``/v1/querybatch`` call; returns its ``results`` (one per query, in order)."""
        data = self._request("POST", "/v1/querybatch", {"queries": queries}, self.max_batch_bytes)
        results = data.get("results") if isinstance(data, dict) else None
        where = f"POST {self.base_url}/v1/querybatch"
        if not isinstance(results, list) or len(results) != len(queries):
            raise LookupFailed(f"{where}: answer does not match the {len(queries)} queries")
        for result in results:
            # A garbled result must fail the lookup, never read as "no vulnerabilities".
            vulns = result.get("vulns", []) if isinstance(result, dict) else None
            if not isinstance(vulns, list) or not all(
                isinstance(v, dict) and isinstance(v.get("id"), str) and v["id"] for v in vulns
            ):
                raise LookupFailed(f"{where}: malformed result {str(result)[:80]!r}")
        return results

    def vuln(self, ident: str) -> dict[str, Any]:
        """One full record from ``/v1/vulns/{id}``: the record of that id, or ``LookupFailed``.

        A record with another id is not an answer (a mirror serving the wrong, perhaps withdrawn,
        record would otherwise make the findings of the asked one disappear)."""
        where = f"GET {self.base_url}/v1/vulns/{ident}"
        data = self._request("GET", f"/v1/vulns/{quote(ident, safe='')}", None, self.max_record_bytes)
        if not isinstance(data, dict):
            raise LookupFailed(f"{where}: not an OSV record")
        if data.get("id") != ident:
            raise LookupFailed(f"{where}: answered with the record of {str(data.get('id'))[:80]!r}, not {ident}")
        return data


class RecordCache:
    """Full OSV records on disk, keyed by id and ``modified`` (a changed record is fetched again)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, ident: str) -> Path:
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in ident)
        return self.directory / f"{safe}.json"

    def get(self, ident: str, modified: str | None) -> dict[str, Any] | None:
        path = self._path(ident)
        try:
            if path.stat().st_size > MAX_RECORD_BYTES:
                return None
            record = loads_bounded(path.read_bytes(), str(path))
        except (OSError, ValueError, BoundExceeded):
            return None  # damaged: fetched again
        if not isinstance(record, dict) or record.get("id") != ident:
            return None
        if modified is not None and not _current(record.get("modified"), modified):
            return None
        return record

    def put(self, ident: str, record: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):  # a cache that cannot be written is only slower
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(record, fh)
                os.replace(tmp, self._path(ident))
            except BaseException:  # a failed write or SIGTERM/Ctrl-C: no .tmp left in the cache
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise


def _current(cached: object, reported: str) -> bool:
    """Whether a cached copy modified at ``cached`` is the record the batch reported modified at
    ``reported``: the same time however written (``...:00Z`` = ``...:00.000000+00:00``), or later.
    Text that is not a time is only known to be the same when it is the same string."""
    if not isinstance(cached, str):
        return False
    if cached == reported:
        return True
    cached_at, reported_at = parse_timestamp(cached), parse_timestamp(reported)
    return cached_at is not None and reported_at is not None and cached_at >= reported_at


class OnlineOSV(AdvisoryBackend):
    """Advisories from the OSV API (or a mirror of it)."""

    name = "online"

    def __init__(
        self, client: OSVClient, cache: RecordCache | None = None, *, concurrency: int = 8,
        malicious_any_version: bool = True,
    ) -> None:
        """``malicious_any_version``: ask each PyPI package without a version too, for its ``MAL-``
        records (module docstring); off, only the versioned queries are sent."""
        self.client = client
        self.cache = cache
        self.concurrency = concurrency
        self.malicious_any_version = malicious_any_version

    def lookup(self, queries: Sequence[PackageQuery]) -> LookupResult:
        """One lookup phase, within the client's deadline: what is not answered by then is failed.

        A ``GIT`` query (a native library: normalized repository URL, version as the library
        spells it) is sent as the API's GIT-ecosystem queries: the repository URL as OSV records
        write it (the API matches it against the record's range ``repo`` as written) and one
        query per tag spelling of the version (``native_repos.tag_spellings``: ``OpenSSL_1_1_1k``,
        ``openssl-1.1.1k``) plus the bare version; their answers are merged back.
        """
        sent, origin, failed = _git_queries(queries)
        with self.client.phase():
            result = self._lookup(sent)
        if not origin and not failed:
            return result
        return _merged(queries, result, origin, failed)

    def _lookup(self, queries: Sequence[PackageQuery]) -> LookupResult:
        result = LookupResult()
        ids_for: dict[PackageQuery, dict[str, str | None]] = {}
        seen: set[str] = set()  # every id listed so far, to bound what one lookup fetches
        # One ecosystem per batch: the API refuses a whole batch (HTTP 400, "Invalid ecosystem") for
        # one query naming an ecosystem it does not know, and a distribution release OSV lacks must
        # not leave the PyPI distributions unchecked.
        by_ecosystem: dict[str, list[PackageQuery]] = {}
        for query in queries:
            by_ecosystem.setdefault(query.ecosystem, []).append(query)
        any_version = ({q.name: _AnyVersion("PyPI", q.name, "") for q in by_ecosystem.get("PyPI", ())}
                       if self.malicious_any_version else {})
        if any_version:
            by_ecosystem["PyPI"] = [*by_ecosystem["PyPI"], *any_version.values()]
        chunks = [group[start : start + BATCH_SIZE] for group in by_ecosystem.values()
                  for start in range(0, len(group), BATCH_SIZE)]
        for chunk in chunks:
            try:
                ids_for.update(self._batch(chunk, seen))
            except LookupFailed as e:
                for query in chunk:
                    result.failed[query] = str(e)
        if any_version:
            _join_any_version(any_version, ids_for, result)
        wanted: dict[str, str | None] = {}
        for found in ids_for.values():
            wanted.update(found)
        records, errors = self._records(wanted)
        for query, found in ids_for.items():
            missing = [i for i in found if i not in records]
            if missing:
                result.failed[query] = "; ".join(errors[i] for i in missing)
                continue
            result.affected[query] = [records[i] for i in sorted(found) if records[i].withdrawn is None]
        newest = latest(r.modified for r in records.values())
        result.data = AdvisoryData(f"online:{self.client.base_url}", len(records), newest)
        return result

    def _batch(self, chunk: list[PackageQuery], seen: set[str]) -> dict[PackageQuery, dict[str, str | None]]:
        found: dict[PackageQuery, dict[str, str | None]] = {q: {} for q in chunk}
        pending: list[tuple[PackageQuery, str | None]] = [(q, None) for q in chunk]
        for _page in range(MAX_PAGES):
            if not pending:
                return found
            body = []
            for query, token in pending:
                item: dict[str, Any] = {"package": {"name": query.name, "ecosystem": query.ecosystem}}
                if not isinstance(query, _AnyVersion):
                    item["version"] = query.version
                if token is not None:
                    item["page_token"] = token
                body.append(item)
            results = self.client.querybatch(body)
            next_pending: list[tuple[PackageQuery, str | None]] = []
            for (query, _token), res in zip(pending, results, strict=True):
                every_record = isinstance(query, _AnyVersion)
                for vuln in res.get("vulns") or []:  # shape checked in querybatch
                    if every_record and not is_malicious_id(vuln["id"]):
                        continue  # the versioned query answers for the other records
                    modified = vuln.get("modified")
                    found[query][vuln["id"]] = modified if isinstance(modified, str) else None
                    seen.add(vuln["id"])
                    if len(seen) > MAX_ADVISORIES:
                        raise LookupFailed(
                            f"POST {self.client.base_url}/v1/querybatch: the answers list more than "
                            f"{MAX_ADVISORIES:,} distinct advisories, more than one lookup fetches"
                        )
                token = res.get("next_page_token")
                if isinstance(token, str) and token:
                    next_pending.append((query, token))
            pending = next_pending
        raise LookupFailed(f"{self.client.base_url}/v1/querybatch: still paging after {MAX_PAGES} pages")

    def _records(self, wanted: dict[str, str | None]) -> tuple[dict[str, Advisory], dict[str, str]]:
        records: dict[str, Advisory] = {}
        errors: dict[str, str] = {}
        to_fetch = []
        for ident, modified in sorted(wanted.items()):
            cached = self.cache.get(ident, modified) if self.cache else None
            if cached is not None:
                with contextlib.suppress(OSVError):
                    records[ident] = parse_osv(cached, f"online:{self.client.base_url}")
                    continue
            to_fetch.append(ident)

        def fetch(ident: str) -> tuple[str, Advisory | None, str]:
            try:
                raw = self.client.vuln(ident)
                advisory = parse_osv(raw, f"online:{self.client.base_url}")
            except (LookupFailed, OSVError) as e:
                return ident, None, str(e)
            if self.cache:
                self.cache.put(ident, raw)
            return ident, advisory, ""

        with ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool:
            for ident, advisory, error in pool.map(fetch, to_fetch):
                if advisory is None:
                    errors[ident] = error
                else:
                    records[ident] = advisory
        return records, errors


def _join_any_version(
    any_version: dict[str, _AnyVersion], ids_for: dict[PackageQuery, dict[str, str | None]], result: LookupResult
) -> None:
    """Add each package's ``MAL-`` ids (its query without a version) to every queried version of it;
    a version whose package could not be asked so fails too (a malicious package must not pass
    unseen). The queries without a version leave ``ids_for`` and ``result.failed``."""
    malicious: dict[str, dict[str, str | None]] = {}
    failed: dict[str, str] = {}
    for name, asked in any_version.items():
        found = ids_for.pop(asked, None)
        if found is not None:
            malicious[name] = found
        why = result.failed.pop(asked, None)
        if why is not None:
            failed[name] = why
    for query in list(ids_for):
        if query.ecosystem != "PyPI":
            continue
        if query.name in failed:
            del ids_for[query]
            result.failed.setdefault(query, failed[query.name])
        elif query.name in malicious:
            ids_for[query].update(malicious[query.name])


def _git_queries(
    queries: Sequence[PackageQuery],
) -> tuple[list[PackageQuery], dict[PackageQuery, list[PackageQuery]], dict[PackageQuery, str]]:
    """(the queries to send, each sent GIT query -> the queries it answers, GIT queries that cannot be asked)."""
    from depscan.advisories.native_repos import normalize_repo_url, tag_spellings, upstream_of

    sent: dict[PackageQuery, None] = {}
    origin: dict[PackageQuery, list[PackageQuery]] = {}
    failed: dict[PackageQuery, str] = {}
    for query in queries:
        if query.ecosystem != "GIT":
            sent[query] = None
            continue
        known = upstream_of(query.name)
        if known is None:
            failed[query] = f"no tag spelling known for {query.name}: the OSV API cannot be asked by version"
            continue
        library, upstream = known
        urls = [u for u in upstream.repos if normalize_repo_url(u) == query.name]
        # The tags as the project spells them, and the bare version: the API compares a GIT query's
        # version with the records' tags as written, then both normalized (osv.dev's API server,
        # gcp/api/server.py ``_query_by_generic_version``), so either may be the one that matches.
        for url in urls:  # every spelling records use for this repository ("...curl" and "...curl.git")
            for tag in dict.fromkeys((*tag_spellings(library, query.version), query.version)):
                asked = PackageQuery("GIT", url, tag)
                sent[asked] = None
                origin.setdefault(asked, []).append(query)
    return list(sent), origin, failed


def _merged(
    queries: Sequence[PackageQuery], result: LookupResult, origin: dict[PackageQuery, list[PackageQuery]],
    failed: dict[PackageQuery, str],
) -> LookupResult:
    """The answers of the sent queries, as answers to the queries asked."""
    merged = LookupResult(data=result.data, failed=dict(failed))
    for query in queries:
        if query.ecosystem != "GIT":
            if query in result.failed:
                merged.failed[query] = result.failed[query]
            elif query in result.affected:
                merged.affected[query] = result.affected[query]
    for asked, originals in origin.items():
        for query in originals:
            if query in merged.failed:
                continue
            if asked in result.failed or asked not in result.affected:
                merged.failed[query] = result.failed.get(asked, "the advisory source gave no answer for it")
                merged.affected.pop(query, None)
                continue
            known = merged.affected.setdefault(query, [])
            ids = {a.id for a in known}
            known.extend(a for a in result.affected[asked] if a.id not in ids)
    return merged
