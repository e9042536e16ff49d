"""Downloading a Lambda function's or layer's code: the one seam between the AWS API and the scan.

``GetFunction`` answers a presigned HTTPS URL for a function's zip; ``GetLayerVersion`` one for a
layer's (real AWS), or an ``s3://bucket/key`` location (some emulators). ``CodeFetcher.fetch``
streams the bytes to a file, within a size limit, and checks them against the ``CodeSha256`` the API
states (base64 SHA-256 of the zip), so a truncated or substituted download is never scanned.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CHUNK = 1 << 20
DEFAULT_MAX_BYTES = 512 * 1024 * 1024  # a zip deployed from S3 may be large; a direct upload is at most 50 MB


class FetchError(Exception):
    """The code could not be downloaded (one line, naming what and why); ``status``: the HTTP status the
    code location answered, when it answered one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class CodeFetcher:
    """Streams code locations to files. ``s3_client`` (a callable returning a boto3 S3 client) is used
    for ``s3://`` locations; HTTPS locations are read with ``requests``."""

    def __init__(
        self,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        timeout: float = 60.0,
        s3_client: Callable[[], Any] | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self.timeout = timeout
        self._s3_client = s3_client

    def fetch(self, location: str, dest: Path, *, what: str, sha256_b64: str | None = None) -> Path:
        """Write the code at ``location`` to ``dest``; ``what`` names it in errors ("function f1")."""
        scheme = urlsplit(location).scheme
        digest = hashlib.sha256()
        try:
            with open(dest, "wb") as out:
                if scheme == "https" or scheme == "http":
                    size = self._http(location, out, digest, what)
                elif scheme == "s3":
                    size = self._s3(location, out, digest, what)
                else:
                    raise FetchError(f"{what}: the code location {_shown(location)!r} is not a URL depscan can read")
        except OSError as e:
            raise FetchError(f"{what}: cannot write the downloaded code to {dest}: {e.strerror or e}") from e
        if sha256_b64:
            got = base64.b64encode(digest.digest()).decode("ascii")
            if got != sha256_b64:
                raise FetchError(f"{what}: the downloaded code ({size} bytes) does not match the CodeSha256 the API "
                                 f"states ({sha256_b64}); not scanned")
        return dest

    def _http(self, url: str, out: Any, digest: Any, what: str) -> int:
        import requests

        try:
            with requests.get(url, stream=True, timeout=self.timeout) as response:
                if response.status_code != 200:
                    hint = " (the presigned URL expired, or access is denied)" if response.status_code == 403 else ""
                    raise FetchError(f"{what}: downloading the code answered HTTP {response.status_code}{hint}",
                                     response.status_code)
                declared = response.headers.get("Content-Length")
                if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
                    raise FetchError(f"{what}: the code is {int(declared)} bytes, over the limit of {self.max_bytes}")
                return self._copy(response.iter_content(CHUNK), out, digest, what)
        except requests.RequestException as e:
            raise FetchError(f"{what}: downloading the code failed: {type(e).__name__}") from e

    def _s3(self, location: str, out: Any, digest: Any, what: str) -> int:
        parts = urlsplit(location)
        bucket, key = parts.netloc, parts.path.lstrip("/")
        if not bucket or not key or self._s3_client is None:
            raise FetchError(f"{what}: the code location {location!r} names no S3 object depscan can read")
        try:
            body = self._s3_client().get_object(Bucket=bucket, Key=key)["Body"]
            return self._copy(iter(lambda: body.read(CHUNK), b""), out, digest, what)
        except FetchError:
            raise
        except Exception as e:  # botocore's ClientError and transport errors: one line, never a crash
            raise FetchError(f"{what}: reading s3://{bucket}/{key} failed: {one_line(e)}") from e

    def _copy(self, chunks: Any, out: Any, digest: Any, what: str) -> int:
        size = 0
        for chunk in chunks:
            size += len(chunk)
            if size > self.max_bytes:
                raise FetchError(f"{what}: the code is over the limit of {self.max_bytes} bytes; not scanned")
            digest.update(chunk)
            out.write(chunk)
        return size


def _shown(location: str) -> str:
    """A location without its query (a presigned URL's signature is a credential)."""
    parts = urlsplit(location)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.scheme else location[:80]


def one_line(error: BaseException) -> str:
    """An AWS or transport error in one line (its first, at most 300 characters), for a fleet's reasons."""
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__
