"""The JSON report states the target runtime the policy rules judged against, and how it was learned."""

from __future__ import annotations

import dataclasses

from depscan.models import ScanResult, TargetRuntime
from depscan.reporters import json_


def test_the_target_runtime_is_in_the_json(demo_result: ScanResult) -> None:
    target = TargetRuntime(runtime="python3.12", python="3.12", machine="aarch64", glibc="2.34", libc="glibc",
                           basis=("--runtime python3.12",))
    doc = json_.document(dataclasses.replace(demo_result, target=target))
    assert doc["target"] == {"runtime": "python3.12", "python": "3.12", "machine": "aarch64", "glibc": "2.34",
                             "libc": "glibc", "basis": ["--runtime python3.12"]}
    assert json_.document(dataclasses.replace(demo_result, target=None))["target"] is None
    streamed = "".join(json_.stream(dataclasses.replace(demo_result, target=target)))
    assert '"machine": "aarch64"' in streamed
