from __future__ import annotations

import os
from pathlib import Path

import pytest

from depscan.errors import OutputError
from depscan.output import write_atomic


def test_write_atomic_replaces_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old")
    write_atomic(str(target), b"new content")
    assert target.read_bytes() == b"new content"
    assert os.listdir(tmp_path) == ["out.json"]


def test_write_atomic_failure_leaves_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.json"
    target.write_text("old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OutputError, match=r"out\.json: cannot write"):
        write_atomic(str(target), b"new")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.json"]
