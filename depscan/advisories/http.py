"""HTTP for the advisory sources, bounded in time, size and JSON nesting.

* **One deadline per phase** (an online lookup, the downloads of ``db update``), not a per-read
  timeout that restarts with every byte: a ``Deadline`` knows every socket its session opened and
  shuts them all down when it passes, so a read blocked on a mirror that trickles one byte every
  two seconds, or never answers, ends then. Each request is also started with socket timeouts of
  what is left, and bodies are read in chunks that check the deadline.
* **Bodies are read with a cap after decoding** (``read_capped``): ``Content-Encoding: gzip`` is
  decoded as it streams (urllib3 decodes at most about one chunk at a time), and the running
  total of decoded bytes is checked, so a small gzip bomb or a 400 MB answer stops at the cap.
* **JSON nesting is bounded before parsing** (``loads_bounded``): Python's parser recurses, and a
  few hundred KB of ``[[[[...`` would otherwise raise ``RecursionError`` deep inside it.

Sockets are tracked through urllib3's documented extension points (``PoolManager``'s pool class
per scheme, the pool's ``ConnectionCls``). A socket opened through a SOCKS proxy is not tracked; its
reads are still bounded by the socket timeouts and the chunk checks.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import weakref
from collections.abc import Iterator
from itertools import accumulate
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager

MAX_JSON_DEPTH = 64  # an OSV record nests about 6 deep; a querybatch answer 4
CHUNK = 64 * 1024


class BoundExceeded(Exception):
    """A response broke a bound: too large, nested too deep, or not complete by the deadline."""


class SocketRegistry:
    """The live sockets of one session, so that a passed deadline can shut them all down."""

    def __init__(self) -> None:
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._closed_until: Deadline | None = None

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)
            passed = self._closed_until is not None and self._closed_until.passed()
        if passed:  # opened after the sweep: end it too
            _shutdown(sock)

    def shut_down_all(self, deadline: Deadline) -> None:
        with self._lock:
            self._closed_until = deadline
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown(sock)

    def reopen(self) -> None:
        """A new phase: sockets opened from now on are not swept by the last phase's deadline."""
        with self._lock:
            self._closed_until = None


def _shutdown(sock: socket.socket) -> None:
    # Wakes a thread blocked in recv() on this socket: it sees the connection end. OSError: already
    # closed, or detached (wrapped by TLS: the wrapper is registered too).
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class Deadline:
    """The end of one phase of HTTP work. Used as a context manager: when it passes, every socket
    of ``registry`` is shut down (from a timer thread), and later requests fail before they start."""

    def __init__(self, seconds: float, registry: SocketRegistry | None = None, *, label: str = "") -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.registry = registry
        self.label = label  # how the message names the setting, e.g. "--osv-timeout"
        self._timer: threading.Timer | None = None

    def remaining(self) -> float:
        return self.end - time.monotonic()

    def passed(self) -> bool:
        return self.remaining() <= 0

    def message(self) -> str:
        """Why a request failed once the deadline passed."""
        setting = f" ({self.label})" if self.label else ""
        return f"no complete answer within the {self.seconds:g} s deadline{setting}"

    def check(self) -> None:
        if self.passed():
            raise BoundExceeded(self.message())

    def __enter__(self) -> Deadline:
        if self.registry is not None:
            self.registry.reopen()
            registry = self.registry
            self._timer = threading.Timer(max(0.0, self.remaining()), lambda: registry.shut_down_all(self))
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()


