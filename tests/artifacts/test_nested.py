from __future__ import annotations

from pathlib import Path

from builders import dist, write_tar, write_zip, zip_bytes

from depscan.artifacts.limits import Limits
from tests.helpers import dists, scan


def test_wheels_inside_a_bundle_are_inventoried(tmp_path: Path) -> None:
    wheel = zip_bytes(dist("attrs", "23.1.0"))
    inner_zip = zip_bytes({"deep/pkg.whl": zip_bytes(dist("six", "1.16.0"))})
    path = write_zip(tmp_path / "bundle.zip", {"wheels/attrs-23.1.0-py3-none-any.whl": wheel, "inner.zip": inner_zip})
    result = scan(path)
    found = dists(result)
    assert set(found) == {"attrs==23.1.0", "six==1.16.0"}
    assert found["six==1.16.0"].metadata_location.path == "inner.zip!/deep/pkg.whl!/six-1.16.0.dist-info/METADATA"
    assert found["attrs==23.1.0"].site_root == "wheels/attrs-23.1.0-py3-none-any.whl!"


def test_nesting_deeper_than_the_limit_is_an_unknown(tmp_path: Path) -> None:
    level = zip_bytes(dist("deepest", "1.0"))
    for _ in range(4):
        level = zip_bytes({"next.zip": level})
    path = write_zip(tmp_path / "matryoshka.zip", {"next.zip": level})
    result = scan(path, limits=Limits(max_depth=3))
    assert not result.components
    (unknown,) = result.unknowns
    assert "deeper than max_depth=3" in unknown.reason
    assert unknown.location.path.count("!/") == 3  # three levels opened, the fourth refused


def test_corrupt_nested_archive_is_an_unknown_and_the_scan_goes_on(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "b.zip", {"broken.whl": b"PK\x03\x04 definitely not a zip"} | dist("ok", "1.0"))
    result = scan(path)
    assert "ok==1.0" in dists(result)
    (unknown,) = result.unknowns
    assert unknown.location.path == "broken.whl" and "nested archive not opened" in unknown.reason


def test_a_file_named_like_an_archive_is_just_a_file(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "c.zip", {"data/not-really.zip": b"plain text"})
    assert not scan(path).unknowns


def test_tarball_inside_a_zip(tmp_path: Path) -> None:
    tar = write_tar(tmp_path / "src.tar.gz", dist("idna", "3.4", root="site"), mode="w:gz")
    path = write_zip(tmp_path / "d.zip", {"vendor/src.tar.gz": tar.read_bytes()})
    assert list(dists(scan(path))) == ["idna==3.4"]
