"""bench/gen_vendored_names.py: import names from the index's wheels (read by range requests), top-level
wheels, wheels vendored with their dist-info, a vendoring project's pin list, and the documented extra names;
what is left out; and what the generated table identifies."""

from __future__ import annotations

import io
import re
import zipfile
from collections import defaultdict
from pathlib import Path
from types import ModuleType
from typing import Any

import responses
from builders import dist, write_zip
from requests import PreparedRequest

from depscan.models import PythonDist, Status
from tests.helpers import bench_module, scan


def _generator() -> ModuleType:
    return bench_module("gen_vendored_names")


def test_vendored_dist_infos_pin_lists_and_extras_feed_the_table(tmp_path: Path) -> None:
    gen = _generator()
    files = dist("CacheControl", "0.14.0", modules={"cachecontrol/__init__.py": b""})
    vendored = dist("tomli", "2.4.0", root="setuptools/_vendor")  # a wheel setuptools vendors, dist-info kept
    files |= {path: data for path, data in vendored.items()}
    files |= dist("setuptools", "84.2.1", modules={"setuptools/__init__.py": b""})
    files |= {
        "pip/_vendor/vendor.txt": b"CacheControl==0.14.4\nresolvelib==1.2.1  # pinned\ntomli-w==1.2.0\nrich==15\n",
        "pip/_vendor/cachecontrol/__init__.py": b"",
        "pip/_vendor/resolvelib/__init__.py": b"",
        "pip/_vendor/tomli_w/__init__.py": b"",
        "pip/_vendor/notpinned/__init__.py": b"",
    }
    source = write_zip(tmp_path / "in put.zip", files)
    table = gen.build([source])
    assert table["tomli"] == "tomli"  # read from setuptools/_vendor/tomli-2.4.0.dist-info
    assert (table["resolvelib"], table["tomli_w"]) == ("resolvelib", "tomli-w")  # named by pip's vendor.txt
    assert table["cachecontrol"] == "CacheControl"  # one project however it is spelled: kept
    assert "notpinned" not in table and "rich" not in table
    assert table["pkg_resources"] == "setuptools"  # EXTRA
    directory = tmp_path / "site dir"
    for path, data in files.items():
        (directory / path).parent.mkdir(parents=True, exist_ok=True)
        (directory / path).write_bytes(data)
    assert gen.build([directory]) == table


def test_pip_vendored_pkg_resources_is_the_setuptools_pip_pins(tmp_path: Path) -> None:
    modules = {
        "pip/__init__.py": b'__version__ = "26.3"\n',
        "pip/_vendor/__init__.py": b"",
        "pip/_vendor/vendor.txt": b"packaging==26.3\nsetuptools==70.3.0\nresolvelib==1.2.1\n",
        "pip/_vendor/pkg_resources/__init__.py": b"import sys\n",
        "pip/_vendor/resolvelib/__init__.py": b"",
    }
    result = scan(write_zip(tmp_path / "site.zip", dist("pip", "26.3", modules=modules)))
    copies = {(c.name, c.version, c.metadata_location.path) for c in result.components
              if isinstance(c, PythonDist) and c.status is Status.VENDORED}
    assert copies == {("setuptools", "70.3.0", "pip/_vendor/pkg_resources/__init__.py"),
                      ("resolvelib", "1.2.1", "pip/_vendor/resolvelib/__init__.py")}
    assert not result.unknowns


# --- the index: wheel choice, member names by range requests, what is left out ---


