"""Shared test setup: fixture builders on the path, and no test may open a real socket."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "fixtures"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="Rewrite tests/goldens/* from the current output instead of comparing against them.",
    )


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[str, bytes], None]:
    """Compare (already redacted) output with ``tests/goldens/<name>``; ``--update-goldens`` rewrites it."""
    update = bool(request.config.getoption("--update-goldens"))

    def check(name: str, data: bytes) -> None:
        path = REPO / "tests" / "goldens" / name
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            return
        assert path.is_file(), f"no golden file {path}; run pytest --update-goldens to create it"
        expected = path.read_bytes()
        assert data.decode("utf-8") == expected.decode("utf-8"), (
            f"output differs from {path}; if the change is intended, run pytest --update-goldens and review the diff"
        )

    return check


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail any test that tries to reach the network (HTTP is mocked with ``responses``)."""

    def guard(*args: object, **kwargs: object) -> None:
        raise AssertionError("tests must not open network connections")

    monkeypatch.setattr(socket.socket, "connect", guard)
    monkeypatch.setattr(socket, "create_connection", guard)
    yield


@pytest.fixture(autouse=True)
def _private_native_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own, empty native cache (``$DEPSCAN_CACHE_DIR``, inherited by subprocesses):
    no test reads or writes the user's cache, and none sees what another left there."""
    monkeypatch.setenv("DEPSCAN_CACHE_DIR", str(tmp_path_factory.mktemp("native-cache")))


@pytest.fixture
def demo(tmp_path: Path) -> tuple[Path, Path]:
    """The README demo (function.zip, layer.zip), built into ``tmp_path / "demo"``."""
    sys.path.insert(0, str(REPO / "fixtures" / "demo"))
    try:
        from build_demo import build
    finally:
        sys.path.pop(0)
    return build(tmp_path / "demo")
