"""What the import-name table costs a scan: ``depscan.vendored_names`` of two source trees, alternately.

    git archive <commit with the old table> | tar -x -C /tmp/before
    python bench/bench_vendored_names.py --before /tmp/before [--repeat 21]

Each round starts a fresh interpreter per tree (``PYTHONPATH`` set to it; bytecode written by an untimed
first round, as an installed package has it) that imports ``bisect`` and ``collections.abc`` first (a
scan has imported both before the table), then times ``import depscan.vendored_names`` and the first
lookup (``IMPORT_NAMES.get("yaml")``: the packed table splits its strings there), then 200 lookups of
real and unknown names. Prints medians per tree and the after/before ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import bisect, collections.abc, json, time
t0 = time.perf_counter()
from depscan.vendored_names import IMPORT_NAMES
t1 = time.perf_counter()
IMPORT_NAMES.get("yaml")
t2 = time.perf_counter()
for name in ("six", "dateutil", "no_such_name", "handler", "attr") * 40:
    IMPORT_NAMES.get(name)
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "first lookup": t2 - t1, "200 lookups": t3 - t2, "names": len(IMPORT_NAMES)}))
"""


def _run(tree: Path) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(tree)
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=tree, check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="a depscan source tree with the old table")
    parser.add_argument("--repeat", type=int, default=21)
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": REPO_ROOT}
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in trees}
    for round_ in range(args.repeat + 1):
        order = list(trees.items()) if round_ % 2 else list(trees.items())[::-1]
        for label, tree in order:
            result = _run(tree)
            if round_:  # round 0 writes the bytecode
                runs[label].append(result)
    print(f"{'figure':<14} {'before':>10} {'after':>10} {'ratio':>7}")
    for key in ("import", "first lookup", "200 lookups"):
        before, after = (statistics.median(r[key] for r in runs[k]) for k in ("before", "after"))
        print(f"{key:<14} {before * 1e3:>8.3f}ms {after * 1e3:>8.3f}ms {after / before:>7.2f}")
    print(f"{'names':<14} {runs['before'][0]['names']:>10.0f} {runs['after'][0]['names']:>10.0f}")


if __name__ == "__main__":
    main()