def _wheel(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _file(filename: str, url: str, size: int = 1, packagetype: str = "bdist_wheel",
          **extra: object) -> dict[str, object]:
    return {"filename": filename, "packagetype": packagetype, "url": url, "size": size, **extra}


def test_top_level_names_from_member_names() -> None:
    gen = _generator()
    members = [
        "six.py", "_cffi_backend.cpython-311-x86_64-linux-gnu.so", "_win.cp311-win_amd64.pyd",
        "yaml/__init__.py", "yaml/reader.py", "fast/__init__.cpython-311-x86_64-linux-gnu.so",
        "google/protobuf/__init__.py", "google/protobuf/message.py",  # google/ has no __init__: a namespace
        "pkg-1.0.dist-info/RECORD", "pkg-1.0.dist-info/top_level.py", "numpy.libs/libgfortran.so.5",
        "pkg-1.0.data/purelib/extra/__init__.py", "pkg-1.0.data/scripts/tool.py",
        "data_only/file.json", "stubs-stubs/__init__.pyi", "__pycache__/x.cpython-311.pyc", "README.txt",
    ]
    assert gen.top_level(members) == {
        "six": "module", "_cffi_backend": "module", "_win": "module", "yaml": "package", "fast": "package",
        "google": "namespace", "extra": "package",
    }


def test_wheel_choice() -> None:
    gen = _generator()
    sdist = _file("x-1.tar.gz", "u", packagetype="sdist")
    linux = _file("x-1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "u")
    abi3 = _file("x-1-cp39-abi3-manylinux_2_28_x86_64.whl", "u")
    other = _file("x-1-cp312-cp312-manylinux_2_28_x86_64.whl", "u")
    windows = _file("x-1-cp311-cp311-win_amd64.whl", "u")
    pure = _file("x-1-py2.py3-none-any.whl", "u")
    yanked = _file("x-1-py3-none-any.whl", "u", yanked=True)
    assert gen.pick_wheel([sdist, windows, other, abi3, linux, pure, yanked]) is pure
    assert gen.pick_wheel([sdist, windows, other, abi3, linux]) is linux
    assert gen.pick_wheel([windows, other, abi3]) is abi3
    assert gen.pick_wheel([windows, other]) is other
    assert gen.pick_wheel([windows, _file("bad name.whl", "u")]) is windows
    assert gen.pick_wheel([sdist, yanked]) is None


def test_shared_namespace_and_generic_names_are_left_out(tmp_path: Path) -> None:
    gen = _generator()

    def project(name: str, **names: str) -> object:
        return gen.Project(listed=name.lower(), name=name, names=names)

    projects = [
        project("PyJWT", jwt="package"), project("jwt", jwt="package"),  # two regular packages: shared
        project("google-auth", google="namespace"), project("protobuf", google="namespace"),
        project("Twisted", twisted="package"), project("autobahn", twisted="namespace", autobahn="package"),
        project("backports.tarfile", backports="package"), project("pytest", tests="package", pytest="package"),
        project("lonely-ns", lonely="namespace"),
    ]
    claims: dict[str, dict[str, tuple[str, str]]] = defaultdict(dict)
    gen.index_claims(projects, claims)
    reasons = {name: gen.why_left_out(name, claimed) for name, claimed in claims.items()}
    assert reasons == {"jwt": "shared", "google": "shared", "twisted": "shared", "autobahn": None,
                       "backports": "namespace", "tests": "generic", "pytest": None, "lonely": "namespace"}
    table = gen.build([], projects)
    assert table == {"autobahn": "autobahn", "pkg_resources": "setuptools", "pytest": "pytest"}
    text, figures = gen.report(projects, claims, "# header")
    assert "jwt: PyJWT, jwt" in text and "google: google-auth, protobuf" in text
    assert figures["left out: shared"] == 3 and figures["with names"] == len(projects)


def test_the_rendered_module_round_trips(tmp_path: Path) -> None:
    gen = _generator()
    table = {"yaml": "PyYAML", "six": "six", "typing_extensions": "typing-extensions", "_yaml": "PyYAML",
             **{f"mod{i:04}": f"project-{i}" for i in range(300)}}
    namespace: dict[str, object] = {}
    exec(compile(gen.render(table, ["Generated by a test."]), "vendored_names.py", "exec"), namespace)
    mapping: Any = namespace["IMPORT_NAMES"]
    assert dict(mapping) == table and list(mapping) == sorted(table)
    assert mapping.get("nope") is None and mapping.get("six") == "six"
    assert "typing_extensions -" not in namespace["_PROJECTS"] and " - " in f' {namespace["_PROJECTS"]} '


class _Server:
    """files.pythonhosted.org and pypi.org for ``responses``: the JSON API and range requests."""

    def __init__(self, mocked: responses.RequestsMock, honour_ranges: bool = True) -> None:
        self.mocked, self.honour_ranges = mocked, honour_ranges
        self.served: dict[str, int] = defaultdict(int)

    def project(self, name: str, version: str, files: list[dict[str, object]]) -> None:
        body = {"info": {"name": name, "version": version}, "urls": files, "releases": {version: files}}
        self.mocked.add(responses.GET, f"https://pypi.org/pypi/{name.lower()}/json", json=body)

    def file(self, url: str, data: bytes) -> None:
        def answer(request: PreparedRequest) -> tuple[int, dict[str, str], bytes]:
            match = re.fullmatch(r"bytes=(\d+)-(\d+)", str(request.headers.get("Range", "")))
            if not self.honour_ranges or match is None:
                self.served[url] += len(data)
                return 200, {}, data
            start, end = int(match[1]), int(match[2]) + 1
            self.served[url] += end - start
            return 206, {"Content-Range": f"bytes {start}-{end - 1}/{len(data)}"}, data[start:end]

        self.mocked.add_callback(responses.GET, url, callback=answer)


def test_member_names_by_range_requests_and_a_cache(tmp_path: Path) -> None:
    gen = _generator()
    # A central directory larger than the first read from the end (many members), and a big member
    # before it: the reader must fetch the directory's start with a second range request, never the data.
    members = {"bigpkg/__init__.py": b"", "bigpkg/blob.bin": bytes(range(256)) * 4000}
    members |= {f"bigpkg/sub/module_with_a_rather_long_name_{i:05}.py": b"" for i in range(1200)}
    members |= {"bigpkg-1.0.dist-info/METADATA": b"Name: bigpkg\n"}
    big = _wheel(members)
    small = _wheel({"six.py": b"", "six-1.17.0.dist-info/RECORD": b""})
    files = "https://files.example/packages"
    with responses.RequestsMock() as mocked:
        server = _Server(mocked)
        server.project("BigPkg", "1.0", [_file("bigpkg-1.0.tar.gz", f"{files}/bigpkg.tar.gz", packagetype="sdist"),
                                         _file("bigpkg-1.0-py3-none-any.whl", f"{files}/bigpkg.whl", len(big))])
        server.file(f"{files}/bigpkg.whl", big)
        # a mirror that answers with relative file URLs
        server.project("six", "1.17.0", [_file("six-1.17.0-py2.py3-none-any.whl", "../../files/six.whl", len(small))])
        server.file("https://pypi.org/files/six.whl", small)
        server.project("sdistonly", "0.1", [_file("sdistonly-0.1.tar.gz", f"{files}/s.tar.gz", packagetype="sdist")])
        mocked.add(responses.GET, "https://pypi.org/pypi/gone/json", status=404)
        index = gen.Index(tmp_path / "cache dir", max_age_hours=24)
        projects = gen.fetch(index, ["bigpkg", "six", "sdistonly", "gone"], jobs=2)
        big_project = projects[0]
        assert (big_project.name, big_project.version, big_project.names) == ("BigPkg", "1.0", {"bigpkg": "package"})
        assert big_project.ranges == 2 and server.served[f"{files}/bigpkg.whl"] == big_project.bytes_read
        assert big_project.bytes_read < len(big) - len(members["bigpkg/blob.bin"])  # the blob was never read
        assert projects[1].names == {"six": "module"} and projects[1].ranges == 1
        assert [p.skipped for p in projects] == [None, None, "sdist only", "not on the index"]
        calls = len(mocked.calls)
    with responses.RequestsMock() as mocked:  # a rerun: everything from the cache, no request at all
        index = gen.Index(tmp_path / "cache dir", max_age_hours=24)
        again = gen.fetch(index, ["bigpkg", "six", "sdistonly", "gone"], jobs=1)
        assert len(mocked.calls) == 0 and calls == 4 + 2 + 1
    assert [(p.names, p.skipped, p.ranges, p.bytes_read) for p in again] == \
        [(p.names, p.skipped, p.ranges, p.bytes_read) for p in projects]
    assert gen.build([], again) == {"bigpkg": "BigPkg", "pkg_resources": "setuptools", "six": "six"}


def test_a_server_that_ignores_ranges_is_an_error_not_a_download(tmp_path: Path) -> None:
    gen = _generator()
    wheel = _wheel({"pkg/__init__.py": b""})
    with responses.RequestsMock() as mocked:
        server = _Server(mocked, honour_ranges=False)
        server.project("pkg", "1", [_file("pkg-1-py3-none-any.whl", "https://files.example/pkg.whl", len(wheel))])
        server.file("https://files.example/pkg.whl", wheel)
        (project,) = gen.fetch(gen.Index(tmp_path, max_age_hours=24), ["pkg"], 1)
    assert project.skipped == "error: OSError: no range answer (HTTP 200)" and not project.names
