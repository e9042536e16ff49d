from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from builders import dist, write_tar, write_zst_tar

from depscan.artifacts.limits import Limits
from depscan.artifacts.tarball import open_tar
from depscan.artifacts.view import OpenContext
from depscan.errors import CorruptArtifact, HostileArtifact, MemberError
from tests.helpers import dists, scan, view_of

SITE = "usr/local/lib/python3.12/site-packages"


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz", "zst"])
def test_every_compression_finds_the_distribution(tmp_path: Path, mode: str) -> None:
    files = dist("requests", "2.31.0", root=SITE) | {"usr/share/doc/readme": b"x" * 5000}
    if mode == "zst":
        path = write_zst_tar(tmp_path / "root.tar.zst", files)
    else:
        path = write_tar(tmp_path / "root.tar", files, mode=mode)
    result = scan(path)
    found = dists(result)
    assert list(found) == ["requests==2.31.0"]
    assert found["requests==2.31.0"].site_root == SITE
    assert not result.unknowns


def test_streaming_keeps_only_wanted_members(tmp_path: Path) -> None:
    path = write_tar(tmp_path / "x.tar.gz", {"a/METADATA.txt": b"no", "a/keep": b"yes"}, mode="w:gz")
    ctx = OpenContext(wants=lambda p: p == "a/keep")
    with open_tar(str(path), "x.tar.gz", ctx) as view:
        assert view.read("a/keep") == b"yes"
        with pytest.raises(MemberError, match="not kept"):
            view.read("a/METADATA.txt")


def test_links_inside_a_tar(tmp_path: Path) -> None:
    path = write_tar(
        tmp_path / "links.tar",
        {"usr/lib/real.txt": b"data"},
        symlinks={"usr/lib/abs.txt": "/usr/lib/real.txt", "usr/lib/up.txt": "../../../../etc/shadow"},
        hardlinks={"usr/lib/hard.txt": "usr/lib/real.txt"},
    )
    with view_of(path) as view:
        # In an image-like tar an absolute target means the tar's own root.
        assert view.read("usr/lib/abs.txt") == b"data"
        assert view.read("usr/lib/hard.txt") == b"data"
        with pytest.raises(MemberError, match="outside the artifact"):
            view.read("usr/lib/up.txt")


def test_unsafe_tar_paths_are_unknowns(tmp_path: Path) -> None:
    path = write_tar(tmp_path / "evil.tar", {"../evil": b"x", "/etc/cron.d/evil": b"x", "ok.txt": b"x"})
    result = scan(path)
    assert {u.location.path for u in result.unknowns} == {"../evil", "/etc/cron.d/evil"}


def test_truncated_tars_are_corrupt(tmp_path: Path) -> None:
    files = dist("ok", "1.0") | {"pad.bin": bytes(range(256)) * 400}
    for mode, name in (("w", "t.tar"), ("w:gz", "t.tar.gz")):
        data = write_tar(tmp_path / name, files, mode=mode).read_bytes()
        cut = tmp_path / f"cut-{name}"
        cut.write_bytes(data[: len(data) * 2 // 3])
        with pytest.raises(CorruptArtifact, match=rf"cut-{name}: corrupt or truncated"):
            view_of(cut)


def test_gzip_that_is_not_a_tar(tmp_path: Path) -> None:
    path = tmp_path / "notes.gz"
    path.write_bytes(gzip.compress(b"just some text, not a tar archive" * 20))
    with pytest.raises(CorruptArtifact, match=r"notes\.gz"):
        view_of(path)


def test_decompression_bomb_stops_at_the_limit(tmp_path: Path) -> None:
    path = write_tar(tmp_path / "bomb.tar.gz", {"zeros": b"\0" * 3_000_000}, mode="w:gz")
    with pytest.raises(HostileArtifact, match="max_total_bytes"):
        view_of(path, Limits(max_total_bytes=1_000_000))
