"""A small OSV API on loopback for tests and the hostile-mirror benchmark: honest or hostile.

``FakeOSV`` serves ``POST /v1/querybatch`` (exact-version matching on each record's ``versions``)
and ``GET /v1/vulns/{id}`` from ``http.server`` in a daemon thread on ``127.0.0.1``, port 0, and
``GET /<Ecosystem>/all.zip`` (the bytes of ``export``) for ``db update``. Each endpoint can
misbehave (``batch=`` / ``vuln=`` / ``download=``):

``ok``          the honest answer
``trickle``     headers, then the body one byte every ``interval`` seconds
``slow-headers`` the status line, then a header one byte every ``interval`` seconds
``silent``      reads the request and never answers
``huge``        the honest answer padded to ``size`` bytes (streamed until the connection closes:
                no Content-Length to refuse it by)
``gzip-bomb``   the same, sent as ``Content-Encoding: gzip`` (``size`` bytes decompress from ~size/1000)
``nested``      ``depth`` nested arrays
``many``        (querybatch) every query listed with distinct ids, about ``size`` bytes in all
``foreign``     (records) another record, withdrawn, in place of the one asked for

It is bounded: at most ``max_requests`` requests are answered, and it stops by itself after
``lifetime`` seconds (every slow answer ends then too). Use it as a context manager.
"""

from __future__ import annotations

import functools
import json
import struct
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PAD_CHUNK = 1024 * 1024
BEHAVIOURS = ("ok", "trickle", "slow-headers", "silent", "huge", "gzip-bomb", "nested", "foreign", "many")


def padded(answer: dict[str, Any], size: int) -> tuple[bytes, int, bytes]:
    """An answer as JSON with a ``"pad"`` string first: (prefix, pad length, suffix); the pad is
    ``size`` bytes of ``A`` between them, so the whole is valid JSON of about ``size`` bytes."""
    rest = json.dumps(answer).encode()
    prefix = b'{"pad": "'
    suffix = b'"' + (b", " + rest[1:] if rest != b"{}" else b"}")
    return prefix, max(0, size - len(prefix) - len(suffix)), suffix


