"""The command line: options only. They become a ScanConfig; ``scan.run()`` does the work;
``finish.finish()`` writes the reports and decides the exit code (``policy.verdict``); one guard
around every command turns errors into exit codes (``errors.ExitCode``).

Heavy modules are imported inside the commands so that ``depscan --help`` starts fast.
"""

from __future__ import annotations

import functools
import gc
import os
import re
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Annotated, Any

import typer
from typer.exceptions import TyperException

from depscan import __version__
from depscan.config import DOWNLOAD_TIMEOUT, INDEX_TIMEOUT, INDEX_URL, OSV_API_URL, OSV_TIMEOUT
from depscan.errors import DepscanError, ExitCode

app = typer.Typer(
    name="depscan",
    help="Inventory the Python dependencies inside Lambda zips, layers, container images, wheels and directories.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

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


def _command(group: typer.Typer, name: str | None = None) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a command behind the one error guard every command goes through (``_guarded``)."""

    def register(func: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(func)
        def guarded(*args: Any, **kwargs: Any) -> None:
            _guarded(lambda: func(*args, **kwargs))

        group.command(name)(guarded)
        return func

    return register


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C so that every ``finally`` block runs (temporary
    reports and databases are removed) before the process exits 143."""


def _on_sigterm(signum: int, frame: Any) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not interrupt the cleanup
    raise _Terminated


def _guarded(work: Callable[[], Any]) -> Any:
    """Run ``work``: a DepscanError becomes its message and exit code; a bug (any other exception)
    becomes one line and exit 70 (internal error), with the traceback too when DEPSCAN_DEBUG is set.
    SIGTERM and SIGINT unwind the work (its cleanup runs) and exit 143 and 130."""
    installed = threading.current_thread() is threading.main_thread()
    if installed:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return work()
    except (typer.Exit, typer.Abort, TyperException):
        raise
    except _Terminated:
        raise _fail("terminated (SIGTERM); temporary files removed", ExitCode.TERMINATED) from None
    except KeyboardInterrupt:
        raise _fail("interrupted; temporary files removed", ExitCode.INTERRUPTED) from None
    except DepscanError as e:
        raise _fail(str(e), e.exit_code) from None
    except Exception as e:
        if os.environ.get("DEPSCAN_DEBUG"):
            traceback.print_exc()
        detail = " ".join(f"{type(e).__name__}: {e}".split())
        hint = "" if os.environ.get("DEPSCAN_DEBUG") else "; set DEPSCAN_DEBUG=1 for a traceback"
        raise _fail(f"internal error, a bug in depscan ({detail}){hint}", ExitCode.INTERNAL) from None
    finally:
        if installed:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


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
OsvTimeout = Annotated[
    float, typer.Option("--osv-timeout", help="Seconds the whole online lookup may take (one deadline, retries "
                        "included); what is not answered by then is not checked (exit 4).")
]
CheckIndex = Annotated[
    bool, typer.Option("--check-index", help="Ask the package index (--index-url) which fix versions exist, are "
                       "not yanked and have a wheel for the target; their hashes and Requires-Dist too. Without it "
                       "the fix advice comes from the advisory data alone and says availability was not checked.")
]
IndexUrl = Annotated[
    str, typer.Option("--index-url", help="Package index for --check-index (PEP 691 JSON simple API, else the "
                      "per-project JSON API).")
]
IndexTimeout = Annotated[
    float, typer.Option("--index-timeout", help="Seconds every package index request of --check-index may take "
                        "together (one deadline, retries included).")
]
IgnoreFile = Annotated[
    str | None, typer.Option("--ignore-file", help="Ignore rules (default: ./.depscan.toml if present).")
]
FailOn = Annotated[
    str, typer.Option("--fail-on", help="Exit 1 on findings at or above: any, low, medium, high, critical. A "
                      "known-malicious package (OSV MAL- record) exits 1 at any level.")
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
        help="A report: FORMAT (to stdout), FORMAT=FILE, or FILE (in --format). Repeat for several; regular files "
        "are written atomically, devices, FIFOs and /dev/stdout written through.",
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
DependencyTrackOption = Annotated[
    str | None,
    typer.Option("--dependency-track", help="Upload the CycloneDX SBOM to this Dependency-Track server (base URL; "
                 "API key from $DEPSCAN_DTRACK_API_KEY) and wait until it is processed. A failed upload exits 4."),
]
DtrackProject = Annotated[
    str | None, typer.Option("--dtrack-project", help="Dependency-Track project name (default: the file's name).")
]
DtrackVersion = Annotated[
    str, typer.Option("--dtrack-version", help="Dependency-Track project version (e.g. the commit being built).")
]


@_command(app)
def scan(
    ctx: typer.Context,
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
    max_kept_bytes: Annotated[
        str, typer.Option(help="Most bytes a pass over a compressed tar or image keeps in memory (e.g. 128M).")
    ] = "128M",
    advisories: Advisories = None,
    db: Db = None,
    source: Source = "auto",
    osv_url: OsvUrl = OSV_API_URL,
    osv_retries: OsvRetries = 4,
    osv_timeout: OsvTimeout = OSV_TIMEOUT,
    check_index: CheckIndex = False,
    index_url: IndexUrl = INDEX_URL,
    index_timeout: IndexTimeout = INDEX_TIMEOUT,
    ignore_file: IgnoreFile = None,
    fail_on: FailOn = "any",
    only_fixed: OnlyFixed = False,
    max_db_age: MaxDbAge = 7,
    cyclonedx_version: CycloneDXVersion = "1.6",
    baseline: Baseline = None,
    new_only: NewOnly = False,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Read, parse and identify every native file again; leave the "
                           "on-disk cache of native files ($DEPSCAN_CACHE_DIR, else the user cache) alone.")
    ] = False,
    runtime: Annotated[
        str | None,
        typer.Option("--runtime", help="The AWS Lambda runtime the artifact runs on (python3.8 ... python3.14): its "
                     "Python and glibc judge wheel tags and native code. Default: inferred from the artifact."),
    ] = None,
    arch: Annotated[
        str | None,
        typer.Option("--arch", help="The target machine: x86_64 or arm64. Default: the ELF files' majority."),
    ] = None,
    verify_record: Annotated[
        bool, typer.Option("--verify-record", help="Read every file each RECORD lists and report files modified "
                           "(sha256 or size), missing, or present in a distribution's directories but listed nowhere.")
    ] = False,
    dependency_track: DependencyTrackOption = None,
    dtrack_project: DtrackProject = None,
    dtrack_version: DtrackVersion = "latest",
) -> None:
    """Inventory every Python distribution in an artifact and check it against OSV advisories."""
    from depscan.artifacts.limits import Limits
    from depscan.config import ScanConfig
    from depscan.runtimes import lambda_runtime, machine_for_arch
    from depscan.scan import run

    if runtime is not None:
        lambda_runtime(runtime)  # a usage error before the artifact is read
    if arch is not None:
        machine_for_arch(arch)

    outputs = _outputs(output, format, cyclonedx_version)
    _check_verdict_options(fail_on, baseline, new_only)
    settings = _advisory_settings(advisories, db, source, osv_url, ignore_file, only_fixed, max_db_age, osv_retries,
                                  osv_timeout, index_url if check_index else None, index_timeout)
    upload = _Upload.make(dependency_track, dtrack_project or os.path.basename(os.path.normpath(path)),
                          dtrack_version, cyclonedx_version)
    limits = Limits(
        max_total_bytes=parse_size(max_total_bytes),
        max_entries=max_entries,
        max_member_bytes=parse_size(max_member_bytes),
        max_ratio=max_ratio,
        max_depth=max_depth,
        max_kept_bytes=parse_size(max_kept_bytes),
    )
    config = ScanConfig(
        path=path,
        layers=tuple(layer or ()),
        kind=kind,
        limits=limits,
        strict=strict,
        hash_artifact=upload is not None or any(fmt in SBOM_FORMATS for fmt, _file in outputs),
        advisories=settings,
        native_cache=not no_cache,
        runtime=runtime,
        arch=arch,
        verify_record=verify_record,
    )
    started = time.perf_counter()
    progress = _DelayedProgress()
    try:
        result = run(config, progress.update)
    finally:
        progress.stop()
    _finish(result, outputs, started, cyclonedx_version=cyclonedx_version, baseline=baseline, fail_on=fail_on,
            strict=strict, new_only=new_only, upload=upload, command=_command_line(ctx))


