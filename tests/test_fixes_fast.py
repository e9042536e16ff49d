"""The fast path of the fix advice (``fixes.compute``/``verified`` once per (package, version, findings), the
JSON ``fixes`` list encoded once per distinct advice, ``pins`` and the stderr plan) against the per-copy
reference (``tests/fix_reference.py``, the code before the fast path) and ``json.dumps``, on the real PyPA
records of fixtures/advisories and on hand-made advisory sets that move the recommendation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest

from depscan import fixes
from depscan.advisories.osv_db import OfflineDatabase, import_sources
from depscan.match import match
from depscan.models import ArtifactInfo, FixAdvice, Location, PythonDist, ScanResult, Status, TargetRuntime
from depscan.reporters import json_
from tests import fix_reference
from tests.advisories.osv_records import record
from tests.test_fixes import SUBSET, _dist, _listed_pairs, _result
from tests.test_match import Fake


def _copies(pairs: list[tuple[str, str]]) -> list[PythonDist]:
    """Each (name, version) as a used copy, a shadowed one, a vendored one, and the used copy again as
    another component object (the same purl and path in another layer: its own copy)."""
    out = []
    for name, version in pairs:
        used = _dist(name, version)
        out += [used, _dist(name, version, path=f"old/{name}-{version}.dist-info/METADATA", status=Status.SHADOWED),
                replace(_dist(name, version, path=f"site/x/_vendor/{name}-{version}.dist-info/METADATA",
                              status=Status.VENDORED), vendored_by=Location("site/x/__init__.py")),
                replace(used, metadata_location=Location(used.metadata_location.path, layer="sha256:aa"))]
    return out


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ScanResult, OfflineDatabase]]:
    db = tmp_path_factory.mktemp("fast") / "osv.sqlite"
    import_sources(db, [SUBSET])
    backend = OfflineDatabase(db)
    dists = _copies(sorted(_listed_pairs(SUBSET)))
    matched = match(dists, backend)
    result = ScanResult(artifact=ArtifactInfo("sbom", "sbom", None), components=tuple(dists), unknowns=(),
                        findings=tuple(matched.findings), advisory_data=matched.data)
    yield result, backend
    backend.close()


def test_real_records_fast_path_equals_the_per_copy_reference(real: tuple[ScanResult, OfflineDatabase]) -> None:
    result, backend = real
    fast = fixes.compute(result)
    assert len(fast) > 2000 and any(a.recommended is None for a in fast) and any(a.notes for a in fast)
    assert fast == fix_reference.compute(result)
    assert fixes.vulnerable(result) == fix_reference.vulnerable(result)
    checked = fixes.verified(result, backend)
    assert checked == fix_reference.verified(result, backend)
    assert fixes.pins(checked) == fix_reference.pins(checked)
    # the findings in another order (the copies' own order in the advice is by name, version and path)
    shuffled = replace(result, findings=result.findings[::-1])
    assert fixes.verified(shuffled, backend) == fix_reference.verified(shuffled, backend)


def test_rounds_failures_and_conflicts_equal_the_reference() -> None:
    records = [record("A", "u", events=[{"introduced": "0"}, {"fixed": "1.1"}], versions=["1.0", "1.2"]),
               record("D", "u", events=[{"introduced": "1.1"}, {"fixed": "1.1.5"}]),
               record("E", "u", events=[{"introduced": "1.1.5"}, {"fixed": "1.1.7"}]),
               record("F", "w", events=[{"introduced": "0"}, {"fixed": "2.0"}]),
               record("MAL-2024-9", "evil", versions=["1.0"])]
    user = _dist("user", "1.0", requires=("w<2", "u"))
    dists = [*_copies([("u", "1.0"), ("w", "1.5"), ("evil", "1.0")]), user]
    target = TargetRuntime(python="3.11", machine="x86_64")
    result = _result(dists, records, target=target)
    for backend in (Fake(records), Fake(records, fail=["u"]), Fake(records, fail=["w"])):
        for rounds in (1, 2, 4):
            fast = fixes.verified(result, backend, rounds=rounds)
            assert fast == fix_reference.verified(result, backend, rounds=rounds)
    fast = fixes.verified(result, Fake(records))
    assert {a.recommended for a in fast if a.normalized_name == "u"} == {"1.1.7"}  # moved twice
    assert any(a.conflicts for a in fast)
    assert fixes.compute(result) == fix_reference.compute(result)


def _odd(items: tuple[FixAdvice, ...]) -> tuple[FixAdvice, ...]:
    first = items[0]
    return (
        *items,
        replace(first, name='odd " name \u00e9\u4e2d', path="p\\a\tth", conflicts=("x requires y<2", "\u2013"),
                hashes=("sha256:00", "sha256:11"), notes=("n\n1",), checked=True, index_url="https://i/simple/"),
        replace(first, recommended=None, newest_in_major=None, breaking=None, advisories=(), why_not="why \"not\""),
        replace(first, breaking=True, status=Status.SHADOWED, notes=("a", "b")),
        replace(first, breaking=False, conflicts=("x requires y<2", "\u2013")),  # the same lists, cached
        first,
    )


def test_the_fixes_list_is_exactly_what_json_dumps_writes(real: tuple[ScanResult, OfflineDatabase]) -> None:
    result, _backend = real
    items = _odd(fixes.compute(result))
    assert [str(t) for t in json_._fix_texts(items)] == [json_._text(json_._fix(i), 2) for i in items]
    stored = replace(result, fixes=items)
    assert "".join(json_.stream(stored)) == json.dumps(json_.document(stored), indent=2, ensure_ascii=False) + "\n"


def test_the_stderr_plan_equals_the_reference_plan(real: tuple[ScanResult, OfflineDatabase]) -> None:
    from depscan import finish

    result, backend = real
    stored = replace(result, fixes=_odd(fixes.verified(result, backend)))
    lines = finish.fix_plan(stored, [("json", "out.json")], ["depscan", "scan", "a.zip"])
    pinned = fix_reference.pins(stored.fixes or ())
    assert lines[2:2 + len(pinned)] == [f"       {pin}" for pin in pinned]
    others = sum(1 for f in result.findings if f.suppressed is None and not isinstance(f.component, PythonDist))
    assert not others and not any("native libraries" in line for line in lines)
