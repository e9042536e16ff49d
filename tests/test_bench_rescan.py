"""bench/bench_rescan.py's SBOM: every version the export names, in N site roots, read back by rescan's reader."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from depscan.sbom_reader import read_sbom
from tests.advisories.osv_records import record
from tests.helpers import bench_module


def test_the_benchmark_sbom_lists_every_named_version_in_each_site_root(tmp_path: Path) -> None:
    bench_rescan = bench_module("bench_rescan")
    export = tmp_path / "export dir" / "all.zip"
    export.parent.mkdir()
    git = record("PYSEC-3", "Foo_Bar", versions=["3.0"])
    git["affected"][0]["ranges"] = [{"type": "GIT", "repo": "https://x", "events": [{"introduced": "abc123"}]}]
    first = record("PYSEC-1", "Foo_Bar", versions=["1.0", "1.1"], events=[{"introduced": "0"}, {"fixed": "2.0"}])
    npm = record("OTHER-1", "left-pad", versions=["1.0"], ecosystem="npm")
    with zipfile.ZipFile(export, "w") as zf:
        for rec in (first, record("PYSEC-2", "foo-bar", versions=["1.1"]), git, npm):
            zf.writestr(f"{rec['id']}.json", json.dumps(rec))
    versions = bench_rescan.export_versions(export)
    assert versions == {("foo-bar", "1.0"), ("foo-bar", "1.1"), ("foo-bar", "2.0"), ("foo-bar", "3.0")}
    sbom = tmp_path / "sbom.cdx.json"
    assert bench_rescan.build_sbom(sbom, versions, 3) == 12
    contents = read_sbom(sbom)
    assert contents.format == "cyclonedx-json" and contents.spec_version == "1.6"
    assert len(contents.components) == 12
    assert {c.metadata_location.path.split("/", 1)[0] for c in contents.components} == {"venv-0", "venv-1", "venv-2"}
    assert {(c.normalized_name, c.version) for c in contents.components} == versions
