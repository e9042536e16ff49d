"""What the requirement check (``depscan/requirements_check.py``) costs a default scan.

On the zips ``bench/bench_inventory.py`` builds (``lambda-function.zip``, ``pure-python.zip`` in
``--workdir``; build them with that script first), in one process: the whole inventory scan
(``scan.run``, advisories skipped; the check included, as every scan runs it), and the check alone on
that scan's components, with every parse and marker cache emptied before each run (a scan calls it
once, cold). Prints medians of ``--repeat`` runs in CPU time (the machines here are shared), the
check's share of the scan (the baseline measured in the same run), and the findings and notes the
check gives on the real sets.

    python bench/bench_requirements_check.py --repeat 7
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

from depscan import facts, requirements_check  # noqa: E402
from depscan.config import ScanConfig  # noqa: E402
from depscan.models import PythonDist, TargetRuntime  # noqa: E402
from depscan.scan import run  # noqa: E402

ZIPS = {"lambda": "lambda-function.zip", "pure": "pure-python.zip"}


def _cold() -> None:
    for cached in (facts.parse_requirement, facts._specifier, facts._marker, requirements_check._extra_gate,
                   requirements_check._satisfies):
        cached.cache_clear()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("~/.cache/depscan-bench"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    workdir = args.workdir.expanduser()
    measured = 0
    for shape, name in ZIPS.items():
        path = workdir / name
        if not path.is_file():
            print(f"{shape}: {path} not found (run bench/bench_inventory.py --shape {shape} first)")
            continue
        measured += 1
        scans, checks = [], []
        for _ in range(args.repeat):
            _cold()
            started = time.process_time()
            result = run(ScanConfig(str(path)))
            scans.append(time.process_time() - started)
            _cold()
            started = time.process_time()
            found, notes = requirements_check.check(result.components, result.target or TargetRuntime(),
                                                    result.artifact.kind)
            checks.append(time.process_time() - started)
        dists = sum(1 for c in result.components if isinstance(c, PythonDist))
        lines = sum(len(c.requires_dist) for c in result.components if isinstance(c, PythonDist))
        scan, check = statistics.median(scans), statistics.median(checks)
        print(f"{shape}: {dists} distributions, {lines} Requires-Dist lines; scan {scan:.3f} s CPU, "
              f"requirement check {check * 1000:.1f} ms CPU (cold caches) = {check / scan:.1%} of the scan "
              f"(medians of {args.repeat}); {len(found)} finding(s), {len(notes)} note(s)")
        for finding in found:
            print(f"  {finding.rule} ({finding.level.value}): {finding.message}")
        for note in notes:
            print(f"  note: {note}")
    return 0 if measured else 2


if __name__ == "__main__":
    sys.exit(main())
