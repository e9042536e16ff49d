from __future__ import annotations

from pathlib import Path

import pytest

from depscan.errors import ArtifactError
from depscan.sbom_reader import read_sbom

SBOMS = Path(__file__).resolve().parent.parent / "fixtures" / "sboms"


def test_cyclonedx_json_from_another_tool() -> None:
    contents = read_sbom(SBOMS / "syft-like.cdx.json")
    facts = (contents.format, contents.spec_version, contents.subject)
    assert facts == ("cyclonedx-json", "1.5", "registry.example/app")
    assert [(c.normalized_name, c.version, c.found_by) for c in contents.components] == [
        ("requests", "2.19.1", "sbom"),
        ("six", "1.16.0", "sbom"),
        ("urllib3", "1.23", "sbom"),  # nested components are read too
    ]
    assert contents.components[2].metadata_location.path == "sbom:nested-urllib3"
    assert contents.other_ecosystems == {"deb": 1}
    assert contents.without_purl == 1


def test_cyclonedx_xml_and_spdx_json() -> None:
    xml = read_sbom(SBOMS / "trivy-like.cdx.xml")
    assert (xml.format, xml.spec_version, xml.subject) == ("cyclonedx-xml", "1.4", "function.zip")
    assert [(c.name, c.version) for c in xml.components] == [("Jinja2", "2.10"), ("MarkupSafe", "1.0")]
    spdx = read_sbom(SBOMS / "tool.spdx.json")
    assert (spdx.format, spdx.subject) == ("spdx-json", "layer.zip")
    assert [(c.normalized_name, c.version) for c in spdx.components] == [("certifi", "2018.4.16"), ("idna", "3.7")]
    assert spdx.without_purl == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a CycloneDX"),
        (b"{not json", "not valid JSON"),
        (b'{"hello": 1}', "neither CycloneDX"),
        (b"<html></html>", "not a CycloneDX <bom>"),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><bom>&b;</bom>', "unsafe XML"),
    ],
)
def test_bad_sboms_are_clear_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.sbom"
    path.write_bytes(content)
    with pytest.raises(ArtifactError, match=message):
        read_sbom(path)


@pytest.mark.parametrize(
    "doc",
    [
        {"bomFormat": "CycloneDX", "components": 5},
        {"bomFormat": "CycloneDX", "metadata": [], "components": [{"purl": 5, "properties": "x", "evidence": 3}]},
        {"bomFormat": "CycloneDX", "components": [{"purl": "pkg:pypi/a@1", "components": {"x": 1}}]},
        {"spdxVersion": "SPDX-2.3", "packages": [{"externalRefs": 5}, 7], "relationships": {"a": 1}},
        {"spdxVersion": "SPDX-2.3", "packages": "nope", "documentDescribes": 3},
    ],
)
def test_wrong_types_in_sboms_are_skipped_not_crashes(tmp_path: Path, doc: dict[str, object]) -> None:
    import json

    path = tmp_path / "x.json"
    path.write_text(json.dumps(doc))
    contents = read_sbom(path)
    assert all(c.found_by == "sbom" for c in contents.components)