@_command(app)
def rescan(
    sbom: Annotated[str, typer.Argument(help="A stored SBOM: CycloneDX (JSON or XML) or SPDX 2.x JSON.")],
    format: Format = "table",
    output: Output = None,
    advisories: Advisories = None,
    db: Db = None,
    source: Source = "auto",
    osv_url: OsvUrl = OSV_API_URL,
    osv_retries: OsvRetries = 4,
    osv_timeout: OsvTimeout = OSV_TIMEOUT,
    check_index: CheckIndex = False,
    index_url: IndexUrl = INDEX_URL,
    index_timeout: IndexTimeout = INDEX_TIMEOUT,
    ignore_file: IgnoreFile = None,
    fail_on: FailOn = "any",
    only_fixed: OnlyFixed = False,
    max_db_age: MaxDbAge = 7,
    cyclonedx_version: CycloneDXVersion = "1.6",
    baseline: Baseline = None,
    new_only: NewOnly = False,
    dependency_track: DependencyTrackOption = None,
    dtrack_project: DtrackProject = None,
    dtrack_version: DtrackVersion = "latest",
) -> None:
    """Check the components of a stored SBOM against current advisories (no rebuild needed)."""
    from depscan.scan import rescan as run_rescan

    outputs = _outputs(output, format, cyclonedx_version)
    _check_verdict_options(fail_on, baseline, new_only)
    settings = _advisory_settings(advisories, db, source, osv_url, ignore_file, only_fixed, max_db_age, osv_retries,
                                  osv_timeout, index_url if check_index else None, index_timeout)
    if settings.mode == "skip":
        raise _fail("rescan exists to check advisories: --source skip makes no sense here", ExitCode.USAGE)
    upload = _Upload.make(dependency_track, dtrack_project or os.path.basename(os.path.normpath(sbom)),
                          dtrack_version, cyclonedx_version)
    started = time.perf_counter()
    result = run_rescan(sbom, settings)
    _finish(result, outputs, started, cyclonedx_version=cyclonedx_version, baseline=baseline, fail_on=fail_on,
            strict=False, new_only=new_only, upload=upload)


