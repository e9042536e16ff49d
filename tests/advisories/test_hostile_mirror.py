"""The online backend and ``db update`` against a misbehaving OSV mirror on loopback.

A real server (``osv_server.FakeOSV``, http.server on 127.0.0.1, bounded in requests and time)
trickles, never answers, sends gzip bombs, 400 MB answers, foreign records and deeply nested
JSON. Every case must end in a failed lookup (exit 4 from the CLI) naming what was not checked,
within the deadline plus a small margin, in bounded memory; never a crash, a hang or "clean".
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import responses
from builders import dist, write_zip
from typer.testing import CliRunner, Result

from depscan.advisories.backend import AdvisoryError, LookupResult, PackageQuery
from depscan.advisories.download import download_export
from depscan.advisories.http import BoundExceeded, Deadline, json_depth, loads_bounded, tracked_session
from depscan.advisories.osv_api import OnlineOSV, OSVClient, RecordCache
from depscan.cli import app
from depscan.match import match
from depscan.models import PythonDist
from tests.advisories.osv_records import record
from tests.advisories.osv_server import FakeOSV
from tests.helpers import scan

pytestmark = pytest.mark.usefixtures("loopback")

DEMO = record("OSV-1", "demo", versions=["1.0"], events=[{"introduced": "0"}, {"fixed": "2.0"}])
Q_DEMO = PackageQuery("PyPI", "demo", "1.0")
Q_SIX = PackageQuery("PyPI", "six", "1.16.0")  # no advisory: answered clean by an honest server
DEADLINE = 1.0
MARGIN = 2.0  # seconds past the deadline a lookup may take to return (thread wake-up, a loaded machine)
MiB = 1024 * 1024


def lookup(server: FakeOSV, *queries: PackageQuery, timeout: float = DEADLINE) -> tuple[LookupResult, float]:
    client = OSVClient(base_url=server.url, timeout=timeout, retries=2, backoff=0.05)
    started = time.monotonic()
    result = OnlineOSV(client, malicious_any_version=False).lookup(list(queries or (Q_DEMO, Q_SIX)))
    return result, time.monotonic() - started


def test_the_honest_server_is_answered_in_full() -> None:
    """The baseline every hostile case differs from by one behaviour."""
    with FakeOSV([DEMO]) as server:
        result, _ = lookup(server)
    assert not result.failed
    assert [a.id for a in result.affected[Q_DEMO]] == ["OSV-1"] and result.affected[Q_SIX] == []


@pytest.mark.parametrize(
    ("batch", "vuln"),
    [
        ("ok", "trickle"),  # one byte every half second: no read ever times out
        ("ok", "slow-headers"),  # the same inside the headers
        ("ok", "silent"),  # GET /v1/vulns/{id} is never answered
        ("silent", "ok"),
        ("trickle", "ok"),
    ],
)
def test_a_slow_mirror_ends_at_the_deadline_naming_what_was_not_checked(batch: str, vuln: str) -> None:
    with FakeOSV([DEMO], batch=batch, vuln=vuln, interval=0.25, lifetime=30) as server:
        result, seconds = lookup(server)
    assert seconds < DEADLINE + MARGIN, f"took {seconds:.1f} s with a {DEADLINE} s deadline"
    assert Q_DEMO in result.failed and Q_DEMO not in result.affected
    assert "deadline (--osv-timeout)" in result.failed[Q_DEMO]
    if batch == "ok":  # only what waited on the slow record is unchecked; six was answered
        assert list(result.failed) == [Q_DEMO] and result.affected[Q_SIX] == []
    else:
        assert set(result.failed) == {Q_DEMO, Q_SIX}


def test_the_deadline_covers_the_whole_phase_not_each_request() -> None:
    """Twelve records each trickling for longer than the deadline: all end by one deadline,
    not twelve (eight fetched at a time)."""
    records = [record(f"OSV-{n}", "demo", versions=["1.0"]) for n in range(12)]
    with FakeOSV(records, vuln="trickle", interval=0.2, lifetime=30) as server:
        result, seconds = lookup(server, Q_DEMO)
    assert seconds < DEADLINE + MARGIN
    assert list(result.failed) == [Q_DEMO]


@pytest.mark.parametrize(("where", "batch", "vuln"), [
    ("record", "ok", "gzip-bomb"), ("record", "ok", "huge"), ("batch", "gzip-bomb", "ok"), ("batch", "huge", "ok"),
])
def test_an_answer_over_its_cap_after_decoding_is_a_failed_lookup(where: str, batch: str, vuln: str) -> None:
    with FakeOSV([DEMO], batch=batch, vuln=vuln, size=400 * MiB, lifetime=30) as server:
        result, seconds = lookup(server, timeout=60)
    limit = "8,388,608"  # a record and a querybatch answer alike
    assert f"over the {limit}-byte limit" in result.failed[Q_DEMO]
    assert seconds < 20  # stopped at the cap, not after 400 MB


def test_a_declared_length_over_the_cap_is_refused_before_reading() -> None:
    with responses.RequestsMock() as mock:
        mock.post("https://osv.test/v1/querybatch", json={"results": [{"vulns": [{"id": "OSV-1"}]}]})
        mock.get("https://osv.test/v1/vulns/OSV-1", body=b"x" * 2048, headers={"Content-Length": "2048"})
        client = OSVClient(requests.Session(), "https://osv.test", max_record_bytes=1024)
        result = OnlineOSV(client, malicious_any_version=False).lookup([Q_DEMO])
    assert "answer of 2,048 bytes is over the 1,024-byte limit" in result.failed[Q_DEMO]


def test_a_foreign_record_is_a_failed_lookup_not_a_withdrawal(tmp_path: Path) -> None:
    """A mirror answering vulns/OSV-1 with another, withdrawn record used to make the finding
    disappear (exit 0, "0 vulnerabilities")."""
    with FakeOSV([DEMO], vuln="foreign") as server:
        result, _ = lookup(server)
        found = scan(write_zip(tmp_path / "app.zip", dist("demo", "1.0"))).components
        matched = match([c for c in found if isinstance(c, PythonDist)], OnlineOSV(OSVClient(base_url=server.url)))
    assert "answered with the record of 'FOREIGN-OSV-1', not OSV-1" in result.failed[Q_DEMO]
    assert Q_DEMO not in result.affected
    assert list(matched.unchecked) == ["pkg:pypi/demo@1.0"] and not matched.findings


def test_deeply_nested_json_is_a_failed_lookup_not_a_recursion_error() -> None:
    with FakeOSV([DEMO], vuln="nested", depth=100_000) as server:
        result, _ = lookup(server)
    assert "JSON nested 100000 deep, more than the 64 allowed" in result.failed[Q_DEMO]


def test_retry_after_beyond_the_deadline_fails_at_once() -> None:
    sleeps: list[float] = []
    with responses.RequestsMock() as mock:
        mock.post("https://osv.test/v1/querybatch", status=429, headers={"Retry-After": "60"})
        client = OSVClient(requests.Session(), "https://osv.test", timeout=5, sleep=sleeps.append)
        result = OnlineOSV(client, malicious_any_version=False).lookup([Q_DEMO])
    assert sleeps == []  # waiting 60 s would pass the 5 s deadline: give up now
    assert result.failed[Q_DEMO].endswith("HTTP 429; no complete answer within the 5 s deadline (--osv-timeout)")


def test_an_answer_listing_too_many_advisories_fails_before_fetching_any() -> None:
    """One answer of 8 MiB can list ~300,000 ids: fetching (or queueing) them all is no lookup."""
    from depscan.advisories.osv_api import MAX_ADVISORIES

    stubs = [{"id": f"OSV-{n}"} for n in range(MAX_ADVISORIES + 1)]
    with responses.RequestsMock() as mock:
        mock.post("https://osv.test/v1/querybatch", json={"results": [{"vulns": stubs}]})
        backend = OnlineOSV(OSVClient(requests.Session(), "https://osv.test"), malicious_any_version=False)
        result = backend.lookup([Q_DEMO])
        assert len(mock.calls) == 1  # no record was fetched
    assert result.failed[Q_DEMO].endswith(f"list more than {MAX_ADVISORIES:,} distinct advisories, "
                                          "more than one lookup fetches")


# -- JSON nesting and the record cache -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        (b"1", 0),
        (b"[]", 1),
        (b'{"a": [1, {"b": 2}]}', 3),
        (b'["[[[[", "]]"]', 1),  # brackets inside strings do not count
        (rb'["\"[[", "\\", ["x"]]', 2),  # nor after escaped quotes; an escaped backslash ends its escape
        (b"[" * 1000 + b"]" * 1000, 1000),
    ],
)
def test_json_depth(text: bytes, depth: int) -> None:
    assert json_depth(text) == depth


def test_loads_bounded_refuses_depth_over_the_limit_and_parses_the_rest() -> None:
    assert loads_bounded(b'{"a": [[1]]}', "x", max_depth=3) == {"a": [[1]]}
    with pytest.raises(BoundExceeded, match="x: JSON nested 4 deep, more than the 3 allowed"):
        loads_bounded(b'{"a": [[[1]]]}', "x", max_depth=3)


def test_a_cache_entry_of_another_id_or_nested_too_deep_is_not_used(tmp_path: Path) -> None:
    cache = RecordCache(tmp_path)
    cache.put("OSV-1", dict(DEMO, id="OSV-2"))
    assert cache.get("OSV-1", None) is None
    (tmp_path / "OSV-3.json").write_bytes(b"[" * 100_000 + b"]" * 100_000)
    assert cache.get("OSV-3", None) is None
    cache.put("OSV-1", DEMO)
    assert cache.get("OSV-1", None) == DEMO


# -- db update downloads --------------------------------------------------------------------------


def export_zip() -> bytes:
    """An OSV export zip of one record (a few hundred bytes: trickled, it outlasts any deadline here)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("OSV-1.json", json.dumps(DEMO))
    return buffer.getvalue()


