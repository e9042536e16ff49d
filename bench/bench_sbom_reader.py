"""Reading a large CycloneDX SBOM back (``depscan rescan``'s first step), against ``json.loads`` of it.

    python bench/bench_sbom_reader.py                    # 142,477 components (the issue's rescan size)
    python bench/bench_sbom_reader.py --components 20000 --repeat 5

The SBOM is generated into ``--workdir`` (default: a temporary directory) in the shape depscan
writes (purl, bom-ref, an evidence occurrence, ``depscan:`` properties). Baseline: ``json.loads`` of
the same bytes, the least any JSON SBOM reader must do, timed in the same run; the figure is the
best-of-``--repeat`` ratio ``read_sbom / json.loads``, with peak traced memory of one read.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path


def build(path: Path, count: int) -> None:
    components = [
        {
            "bom-ref": f"pkg:pypi/pkg{i}@1.{i % 50}?package-id={i:016x}",
            "type": "library",
            "name": f"pkg{i}",
            "version": f"1.{i % 50}",
            "purl": f"pkg:pypi/pkg{i}@1.{i % 50}",
            "evidence": {"occurrences": [{"location": f"var/task/pkg{i}-1.{i % 50}.dist-info/METADATA"}]},
            "properties": [
                {"name": "depscan:found_by", "value": "python-dist-info"},
                {"name": "depscan:status", "value": "used"},
                {"name": "depscan:site_root", "value": "var/task"},
            ],
        }
        for i in range(count)
    ]
    doc = {"bomFormat": "CycloneDX", "specVersion": "1.6", "metadata": {"component": {"name": "function.zip"}},
           "components": components}
    path.write_text(json.dumps(doc))


def best(repeat: int, run: object) -> float:
    assert callable(run)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    from depscan.sbom_reader import read_sbom

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--components", type=int, default=142_477)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        workdir = args.workdir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        sbom = workdir / f"bench-{args.components}.cdx.json"
        if not sbom.is_file():
            build(sbom, args.components)
        data = sbom.read_bytes()
        baseline = best(args.repeat, lambda: json.loads(data))
        reader = best(args.repeat, lambda: read_sbom(sbom))
        tracemalloc.start()
        contents = read_sbom(sbom)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        if len(contents.components) != args.components:
            print(f"read {len(contents.components)} components, expected {args.components}", file=sys.stderr)
            return 2
        print(f"{args.components} components, {len(data) / 1e6:.1f} MB")
        print(f"json.loads (baseline): {baseline:.2f} s")
        print(f"read_sbom:             {reader:.2f} s  ratio {reader / baseline:.2f}x, peak {peak / 1e6:.0f} MB traced")
    return 0


if __name__ == "__main__":
    sys.exit(main())
