"""``scan.make_backend``: which advisory backend the settings choose."""

from __future__ import annotations

from pathlib import Path

import pytest

from depscan.advisories.osv_api import OnlineOSV
from depscan.advisories.osv_db import OfflineDatabase, import_sources
from depscan.config import AdvisorySettings
from depscan.scan import make_backend

SUBSET = Path(__file__).resolve().parents[2] / "fixtures" / "advisories" / "pypi-subset.zip"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real offline database, named by ``$DEPSCAN_DB``; the cache lives in the test's temp dir."""
    db = tmp_path / "env db" / "osv.sqlite"
    import_sources(db, [SUBSET])
    monkeypatch.setenv("DEPSCAN_DB", str(db))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return db


def test_source_online_uses_the_api_even_when_depscan_db_is_set(database: Path, tmp_path: Path) -> None:
    backend = make_backend(AdvisorySettings(mode="online", osv_url="https://osv.test.example", cache_dir=tmp_path))
    assert isinstance(backend, OnlineOSV)
    assert backend.client.base_url == "https://osv.test.example"


def test_source_auto_and_offline_use_depscan_db(database: Path, tmp_path: Path) -> None:
    for mode in ("auto", "offline"):
        backend = make_backend(AdvisorySettings(mode=mode, cache_dir=tmp_path))
        assert isinstance(backend, OfflineDatabase) and backend.path == database
        backend.close()


def test_source_auto_without_any_database_goes_online(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEPSCAN_DB", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty cache"))
    assert isinstance(make_backend(AdvisorySettings(mode="auto", cache_dir=tmp_path)), OnlineOSV)