CHECK_FORMATS = ("table", "json", "markdown", "sarif")


def _rule_list(values: list[str] | None) -> tuple[str, ...]:
    """Repeatable options that also take comma-separated lists (``--select DS0,DS101``)."""
    return tuple(part.strip() for value in values or () for part in value.split(",") if part.strip())


@_command(app)
def check(
    paths: Annotated[
        list[str] | None,
        typer.Argument(help="A directory (default: .): its declared-dependency files and what git tracks in it; or "
                       "files, relative to the current directory (what pre-commit passes)."),
    ] = None,
    format: Annotated[
        str, typer.Option("--format", "-f", help="Format of a report given without one: table, json, markdown, sarif.")
    ] = "table",
    output: Output = None,
    fail_on: Annotated[
        str, typer.Option("--fail-on", help="Exit 1 on findings at or above: any, low, medium, high, critical.")
    ] = "any",
    require_hashes: Annotated[
        bool, typer.Option("--require-hashes", help="Every requirement of a requirements or lock file needs a hash "
                           "(DS002), as pip --require-hashes.")
    ] = False,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Run only these check families (repeat, or comma-separated): pins (DS001-DS007 "
                     "on declared files), committed (DS101-DS104: dependencies committed to git), audit (the exact "
                     "pins against advisories). Default: pins and committed, and audit with --audit."),
    ] = None,
    select: Annotated[
        list[str] | None,
        typer.Option("--select", help="Rule ids or prefixes to report (repeat, or comma-separated: DS0, DS101); "
                     "replaces the select list of .depscan.toml (its check table)."),
    ] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option("--ignore", help="Rule ids or prefixes never reported (repeat, or comma-separated); added to "
                     "the ignore list of .depscan.toml (its check table)."),
    ] = None,
    audit: Annotated[
        bool, typer.Option("--audit", help="Also match the exact pins of the checked requirement and lock files "
                           "against advisories (offline database when present, else the OSV API; as scan's "
                           "--source auto). A lookup that fails exits 4.")
    ] = False,
    advisories: Advisories = None,
    db: Db = None,
    source: Source = "auto",
    osv_url: OsvUrl = OSV_API_URL,
    osv_retries: OsvRetries = 4,
    osv_timeout: OsvTimeout = OSV_TIMEOUT,
    ignore_file: IgnoreFile = None,
    max_db_age: MaxDbAge = 7,
) -> None:
    """Check a repository's declared dependencies offline (unpinned requirements, missing hashes, mutable URLs,
    editable installs, extra indexes, trusted hosts: DS001-DS007), the dependencies committed to it (site-packages
    trees, vendored copies, native binaries, wheels and zips: DS101-DS104), and with --audit its pins'
    vulnerabilities (README "depscan check")."""
    from dataclasses import replace
    from pathlib import Path

    from depscan.declared.check import DEFAULT_FAMILIES, FAMILIES, check_repository
    from depscan.declared.config import load as load_config

    started = time.perf_counter()
    _check_choice("--format", format, CHECK_FORMATS)
    outputs = _outputs(output, format, "1.6")
    for fmt, _file in outputs:
        _check_choice("--output format", fmt, CHECK_FORMATS)
    _check_verdict_options(fail_on, None, False)
    chosen = _rule_list(only)
    for family in chosen:
        _check_choice("--only", family, FAMILIES)
    families = frozenset(chosen) if chosen else DEFAULT_FAMILIES
    if audit:
        families |= {"audit"}
    settings = None
    if "audit" in families:
        settings = _advisory_settings(advisories, db, source, osv_url, ignore_file, False, max_db_age, osv_retries,
                                      osv_timeout)
        if settings.mode == "skip":
            raise _fail("--audit needs advisories: --source skip makes no sense here", ExitCode.USAGE)
    arguments = list(paths or ["."])
    root = arguments[0] if len(arguments) == 1 and os.path.isdir(arguments[0]) else "."
    config = load_config(Path(root))
    if require_hashes:
        config = replace(config, require_hashes=True)
    if select:
        config = replace(config, select=_rule_list(select))
    if ignore:
        config = replace(config, ignore=(*config.ignore, *_rule_list(ignore)))
    run = check_repository(arguments, config, families=families)
    result = run.result
    if settings is not None:
        from depscan.declared.audit import audit as audit_pins

        result = audit_pins(run, settings, say_errors="pins" not in families)
    from depscan.policy import verdict

    judged = verdict(result, fail_on)
    _write_check_reports(result, outputs)
    for note in result.notes:
        typer.echo(f"depscan: note: {note}", err=True)
    files = int(result.stats.get("declared_files", 0))
    found = len(result.policy_findings)
    audited = ""
    if "audited_pins" in result.stats:
        from depscan.models import component_location

        pins = int(result.stats["audited_pins"])
        vulnerable = len({(component_location(f.component).path, f.component.name, f.component.version)
                          for f in result.findings})
        audited = (f", {vulnerable} of {pins} pin{'' if pins == 1 else 's'} vulnerable"
                   + (f", {len(result.unchecked)} NOT CHECKED" if result.unchecked else ""))
    typer.echo(f"depscan: check {result.artifact.label}: {files} declared file{'' if files == 1 else 's'}, "
               f"{found} finding{'' if found == 1 else 's'}{audited} in {time.perf_counter() - started:.2f}s", err=True)
    if judged.message:
        raise _fail(judged.message, judged.code)
    raise typer.Exit(int(judged.code))