@pytest.mark.parametrize("behaviour", ["trickle", "silent", "slow-headers"])
def test_a_slow_download_ends_at_its_deadline_and_leaves_nothing(behaviour: str, tmp_path: Path) -> None:
    session, sockets = tracked_session()
    with FakeOSV(download=behaviour, export=export_zip(), interval=0.25, lifetime=30) as server:
        started = time.monotonic()
        with (
            Deadline(DEADLINE, sockets, label="--timeout") as deadline,
            pytest.raises(AdvisoryError, match=r"no complete answer within the 1 s deadline \(--timeout\)"),
        ):
            download_export(session, server.url, "PyPI", tmp_path, deadline=deadline)
        seconds = time.monotonic() - started
    assert seconds < DEADLINE + MARGIN
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("behaviour", ["gzip-bomb", "huge"])
def test_a_download_over_its_cap_fails_and_leaves_nothing(behaviour: str, tmp_path: Path) -> None:
    session, sockets = tracked_session()
    with (
        FakeOSV(download=behaviour, size=400 * MiB, lifetime=30) as server,
        Deadline(60, sockets) as deadline,
        pytest.raises(AdvisoryError, match="over the 1,048,576-byte limit"),
    ):
        download_export(session, server.url, "PyPI", tmp_path, deadline=deadline, max_bytes=MiB)
    assert list(tmp_path.iterdir()) == []


