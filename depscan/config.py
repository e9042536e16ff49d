"""ScanConfig: everything a scan needs to know, frozen, built by the CLI (or by tests)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from depscan.artifacts.limits import Limits
from depscan.errors import UsageError

OSV_API_URL = "https://api.osv.dev"  # the public OSV API (--osv-url overrides it, for mirrors)
DB_ENV = "DEPSCAN_DB"  # the environment variable naming the offline advisory database
MAX_IGNORE_FILE_BYTES = 1024 * 1024  # --ignore-file / .depscan.toml: a regular file of at most this
OSV_TIMEOUT = 120.0  # seconds for one whole online lookup (--osv-timeout): one deadline, not per read
INDEX_URL = "https://pypi.org/simple/"  # the package index --check-index asks (--index-url overrides it)
INDEX_TIMEOUT = 120.0  # seconds for every package index request of one run (--index-timeout)
DOWNLOAD_TIMEOUT = 600.0  # seconds for every download of one `db update` (its --timeout)


@dataclass(frozen=True, slots=True)
class IgnoreRule:
    """An ``[[ignore]]`` entry of ``.depscan.toml``: suppress an advisory (by id or alias) until ``expires``."""

    id: str
    reason: str
    expires: date | None


@dataclass(frozen=True, slots=True)
class AdvisorySettings:
    """Where advisories come from and how findings are filtered.

    ``mode``: ``auto`` uses the offline database when one is chosen (``export``, ``db_path``,
    ``$DEPSCAN_DB``) or already exists at the default place, and the online OSV API otherwise;
    ``offline`` and ``online`` force one; ``skip`` does no advisory matching (inventory only).
    """

    mode: str = "auto"
    db_path: Path | None = None
    export: Path | None = None
    osv_url: str = OSV_API_URL
    osv_retries: int = 4
    osv_timeout: float = OSV_TIMEOUT
    cache_dir: Path | None = None
    ignores: tuple[IgnoreRule, ...] = ()
    only_fixed: bool = False
    max_age_days: int = 7
    # --check-index: the package index (PEP 503/691 simple URL) asked which fix versions exist and install on
    # the target (depscan/pypi_index.py); None: not asked, the fix advice comes from the advisory data alone
    index_url: str | None = None
    index_timeout: float = INDEX_TIMEOUT


@dataclass(frozen=True, slots=True)
class ScanConfig:
    """One scan's inputs and settings."""

    path: str
    layers: tuple[str, ...] = ()
    kind: str = "auto"
    limits: Limits = field(default_factory=Limits)
    strict: bool = False
    hash_artifact: bool = False  # sha256 of the input file (SBOM root component); costs a full read
    advisories: AdvisorySettings = field(default_factory=lambda: AdvisorySettings(mode="skip"))
    native_cache: bool = True  # what native files' bytes say, kept on disk by content hash (--no-cache: off)
    runtime: str | None = None  # --runtime: an AWS Lambda runtime identifier (runtimes.py); None: inferred
    arch: str | None = None  # --arch: x86_64, arm64 (aarch64); None: inferred from the ELF files
    verify_record: bool = False  # --verify-record: every file a RECORD lists read and hashed (record_check.py)


def read_toml(path: Path, limit: int, what: str) -> dict[str, Any]:
    """A user's TOML file (``.depscan.toml``) as a table: a regular file of at most ``limit`` bytes, UTF-8,
    valid TOML; anything else is a usage error naming the file and the problem."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10
        import tomli as tomllib

    from depscan.regular_files import read_regular

    raw = read_regular(path, limit, what, UsageError)
    try:
        data: dict[str, Any] = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: not valid TOML ({e})") from e
    except RecursionError as e:
        raise UsageError(f"{path}: not valid TOML (nested too deeply)") from e
    return data


def load_ignores(path: Path) -> list[IgnoreRule]:
    """Read the ``[[ignore]]`` tables of a ``.depscan.toml`` file.

    Each needs ``id`` and ``reason``; ``expires`` is a TOML date (``2025-06-30``). A bad file (not
    a regular file, over ``MAX_IGNORE_FILE_BYTES``, not TOML) is a usage error naming the file and
    the problem.
    """
    data = read_toml(path, MAX_IGNORE_FILE_BYTES, "an ignore file")
    entries = data.get("ignore", [])
    if not isinstance(entries, list):
        raise UsageError(f"{path}: 'ignore' must be an array of tables ([[ignore]])")
    rules = []
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise UsageError(f"{path}: ignore #{number} is not a table")
        ident, reason, expires = entry.get("id"), entry.get("reason"), entry.get("expires")
        if not isinstance(ident, str) or not ident:
            raise UsageError(f"{path}: ignore #{number} needs an 'id'")
        if not isinstance(reason, str) or not reason.strip():
            raise UsageError(f"{path}: ignore {ident} needs a 'reason'")
        if isinstance(expires, datetime):
            expires = expires.date()
        if expires is not None and not isinstance(expires, date):
            raise UsageError(f"{path}: ignore {ident}: 'expires' must be a date like 2025-06-30")
        rules.append(IgnoreRule(ident, reason.strip(), expires))
    return rules
