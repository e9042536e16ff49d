from __future__ import annotations

from depscan.models import NativeLib, PythonDist, ScanResult


def test_demo_result_has_everything_reporters_need(demo_result: ScanResult) -> None:
    dists = [c for c in demo_result.components if isinstance(c, PythonDist)]
    assert len(dists) == 8
    (lib,) = [c for c in demo_result.components if isinstance(c, NativeLib)]
    assert (lib.location.path, lib.owner, lib.purl) == ("var/task/lib/libpq.so.5", None, "pkg:generic/libpq@5")
    assert demo_result.artifact.sha256 is not None and len(demo_result.artifact.sha256) == 64
    assert demo_result.advisory_data is not None and demo_result.advisory_data.records == 92
    assert any(f.suppressed is not None for f in demo_result.findings)
    assert any(f.score is not None for f in demo_result.findings)
    assert [u.reason for u in demo_result.unknowns] == ["METADATA has no Version field"]
    assert any(d.status.value == "shadowed" for d in dists)
