"""``depscan aws lambda``: every deployed function scanned where it runs, with its layers.

Flow (no printing here; the CLI prints):

1. **List.** Per region (``--region``, repeatable; else the boto3 chain's region), ``ListFunctions``
   with its paginator (``--all``) or ``GetFunction`` for each ``--function`` (a name or an ARN).
   A region that cannot be listed (no credentials, access denied) is an error line of the fleet,
   and the other regions are still scanned.
2. **Download**, in ``--concurrency`` threads: ``GetFunction`` -> the code's presigned location,
   streamed to a temporary file within ``--max-download`` and checked against the ``CodeSha256`` the
   API states (``fetch.CodeFetcher``); each layer version a function uses, once per fleet however
   many functions share it (``GetLayerVersion`` from the parsed ARN, ``GetLayerVersionByArn`` when
   that fails).
3. **Scan**, one function at a time in the listing order: the function zip with its layers as one
   merged view, the same code path as ``depscan scan function.zip --layer ...`` (``scan.run``), judged
   against the function's own runtime and architecture (so x86_64 modules in an arm64 function are
   findings). One function failing (download, access denied on a layer, unreadable zip) is reported
   with its reason and the others are still scanned.
4. **Account facts** per function: runtime (deprecated, deprecated soon, supported: the dated table
   of ``runtimes.py`` plus the retired runtimes below), last modified and days since (stale at
   ``--stale-days``), architecture, layers (and how many functions share each).

Image-packaged functions are listed with their image URI and "not scanned: container image".
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from depscan.artifacts.limits import Limits
from depscan.aws.fetch import DEFAULT_MAX_BYTES, CodeFetcher, FetchError, one_line
from depscan.config import AdvisorySettings
from depscan.errors import DepscanError, ExitCode, OutputError
from depscan.models import Level, ScanResult

# Python runtimes Lambda retired before the rows of ``runtimes.LAMBDA_PYTHON_RUNTIMES`` begin: functions
# on them still run (they can no longer be created or updated) and are what a forgotten account holds.
# Source: "Deprecated runtimes" table of https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html
# (as cross-checked in runtimes.py on ``TABLE_CHECKED``): "Python 3.7 | python3.7 | Amazon Linux |
# Dec 4, 2023", "Python 3.6 | python3.6 | Amazon Linux | Jul 18, 2022", "Python 2.7 | python2.7 |
# Amazon Linux | Jul 15, 2021".
RETIRED_PYTHON_RUNTIMES: dict[str, date] = {
    "python3.7": date(2023, 12, 4),
    "python3.6": date(2022, 7, 18),
    "python2.7": date(2021, 7, 15),
}

DEFAULT_STALE_DAYS = 365
DEFAULT_SOON_DAYS = 180  # "deprecated soon": the deprecation date is at most this many days ahead
DEFAULT_CONCURRENCY = 4

# Runtimes whose functions hold no Python to scan (their code is not downloaded). ``provided.*`` (custom
# runtimes) can bundle an interpreter, so those are scanned.
NON_PYTHON_RUNTIMES = ("nodejs", "java", "dotnet", "ruby", "go1")

_LAYER_ARN = re.compile(r"^(arn:[a-z-]+:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+):(\d+)$")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True, slots=True)
class FleetOptions:
    """What ``depscan aws lambda`` was asked to do."""

    regions: tuple[str | None, ...] = (None,)  # None: the region of the boto3 chain
    functions: tuple[str, ...] = ()  # names or ARNs; empty with all_functions
    all_functions: bool = False
    out_dir: Path | None = None
    endpoint_url: str | None = None
    profile: str | None = None
    stale_days: int = DEFAULT_STALE_DAYS
    soon_days: int = DEFAULT_SOON_DAYS
    concurrency: int = DEFAULT_CONCURRENCY
    page_size: int | None = None  # ListFunctions MaxItems per call; None: the service's default (50)
    max_download: int = DEFAULT_MAX_BYTES
    advisories: AdvisorySettings = field(default_factory=lambda: AdvisorySettings(mode="skip"))
    limits: Limits = field(default_factory=Limits)
    cyclonedx_version: str = "1.6"
    # hand each function's CycloneDX SBOM to on_function (--dependency-track); without it and without out_dir
    # no SBOM is rendered (it costs a third of a scan)
    sboms: bool = False
    fail_on: str = "any"
    strict: bool = False
    native_cache: bool = True
    today: date | None = None  # tests pin the day; None: today (UTC)


@dataclass(frozen=True, slots=True)
class FunctionInfo:
    """What the Lambda API says about one function (its configuration)."""

    region: str
    name: str
    arn: str
    runtime: str | None
    architectures: tuple[str, ...]
    package_type: str  # "Zip" or "Image"
    last_modified: datetime | None
    code_sha256: str | None
    code_size: int | None
    image_uri: str | None
    layers: tuple[str, ...]  # layer version ARNs, in the order the runtime applies them


@dataclass(frozen=True, slots=True)
class RuntimeState:
    status: str  # supported | deprecated-soon | deprecated | not-python | unknown | none (image functions)
    deprecation: date | None = None


@dataclass(frozen=True, slots=True)
class FunctionReport:
    """One function of the fleet: what it is, and what the scan found (or why it was not scanned)."""

    info: FunctionInfo
    outcome: str  # scanned | failed | not-scanned
    reason: str | None
    runtime: RuntimeState
    days_since_modified: int | None
    stale: bool
    packages: int = 0
    native_components: int = 0
    findings: dict[str, int] = field(default_factory=dict)  # level -> active findings
    policy_findings: int = 0
    wrong_machine: int = 0  # native modules built for another architecture than the function's
    not_verifiable: int | None = None
    unchecked: int = 0
    malicious: int = 0
    exit_code: int | None = None  # the single-scan verdict (policy.verdict) of this function
    verdict: str | None = None
    reports: tuple[str, ...] = ()  # files written to --out-dir
    sbom: bytes | None = None  # CycloneDX JSON, handed to on_function (--dependency-track); None in FleetResult


@dataclass(frozen=True, slots=True)
class LayerState:
    """A layer version the fleet uses: downloaded once, and scanned once on its own (a layer's own
    inventory and findings, whichever functions apply it; each function is also scanned with it merged)."""

    arn: str
    users: int
    outcome: str  # scanned | failed (not downloaded) | unreadable (downloaded, not a readable layer)
    reason: str | None = None
    packages: int = 0
    findings: dict[str, int] = field(default_factory=dict)  # level -> active findings of the layer alone
    reports: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FleetResult:
    functions: tuple[FunctionReport, ...]
    layers: tuple[LayerState, ...]
    errors: tuple[str, ...]  # regions or functions that could not even be listed
    regions: tuple[str, ...]
    scanned_at: datetime
    stale_days: int

    @property
    def exit_code(self) -> ExitCode:
        return fleet_exit(self)


Progress = Callable[[int, int, str], None]  # (done, total, what is being done)


def fleet_exit(fleet: FleetResult, strict: bool = False) -> ExitCode:
    """The fleet's exit code, with the single-scan rules: anything not checked (a region not listed, a
    function not downloaded or whose advisories could not be looked up) is 4 and outranks findings (1);
    ``strict`` makes an incomplete fleet (a function not scanned, e.g. a container image) 5."""
    if fleet.errors or any(f.outcome == "failed" or f.exit_code == ExitCode.LOOKUP_FAILED for f in fleet.functions):
        return ExitCode.LOOKUP_FAILED
    if any(f.exit_code == ExitCode.FINDINGS for f in fleet.functions):
        return ExitCode.FINDINGS
    if strict and any(f.outcome == "not-scanned" or f.exit_code == ExitCode.INCOMPLETE for f in fleet.functions):
        return ExitCode.INCOMPLETE
    return ExitCode.OK


def runtime_state(runtime: str | None, package_type: str, today: date, soon_days: int) -> RuntimeState:
    """Where a runtime stands on ``today``, from the dated tables."""
    from depscan.runtimes import LAMBDA_PYTHON_RUNTIMES

    if runtime is None:
        return RuntimeState("none" if package_type == "Image" else "unknown")
    known = {r.identifier: r.deprecation for r in LAMBDA_PYTHON_RUNTIMES} | RETIRED_PYTHON_RUNTIMES
    deprecation = known.get(runtime)
    if deprecation is None:
        return RuntimeState("not-python" if runtime.startswith(NON_PYTHON_RUNTIMES) else "unknown")
    if deprecation <= today:
        return RuntimeState("deprecated", deprecation)
    if (deprecation - today).days <= soon_days:
        return RuntimeState("deprecated-soon", deprecation)
    return RuntimeState("supported", deprecation)


def parse_layer_arn(arn: str) -> tuple[str, int] | None:
    """A layer version ARN -> (the layer's ARN, version number); None when it is not one."""
    match = _LAYER_ARN.match(arn)
    return (match.group(1), int(match.group(2))) if match else None


def function_info(region: str, configuration: dict[str, Any], code: dict[str, Any] | None = None) -> FunctionInfo:
    """A ``FunctionConfiguration`` (and ``GetFunction``'s ``Code``) as a FunctionInfo."""
    layers = tuple(str(layer.get("Arn")) for layer in configuration.get("Layers") or () if layer.get("Arn"))
    size = configuration.get("CodeSize")
    name = str(configuration.get("FunctionName", ""))
    version = configuration.get("Version")
    if isinstance(version, str) and version and version != "$LATEST" and not name.endswith(f":{version}"):
        name = f"{name}:{version}"  # a published version (--function f:3, f:alias): its reports apart from $LATEST's
    return FunctionInfo(
        region=region,
        name=name,
        arn=str(configuration.get("FunctionArn", "")),
        runtime=configuration.get("Runtime") or None,
        architectures=tuple(configuration.get("Architectures") or ("x86_64",)),
        package_type=str(configuration.get("PackageType") or "Zip"),
        last_modified=_parse_modified(configuration.get("LastModified")),
        code_sha256=configuration.get("CodeSha256") or None,
        code_size=size if isinstance(size, int) else None,
        image_uri=(code or {}).get("ImageUri") or None,
        layers=layers,
    )


def _parse_modified(value: Any) -> datetime | None:
    """``LastModified`` as Lambda writes it (``2024-01-31T12:00:00.000+0000``; emulators add nanoseconds
    and ``Z``)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00")
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)
    text = re.sub(r"\.(\d{6})\d+", r".\1", text)  # at most microseconds
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


class _Region:
    """One region's Lambda client and the functions it holds."""

    def __init__(self, name: str, client: Any) -> None:
        self.name = name
        self.client = client


def _clients(options: FleetOptions) -> tuple[list[_Region], Callable[[], Any], list[str]]:
    from depscan.aws import require_boto3

    boto3 = require_boto3()
    session = boto3.session.Session(profile_name=options.profile) if options.profile else boto3.session.Session()
    regions: list[_Region] = []
    errors: list[str] = []
    for asked in options.regions:
        name = asked or session.region_name
        if not name:
            errors.append("no AWS region: give --region, or set AWS_REGION / a profile's region")
            continue
        regions.append(_Region(name, session.client("lambda", region_name=name, endpoint_url=options.endpoint_url)))
    first = regions[0].name if regions else None

    def s3() -> Any:
        return session.client("s3", region_name=first, endpoint_url=options.endpoint_url)

    return regions, s3, errors


def _list(region: _Region, options: FleetOptions) -> tuple[list[FunctionInfo], list[str]]:
    """The region's functions to scan, and what could not be listed."""
    infos: list[FunctionInfo] = []
    errors: list[str] = []
    if options.all_functions:
        try:
            paging = {"PaginationConfig": {"PageSize": options.page_size}} if options.page_size else {}
            for page in region.client.get_paginator("list_functions").paginate(**paging):
                infos.extend(function_info(region.name, conf) for conf in page.get("Functions") or ())
            infos = [_with_image_uri(region, info) for info in infos]
        except Exception as e:  # botocore ClientError / NoCredentialsError / EndpointConnectionError
            errors.append(f"{region.name}: cannot list functions: {one_line(e)}")
    for name in options.functions:
        try:
            answer = region.client.get_function(FunctionName=name)
        except Exception as e:
            errors.append(f"{region.name}: function {name}: {one_line(e)}")
            continue
        info = function_info(region.name, answer.get("Configuration") or {}, answer.get("Code"))
        if all(known.arn != info.arn for known in infos):
            infos.append(info)
    return infos, errors


def _with_image_uri(region: _Region, info: FunctionInfo) -> FunctionInfo:
    """An image function's URI (ListFunctions does not say it; GetFunction's ``Code`` does)."""
    if info.package_type != "Image" or info.image_uri:
        return info
    try:
        code = region.client.get_function(FunctionName=info.arn or info.name).get("Code") or {}
    except Exception:  # the URI is a courtesy: the function is reported as not scanned either way
        return info
    uri = code.get("ImageUri")
    return replace(info, image_uri=uri) if isinstance(uri, str) and uri else info


def scan_fleet(
    options: FleetOptions,
    *,
    fetcher: CodeFetcher | None = None,
    progress: Progress | None = None,
    on_function: Callable[[FunctionReport], None] | None = None,
) -> FleetResult:
    """List, download and scan the functions ``options`` names. ``on_function`` is called with each
    function's report as soon as it is done (the CLI uploads SBOMs from there)."""
    report = progress or (lambda done, total, what: None)
    today = options.today or datetime.now(timezone.utc).date()
    now = datetime.now(timezone.utc)
    if options.out_dir is not None:
        _check_writable(options.out_dir)  # before anything is listed or downloaded
    regions, s3_client, errors = _clients(options)
    fetch = fetcher or CodeFetcher(max_bytes=options.max_download, s3_client=s3_client)
    listed: list[tuple[_Region, FunctionInfo]] = []
    for region in regions:
        report(0, 0, f"listing functions in {region.name}")
        infos, listing_errors = _list(region, options)
        errors.extend(listing_errors)
        listed.extend((region, info) for info in infos)
    users: dict[str, int] = {}
    for _region, info in listed:
        if info.package_type == "Zip":
            for arn in info.layers:
                users[arn] = users.get(arn, 0) + 1
    layer_states: dict[str, LayerState] = {}
    # downloads run at most this many functions ahead of the scan: a fleet of hundreds never sits on disk at
    # once, a presigned URL is used minutes after GetFunction made it, and an interrupt waits for few downloads
    window = max(2, 2 * options.concurrency)
    with tempfile.TemporaryDirectory(prefix="depscan-aws-") as tmp, ThreadPoolExecutor(
        max_workers=max(1, options.concurrency), thread_name_prefix="depscan-aws"
    ) as pool:
        try:
            reports = _download_and_scan(listed, pool, Path(tmp), fetch, window, users, layer_states, options,
                                         today, report, on_function)
        except BaseException:  # KeyboardInterrupt, SIGTERM, an output error: do not start the queued downloads
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return FleetResult(
        functions=tuple(reports),
        layers=tuple(layer_states.values()),
        errors=tuple(errors),
        regions=tuple(r.name for r in regions),
        scanned_at=now,
        stale_days=options.stale_days,
    )


def _check_writable(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as e:
        raise OutputError(f"--out-dir {directory}: cannot write there: {e.strerror or e}") from e


def layer_stems(arns: Sequence[str]) -> dict[str, str]:
    """The report name of each layer version under ``REGION/layers/``: ``NAME-VERSION``, or
    ``ACCOUNT-NAME-VERSION`` when layers of several accounts share a name and version."""
    def plain(arn: str) -> str:
        parsed = parse_layer_arn(arn)
        return f"{parsed[0].rsplit(':', 1)[-1]}-{parsed[1]}" if parsed else arn

    seen: dict[tuple[str, str], int] = {}
    for arn in arns:
        key = (_arn_region(arn), plain(arn))
        seen[key] = seen.get(key, 0) + 1
    out: dict[str, str] = {}
    for arn in arns:
        name = plain(arn)
        parts = arn.split(":")
        if seen[(_arn_region(arn), name)] > 1 and len(parts) > 4 and parse_layer_arn(arn):
            name = f"{parts[4]}-{name}"
        out[arn] = _SAFE_NAME.sub("_", name)
    return out


def _arn_region(arn: str) -> str:
    return arn.split(":")[3] if arn.count(":") >= 4 else "layers"


def _download_and_scan(
    listed: list[tuple[_Region, FunctionInfo]],
    pool: ThreadPoolExecutor,
    work: Path,
    fetch: CodeFetcher,
    window: int,
    users: dict[str, int],
    layer_states: dict[str, LayerState],
    options: FleetOptions,
    today: date,
    report: Progress,
    on_function: Callable[[FunctionReport], None] | None,
) -> list[FunctionReport]:
    reports: list[FunctionReport] = []
    layer_futures: dict[str, Future[Path]] = {}
    function_futures: list[Future[Path] | None] = []

    def submit_until(last: int) -> None:
        """Queue the downloads of the functions up to ``last`` (listing order)."""
        while len(function_futures) <= min(last, len(listed) - 1):
            number = len(function_futures)
            region, info = listed[number]
            if info.package_type != "Zip" or (info.runtime or "").startswith(NON_PYTHON_RUNTIMES):
                function_futures.append(None)
                continue
            function_futures.append(pool.submit(_download_function, region, info, work / f"fn-{number}.zip", fetch))

    # every layer version first (each once, however many functions use it), then the first functions
    for region, info in listed:
        if info.package_type == "Zip" and not (info.runtime or "").startswith(NON_PYTHON_RUNTIMES):
            for arn in info.layers:
                if arn not in layer_futures:
                    target = work / f"layer-{len(layer_futures)}.zip"
                    layer_futures[arn] = pool.submit(_download_layer, region, arn, target, fetch)
    submit_until(window - 1)
    stems = layer_stems(list(layer_futures))
    for arn, future in layer_futures.items():
        try:
            path = future.result()
        except FetchError as e:
            layer_states[arn] = LayerState(arn, users.get(arn, 0), "failed", str(e))
            continue
        report(0, len(listed), f"layer {arn}")
        layer_states[arn] = _scan_layer(arn, path, users.get(arn, 0), options, stems[arn])
    total = len(listed)
    for number, (_region, info) in enumerate(listed):
        submit_until(number + window)
        pending = function_futures[number]
        report(number, total, f"{info.region}/{info.name}")
        done = _scan_one(info, pending, layer_futures, layer_states, options, today)
        if on_function is not None:
            on_function(done)
        reports.append(replace(done, sbom=None))  # the SBOM is handed over, not held for the whole fleet
        if pending is not None and pending.done() and pending.exception() is None:
            pending.result().unlink(missing_ok=True)  # a fleet can be large: free the disk as we go
    report(total, total, "done")
    return reports


def _download_function(region: _Region, info: FunctionInfo, target: Path, fetch: CodeFetcher) -> Path:
    what = f"function {info.name}"
    for attempt in (1, 2):
        try:
            answer = region.client.get_function(FunctionName=info.arn or info.name)
        except Exception as e:
            raise FetchError(f"{what}: GetFunction failed: {one_line(e)}") from e
        location = (answer.get("Code") or {}).get("Location")
        if not location:
            raise FetchError(f"{what}: GetFunction gave no code location")
        sha = (answer.get("Configuration") or {}).get("CodeSha256") or info.code_sha256
        try:
            return fetch.fetch(location, target, what=what, sha256_b64=sha)
        except FetchError as e:
            # a presigned URL lives 10 minutes: one that expired before its download began (a slow queue,
            # a laptop put to sleep) gets a fresh one once
            if e.status != 403 or attempt == 2:
                raise
    raise AssertionError("unreachable")


def _download_layer(region: _Region, arn: str, target: Path, fetch: CodeFetcher) -> Path:
    """A layer version's zip: ``GetLayerVersion`` with the layer's ARN and version (works across
    accounts where the layer's policy allows), else ``GetLayerVersionByArn``."""
    what = f"layer {arn}"
    parsed = parse_layer_arn(arn)
    answer: dict[str, Any] | None = None
    failures: list[str] = []
    if parsed is not None:
        try:
            answer = region.client.get_layer_version(LayerName=parsed[0], VersionNumber=parsed[1])
        except Exception as e:
            failures.append(f"GetLayerVersion: {one_line(e)}")
    else:
        failures.append("not a layer version ARN")
    if answer is None:
        try:
            answer = region.client.get_layer_version_by_arn(Arn=arn)
        except Exception as e:
            failures.append(f"GetLayerVersionByArn: {one_line(e)}")
    if answer is None:
        raise FetchError(f"{what}: {'; '.join(failures)}")
    content = answer.get("Content") or {}
    location = content.get("Location")
    if not location:
        raise FetchError(f"{what}: the API gave no code location")
    try:
        return fetch.fetch(location, target, what=what, sha256_b64=content.get("CodeSha256"))
    except FetchError as e:
        if e.status != 403 or parsed is None:
            raise
    try:  # the presigned URL expired before the download began: a fresh one, once
        content = region.client.get_layer_version(LayerName=parsed[0], VersionNumber=parsed[1]).get("Content") or {}
    except Exception as e:
        raise FetchError(f"{what}: GetLayerVersion failed: {one_line(e)}") from e
    return fetch.fetch(str(content.get("Location") or ""), target, what=what, sha256_b64=content.get("CodeSha256"))


def _scan_one(
    info: FunctionInfo,
    future: Future[Path] | None,
    layer_futures: dict[str, Future[Path]],
    layer_states: dict[str, LayerState],
    options: FleetOptions,
    today: date,
) -> FunctionReport:
    runtime = runtime_state(info.runtime, info.package_type, today, options.soon_days)
    days = (today - info.last_modified.date()).days if info.last_modified else None
    base: dict[str, Any] = {
        "info": info,
        "runtime": runtime,
        "days_since_modified": days,
        "stale": days is not None and days >= options.stale_days,
    }
    if future is None and info.package_type != "Zip":
        image = f" ({info.image_uri})" if info.image_uri else ""
        return FunctionReport(outcome="not-scanned", reason=f"container image{image}: scan the image itself",
                              **base)
    if future is None:
        return FunctionReport(outcome="not-scanned", reason=f"runtime {info.runtime} is not a Python runtime", **base)
    try:
        code = future.result()
    except FetchError as e:
        return FunctionReport(outcome="failed", reason=str(e), **base)
    layers: list[str] = []
    for arn in info.layers:
        state = layer_states.get(arn)
        if state is None or state.outcome == "failed":
            why = state.reason if state is not None and state.reason else f"layer {arn} was not downloaded"
            return FunctionReport(outcome="failed", reason=why, **base)
        layers.append(str(layer_futures[arn].result()))
    try:
        result = _scan(code, layers, info, options)
    except DepscanError as e:
        return FunctionReport(outcome="failed", reason=f"function {info.name}: {one_line(e)}", **base)
    return _summarize(result, options, base)


def _scan_layer(arn: str, path: Path, users: int, options: FleetOptions, stem: str | None = None) -> LayerState:
    """One layer version scanned on its own, once per fleet."""
    from depscan.config import ScanConfig
    from depscan.scan import run

    try:
        result = run(ScanConfig(path=str(path), kind="lambda-layer", limits=options.limits, hash_artifact=True,
                                advisories=options.advisories, native_cache=options.native_cache))
    except DepscanError as e:
        return LayerState(arn, users, "unreadable", f"layer {arn}: {one_line(e)}")
    from depscan.facts import counts

    written: list[str] = []
    if options.out_dir is not None:
        name = stem or layer_stems([arn])[arn]
        written = _write(result, options, options.out_dir / _SAFE_NAME.sub("_", _arn_region(arn)) / "layers" / name)
    return LayerState(arn, users, "scanned", packages=counts(result).python_distributions,
                      findings=_levels(result), reports=tuple(written))


def _levels(result: ScanResult) -> dict[str, int]:
    """Active findings by level (ignored ones and bundled libraries their distribution's finding covers left out)."""
    levels: dict[str, int] = {}
    for finding in result.findings:
        if finding.suppressed is None and finding.covered_by is None:
            levels[finding.level.value] = levels.get(finding.level.value, 0) + 1
    return levels


def _scan(code: Path, layers: Sequence[str], info: FunctionInfo, options: FleetOptions) -> ScanResult:
    from depscan.config import ScanConfig
    from depscan.runtimes import LAMBDA_PYTHON_RUNTIMES
    from depscan.scan import run

    known = {r.identifier for r in LAMBDA_PYTHON_RUNTIMES}
    arch = info.architectures[0] if info.architectures else None
    config = ScanConfig(
        path=str(code),
        layers=tuple(layers),
        kind="lambda-function",
        limits=options.limits,
        hash_artifact=True,
        advisories=options.advisories,
        native_cache=options.native_cache,
        runtime=info.runtime if info.runtime in known else None,
        arch=arch if arch in ("x86_64", "arm64") else None,
    )
    return run(config)


def _summarize(result: ScanResult, options: FleetOptions, base: dict[str, Any]) -> FunctionReport:
    from depscan.facts import counts
    from depscan.policy import verdict
    from depscan.reporters import ReportOptions, get_reporter

    info: FunctionInfo = base["info"]
    counted = counts(result)
    levels = _levels(result)
    judged = verdict(result, options.fail_on, strict=options.strict)
    sbom = None
    if options.out_dir is not None or options.sboms:
        sbom = get_reporter("cyclonedx-json")(result, ReportOptions(cyclonedx_version=options.cyclonedx_version))
    written: list[str] = []
    if options.out_dir is not None:
        written = _write_reports(result, sbom, info, options)
    return FunctionReport(
        outcome="scanned",
        reason=None,
        packages=counted.python_distributions,
        native_components=counted.native_components,
        findings=levels,
        policy_findings=counted.policy_findings,
        wrong_machine=sum(1 for p in result.policy_findings if p.rule == "native-wrong-machine"),
        not_verifiable=counted.not_verifiable,
        unchecked=len(result.unchecked),
        malicious=counted.malicious or 0,
        exit_code=int(judged.code),
        verdict=judged.message,
        reports=tuple(written),
        sbom=sbom,
        **base,
    )


def report_stem(info: FunctionInfo) -> str:
    """``<region>/<function>``: where a function's reports go under ``--out-dir``."""
    return f"{_SAFE_NAME.sub('_', info.region)}/{_SAFE_NAME.sub('_', info.name)}"


def _write_reports(result: ScanResult, sbom: bytes | None, info: FunctionInfo, options: FleetOptions) -> list[str]:
    assert options.out_dir is not None
    return _write(result, options, options.out_dir / report_stem(info), sbom)


def _write(result: ScanResult, options: FleetOptions, stem: Path, sbom: bytes | None = None) -> list[str]:
    """``STEM.cdx.json`` (CycloneDX JSON) and ``STEM.json`` (depscan JSON)."""
    from depscan.output import write_output
    from depscan.reporters import ReportOptions, get_reporter

    try:
        stem.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{stem.parent}: cannot create the report directory: {e.strerror or e}") from e
    if sbom is None:
        sbom = get_reporter("cyclonedx-json")(result, ReportOptions(cyclonedx_version=options.cyclonedx_version))
    sbom_path = f"{stem}.cdx.json"
    json_path = f"{stem}.json"
    write_output(sbom_path, sbom)
    write_output(json_path, get_reporter("json")(result, ReportOptions()))
    return [sbom_path, json_path]


def severity_columns() -> tuple[str, ...]:
    """The finding levels of the fleet table, most severe first."""
    return tuple(level.value for level in sorted(Level, key=lambda level: -level.rank))
