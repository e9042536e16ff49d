"""Uploading CycloneDX SBOMs to OWASP Dependency-Track (``--dependency-track URL``).

Dependency-Track re-evaluates stored SBOMs as advisories appear; depscan feeds it. The API key comes
from ``$DEPSCAN_DTRACK_API_KEY`` (never from the command line, where it would be in the process list
and shell history). Per SBOM, as Dependency-Track documents its REST API (``/api/v1/bom``):

1. ``PUT /api/v1/bom`` with JSON ``{"projectName", "projectVersion", "autoCreate": true, "bom": <base64
   of the SBOM>}`` and the header ``X-Api-Key``; the answer is ``{"token": "<uuid>"}``.
2. ``GET /api/v1/event/token/<token>`` until ``{"processing": false}`` (or the deadline passes).

A failure is reported per project (one line: HTTP status and what it means) and never stops the other
uploads; the caller decides the exit code. Redirects are not followed: ``requests`` would send the
``X-Api-Key`` header to whatever host a redirect names (it only strips ``Authorization``) and turn a
redirected ``PUT`` into a ``GET``; the message names the URL to give instead. A gateway's 502/503/504
or a dropped connection is retried twice (1 s, then 2 s later). The URL may carry a path prefix
(``https://host/dtrack``); a trailing ``/api`` or ``/api/v1`` is dropped (the paths add it). The key
is never part of a message.
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
RETRY_STATUS = (502, 503, 504)
RETRY_WAITS = (1.0, 2.0)

_STATUS_MEANING = {
    400: "the request was refused as malformed",
    401: "the API key was refused",
    403: "the API key lacks the BOM_UPLOAD (or PROJECT_CREATION_UPLOAD) permission",
    404: "the project does not exist and autoCreate is not allowed, or the URL is not the Dependency-Track API",
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

        base = url.rstrip("/")
        for suffix in ("/api/v1", "/api"):
            base = base.removesuffix(suffix)
        self.base = base
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
            response = self._request("PUT", f"{self.base}/api/v1/bom", json=body)
        except requests.RequestException as e:
            return Upload(project, version, False, message=f"upload failed: {type(e).__name__}")
        if response.status_code != 200:
            return Upload(project, version, False, message=_http_message("upload", response))
        try:
            token = response.json().get("token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            return Upload(project, version, False, message="the server answered the upload without a token"
                          + _not_json(response))
        return self._wait(project, version, token)

    def _wait(self, project: str, version: str, token: str) -> Upload:
        import requests

        waited = 0.0
        while True:
            try:
                response = self._request("GET", f"{self.base}/api/v1/event/token/{token}")
            except requests.RequestException as e:
                return Upload(project, version, False, token, f"polling the upload failed: {type(e).__name__}")
            if response.status_code != 200:
                return Upload(project, version, False, token, _http_message("polling", response))
            try:
                processing = response.json().get("processing")
            except (ValueError, AttributeError):
                processing = None
            if processing is False:
                return Upload(project, version, True, token, "processed")
            if processing is not True:
                return Upload(project, version, False, token,
                              "the server's processing status is not readable" + _not_json(response))
            if waited >= self.deadline:
                return Upload(project, version, False, token,
                              f"still processing after {self.deadline:g} s (token {token}); check the server")
            self.sleep(self.poll_seconds)
            waited += self.poll_seconds


    def _request(self, method: str, url: str, **kwargs: Any) -> Any:
        """One request, redirects not followed, retried on a gateway error or a dropped connection."""
        import requests

        for wait in (*RETRY_WAITS, None):
            try:
                response = self.session.request(method, url, timeout=REQUEST_TIMEOUT, allow_redirects=False,
                                                **kwargs)
            except (requests.ConnectionError, requests.Timeout):
                if wait is None:
                    raise
            else:
                if response.status_code not in RETRY_STATUS or wait is None:
                    return response
            self.sleep(wait)
        raise AssertionError("unreachable")


def _http_message(step: str, response: Any) -> str:
    from urllib.parse import urlsplit

    status = response.status_code
    if 300 <= status < 400:
        target = urlsplit(response.headers.get("Location") or "")
        where = f" to {target.scheme}://{target.netloc}{target.path}" if target.netloc else ""
        return (f"{step} answered HTTP {status}, a redirect{where}: not followed (the API key is not sent on); "
                "give the server's final URL to --dependency-track")
    meaning = _STATUS_MEANING.get(status, "the server refused it" if status < 500 else "the server failed")
    return f"{step} answered HTTP {status}: {meaning}{_not_json(response)}"


def _not_json(response: Any) -> str:
    """A hint when the answer is a web page: the URL is the frontend (or a login portal), not the API."""
    kind = str(response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if kind == "text/html":
        return " (the answer is an HTML page: is the URL the API server's, not the frontend's or a login page's?)"
    return ""
