from __future__ import annotations

import os
from pathlib import Path

import pytest
from builders import dist, zip_bytes

from depscan.errors import MemberError
from tests.helpers import dists, scan, view_of


def _materialize(root: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def test_directory_with_venv_and_wheel(tmp_path: Path) -> None:
    site = ".venv/lib/python3.11/site-packages"
    _materialize(tmp_path, dist("flask", "3.0.0", root=site) | {"wheels/x.whl": zip_bytes(dist("x", "0.1"))})
    _materialize(tmp_path, {".git/objects/ab/cdef": b"git internals are not deployed"})
    result = scan(tmp_path)
    assert set(dists(result)) == {"flask==3.0.0", "x==0.1"}
    assert result.artifact.kind == "directory"


def test_symlinks_never_lead_outside(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("secret")
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(outside / "secret", root / "abs-link")
    os.symlink("../outside/secret", root / "rel-link")
    os.symlink(outside, root / "dir-link")
    (root / "real").write_text("ok")
    os.symlink("real", root / "good-link")
    with view_of(root) as view:
        assert view.read("good-link") == b"ok"
        for name in ("abs-link", "rel-link"):
            with pytest.raises(MemberError, match="outside the artifact"):
                view.read(name)
        assert view.get("dir-link/secret") is None  # a symlinked directory is never walked into
