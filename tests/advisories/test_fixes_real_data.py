"""Fix advice on the real PyPA export: every suggested version is outside every advisory of its finding."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from depscan.advisories.osv_db import OfflineDatabase, import_sources
from depscan.advisories.ranges import is_affected, parse_version
from depscan.match import match
from depscan.models import Finding, Location, PythonDist

SHARED = Path(__file__).resolve().parents[3] / "shared" / "advisories" / "osv-pypi-pysec-2024-10-10.zip"

pytestmark = pytest.mark.skipif(not SHARED.is_file(), reason="../shared/advisories is not beside this checkout")


def _listed_pairs() -> set[tuple[str, str]]:
    """Every (package, version) a record of the export lists as affected."""
    pairs = set()
    with zipfile.ZipFile(SHARED) as zf:
        for name in zf.namelist():
            for affected in json.loads(zf.read(name)).get("affected", []):
                package = canonicalize_name(affected["package"]["name"])
                pairs.update((package, version) for version in affected.get("versions") or [])
    return pairs


def _dist(name: str, version: str) -> PythonDist:
    return PythonDist(name=name, normalized_name=canonicalize_name(name), version=version,
                      purl=f"pkg:pypi/{name}@{version}", found_by="sbom",
                      metadata_location=Location(f"{name}-{version}.dist-info/METADATA"), metadata_sha256=None,
                      metadata_dir=f"{name}-{version}.dist-info", site_root="")


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> list[Finding]:
    db = tmp_path_factory.mktemp("real db") / "osv.sqlite"
    import_sources(db, [SHARED])
    backend = OfflineDatabase(db)
    try:
        # steam and binderhub have no versions lists; their ranges end in values that are not versions
        pairs = _listed_pairs() | {("steam", "1.0"), ("binderhub", "0.1.0")}
        return match([_dist(n, v) for n, v in sorted(pairs)], backend).findings
    finally:
        backend.close()


def _affected_by_group(version: str, finding: Finding) -> list[str]:
    name = finding.component.normalized_name
    return [adv.id for adv in finding.advisories for a in adv.affected
            if a.normalized_name == name and is_affected(version, a)]


def test_no_suggested_fix_is_affected_and_the_fix_is_above_the_installed_version(findings: list[Finding]) -> None:
    assert len(findings) > 140_000
    wrong = []
    checked: set[tuple[tuple[str, ...], str]] = set()  # fixed_versions depend on the group and package only
    with_fix = 0
    for finding in findings:
        key = (finding.ids, finding.component.normalized_name)
        if key not in checked:
            checked.add(key)
            for version in finding.fixed_versions:
                if _affected_by_group(version, finding):
                    wrong.append((finding.id, version, _affected_by_group(version, finding)))
        if finding.fix is not None:
            with_fix += 1
            installed, fix = parse_version(finding.component.version), parse_version(finding.fix)
            assert installed is not None and fix is not None and fix > installed, (finding.id, finding.fix)
            above = [v for v in map(parse_version, finding.fixed_versions) if v is not None and v > installed]
            assert fix == min(above)
    assert wrong == []
    assert with_fix > 100_000  # the check above is not vacuous


def test_the_cases_the_issue_found(findings: list[Finding]) -> None:
    def fixes(ident: str, name: str, version: str) -> tuple[tuple[str, ...], str | None]:
        (found,) = [f for f in findings if ident in f.ids and (f.component.normalized_name, f.component.version)
                    == (name, version)]
        return found.fixed_versions, found.fix

    # wagtail PYSEC-2021-114: "fixed 2.11.6" closes [0, 2.11.6), but [2.11, 2.11.7) still holds 2.11.6
    assert fixes("PYSEC-2021-114", "wagtail", "2.11.5") == (("2.11.7", "2.12.4"), "2.11.7")
    # pyspark PYSEC-2023-72: "fixed 3.2.0" closes [3.1.1, 3.2.0), but [3.2.0, 3.2.2) starts there
    fixed, fix = fixes("PYSEC-2023-72", "pyspark", "3.2.0")
    assert "3.2.0" not in fixed and fix == "3.2.2"
    # zope PYSEC-2021-88's "fixed 5.2" lies inside PYSEC-2021-104's [5.0, 5.2.1): one finding, one true fix
    fixed, fix = fixes("PYSEC-2021-104", "zope", "5.1")
    assert "PYSEC-2021-88" in [a.id for f in findings if f.id == "PYSEC-2021-104" for a in f.advisories]
    assert fixed == ("4.6.1", "5.2.1") and fix == "5.2.1"
    # steam PYSEC-2019-125: "fixed 2019-09-12" is a date, not a version: never a fix, said instead
    for ident, name, version in (("PYSEC-2019-125", "steam", "1.0"), ("PYSEC-2021-371", "binderhub", "0.1.0")):
        (found,) = [f for f in findings
                    if f.id == ident and (f.component.normalized_name, f.component.version) == (name, version)]
        assert found.fixed_versions == () and found.fix is None
        assert found.malformed_ranges == (ident,) and found.range_note is not None and ident in found.range_note