def _write_check_reports(result: Any, outputs: list[tuple[str, str]]) -> None:
    """Every report of a check rendered, then each written (``output.write_output``: regular files atomically).
    A clean check's table is one line, written without loading the table reporter (rich): a pre-commit hook
    starts fast. (Not ``finish``: a check has no baseline, no inventory and no summary facts to derive.)"""
    from depscan.output import write_output
    from depscan.reporters import ReportOptions, get_reporter

    width = os.get_terminal_size().columns if sys.stdout.isatty() else None
    rendered: list[tuple[str, bytes]] = []
    for fmt, file in outputs:
        if fmt == "table" and not result.policy_findings and not result.findings and not result.unchecked:
            rendered.append((file, f"{result.artifact.label}: no findings in the declared dependency "
                                   "files.\n".encode()))
            continue
        to_terminal = file == "-" and width is not None
        options = ReportOptions(color=to_terminal, width=width if to_terminal and width is not None else 160)
        rendered.append((file, get_reporter(fmt)(result, options)))
    for file, data in rendered:
        write_output(file, data)


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


def _check_verdict_options(fail_on: str, baseline: str | None, new_only: bool) -> None:
    from depscan.policy import FAIL_ON

    _check_choice("--fail-on", fail_on, FAIL_ON)
    if new_only and baseline is None:
        raise _fail("--new-only needs --baseline", ExitCode.USAGE)