def _pool_classes(registry: SocketRegistry) -> dict[str, type[HTTPConnectionPool]]:
    """Pool classes whose connections register their sockets (the plain one, then the TLS one)."""

    class TrackedHTTPConnection(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            registry.add(sock)
            return sock

    class TrackedHTTPSConnection(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            registry.add(sock)
            return sock

        def connect(self) -> None:
            super().connect()
            if self.sock is not None:
                registry.add(self.sock)  # the TLS socket that replaced (detached) the plain one

    class TrackedHTTPPool(HTTPConnectionPool):
        ConnectionCls = TrackedHTTPConnection

    class TrackedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = TrackedHTTPSConnection

    return {"http": TrackedHTTPPool, "https": TrackedHTTPSPool}


class TrackingAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose connections register their sockets with a ``SocketRegistry``."""

    def __init__(self, registry: SocketRegistry, **kwargs: Any) -> None:
        self.registry = registry
        super().__init__(**kwargs)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = _pool_classes(self.registry)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> PoolManager:
        manager: PoolManager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if type(manager) is not PoolManager and not hasattr(manager, "_depscan_tracked"):
            if manager.pool_classes_by_scheme.get("http") is HTTPConnectionPool:  # not a SOCKS manager
                manager.pool_classes_by_scheme = _pool_classes(self.registry)
            manager._depscan_tracked = True  # type: ignore[attr-defined]
        return manager


def tracked_session(session: requests.Session | None = None) -> tuple[requests.Session, SocketRegistry]:
    """``session`` (or a new one) with adapters that register every socket they open."""
    session = session or requests.Session()
    registry = SocketRegistry()
    adapter = TrackingAdapter(registry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session, registry


class BoundedClient:
    """What depscan's HTTP clients share (the OSV API client, the package index client): a session whose
    sockets a deadline can shut down, depscan's own User-Agent (unless the caller's session set one), and one
    deadline per phase (``phase()``), named by ``deadline_label`` (the option that sets it) in messages."""

    deadline_label = "the deadline"

    def __init__(self, session: requests.Session | None, timeout: float) -> None:
        from depscan import __version__

        self.session, self.sockets = tracked_session(session)
        # requests always sets its own User-Agent; replace it unless the caller chose one.
        if self.session.headers.get("User-Agent") in (None, requests.utils.default_user_agent()):
            self.session.headers["User-Agent"] = f"depscan/{__version__}"
        self.timeout = timeout
        self._deadline: Deadline | None = None

    @contextlib.contextmanager
    def phase(self) -> Iterator[Deadline]:
        """One phase: every request made inside it ends by ``timeout`` seconds from now."""
        with Deadline(self.timeout, self.sockets, label=self.deadline_label) as deadline:
            self._deadline = deadline
            try:
                yield deadline
            finally:
                self._deadline = None

    def deadline(self) -> Deadline:
        """The current phase's deadline; a call made outside a phase gets one of its own."""
        return self._deadline or Deadline(self.timeout, label=self.deadline_label)


def request_timeout(deadline: Deadline) -> float:
    """The socket timeout for a request started now: what is left of the deadline."""
    deadline.check()
    return max(0.001, deadline.remaining())


def iter_capped(response: requests.Response, limit: int, deadline: Deadline, what: str) -> Iterator[bytes]:
    """The decoded body of a streamed response in chunks, failing once it passes ``limit`` bytes or
    the deadline passes. ``what`` names the response in the message."""
    declared = response.headers.get("Content-Length", "")
    encoded = response.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity")
    if declared.isdigit() and not encoded and int(declared) > limit:
        raise BoundExceeded(f"{what}: answer of {int(declared):,} bytes is over the {limit:,}-byte limit")
    total = 0
    for chunk in response.iter_content(CHUNK):
        total += len(chunk)
        if total > limit:
            raise BoundExceeded(f"{what}: answer is over the {limit:,}-byte limit (after decoding)")
        deadline.check()
        yield chunk
    # A socket shut down by the deadline can look like the end of a body sent until the connection
    # closes (or of headers): an answer that ends after the deadline is not trusted to be whole.
    deadline.check()


def read_capped(response: requests.Response, limit: int, deadline: Deadline, what: str) -> bytes:
    """The whole decoded body of a streamed response, at most ``limit`` bytes (see ``iter_capped``)."""
    return b"".join(iter_capped(response, limit, deadline, what))


_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_DEPTH_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def json_depth(data: bytes) -> int:
    """How deeply arrays and objects nest in a JSON text (brackets inside strings do not count).

    Linear and in C loops: escapes are dropped (``\\\\`` before ``\\"``, left to right as a parser
    reads them), then every other piece between quotes is a string. Invalid JSON gets a number
    too, and the parser refuses it afterwards."""
    unescaped = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = b"".join(unescaped.split(b'"')[0::2]).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)))


def loads_bounded(data: bytes, what: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON that nests at most ``max_depth`` deep; ``BoundExceeded`` or ``ValueError`` otherwise."""
    depth = json_depth(data)
    if depth > max_depth:
        raise BoundExceeded(f"{what}: JSON nested {depth} deep, more than the {max_depth} allowed")
    try:
        return json.loads(data)
    except RecursionError as e:  # not reached with the bound above; never let it escape as a crash
        raise BoundExceeded(f"{what}: JSON nested too deeply") from e
