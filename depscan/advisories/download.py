"""``depscan db update``: download OSV export zips and verify them before they are imported.

The OSV project publishes one zip per ecosystem at ``<base>/<Ecosystem>/all.zip`` (default base:
the public OSV export bucket). A download is streamed to a temporary file next to the database,
checked against the ``x-goog-hash`` MD5 the bucket sends (when present), opened as a zip and
CRC-checked member by member; only then is it imported.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import tempfile
import zipfile
from pathlib import Path

import requests

from depscan.advisories.backend import AdvisoryError

DEFAULT_EXPORT_URL = "https://osv-vulnerabilities.storage.googleapis.com"


def export_url(base: str, ecosystem: str) -> str:
    """Where the export zip of ``ecosystem`` lives."""
    return f"{base.rstrip('/')}/{ecosystem}/all.zip"


def download_export(
    session: requests.Session, base: str, ecosystem: str, directory: Path, *, timeout: float = 60.0
) -> Path:
    """Download and verify one export zip into ``directory``; return its path (caller deletes it)."""
    url = export_url(base, ecosystem)
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{ecosystem}-all.", suffix=".zip", dir=directory)
    path = Path(name)
    md5 = hashlib.md5(usedforsecurity=False)
    try:
        with os.fdopen(fd, "wb") as fh:
            try:
                with session.get(url, stream=True, timeout=timeout) as response:
                    if response.status_code != 200:
                        raise AdvisoryError(f"{url}: HTTP {response.status_code}")
                    expected = _goog_md5(response.headers.get("x-goog-hash", ""))
                    for chunk in response.iter_content(chunk_size=1024 * 1024):
                        fh.write(chunk)
                        md5.update(chunk)
            except requests.RequestException as e:
                raise AdvisoryError(f"{url}: download failed ({e})") from e
        if expected is not None and md5.digest() != expected:
            raise AdvisoryError(f"{url}: downloaded file does not match its MD5 (x-goog-hash); not imported")
        try:
            with zipfile.ZipFile(path) as zf:
                bad = zf.testzip()
                count = sum(1 for n in zf.namelist() if n.endswith(".json"))
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise AdvisoryError(f"{url}: not a valid zip ({e}); not imported") from e
        if bad is not None:
            raise AdvisoryError(f"{url}: member {bad} fails its CRC check; not imported")
        if count == 0:
            raise AdvisoryError(f"{url}: no OSV records in the export; not imported")
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    return path


def _goog_md5(header: str) -> bytes | None:
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "md5" and value:
            with contextlib.suppress(ValueError):
                return base64.b64decode(value + "=" * (-len(value) % 4))
    return None
