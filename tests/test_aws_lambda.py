"""``depscan aws lambda`` against a real Lambda API: moto in server mode on a loopback port.

moto emulates the Lambda API but does not serve code: ``GetFunction`` answers a presigned-looking
URL on a fictitious S3 host and ``GetLayerVersion`` answers ``s3://`` (``GetLayerVersionByArn`` is not
implemented: HTTP 500). So the function URLs are served with ``responses`` (exactly the locations
moto returns), and the layers' ``s3://`` location is mapped to a served URL by a fetcher that then
runs the real download code. Listing, pagination, layer resolution, downloads, checksums, errors and
scanning all run their real code paths.
"""

from __future__ import annotations

import io
import json
import re
import socket
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import responses

pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

from typer.testing import CliRunner  # noqa: E402

from depscan.aws.fetch import CodeFetcher, FetchError  # noqa: E402
from depscan.aws.fleet_report import render_json, render_table  # noqa: E402
from depscan.aws.lambda_fleet import (  # noqa: E402
    FleetOptions,
    fleet_exit,
    parse_layer_arn,
    runtime_state,
    scan_fleet,
)
from depscan.cli import app  # noqa: E402
from depscan.config import AdvisorySettings  # noqa: E402
from depscan.errors import ExitCode  # noqa: E402
from fixtures.builders import dist, zip_bytes  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SUBSET = REPO / "fixtures" / "advisories" / "pypi-subset.zip"
REGION = "us-east-1"
TODAY = date(2026, 12, 1)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Loopback only (the moto server); anything else fails the test, as everywhere in the suite."""
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise AssertionError(f"tests must not open network connections ({address!r})")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    yield


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("DEPSCAN_DB", raising=False)
    srv = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    srv.start()
    host, port = srv.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # moto keeps its emulated accounts in the process: every test starts from an empty one
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=30).close()
    try:
        yield endpoint
    finally:
        srv.stop()


class Account:
    """Functions and layers created in the emulated account, and the code each location serves."""

    def __init__(self, endpoint: str) -> None:
        import boto3

        self.endpoint = endpoint
        self.client = boto3.client("lambda", region_name=REGION, endpoint_url=endpoint)
        iam = boto3.client("iam", region_name=REGION, endpoint_url=endpoint)
        self.role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        self.function_code: dict[str, bytes | int] = {}  # name -> zip bytes, or an HTTP status to answer
        self.layer_code: dict[str, bytes | int] = {}  # layer version ARN -> zip bytes or status

    def layer(self, name: str, code: bytes, *, serve: bytes | int | None = None) -> str:
        arn = self.client.publish_layer_version(LayerName=name, Content={"ZipFile": code},
                                                CompatibleRuntimes=["python3.12"])["LayerVersionArn"]
        self.layer_code[arn] = code if serve is None else serve
        return str(arn)

    def function(self, name: str, code: bytes, *, runtime: str = "python3.12", layers: tuple[str, ...] = (),
                 arch: str = "x86_64", serve: bytes | int | None = None) -> None:
        self.client.create_function(FunctionName=name, Runtime=runtime, Role=self.role, Handler="app.handler",
                                    Code={"ZipFile": code}, Layers=list(layers), Architectures=[arch])
        self.function_code[name] = code if serve is None else serve

    def image_function(self, name: str) -> None:
        self.client.create_function(FunctionName=name, Role=self.role, PackageType="Image",
                                    Code={"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1"})

    def serve(self, mock: responses.RequestsMock) -> None:
        """The function code at the URLs moto answers, and each layer at a URL of its own."""
        for name, body in self.function_code.items():
            pattern = re.compile(rf"^https://awslambda-{REGION}-tasks\.s3\.{REGION}\.amazonaws\.com/{name}-[0-9a-f-]+$")
            if isinstance(body, int):
                mock.add(responses.GET, pattern, status=body, body=b"<Error><Code>AccessDenied</Code></Error>")
            else:
                mock.add(responses.GET, pattern, body=body)
        for arn, body in self.layer_code.items():
            url = layer_url(arn)
            if isinstance(body, int):
                mock.add(responses.GET, url, status=body, body=b"<Error><Code>AccessDenied</Code></Error>")
            else:
                mock.add(responses.GET, url, body=body)


def layer_url(arn: str) -> str:
    return "https://layers.example.test/" + arn.replace(":", "_")


class LayerLocationFetcher(CodeFetcher):
    """The real fetcher; moto's empty ``s3://`` layer location is mapped to the layer's served URL."""

    def fetch(self, location: str, dest: Path, *, what: str, sha256_b64: str | None = None) -> Path:
        if location == "s3://" and what.startswith("layer "):
            location = layer_url(what.removeprefix("layer "))
        return super().fetch(location, dest, what=what, sha256_b64=sha256_b64)


def small_function() -> bytes:
    return zip_bytes({"app.py": b"def handler(e, c):\n    return 1\n", **dist("six", "1.16.0")})


def options(endpoint: str, **kwargs: Any) -> FleetOptions:
    base: dict[str, Any] = {"regions": (REGION,), "all_functions": True, "endpoint_url": endpoint, "today": TODAY}
    return FleetOptions(**(base | kwargs))


def test_fleet_scans_functions_with_their_layers(server: str, demo: tuple[Path, Path], tmp_path: Path) -> None:
    function, layer = demo
    account = Account(server)
    shared = account.layer("deps", layer.read_bytes())
    account.function("demo", function.read_bytes(), layers=(shared,), arch="arm64")
    account.function("old", small_function(), runtime="python3.8", layers=(shared,))
    account.image_function("container")
    seen: list[str] = []
    with responses.RequestsMock() as mock:
        account.serve(mock)
        fleet = scan_fleet(
            options(server, out_dir=tmp_path / "out", advisories=AdvisorySettings(mode="offline", export=SUBSET,
                                                                                  db_path=tmp_path / "db.sqlite")),
            fetcher=LayerLocationFetcher(),
            on_function=lambda done: seen.append(done.info.name),
        )
    by_name = {f.info.name: f for f in fleet.functions}
    assert sorted(by_name) == ["container", "demo", "old"] and sorted(seen) == sorted(by_name)
    demo_report = by_name["demo"]
    assert demo_report.outcome == "scanned", demo_report.reason
    # the same findings as `depscan scan function.zip --layer layer.zip` (test_cli_advisories: 16)
    assert sum(demo_report.findings.values()) == 16
    assert demo_report.packages == 8 and demo_report.exit_code == ExitCode.FINDINGS
    assert demo_report.runtime.status == "supported" and demo_report.info.architectures == ("arm64",)
    # lib/libpq.so.5 is an x86_64 ELF file in an arm64 function: the runtime could not load it
    assert demo_report.wrong_machine == 1
    sbom = json.loads((tmp_path / "out" / REGION / "demo.cdx.json").read_text())
    assert {c["name"] for c in sbom["components"]} >= {"requests", "urllib3", "Jinja2"}
    report = json.loads((tmp_path / "out" / REGION / "demo.json").read_text())
    assert report["artifact"]["kind"] == "lambda-function+layers"
    old = by_name["old"]
    assert old.outcome == "scanned" and old.runtime.status == "deprecated"
    assert old.runtime.deprecation == date(2024, 10, 14)
    container = by_name["container"]
    assert container.outcome == "not-scanned" and "container image" in (container.reason or "")
    assert "123456789012.dkr.ecr" in (container.reason or "")
    # the layer both functions use was downloaded once
    assert [(layer.users, layer.outcome) for layer in fleet.layers] == [(2, "scanned")]
    # ... and scanned once on its own: its own inventory, findings and SBOM
    shared_layer = fleet.layers[0]
    assert shared_layer.packages == 3 and sum(shared_layer.findings.values()) > 0
    layer_sbom = json.loads((tmp_path / "out" / REGION / "layers" / "deps-1.cdx.json").read_text())
    assert {c["name"] for c in layer_sbom["components"]} >= {"urllib3", "Jinja2", "MarkupSafe"}
    assert fleet_exit(fleet) == ExitCode.FINDINGS
    assert fleet_exit(fleet, strict=False) == ExitCode.FINDINGS
    document = json.loads(render_json(fleet, int(fleet_exit(fleet))))
    assert document["summary"]["scanned"] == 2 and document["summary"]["not_scanned"] == 1
    assert document["summary"]["deprecated_runtime"] == 1 and document["summary"]["shared_layers"] == 1
    table = render_table(fleet, width=200).decode()
    assert "python3.8 (deprecated)" in table and f"{REGION}/demo" in table
    assert "1 native file(s) for another architecture" in table
    assert "Layers (each scanned once, on its own)" in table


def test_one_failing_function_or_layer_does_not_stop_the_others(server: str, tmp_path: Path) -> None:
    account = Account(server)
    denied = account.layer("denied", zip_bytes(dist("six", "1.16.0", root="python")), serve=403)
    account.function("fine", small_function())
    account.function("broken-download", small_function(), serve=500)
    account.function("bad-layer", small_function(), layers=(denied,))
    account.function("tampered", small_function(), serve=small_function() + b"x")
    with responses.RequestsMock() as mock:
        account.serve(mock)
        fleet = scan_fleet(options(server), fetcher=LayerLocationFetcher())
    by_name = {f.info.name: f for f in fleet.functions}
    assert by_name["fine"].outcome == "scanned" and by_name["fine"].packages == 1
    assert by_name["broken-download"].outcome == "failed"
    assert "HTTP 500" in (by_name["broken-download"].reason or "")
    assert by_name["bad-layer"].outcome == "failed" and "HTTP 403" in (by_name["bad-layer"].reason or "")
    assert denied in (by_name["bad-layer"].reason or "")
    assert by_name["tampered"].outcome == "failed" and "CodeSha256" in (by_name["tampered"].reason or "")
    assert fleet_exit(fleet) == ExitCode.LOOKUP_FAILED  # not checked outranks "no findings"


class PagingProxy:
    """A loopback HTTP proxy in front of moto that pages ``ListFunctions`` as Lambda does (``MaxItems``,
    ``Marker`` -> ``NextMarker``): moto 5.2 answers every function in one page. Everything else is
    forwarded unchanged."""

    def __init__(self, upstream: str, deny_layers: tuple[str, ...] = ()) -> None:
        import http.server
        import threading
        import urllib.parse

        self.calls: list[str] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                parts = urllib.parse.urlsplit(self.path)
                if any(name in urllib.parse.unquote(self.path) for name in deny_layers) and "/layers" in parts.path:
                    # what Lambda answers a caller without lambda:GetLayerVersion on that layer
                    denied = json.dumps({"Type": "User", "Message": "User: arn:aws:iam::123456789012:user/ci is "
                                         "not authorized to perform: lambda:GetLayerVersion"}).encode()
                    self.send_response(403)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("x-amzn-ErrorType", "AccessDeniedException")
                    self.send_header("Content-Length", str(len(denied)))
                    self.end_headers()
                    self.wfile.write(denied)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                request = urllib.request.Request(upstream + parts.path + (f"?{parts.query}" if parts.query else ""),
                                                 data=body, headers=headers, method=self.command)
                try:
                    with urllib.request.urlopen(request, timeout=30) as answer:
                        status, data, kind = answer.status, answer.read(), answer.headers.get("Content-Type")
                except urllib.error.HTTPError as e:
                    status, data, kind = e.code, e.read(), e.headers.get("Content-Type")
                if self.command == "GET" and parts.path.rstrip("/") == "/2015-03-31/functions":
                    query = urllib.parse.parse_qs(parts.query)
                    proxy.calls.append(parts.query)
                    start = int(query.get("Marker", ["0"])[0])
                    size = int(query.get("MaxItems", ["50"])[0])
                    document = json.loads(data)
                    every = document["Functions"]
                    document["Functions"] = every[start:start + size]
                    if start + size < len(every):
                        document["NextMarker"] = str(start + size)
                    data = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", kind or "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_pagination_over_several_pages(server: str) -> None:
    account = Account(server)
    names = [f"fn-{i:02d}" for i in range(25)]
    for name in names:
        account.function(name, small_function())
    proxy = PagingProxy(server)
    try:
        with responses.RequestsMock() as mock:
            account.serve(mock)
            handed: list[bytes | None] = []
            fleet = scan_fleet(options(proxy.url, concurrency=8, page_size=10), fetcher=LayerLocationFetcher(),
                               on_function=lambda report: handed.append(report.sbom))
    finally:
        proxy.close()
    assert len(proxy.calls) == 3 and "Marker=10" in proxy.calls[1] and "Marker=20" in proxy.calls[2]
    assert handed == [None] * 25  # no --out-dir, no --dependency-track: no SBOM is rendered
    assert sorted(f.info.name for f in fleet.functions) == names
    assert all(f.outcome == "scanned" for f in fleet.functions)
    assert fleet_exit(fleet) == ExitCode.OK


def test_empty_account_and_cli(server: str, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["aws", "lambda", "--all", "--region", REGION, "--endpoint-url", server,
                                 "--source", "skip", "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["functions"] == [] and document["summary"]["functions"] == 0 and document["errors"] == []


def test_cli_names_functions_and_reports_unknown_ones(server: str, tmp_path: Path) -> None:
    account = Account(server)
    account.function("one", small_function())
    out = tmp_path / "fleet.json"
    with responses.RequestsMock() as mock:
        account.serve(mock)
        result = CliRunner().invoke(app, ["aws", "lambda", "--function", "one", "--function", "missing",
                                          "--region", REGION, "--endpoint-url", server, "--source", "skip",
                                          "-f", "json", "-o", str(out), "--out-dir", str(tmp_path / "sboms")])
    assert result.exit_code == ExitCode.LOOKUP_FAILED, result.output
    document = json.loads(out.read_text())
    assert [f["name"] for f in document["functions"]] == ["one"]
    assert document["functions"][0]["outcome"] == "scanned"
    assert len(document["errors"]) == 1 and "missing" in document["errors"][0]
    assert (tmp_path / "sboms" / REGION / "one.cdx.json").is_file()


def test_cli_needs_a_selection() -> None:
    result = CliRunner().invoke(app, ["aws", "lambda"])
    assert result.exit_code == ExitCode.USAGE and "--all" in result.output


def test_runtime_states_and_layer_arns() -> None:
    assert runtime_state("python3.12", "Zip", TODAY, 180).status == "supported"
    assert runtime_state("python3.10", "Zip", TODAY, 180).status == "deprecated"  # 2026-06-30
    assert runtime_state("python3.11", "Zip", TODAY, 365).status == "deprecated-soon"  # 2027-06-30
    assert runtime_state("python3.7", "Zip", TODAY, 180).deprecation == date(2023, 12, 4)
    assert runtime_state("nodejs20.x", "Zip", TODAY, 180).status == "not-python"
    assert runtime_state(None, "Image", TODAY, 180).status == "none"
    assert parse_layer_arn("arn:aws:lambda:eu-west-1:123456789012:layer:my-deps:7") == (
        "arn:aws:lambda:eu-west-1:123456789012:layer:my-deps", 7)
    assert parse_layer_arn("arn:aws:lambda:eu-west-1:123456789012:layer:my-deps") is None


@responses.activate
def test_fetcher_limits_and_checksums(tmp_path: Path) -> None:
    body = b"PK\x05\x06" + bytes(18)
    responses.add(responses.GET, "https://code.example.test/a", body=body)
    import base64
    import hashlib

    good = base64.b64encode(hashlib.sha256(body).digest()).decode()
    fetched = CodeFetcher().fetch("https://code.example.test/a", tmp_path / "a.zip", what="function a",
                                  sha256_b64=good)
    assert fetched.read_bytes() == body
    with pytest.raises(FetchError, match="over the limit"):
        CodeFetcher(max_bytes=10).fetch("https://code.example.test/a", tmp_path / "b.zip", what="function b")
    with pytest.raises(FetchError, match="not a URL depscan can read"):
        CodeFetcher().fetch("ftp://x/y", tmp_path / "c.zip", what="function c")
    with pytest.raises(FetchError, match="names no S3 object"):
        CodeFetcher().fetch("s3://", tmp_path / "d.zip", what="layer d")


def test_zip_helper_is_a_zip() -> None:
    assert zipfile.ZipFile(io.BytesIO(small_function())).namelist()


def test_fleet_uploads_each_sbom_to_dependency_track(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    account = Account(server)
    account.function("one", small_function())
    account.function("two", small_function())
    monkeypatch.setenv("DEPSCAN_DTRACK_API_KEY", "k")
    dtrack = "https://dtrack.example.test"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        account.serve(mock)
        mock.put(f"{dtrack}/api/v1/bom", json={"token": "t-1"})
        mock.put(f"{dtrack}/api/v1/bom", status=401)
        mock.get(f"{dtrack}/api/v1/event/token/t-1", json={"processing": False})
        result = CliRunner().invoke(app, ["aws", "lambda", "--all", "--region", REGION, "--endpoint-url", server,
                                          "--source", "skip", "-f", "json", "--dependency-track", dtrack])
        puts = [c for c in mock.calls if c.request.method == "PUT"]
    assert len(puts) == 2
    projects = sorted(json.loads(c.request.body or b"{}")["projectName"] for c in puts)
    assert projects == [f"{REGION}:one", f"{REGION}:two"]
    assert "processed" in result.output and "HTTP 401" in result.output
    assert result.exit_code == ExitCode.LOOKUP_FAILED  # one upload failed; the fleet itself was clean


def test_without_boto3_the_command_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "boto3", None)  # import boto3 -> ImportError
    result = CliRunner().invoke(app, ["aws", "lambda", "--all", "--region", REGION, "--source", "skip"])
    assert result.exit_code == ExitCode.USAGE
    assert "pip install 'pydepscan[aws]'" in result.output


def test_access_denied_on_one_layer(server: str) -> None:
    account = Account(server)
    secret = account.layer("secret-deps", zip_bytes(dist("six", "1.16.0", root="python")))
    account.function("uses-secret", small_function(), layers=(secret,))
    account.function("plain", small_function())
    proxy = PagingProxy(server, deny_layers=("secret-deps",))
    try:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            account.serve(mock)
            fleet = scan_fleet(options(proxy.url), fetcher=LayerLocationFetcher())
    finally:
        proxy.close()
    by_name = {f.info.name: f for f in fleet.functions}
    denied = by_name["uses-secret"]
    assert denied.outcome == "failed"
    assert "AccessDeniedException" in (denied.reason or "") or "not authorized" in (denied.reason or "")
    assert secret in (denied.reason or "")
    assert by_name["plain"].outcome == "scanned"
    assert [(layer.outcome, layer.users) for layer in fleet.layers] == [("failed", 1)]
    assert fleet_exit(fleet) == ExitCode.LOOKUP_FAILED


# --- what a real account and a real operator do that the happy path does not (qa) ------------------------------

class CountingFetcher(LayerLocationFetcher):
    """Records, for each function download, how many functions the scan had finished when it began."""

    def __init__(self, scanned: list[str]) -> None:
        super().__init__()
        self.scanned = scanned
        self.started: list[tuple[str, int]] = []

    def fetch(self, location: str, dest: Path, *, what: str, sha256_b64: str | None = None) -> Path:
        if what.startswith("function "):
            self.started.append((what, len(self.scanned)))
        return super().fetch(location, dest, what=what, sha256_b64=sha256_b64)


def test_downloads_stay_a_window_ahead_and_the_fleet_keeps_no_sbom(server: str) -> None:
    account = Account(server)
    for number in range(9):
        account.function(f"fn{number}", small_function())
    scanned: list[str] = []
    sboms: list[bytes | None] = []

    def done(report: Any) -> None:
        scanned.append(report.info.name)
        sboms.append(report.sbom)

    fetcher = CountingFetcher(scanned)
    with responses.RequestsMock() as mock:
        account.serve(mock)
        fleet = scan_fleet(options(server, concurrency=1, sboms=True), fetcher=fetcher, on_function=done)
    assert len(fetcher.started) == 9 and all(f.outcome == "scanned" for f in fleet.functions)
    # concurrency 1: at most 2 functions downloaded ahead of the scan (never the whole fleet on disk)
    order = {f.info.name: n for n, f in enumerate(fleet.functions)}
    assert all(order[what.removeprefix("function ")] - finished <= 2 for what, finished in fetcher.started)
    assert all(isinstance(sbom, bytes) and sbom for sbom in sboms)  # handed over as each function is done ...
    assert all(f.sbom is None for f in fleet.functions)  # ... and not held by the fleet


def test_an_interrupt_mid_fleet_stops_the_queue_and_removes_the_temporary_files(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    account = Account(server)
    for number in range(8):
        account.function(f"fn{number}", small_function())
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    scanned: list[str] = []

    def interrupt(report: Any) -> None:
        scanned.append(report.info.name)
        raise KeyboardInterrupt

    fetcher = CountingFetcher(scanned)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        account.serve(mock)
        with pytest.raises(KeyboardInterrupt):
            scan_fleet(options(server, concurrency=1), fetcher=fetcher, on_function=interrupt)
    assert len(scanned) == 1 and len(fetcher.started) <= 3  # the queued downloads were cancelled
    assert list(temp.iterdir()) == []


def test_an_expired_presigned_url_gets_a_fresh_one(server: str) -> None:
    account = Account(server)
    account.function("slow", small_function())
    pattern = re.compile(rf"^https://awslambda-{REGION}-tasks\.s3\.{REGION}\.amazonaws\.com/slow-[0-9a-f-]+$")
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, pattern, status=403, body=b"<Error><Code>AccessDenied</Code>Request has expired")
        mock.add(responses.GET, pattern, body=small_function())
        fleet = scan_fleet(options(server), fetcher=LayerLocationFetcher())
        assert len(mock.calls) == 2
    assert fleet.functions[0].outcome == "scanned", fleet.functions[0].reason
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, pattern, status=403)
        fleet = scan_fleet(options(server), fetcher=LayerLocationFetcher())
        assert len(mock.calls) == 2  # one fresh URL, not a loop
    assert "HTTP 403 (the presigned URL expired, or access is denied)" in (fleet.functions[0].reason or "")


def test_an_out_dir_that_cannot_be_written_fails_before_anything_is_downloaded(tmp_path: Path) -> None:
    from depscan.errors import OutputError

    (tmp_path / "taken").write_text("a file where the directory should be")
    # no server at this endpoint: the check comes before the first API call
    with pytest.raises(OutputError, match=r"--out-dir .*taken/out: cannot write there"):
        scan_fleet(options("http://127.0.0.1:9", out_dir=tmp_path / "taken" / "out"))


def test_qualified_functions_and_layers_of_other_accounts_get_reports_of_their_own() -> None:
    from depscan.aws.lambda_fleet import function_info, layer_stems, report_stem

    latest = function_info(REGION, {"FunctionName": "api", "Version": "$LATEST"})
    published = function_info(REGION, {"FunctionName": "api", "Version": "7", "Runtime": "python3.12"})
    assert latest.name == "api" and published.name == "api:7"
    assert report_stem(latest) != report_stem(published)
    # PackageType and Runtime missing (an image function as some SDKs answer it), odd LastModified formats
    bare = function_info(REGION, {"FunctionName": "img", "LastModified": "2024-01-31T12:00:00.123456789Z"})
    assert bare.package_type == "Zip" and bare.runtime is None and bare.last_modified is not None
    ours = f"arn:aws:lambda:{REGION}:111111111111:layer:deps:3"
    theirs = f"arn:aws:lambda:{REGION}:222222222222:layer:deps:3"
    other = f"arn:aws:lambda:{REGION}:222222222222:layer:tools:1"
    assert layer_stems([ours, theirs, other]) == {ours: "111111111111-deps-3", theirs: "222222222222-deps-3",
                                                  other: "tools-1"}
