"""Reports streamed to a temporary file beside the target (``output.Staged``) and renamed into place."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from depscan.output import Staged


def test_staged_report_appears_only_on_commit(tmp_path: Path) -> None:
    target = tmp_path / "dir with space" / "r.json"
    target.parent.mkdir()
    target.write_text("old")
    staged = Staged(str(target), ("x" * 700_000 for _ in range(4)))  # over the 1 MiB write batch
    assert target.read_text() == "old"
    staged.commit()
    assert target.read_text() == "x" * 2_800_000
    assert os.listdir(target.parent) == ["r.json"]


def test_a_stream_that_fails_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    target.write_text("old")

    def pieces() -> Iterator[str]:
        yield "{"
        raise ValueError("reporter bug")

    with pytest.raises(ValueError, match="reporter bug"):
        Staged(str(target), pieces())
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["r.json"]


def test_discard_removes_the_temporary(tmp_path: Path) -> None:
    staged = Staged(str(tmp_path / "r.json"), ["é"])
    assert len(os.listdir(tmp_path)) == 1
    staged.discard()
    assert os.listdir(tmp_path) == []
