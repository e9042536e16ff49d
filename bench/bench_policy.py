"""What the policy step costs in every scan, against "read every member once" measured in the same run.

The policy step (``native.policy.check``: wheel SBOMs merged, the target runtime inferred, every rule
applied) runs once after the catalogers of every scan. This measures, in one process, on one zip:

* baseline: ``zipfile`` opens the zip and reads every member once (the cost of unpacking it);
* scan: ``scan.run`` with advisories skipped (the policy step included);
* policy: ``check`` alone over the scan's components (median of ``--repeat``), as inferred and under
  each ``--runtime`` given, with the findings per rule; then once more with the zip's wheel SBOMs
  (read by the ``wheel-sboms`` cataloger) merged again, for the merge's cost.

Default zip: the Lambda-shape benchmark zip that ``bench/bench_inventory.py --shape lambda`` builds
and caches (``~/.cache/depscan-bench/lambda-function.zip``). Exit status 0, or 2 when the zip is missing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import zipfile
from collections import Counter
from pathlib import Path

from depscan.artifacts.detect import open_artifact
from depscan.artifacts.limits import Limits
from depscan.artifacts.view import OpenContext
from depscan.catalogers.wheel_sboms import WheelSbomCataloger
from depscan.config import ScanConfig
from depscan.native.policy import check
from depscan.scan import run

DEFAULT_ZIP = Path("~/.cache/depscan-bench/lambda-function.zip").expanduser()


def read_every_member(path: Path) -> float:
    started = time.perf_counter()
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.is_dir():
                archive.read(info)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("zip", nargs="?", default=str(DEFAULT_ZIP), help="the zip to scan")
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds of the policy step")
    parser.add_argument("--runtime", action="append", default=[], help="also judge against this Lambda runtime")
    args = parser.parse_args(argv)
    path = Path(args.zip)
    if not path.is_file():
        print(f"bench_policy: {path}: no such zip (build it with bench/bench_inventory.py --shape lambda)",
              file=sys.stderr)
        return 2
    baseline = read_every_member(path)
    started = time.perf_counter()
    result = run(ScanConfig(str(path)))
    scan_seconds = time.perf_counter() - started
    kinds = Counter(type(c).__name__ for c in result.components)
    print(f"zip: {path} ({path.stat().st_size / 1e6:.1f} MB); components: {dict(sorted(kinds.items()))}")
    print(f"baseline (read every member once): {baseline:.3f} s; scan: {scan_seconds:.3f} s "
          f"({scan_seconds / baseline:.2f}x baseline)")
    for runtime in [None, *args.runtime]:
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            outcome = check(result.components, result.artifact.kind, runtime)
            times.append(time.perf_counter() - started)
        took = statistics.median(times)
        rules = dict(sorted(Counter(f.rule for f in outcome.findings).items()))
        label = f"--runtime {runtime}" if runtime else "inferred"
        print(f"policy ({label}): {took * 1000:.1f} ms = {took / baseline:.4f}x baseline, "
              f"{took / scan_seconds * 100:.2f}% of the scan; target: {outcome.target.describe()}; findings: {rules}")
    cataloger = WheelSbomCataloger()
    with open_artifact(str(path), OpenContext(Limits())) as view:
        cataloger.catalog(view)
    times = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        check(result.components, result.artifact.kind, sboms=cataloger.sboms)
        times.append(time.perf_counter() - started)
    took = statistics.median(times)
    entries = sum(len(s.libraries) for s in cataloger.sboms)
    print(f"policy with {len(cataloger.sboms)} wheel SBOMs ({entries} entries) merged: {took * 1000:.1f} ms = "
          f"{took / baseline:.4f}x baseline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