def _finish(
    result: Any,
    outputs: list[tuple[str, str]],
    started: float,
    *,
    cyclonedx_version: str,
    baseline: str | None,
    fail_on: str,
    strict: bool,
    new_only: bool,
    upload: _Upload | None = None,
    command: list[str] | None = None,
) -> None:
    """Reports, notes, the summary line and the exit code: ``finish.finish`` decides, this prints."""
    from depscan.finish import finish

    width = os.get_terminal_size().columns if sys.stdout.isatty() else None
    done = finish(
        result,
        outputs,
        seconds=time.perf_counter() - started,
        cyclonedx_version=cyclonedx_version,
        baseline=baseline,
        fail_on=fail_on,
        strict=strict,
        new_only=new_only,
        stdout_width=width,
        command=command,
    )
    for line in done.lines:
        typer.echo(line, err=True)
    if upload is not None and not upload.send(result) and done.verdict.code == ExitCode.OK:
        raise _fail("the SBOM upload to Dependency-Track failed", ExitCode.LOOKUP_FAILED)
    if done.verdict.message:
        raise _fail(done.verdict.message, done.verdict.code)
    raise typer.Exit(int(done.verdict.code))


class _Upload:
    """``--dependency-track``: the result's CycloneDX JSON SBOM uploaded after the reports are written."""

    def __init__(self, tracker: Any, project: str, version: str, cyclonedx_version: str) -> None:
        self.tracker, self.project, self.version = tracker, project, version
        self.cyclonedx_version = cyclonedx_version

    @classmethod
    def make(cls, url: str | None, project: str, version: str, cyclonedx_version: str) -> _Upload | None:
        tracker = _dependency_track(url)  # a missing API key is a usage error before anything is read
        return None if tracker is None else cls(tracker, project, version, cyclonedx_version)

    def send(self, result: Any) -> bool:
        from depscan.reporters import ReportOptions, get_reporter

        bom = get_reporter("cyclonedx-json")(result, ReportOptions(cyclonedx_version=self.cyclonedx_version))
        sent = self.tracker.upload(self.project, self.version, bom)
        typer.echo(f"depscan: dependency-track: {sent.project} {sent.version}: {sent.message}", err=True)
        return bool(sent.ok)


def _command_line(ctx: typer.Context) -> list[str]:
    """The running command as the user gave it (``depscan scan function.zip --layer layer.zip ...``): the
    arguments and the options given on the command line (not defaults), for the rescan plan."""
    words = ["depscan", ctx.info_name or ctx.command.name or ""]
    options: list[str] = []
    for param in ctx.command.params:
        name = param.name
        if name is None or getattr(ctx.get_parameter_source(name), "name", "") != "COMMANDLINE":
            continue
        value = ctx.params.get(name)
        if param.param_type_name == "argument":
            words.append(str(value))
            continue
        long = max(param.opts, key=len)
        info: Any = param
        if getattr(info, "is_flag", False):
            if value:
                options.append(long)
            elif param.secondary_opts:
                options.append(max(param.secondary_opts, key=len))
        elif isinstance(value, (list, tuple)):
            for item in value:
                options += [long, str(item)]
        elif value is not None:
            options += [long, str(value)]
    return words + options


MAX_DEADLINE = 86_400.0  # a day: a deadline option above it is a mistake


def _check_deadline(option: str, seconds: float) -> None:
    if not 0 < seconds <= MAX_DEADLINE:  # (NaN fails too)
        raise _fail(f"{option} must be a number of seconds above 0 and at most {MAX_DEADLINE:g}, not {seconds:g}",
                    ExitCode.USAGE)


