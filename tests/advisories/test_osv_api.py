"""The online backend (``depscan.advisories.osv_api``) against a mocked OSV API.

Every exchange goes through a real ``requests.Session`` intercepted by ``responses``; ``sleep`` is
a recorder, so retries and backoff are checked without waiting. Request bodies are asserted
exactly, since they are what the OSV API (or a mirror of it) sees. These are the versioned queries'
exchanges: the backend's second query per package (no version, for ``MAL-`` records) is off here
(``malicious_any_version=False``) and tested in ``tests/test_malicious.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from builders import dist, write_zip

from depscan.advisories.backend import PackageQuery
from depscan.advisories.osv_api import OnlineOSV, OSVClient, RecordCache
from depscan.match import match
from depscan.models import PythonDist
from tests.helpers import scan

BASE = "https://osv.test.example"
BATCH = f"{BASE}/v1/querybatch"

# (request) -> (status, headers, body), as ``responses`` callbacks return
Callback = Callable[[requests.PreparedRequest], tuple[int, dict[str, str], str]]


def q(name: str, version: str) -> PackageQuery:
    return PackageQuery("PyPI", name, version)


def record(
    ident: str,
    name: str = "demo",
    *,
    versions: tuple[str, ...] = ("1.0",),
    fixed: str | None = "2.0",
    aliases: tuple[str, ...] = (),
    modified: str = "2024-01-01T00:00:00Z",
    withdrawn: str | None = None,
    details: str = "A flaw.",
) -> dict[str, Any]:
    """A small OSV record (schema 1.x shape, invented values)."""
    events: list[dict[str, str]] = [{"introduced": "0"}]
    if fixed is not None:
        events.append({"fixed": fixed})
    out: dict[str, Any] = {
        "id": ident,
        "modified": modified,
        "published": "2023-01-01T00:00:00Z",
        "aliases": list(aliases),
        "details": details,
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": name},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
                "versions": list(versions),
            }
        ],
    }
    if withdrawn is not None:
        out["withdrawn"] = withdrawn
    return out


def versioned(client: OSVClient, cache: RecordCache | None = None) -> OnlineOSV:
    """The backend sending the versioned queries only (module docstring)."""
    return OnlineOSV(client, cache, malicious_any_version=False)


def stub(rec: dict[str, Any]) -> dict[str, str]:
    """What ``/v1/querybatch`` reports for a record: its id and ``modified`` only."""
    return {"id": rec["id"], "modified": rec["modified"]}


def body(call_index: int, mock: responses.RequestsMock) -> Any:
    raw = mock.calls[call_index].request.body
    assert raw is not None
    return json.loads(raw)


def query_body(name: str, version: str, page_token: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"package": {"name": name, "ecosystem": "PyPI"}, "version": version}
    if page_token is not None:
        item["page_token"] = page_token
    return item


def serve_vulns(mock: responses.RequestsMock, *records: dict[str, Any], base: str = BASE) -> None:
    for rec in records:
        mock.get(f"{base}/v1/vulns/{rec['id']}", json=rec)


def empty_results() -> Callback:
    """A querybatch answer with no vulns for every query it is sent."""

    def callback(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        assert request.body is not None
        queries = json.loads(request.body)["queries"]
        return 200, {}, json.dumps({"results": [{} for _ in queries]})

    return callback


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(sleeps: list[float]) -> OSVClient:
    return OSVClient(requests.Session(), base_url=BASE, sleep=sleeps.append)


def urls(mock: responses.RequestsMock) -> list[str]:
    return [str(call.request.url) for call in mock.calls]


# -- querybatch and record fetching ------------------------------------------------------------


def test_querybatch_body_names_package_ecosystem_and_version(
    mock: responses.RequestsMock, client: OSVClient
) -> None:
    mock.post(BATCH, json={"results": [{}, {}]})
    versioned(client).lookup([q("zope-interface", "5.4.0"), q("requests", "2.19.1")])
    assert body(0, mock) == {
        "queries": [query_body("zope-interface", "5.4.0"), query_body("requests", "2.19.1")]
    }
    assert mock.calls[0].request.method == "POST"


def test_results_map_back_to_their_queries(mock: responses.RequestsMock, client: OSVClient) -> None:
    a, b = record("OSV-A", "alpha"), record("OSV-B", "beta")
    mock.post(BATCH, json={"results": [{"vulns": [stub(a)]}, {}, {"vulns": [stub(b)]}]})
    serve_vulns(mock, a, b)
    result = versioned(client).lookup([q("alpha", "1.0"), q("clean", "1.0"), q("beta", "1.0")])
    assert not result.failed
    assert {query: [adv.id for adv in advs] for query, advs in result.affected.items()} == {
        q("alpha", "1.0"): ["OSV-A"],
        q("clean", "1.0"): [],
        q("beta", "1.0"): ["OSV-B"],
    }
    assert result.affected[q("alpha", "1.0")][0].source == f"online:{BASE}"


def test_each_unique_id_is_fetched_once(mock: responses.RequestsMock, client: OSVClient) -> None:
    shared, own = record("OSV-SHARED"), record("OSV-OWN")
    mock.post(
        BATCH,
        json={"results": [{"vulns": [stub(shared)]}, {"vulns": [stub(shared), stub(own)]}, {"vulns": [stub(shared)]}]},
    )
    serve_vulns(mock, shared, own)
    result = versioned(client).lookup([q("demo", "1.0"), q("demo", "1.1"), q("demo", "1.2")])
    gets = sorted(u for u in urls(mock) if "/v1/vulns/" in u)
    assert gets == [f"{BASE}/v1/vulns/OSV-OWN", f"{BASE}/v1/vulns/OSV-SHARED"]
    assert [a.id for a in result.affected[q("demo", "1.1")]] == ["OSV-OWN", "OSV-SHARED"]


def test_withdrawn_records_are_dropped(mock: responses.RequestsMock, client: OSVClient) -> None:
    live, gone = record("OSV-LIVE"), record("OSV-GONE", withdrawn="2024-02-01T00:00:00Z")
    mock.post(BATCH, json={"results": [{"vulns": [stub(live), stub(gone)]}]})
    serve_vulns(mock, live, gone)
    result = versioned(client).lookup([q("demo", "1.0")])
    assert [a.id for a in result.affected[q("demo", "1.0")]] == ["OSV-LIVE"]
    assert not result.failed


def test_lookup_data_names_source_record_count_and_newest_modified(
    mock: responses.RequestsMock, client: OSVClient
) -> None:
    old, new = record("OSV-OLD", modified="2021-05-05T00:00:00Z"), record("OSV-NEW", modified="2023-07-07T12:00:00Z")
    mock.post(BATCH, json={"results": [{"vulns": [stub(old)]}, {"vulns": [stub(new), stub(old)]}]})
    serve_vulns(mock, old, new)
    data = versioned(client).lookup([q("a", "1"), q("b", "1")]).data
    assert data is not None
    assert (data.source, data.records, data.newest_modified) == (f"online:{BASE}", 2, "2023-07-07T12:00:00Z")


def test_no_queries_make_no_requests(mock: responses.RequestsMock, client: OSVClient) -> None:
    result = versioned(client).lookup([])
    assert not mock.calls
    assert result.affected == {} and result.failed == {}


def test_1001_queries_are_sent_in_chunks_of_1000_and_1(mock: responses.RequestsMock, client: OSVClient) -> None:
    mock.add_callback(responses.POST, BATCH, callback=empty_results())
    queries = [q("demo", f"1.{i}") for i in range(1001)]
    result = versioned(client).lookup(queries)
    assert [len(body(i, mock)["queries"]) for i in range(len(mock.calls))] == [1000, 1]
    assert body(1, mock) == {"queries": [query_body("demo", "1.1000")]}
    assert body(0, mock)["queries"][0] == query_body("demo", "1.0")
    assert len(result.affected) == 1001 and not result.failed


# -- pagination ----------------------------------------------------------------------------------


def test_next_page_token_resends_only_the_paged_queries(mock: responses.RequestsMock, client: OSVClient) -> None:
    p1, p3, other = record("OSV-P1", "paged"), record("OSV-P3", "paged"), record("OSV-OTHER", "other")
    # page 1: "paged" has more; page 2: ONLY a token; page 3: the rest.
    mock.post(
        BATCH,
        json={"results": [{"vulns": [stub(p1)], "next_page_token": "tok-1"}, {"vulns": [stub(other)]}, {}]},
    )
    mock.post(BATCH, json={"results": [{"next_page_token": "tok-2"}]})
    mock.post(BATCH, json={"results": [{"vulns": [stub(p3)]}]})
    serve_vulns(mock, p1, p3, other)
    queries = [q("paged", "1.0"), q("other", "1.0"), q("clean", "1.0")]
    result = versioned(client).lookup(queries)
    posts = [i for i, call in enumerate(mock.calls) if call.request.method == "POST"]
    assert [body(i, mock) for i in posts] == [
        {"queries": [query_body("paged", "1.0"), query_body("other", "1.0"), query_body("clean", "1.0")]},
        {"queries": [query_body("paged", "1.0", "tok-1")]},
        {"queries": [query_body("paged", "1.0", "tok-2")]},
    ]
    assert [a.id for a in result.affected[q("paged", "1.0")]] == ["OSV-P1", "OSV-P3"]
    assert [a.id for a in result.affected[q("other", "1.0")]] == ["OSV-OTHER"]
    assert result.affected[q("clean", "1.0")] == []


# -- retries and failures ------------------------------------------------------------------------


def test_429_honours_retry_after(mock: responses.RequestsMock, client: OSVClient, sleeps: list[float]) -> None:
    mock.post(BATCH, status=429, headers={"Retry-After": "3"})
    mock.post(BATCH, json={"results": [{}]})
    result = versioned(client).lookup([q("demo", "1.0")])
    assert sleeps == [3.0]
    assert len(mock.calls) == 2 and body(1, mock) == body(0, mock)
    assert result.affected == {q("demo", "1.0"): []} and not result.failed


def test_retry_after_is_capped_at_a_minute(
    mock: responses.RequestsMock, client: OSVClient, sleeps: list[float]
) -> None:
    mock.post(BATCH, status=429, headers={"Retry-After": "86400"})
    mock.post(BATCH, json={"results": [{}]})
    versioned(client).lookup([q("demo", "1.0")])
    assert sleeps == [60.0]


def test_503_then_success_backs_off_exponentially(
    mock: responses.RequestsMock, client: OSVClient, sleeps: list[float]
) -> None:
    mock.post(BATCH, status=503)
    mock.post(BATCH, status=502)
    mock.post(BATCH, status=500)
    mock.post(BATCH, json={"results": [{}]})
    result = versioned(client).lookup([q("demo", "1.0")])
    assert sleeps == [0.5, 1.0, 2.0]
    assert not result.failed


def test_connection_error_then_success(mock: responses.RequestsMock, client: OSVClient, sleeps: list[float]) -> None:
    rec = record("OSV-1")
    mock.post(BATCH, body=requests.ConnectionError("connection reset by peer"))
    mock.post(BATCH, json={"results": [{"vulns": [stub(rec)]}]})
    mock.get(f"{BASE}/v1/vulns/OSV-1", body=requests.ConnectionError("connection reset by peer"))
    serve_vulns(mock, rec)
    result = versioned(client).lookup([q("demo", "1.0")])
    assert sleeps == [0.5, 0.5]
    assert [a.id for a in result.affected[q("demo", "1.0")]] == ["OSV-1"]


def test_exhausted_retries_fail_every_query_of_the_chunk(
    mock: responses.RequestsMock, client: OSVClient, sleeps: list[float]
) -> None:
    mock.post(BATCH, status=503)
    queries = [q("a", "1.0"), q("b", "2.0")]
    result = versioned(client).lookup(queries)
    assert len(mock.calls) == 5  # 1 + retries=4
    assert sleeps == [0.5, 1.0, 2.0, 4.0]
    assert set(result.failed) == set(queries) and not result.affected
    for message in result.failed.values():
        assert message == f"POST {BATCH}: HTTP 503 after 5 attempts"


def test_a_failed_chunk_fails_only_its_own_queries(mock: responses.RequestsMock, client: OSVClient) -> None:
    mock.add_callback(responses.POST, BATCH, callback=empty_results())  # the chunk of 1000
    mock.post(BATCH, body=requests.ConnectionError("down"))  # the chunk of 1 (after retries: still down)
    queries = [q("demo", f"1.{i}") for i in range(1001)]
    # ``responses`` pops the first of several matches, the last one stays: first chunk -> callback,
    # then every later POST -> the connection error.
    result = versioned(client).lookup(queries)
    assert list(result.failed) == [q("demo", "1.1000")]
    assert "ConnectionError: down" in result.failed[q("demo", "1.1000")]
    assert len(result.affected) == 1000


def test_failing_record_fetch_fails_only_the_queries_needing_it(
    mock: responses.RequestsMock, client: OSVClient, sleeps: list[float]
) -> None:
    broken, fine = record("OSV-BROKEN"), record("OSV-FINE")
    mock.post(
        BATCH,
        json={"results": [{"vulns": [stub(broken), stub(fine)]}, {"vulns": [stub(fine)]}, {}]},
    )
    mock.get(f"{BASE}/v1/vulns/OSV-BROKEN", status=500)
    serve_vulns(mock, fine)
    result = versioned(client).lookup([q("demo", "1.0"), q("demo", "1.1"), q("clean", "1.0")])
    assert result.failed == {q("demo", "1.0"): f"GET {BASE}/v1/vulns/OSV-BROKEN: HTTP 500 after 5 attempts"}
    assert [a.id for a in result.affected[q("demo", "1.1")]] == ["OSV-FINE"]
    assert result.affected[q("clean", "1.0")] == []
    assert sleeps == [0.5, 1.0, 2.0, 4.0]


def test_invalid_osv_record_fails_only_the_queries_needing_it(mock: responses.RequestsMock, client: OSVClient) -> None:
    bad = record("OSV-BAD")
    del bad["modified"]
    good = record("OSV-GOOD")
    mock.post(BATCH, json={"results": [{"vulns": [{"id": "OSV-BAD"}]}, {"vulns": [stub(good)]}]})
    serve_vulns(mock, bad, good)
    result = versioned(client).lookup([q("a", "1.0"), q("b", "1.0")])
    assert list(result.failed) == [q("a", "1.0")]
    assert "OSV-BAD" in result.failed[q("a", "1.0")] and "modified" in result.failed[q("a", "1.0")]
    assert [a.id for a in result.affected[q("b", "1.0")]] == ["OSV-GOOD"]


def test_http_400_fails_without_retrying(mock: responses.RequestsMock, client: OSVClient, sleeps: list[float]) -> None:
    mock.post(BATCH, status=400, json={"code": 3, "message": "Invalid query"})
    result = versioned(client).lookup([q("demo", "1.0")])
    assert len(mock.calls) == 1 and sleeps == []
    assert result.failed == {q("demo", "1.0"): f"POST {BATCH}: HTTP 400"}


def test_malformed_json_fails(mock: responses.RequestsMock, client: OSVClient, sleeps: list[float]) -> None:
    mock.post(BATCH, body="<html>proxy error</html>", content_type="text/html")
    result = versioned(client).lookup([q("demo", "1.0")])
    assert result.failed == {q("demo", "1.0"): f"POST {BATCH}: response is not JSON"}
    assert sleeps == []


@pytest.mark.parametrize(
    "answer",
    [{"results": [{}]}, {"results": [{}, {}, {}]}, {"results": None}, {}, [{}, {}]],
    ids=["too-few", "too-many", "null-results", "no-results", "not-an-object"],
)
def test_answer_not_matching_the_queries_fails(mock: responses.RequestsMock, client: OSVClient, answer: Any) -> None:
    mock.post(BATCH, json=answer)
    result = versioned(client).lookup([q("a", "1.0"), q("b", "1.0")])
    assert set(result.failed) == {q("a", "1.0"), q("b", "1.0")}
    assert result.failed[q("a", "1.0")] == f"POST {BATCH}: answer does not match the 2 queries"


def test_non_object_record_answer_fails_that_query(mock: responses.RequestsMock, client: OSVClient) -> None:
    mock.post(BATCH, json={"results": [{"vulns": [{"id": "OSV-X", "modified": "2024-01-01T00:00:00Z"}]}]})
    mock.get(f"{BASE}/v1/vulns/OSV-X", json=["not", "a", "record"])
    result = versioned(client).lookup([q("demo", "1.0")])
    assert result.failed == {q("demo", "1.0"): f"GET {BASE}/v1/vulns/OSV-X: not an OSV record"}


@pytest.mark.parametrize(
    "result",
    [None, "oops", {"vulns": "PYSEC-2018-28"}, {"vulns": [{"modified": "2024-01-01T00:00:00Z"}]}],
    ids=["null", "string", "vulns-not-a-list", "vuln-without-id"],
)
def test_garbled_result_for_a_query_is_failed_not_clean(
    mock: responses.RequestsMock, client: OSVClient, result: Any
) -> None:
    mock.post(BATCH, json={"results": [result, {}]})
    lookup = versioned(client).lookup([q("garbled", "1.0"), q("clean", "1.0")])
    assert q("garbled", "1.0") in lookup.failed  # (failing the whole chunk would do too)
    assert q("garbled", "1.0") not in lookup.affected


def test_connection_dropped_mid_body_is_a_failed_lookup_not_a_crash(
    mock: responses.RequestsMock, client: OSVClient
) -> None:
    mock.post(BATCH, body=requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead"))
    result = versioned(client).lookup([q("demo", "1.0")])
    assert list(result.failed) == [q("demo", "1.0")]


def test_requests_identify_depscan_in_the_user_agent(mock: responses.RequestsMock, client: OSVClient) -> None:
    mock.post(BATCH, json={"results": [{}]})
    versioned(client).lookup([q("demo", "1.0")])
    assert str(mock.calls[0].request.headers["User-Agent"]).startswith("depscan/")


# -- the record cache ----------------------------------------------------------------------------


def test_cached_record_at_the_same_modified_is_not_fetched_again(
    mock: responses.RequestsMock, client: OSVClient, tmp_path: Path
) -> None:
    rec = record("OSV-1")
    mock.post(BATCH, json={"results": [{"vulns": [stub(rec)]}]})
    serve_vulns(mock, rec)
    backend = versioned(client, RecordCache(tmp_path / "records"))
    first = backend.lookup([q("demo", "1.0")])
    second = versioned(client, RecordCache(tmp_path / "records")).lookup([q("demo", "1.0")])
    assert [u for u in urls(mock) if "/v1/vulns/" in u] == [f"{BASE}/v1/vulns/OSV-1"]
    assert first.affected == second.affected
    assert [a.id for a in second.affected[q("demo", "1.0")]] == ["OSV-1"]


def test_changed_modified_fetches_the_record_again(
    mock: responses.RequestsMock, client: OSVClient, tmp_path: Path
) -> None:
    old = record("OSV-1", modified="2024-01-01T00:00:00Z", fixed="2.0")
    new = record("OSV-1", modified="2024-03-01T00:00:00Z", fixed="1.5")
    mock.post(BATCH, json={"results": [{"vulns": [stub(old)]}]})
    mock.post(BATCH, json={"results": [{"vulns": [stub(new)]}]})
    mock.get(f"{BASE}/v1/vulns/OSV-1", json=old)
    mock.get(f"{BASE}/v1/vulns/OSV-1", json=new)
    cache = RecordCache(tmp_path)
    versioned(client, cache).lookup([q("demo", "1.0")])
    result = versioned(client, cache).lookup([q("demo", "1.0")])
    assert [u for u in urls(mock) if "/v1/vulns/" in u] == [f"{BASE}/v1/vulns/OSV-1"] * 2
    (advisory,) = result.affected[q("demo", "1.0")]
    assert advisory.modified == "2024-03-01T00:00:00Z"
    assert cache.get("OSV-1", "2024-03-01T00:00:00Z") == new


def test_corrupt_cache_entry_is_fetched_again(
    mock: responses.RequestsMock, client: OSVClient, tmp_path: Path
) -> None:
    rec = record("OSV-1")
    (tmp_path / "OSV-1.json").write_text("{truncated", encoding="utf-8")
    mock.post(BATCH, json={"results": [{"vulns": [stub(rec)]}]})
    serve_vulns(mock, rec)
    result = versioned(client, RecordCache(tmp_path)).lookup([q("demo", "1.0")])
    assert [a.id for a in result.affected[q("demo", "1.0")]] == ["OSV-1"]
    assert json.loads((tmp_path / "OSV-1.json").read_text(encoding="utf-8")) == rec


def test_unwritable_cache_dir_does_not_break_the_lookup(
    mock: responses.RequestsMock, client: OSVClient, tmp_path: Path
) -> None:
    rec = record("OSV-1")
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")  # unwritable even for root
    mock.post(BATCH, json={"results": [{"vulns": [stub(rec)]}]})
    serve_vulns(mock, rec)
    backend = versioned(client, RecordCache(blocker / "records"))
    for _ in range(2):
        result = backend.lookup([q("demo", "1.0")])
        assert not result.failed
        assert [a.id for a in result.affected[q("demo", "1.0")]] == ["OSV-1"]
    assert [u for u in urls(mock) if "/v1/vulns/" in u] == [f"{BASE}/v1/vulns/OSV-1"] * 2  # nothing cached
    assert blocker.read_text() == "a file where the cache directory should be"


# -- mirrors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "root"),
    [
        ("https://osv-mirror.internal.example/", "https://osv-mirror.internal.example"),
        ("https://osv-mirror.internal.example", "https://osv-mirror.internal.example"),
        ("https://mirror.internal.example/osv//", "https://mirror.internal.example/osv"),
    ],
)
def test_custom_base_url_is_used_for_every_call(mock: responses.RequestsMock, base_url: str, root: str) -> None:
    rec = record("OSV-1")
    mock.post(f"{root}/v1/querybatch", json={"results": [{"vulns": [stub(rec)]}]})
    serve_vulns(mock, rec, base=root)
    client = OSVClient(requests.Session(), base_url=base_url, sleep=lambda _s: None)
    result = versioned(client).lookup([q("demo", "1.0")])
    assert not result.failed
    assert urls(mock) == [f"{root}/v1/querybatch", f"{root}/v1/vulns/OSV-1"]
    assert result.data is not None and result.data.source == f"online:{root}"


# -- end to end: components -> match -> findings -------------------------------------------------


def fake_osv(records: list[dict[str, Any]], broken: frozenset[str] = frozenset()) -> tuple[Callback, Callback]:
    """querybatch and vulns callbacks over ``records``: exact-version matching on ``versions``.

    Ids in ``broken`` answer 500 on ``/v1/vulns/{id}``.
    """
    by_id = {r["id"]: r for r in records}

    def batch(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        assert request.body is not None
        results = []
        for item in json.loads(request.body)["queries"]:
            name, version = item["package"]["name"], item["version"]
            hits = [
                stub(r)
                for r in records
                if any(a["package"]["name"] == name and version in a["versions"] for a in r["affected"])
            ]
            results.append({"vulns": hits} if hits else {})
        return 200, {}, json.dumps({"results": results})

    def vuln(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        ident = str(request.url).rsplit("/", 1)[1]
        if ident in broken or ident not in by_id:
            return (500 if ident in broken else 404), {}, "{}"
        return 200, {}, json.dumps(by_id[ident])

    return batch, vuln


def install(mock: responses.RequestsMock, batch: Callback, vuln: Callback) -> None:
    mock.add_callback(responses.POST, BATCH, callback=batch)
    mock.add_callback(responses.GET, re.compile(re.escape(f"{BASE}/v1/vulns/") + ".+"), callback=vuln)


def components(tmp_path: Path) -> list[PythonDist]:
    files = dist("Requests", "2.19.1") | dist("Zope.Interface", "5.4.0") | dist("six", "1.16.0")
    found = scan(write_zip(tmp_path / "app.zip", files)).components
    assert all(isinstance(c, PythonDist) for c in found)
    return sorted(found, key=lambda c: c.normalized_name)


RECORDS = [
    record(
        "PYSEC-2018-28",
        "requests",
        versions=("2.19.0", "2.19.1"),
        fixed="2.20.0",
        aliases=("CVE-2018-18074", "GHSA-x84v-xcm2-53pg"),
    ),
    # the GHSA twin only aliases the CVE: grouping must be transitive through it
    record("GHSA-x84v-xcm2-53pg", "requests", versions=("2.19.1",), fixed="2.20.0", aliases=("CVE-2018-18074",)),
    record("PYSEC-2023-74", "requests", versions=("2.19.1",), fixed="2.31.0", aliases=("CVE-2023-32681",)),
    record("OSV-ZOPE-1", "zope-interface", versions=("5.4.0",), fixed="5.5.0"),
]


def test_match_groups_findings_by_alias(mock: responses.RequestsMock, client: OSVClient, tmp_path: Path) -> None:
    install(mock, *fake_osv(RECORDS))
    comps = components(tmp_path)
    result = match(comps, versioned(client))
    assert body(0, mock)["queries"] == [  # sorted, PEP 503 names ("Zope.Interface" -> "zope-interface")
        query_body("requests", "2.19.1"),
        query_body("six", "1.16.0"),
        query_body("zope-interface", "5.4.0"),
    ]
    assert not result.unchecked
    groups = {(f.component.normalized_name, frozenset(f.ids), f.fixed_versions) for f in result.findings}
    assert groups == {
        ("requests", frozenset({"PYSEC-2018-28", "GHSA-x84v-xcm2-53pg", "CVE-2018-18074"}), ("2.20.0",)),
        ("requests", frozenset({"PYSEC-2023-74", "CVE-2023-32681"}), ("2.31.0",)),
        ("zope-interface", frozenset({"OSV-ZOPE-1"}), ("5.5.0",)),
    }
    assert len(result.findings) == 3  # one finding per group, not per record
    assert result.data is not None and result.data.records == 4


def test_failed_lookup_leaves_the_component_unchecked(
    mock: responses.RequestsMock, client: OSVClient, tmp_path: Path
) -> None:
    install(mock, *fake_osv(RECORDS, broken=frozenset({"OSV-ZOPE-1"})))
    comps = components(tmp_path)
    result = match(comps, versioned(client))
    zope = next(c for c in comps if c.normalized_name == "zope-interface")
    assert result.unchecked == {zope.purl: f"GET {BASE}/v1/vulns/OSV-ZOPE-1: HTTP 500 after 5 attempts"}
    assert {f.component.normalized_name for f in result.findings} == {"requests"}


def test_unreachable_api_leaves_every_component_unchecked(
    mock: responses.RequestsMock, client: OSVClient, tmp_path: Path
) -> None:
    mock.post(BATCH, body=requests.ConnectionError("no route to host"))
    comps = components(tmp_path)
    result = match(comps, versioned(client))
    assert sorted(result.unchecked) == sorted(c.purl for c in comps)  # six included: never "clean"
    assert not result.findings
