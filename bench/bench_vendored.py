"""What vendored-code identification costs a default scan: two depscan trees on the same zips, alternately.

    git archive <commit before the vendored cataloger> | tar -x -C /tmp/before
    python bench/bench_vendored.py --before /tmp/before [--repeat 9] [ZIP ...]

Each round runs ``python -m depscan scan ZIP -o json=FILE --source skip`` with ``PYTHONPATH`` set to
the "before" tree, then to this repository (the order alternates per round, after one untimed warm-up
round), and prints the medians of wall time and CPU time (user + system of the child, from
``getrusage``) and their after/before ratios. The CPU ratio is the figure to read when other work
shares the machine. Default zips: the inventory benchmark's (``bench/bench_inventory.py`` builds them).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ZIPS = ("~/.cache/depscan-bench/pure-python.zip", "~/.cache/depscan-bench/lambda-function.zip")


def _run(tree: Path, zip_path: Path, out: Path) -> tuple[float, float]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "depscan", "scan", str(zip_path), "-o", f"json={out}", "--source",
                           "skip"], env=env, cwd=out.parent, check=False, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    if proc.returncode not in (0, 1):  # 1: findings (the pure-shape set misses requirements: policy findings)
        raise SystemExit(f"bench_vendored: depscan scan exited {proc.returncode} ({tree})")
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("zips", nargs="*", type=Path)
    parser.add_argument("--before", type=Path, required=True, help="a depscan source tree without the change")
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    zips = args.zips or [Path(z).expanduser() for z in DEFAULT_ZIPS]
    trees = {"before": args.before.resolve(), "after": REPO_ROOT}
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "report.json"
        for zip_path in zips:
            wall: dict[str, list[float]] = {k: [] for k in trees}
            cpu: dict[str, list[float]] = {k: [] for k in trees}
            for round_ in range(args.repeat + 1):
                order = list(trees.items()) if round_ % 2 else list(trees.items())[::-1]
                for label, tree in order:
                    w, c = _run(tree, zip_path, out)
                    if round_:  # round 0 warms the caches
                        wall[label].append(w)
                        cpu[label].append(c)
            m = {k: (statistics.median(wall[k]), statistics.median(cpu[k])) for k in trees}
            print(f"{zip_path.name}: CPU before {m['before'][1]:.3f} s, after {m['after'][1]:.3f} s, "
                  f"ratio {m['after'][1] / m['before'][1]:.3f}; wall before {m['before'][0]:.3f} s, "
                  f"after {m['after'][0]:.3f} s, ratio {m['after'][0] / m['before'][0]:.3f} "
                  f"(medians of {args.repeat}, alternating)")


if __name__ == "__main__":
    main()
