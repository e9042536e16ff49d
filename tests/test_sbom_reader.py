from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from depscan.errors import ArtifactError
from depscan.sbom_reader import SbomContents, parse_sbom, read_sbom

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
    assert contents.other_ecosystems == {}  # the deb package is an OS package (tests/reporters/test_rescan_native.py)
    assert [(p.name, p.version, p.package_manager, p.arch) for p in contents.os_packages] == [
        ("openssl", "3.0.11-1", "dpkg", "amd64")]
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
    ("doc", "skipped"),
    [
        ({"bomFormat": "CycloneDX", "components": 5}, ["components: a number, not a list"]),
        ({"bomFormat": "CycloneDX", "metadata": [], "components": [{"purl": 5, "properties": "x", "evidence": 3}]},
         ["metadata: a list, not an object", "components[0].purl: a number, not a string",
          "components[0].evidence: a number, not an object", "components[0].properties: a string, not a list"]),
        ({"bomFormat": "CycloneDX", "components": [{"purl": "pkg:pypi/a@1", "components": {"x": 1}}]},
         ["components[0].components: an object, not a list"]),
        ({"spdxVersion": "SPDX-2.3", "packages": [{"externalRefs": ["x"]}, 7], "relationships": {"a": 1}},
         ["relationships: an object, not a list", "packages[0].externalRefs[0]: a string, not an object",
          "packages[1]: a number, not an object"]),
        ({"spdxVersion": "SPDX-2.3", "packages": "nope", "documentDescribes": 3},
         ["documentDescribes: a number, not a list", "packages: a string, not a list"]),
        ({"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "@graph": {"type": "software_Package"}},
         ["@graph: an object, not a list"]),
    ],
)
def test_wrong_types_are_skipped_with_notes(tmp_path: Path, doc: dict[str, object], skipped: list[str]) -> None:
    path = tmp_path / "x.json"
    path.write_text(json.dumps(doc))
    contents = read_sbom(path)
    assert sorted(contents.skipped) == sorted(f"{s}; skipped" for s in skipped)
    assert contents.skipped_total == len(skipped)


# -- SPDX 3 JSON-LD ------------------------------------------------------------------------------


def test_spdx3_jsonld() -> None:
    contents = read_sbom(SBOMS / "spdx3.jsonld")
    assert (contents.format, contents.spec_version, contents.subject) == ("spdx3-jsonld", "3.0.1", "function.zip")
    # software_packageUrl, externalIdentifier of type packageUrl, or both (a cpe23 identifier is not a purl)
    assert [(c.name, c.version, c.purl) for c in contents.components] == [
        ("Jinja2", "2.10", "pkg:pypi/jinja2@2.10"),
        ("requests", "2.19.1", "pkg:pypi/requests@2.19.1"),
        ("urllib3", "1.23", "pkg:pypi/urllib3@1.23"),
    ]
    assert contents.other_ecosystems == {"npm": 1}
    assert contents.without_purl == 1  # "handler": the root package (function.zip) is the subject, not counted
    assert contents.skipped == ()


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"@context": "https://spdx.org/rdf/4.0.0/spdx-context.jsonld", "@graph": []},
         "SPDX 4.0.0 JSON-LD is not supported"),
        ({"@context": "https://schema.org/", "@graph": []}, "its @context is not SPDX 3"),
        ({"spdxVersion": "SPDX-3.0", "packages": []}, "SPDX version 'SPDX-3.0' is not supported"),
        ({"spdxVersion": 2, "packages": []}, "SPDX version 2 is not supported"),
    ],
)
def test_unknown_spdx_versions_are_refused_in_one_line(tmp_path: Path, doc: dict[str, Any], message: str) -> None:
    path = tmp_path / "x.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ArtifactError, match=message) as caught:
        read_sbom(path)
    assert "\n" not in str(caught.value) and str(caught.value).startswith(f"{path}: ")


# -- wrong types: every slot of real documents, each replaced by values of other types -------------

_IDENTITY = {"bomFormat", "spdxVersion", "@context"}  # what says which format a document is: an error when wrong


