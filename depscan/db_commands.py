"""The work of the ``db`` commands (import, update, status), with clear errors about the database path.

The database file is what ``db import`` and ``db update`` write: a place where it cannot be
created is a usage error (exit 2, as for an unwritable report); an existing file there that is
not a depscan database, and a missing or unreadable database for ``db status``, are unreadable
input (exit 3). Download and verification failures stay advisory errors (exit 4).
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from depscan.errors import InputError, OutputError
from depscan.timestamps import parse_timestamp

if TYPE_CHECKING:
    from depscan.advisories.osv_db import ImportReport


def db_path(db: str | None) -> Path:
    """``--db``, else ``$DEPSCAN_DB``, else the user cache."""
    from depscan.advisories.osv_db import default_db_path

    return Path(db) if db else default_db_path()


def check_target(path: Path) -> None:
    """Make sure a database can be written at ``path`` (its directory is created)."""
    if path.is_dir():
        raise OutputError(f"{path}: is a directory, not a database file")
    with contextlib.suppress(OSError):  # (a dangling link: the import creates its target; else checked below)
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):  # a FIFO would block the database open; a device must not be replaced
            from depscan.regular_files import kind_of

            raise OutputError(f"{path}: {kind_of(mode)}, not a database file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{path}: cannot create the database here ({e.strerror or e})") from e
    if not path.parent.is_dir() or not os.access(path.parent, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: cannot create the database here (directory not writable)")


def import_into(path: Path, sources: Sequence[Path], max_total_bytes: int | None = None) -> list[ImportReport]:
    """Import ``sources`` into the database at ``path`` (created when missing), atomically.

    ``max_total_bytes`` is the import's decompression budget (default ``osv_db.MAX_IMPORT_BYTES``).
    """
    from depscan.advisories.osv_db import MAX_IMPORT_BYTES, DatabaseError, import_sources

    check_target(path)
    try:
        return import_sources(path, sources, max_total_bytes or MAX_IMPORT_BYTES)
    except DatabaseError as e:  # an existing file at --db that is not a depscan database
        raise InputError(str(e)) from e


def status_lines(path: Path) -> list[str]:
    """What ``db status`` prints: record count, newest record and its age, every source."""
    import sqlite3

    from depscan.advisories.osv_db import DatabaseError, OfflineDatabase

    if not path.exists():
        raise InputError(f"{path}: no such advisory database; create it with 'depscan db import EXPORT.zip' "
                         "or 'depscan db update'")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not an advisory database")
    try:
        database = OfflineDatabase(path)
    except DatabaseError as e:
        raise InputError(str(e)) from e
    try:
        info = database.info()
        lines = [f"database: {path}", f"records: {info.records}"]
        newest = parse_timestamp(info.newest_modified) if info.newest_modified else None
        if newest is not None:
            age = (datetime.now(timezone.utc) - newest).days
            lines.append(f"newest record modified: {info.newest_modified} ({age} days ago)")
        elif info.newest_modified:
            lines.append(f"newest record modified: {info.newest_modified} (not a time)")
        for source in database.sources():
            lines.append(
                f"source: {source.location} (sha256 {source.sha256 or '-'}, imported {source.imported_at}, "
                f"{source.records} records, {source.skipped} skipped, newest {source.newest_modified or '-'})"
            )
    except (sqlite3.Error, ValueError) as e:
        raise InputError(f"{path}: not a readable advisory database ({e})") from e
    finally:
        with contextlib.suppress(sqlite3.Error):
            database.close()
    return lines


def update(
    path: Path, base_url: str, ecosystems: Sequence[str], timeout: float | None = None
) -> list[tuple[str, ImportReport]]:
    """Download each ecosystem's export zip (verified), import them, and delete the downloads.
    Every download ends within one deadline of ``timeout`` seconds (``--timeout``)."""
    from depscan.advisories.download import DEFAULT_DOWNLOAD_TIMEOUT, download_export
    from depscan.advisories.http import Deadline, tracked_session

    check_target(path)
    session, sockets = tracked_session()
    downloaded: list[Path] = []
    try:
        with Deadline(timeout or DEFAULT_DOWNLOAD_TIMEOUT, sockets, label="--timeout") as deadline:
            for eco in ecosystems:
                downloaded.append(download_export(session, base_url, eco, path.parent, deadline=deadline))
        reports = import_into(path, downloaded)
    finally:
        for file in downloaded:
            file.unlink(missing_ok=True)
    return list(zip(ecosystems, reports, strict=True))