def _advisory_settings(
    advisories: str | None,
    db: str | None,
    source: str,
    osv_url: str,
    ignore_file: str | None,
    only_fixed: bool,
    max_db_age: int,
    osv_retries: int,
    osv_timeout: float,
    index_url: str | None = None,
    index_timeout: float = INDEX_TIMEOUT,
) -> Any:
    from pathlib import Path

    from depscan.config import AdvisorySettings, load_ignores

    if source not in ("auto", "offline", "online", "skip"):
        raise _fail(f"unknown --source {source!r}; one of: auto, offline, online, skip", ExitCode.USAGE)
    if source == "online" and (advisories or db):
        raise _fail("--source online cannot be combined with --advisories or --db", ExitCode.USAGE)
    _check_deadline("--osv-timeout", osv_timeout)
    _check_deadline("--index-timeout", index_timeout)
    if index_url is not None and not index_url.startswith(("https://", "http://")):
        raise _fail(f"--index-url must be an http(s) URL, not {index_url!r}", ExitCode.USAGE)
    if index_url is not None and source == "skip":
        raise _fail("--check-index needs advisories: --source skip gives nothing to fix", ExitCode.USAGE)
    ignores: list[Any] = []
    candidate = Path(ignore_file) if ignore_file else Path(".depscan.toml")
    if ignore_file or os.path.lexists(candidate):  # present but not a regular file: refused, not skipped
        ignores = load_ignores(candidate)
    return AdvisorySettings(
        mode=source,
        db_path=Path(db) if db else None,
        export=Path(advisories) if advisories else None,
        osv_url=osv_url,
        osv_retries=osv_retries,
        osv_timeout=osv_timeout,
        ignores=tuple(ignores),
        only_fixed=only_fixed,
        max_age_days=max_db_age,
        index_url=index_url,
        index_timeout=index_timeout,
    )


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


@_command(db_app, "import")
def db_import(
    sources: Annotated[list[str], typer.Argument(help="OSV export zips, directories of records, record files.")],
    db: DbOption = None,
    max_total_bytes: Annotated[
        str, typer.Option(help="Most bytes of records one import reads and decompresses (e.g. 1G).")
    ] = "1G",
) -> None:
    """Import OSV records into the offline database (atomically; concurrent imports run in turn)."""
    from pathlib import Path

    from depscan.db_commands import db_path, import_into

    path = db_path(db)
    for report in import_into(path, [Path(s) for s in sources], parse_size(max_total_bytes)):
        typer.echo(f"{report.location}: {report.records} records imported, {report.skipped} skipped", err=True)
        for problem in report.problems:
            typer.echo(f"  skipped: {problem}", err=True)
    typer.echo(f"database: {path}", err=True)


@_command(db_app, "update")
def db_update(
    db: DbOption = None,
    url: Annotated[str, typer.Option("--url", help="Base URL of the OSV exports (for mirrors).")] = "",
    ecosystem: Annotated[
        list[str] | None, typer.Option("--ecosystem", help="Ecosystems to fetch (repeat).")
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds all the downloads may take together (one deadline).")
    ] = DOWNLOAD_TIMEOUT,
) -> None:
    """Download the OSV export zips, verify them and import them."""
    from depscan.advisories.download import DEFAULT_EXPORT_URL
    from depscan.db_commands import db_path, update

    _check_deadline("--timeout", timeout)
    path = db_path(db)
    for eco, report in update(path, url or DEFAULT_EXPORT_URL, ecosystem or ["PyPI"], timeout):
        typer.echo(f"{eco}: {report.records} records, {report.skipped} skipped", err=True)
    typer.echo(f"database: {path}", err=True)


@_command(db_app, "status")
def db_status(db: DbOption = None) -> None:
    """Show the offline database: sources, record counts, newest record, age."""
    from depscan.db_commands import db_path, status_lines

    for line in status_lines(db_path(db)):
        typer.echo(line)


