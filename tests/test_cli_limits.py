"""``--max-member-bytes`` is one limit, applied by every kind of source to every member read whole."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from builders import dist, write_tar, write_zip, zip_bytes
from typer.testing import CliRunner

from depscan.artifacts.limits import Limits
from depscan.cli import app
from tests.helpers import dists, scan

LIMIT = 2000
BIG_METADATA = "big-2.0.dist-info/METADATA"


def _files() -> dict[str, bytes]:
    # big's METADATA is about 5 KB (over LIMIT); every file of small, and big's RECORD, are under it.
    files = dist("small", "1.0") | dist("big", "2.0", extra_metadata="Description: " + "x" * 5000 + "\n")
    assert len(files[BIG_METADATA]) > LIMIT
    assert all(len(data) < LIMIT for path, data in files.items() if path != BIG_METADATA)
    return files


def _write(kind: str, tmp_path: Path, files: dict[str, bytes]) -> Path:
    if kind == "zip":
        return write_zip(tmp_path / "in put.zip", files)
    if kind == "tar":
        return write_tar(tmp_path / "in put.tar", files)
    if kind == "tar.gz":
        return write_tar(tmp_path / "in put.tar.gz", files, mode="w:gz")
    root = tmp_path / "in put"
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


@pytest.mark.parametrize("kind", ["zip", "tar", "tar.gz", "directory"])
def test_a_member_over_the_limit_is_an_unknown_in_every_source(tmp_path: Path, kind: str) -> None:
    path = _write(kind, tmp_path, _files())
    assert set(dists(scan(path))) == {"small==1.0", "big==2.0"}  # the default limit reads both
    result = scan(path, limits=Limits(max_member_bytes=LIMIT))
    assert set(dists(result)) == {"small==1.0"}
    reasons = {u.location.path: u.reason for u in result.unknowns}
    assert set(reasons) == {BIG_METADATA}
    assert f"over the {LIMIT}-byte max_member_bytes limit; not read" in reasons[BIG_METADATA]


def test_nested_archives_obey_the_limit_inside_and_as_a_whole(tmp_path: Path) -> None:
    limit = 3000
    noise = random.Random(7).randbytes(2 * limit)  # incompressible: this wheel is over the limit itself
    files = {
        # Deflated: under the limit as a whole, so it is opened, but its METADATA is not read.
        "wheels/big-2.0-py3-none-any.whl": write_zip(tmp_path / "big.whl", _files()).read_bytes(),
        "wheels/noisy-3.0-py3-none-any.whl": zip_bytes(dist("noisy", "3.0", modules={"noisy/blob.bin": noise})),
    }
    assert len(files["wheels/big-2.0-py3-none-any.whl"]) < limit < len(_files()[BIG_METADATA])
    assert len(files["wheels/noisy-3.0-py3-none-any.whl"]) > limit
    path = write_zip(tmp_path / "bundle.zip", files)
    assert set(dists(scan(path))) == {"small==1.0", "big==2.0", "noisy==3.0"}
    result = scan(path, limits=Limits(max_member_bytes=limit))
    assert set(dists(result)) == {"small==1.0"}
    reasons = {u.location.path: u.reason for u in result.unknowns}
    assert set(reasons) == {f"wheels/big-2.0-py3-none-any.whl!/{BIG_METADATA}", "wheels/noisy-3.0-py3-none-any.whl"}
    assert all(f"over the {limit}-byte max_member_bytes limit" in reason for reason in reasons.values())
    assert reasons["wheels/noisy-3.0-py3-none-any.whl"].startswith("nested archive not opened: ")


def test_max_member_bytes_on_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEPSCAN_DEBUG", raising=False)
    path = _write("zip", tmp_path, _files())
    runner = CliRunner()
    result = runner.invoke(app, ["scan", str(path), "--max-member-bytes", str(LIMIT), "-f", "json", "--source", "skip"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [c["name"] for c in doc["components"]] == ["small"]
    assert [u["path"] for u in doc["unknowns"]] == [BIG_METADATA]
    strict = runner.invoke(app, ["scan", str(path), "--max-member-bytes", "2K", "--strict", "--source", "skip"])
    assert strict.exit_code == 5
    assert os.listdir(tmp_path) == ["in put.zip"]  # nothing written beside the input
