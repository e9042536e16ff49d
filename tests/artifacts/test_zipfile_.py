from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from builders import dist, write_zip

from depscan.artifacts.limits import Limits
from depscan.artifacts.view import EntryType
from depscan.errors import CorruptArtifact, HostileArtifact, MemberError
from tests.helpers import dists, scan, view_of


def test_indexes_members_without_reading_them(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "f.zip", {"a/b.py": b"x = 1\n", "big.bin": b"\0" * 100_000})
    with view_of(path) as view:
        assert view.get("a/b.py") is not None
        assert view.get("big.bin").size == 100_000  # type: ignore[union-attr]
        assert view.read("a/b.py") == b"x = 1\n"


def test_unsafe_member_paths_are_skipped_as_unknowns(tmp_path: Path) -> None:
    path = write_zip(
        tmp_path / "evil.zip",
        dist("ok", "1.0"),
        raw_names={"../../etc/evil.py": b"boom", "/abs/path.py": b"boom", "a/../../up.py": b"boom"},
    )
    result = scan(path)
    assert "ok==1.0" in dists(result)
    reasons = {u.location.path: u.reason for u in result.unknowns}
    assert set(reasons) == {"../../etc/evil.py", "/abs/path.py", "a/../../up.py"}
    assert all("unsafe member path" in r for r in reasons.values())


def test_symlink_inside_is_followed_and_outside_is_not(tmp_path: Path) -> None:
    path = write_zip(
        tmp_path / "links.zip",
        {"real/data.txt": b"hello"},
        symlinks={"inside.txt": "real/data.txt", "outside.txt": "/etc/passwd", "climb.txt": "../../etc/passwd"},
    )
    with view_of(path) as view:
        assert view.get("inside.txt").type is EntryType.SYMLINK  # type: ignore[union-attr]
        assert view.read("inside.txt") == b"hello"
        for name in ("outside.txt", "climb.txt"):
            with pytest.raises(MemberError, match="points outside the artifact"):
                view.read(name)
        assert sorted(view.warnings) == [
            "climb.txt: symlink to '../../etc/passwd' points outside the artifact; not followed",
            "outside.txt: symlink to '/etc/passwd' points outside the artifact; not followed",
        ]


def test_member_with_bomb_ratio_is_refused(tmp_path: Path) -> None:
    bomb = b"\0" * (4 * 1024 * 1024)  # deflates about 1000:1
    path = write_zip(tmp_path / "bomb.zip", {"x.dist-info/METADATA": bomb})
    result = scan(path)
    assert not result.components
    (unknown,) = result.unknowns
    assert "compression ratio" in unknown.reason and "zip bomb" in unknown.reason


def test_declared_total_over_limit_is_hostile(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "big.zip", {f"f{i}": b"\0" * 10_000 for i in range(20)})
    with pytest.raises(HostileArtifact, match=r"big\.zip: members declare 200000 bytes"):
        view_of(path, Limits(max_total_bytes=100_000))


def test_too_many_entries_is_hostile(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "many.zip", {f"f{i}": b"" for i in range(50)})
    with pytest.raises(HostileArtifact, match="more than 10 entries"):
        view_of(path, Limits(max_entries=10))


def test_corrupt_and_truncated_zips(tmp_path: Path) -> None:
    good = write_zip(tmp_path / "good.zip", dist("ok", "1.0")).read_bytes()
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(good[: len(good) // 2])
    with pytest.raises(CorruptArtifact, match=r"^.*truncated\.zip: not a readable zip archive"):
        view_of(truncated)
    # A damaged member (flipped bytes in the compressed data): the entry becomes an Unknown.
    data = bytearray(good)
    offset = good.index(b"METADATA") + 40
    data[offset : offset + 20] = b"\xff" * 20
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(bytes(data))
    result = scan(damaged)
    assert any("cannot decompress" in u.reason or "has no" in u.reason for u in result.unknowns)


def test_stored_zip_and_wheel_kind(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "ok-1.0-py3-none-any.whl", dist("ok", "1.0"), compression=zipfile.ZIP_STORED)
    result = scan(path)
    assert result.artifact.kind == "wheel"
    assert list(dists(result)) == ["ok==1.0"]


@pytest.mark.parametrize("odd", ["./a.py", "/abs.py", "a/../../up.py", "a/./b.py", "a//b.py", "a\\b.py", "C:x.py",
                                 "x/y:z.py", ".hidden/z.py", "../x.py"])
@pytest.mark.parametrize("place", [0, 1, 3])
def test_one_irregular_name_anywhere_is_normalized_or_refused(tmp_path: Path, odd: str, place: int) -> None:
    """The index tests all names for irregular ones at once (``_plain_names``): one odd name in any place
    is still taken through ``safe_member_path``, the others kept as they are."""
    from depscan.artifacts.limits import safe_member_path

    names = ["pkg/__init__.py", "pkg/mod.py", "data/x.txt"]
    names.insert(place, odd)
    path = write_zip(tmp_path / "mixed.zip", {}, raw_names={name: name.encode() for name in names})
    with view_of(path) as view:
        expected = {safe_member_path(name) for name in names} - {None}
        assert {e.path for e in view.entries() if e.type is EntryType.FILE} == expected
        assert {u.location.path for u in view.unknowns} == {name for name in names if safe_member_path(name) is None}
