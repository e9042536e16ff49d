from __future__ import annotations

from depscan.models import ScanResult


def test_demo_result_has_everything_reporters_need(demo_result: ScanResult) -> None:
    assert len(demo_result.components) == 8
    assert demo_result.artifact.sha256 is not None and len(demo_result.artifact.sha256) == 64
    assert demo_result.advisory_data is not None and demo_result.advisory_data.records == 92
    assert any(f.suppressed is not None for f in demo_result.findings)
    assert any(f.score is not None for f in demo_result.findings)
    assert [u.reason for u in demo_result.unknowns] == ["METADATA has no Version field"]
    assert any(c.status.value == "shadowed" for c in demo_result.components)
