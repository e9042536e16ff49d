"""Native libraries in every report: JSON components and summary, the table's second table, the Markdown
count line; SARIF and pip-audit JSON unchanged by them. (CycloneDX nesting and SPDX CONTAINS are tested
with their reporters, with the strict validators.)"""

from __future__ import annotations

import dataclasses
import hashlib
import json

from depscan.facts import component_key
from depscan.models import NativeLib, ScanResult
from depscan.reporters import ReportOptions, get_reporter
from tests.reporters.conftest import NUMPY_LIBS

GFORTRAN = "numpy.libs/libgfortran-040039e1.so.5.0.0"
EXTENSION = "numpy/core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so"


def _without_natives(result: ScanResult) -> ScanResult:
    return dataclasses.replace(result, components=tuple(c for c in result.components if not isinstance(c, NativeLib)))


def test_json_lists_every_field_and_counts_them(native_result: ScanResult) -> None:
    doc = json.loads(get_reporter("json")(native_result, ReportOptions()))
    assert doc["format_version"] == 2
    summary = doc["summary"]
    # 1 distribution, 3 ELF files, 2 native components (the shared libraries identified by name)
    assert (summary["components"], summary["python_distributions"]) == (6, 1)
    assert (summary["native_libraries"], summary["native_libraries_unowned"]) == (2 + 1, 1)
    libs = {c["location"]["path"]: c for c in doc["components"] if c["type"] == "native-library"}
    metadata = {"path": "numpy-1.26.4.dist-info/METADATA", "layer": None}
    assert libs[GFORTRAN] == {
        "type": "native-library",
        "id": component_key(next(c for c in native_result.components if c.locations[0].path == GFORTRAN)),
        "name": "libgfortran",
        "kind": "shared-library",
        "version": "5.0.0",
        "purl": "pkg:generic/libgfortran@5.0.0",
        "found_by": "elf",
        "location": {"path": GFORTRAN, "layer": None},
        "size": len(NUMPY_LIBS[GFORTRAN]),
        "sha256": hashlib.sha256(NUMPY_LIBS[GFORTRAN]).hexdigest(),
        "bundled_hash": "040039e1",
        "abi_tag": None,
        # the header, then what the whole file's ELF structure says (a bare header: no dynamic section)
        "elf": {"arch": "x86_64", "class": 64, "endianness": "little", "type": "shared-object",
                # its RECORD hash, taken without hashing the zip member (CRC-32 and size checked as read)
                "sha256": hashlib.sha256(NUMPY_LIBS[GFORTRAN]).hexdigest(), "sha256_source": "record",
                "soname": None, "needed": [],
                "rpath": [], "runpath": [], "build_id": None, "version_definitions": [], "version_needs": [],
                "min_glibc": None, "stripped": True, "interpreter": None},
        "owner": "pkg:pypi/numpy@1.26.4",
        "owner_location": metadata,
        "owner_id": doc["components"][0]["id"],
        "os_package": None,
    }
    assert doc["components"][0]["name"] == "numpy"
    ext = libs[EXTENSION]
    assert (ext["kind"], ext["name"], ext["purl"], ext["abi_tag"]) == (
        "python-extension", "_multiarray_umath", None, "cpython-311-x86_64-linux-gnu")
    custom = libs["lib/libcustom.so.1"]
    assert (custom["owner"], custom["owner_location"], custom["sha256"], custom["elf"]["arch"]) == (
        None, None, None, "aarch64")
    assert custom["elf"]["sha256_source"] == "bytes"  # in no RECORD: hashed as read


def test_table_has_a_native_libraries_table_only_when_there_are_some(native_result: ScanResult) -> None:
    text = get_reporter("table")(native_result, ReportOptions(width=200)).decode()
    lines = text.splitlines()
    title = next(i for i, line in enumerate(lines) if line.strip() == "Native libraries")
    cells = [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines[title:] if line.startswith("│")]
    rows = {row[0]: row for row in cells if row[-2].endswith((".so", ".so.1", ".so.5.0.0"))}
    assert rows["libgfortran"] == ["libgfortran", "5.0.0", "x86_64", "numpy 1.26.4", GFORTRAN, ""]
    assert rows["_multiarray_umath"] == ["_multiarray_umath", "-", "x86_64", "numpy 1.26.4", EXTENSION, ""]
    assert rows["libcustom"] == ["libcustom", "1", "aarch64", "none", "lib/libcustom.so.1", ""]
    assert "Native libraries" not in get_reporter("table")(_without_natives(native_result), ReportOptions()).decode()


def test_markdown_counts_them(native_result: ScanResult) -> None:
    text = get_reporter("markdown")(native_result, ReportOptions()).decode()
    assert "- 3 native libraries (1 not owned by any distribution)\n" in text
    assert "native librar" not in get_reporter("markdown")(_without_natives(native_result), ReportOptions()).decode()


def test_sarif_and_pip_audit_json_are_unchanged_by_them(native_result: ScanResult) -> None:
    for fmt in ("sarif", "pip-audit-json"):
        with_libs = get_reporter(fmt)(native_result, ReportOptions())
        without = get_reporter(fmt)(_without_natives(native_result), ReportOptions())
        assert with_libs == without, fmt