@functools.lru_cache(maxsize=4)
def gzip_bomb(prefix: bytes, pad: int, suffix: bytes) -> tuple[bytes, bytes, int, bytes]:
    """A gzip stream of ``prefix + b"A" * pad + suffix`` without ever holding the padding:
    (head, one repeated deflate segment of PAD_CHUNK bytes of ``A``, repeats, tail). A full flush
    after each segment makes every segment the same bytes."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = b"A" * PAD_CHUNK
    head = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + deflate.compress(prefix) + deflate.flush(zlib.Z_FULL_FLUSH)
    segment = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    repeats, rest = divmod(pad, PAD_CHUNK)
    crc = zlib.crc32(prefix)
    for _ in range(repeats):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(block[:rest] + suffix, crc)
    total = len(prefix) + pad + len(suffix)
    tail = deflate.compress(block[:rest] + suffix) + deflate.flush() + struct.pack("<II", crc, total & 0xFFFFFFFF)
    return head, segment, repeats, tail


class FakeOSV:
    """An OSV API on ``127.0.0.1`` (see the module docstring)."""

    def __init__(
        self,
        records: Sequence[dict[str, Any]] = (),
        *,
        batch: str = "ok",
        vuln: str = "ok",
        download: str = "ok",
        export: bytes = b"",
        size: int = 400 * 1024 * 1024,
        interval: float = 2.0,
        depth: int = 100_000,
        lifetime: float = 30.0,
        max_requests: int = 200,
    ) -> None:
        assert batch in BEHAVIOURS and vuln in BEHAVIOURS and download in BEHAVIOURS, (batch, vuln, download)
        self.records = {r["id"]: r for r in records}
        self.batch, self.vuln, self.download, self.export = batch, vuln, download, export
        self.size, self.interval, self.depth = size, interval, depth
        self.lifetime, self.max_requests = lifetime, max_requests
        self.requests: list[str] = []  # "POST /v1/querybatch", ... in arrival order
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeOSV:
        serve = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        timer = threading.Timer(self.lifetime, self.stop)
        timer.daemon = True
        self._threads = [serve, timer]
        serve.start()
        timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.stopping.is_set():
            return
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        timer = self._threads[1] if len(self._threads) > 1 else None
        if isinstance(timer, threading.Timer):
            timer.cancel()

    def admit(self, line: str) -> bool:
        with self._lock:
            if len(self.requests) >= self.max_requests or self.stopping.is_set():
                return False
            self.requests.append(line)
            return True

    # -- answers -------------------------------------------------------------------------------

    def batch_answer(self, body: dict[str, Any]) -> dict[str, Any]:
        results = []
        for item in body.get("queries", []):
            name, version = item["package"]["name"], item.get("version")  # no version: every record of the package
            hits = [
                {"id": r["id"], "modified": r["modified"]}
                for r in self.records.values()
                if any(a["package"]["name"] == name and (version is None or version in a.get("versions", []))
                       for a in r["affected"])
            ]
            results.append({"vulns": hits} if hits else {})
        return {"results": results}

    def vuln_answer(self, ident: str) -> dict[str, Any] | None:
        return self.records.get(ident)


def _handler(osv: FakeOSV) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            if not osv.admit(f"POST {self.path}"):
                self.close_connection = True
                return
            if self.path != "/v1/querybatch":
                self.answer_status(404)
                return
            self.behave(osv.batch, osv.batch_answer(body))

        def do_GET(self) -> None:
            if not osv.admit(f"GET {self.path}"):
                self.close_connection = True
                return
            if self.path.endswith("/all.zip"):
                self.send_export()
                return
            prefix = "/v1/vulns/"
            if not self.path.startswith(prefix):
                self.answer_status(404)
                return
            ident = self.path[len(prefix) :]
            record = osv.vuln_answer(ident)
            if osv.vuln == "foreign":
                record = dict(record or {"affected": []}, id=f"FOREIGN-{ident}", withdrawn="2024-06-01T00:00:00Z")
            if record is None:
                self.answer_status(404)
                return
            self.behave(osv.vuln, record)

        def send_export(self) -> None:
            if osv.download not in ("ok", "trickle"):
                self.behave(osv.download, {})
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(osv.export)))
            self.end_headers()
            try:
                if osv.download == "trickle":
                    self.dribble(osv.export)
                    self.close_connection = True
                else:
                    self.wfile.write(osv.export)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def answer_status(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def behave(self, behaviour: str, answer: dict[str, Any]) -> None:
            try:
                self._behave(behaviour, answer)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up: that is the point

        def _behave(self, behaviour: str, answer: dict[str, Any]) -> None:
            if behaviour == "silent":
                osv.stopping.wait()
                self.close_connection = True
                return
            if behaviour == "slow-headers":
                self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                self.dribble(b"a" * 100_000)
                self.close_connection = True
                return
            if behaviour in ("ok", "foreign", "trickle"):
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if behaviour == "trickle":
                    self.dribble(data)
                    self.close_connection = True
                else:
                    self.wfile.write(data)
                return
            if behaviour == "many":
                count = max(1, len(answer.get("results", [])))
                per = osv.size // 26 // count  # '{"id": "MANY-1-123456"}, ' is about 26 bytes
                results = [{"vulns": [{"id": f"MANY-{q}-{n}"} for n in range(per)]} for q in range(count)]
                data = json.dumps({"results": results}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            if behaviour == "nested":
                data = b"[" * osv.depth + b"]" * osv.depth
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            prefix, pad, suffix = padded(answer, osv.size)
            if behaviour == "huge":
                parts: Iterator[bytes] = _huge_parts(prefix, pad, suffix)
                length, encoding = 0, ""
            else:  # gzip-bomb
                head, segment, repeats, tail = gzip_bomb(prefix, pad, suffix)
                parts = iter([head, *([segment] * repeats), tail])
                length = len(head) + len(segment) * repeats + len(tail)
                encoding = "gzip"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if encoding:
                self.send_header("Content-Encoding", encoding)
                self.send_header("Content-Length", str(length))
            else:
                self.send_header("Connection", "close")  # the body ends when the connection does
            self.end_headers()
            for part in parts:
                if osv.stopping.is_set():
                    break
                self.wfile.write(part)
            self.close_connection = True

        def dribble(self, data: bytes) -> None:
            for i in range(len(data)):
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()
                if osv.stopping.wait(osv.interval):
                    return

    return Handler


def _huge_parts(prefix: bytes, pad: int, suffix: bytes) -> Iterator[bytes]:
    yield prefix
    block = b"A" * PAD_CHUNK
    full, rest = divmod(pad, PAD_CHUNK)
    for _ in range(full):
        yield block
    yield block[:rest] + suffix


def wait_for(predicate: Any, seconds: float) -> bool:
    """Poll ``predicate`` for up to ``seconds``."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())