# -- through the command line ---------------------------------------------------------------------


@pytest.fixture
def app_zip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("DEPSCAN_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app dir").mkdir()
    yield write_zip(tmp_path / "app dir" / "app.zip", dist("demo", "1.0") | dist("six", "1.16.0"))


def invoke(*args: str | Path) -> tuple[Result, float]:
    started = time.monotonic()
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result, time.monotonic() - started


def online(app_zip: Path, server: FakeOSV, *more: str) -> tuple[Result, float]:
    return invoke("scan", app_zip, "--source", "online", "--osv-url", server.url, *more)


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        ("silent", "no complete answer within the 1 s deadline (--osv-timeout)"),
        ("foreign", "answered with the record of 'FOREIGN-OSV-1', not OSV-1"),  # was exit 0, clean
        ("nested", "JSON nested 100000 deep"),  # was exit 70, RecursionError
    ],
)
def test_scan_against_a_hostile_mirror_exits_4_naming_the_unchecked(
    app_zip: Path, behaviour: str, reason: str
) -> None:
    with FakeOSV([DEMO], vuln=behaviour, lifetime=30) as server:
        result, seconds = online(app_zip, server, "--osv-timeout", "1")
    assert result.exit_code == 4, result.output
    assert seconds < 1 + 4  # the deadline, plus the scan itself on a loaded machine
    assert "advisories could not be checked for 1 component(s): pkg:pypi/demo@1.0" in result.stderr
    assert reason in result.stderr


@pytest.mark.parametrize("value", ["0", "-1", "nan", "1e9"])
def test_osv_timeout_must_be_a_sensible_number_of_seconds(app_zip: Path, value: str) -> None:
    result, _ = invoke("scan", app_zip, "--source", "online", "--osv-timeout", value)
    assert result.exit_code == 2 and "--osv-timeout must be a number of seconds above 0" in result.stderr


