"""The command line. Options become a ScanConfig; scan.run() does the work; errors become exit codes.

Heavy modules are imported inside the commands so that ``depscan --help`` starts fast.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable
from typing import Annotated, Any

import typer

from depscan import __version__
from depscan.errors import DepscanError, ExitCode

app = typer.Typer(
    name="depscan",
    help="Inventory the Python dependencies inside Lambda zips, layers, container images, wheels and directories.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

FAIL_ON = ("any", "low", "medium", "high", "critical")
DEFAULT_OSV_URL = "https://api.osv.dev"
_SIZE = re.compile(r"^\s*(\d+)\s*([KMGT]i?B?|B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def parse_size(text: str) -> int:
    """``"512M"`` -> 536870912. Binary units (K, M, G, T, with optional ``iB``/``B``)."""
    match = _SIZE.match(text)
    if match is None:
        raise typer.BadParameter(f"{text!r} is not a size (examples: 1048576, 512M, 16G)")
    unit = (match[2] or "").upper()[:1]
    return int(match[1]) * _UNITS[unit]


def _fail(message: str, code: ExitCode) -> typer.Exit:
    typer.echo(f"depscan: error: {message}", err=True)
    return typer.Exit(int(code))


def _version(value: bool) -> None:
    if value:
        typer.echo(f"depscan {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """depscan: what Python code is inside what you deploy."""


# Options shared by `scan` and `rescan`.
Advisories = Annotated[
    str | None,
    typer.Option("--advisories", help="An OSV export zip to match against (indexed once, cached by content)."),
]
Db = Annotated[str | None, typer.Option("--db", help="Offline advisory database (default: $DEPSCAN_DB, else the "
                                        "user cache).")]
Source = Annotated[
    str, typer.Option("--source", help="Advisory source: auto, offline, online, or skip (inventory only).")
]
OsvUrl = Annotated[str, typer.Option("--osv-url", help="OSV API base URL (for mirrors).")]
OsvRetries = Annotated[int, typer.Option("--osv-retries", help="Retries of a failed OSV API call.")]
IgnoreFile = Annotated[
    str | None, typer.Option("--ignore-file", help="Ignore rules (default: ./.depscan.toml if present).")
]
FailOn = Annotated[
    str, typer.Option("--fail-on", help="Exit 1 on findings at or above: any, low, medium, high, critical.")
]
OnlyFixed = Annotated[bool, typer.Option("--only-fixed", help="Leave out findings that have no fix.")]
MaxDbAge = Annotated[
    int, typer.Option("--max-db-age", help="Warn when offline advisory data is older than this many days.")
]
Format = Annotated[
    str,
    typer.Option("--format", "-f", help="Format of a report given without one: table, json, pip-audit-json, "
                 "cyclonedx-json, cyclonedx-xml, spdx-json, sarif, markdown."),
]
Output = Annotated[
    list[str] | None,
    typer.Option(
        "--output",
        "-o",
        help="A report: FORMAT (to stdout), FORMAT=FILE, or FILE (in --format). Repeat for several; files are "
        "written atomically.",
    ),
]
CycloneDXVersion = Annotated[
    str, typer.Option("--cyclonedx-version", help="CycloneDX spec version: 1.6, 1.5 or 1.4.")
]
Baseline = Annotated[
    str | None, typer.Option("--baseline", help="A previous depscan JSON report: say what is new, fixed, unchanged.")
]
NewOnly = Annotated[bool, typer.Option("--new-only", help="With --baseline, --fail-on counts new findings only.")]
Strict = Annotated[bool, typer.Option(help="Exit 5 when anything could not be read (unknowns), instead of 0.")]

SBOM_FORMATS = frozenset({"cyclonedx-json", "cyclonedx-xml", "spdx-json"})


@app.command()
def scan(
    path: Annotated[
        str, typer.Argument(help="Artifact: a zip, wheel, tar, docker save tarball, OCI layout or directory.")
    ],
    layer: Annotated[
        list[str] | None,
        typer.Option("--layer", "-l", help="A Lambda layer zip applied to a function zip (repeat, in order)."),
    ] = None,
    kind: Annotated[
        str,
        typer.Option(help="Override detection: auto, directory, zip, wheel, lambda-function, lambda-layer, tar, "
                     "docker-archive, oci."),
    ] = "auto",
    format: Format = "table",
    output: Output = None,
    strict: Strict = False,
    max_depth: Annotated[int, typer.Option(help="Deepest nesting of archives inside archives.")] = 3,
    max_total_bytes: Annotated[
        str, typer.Option(help="Most bytes a scan decompresses or an archive declares (e.g. 16G).")
    ] = "16G",
    max_entries: Annotated[int, typer.Option(help="Most entries in one artifact.")] = 1_000_000,
    max_member_bytes: Annotated[
        str, typer.Option(help="Largest single member read into memory (e.g. 256M).")
    ] = "256M",
    max_ratio: Annotated[int, typer.Option(help="Highest compression ratio of a member read (zip bombs).")] = 200,
    advisories: Advisories = None,
    db: Db = None,
    source: Source = "auto",
    osv_url: OsvUrl = DEFAULT_OSV_URL,
    osv_retries: OsvRetries = 4,
    ignore_file: IgnoreFile = None,
    fail_on: FailOn = "any",
    only_fixed: OnlyFixed = False,
    max_db_age: MaxDbAge = 7,
    cyclonedx_version: CycloneDXVersion = "1.6",
    baseline: Baseline = None,
    new_only: NewOnly = False,
) -> None:
    """Inventory every Python distribution in an artifact and check it against OSV advisories."""
    from depscan.artifacts.limits import Limits
    from depscan.config import ScanConfig
    from depscan.scan import run

    outputs = _outputs(output, format, cyclonedx_version)
    settings = _advisory_settings(advisories, db, source, osv_url, ignore_file, only_fixed, max_db_age, osv_retries)
    _check_choice("--fail-on", fail_on, FAIL_ON)
    limits = Limits(
        max_total_bytes=parse_size(max_total_bytes),
        max_entries=max_entries,
        max_member_bytes=parse_size(max_member_bytes),
        max_ratio=max_ratio,
        max_depth=max_depth,
    )
    config = ScanConfig(
        path=path,
        layers=tuple(layer or ()),
        kind=kind,
        limits=limits,
        strict=strict,
        hash_artifact=any(fmt in SBOM_FORMATS for fmt, _file in outputs),
        advisories=settings,
    )
    started = time.perf_counter()
    progress = _DelayedProgress()
    try:
        result = _guarded(path, lambda: run(config, progress.update))
    finally:
        progress.stop()
    _finish(result, outputs, cyclonedx_version, baseline, new_only, fail_on, strict, started)


@app.command()
def rescan(
    sbom: Annotated[str, typer.Argument(help="A stored SBOM: CycloneDX (JSON or XML) or SPDX 2.x JSON.")],
    format: Format = "table",
    output: Output = None,
    advisories: Advisories = None,
    db: Db = None,
    source: Source = "auto",
    osv_url: OsvUrl = DEFAULT_OSV_URL,
    osv_retries: OsvRetries = 4,
    ignore_file: IgnoreFile = None,
    fail_on: FailOn = "any",
    only_fixed: OnlyFixed = False,
    max_db_age: MaxDbAge = 7,
    cyclonedx_version: CycloneDXVersion = "1.6",
    baseline: Baseline = None,
    new_only: NewOnly = False,
) -> None:
    """Check the components of a stored SBOM against current advisories (no rebuild needed)."""
    from depscan.scan import rescan as run_rescan

    outputs = _outputs(output, format, cyclonedx_version)
    settings = _advisory_settings(advisories, db, source, osv_url, ignore_file, only_fixed, max_db_age, osv_retries)
    _check_choice("--fail-on", fail_on, FAIL_ON)
    if settings.mode == "skip":
        raise _fail("rescan exists to check advisories: --source skip makes no sense here", ExitCode.USAGE)
    started = time.perf_counter()
    result = _guarded(sbom, lambda: run_rescan(sbom, settings))
    _finish(result, outputs, cyclonedx_version, baseline, new_only, fail_on, False, started)


def _guarded(path: str, work: Callable[[], Any]) -> Any:
    """Run ``work``; a DepscanError becomes its exit code, and a bug still ends in one line (not a
    traceback) unless DEPSCAN_DEBUG is set."""
    try:
        return work()
    except DepscanError as e:
        raise _fail(str(e), e.exit_code) from None
    except Exception as e:
        if os.environ.get("DEPSCAN_DEBUG"):
            raise
        raise _fail(f"{path}: internal error ({type(e).__name__}: {e}); set DEPSCAN_DEBUG=1 for a traceback",
                    ExitCode.BAD_INPUT) from None


def _check_choice(option: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise _fail(f"unknown {option} {value!r}; one of: {', '.join(choices)}", ExitCode.USAGE)


def _outputs(specs: list[str] | None, default_format: str, cyclonedx_version: str) -> list[tuple[str, str]]:
    """``-o`` specs as (format, file) pairs; "-" is stdout. At most one report goes to stdout."""
    from depscan.reporters import FORMATS

    _check_choice("--format", default_format, FORMATS)
    _check_choice("--cyclonedx-version", cyclonedx_version, ("1.6", "1.5", "1.4"))
    pairs: list[tuple[str, str]] = []
    for spec in specs or ["-"]:
        name, sep, file = spec.partition("=")
        if sep:
            _check_choice("--output format", name, FORMATS)
            if not file:
                raise _fail(f"--output {spec!r}: no file after '='", ExitCode.USAGE)
            pairs.append((name, file))
        elif spec in FORMATS:
            pairs.append((spec, "-"))
        else:
            pairs.append((default_format, spec))
    to_stdout = [fmt for fmt, file in pairs if file == "-"]
    if len(to_stdout) > 1:
        raise _fail(f"only one report can go to stdout, not {', '.join(to_stdout)}: give the others a file "
                    "(FORMAT=FILE)", ExitCode.USAGE)
    files = [file for _fmt, file in pairs if file != "-"]
    if len(set(files)) != len(files):
        raise _fail("two reports name the same file", ExitCode.USAGE)
    return pairs


def _finish(
    result: Any,
    outputs: list[tuple[str, str]],
    cyclonedx_version: str,
    baseline: str | None,
    new_only: bool,
    fail_on: str,
    strict: bool,
    started: float,
) -> None:
    """Compare with a baseline, render every report, write them, print the summary, exit."""
    from dataclasses import replace
    from pathlib import Path

    from depscan.output import write_atomic
    from depscan.reporters import ReportOptions, get_reporter

    if baseline is not None:
        from depscan.baseline import compare, load_previous

        try:
            previous = load_previous(Path(baseline))
        except DepscanError as e:
            raise _fail(str(e), e.exit_code) from None
        result = replace(result, baseline=compare(result.findings, previous, baseline))
    elif new_only:
        raise _fail("--new-only needs --baseline", ExitCode.USAGE)
    rendered = []
    for fmt, file in outputs:  # render everything first: a failing reporter writes nothing
        to_terminal = file == "-" and sys.stdout.isatty()
        width = os.get_terminal_size().columns if to_terminal else 160
        options = ReportOptions(color=to_terminal, width=width, cyclonedx_version=cyclonedx_version)
        rendered.append((file, get_reporter(fmt)(result, options)))
    try:
        for file, data in rendered:
            write_atomic(file, data)
    except DepscanError as e:
        raise _fail(str(e), e.exit_code) from None
    for note in result.notes:
        typer.echo(f"depscan: note: {note}", err=True)
    typer.echo(_summary(result, time.perf_counter() - started), err=True)
    _exit_for(result, fail_on, strict, new_only)


def _advisory_settings(
    advisories: str | None,
    db: str | None,
    source: str,
    osv_url: str,
    ignore_file: str | None,
    only_fixed: bool,
    max_db_age: int,
    osv_retries: int,
) -> Any:
    from pathlib import Path

    from depscan.config import AdvisorySettings, load_ignores

    if source not in ("auto", "offline", "online", "skip"):
        raise _fail(f"unknown --source {source!r}; one of: auto, offline, online, skip", ExitCode.USAGE)
    if source == "online" and (advisories or db):
        raise _fail("--source online cannot be combined with --advisories or --db", ExitCode.USAGE)
    ignores: list[Any] = []
    candidate = Path(ignore_file) if ignore_file else Path(".depscan.toml")
    if ignore_file or candidate.is_file():
        try:
            ignores = load_ignores(candidate)
        except DepscanError as e:
            raise _fail(str(e), e.exit_code) from None
    return AdvisorySettings(
        mode=source,
        db_path=Path(db) if db else None,
        export=Path(advisories) if advisories else None,
        osv_url=osv_url,
        osv_retries=osv_retries,
        ignores=tuple(ignores),
        only_fixed=only_fixed,
        max_age_days=max_db_age,
    )


def _exit_for(result: Any, fail_on: str, strict: bool, new_only: bool = False) -> None:
    """Exit codes, most serious first: 4 lookups failed, 1 findings, 5 incomplete (--strict)."""
    from depscan.policy import failing

    if result.unchecked:
        names = ", ".join(purl for purl, _why in result.unchecked[:5])
        more = f" and {len(result.unchecked) - 5} more" if len(result.unchecked) > 5 else ""
        first_reason = result.unchecked[0][1]
        raise _fail(
            f"advisories could not be checked for {len(result.unchecked)} component(s): {names}{more} "
            f"({first_reason}); they are NOT known to be free of vulnerabilities",
            ExitCode.LOOKUP_FAILED,
        )
    findings = result.findings
    if new_only and result.baseline is not None:
        findings = [f for f in findings if f.fingerprint in result.baseline.new]
    bad = failing(findings, fail_on)
    if bad:
        raise typer.Exit(int(ExitCode.FINDINGS))
    if strict and result.unknowns:
        raise _fail(f"{len(result.unknowns)} unknown(s): the scan is incomplete (--strict)", ExitCode.INCOMPLETE)


def _summary(result: object, seconds: float) -> str:
    from depscan.models import NativeLib, PythonDist, ScanResult, Status

    assert isinstance(result, ScanResult)
    dists = [c for c in result.components if isinstance(c, PythonDist)]
    shadowed = sum(1 for d in dists if d.status is Status.SHADOWED)
    parts = [f"{len(dists)} Python distributions"]
    if shadowed:
        parts.append(f"{shadowed} shadowed")
    natives = [c for c in result.components if isinstance(c, NativeLib)]
    if natives:
        unowned = sum(1 for lib in natives if lib.owner is None)
        parts.append(f"{len(natives)} native librar{'y' if len(natives) == 1 else 'ies'}"
                     + (f" ({unowned} unowned)" if unowned else ""))
    parts.append(f"{len(result.unknowns)} unknowns")
    if result.advisory_data is not None:
        active = [f for f in result.findings if f.suppressed is None]
        ignored = len(result.findings) - len(active)
        parts.append(f"{len(active)} vulnerabilities" + (f" ({ignored} ignored)" if ignored else ""))
        if result.unchecked:
            parts.append(f"{len(result.unchecked)} NOT CHECKED")
    if result.warnings:
        parts.append(f"{len(result.warnings)} warnings")
    return f"depscan: {result.artifact.path} ({result.artifact.kind}): {', '.join(parts)} in {seconds:.2f}s"


class _DelayedProgress:
    """A progress display on stderr that appears once a scan has run for a second, on a terminal.

    A timer starts it, so a long first stage (opening a large image) shows too; ``update`` only
    records the stage. Off when stderr is not a terminal, and under CI.
    """

    DELAY = 1.0

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self._stage = ("starting", 0, 0)
        self._progress: Any = None
        self._task: Any = None
        self._stopped = False
        self._timer: threading.Timer | None = None
        if sys.stderr.isatty() and not os.environ.get("CI"):
            self._timer = threading.Timer(self.DELAY, self._show)
            self._timer.daemon = True
            self._timer.start()

    def _show(self) -> None:
        from rich.progress import Progress

        with self._lock:
            if self._stopped or self._progress is not None:
                return
            stage, done, total = self._stage
            self._progress = Progress(transient=True)
            self._progress.start()
            self._task = self._progress.add_task(stage, total=total or None, completed=done)

    def update(self, stage: str, done: int, total: int) -> None:
        with self._lock:
            self._stage = (stage, done, total)
            if self._progress is not None:
                self._progress.update(self._task, description=stage, completed=done, total=total or None)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            if self._timer is not None:
                self._timer.cancel()
            if self._progress is not None:
                self._progress.stop()
                self._progress = None


db_app = typer.Typer(help="Manage the offline OSV advisory database.", no_args_is_help=True)
app.add_typer(db_app, name="db")

DbOption = Annotated[
    str | None, typer.Option("--db", help="Database file (default: $DEPSCAN_DB, else the user cache).")
]


def _db_path(db: str | None) -> Any:
    from pathlib import Path

    from depscan.advisories.osv_db import default_db_path

    return Path(db) if db else default_db_path()


@db_app.command("import")
def db_import(
    sources: Annotated[list[str], typer.Argument(help="OSV export zips, directories of records, record files.")],
    db: DbOption = None,
) -> None:
    """Import OSV records into the offline database (atomically)."""
    from pathlib import Path

    from depscan.advisories.osv_db import import_sources

    path = _db_path(db)
    try:
        reports = import_sources(path, [Path(s) for s in sources])
    except DepscanError as e:
        raise _fail(str(e), e.exit_code) from None
    for report in reports:
        typer.echo(f"{report.location}: {report.records} records imported, {report.skipped} skipped", err=True)
        for problem in report.problems:
            typer.echo(f"  skipped: {problem}", err=True)
    typer.echo(f"database: {path}", err=True)


@db_app.command("update")
def db_update(
    db: DbOption = None,
    url: Annotated[str, typer.Option("--url", help="Base URL of the OSV exports (for mirrors).")] = "",
    ecosystem: Annotated[
        list[str] | None, typer.Option("--ecosystem", help="Ecosystems to fetch (repeat).")
    ] = None,
) -> None:
    """Download the OSV export zips, verify them and import them."""
    import requests

    from depscan.advisories.download import DEFAULT_EXPORT_URL, download_export
    from depscan.advisories.osv_db import import_sources

    path = _db_path(db)
    session = requests.Session()
    downloaded = []
    try:
        for eco in ecosystem or ["PyPI"]:
            downloaded.append(download_export(session, url or DEFAULT_EXPORT_URL, eco, path.parent))
        reports = import_sources(path, downloaded)
    except DepscanError as e:
        raise _fail(str(e), e.exit_code) from None
    finally:
        for file in downloaded:
            file.unlink(missing_ok=True)
    for eco, report in zip(ecosystem or ["PyPI"], reports, strict=True):
        typer.echo(f"{eco}: {report.records} records, {report.skipped} skipped", err=True)
    typer.echo(f"database: {path}", err=True)


@db_app.command("status")
def db_status(db: DbOption = None) -> None:
    """Show the offline database: sources, record counts, newest record, age."""
    from datetime import datetime, timezone

    from depscan.advisories.osv_db import OfflineDatabase

    path = _db_path(db)
    try:
        database = OfflineDatabase(path)
    except DepscanError as e:
        raise _fail(str(e), e.exit_code) from None
    info = database.info()
    typer.echo(f"database: {path}")
    typer.echo(f"records: {info.records}")
    if info.newest_modified:
        newest = datetime.fromisoformat(info.newest_modified.replace("Z", "+00:00"))
        age = (datetime.now(timezone.utc) - newest).days
        typer.echo(f"newest record modified: {info.newest_modified} ({age} days ago)")
    for source in database.sources():
        typer.echo(
            f"source: {source.location} (sha256 {source.sha256 or '-'}, imported {source.imported_at}, "
            f"{source.records} records, {source.skipped} skipped, newest {source.newest_modified or '-'})"
        )
    database.close()


def main() -> None:
    """Entry point of the ``depscan`` console script."""
    app()
