"""``--dependency-track``: SBOM uploads to Dependency-Track (``PUT /api/v1/bom``, then the token polled),
against ``responses`` in the request and response shapes Dependency-Track documents."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import responses
from typer.testing import CliRunner

from depscan.cli import app
from depscan.dtrack import API_KEY_ENV, DependencyTrack
from depscan.errors import ExitCode, UsageError
from fixtures.builders import dist, write_zip

SERVER = "https://dtrack.example.test"
TOKEN = "3a1d6e62-9f31-4d44-b3b0-1e1d8f0a3c51"


def _bom_body(call: responses.Call) -> dict[str, object]:
    body = call.request.body
    assert body is not None
    document: dict[str, object] = json.loads(body)
    return document


@responses.activate
def test_upload_polls_until_processed() -> None:
    responses.put(f"{SERVER}/api/v1/bom", json={"token": TOKEN})
    responses.get(f"{SERVER}/api/v1/event/token/{TOKEN}", json={"processing": True})
    responses.get(f"{SERVER}/api/v1/event/token/{TOKEN}", json={"processing": False})
    slept: list[float] = []
    client = DependencyTrack(SERVER + "/", "key-1", sleep=slept.append, poll_seconds=0.5)
    sent = client.upload("shop-api", "1.4.2", b'{"bomFormat": "CycloneDX"}')
    assert sent.ok and sent.token == TOKEN and sent.message == "processed"
    assert slept == [0.5]
    put = responses.calls[0]
    assert put.request.headers["X-Api-Key"] == "key-1"
    body = _bom_body(put)
    assert body["projectName"] == "shop-api" and body["projectVersion"] == "1.4.2" and body["autoCreate"] is True
    assert base64.b64decode(str(body["bom"])) == b'{"bomFormat": "CycloneDX"}'


@responses.activate
def test_refused_uploads_say_why() -> None:
    responses.put(f"{SERVER}/api/v1/bom", status=401)
    sent = DependencyTrack(SERVER, "bad", sleep=lambda s: None).upload("p", "v", b"{}")
    assert not sent.ok and "HTTP 401" in sent.message and "API key was refused" in sent.message
    responses.replace(responses.PUT, f"{SERVER}/api/v1/bom", status=403)
    sent = DependencyTrack(SERVER, "weak", sleep=lambda s: None).upload("p", "v", b"{}")
    assert not sent.ok and "BOM_UPLOAD" in sent.message
    responses.replace(responses.PUT, f"{SERVER}/api/v1/bom", json={"no": "token"})
    sent = DependencyTrack(SERVER, "k", sleep=lambda s: None).upload("p", "v", b"{}")
    assert not sent.ok and "without a token" in sent.message


@responses.activate
def test_processing_deadline() -> None:
    responses.put(f"{SERVER}/api/v1/bom", json={"token": TOKEN})
    responses.get(f"{SERVER}/api/v1/event/token/{TOKEN}", json={"processing": True})
    client = DependencyTrack(SERVER, "k", sleep=lambda s: None, poll_seconds=1.0, deadline=3.0)
    sent = client.upload("p", "v", b"{}")
    assert not sent.ok and "still processing after 3 s" in sent.message
    assert len([c for c in responses.calls if "/event/token/" in c.request.url]) == 4


def test_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    with pytest.raises(UsageError, match=API_KEY_ENV):
        DependencyTrack.from_env(SERVER)
    monkeypatch.setenv(API_KEY_ENV, "k")
    with pytest.raises(UsageError, match="base URL"):
        DependencyTrack.from_env("dtrack.example.test")


@pytest.fixture
def artifact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(API_KEY_ENV, "key-2")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return write_zip(tmp_path / "function.zip", dist("six", "1.16.0"))


@responses.activate
def test_scan_uploads_its_sbom(artifact: Path) -> None:
    responses.put(f"{SERVER}/api/v1/bom", json={"token": TOKEN})
    responses.get(f"{SERVER}/api/v1/event/token/{TOKEN}", json={"processing": False})
    result = CliRunner().invoke(app, ["scan", str(artifact), "--source", "skip", "--dependency-track", SERVER,
                                      "--dtrack-version", "abc123"])
    assert result.exit_code == 0, result.output
    body = _bom_body(responses.calls[0])
    assert body["projectName"] == "function.zip" and body["projectVersion"] == "abc123"
    bom = json.loads(base64.b64decode(str(body["bom"])))
    assert bom["bomFormat"] == "CycloneDX" and [c["name"] for c in bom["components"]] == ["six"]
    assert "dependency-track: function.zip abc123: processed" in result.output


@responses.activate
def test_scan_exits_4_when_the_upload_fails(artifact: Path) -> None:
    responses.put(f"{SERVER}/api/v1/bom", status=503)
    result = CliRunner().invoke(app, ["scan", str(artifact), "--source", "skip", "--dependency-track", SERVER])
    assert result.exit_code == ExitCode.LOOKUP_FAILED
    assert "HTTP 503" in result.output and "upload to Dependency-Track failed" in result.output


def test_scan_refuses_dependency_track_without_a_key(artifact: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_KEY_ENV)
    result = CliRunner().invoke(app, ["scan", str(artifact), "--source", "skip", "--dependency-track", SERVER])
    assert result.exit_code == ExitCode.USAGE and API_KEY_ENV in result.output


@responses.activate
def test_rescan_uploads_the_rescanned_sbom(artifact: Path, tmp_path: Path) -> None:
    sbom = tmp_path / "function.cdx.json"
    scanned = CliRunner().invoke(app, ["scan", str(artifact), "--source", "skip", "-o", f"cyclonedx-json={sbom}"])
    assert scanned.exit_code == 0, scanned.output
    responses.put(f"{SERVER}/api/v1/bom", json={"token": TOKEN})
    responses.get(f"{SERVER}/api/v1/event/token/{TOKEN}", json={"processing": False})
    subset = Path(__file__).resolve().parent.parent / "fixtures" / "advisories" / "pypi-subset.zip"
    result = CliRunner().invoke(app, ["rescan", str(sbom), "--advisories", str(subset), "--db",
                                      str(tmp_path / "db.sqlite"), "--dependency-track", SERVER,
                                      "--dtrack-project", "shop", "--dtrack-version", "2026-12"])
    assert result.exit_code == 0, result.output
    body = _bom_body(responses.calls[0])
    assert body["projectName"] == "shop" and body["projectVersion"] == "2026-12"
    assert [c["name"] for c in json.loads(base64.b64decode(str(body["bom"])))["components"]] == ["six"]


@responses.activate
def test_a_redirect_is_not_followed_and_the_key_goes_nowhere_else() -> None:
    responses.put(f"{SERVER}/api/v1/bom", status=302, headers={"Location": "https://login.example.test/sso?x=1"})
    responses.put("https://login.example.test/sso", json={"token": TOKEN})
    responses.get("https://login.example.test/sso", json={"token": TOKEN})
    sent = DependencyTrack(SERVER, "secret-key-1", sleep=lambda s: None).upload("p", "v", b"{}")
    assert not sent.ok and "HTTP 302, a redirect to https://login.example.test/sso: not followed" in sent.message
    assert "x=1" not in sent.message and "secret-key-1" not in sent.message
    assert [c.request.url for c in responses.calls] == [f"{SERVER}/api/v1/bom"]  # nothing sent to the other host


@responses.activate
def test_gateway_errors_are_retried_then_reported() -> None:
    responses.put(f"{SERVER}/dtrack/api/v1/bom", status=503)
    responses.put(f"{SERVER}/dtrack/api/v1/bom", json={"token": TOKEN})
    responses.get(f"{SERVER}/dtrack/api/v1/event/token/{TOKEN}", status=502)
    responses.get(f"{SERVER}/dtrack/api/v1/event/token/{TOKEN}", json={"processing": False})
    slept: list[float] = []
    # a path prefix, with the /api suffix people copy from the API docs
    sent = DependencyTrack(f"{SERVER}/dtrack/api/", "k", sleep=slept.append).upload("p", "v", b"{}")
    assert sent.ok, sent.message
    assert slept == [1.0, 1.0]
    responses.replace(responses.PUT, f"{SERVER}/dtrack/api/v1/bom", status=504)
    slept.clear()
    sent = DependencyTrack(f"{SERVER}/dtrack", "k", sleep=slept.append).upload("p", "v", b"{}")
    assert not sent.ok and "HTTP 504: the server failed" in sent.message and slept == [1.0, 2.0]


@responses.activate
def test_an_html_answer_says_the_url_is_not_the_api() -> None:
    # the frontend answers its index.html for any path, with 200
    responses.put(f"{SERVER}/api/v1/bom", body="<!doctype html><html></html>", content_type="text/html")
    sent = DependencyTrack(SERVER, "key-2", sleep=lambda s: None).upload("p", "v", b"{}")
    assert not sent.ok and "without a token" in sent.message and "HTML page" in sent.message
    responses.replace(responses.PUT, f"{SERVER}/api/v1/bom", status=404, body="<html>", content_type="text/html")
    sent = DependencyTrack(SERVER, "key-2", sleep=lambda s: None).upload("p", "v", b"{}")
    assert "HTTP 404" in sent.message and "not the Dependency-Track API" in sent.message
    assert "key-2" not in sent.message
