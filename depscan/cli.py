"""The command line. Options become a ScanConfig; scan.run() does the work; errors become exit codes.

Heavy modules are imported inside the commands so that ``depscan --help`` starts fast.
"""

from __future__ import annotations

import os
import re
import sys
import time
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
    format: Annotated[
        str, typer.Option("--format", "-f", help="Output format: table, json or pip-audit-json.")
    ] = "table",
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Write the report to this file (atomically); '-' is stdout.")
    ] = None,
    strict: Annotated[
        bool, typer.Option(help="Exit 5 when anything could not be read (unknowns), instead of 0.")
    ] = False,
    max_depth: Annotated[int, typer.Option(help="Deepest nesting of archives inside archives.")] = 3,
    max_total_bytes: Annotated[
        str, typer.Option(help="Most bytes a scan decompresses or an archive declares (e.g. 16G).")
    ] = "16G",
    max_entries: Annotated[int, typer.Option(help="Most entries in one artifact.")] = 1_000_000,
    max_member_bytes: Annotated[
        str, typer.Option(help="Largest single member read into memory (e.g. 256M).")
    ] = "256M",
    max_ratio: Annotated[int, typer.Option(help="Highest compression ratio of a member read (zip bombs).")] = 200,
    advisories: Annotated[
        str | None,
        typer.Option("--advisories", help="An OSV export zip to match against (indexed once, cached by content)."),
    ] = None,
    db: Annotated[str | None, typer.Option("--db", help="Offline advisory database (default: $DEPSCAN_DB, "
                                           "else the user cache).")] = None,
    source: Annotated[
        str, typer.Option("--source", help="Advisory source: auto, offline, online, or skip (inventory only).")
    ] = "auto",
    osv_url: Annotated[str, typer.Option("--osv-url", help="OSV API base URL (for mirrors).")] = DEFAULT_OSV_URL,
    osv_retries: Annotated[int, typer.Option("--osv-retries", help="Retries of a failed OSV API call.")] = 4,
    ignore_file: Annotated[
        str | None, typer.Option("--ignore-file", help="Ignore rules (default: ./.depscan.toml if present).")
    ] = None,
    fail_on: Annotated[
        str, typer.Option("--fail-on", help="Exit 1 on findings at or above: any, low, medium, high, critical.")
    ] = "any",
    only_fixed: Annotated[bool, typer.Option("--only-fixed", help="Leave out findings that have no fix.")] = False,
    max_db_age: Annotated[
        int, typer.Option("--max-db-age", help="Warn when offline advisory data is older than this many days.")
    ] = 7,
) -> None:
    """Inventory every Python distribution in an artifact and check it against OSV advisories."""
    from depscan.artifacts.limits import Limits
    from depscan.config import ScanConfig
    from depscan.output import write_atomic
    from depscan.reporters import FORMATS, ReportOptions, get_reporter
    from depscan.scan import run

    if format not in FORMATS:
        raise _fail(f"unknown --format {format!r}; one of: {', '.join(FORMATS)}", ExitCode.USAGE)
    limits = Limits(
        max_total_bytes=parse_size(max_total_bytes),
        max_entries=max_entries,
        max_member_bytes=parse_size(max_member_bytes),
        max_ratio=max_ratio,
        max_depth=max_depth,
    )
    settings = _advisory_settings(advisories, db, source, osv_url, ignore_file, only_fixed, max_db_age, osv_retries)
    if fail_on not in FAIL_ON:
        raise _fail(f"unknown --fail-on {fail_on!r}; one of: {', '.join(FAIL_ON)}", ExitCode.USAGE)
    config = ScanConfig(
        path=path, layers=tuple(layer or ()), kind=kind, limits=limits, strict=strict, advisories=settings
    )
    started = time.perf_counter()
    progress = _DelayedProgress()
    try:
        result = run(config, progress.update)
    except DepscanError as e:
        progress.stop()
        raise _fail(str(e), e.exit_code) from None
    except Exception as e:  # a bug must still end in one line, not a traceback, unless asked for
        progress.stop()
        if os.environ.get("DEPSCAN_DEBUG"):
            raise
        raise _fail(f"{path}: internal error ({type(e).__name__}: {e}); set DEPSCAN_DEBUG=1 for a traceback",
                    ExitCode.BAD_INPUT) from None
    progress.stop()
    to_terminal = output in (None, "-") and sys.stdout.isatty()
    width = os.get_terminal_size().columns if to_terminal else 160
    data = get_reporter(format)(result, ReportOptions(color=to_terminal, width=width))
    try:
        write_atomic(output or "-", data)
    except DepscanError as e:
        raise _fail(str(e), e.exit_code) from None
    for note in result.notes:
        typer.echo(f"depscan: note: {note}", err=True)
    typer.echo(_summary(result, time.perf_counter() - started), err=True)
    _exit_for(result, fail_on, strict)



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


def _exit_for(result: Any, fail_on: str, strict: bool) -> None:
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
    bad = failing(result.findings, fail_on)
    if bad:
        raise typer.Exit(int(ExitCode.FINDINGS))
    if strict and result.unknowns:
        raise _fail(f"{len(result.unknowns)} unknown(s): the scan is incomplete (--strict)", ExitCode.INCOMPLETE)


def _summary(result: object, seconds: float) -> str:
    from depscan.models import PythonDist, ScanResult, Status

    assert isinstance(result, ScanResult)
    dists = [c for c in result.components if isinstance(c, PythonDist)]
    shadowed = sum(1 for d in dists if d.status is Status.SHADOWED)
    parts = [f"{len(dists)} Python distributions"]
    if shadowed:
        parts.append(f"{shadowed} shadowed")
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
    """A progress display on stderr that appears only for scans longer than a second, on a terminal."""

    def __init__(self) -> None:
        self._started = time.monotonic()
        self._enabled = sys.stderr.isatty() and not os.environ.get("CI")
        self._progress: object | None = None
        self._task: Any = None

    def update(self, stage: str, done: int, total: int) -> None:
        if not self._enabled or time.monotonic() - self._started < 1.0:
            return
        from rich.progress import Progress

        if self._progress is None:
            progress = Progress(transient=True)
            progress.start()
            self._progress = progress
            self._task = progress.add_task(stage, total=total or None)
        assert isinstance(self._progress, Progress) and self._task is not None
        self._progress.update(self._task, description=stage, completed=done, total=total or None)

    def stop(self) -> None:
        if self._progress is not None:
            from rich.progress import Progress

            assert isinstance(self._progress, Progress)
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
