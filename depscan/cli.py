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
    format: Annotated[str, typer.Option("--format", "-f", help="Output format: table or json.")] = "table",
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
) -> None:
    """Inventory every Python distribution in an artifact."""
    from depscan.artifacts.limits import Limits
    from depscan.config import ScanConfig
    from depscan.output import write_atomic
    from depscan.reporters import FORMATS, get_reporter
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
    config = ScanConfig(path=path, layers=tuple(layer or ()), kind=kind, limits=limits, strict=strict)
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
    data = get_reporter(format, color=to_terminal, width=width)(result)
    try:
        write_atomic(output or "-", data)
    except DepscanError as e:
        raise _fail(str(e), e.exit_code) from None
    typer.echo(_summary(result, time.perf_counter() - started), err=True)
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


def main() -> None:
    """Entry point of the ``depscan`` console script."""
    app()
