"""The error hierarchy and the one exit-code table.

Core code raises these; only ``cli.py`` turns them into messages and exit codes.
Messages start with the path they are about: ``"{path}: RECORD line 12: bad hash encoding"``.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes. This is the only table; the README documents it."""

    OK = 0
    FINDINGS = 1
    USAGE = 2
    BAD_INPUT = 3
    LOOKUP_FAILED = 4
    INCOMPLETE = 5
    INTERNAL = 70  # a bug in depscan (sysexits EX_SOFTWARE), never "unreadable input" nor "findings"
    INTERRUPTED = 130  # SIGINT (Ctrl-C): 128 + 2, as a shell reports it; temporary files removed
    TERMINATED = 143  # SIGTERM (a cancelled CI job): 128 + 15; temporary files removed


class DepscanError(Exception):
    """Base of every error depscan raises on purpose."""

    exit_code: ExitCode = ExitCode.BAD_INPUT


class UsageError(DepscanError):
    """The command line asks for something that cannot be done."""

    exit_code = ExitCode.USAGE


class OutputError(DepscanError):
    """An output file could not be written."""

    exit_code = ExitCode.USAGE


class InputError(DepscanError):
    """An input other than the artifact (an advisory database, a baseline) could not be read."""

    exit_code = ExitCode.BAD_INPUT


class ArtifactError(DepscanError):
    """An input artifact could not be opened or read."""

    exit_code = ExitCode.BAD_INPUT


class UnsupportedArtifact(ArtifactError):
    """The input is not a kind of artifact depscan reads."""


class CorruptArtifact(ArtifactError):
    """The input claims to be an archive but is damaged or truncated."""


class HostileArtifact(ArtifactError):
    """The input trips a safety limit (zip bomb, too many entries, nesting too deep)."""


class MemberError(Exception):
    """One member of an artifact could not be read; becomes an ``Unknown``, never an abort."""
