from __future__ import annotations

import pytest

from depscan.advisories.osv_schema import OSVError, cvss_score, parse_osv
from tests.advisories.osv_records import record

CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


def test_parses_fields_and_normalizes_pypi_names() -> None:
    raw = record("PYSEC-1", "Foo_Bar", events=[{"introduced": "0"}, {"fixed": "1.2"}], aliases=["CVE-1"], cvss=CRITICAL)
    raw["references"] = [{"type": "WEB", "url": "https://example.invalid/a"}, {"type": "WEB"}]
    adv = parse_osv(raw, "test.zip")
    assert adv.id == "PYSEC-1" and adv.aliases == ("CVE-1",)
    (affected,) = adv.affected
    assert affected.name == "Foo_Bar" and affected.normalized_name == "foo-bar"
    assert [(e.kind, e.value) for e in affected.ranges[0].events] == [("introduced", "0"), ("fixed", "1.2")]
    (sev,) = adv.severity
    assert sev.score == 9.8
    assert adv.references == ("https://example.invalid/a",)
    assert adv.source == "test.zip"


def test_cvss_v4_and_garbage_vectors() -> None:
    assert cvss_score("CVSS_V4", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N") == 9.3
    assert cvss_score("CVSS_V3", "not a vector") is None
    assert cvss_score("Ubuntu", "high") is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "must be a JSON object"),
        ({"modified": "x"}, "record without an id"),
        ({"id": "X-1"}, "X-1: record without a modified timestamp"),
        ({"id": "X-1", "modified": "m", "aliases": "CVE-1"}, "aliases must be a list of strings"),
        ({"id": "X-1", "modified": "m", "affected": [{"package": {}, "ranges": [{"type": "ECOSYSTEM"}]}]}, "events"),
        ({"id": "X-1", "modified": "m", "severity": [{"type": "CVSS_V3"}]}, "severity entries"),
    ],
)
def test_rejects_invalid_records_with_a_message(raw: object, message: str) -> None:
    with pytest.raises(OSVError, match=message):
        parse_osv(raw, "src")


@pytest.mark.parametrize(
    "raw",
    [
        {"id": "X-1", "modified": "m", "references": 5},
        {"id": "X-1", "modified": "m", "affected": [{"package": {"name": "a", "ecosystem": "PyPI"}, "ranges": 3}]},
    ],
)
def test_wrong_container_types_are_osv_errors(raw: object) -> None:
    with pytest.raises(OSVError):
        parse_osv(raw, "src")


def test_models_import_nothing_from_the_advisories_package() -> None:
    """``models`` is plain data: the CVSS score is computed by the parser, so ``models`` never
    imports ``advisories.osv_schema`` (which imports ``models``), not even lazily."""
    import ast
    from pathlib import Path

    import depscan.models

    tree = ast.parse(Path(depscan.models.__file__).read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in imported if m.startswith("depscan.advisories")}, imported


def test_severity_score_is_computed_when_the_record_is_parsed() -> None:
    cvss_score.cache_clear()
    (sev,) = parse_osv(record("PYSEC-1", "pkg", cvss=CRITICAL), "t").severity
    assert cvss_score.cache_info().currsize == 1 and sev.score == 9.8
