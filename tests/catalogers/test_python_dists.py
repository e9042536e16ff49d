from __future__ import annotations

import json
from pathlib import Path

from builders import dist, write_zip

from depscan.models import PythonDist
from tests.helpers import dists, scan

SITE = "python/lib/python3.12/site-packages"


def test_metadata_fields_record_wheel_installer_direct_url(tmp_path: Path) -> None:
    files = dist(
        "Django_Rest-Framework",
        "3.14.0",
        summary="Web APIs for Django",
        license_expression="BSD-3-Clause",
        requires=("django>=3.0", "pytz; python_version < '3.9'"),
        tags=("py3-none-any",),
        scripts=("drf",),
    )
    files["Django_Rest_Framework-3.14.0.dist-info/direct_url.json"] = json.dumps(
        {"url": "https://example.invalid/x.whl", "archive_info": {}}
    ).encode()
    result = scan(write_zip(tmp_path / "a.zip", files))
    assert not result.unknowns
    (d,) = result.components
    assert isinstance(d, PythonDist)
    assert d.name == "Django_Rest-Framework"
    assert d.normalized_name == "django-rest-framework"  # PEP 503
    assert d.purl == "pkg:pypi/django-rest-framework@3.14.0"
    assert d.summary == "Web APIs for Django"
    assert d.license_expression == "BSD-3-Clause"
    assert d.requires_dist == ("django>=3.0", "pytz; python_version < '3.9'")
    assert d.installer == "pip"
    assert d.wheel is not None and d.wheel.tags == ("py3-none-any",) and d.wheel.root_is_purelib is True
    assert d.direct_url == {"url": "https://example.invalid/x.whl", "archive_info": {}}
    # RECORD: every file with its hash, RECORD itself without; the console script is outside the zip.
    paths = {r.path: r for r in d.record}
    assert paths["django_rest_framework/__init__.py"].algorithm == "sha256"
    assert len(paths["django_rest_framework/__init__.py"].digest or "") == 64
    assert paths["Django_Rest_Framework-3.14.0.dist-info/RECORD"].digest is None
    assert d.record_outside == 1


def test_record_paths_resolve_inside_the_artifact(tmp_path: Path) -> None:
    files = dist("tool", "1.0", root=SITE)
    record_path = f"{SITE}/tool-1.0.dist-info/RECORD"
    files[record_path] += b"../../../bin/tool,,\n"
    (d,) = scan(write_zip(tmp_path / "layer.zip", files)).components
    assert isinstance(d, PythonDist)
    assert "python/bin/tool" in {r.path for r in d.record}
    assert f"{SITE}/tool/__init__.py" in {r.path for r in d.record}


def test_metadata_without_version_is_an_unknown(tmp_path: Path) -> None:
    files = dist("good", "1.0") | {"broken-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: broken\n"}
    result = scan(write_zip(tmp_path / "x.zip", files))
    assert list(dists(result)) == ["good==1.0"]
    (unknown,) = result.unknowns
    assert unknown.location.path == "broken-1.0.dist-info/METADATA"
    assert unknown.reason == "METADATA has no Version field"


def test_metadata_garbage_and_bad_name(tmp_path: Path) -> None:
    files = {
        "a-1.dist-info/METADATA": b"\x00\xff\xfe garbage without headers",
        "b-1.dist-info/METADATA": b"Metadata-Version: 2.1\nName: -not valid-\nVersion: 1\n",
        "c-1.dist-info/RECORD": b"",
    }
    result = scan(write_zip(tmp_path / "x.zip", files))
    assert not result.components
    reasons = sorted(u.reason for u in result.unknowns)
    assert reasons == [
        "METADATA has no Name field",
        "METADATA: invalid distribution name '-not valid-'",
        "dist-info directory without METADATA",
    ]


def test_record_with_bad_rows_keeps_the_dist_and_reports_each_row(tmp_path: Path) -> None:
    files = dist("ok", "1.0")
    files["ok-1.0.dist-info/RECORD"] = (
        b"ok/__init__.py,sha256=AAAA,10\n"
        b"ok/a.py,md5,10\n"
        b"ok/b.py,sha256=!!!,10\n"
        b"ok/c.py,,ten\n"
        b"ok/d.py,too,many,columns\n"
        b"ok/e.py,sha256=AAAA,-1\n"
        b"ok/f.py,sha256=AAAA,1\n"
        b"ok/g.py,x,1\n"
        b"ok/h.py,y,1\n"
    )
    result = scan(write_zip(tmp_path / "x.zip", files))
    (d,) = result.components
    assert isinstance(d, PythonDist)
    assert [r.path for r in d.record] == ["ok/__init__.py", "ok/f.py"]
    reasons = [u.reason for u in result.unknowns]
    assert reasons[0] == "RECORD line 2: bad hash 'md5' (expected <algorithm>=<urlsafe-base64>)"
    assert reasons[1].startswith("RECORD line 3: bad hash")
    assert reasons[2] == "RECORD line 4: bad size 'ten'"
    assert reasons[3] == "RECORD line 5: expected 3 columns (path, hash, size), found 4"
    assert reasons[4] == "RECORD line 6: negative size '-1'"
    assert reasons[5] == "2 more bad RECORD lines"


def test_egg_info_directory_and_file(tmp_path: Path) -> None:
    files = {
        "site/legacy-0.9.egg-info/PKG-INFO": b"Metadata-Version: 1.1\nName: legacy\nVersion: 0.9\n",
        "site/legacy-0.9.egg-info/installed-files.txt": b"../legacy/__init__.py\nPKG-INFO\n",
        "site/legacy/__init__.py": b"",
        "site/single-2.0.egg-info": b"Metadata-Version: 1.0\nName: single\nVersion: 2.0\n",
        "eggs/zipped-1.0-py3.11.egg/EGG-INFO/PKG-INFO": b"Metadata-Version: 1.1\nName: zipped\nVersion: 1.0\n",
    }
    found = dists(scan(write_zip(tmp_path / "x.zip", files)))
    assert set(found) == {"legacy==0.9", "single==2.0", "zipped==1.0"}
    assert all(d.found_by == "python-egg-info" for d in found.values())
    legacy = [r.path for r in found["legacy==0.9"].record]
    assert legacy == ["site/legacy/__init__.py", "site/legacy-0.9.egg-info/PKG-INFO"]
    assert found["zipped==1.0"].site_root == "eggs/zipped-1.0-py3.11.egg"


def test_non_pep440_version_is_kept(tmp_path: Path) -> None:
    files = {"x-1.dist-info/METADATA": b"Metadata-Version: 2.1\nName: x\nVersion: 2004d\n"}
    (d,) = scan(write_zip(tmp_path / "x.zip", files)).components
    assert d.version == "2004d" and d.purl == "pkg:pypi/x@2004d"


def test_license_files_mirroring_vendored_dist_infos_are_not_dists(tmp_path: Path) -> None:
    files = dist("bleach", "6.2.0")
    files["bleach-6.2.0.dist-info/licenses/bleach/_vendor/html5lib-1.1.dist-info/LICENSE"] = b"MIT"
    files["bleach-6.2.0.dist-info/licenses/x-1.0.dist-info/METADATA"] = b"Name: x\nVersion: 1.0\n"
    # A vendored distribution with real metadata is a component of its own.
    files |= dist("packaging", "24.2", root="setuptools/_vendor")
    result = scan(write_zip(tmp_path / "a.zip", files))
    assert not result.unknowns
    assert set(dists(result)) == {"bleach==6.2.0", "packaging==24.2"}
    assert dists(result)["packaging==24.2"].site_root == "setuptools/_vendor"
