"""Vendored Python code (issue 10): copies without dist-info, vendor trees, identification evidence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from builders import dist, elf_header, write_tar, write_zip
from vendored import function_files, pip_files, setuptools_files

from depscan.catalogers.vendored import source_version
from depscan.models import Location, NativeLib, PythonDist, ScanResult, Status
from tests.helpers import scan


def _vendored(result: ScanResult) -> dict[str, PythonDist]:
    return {f"{c.normalized_name}=={c.version}@{c.metadata_location.path}": c for c in result.components
            if isinstance(c, PythonDist) and c.status is Status.VENDORED}


def test_a_function_zip_with_copied_code(tmp_path: Path) -> None:
    result = scan(write_zip(tmp_path / "function with space.zip", function_files()))
    found = _vendored(result)
    assert set(found) == {"six==1.15.0@six.py", "pyyaml==5.3.1@yaml/__init__.py",
                          "python-dateutil==2.8.1@dateutil/__init__.py"}
    six = found["six==1.15.0@six.py"]
    assert six.purl == "pkg:pypi/six@1.15.0"
    assert six.found_by == "vendored-code" and six.vendored_by is None
    assert [(e.method, e.confidence) for e in six.evidence] == [("module-version", "high"), ("import-name", "medium")]
    assert six.evidence[0].detail == "six.py: version 1.15.0"
    dateutil = found["python-dateutil==2.8.1@dateutil/__init__.py"]
    assert dateutil.name == "python-dateutil" and dateutil.evidence[0].detail.startswith("dateutil/_version.py")
    # The installed distribution is not a copy; attrs is identified but states no version.
    assert [c.name for c in result.components if isinstance(c, PythonDist) and c.status is Status.USED] == ["requests"]
    assert [(u.location.path, u.reason) for u in result.unknowns] == [
        ("attr/__init__.py", "attr/: identified as attrs (import name 'attr' is installed by attrs "
                             "(depscan.vendored_names)), version unknown")]
    # The handler and the function's own package are its own code: one note, no Unknown each.
    (note,) = [n for n in result.notes if "own code" in n]
    assert note.endswith("taken as the function's own code: handler.py, helpers/")


def test_a_layer_module_nothing_identifies_is_an_unknown(tmp_path: Path) -> None:
    function = write_zip(tmp_path / "function.zip", {"handler.py": b"def handler(e, c): pass\n"})
    layer = write_zip(tmp_path / "layer.zip", {"python/mystery.py": b"X = 1\n",
                                               "python/six.py": b'__version__ = "1.16.0"\n'})
    result = scan(function, layer)
    assert [(u.location.path, u.location.layer) for u in result.unknowns] == [("opt/python/mystery.py", "layer.zip")]
    assert "not identified" in result.unknowns[0].reason
    (six,) = _vendored(result).values()
    assert (six.version, six.metadata_location) == ("1.16.0", Location("opt/python/six.py", "layer.zip"))
    assert six.site_root == "opt/python"


def test_setuptools_vendor_tree_with_and_without_dist_info(tmp_path: Path) -> None:
    result = scan(write_zip(tmp_path / "site.zip", setuptools_files()))
    setuptools = next(c for c in result.components if isinstance(c, PythonDist) and c.name == "setuptools")
    assert setuptools.status is Status.USED
    found = _vendored(result)
    assert set(found) == {"packaging==21.3@setuptools/_vendor/packaging-21.3.dist-info/METADATA",
                          "pyparsing==3.0.9@pkg_resources/_vendor/pyparsing/__init__.py"}
    packaging = found["packaging==21.3@setuptools/_vendor/packaging-21.3.dist-info/METADATA"]
    assert packaging.found_by == "python-dist-info"  # its own dist-info: not found twice
    assert packaging.vendored_by == setuptools.metadata_location
    assert [e.method for e in packaging.evidence] == ["dist-info"]
    pyparsing = found["pyparsing==3.0.9@pkg_resources/_vendor/pyparsing/__init__.py"]
    assert pyparsing.vendored_by == setuptools.metadata_location
    assert pyparsing.site_root == "pkg_resources/_vendor"
    assert not result.unknowns


def test_pip_vendor_txt_pins_win(tmp_path: Path) -> None:
    result = scan(write_zip(tmp_path / "site.zip", pip_files()))
    pip = next(c for c in result.components if isinstance(c, PythonDist) and c.name == "pip")
    found = _vendored(result)
    assert set(found) == {"cachecontrol==0.12.6@pip/_vendor/cachecontrol/__init__.py",
                          "six==1.14.0@pip/_vendor/six.py",
                          "urllib3==1.25.7@pip/_vendor/urllib3/__init__.py",
                          "six==1.12.0@pip/_vendor/urllib3/packages/six.py"}
    urllib3 = found["urllib3==1.25.7@pip/_vendor/urllib3/__init__.py"]
    assert urllib3.evidence[0].method == "vendor-list" and urllib3.evidence[0].confidence == "high"
    assert urllib3.evidence[0].detail == "pip/_vendor/vendor.txt pins urllib3==1.25.7"
    assert found["cachecontrol==0.12.6@pip/_vendor/cachecontrol/__init__.py"].name == "CacheControl"
    assert all(c.vendored_by == pip.metadata_location for c in found.values())
    inner_six = found["six==1.12.0@pip/_vendor/urllib3/packages/six.py"]
    assert [e.method for e in inner_six.evidence] == ["module-version", "import-name"]
    assert [u.location.path for u in result.unknowns] == ["pip/_vendor/notalib/__init__.py"]
    assert result.unknowns[0].reason.startswith("vendored code in pip/_vendor/: pip/_vendor/notalib/")


def test_streamed_tar_keeps_what_identification_reads(tmp_path: Path) -> None:
    site = "var/lang/lib/python3.12/site-packages"
    files = {f"{site}/{p}": d for p, d in {**pip_files(), "six.py": b"__version__ = '1.15.0'\n"}.items()}
    result = scan(write_tar(tmp_path / "image.tar.gz", files, mode="w:gz"))
    assert {k.split("@")[0] for k in _vendored(result)} == {"cachecontrol==0.12.6", "six==1.14.0", "urllib3==1.25.7",
                                                           "six==1.12.0", "six==1.15.0"}


def test_an_egg_info_without_a_file_list_owns_its_module(tmp_path: Path) -> None:
    # Debian's python3-six: six.py beside a single-file egg-info, no RECORD: the installed copy, not a vendored one.
    root = "usr/lib/python3/dist-packages"
    files = {f"{root}/six-1.16.0.egg-info": b"Metadata-Version: 1.1\nName: six\nVersion: 1.16.0\n",
             f"{root}/six.py": b'__version__ = "1.16.0"\n'}
    result = scan(write_tar(tmp_path / "root.tar", files))
    assert not _vendored(result) and not result.unknowns
    assert [c.name for c in result.components] == ["six"]


def test_unowned_code_in_a_site_packages_root_is_an_unknown(tmp_path: Path) -> None:
    root = "usr/local/lib/python3.12/site-packages"
    files = {f"{root}/{p}": d for p, d in dist("idna", "3.4").items()}
    files[f"{root}/_virtualenv.py"] = b"X = 1\n"
    files[f"{root}/idna/extra.py"] = b"Y = 2\n"  # a file added to an installed package: not a new candidate
    result = scan(write_tar(tmp_path / "root.tar", files))
    assert [u.location.path for u in result.unknowns] == [f"{root}/_virtualenv.py"]
    assert result.unknowns[0].reason.startswith("Python code no distribution's RECORD lists")


def test_a_build_script_beside_an_egg_info_is_not_vendored_code(tmp_path: Path) -> None:
    # setuptools 75 ships zipped test projects (pkg_resources/tests/data/my-test-package-zip/my-test-package.zip):
    # an egg-info and the setup.py that built it. Found by bench/validate_issue10.py on the real wheel.
    project = write_zip(tmp_path / "p.zip", {
        "my_test_package.egg-info/PKG-INFO": b"Metadata-Version: 1.0\nName: my-test-package\nVersion: 1.0\n",
        "my_test_package.egg-info/top_level.txt": b"\n",
        "setup.py": b"import setuptools\nsetuptools.setup(name='my-test-package', version='1.0')\n",
        "setup.cfg": b"",
    }).read_bytes()
    files = dist("setuptools", "75.1.0", modules={
        "setuptools/__init__.py": b"", "pkg_resources/__init__.py": b"",
        "pkg_resources/tests/data/my-test-package-zip/my-test-package.zip": project})
    result = scan(write_zip(tmp_path / "layer.zip", {f"python/{p}": d for p, d in files.items()}))
    assert not result.unknowns and not _vendored(result)
    # a module that is not a build script, at the same root, still is a candidate
    other = write_zip(tmp_path / "p2.zip", {"my_test_package.egg-info/PKG-INFO": b"Metadata-Version: 1.0\n"
                                            b"Name: my-test-package\nVersion: 1.0\n", "other.py": b"X = 1\n"})
    files["pkg_resources/tests/data/my-test-package-zip/my-test-package.zip"] = other.read_bytes()
    result = scan(write_zip(tmp_path / "layer2.zip", {f"python/{p}": d for p, d in files.items()}))
    assert [u.location.path.rpartition("/")[2] for u in result.unknowns] == ["other.py"]


def test_a_version_in_a_sibling_module_and_in_pep_440_normal_form(tmp_path: Path) -> None:
    # serverless-python-requirements' slim mode deletes every *.dist-info: idna 3.7 keeps its version in
    # package_data.py (imported by __init__.py), certifi writes "2024.08.30" for release 2024.8.30. Found by
    # bench/validate_issue10.py on the real wheels.
    files = {
        "idna/__init__.py": b"from .package_data import __version__\nfrom .core import encode\n",
        "idna/package_data.py": b"__version__ = '3.7'\n",
        "idna/core.py": b"def encode(s): return s\n",
        "certifi/__init__.py": b'from .core import contents, where\n\n__all__ = ["contents", "where"]\n'
                               b'__version__ = "2024.08.30"\n',
        "handler.py": b"import idna, certifi\n",
    }
    found = _vendored(scan(write_zip(tmp_path / "slim.zip", files)))
    assert set(found) == {"idna==3.7@idna/__init__.py", "certifi==2024.8.30@certifi/__init__.py"}
    certifi = found["certifi==2024.8.30@certifi/__init__.py"]
    assert certifi.purl == "pkg:pypi/certifi@2024.8.30"
    assert certifi.evidence[0].detail == ("certifi/__init__.py: version 2024.08.30 (2024.8.30 in PEP 440's normal "
                                          "form)")
    assert found["idna==3.7@idna/__init__.py"].evidence[0].detail == "idna/package_data.py: version 3.7"


def test_bad_source_is_no_version_not_a_crash(tmp_path: Path) -> None:
    files = {"six.py": b"__version__ = (\n", "yaml/__init__.py": b"\xff\xfe__version__ = 'x'\n\x00"}
    result = scan(write_zip(tmp_path / "f.zip", files))
    assert not _vendored(result)
    assert sorted(u.location.path for u in result.unknowns) == ["six.py", "yaml/__init__.py"]
    assert all("version unknown" in u.reason for u in result.unknowns)


@pytest.mark.parametrize(("source", "version"), [
    (b'__version__ = "1.15.0"\n', "1.15.0"),
    (b"VERSION = (3, 17, 3)\n", "3.17.3"),
    (b"VERSION = (1, 2, 0, 'final', 0)\n", "1.2.0"),
    (b"__version__: str = '2.0'\n", "2.0"),
    (b"VERSION = (4,\n    1, 2)\n", "4.1.2"),
    (b"__version_info__ = (1, 4)\n__version__ = '.'.join(map(str, __version_info__))\n", "1.4"),
    (b"version = '2.8.1'\n", "2.8.1"),
    (b"__version__ = version = '2.8.1'\n", "2.8.1"),
    (b"raise SystemExit('never run')\n__version__ = '0.1'\n", "0.1"),
    (b"def f():\n    __version__ = '9.9'\n", None),  # not module level
    (b"__version__ = get_version()\n", None),
    (b"__version__ = 'unknown'\n", None),  # not PEP 440
    (b"__version__ = (\n", None),
    (b"", None),
])
def test_source_version(source: bytes, version: str | None) -> None:
    assert source_version(source) == version


def test_vendored_copies_are_matched_against_advisories(tmp_path: Path) -> None:
    from depscan.advisories.osv_db import OfflineDatabase, import_sources
    from depscan.config import AdvisorySettings
    from depscan.scan import with_advisories

    records = tmp_path / "records"
    records.mkdir()
    # Shaped like GHSA-v845-jxx5-vc9f (urllib3: Cookie header kept on cross-origin redirects).
    (records / "GHSA-v845-jxx5-vc9f.json").write_text(json.dumps({
        "schema_version": "1.6.0", "id": "GHSA-v845-jxx5-vc9f", "modified": "2024-01-01T00:00:00Z",
        "published": "2023-10-02T00:00:00Z", "aliases": ["CVE-2023-43804"],
        "summary": "urllib3's Cookie HTTP header isn't stripped on cross-origin redirects",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "urllib3"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.26.17"}]}]}],
    }))
    db = tmp_path / "osv.sqlite"
    import_sources(db, [records])
    inventory = scan(write_zip(tmp_path / "site.zip", pip_files()))
    result = with_advisories(inventory, AdvisorySettings(mode="offline"), OfflineDatabase(db))
    (finding,) = result.findings
    assert finding.id == "GHSA-v845-jxx5-vc9f"
    assert isinstance(finding.component, PythonDist)
    assert finding.component.status is Status.VENDORED
    assert finding.component.metadata_location.path == "pip/_vendor/urllib3/__init__.py"
    assert finding.fix == "1.26.17"
    # the finding's row says the copy is vendored (upgrading it means upgrading what vendors it)
    from depscan.reporters import markdown, table

    assert "urllib3 (vendored)" in table.render(result).decode()
    assert "urllib3 (vendored copy at `pip/_vendor/urllib3/__init__.py`)" in markdown.render(result).decode()


def test_reports_carry_vendored_copies_and_rescan_reads_them_back(tmp_path: Path) -> None:
    from depscan.config import AdvisorySettings
    from depscan.reporters import ReportOptions, get_reporter
    from depscan.scan import rescan

    result = scan(write_zip(tmp_path / "site.zip", pip_files()))
    doc = json.loads(get_reporter("json")(result, ReportOptions()))
    urllib3 = next(c for c in doc["components"] if c.get("name") == "urllib3")
    assert urllib3["status"] == "vendored" and urllib3["found_by"] == "vendored-code"
    assert urllib3["vendored_by"]["path"] == "pip-20.0.dist-info/METADATA"
    assert urllib3["evidence"][0] == {"method": "vendor-list", "confidence": "high",
                                      "detail": "pip/_vendor/vendor.txt pins urllib3==1.25.7"}
    pip = next(c for c in doc["components"] if c.get("name") == "pip")
    assert "vendored_by" not in pip and pip["status"] == "used"
    for fmt, name in (("cyclonedx-json", "bom.cdx.json"), ("spdx-json", "bom.spdx.json")):
        sbom = tmp_path / name
        sbom.write_bytes(get_reporter(fmt)(result, ReportOptions()))
        if fmt == "cyclonedx-json":
            props = {p["name"]: p["value"] for c in json.loads(sbom.read_text())["components"]
                     if c["name"] == "urllib3" for p in c.get("properties", [])}
            assert props["depscan:status"] == "vendored"
            assert props["depscan:vendored_by"] == "pip-20.0.dist-info/METADATA"
        back = rescan(str(sbom), AdvisorySettings(mode="skip"))
        statuses = {(c.name.lower(), c.version): c.status for c in back.components if isinstance(c, PythonDist)}
        assert statuses[("urllib3", "1.25.7")] is Status.VENDORED, fmt
        assert statuses[("pip", "20.0")] is Status.USED, fmt


def test_native_libraries_in_a_vendored_copy_belong_to_it(tmp_path: Path) -> None:
    files = function_files()
    files["yaml/_yaml.cpython-312-x86_64-linux-gnu.so"] = elf_header()
    files["lib/libcopied.so.1"] = elf_header(padding=b"\x01" * 64)  # no package around it: still unowned
    result = scan(write_zip(tmp_path / "function.zip", files))
    libs = {lib.location.path: lib for lib in result.components if isinstance(lib, NativeLib)}
    ext = libs["yaml/_yaml.cpython-312-x86_64-linux-gnu.so"]
    assert (ext.owner, ext.owner_location) == ("pkg:pypi/pyyaml@5.3.1", Location("yaml/__init__.py"))
    assert libs["lib/libcopied.so.1"].owner is None
    # Nothing installs or updates the copy either: the file is reported, naming the copy that holds it.
    unowned = {f.location.path: f for f in result.policy_findings if f.rule == "native-unowned"}
    assert set(unowned) == {"lib/libcopied.so.1", "yaml/_yaml.cpython-312-x86_64-linux-gnu.so"}
    finding = unowned["yaml/_yaml.cpython-312-x86_64-linux-gnu.so"]
    assert "(inside PyYAML 5.3.1, a copy without dist-info (no RECORD of its own))" in finding.message
    assert finding.level.value == "low" and finding.component == "pkg:pypi/pyyaml@5.3.1"
    assert "inside" not in unowned["lib/libcopied.so.1"].message
    from depscan.facts import facts_for

    assert facts_for(result).counts.native_libraries_unowned == 2  # the counts agree with the rule


def test_native_files_in_a_vendor_tree_unless_a_record_lists_them(tmp_path: Path) -> None:
    files = pip_files()
    listed, added = "pip/_vendor/urllib3/_listed.cpython-312-x86_64-linux-gnu.so", "pip/_vendor/urllib3/libadded.so"
    files[listed] = elf_header()
    record = next(p for p in files if p.endswith("dist-info/RECORD"))
    files[record] += f"{listed},,{len(files[listed])}\n".encode()
    files[added] = elf_header(padding=b"\x02" * 64)  # copied in later: pip's RECORD does not list it
    result = scan(write_zip(tmp_path / "site.zip", files))
    owners = {lib.location.path: lib.owner for lib in result.components if isinstance(lib, NativeLib)}
    assert owners == {listed: "pkg:pypi/urllib3@1.25.7", added: "pkg:pypi/urllib3@1.25.7"}
    (finding,) = [f for f in result.policy_findings if f.rule == "native-unowned"]
    assert finding.location.path == added
    assert "(inside urllib3 1.25.7 vendored by pip 20.0 (no RECORD of its own))" in finding.message
    from depscan.facts import facts_for

    assert facts_for(result).counts.native_libraries_unowned == 1


def test_the_dependency_graph_never_points_at_a_vendored_copy(tmp_path: Path) -> None:
    from depscan.facts import facts_for

    # botocore requires urllib3, but only pip's vendored copy is there: no edge (the import would fail).
    files = pip_files() | dist("botocore", "1.29.0", requires=("urllib3<1.27",)) | setuptools_files()
    files |= dist("setuptools-user", "1.0", requires=("packaging",))
    facts = facts_for(scan(write_zip(tmp_path / "site.zip", files)))
    edges = {(facts.dists[i].name, facts.dists[j].name, facts.dists[j].status.value)
             for i, targets in enumerate(facts.graph.requires) for j in targets}
    assert not any(target == "urllib3" for _, target, _ in edges)
    assert not any(source == "setuptools-user" for source, _, _ in edges)  # setuptools' packaging is not it


def test_vendored_copies_are_counted_in_every_summary(tmp_path: Path) -> None:
    from depscan.facts import facts_for
    from depscan.finish import summary_line
    from depscan.reporters import ReportOptions, get_reporter

    result = scan(write_zip(tmp_path / "site.zip", pip_files()))
    assert facts_for(result).counts.vendored == 4  # cachecontrol, six, urllib3, urllib3's six
    assert facts_for(result).counts.python_distributions == 5
    assert "5 Python distributions, 4 vendored, " in summary_line(result, 1.0)
    doc = json.loads(get_reporter("json")(result, ReportOptions()))
    assert (doc["summary"]["vendored"], doc["summary"]["shadowed"]) == (4, 0)
    assert "5 Python distributions (4 vendored)" in get_reporter("markdown")(result, ReportOptions()).decode()
    assert "urllib3 (vendored)" in get_reporter("table")(result, ReportOptions(width=200)).decode()
    plain = scan(write_zip(tmp_path / "plain.zip", dist("idna", "3.7")))
    assert facts_for(plain).counts.vendored == 0 and " vendored" not in summary_line(plain, 1.0).split(": ", 1)[1]
