"""``depscan db update``: download OSV export zips and verify them before they are imported.

The OSV project publishes one zip per ecosystem at ``<base>/<Ecosystem>/all.zip`` (default base:
the public OSV export bucket). A download is streamed to a temporary file next to the database,
checked against the ``x-goog-hash`` MD5 the bucket sends (when present), opened as a zip and
CRC-checked member by member; only then is it imported. All downloads of one update share one
deadline (``--timeout``, default 600 s), and each is capped at 1 GiB after decoding.
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
from depscan.advisories.http import BoundExceeded, Deadline, iter_capped, request_timeout
from depscan.config import DOWNLOAD_TIMEOUT

DEFAULT_EXPORT_URL = "https://osv-vulnerabilities.storage.googleapis.com"
DEFAULT_DOWNLOAD_TIMEOUT = DOWNLOAD_TIMEOUT  # seconds for every download of one `db update` (--timeout)
MAX_EXPORT_BYTES = 1024 * 1024 * 1024  # one export zip, decoded (PyPI's is tens of MB)


def export_url(base: str, ecosystem: str) -> str:
    """Where the export zip of ``ecosystem`` lives."""
    return f"{base.rstrip('/')}/{ecosystem}/all.zip"


def download_export(
    session: requests.Session,
    base: str,
    ecosystem: str,
    directory: Path,
    *,
    deadline: Deadline | None = None,
    max_bytes: int = MAX_EXPORT_BYTES,
) -> Path:
    """Download and verify one export zip into ``directory``; return its path (caller deletes it).

    The download ends by ``deadline`` (one for every download of a ``db update``; sockets are shut
    down when it passes if the session is a ``tracked_session``) and is refused once it passes
    ``max_bytes`` after decoding; either is an ``AdvisoryError`` and leaves no file behind."""
    url = export_url(base, ecosystem)
    deadline = deadline or Deadline(DEFAULT_DOWNLOAD_TIMEOUT, label="--timeout")
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{ecosystem}-all.", suffix=".zip", dir=directory)
    path = Path(name)
    md5 = hashlib.md5(usedforsecurity=False)
    try:
        with os.fdopen(fd, "wb") as fh:
            try:
                timeout = request_timeout(deadline)
                with session.get(url, stream=True, timeout=timeout) as response:
                    if response.status_code != 200:
                        raise AdvisoryError(f"{url}: HTTP {response.status_code}")
                    expected = _goog_md5(response.headers.get("x-goog-hash", ""))
                    for chunk in iter_capped(response, max_bytes, deadline, url):
                        fh.write(chunk)
                        md5.update(chunk)
            except BoundExceeded as e:
                raise AdvisoryError(f"{url}: download failed ({_without(e, url)}); not imported") from e
            except requests.RequestException as e:
                if deadline.passed():  # the deadline shut the connection down
                    raise AdvisoryError(f"{url}: download failed ({deadline.message()}); not imported") from e
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


def _without(error: Exception, prefix: str) -> str:
    text = str(error)
    return text[len(prefix) + 2 :] if text.startswith(f"{prefix}: ") else text


def _goog_md5(header: str) -> bytes | None:
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "md5" and value:
            with contextlib.suppress(ValueError):
                return base64.b64decode(value + "=" * (-len(value) % 4))
    return None
