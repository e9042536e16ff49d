"""rescan of stored SBOMs, --baseline / --new-only, several outputs in one run, markdown."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from builders import dist, write_zip

from tests.helpers import cli

REPO = Path(__file__).resolve().parent.parent
SUBSET = REPO / "fixtures" / "advisories" / "pypi-subset.zip"
SBOMS = REPO / "fixtures" / "sboms"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("DEPSCAN_DB", raising=False)




def test_rescan_another_tools_sbom(tmp_path: Path) -> None:
    proc = cli("rescan", SBOMS / "syft-like.cdx.json", "--advisories", SUBSET, "-f", "json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["source"] == "sbom" and doc["artifact"]["kind"] == "sbom:cyclonedx-json:1.5"
    found = {(v["component"]["name"], v["id"]) for v in doc["vulnerabilities"]}
    assert ("requests", "PYSEC-2018-28") in found and ("urllib3", "PYSEC-2019-132") in found
    assert all(name != "six" for name, _id in found)
    assert "0 native component(s) (pkg:generic) and 1 OS package(s)" in proc.stderr  # the deb package
    (package,) = [c for c in doc["components"] if c["type"] == "os-package"]
    assert (package["name"], package["purl"]) == ("openssl", "pkg:deb/debian/openssl@3.0.11-1?arch=amd64")
    assert "1 component(s) in the SBOM have no usable purl" in proc.stderr


def test_rescan_xml_and_spdx(tmp_path: Path) -> None:
    proc = cli("rescan", SBOMS / "trivy-like.cdx.xml", "--advisories", SUBSET, "-f", "json", cwd=tmp_path)
    ids = {v["id"] for v in json.loads(proc.stdout)["vulnerabilities"]}
    assert {"PYSEC-2019-217", "PYSEC-2021-66"} <= ids
    proc = cli("rescan", SBOMS / "tool.spdx.json", "--advisories", SUBSET, "-f", "json", cwd=tmp_path)
    doc = json.loads(proc.stdout)
    assert {v["component"]["name"] for v in doc["vulnerabilities"]} == {"certifi"}  # idna 3.7 is fixed


def test_rescan_errors(tmp_path: Path) -> None:
    proc = cli("rescan", tmp_path / "missing.json", "--advisories", SUBSET)
    assert proc.returncode == 3 and proc.stderr.strip() == f"depscan: error: {tmp_path / 'missing.json'}: no such file"
    proc = cli("rescan", SBOMS / "tool.spdx.json", "--source", "skip")
    assert proc.returncode == 2


def test_baseline_new_fixed_unchanged_and_new_only(demo: tuple[Path, Path], tmp_path: Path) -> None:
    function, layer = demo
    before = tmp_path / "before.json"
    # The previous run: the same function with an older build of the layer that had no urllib3.
    old_layer = write_zip(
        tmp_path / "old-layer.zip", dist("Jinja2", "2.10", root="python") | dist("MarkupSafe", "1.0", root="python")
    )
    cli("scan", function, "-l", old_layer, "--advisories", SUBSET, "-o", f"json={before}", cwd=tmp_path)
    doc_before = json.loads(before.read_text())
    # Pretend one of the previous findings has since been fixed elsewhere: edit its fingerprint.
    doc_before["vulnerabilities"][0]["fingerprint"] = "0" * 32
    before.write_text(json.dumps(doc_before))
    proc = cli("scan", function, "-l", layer, "--advisories", SUBSET, "--baseline", before, "-f", "json", cwd=tmp_path)
    doc = json.loads(proc.stdout)
    statuses = [v["baseline"] for v in doc["vulnerabilities"]]
    # New: the shadowed urllib3 copy's two findings, and the finding whose fingerprint changed.
    assert statuses.count("new") == 3 and statuses.count("unchanged") == 13
    assert doc["baseline"]["new"] == 3 and doc["baseline"]["unchanged"] == 13
    assert [f["fingerprint"] for f in doc["baseline"]["fixed"]] == ["0" * 32]
    # --new-only: only the 3 new findings count; none is critical, one is high (urllib3 8.1).
    base = ("scan", function, "-l", layer, "--advisories", SUBSET, "--baseline", before, "--new-only")
    assert cli(*base, "--fail-on", "critical", cwd=tmp_path).returncode == 0
    assert cli(*base, "--fail-on", "high", cwd=tmp_path).returncode == 1
    assert cli("scan", function, "--source", "skip", "--new-only").returncode == 2


def test_several_outputs_in_one_run(demo: tuple[Path, Path], tmp_path: Path) -> None:
    function, layer = demo
    md, js = tmp_path / "summary.md", tmp_path / "r.json"
    proc = cli(
        "scan", function, "-l", layer, "--advisories", SUBSET, "-o", "table", "-o", f"markdown={md}",
        "-o", f"json={js}", cwd=tmp_path,
    )
    assert proc.returncode == 1
    assert "Vulnerabilities" in proc.stdout
    text = md.read_text()
    assert text.startswith("## depscan: `function.zip`\n\n:x: **16 known vulnerabilities**")
    assert "| urllib3 (shadowed copy) | 1.26.5 |" in text
    assert json.loads(js.read_text())["summary"]["vulnerabilities"] == 16
    proc = cli("scan", function, "-o", "json", "-o", "table", "--source", "skip")
    assert proc.returncode == 2 and "only one report can go to stdout" in proc.stderr
    proc = cli("scan", function, "-o", "yaml=x.yaml", "--source", "skip")
    assert proc.returncode == 2 and "unknown --output format 'yaml'" in proc.stderr


@pytest.mark.parametrize("fmt", ["cyclonedx-json", "cyclonedx-xml", "spdx-json"])
def test_scan_then_rescan_the_stored_sbom_finds_the_same(demo: tuple[Path, Path], tmp_path: Path, fmt: str) -> None:
    function, layer = demo
    sbom, report = tmp_path / f"sbom.{fmt}", tmp_path / "scan.json"
    proc = cli("scan", function, "-l", layer, "--advisories", SUBSET, "-o", f"{fmt}={sbom}", "-o", f"json={report}",
               cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    proc = cli("rescan", sbom, "--advisories", SUBSET, "-f", "json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    rescanned = json.loads(proc.stdout)
    scanned = json.loads(report.read_text())

    def pairs(doc: dict[str, object]) -> set[tuple[str, str]]:
        return {(v["component"]["purl"], v["id"]) for v in doc["vulnerabilities"]}  # type: ignore[attr-defined,index]

    assert pairs(rescanned) == pairs(scanned)
    if fmt.startswith("cyclonedx"):  # the demo's libpq is recognized as depscan's native library
        assert "1 native library in the SBOM: PyPI advisories do not apply to them" in proc.stderr
        assert "no usable purl" not in proc.stderr
    # the 8 distributions, and the libpq identified in libpq.so.5 (pkg:generic: a native component again)
    assert [c["type"] for c in rescanned["components"]].count("python-distribution") == 8
    assert [(c["type"], c["purl"]) for c in rescanned["components"] if c["type"] != "python-distribution"] == [
        ("native-component", "pkg:generic/libpq")]
    if fmt.startswith("cyclonedx"):  # evidence keeps each copy's path: the same fingerprints as the scan
        assert {v["fingerprint"] for v in rescanned["vulnerabilities"]} == {
            v["fingerprint"] for v in scanned["vulnerabilities"]
        }


def test_purls_follow_the_pypi_purl_spec_and_rescan_keeps_them_as_written(tmp_path: Path) -> None:
    """pypi purls: lowercase, "_" -> "-", dots kept (as packageurl-python and other SBOM tools write them)."""
    from packageurl import PackageURL

    from depscan.sbom_reader import read_sbom
    from tests.helpers import scan

    artifact = write_zip(tmp_path / "a.zip", dist("ruamel.yaml", "0.17.21") | dist("Zope_Interface.Foo", "5.0"))
    purls = sorted(c.purl for c in scan(artifact).components)
    assert purls == ["pkg:pypi/ruamel.yaml@0.17.21", "pkg:pypi/zope-interface.foo@5.0"]
    assert purls == sorted(PackageURL(type="pypi", name=n, version=v).to_string()
                           for n, v in [("ruamel.yaml", "0.17.21"), ("Zope_Interface.Foo", "5.0")])
    # rescan: the SBOM's purl string, exactly as written (qualifiers, case and all), never rewritten
    sbom = tmp_path / "other.cdx.json"
    written = ["pkg:pypi/Ruamel.YAML@0.17.21?repository_url=https://example.invalid/simple", "pkg:pypi/pyyaml@5.3"]
    sbom.write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [
        {"name": "ruamel.yaml", "purl": written[0]}, {"name": "PyYAML", "purl": written[1]}]}))
    contents = read_sbom(sbom)
    assert sorted(c.purl for c in contents.components) == sorted(written)
    assert sorted((c.name, c.normalized_name) for c in contents.components) == [
        ("PyYAML", "pyyaml"), ("ruamel.yaml", "ruamel-yaml")]
    out = {fmt: tmp_path / f"out.{fmt}" for fmt in ("json", "cyclonedx-json", "cyclonedx-xml", "spdx-json", "sarif")}
    cli("rescan", sbom, "--advisories", SUBSET, *(a for f, p in out.items() for a in ("-o", f"{f}={p}")), cwd=tmp_path)
    doc = json.loads(out["json"].read_text())
    assert {c["purl"] for c in doc["components"]} == set(written)
    assert {v["component"]["purl"] for v in doc["vulnerabilities"]} == {written[1]}  # PyYAML 5.3 is affected
    cdx = json.loads(out["cyclonedx-json"].read_text())
    assert {c["purl"] for c in cdx["components"]} == set(written)
    xml = out["cyclonedx-xml"].read_text()
    assert all(f"<purl>{p.replace('&', '&amp;')}</purl>" in xml for p in written)
    spdx = json.loads(out["spdx-json"].read_text())
    assert {r["referenceLocator"] for p in spdx["packages"] for r in p.get("externalRefs", ())} == set(written)
    assert written[1] in out["sarif"].read_text()


def test_fingerprints_statuses_and_subject_survive_every_sbom_format_and_version(
    demo: tuple[Path, Path], tmp_path: Path
) -> None:
    """scan -> JSON baseline; rescan each SBOM depscan writes with --baseline: every finding unchanged."""
    function, layer = demo
    report = tmp_path / "scan.json"
    sboms: list[Path] = []
    for version in ("1.4", "1.5", "1.6"):
        outputs = [f"cyclonedx-json={tmp_path / f'sbom-{version}.cdx.json'}",
                   f"cyclonedx-xml={tmp_path / f'sbom-{version}.cdx.xml'}"]
        sboms += [Path(o.split("=", 1)[1]) for o in outputs]
        if version == "1.6":
            outputs += [f"spdx-json={tmp_path / 'sbom.spdx.json'}", f"json={report}"]
            sboms.append(tmp_path / "sbom.spdx.json")
        args = [a for o in outputs for a in ("-o", o)]
        proc = cli("scan", function, "-l", layer, "--advisories", SUBSET, "--cyclonedx-version", version, *args,
                   cwd=tmp_path)
        assert proc.returncode == 1, proc.stderr
    scanned = json.loads(report.read_text())
    fingerprints = {v["fingerprint"] for v in scanned["vulnerabilities"]}
    assert len(fingerprints) == 16

    def copies(doc: dict[str, Any]) -> set[tuple[str, str, str | None, str, str | None]]:
        return {
            (c["purl"], c["location"]["path"], c["location"]["layer"], c["status"],
             None if c["shadowed_by"] is None else json.dumps(c["shadowed_by"], sort_keys=True))
            for c in doc["components"] if c["type"] == "python-distribution"
        }

    for sbom in sboms:
        proc = cli("rescan", sbom, "--advisories", SUBSET, "--baseline", report, "-f", "json", cwd=tmp_path)
        assert proc.returncode == 1, (sbom.name, proc.stderr)
        doc = json.loads(proc.stdout)
        assert doc["baseline"]["new"] == 0 and doc["baseline"]["fixed"] == [], sbom.name
        assert doc["baseline"]["unchanged"] == 16, sbom.name
        assert {v["fingerprint"] for v in doc["vulnerabilities"]} == fingerprints, sbom.name
        # status, shadowing copy, layer and METADATA path of every copy, as the scan found them
        assert copies(doc) == copies(scanned), sbom.name
        assert sum(c[3] == "shadowed" for c in copies(doc)) == 1  # the layer's urllib3, under the function's
        assert doc["artifact"]["describes"] == "function.zip", sbom.name
        assert doc["artifact"]["layers"] == ["function.zip", "layer.zip"], sbom.name
        assert doc["artifact"]["path"] == str(sbom)
    md = cli("rescan", sboms[0], "--advisories", SUBSET, "-f", "markdown", cwd=tmp_path).stdout
    assert md.startswith("## depscan: `function.zip (described by sbom-1.4.cdx.json)`")
    # The SBOMs of a rescan read back the same again: copies, fingerprints, and the artifact behind them.
    again = [tmp_path / "again.cdx.json", tmp_path / "again.spdx.json"]
    cli("rescan", sboms[0], "--advisories", SUBSET, "--cyclonedx-version", "1.4", "-o", f"cyclonedx-json={again[0]}",
        "-o", f"spdx-json={again[1]}", cwd=tmp_path)
    for sbom in again:
        doc = json.loads(cli("rescan", sbom, "--advisories", SUBSET, "--baseline", report, "-f", "json",
                             cwd=tmp_path).stdout)
        assert (doc["baseline"]["new"], doc["baseline"]["unchanged"]) == (0, 16), sbom.name
        assert copies(doc) == copies(scanned) and doc["artifact"]["describes"] == "function.zip", sbom.name


def test_a_rescan_with_nothing_to_check_never_reads_as_clean(tmp_path: Path) -> None:
    """The exit code is the exit policy's; the reports and notes must not say "no known vulnerabilities"."""
    sbom = tmp_path / "npm-only.cdx.json"
    sbom.write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6",
                                "components": [{"name": "left-pad", "purl": "pkg:npm/left-pad@1.3.0"}]}))
    proc = cli("rescan", sbom, "--advisories", SUBSET, cwd=tmp_path)
    assert proc.returncode == 4  # not known to be free of vulnerabilities
    assert "Nothing was checked: the SBOM lists no PyPI component to match against advisories." in proc.stdout
    assert "No known vulnerabilities" not in proc.stdout
    assert "depscan: note: nothing was checked: the SBOM lists no PyPI component with a version" in proc.stderr
    md = cli("rescan", sbom, "--advisories", SUBSET, "-f", "markdown", cwd=tmp_path).stdout
    assert ":warning: **Nothing was checked**" in md and "No known vulnerabilities" not in md
    doc = json.loads(cli("rescan", sbom, "--advisories", SUBSET, "-f", "json", cwd=tmp_path).stdout)
    assert doc["stats"]["sbom_checkable"] == 0 and doc["stats"]["sbom_other_ecosystems"] == 1
