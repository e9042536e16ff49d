"""The package index client (``depscan/pypi_index.py``) and fix advice checked against it, on a mocked index
in the real shapes: a PEP 691 project page (several files per release, a yanked release, a release with no
wheel for the target, ``core-metadata`` and its ``.metadata`` file) and the per-project JSON API."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import responses
from packaging.tags import Tag

from depscan import fixes
from depscan.models import TargetRuntime, WheelInfo
from depscan.pypi_index import (
    SIMPLE_JSON,
    IndexClient,
    IndexUnavailable,
    ProjectNotFound,
    installable,
    target_tags,
)
from tests.advisories.osv_records import record
from tests.test_fixes import _dist, _result
from tests.test_match import Fake

INDEX = "https://index.example/simple/"
FILES = "https://files.example/packages/"
METADATA_104 = (b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0.4\nRequires-Dist: dep<2\n"
                b"Requires-Dist: other; extra == 'x'\n\n")
ARM64 = TargetRuntime(runtime="python3.11", python="3.11", machine="aarch64", glibc="2.26", libc="glibc")


def _sha(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def _file(filename: str, **extra: Any) -> dict[str, Any]:
    return {"filename": filename, "url": f"{FILES}{filename}", "hashes": {"sha256": _sha(filename)},
            "requires-python": ">=3.8", **extra}


def simple_page() -> dict[str, Any]:
    """A PEP 691 project page (api-version 1.1, as PyPI serves it)."""
    return {
        "meta": {"api-version": "1.1", "_last-serial": 1},
        "name": "pkg",
        "versions": ["1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4", "1.1.0", "2.0.0"],
        "files": [
            _file("pkg-1.0.0-py3-none-any.whl"),
            _file("pkg-1.0.1-py3-none-any.whl"),
            _file("pkg-1.0.2-py3-none-any.whl", yanked="broken build"),
            _file("pkg-1.0.2.tar.gz", yanked=True),
            _file("pkg-1.0.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"),
            _file("pkg-1.0.3-cp311-cp311-manylinux_2_28_aarch64.whl"),  # glibc 2.28: not on python3.11's 2.26
            _file("pkg-1.0.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"),
            _file("pkg-1.0.4-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
                  **{"core-metadata": {"sha256": hashlib.sha256(METADATA_104).hexdigest()},
                     "data-dist-info-metadata": {"sha256": hashlib.sha256(METADATA_104).hexdigest()}}),
            _file("pkg-1.0.4-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl"),
            _file("pkg-1.0.4.tar.gz"),
            _file("pkg-1.1.0-py3-none-any.whl"),
            _file("pkg-1.1.0.tar.gz"),
            _file("pkg-2.0.0-py3-none-any.whl", **{"requires-python": ">=3.12"}),
        ],
    }


ADVISORY = record("PYSEC-X", "pkg", events=[{"introduced": "0"}, {"fixed": "1.0.2"}])


def _scan(tmp_path: Path, target: TargetRuntime | None = ARM64) -> Any:
    pkg = _dist("pkg", "1.0.0", requires=("dep>=1",))
    dep = _dist("dep", "2.0")
    return _result([pkg, dep], [ADVISORY], target=target)


def _mock_simple(rsps: responses.RequestsMock) -> None:
    rsps.get(f"{INDEX}pkg/", json=simple_page(), content_type=SIMPLE_JSON)
    rsps.get(f"{FILES}pkg-1.0.4-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl.metadata",
             body=METADATA_104)


@responses.activate
def test_pep691_page_yanked_incompatible_and_metadata(tmp_path: Path) -> None:
    _mock_simple(responses.mock)
    client = IndexClient(INDEX, cache_dir=tmp_path / "cache")
    result = _scan(tmp_path)
    with client.phase():
        (advice,) = fixes.verified(result, Fake([ADVISORY]), client)
    # 1.0.1 affected, 1.0.2 yanked, 1.0.3 has no wheel for cp311 aarch64 glibc 2.26: 1.0.4
    assert advice.recommended == "1.0.4" and advice.checked is True
    assert advice.newest_in_major == "1.1.0"  # 2.0.0 needs Python 3.12, and is another major line anyway
    assert advice.breaking is False and advice.index_url == INDEX
    assert advice.hashes == (f"sha256:{_sha('pkg-1.0.4-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl')}",
                             f"sha256:{_sha('pkg-1.0.4.tar.gz')}")
    skipped = next(n for n in advice.notes if n.startswith("skipped"))
    assert "1.0.2: yanked (broken build)" in skipped
    assert "1.0.3: no wheel for cp311 aarch64 (glibc 2.26)" in skipped
    # its Requires-Dist, from the .metadata file, against what is installed: dep 2.0 breaks dep<2
    assert advice.conflicts == ("pkg 1.0.4 requires dep<2 ('Requires-Dist: dep<2')",)
    assert "availability not checked" not in fixes.describe(advice)
    # cached on disk: a second client asks nothing
    responses.mock.reset()
    again = IndexClient(INDEX, cache_dir=tmp_path / "cache")
    assert len(again.project("pkg").files) == len(simple_page()["files"])


@responses.activate
def test_x86_64_target_takes_the_first_release_with_its_wheel(tmp_path: Path) -> None:
    _mock_simple(responses.mock)
    responses.get(f"{FILES}pkg-1.0.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl.metadata", status=404)
    responses.get("https://index.example/pypi/pkg/1.0.3/json", json={"info": {"requires_dist": None}})
    x86 = TargetRuntime(python="3.11", machine="x86_64", glibc="2.26", libc="glibc")
    (advice,) = fixes.verified(_scan(tmp_path, x86), Fake([ADVISORY]), IndexClient(INDEX))
    assert advice.recommended == "1.0.3" and advice.conflicts == ()


@responses.activate
def test_no_compatible_release_says_why(tmp_path: Path) -> None:
    page = simple_page()
    page["files"] = [f for f in page["files"] if "1.0.4" not in f["filename"] and "1.1.0" not in f["filename"]
                     and "2.0.0" not in f["filename"]]
    responses.get(f"{INDEX}pkg/", json=page, content_type=SIMPLE_JSON)
    (advice,) = fixes.verified(_scan(tmp_path), Fake([ADVISORY]), IndexClient(INDEX))
    assert advice.recommended is None and advice.checked is True
    why = advice.why_not or ""
    assert "installs on cp311 aarch64 (glibc 2.26)" in why and "1.0.2: yanked" in why and "1.0.3: no wheel" in why


@responses.activate
def test_html_only_index_falls_back_to_the_json_api(tmp_path: Path) -> None:
    responses.get(f"{INDEX}pkg/", body="<html><body><a href='x'>x</a></body></html>", content_type="text/html")
    releases: dict[str, list[dict[str, Any]]] = {}
    for f in simple_page()["files"]:
        version = f["filename"].split("-")[1].removesuffix(".tar.gz")
        releases.setdefault(version, []).append({
            "filename": f["filename"], "url": f["url"], "digests": {"sha256": f["hashes"]["sha256"]},
            "requires_python": f["requires-python"], "yanked": bool(f.get("yanked")),
            "yanked_reason": f["yanked"] if isinstance(f.get("yanked"), str) else None})
    responses.get("https://index.example/pypi/pkg/json", json={"info": {"name": "pkg"}, "releases": releases})
    responses.get("https://index.example/pypi/pkg/1.0.4/json", json={"info": {"requires_dist": ["dep<2"]}})
    client = IndexClient(INDEX)
    assert client.project("pkg").source == "json-api"
    (advice,) = fixes.verified(_scan(tmp_path), Fake([ADVISORY]), client)
    assert advice.recommended == "1.0.4"
    assert advice.conflicts == ("pkg 1.0.4 requires dep<2 ('Requires-Dist: dep<2')",)


@responses.activate
def test_index_failures_are_one_line_and_fall_back_to_the_advisory_data(tmp_path: Path) -> None:
    responses.get(f"{INDEX}pkg/", status=503)
    responses.get("https://index.example/pypi/pkg/json", status=503)
    client = IndexClient(INDEX, retries=1, sleep=lambda _s: None)
    with pytest.raises(IndexUnavailable, match="HTTP 503 after 2 attempts"):
        client.project("pkg")
    (advice,) = fixes.verified(_scan(tmp_path), Fake([ADVISORY]), client)
    assert advice.recommended == "1.0.2"  # the advisory data's fix, unchecked, and said so
    assert "the index could not be asked" in (advice.why_not or "")
    responses.get(f"{INDEX}missing/", status=404)
    with pytest.raises(ProjectNotFound, match="not on the index"):
        IndexClient(INDEX).project("missing")
    responses.get(f"{INDEX}garbled/", body=b"{not json", content_type=SIMPLE_JSON)
    with pytest.raises(IndexUnavailable, match="not JSON"):
        IndexClient(INDEX).project("garbled")


def test_target_tags_from_the_runtime_or_the_copys_wheel() -> None:
    arm = target_tags(ARM64, _dist("pkg", "1.0"))
    assert arm.tags is not None
    assert Tag("cp311", "cp311", "manylinux2014_aarch64") in arm.tags
    assert Tag("cp311", "abi3", "manylinux_2_26_aarch64") in arm.tags
    assert Tag("py3", "none", "any") in arm.tags
    assert Tag("cp311", "cp311", "manylinux_2_28_aarch64") not in arm.tags
    assert Tag("cp312", "cp312", "manylinux2014_aarch64") not in arm.tags
    # nothing known from the scan: the copy's own WHEEL tags name Python and machine
    wheel = replace(_dist("pkg", "1.0"), wheel=WheelInfo(
        "bdist_wheel", False, ("cp312-cp312-manylinux_2_17_x86_64", "cp312-cp312-manylinux2014_x86_64")))
    from_wheel = target_tags(TargetRuntime(), wheel)
    assert from_wheel.python == "3.12" and from_wheel.tags is not None
    assert Tag("cp312", "cp312", "manylinux_2_17_x86_64") in from_wheel.tags
    assert from_wheel.caveat is not None and "glibc" in from_wheel.caveat
    unknown = target_tags(TargetRuntime(), _dist("pkg", "1.0"))
    assert unknown.tags is None and "Python version and machine is unknown" in (unknown.caveat or "")


def test_sdist_only_release_installs_by_building_and_says_so() -> None:
    from depscan.pypi_index import parse_simple_json

    files = parse_simple_json({"files": [_file("pure-3.0.tar.gz")]}, "pure", INDEX)
    ok, why, note = installable(files, target_tags(ARM64, _dist("pure", "1.0")))
    assert why is None and [f.filename for f in ok] == ["pure-3.0.tar.gz"] and "sdist only" in (note or "")


def test_file_names_of_other_projects_are_not_releases() -> None:
    from depscan.pypi_index import parse_simple_json

    files = parse_simple_json({"files": [_file("other-1.0-py3-none-any.whl"), _file("pkg-1.0-py3-none-any.whl")]},
                              "pkg", INDEX)
    assert [str(f.version) for f in files] == ["None", "1.0"]


@responses.activate
def test_requires_dist_from_an_unadvertised_metadata_file_when_the_json_api_has_none() -> None:
    _mock_simple(responses.mock)
    wheel = "pkg-1.1.0-py3-none-any.whl"
    responses.get("https://index.example/pypi/pkg/1.1.0/json", status=404)
    responses.get(f"{FILES}{wheel}.metadata", body=b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.1.0\n"
                                                   b"Requires-Dist: dep>=3\n\n")
    client = IndexClient(INDEX, sleep=lambda _s: None)
    project = client.project("pkg")
    assert client.requires_dist(project, "1.1.0") == ("dep>=3",)
    # advertised metadata whose sha256 does not match the page's is not used
    responses.replace(responses.GET, f"{FILES}pkg-1.0.4-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64"
                                     ".whl.metadata", body=b"Metadata-Version: 2.1\nName: pkg\nRequires-Dist: evil\n\n")
    responses.get("https://index.example/pypi/pkg/1.0.4/json", status=404)
    for other in ("pkg-1.0.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                  "pkg-1.0.4-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl"):
        responses.get(f"{FILES}{other}.metadata", status=404)
    assert client.requires_dist(project, "1.0.4") is None