@_command(app)
def fix(
    requirements: Annotated[
        str, typer.Option("--requirements", "-r", help="The requirements (or lock) file whose pins to fix.")
    ],
    write: Annotated[bool, typer.Option("--write", help="Apply the changes to the file (atomically).")] = False,
    advisories: Advisories = None,
    db: Db = None,
    source: Source = "auto",
    osv_url: OsvUrl = OSV_API_URL,
    osv_retries: OsvRetries = 4,
    osv_timeout: OsvTimeout = OSV_TIMEOUT,
    ignore_file: IgnoreFile = None,
    max_db_age: MaxDbAge = 7,
    check_index: CheckIndex = False,
    index_url: IndexUrl = INDEX_URL,
    index_timeout: IndexTimeout = INDEX_TIMEOUT,
    runtime: Annotated[
        str | None, typer.Option("--runtime", help="The Lambda runtime the pins install on (python3.12 ...): "
                                 "only releases with a wheel for it are recommended (with --check-index).")
    ] = None,
    arch: Annotated[str | None, typer.Option("--arch", help="The target machine: x86_64 or arm64.")] = None,
) -> None:
    """The exact pins that fix every vulnerable pin of a requirements file: a unified diff, or --write it."""
    from depscan.fix_requirements import fix_file
    from depscan.output import write_output
    from depscan.runtimes import lambda_runtime, machine_for_arch

    if runtime is not None:
        lambda_runtime(runtime)
    if arch is not None:
        machine_for_arch(arch)
    settings = _advisory_settings(advisories, db, source, osv_url, ignore_file, False, max_db_age, osv_retries,
                                  osv_timeout, index_url if check_index else None, index_timeout)
    if settings.mode == "skip":
        raise _fail("fix needs advisories: --source skip makes no sense here", ExitCode.USAGE)
    plan, result = fix_file(requirements, settings, runtime, arch)
    for note in result.notes:
        typer.echo(f"depscan: note: {note}", err=True)
    for pin in plan.pins:
        where = f"{plan.path}:{pin.line}: {pin.name} {pin.current}"
        if pin.recommended is None:
            typer.echo(f"depscan: {where}: no fix: {pin.why_not}", err=True)
        elif pin.applied:
            major = " (leaves its major line)" if pin.breaking else ""
            cleared = ", ".join(pin.advisories)
            typer.echo(f"depscan: {where} -> {pin.recommended}{major}: clears {cleared}"
                       + (f"; breaks {', '.join(pin.conflicts)}" if pin.conflicts else ""), err=True)
        else:
            typer.echo(f"depscan: {where} -> {pin.recommended}: not written: {pin.why_not}", err=True)
    for note in plan.notes:
        typer.echo(f"depscan: note: {note}", err=True)
    for command in plan.commands:
        typer.echo(command)
    if plan.changed and write:
        if not os.stat(requirements).st_mode & 0o222:  # read-only means "do not edit" (root included; sed -i would)
            raise _fail(f"{requirements}: the file is read-only: not rewritten (the diff: run without --write)",
                        ExitCode.BAD_INPUT)
        write_output(requirements, plan.fixed.encode("utf-8"))
        typer.echo(f"depscan: {requirements}: {sum(p.applied for p in plan.pins)} pin(s) rewritten", err=True)
    elif plan.changed:
        typer.echo(plan.diff(), nl=False)
    if result.unchecked:
        raise _fail(f"advisories could not be checked for {len(result.unchecked)} pin(s): the file is NOT known to "
                    "be free of vulnerabilities", ExitCode.LOOKUP_FAILED)
    if plan.unread:
        raise _fail(f"{requirements}: {plan.unread} line(s) could not be read (notes above): their pins are NOT "
                    "checked", ExitCode.INCOMPLETE)
    left = [p for p in plan.pins if not p.applied or not write]
    if not plan.pins:
        typer.echo(f"depscan: {requirements}: no vulnerable pin ({len(result.components)} pin(s) checked)", err=True)
    raise typer.Exit(int(ExitCode.FINDINGS) if left else int(ExitCode.OK))


aws_app = typer.Typer(help="Scan what is deployed in an AWS account (needs the aws extra: boto3).",
                      no_args_is_help=True)
app.add_typer(aws_app, name="aws")


