"""Benchmark of a full scan with native identification: the lambda-shape zip, cold and warm native cache.

What it measures, interleaved in each round (the machines here are noisy and shared; medians of ``--repeat``):

* baseline: a fresh Python process that opens the zip with ``zipfile`` and reads every member once
  (``bench_inventory.BASELINE_CODE``), the cost of "just unpacking it";
* cold: ``python -m depscan scan ZIP --source offline --db DB --format json --output F`` with an empty
  native cache (a new ``$DEPSCAN_CACHE_DIR``): every ELF file is inflated, parsed and identified (hashed
  only when no RECORD gives its sha256), and the cache is written. Target: cold / baseline <= 0.6;
* warm: the same command again on the cache the cold run left: files whose owner's RECORD gives their
  sha256 are not read at all. Target: warm / baseline <= 0.35;
* peak memory (max RSS from ``os.wait4``) of every scan. Target: < 300 MB.

Each run's line ends with the load average after it: on a shared machine the wall times follow the load
(a scan whose threads get no second core runs about as long as its CPU time), the CPU times much less.

The advisories are real: ``--export`` (default ``../shared/advisories/osv-pypi-pysec-2024-10-10.zip`` next to
the repository) is imported into a temporary database before the timing (``depscan db import``), so
the scans match the inventory against offline PyPI advisories too. Wall time is what the targets use;
CPU time (user + system of the process and its threads) is printed beside it, and its ratio says how
much of the work the threads spread over the CPUs. Every scan's report must list the same native
components (cold and warm agree) and at least one identified library.

    python bench/bench_native.py [--repeat 3] [--workdir ~/.cache/depscan-bench] [--export ZIP] [--json FILE]

The artifact is ``bench_inventory.py``'s lambda shape (built and cached on first use, ~230 MB of wheels
downloaded from PyPI). Exit status: 0 when every target is met, 1 when one is missed, 2 when the
benchmark could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from bench_inventory import (  # noqa: E402 - the sibling module, found through the path set above
    BASELINE_CODE,
    SHAPES,
    BenchError,
    Run,
    build_artifact,
    measured_env,
    median,
    resolve_workdir,
)

REPO_ROOT = BENCH_DIR.parent
DEFAULT_EXPORT = REPO_ROOT.parent / "shared" / "advisories" / "osv-pypi-pysec-2024-10-10.zip"
TARGET_COLD = 0.6
TARGET_WARM = 0.35
TARGET_RSS_MB = 300.0
MB = 10**6


@dataclass
class Figures:
    baseline: list[Run] = field(default_factory=list)
    cold: list[Run] = field(default_factory=list)
    warm: list[Run] = field(default_factory=list)


def measure(cmd: list[str], cwd: Path, env: dict[str, str]) -> Run:
    """``cmd`` run to completion: wall time and ``wait4`` resource usage (CPU of all its threads, peak RSS)."""
    import time

    with open(os.devnull, "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    rss = usage.ru_maxrss if sys.platform == "darwin" else usage.ru_maxrss * 1024
    return Run(wall, usage.ru_utime + usage.ru_stime, rss / MB, proc.returncode)


def import_advisories(export: Path, db: Path, cwd: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "depscan", "db", "import", str(export), "--db", str(db)],
                          cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BenchError(f"db import failed ({proc.returncode}): {proc.stderr.strip()[-300:]}")


def native_summary(report: Path) -> tuple[list[tuple[str, str, str | None]], Counter[str]]:
    """The report's native components (path, name, version) and how many per evidence method."""
    data: dict[str, Any] = json.loads(report.read_text())
    found = []
    methods: Counter[str] = Counter()
    for component in data.get("components", []):
        if component.get("type") != "native-component":
            continue
        location = component.get("location") or {}
        found.append((str(location.get("path")), str(component.get("name")), component.get("version")))
        evidence = component.get("evidence") or [{}]
        methods[str(evidence[0].get("method", "?"))] += 1
    return sorted(found, key=str), methods


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="~/.cache/depscan-bench", help="artifact cache (never in the repo)")
    parser.add_argument("--repeat", type=int, default=3, help="timed rounds (baseline, cold, warm each)")
    parser.add_argument("--export", type=Path, default=DEFAULT_EXPORT, help="OSV export zip imported first")
    parser.add_argument("--json", type=Path, help="write every run and figure here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        workdir = resolve_workdir(args.workdir)
        shape = SHAPES["lambda"]
        facts = build_artifact(shape, workdir, extra_synthetic=0, min_dists=300, rebuild=False)
        zip_path = Path(facts.zip_path)
        if not args.export.is_file():
            raise BenchError(f"no advisory export at {args.export} (--export)")
        print(f"python: {sys.executable} ({platform.python_version()}), {os.cpu_count()} CPUs, "
              f"load {os.getloadavg()[0]:.1f}")
        return run(zip_path, args)
    except BenchError as e:
        print(f"bench_native: {e}", file=sys.stderr)
        return 2


def run(zip_path: Path, args: argparse.Namespace) -> int:
    figures = Figures()
    reports: dict[str, tuple[list[tuple[str, str, str | None]], Counter[str]]] = {}
    with tempfile.TemporaryDirectory(prefix="depscan-bench-native-") as tmp_name:
        tmp = Path(tmp_name)
        db = tmp / "osv.sqlite"
        import_advisories(args.export, db, tmp)
        baseline = [sys.executable, "-c", BASELINE_CODE, str(zip_path)]
        env = measured_env()

        def scan(cache: Path, report: Path) -> list[str]:
            env["DEPSCAN_CACHE_DIR"] = str(cache)
            return [sys.executable, "-m", "depscan", "scan", str(zip_path), "--source", "offline", "--db", str(db),
                    "--format", "json", "--output", str(report)]

        # Untimed warm-up: page cache, .pyc files.
        measure(baseline, tmp, env)
        measure(scan(tmp / "warmup-cache", tmp / "warmup.json"), tmp, env)
        for number in range(args.repeat):
            cache = tmp / f"cache-{number}"
            steps = [("baseline", baseline), ("cold", scan(cache, tmp / "cold.json")),
                     ("warm", scan(cache, tmp / "warm.json"))]
            if number % 2:  # alternate which goes first: baseline, or the scans
                steps = steps[1:] + steps[:1]
            for what, cmd in steps:
                result = measure(cmd, tmp, env)
                if result.returncode not in (0, 1):  # 1: findings
                    raise BenchError(f"{what} run exited {result.returncode}: {' '.join(cmd)}")
                getattr(figures, what).append(result)
                if what != "baseline":
                    reports[what] = native_summary(tmp / f"{what}.json")
                print(f"  round {number + 1} {what:8} wall {result.wall:6.2f} s  cpu {result.cpu:6.2f} s  "
                      f"rss {result.max_rss_mb:6.1f} MB  load {os.getloadavg()[0]:.1f}")
            shutil.rmtree(cache, ignore_errors=True)
    return summarize(figures, reports, args)


def summarize(figures: Figures, reports: dict[str, Any], args: argparse.Namespace) -> int:
    cold_found, methods = reports["cold"]
    warm_found, _ = reports["warm"]
    problems = []
    if cold_found != warm_found:
        problems.append("cold and warm reports list different native components")
    if not cold_found:
        problems.append("no native component identified")
    base = median([r.wall for r in figures.baseline])
    base_cpu = median([r.cpu for r in figures.baseline])
    rows = []
    ok = not problems
    for what, target in (("cold", TARGET_COLD), ("warm", TARGET_WARM)):
        runs: list[Run] = getattr(figures, what)
        wall, cpu = median([r.wall for r in runs]), median([r.cpu for r in runs])
        rss = max(r.max_rss_mb for r in runs)
        met = wall / base <= target and rss < TARGET_RSS_MB
        ok = ok and met
        rows.append((what, wall, wall / base, target, cpu, cpu / base_cpu, rss, met))
    print(f"\nbaseline (read every member once): wall {base:.2f} s, cpu {base_cpu:.2f} s (median of {args.repeat})")
    print(f"{'scan':6} {'wall s':>7} {'ratio':>6} {'target':>6} {'cpu s':>6} {'cpu ratio':>9} {'peak MB':>8}  met")
    for what, wall, ratio, target, cpu, cpu_ratio, rss, met in rows:
        print(f"{what:6} {wall:7.2f} {ratio:6.2f} {target:6.2f} {cpu:6.2f} {cpu_ratio:9.2f} {rss:8.1f}  "
              f"{'yes' if met else 'NO'}")
    print(f"native components: {len(cold_found)} ({', '.join(f'{m} {n}' for m, n in methods.most_common())})")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    if args.json:
        runs = {what: [asdict(r) for r in getattr(figures, what)] for what in ("baseline", "cold", "warm")}
        args.json.write_text(json.dumps({"runs": runs, "rows": rows, "problems": problems}, indent=1) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
