"""Benchmark: import of an OSV export into the offline database, and matching against it.

    python bench/bench_advisories.py [--export ../shared/advisories/osv-pypi-pysec-2024-10-10.zip] [--repeat 5]

What is measured (medians of --repeat runs, interleaved with their baselines, because machines
here are noisy):

1. ``import``: ``depscan.advisories.osv_db.import_sources`` on the export zip (parse every record,
   index it in SQLite, write the file atomically). Baseline: the least any importer must do, reading
   every member of the zip and ``json.loads`` it. Target: under 5 s absolute.
2. ``match``: 1,000 components (real package names from the export, each at a version from its
   own ``versions`` list or a version past every fix, so both hits and misses are exercised) run
   through ``depscan.match.match`` on the offline database: lookup, range evaluation, alias
   grouping, severity and fixes (each checked against every advisory of its finding), i.e. the
   findings a scan reports. Baseline: the brute force any
   scanner could do with the records already parsed in memory, every component against every
   record's ``affected`` entries. Target: under 0.2 s absolute. Measured cold: a fresh database
   connection and every version/range cache cleared, as in a CLI run.

Prints each figure, its ratio to its baseline, and PASS/FAIL against the targets; exits 1 on a FAIL.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from packaging.utils import canonicalize_name

from depscan.advisories.backend import PackageQuery
from depscan.advisories.osv_db import OfflineDatabase, import_sources
from depscan.advisories.osv_schema import cvss_score, parse_osv
from depscan.advisories.ranges import clear_caches, is_affected
from depscan.match import match
from depscan.models import Location, PythonDist

DEFAULT_EXPORT = Path(__file__).resolve().parents[2] / "shared" / "advisories" / "osv-pypi-pysec-2024-10-10.zip"


def _timed(func: Callable[[], object]) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def _queries(export: Path, count: int) -> list[PackageQuery]:
    queries: dict[PackageQuery, None] = {}  # distinct, in a stable order
    with zipfile.ZipFile(export) as zf:
        for name in sorted(zf.namelist()):
            record = json.loads(zf.read(name))
            for affected in record.get("affected", []):
                versions = affected.get("versions") or []
                package = canonicalize_name(affected["package"]["name"])
                if versions:
                    queries[PackageQuery("PyPI", package, versions[len(versions) // 2])] = None
                queries[PackageQuery("PyPI", package, "99999.0")] = None  # past every fix: a miss
            if len(queries) >= count:
                break
    return list(queries)[:count]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--export", type=Path, default=DEFAULT_EXPORT)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--components", type=int, default=1000)
    args = parser.parse_args()
    export: Path = args.export
    if not export.is_file():
        print(f"{export}: no such export zip", file=sys.stderr)
        return 2

    def baseline_import() -> None:
        with zipfile.ZipFile(export) as zf:
            for name in zf.namelist():
                json.loads(zf.read(name))

    work = Path(tempfile.mkdtemp(prefix="depscan-bench-"))
    import_times, import_base = [], []
    db = work / "osv.sqlite"
    for i in range(args.repeat):
        import_base.append(_timed(baseline_import))
        target = work / f"run{i}.sqlite"
        import_times.append(_timed(lambda t=target: import_sources(t, [export])))  # type: ignore[misc]
        target.replace(db)

    queries = _queries(export, args.components)
    with zipfile.ZipFile(export) as zf:
        parsed = [parse_osv(json.loads(zf.read(n)), n) for n in zf.namelist()]

    def brute_force() -> int:
        hits = 0
        for q in queries:
            for adv in parsed:
                if adv.withdrawn is None and any(
                    a.normalized_name == q.name and is_affected(q.version, a) for a in adv.affected
                ):
                    hits += 1
        return hits

    components = [
        PythonDist(
            name=q.name,
            normalized_name=canonicalize_name(q.name),
            version=q.version,
            purl=f"pkg:pypi/{q.name}@{q.version}",
            found_by="python-dist-info",
            metadata_location=Location(f"{q.name}-{q.version}.dist-info/METADATA"),
            metadata_sha256=None,
            metadata_dir=f"{q.name}-{q.version}.dist-info",
            site_root="",
        )
        for q in queries
    ]
    match_times, match_base = [], []
    hits = findings = 0
    for _ in range(args.repeat):
        match_base.append(_timed(brute_force))
        database = OfflineDatabase(db)  # a fresh connection: no warm parse cache
        clear_caches()  # cold, as in a CLI run: no version, range or CVSS vector parsed yet
        cvss_score.cache_clear()
        start = time.perf_counter()
        result = match(components, database)  # lookup, alias groups, severity, fixes: the findings
        match_times.append(time.perf_counter() - start)
        findings = len(result.findings)
        hits = sum(len(f.advisories) for f in result.findings)
        database.close()
    expected_hits = brute_force()

    imp, imp_b = statistics.median(import_times), statistics.median(import_base)
    mat, mat_b = statistics.median(match_times), statistics.median(match_base)
    records = OfflineDatabase(db).info().records
    ok_import, ok_match, ok_same = imp < 5.0, mat < 0.2, hits == expected_hits
    print(f"export: {export} ({export.stat().st_size} bytes, {records} records)")
    print(f"import: {imp:.3f} s  baseline read+json.loads {imp_b:.3f} s  ratio {imp / imp_b:.2f}x  "
          f"target < 5 s: {'PASS' if ok_import else 'FAIL'}")
    print(f"match {len(queries)} components: {mat:.4f} s  baseline brute force in memory {mat_b:.3f} s  "
          f"ratio {mat / mat_b:.3f}x  target < 0.2 s: {'PASS' if ok_match else 'FAIL'}")
    print(f"affected (component, advisory) pairs: {hits} (brute force: {expected_hits}) "
          f"{'SAME' if ok_same else 'DIFFERENT'}; {findings} findings after alias grouping")
    return 0 if ok_import and ok_match and ok_same else 1


if __name__ == "__main__":
    sys.exit(main())