@_command(aws_app, "lambda")
def aws_lambda(
    region: Annotated[
        list[str] | None, typer.Option("--region", help="A region to scan (repeat). Default: the boto3 chain's.")
    ] = None,
    function: Annotated[
        list[str] | None, typer.Option("--function", help="A function name or ARN to scan (repeat).")
    ] = None,
    all_functions: Annotated[bool, typer.Option("--all", help="Scan every function of each region.")] = False,
    out_dir: Annotated[
        str | None, typer.Option("--out-dir", help="Write each function's CycloneDX SBOM and JSON report here, "
                                 "as REGION/FUNCTION.cdx.json and REGION/FUNCTION.json.")
    ] = None,
    endpoint_url: Annotated[
        str | None, typer.Option("--endpoint-url", help="The Lambda API endpoint (local emulators).")
    ] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="An AWS profile of the shared config.")] = None,
    stale_days: Annotated[
        int, typer.Option("--stale-days", help="A function not modified for this many days is stale.")
    ] = 365,
    concurrency: Annotated[int, typer.Option("--concurrency", help="Downloads in flight at once.")] = 4,
    max_download: Annotated[
        str, typer.Option("--max-download", help="Largest function or layer zip downloaded (e.g. 512M).")
    ] = "512M",
    format: Annotated[str, typer.Option("--format", "-f", help="Fleet summary format: table or json.")] = "table",
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Write the fleet summary to this file (atomically).")
    ] = None,
    advisories: Advisories = None,
    db: Db = None,
    source: Source = "auto",
    osv_url: OsvUrl = OSV_API_URL,
    osv_retries: OsvRetries = 4,
    osv_timeout: OsvTimeout = OSV_TIMEOUT,
    ignore_file: IgnoreFile = None,
    fail_on: FailOn = "any",
    only_fixed: OnlyFixed = False,
    max_db_age: MaxDbAge = 7,
    cyclonedx_version: CycloneDXVersion = "1.6",
    strict: Annotated[
        bool, typer.Option(help="Exit 5 when a function was not scanned (a container image) or had unknowns.")
    ] = False,
    dependency_track: DependencyTrackOption = None,
) -> None:
    """Scan deployed Lambda functions with their layers: inventory, findings, runtime and age, per function."""
    from pathlib import Path

    from depscan.aws.fleet_report import render_json, render_table
    from depscan.aws.lambda_fleet import FleetOptions, fleet_exit, report_stem, scan_fleet
    from depscan.output import write_output
    from depscan.policy import FAIL_ON

    if not function and not all_functions:
        raise _fail("name functions with --function, or scan them all with --all", ExitCode.USAGE)
    _check_choice("--format", format, ("table", "json"))
    _check_choice("--fail-on", fail_on, FAIL_ON)
    _check_choice("--cyclonedx-version", cyclonedx_version, ("1.6", "1.5", "1.4"))
    if stale_days < 1 or concurrency < 1:
        raise _fail("--stale-days and --concurrency must be at least 1", ExitCode.USAGE)
    settings = _advisory_settings(advisories, db, source, osv_url, ignore_file, only_fixed, max_db_age, osv_retries,
                                  osv_timeout)
    tracker = _dependency_track(dependency_track)
    options = FleetOptions(
        regions=tuple(region) if region else (None,),
        functions=tuple(function or ()),
        all_functions=all_functions,
        out_dir=Path(out_dir) if out_dir else None,
        sboms=tracker is not None,
        endpoint_url=endpoint_url,
        profile=profile,
        stale_days=stale_days,
        concurrency=concurrency,
        max_download=parse_size(max_download),
        advisories=settings,
        cyclonedx_version=cyclonedx_version,
        fail_on=fail_on,
        strict=strict,
    )
    failed_uploads: list[str] = []

    def upload(done: Any) -> None:
        if tracker is None or done.sbom is None:
            return
        sent = tracker.upload(report_stem(done.info).replace("/", ":"), done.info.code_sha256 or "latest", done.sbom)
        typer.echo(f"depscan: dependency-track: {sent.project}: {sent.message}", err=True)
        if not sent.ok:
            failed_uploads.append(sent.project)

    progress = _DelayedProgress()
    try:
        fleet = scan_fleet(options, progress=lambda done, total, what: progress.update(what, done, total),
                           on_function=upload)
    finally:
        progress.stop()
    code = fleet_exit(fleet, strict=strict)
    if failed_uploads and code == ExitCode.OK:
        code = ExitCode.LOOKUP_FAILED
    if format == "json":
        data = render_json(fleet, int(code))
    else:
        width = os.get_terminal_size().columns if sys.stdout.isatty() and output is None else None
        data = render_table(fleet, width=width or 160, color=width is not None)
    write_output(output or "-", data)
    for function_report in fleet.functions:
        if function_report.outcome == "failed":
            typer.echo(f"depscan: error: {function_report.reason}", err=True)
    if failed_uploads:
        typer.echo(f"depscan: error: {len(failed_uploads)} SBOM upload(s) to Dependency-Track failed", err=True)
    raise typer.Exit(int(code))


def _dependency_track(url: str | None) -> Any:
    """A Dependency-Track client for ``--dependency-track`` (key from $DEPSCAN_DTRACK_API_KEY), or None."""
    if url is None:
        return None
    from depscan.dtrack import DependencyTrack

    return DependencyTrack.from_env(url)


def main() -> None:
    """Entry point of the ``depscan`` console script."""
    from depscan.gc_pause import freeze_after_pauses

    freeze_after_pauses()  # a one-shot process: what a scan builds is never walked by the collector twice
    try:
        app()
    finally:
        gc.freeze()  # nor by the interpreter's last collection at exit: the process ends here
