"""``--check-index`` against the real package index (PyPI by default): the network round trip the unit
tests mock.

Builds two artifacts in ``--workdir``: the README demo (function zip + layer, pure-Python packages) and an
arm64 Lambda layer zip of old native wheels' metadata (``cryptography 41.0.3`` tagged
``cp37-abi3-manylinux_2_28_aarch64``, ``Pillow 9.5.0`` tagged ``cp311-cp311-manylinux_2_28_aarch64``;
stand-ins with the real names, versions and tags), and scans each against the bundled advisory subset
with ``--check-index`` (``--runtime python3.11 --arch arm64`` for the layer), first with an empty index
cache, then warm. Prints each run's wall time (the baseline: the same scan without ``--check-index``,
measured in the same run) and the fix advice: recommended version, newest in the line, breaking, whether a
wheel for the target was found, hashes, conflicts and why not.

    python bench/bench_index.py --workdir /tmp/bench-index [--index-url https://pypi.org/simple/]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path[:0] = [str(REPO), str(REPO / "fixtures"), str(REPO / "fixtures" / "demo")]

from build_demo import build  # noqa: E402
from builders import dist, write_zip  # noqa: E402

from depscan.config import INDEX_URL, AdvisorySettings, ScanConfig  # noqa: E402
from depscan.fixes import advice  # noqa: E402
from depscan.models import ScanResult  # noqa: E402
from depscan.scan import run  # noqa: E402

SUBSET = REPO / "fixtures" / "advisories" / "pypi-subset.zip"


def _timed(config: ScanConfig) -> tuple[float, ScanResult]:
    started = time.perf_counter()
    result = run(config)
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--index-url", default=INDEX_URL)
    args = parser.parse_args()
    work: Path = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    function, layer = build(work / "demo")
    arm = write_zip(work / "arm64-layer.zip",
                    dist("cryptography", "41.0.3", root="python/lib/python3.11/site-packages",
                         tags=("cp37-abi3-manylinux_2_28_aarch64",))
                    | dist("Pillow", "9.5.0", root="python/lib/python3.11/site-packages",
                           tags=("cp311-cp311-manylinux_2_28_aarch64",)))
    cache = work / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    offline = AdvisorySettings(mode="offline", export=SUBSET, max_age_days=100_000, cache_dir=cache)
    checked = replace(offline, index_url=args.index_url)
    cases = [
        ("demo (function + layer)", ScanConfig(str(function), (str(layer),), advisories=offline)),
        ("arm64 layer, python3.11", ScanConfig(str(arm), advisories=offline, runtime="python3.11", arch="arm64")),
    ]
    for label, config in cases:
        base, _ = _timed(config)
        cold, result = _timed(replace(config, advisories=checked))
        warm, _ = _timed(replace(config, advisories=checked))
        print(f"\n{label}: without --check-index {base:.2f} s; with it, cold cache {cold:.2f} s, "
              f"warm cache {warm:.2f} s (x{warm / base:.2f})")
        print(f"  target: {result.target.describe() if result.target else 'none'}")
        for item in advice(result):
            print(f"  {item.name} {item.current} -> {item.recommended} (newest in line {item.newest_in_major}, "
                  f"breaking {item.breaking}, checked {item.checked}, {len(item.hashes)} hash(es))")
            for text in (*item.conflicts, *((item.why_not,) if item.why_not else ()), *item.notes):
                print(f"      {text[:300]}")


if __name__ == "__main__":
    main()
