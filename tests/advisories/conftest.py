"""The loopback exception to the no-network rule, for tests that talk to ``osv_server.FakeOSV``."""

from __future__ import annotations

import _socket
import socket
from collections.abc import Iterator

import pytest

LOOPBACK = frozenset({"127.0.0.1", "::1"})


@pytest.fixture
def loopback(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Let sockets connect to 127.0.0.1 / ::1 only; every other address stays blocked (the
    autouse guard of ``tests/conftest.py`` is replaced by a narrower one), and no proxy is used."""

    def guard(self: socket.socket, address: object) -> None:
        host = address[0] if isinstance(address, tuple) and address else None
        if self.family in (socket.AF_INET, socket.AF_INET6) and host in LOOPBACK:
            return _socket.socket.connect(self, address)  # type: ignore[arg-type]
        raise AssertionError(f"tests may connect to loopback only, not {address!r}")

    monkeypatch.setattr(socket.socket, "connect", guard)
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,::1")
    yield
