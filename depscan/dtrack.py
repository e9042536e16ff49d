"""Uploading CycloneDX SBOMs to OWASP Dependency-Track (``--dependency-track URL``).

Dependency-Track re-evaluates stored SBOMs as advisories appear; depscan feeds it. The API key comes
from ``$DEPSCAN_DTRACK_API_KEY`` (never from the command line, where it would be in the process list
and shell history). Per SBOM, as Dependency-Track documents its REST API (``/api/v1/bom``):

1. ``PUT /api/v1/bom`` with JSON ``{"projectName", "projectVersion", "autoCreate": true, "bom": <base64
   of the SBOM>}`` and the header ``X-Api-Key``; the answer is ``{"token": "<uuid>"}``.
2. ``GET /api/v1/event/token/<token>`` until ``{"processing": false}`` (or the deadline passes).

A failure is reported per project (one line: HTTP status and what it means) and never stops the other
uploads; the caller decides the exit code.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

API_KEY_ENV = "DEPSCAN_DTRACK_API_KEY"
POLL_SECONDS = 1.0
PROCESSING_DEADLINE = 300.0
REQUEST_TIMEOUT = 30.0

_STATUS_MEANING = {
    400: "the request was refused as malformed",
    401: "the API key was refused",
    403: "the API key lacks the BOM_UPLOAD (or PROJECT_CREATION_UPLOAD) permission",
    404: "the project does not exist and autoCreate is not allowed",
    413: "the SBOM is too large for the server",
}


@dataclass(frozen=True, slots=True)
class Upload:
    """The outcome of one SBOM upload."""

    project: str
    version: str
    ok: bool
    token: str | None = None
    message: str = ""


class DependencyTrack:
    """A Dependency-Track server: ``url`` is its base (``https://dtrack.example.com``)."""

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        session: Any | None = None,
        poll_seconds: float = POLL_SECONDS,
        deadline: float = PROCESSING_DEADLINE,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import requests

        self.base = url.rstrip("/")
        self.session = session or requests.Session()
        self.session.headers.update({"X-Api-Key": api_key, "Accept": "application/json"})
        self.poll_seconds = poll_seconds
        self.deadline = deadline
        self.sleep = sleep

    @classmethod
    def from_env(cls, url: str, **kwargs: Any) -> DependencyTrack:
        """A client with the key from ``$DEPSCAN_DTRACK_API_KEY``; a usage error when it is not set."""
        from depscan.errors import UsageError

        key = os.environ.get(API_KEY_ENV, "").strip()
        if not key:
            raise UsageError(f"--dependency-track needs an API key in ${API_KEY_ENV}")
        if not url.startswith(("https://", "http://")):
            raise UsageError(f"--dependency-track {url!r}: give the server's base URL (https://...)")
        return cls(url, key, **kwargs)

    def upload(self, project: str, version: str, bom: bytes) -> Upload:
        """Upload one SBOM and wait until the server has processed it."""
        import requests

        body = {
            "projectName": project,
            "projectVersion": version,
            "autoCreate": True,
            "bom": base64.b64encode(bom).decode("ascii"),
        }
        try:
            response = self.session.put(f"{self.base}/api/v1/bom", json=body, timeout=REQUEST_TIMEOUT)
        except requests.RequestException as e:
            return Upload(project, version, False, message=f"upload failed: {type(e).__name__}")
        if response.status_code != 200:
            return Upload(project, version, False, message=_http_message("upload", response.status_code))
        try:
            token = response.json().get("token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            return Upload(project, version, False, message="the server answered the upload without a token")
        return self._wait(project, version, token)

    def _wait(self, project: str, version: str, token: str) -> Upload:
        import requests

        waited = 0.0
        while True:
            try:
                response = self.session.get(f"{self.base}/api/v1/event/token/{token}", timeout=REQUEST_TIMEOUT)
            except requests.RequestException as e:
                return Upload(project, version, False, token, f"polling the upload failed: {type(e).__name__}")
            if response.status_code != 200:
                return Upload(project, version, False, token, _http_message("polling", response.status_code))
            try:
                processing = response.json().get("processing")
            except (ValueError, AttributeError):
                processing = None
            if processing is False:
                return Upload(project, version, True, token, "processed")
            if processing is not True:
                return Upload(project, version, False, token, "the server's processing status is not readable")
            if waited >= self.deadline:
                return Upload(project, version, False, token,
                              f"still processing after {self.deadline:g} s (token {token}); check the server")
            self.sleep(self.poll_seconds)
            waited += self.poll_seconds


def _http_message(step: str, status: int) -> str:
    meaning = _STATUS_MEANING.get(status, "the server refused it" if status < 500 else "the server failed")
    return f"{step} answered HTTP {status}: {meaning}"