def _wrong_values(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [["x"], "x", 5]
    if isinstance(value, list):
        return [{"x": 1}, "x", 5]
    if isinstance(value, str):
        return [5, ["x"], {"x": "y"}, True]
    return ["x", [1]]


def _slots(value: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(slot, container, key) for every value in a JSON document, depth first."""
    items: Iterable[tuple[Any, Any]] = ()
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    for key, child in list(items):
        slot = f"{path}[{key}]" if isinstance(key, int) else (f"{path}.{key}" if path else key)
        yield slot, value, key
        yield from _slots(child, slot)


def _facts(contents: SbomContents) -> tuple[object, ...]:
    return (contents.format, contents.spec_version, contents.subject, contents.components,
            contents.other_ecosystems, contents.without_purl, contents.native, contents.subject_layers,
            contents.entries)


def _depscan_sbom(tmp_path: Path, fmt: str, version: str = "1.6") -> Path:
    """depscan's own SBOM of a small artifact: a layer's shadowed copy, a native library, a nested dist."""
    from builders import dist, elf_header, write_zip

    from depscan.reporters import ReportOptions, cyclonedx, spdx
    from tests.helpers import scan

    function = write_zip(tmp_path / "function.zip", dist("urllib3", "1.23") | dist("ruamel.yaml", "0.17.21"))
    layer = write_zip(tmp_path / "layer.zip", dist("urllib3", "1.26.5", root="python")
                      | {"python/libpq.so.5": elf_header()})
    result = scan(function, layer)
    options = ReportOptions(cyclonedx_version=version)
    data = {"cyclonedx-json": cyclonedx.render_json, "cyclonedx-xml": cyclonedx.render_xml,
            "spdx-json": spdx.render}[fmt](result, options)
    path = tmp_path / f"sbom.{fmt}"
    path.write_bytes(data)
    return path


def _json_documents(tmp_path: Path) -> list[Path]:
    return [
        _depscan_sbom(tmp_path, "cyclonedx-json", "1.4"),
        _depscan_sbom(tmp_path / "cdx16", "cyclonedx-json", "1.6"),
        _depscan_sbom(tmp_path / "spdx", "spdx-json"),
        SBOMS / "syft-like.cdx.json",
        SBOMS / "tool.spdx.json",
        SBOMS / "spdx3.jsonld",
    ]


def test_every_json_slot_of_the_wrong_type_is_skipped_with_a_note_naming_it(tmp_path: Path) -> None:
    for sub in ("cdx16", "spdx"):
        (tmp_path / sub).mkdir()
    checked = 0
    for source in _json_documents(tmp_path):
        doc = json.loads(source.read_text())
        expected = _facts(read_sbom(source))
        assert read_sbom(source).skipped == (), source.name
        target = tmp_path / "mutated.json"  # named in errors only: parsed from memory
        for slot, container, key in list(_slots(doc)):
            original = container[key]
            for wrong in _wrong_values(original):
                if source.suffix == ".jsonld" and isinstance(original, list) and isinstance(wrong, str):
                    continue  # JSON-LD: a one-item set may be written as the item alone; read as such
                container[key] = wrong
                try:
                    got = parse_sbom(json.dumps(doc).encode(), target)
                except ArtifactError:
                    assert slot in _IDENTITY, (source.name, slot, wrong)
                    continue
                finally:
                    container[key] = original
                checked += 1
                if _facts(got) != expected:  # what the reader used changed: a note must say which slot
                    assert any(note.startswith(f"{slot}: ") and note.endswith("; skipped") for note in got.skipped), (
                        source.name, slot, wrong, got.skipped)
    assert checked > 1500  # the walk reached every document's slots


def test_every_xml_element_of_the_wrong_kind_is_skipped_with_a_note_naming_it(tmp_path: Path) -> None:
    from xml.etree import ElementTree as ET

    sources = [_depscan_sbom(tmp_path, "cyclonedx-xml", "1.4"), SBOMS / "trivy-like.cdx.xml"]
    (tmp_path / "16").mkdir()
    sources.append(_depscan_sbom(tmp_path / "16", "cyclonedx-xml", "1.6"))
    indexed = {"component", "property", "occurrence"}
    checked = 0
    for source in sources:
        tree = ET.parse(source)
        root = tree.getroot()
        ns = root.tag[: root.tag.index("}") + 1]
        ET.register_namespace("", ns[1:-1])
        expected = _facts(read_sbom(source))

        def walk(parent: ET.Element, path: str, ns: str = ns) -> Iterator[tuple[str, ET.Element]]:
            counts: dict[str, int] = {}
            for child in parent:
                tag = child.tag.removeprefix(ns)
                number = counts[tag] = counts.get(tag, -1) + 1
                slot = f"{path}/{tag}" if path else tag
                if tag in indexed and (tag != "component" or path.endswith("components")):  # a list item
                    slot += f"[{number}]"
                yield slot, child
                yield from walk(child, slot, ns)

        target = tmp_path / "mutated.xml"
        for slot, element in list(walk(root, "")):
            children, text = list(element), element.text
            if children:  # an element holding elements gets text instead
                for child in children:
                    element.remove(child)
                element.text = "x"
            else:  # an element holding text gets an element instead
                element.text = None
                ET.SubElement(element, f"{ns}x")
            tree.write(target, xml_declaration=True, encoding="utf-8")
            for child in list(element):
                element.remove(child)
            element.extend(children)
            element.text = text
            got = read_sbom(target)
            checked += 1
            if _facts(got) != expected:
                assert any(note.startswith(f"{slot}: ") for note in got.skipped), (source.name, slot, got.skipped)
    assert checked > 150


def test_rescan_says_when_nothing_in_the_sbom_can_be_checked(tmp_path: Path) -> None:
    from depscan.config import AdvisorySettings
    from depscan.scan import rescan

    subset = SBOMS.parent / "advisories" / "pypi-subset.zip"
    cases = {
        "empty": {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": []},
        "other": {"bomFormat": "CycloneDX", "specVersion": "1.6",
                  "components": [{"name": "left-pad", "purl": "pkg:npm/left-pad@1.3.0"}, {"name": "x"}]},
        "broken": {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": {"purl": "pkg:pypi/six@1.16.0"}},
    }
    for name, doc in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(doc))
        result = rescan(str(path), AdvisorySettings(export=subset, cache_dir=tmp_path / "cache"))
        assert result.components == () and result.findings == ()
        assert result.stats["sbom_checkable"] == 0, name
        assert result.notes[0].startswith("nothing was checked: the SBOM lists no PyPI component with a version"), name
    assert "SBOM entry skipped (wrong type): components: an object, not a list; skipped" in result.notes
    path = tmp_path / "one.json"
    path.write_text(json.dumps({"bomFormat": "CycloneDX", "components": [{"purl": "pkg:pypi/six@1.16.0"}]}))
    result = rescan(str(path), AdvisorySettings(export=subset, cache_dir=tmp_path / "cache"))
    assert result.stats["sbom_checkable"] == 1 and not any("nothing was checked" in n for n in result.notes)


def test_hostile_nesting_is_cut_with_a_note_and_bounded_cost(tmp_path: Path) -> None:
    from depscan.sbom_reader import MAX_NESTING

    depth = 20_000  # 1.3 MB of XML; without the cut its slot names alone took 9 GB
    xml = ('<bom xmlns="http://cyclonedx.org/schema/bom/1.5"><components>'
           + "<component><purl>pkg:pypi/a@1</purl><components>" * depth
           + "</components></component>" * depth + "</components></bom>")
    contents = parse_sbom(xml.encode(), tmp_path / "deep.xml")
    assert contents.entries == MAX_NESTING
    assert len(contents.skipped) == 1 and contents.skipped[0].endswith(
        f"/components: components nested deeper than {MAX_NESTING} levels; skipped")
    shallow = '{"bomFormat": "CycloneDX", "components": ' + '[{"purl": "pkg:pypi/a@1", "components": ' * 100
    doc = shallow + "[]" + "}]" * 100 + "}"
    assert parse_sbom(doc.encode(), tmp_path / "deep.json").entries == MAX_NESTING
    deep = '{"bomFormat": "CycloneDX", "components": ' + '[{"components": ' * 5000 + "[]" + "}]" * 5000 + "}"
    with pytest.raises(ArtifactError, match=r"deep\.json: JSON nested too deeply"):
        parse_sbom(deep.encode(), tmp_path / "deep.json")


def test_the_plain_purl_fast_path_reads_what_packageurl_reads() -> None:
    import itertools

    from packageurl import PackageURL

    from depscan.sbom_reader import _PLAIN_PYPI, _purl_parts

    names = ["requests", "Ruamel.YAML", "zope_interface", "A-_.b", "x", "_x_", "1"]
    versions = ["1.0", "1!2.0+local_build.1", "2004d", "1.0.post1-dev_2", "0"]
    fast = 0
    for name, version in itertools.product(names, versions):
        text = f"pkg:pypi/{name}@{version}"
        fast += _PLAIN_PYPI.fullmatch(text) is not None
        parsed = PackageURL.from_string(text)
        assert _purl_parts(text) == (parsed.type, parsed.name, parsed.version), text
    assert fast == len(names) * len(versions)  # all took the fast path, and agreed
    for text in ["pkg:pypi/a%2Db@1", "pkg:pypi/a@1?x=y", "pkg:PyPI/A@1", "pkg:npm/a@1", "pkg:pypi/a"]:
        parsed = PackageURL.from_string(text)
        assert _PLAIN_PYPI.fullmatch(text) is None and _purl_parts(text) == (parsed.type, parsed.name, parsed.version)
    assert _purl_parts("pkg:") is None and _purl_parts("not a purl") is None