def test_db_update_against_a_silent_mirror_exits_4_within_its_deadline(app_zip: Path, tmp_path: Path) -> None:
    db = tmp_path / "db dir" / "osv.sqlite"
    with FakeOSV(download="silent", lifetime=30) as server:
        result, seconds = invoke("db", "update", "--db", db, "--url", server.url, "--timeout", "1")
    assert result.exit_code == 4, result.output
    assert seconds < 1 + 4  # the deadline, plus the scan itself on a loaded machine
    assert "download failed (no complete answer within the 1 s deadline (--timeout)); not imported" in result.stderr
    assert list(db.parent.iterdir()) == []  # no partial download, no database


def test_db_update_from_an_honest_mirror_imports(app_zip: Path, tmp_path: Path) -> None:
    db = tmp_path / "osv.sqlite"
    with FakeOSV(export=export_zip(), lifetime=30) as server:
        result, _ = invoke("db", "update", "--db", db, "--url", server.url, "--timeout", "10")
    assert result.exit_code == 0, result.output
    assert "PyPI: 1 records, 0 skipped" in result.stderr


# -- peak memory, in a subprocess -------------------------------------------------------------------

PEAK_LIMIT_MIB = 200  # depscan itself is ~50 MiB; before the caps these cases peaked at 1.3-1.5 GiB


# Runs its arguments and writes their peak RSS (KiB) to the file named first. A child of pytest
# itself would not do: Linux carries the parent's peak RSS into a child across fork + exec, so
# depscan runs as the child of this small process, whose own peak is all it can inherit.
MEASURE = (
    "import resource, subprocess, sys; code = subprocess.run(sys.argv[2:]).returncode; "
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); sys.exit(code)"
)


def run_measured(args: list[str], cwd: Path) -> tuple[int, float, str]:
    """Exit code, peak RSS in MiB (``resource.getrusage`` of a subprocess), stderr."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy") and k != "DEPSCAN_DB"}
    env.update(NO_PROXY="127.0.0.1", XDG_CACHE_HOME=str(cwd / "cache"))
    peak = cwd / "peak.txt"
    done = subprocess.run([sys.executable, "-c", MEASURE, str(peak), sys.executable, "-m", "depscan", *args],
                          cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120)
    return done.returncode, int(peak.read_text()) / 1024, done.stderr


@pytest.mark.parametrize(("batch", "vuln"), [("ok", "gzip-bomb"), ("gzip-bomb", "ok"), ("ok", "huge")])
def test_a_400_mb_answer_stays_in_bounded_memory(app_zip: Path, tmp_path: Path, batch: str, vuln: str) -> None:
    with FakeOSV([DEMO], batch=batch, vuln=vuln, size=400 * MiB, lifetime=60) as server:
        code, peak, stderr = run_measured(
            ["scan", str(app_zip), "--source", "online", "--osv-url", server.url, "--osv-timeout", "60"], tmp_path
        )
    assert code == 4, stderr
    assert "-byte limit" in stderr
    assert peak < PEAK_LIMIT_MIB, f"peak {peak:.0f} MiB"


def test_the_bounds_are_the_documented_ones() -> None:
    from depscan.advisories.download import MAX_EXPORT_BYTES
    from depscan.advisories.http import MAX_JSON_DEPTH
    from depscan.advisories.osv_api import MAX_ADVISORIES, MAX_BATCH_BYTES, MAX_RECORD_BYTES
    from depscan.config import DOWNLOAD_TIMEOUT, OSV_TIMEOUT

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    (row,) = [line for line in readme.splitlines() if line.startswith("| `--osv-timeout SECONDS` |")]
    assert row.endswith(f"| {OSV_TIMEOUT:g} |")
    text = " ".join(readme.split())  # wrapped lines read as one
    assert f"(`--osv-timeout`, {OSV_TIMEOUT:g} s;" in text
    assert f"(`--timeout`, default {DOWNLOAD_TIMEOUT:g} seconds)" in text
    batch, record_ = MAX_BATCH_BYTES // MiB, MAX_RECORD_BYTES // MiB
    assert f"at {batch} MiB for a `querybatch` answer and {record_} MiB for a record" in text
    assert f"JSON nested more than {MAX_JSON_DEPTH} deep is refused" in text
    assert f"list more than {MAX_ADVISORIES:,} distinct advisories" in text
    assert f"capped at {MAX_EXPORT_BYTES // 1024 // MiB} GiB after decoding" in text
