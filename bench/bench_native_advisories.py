"""Benchmark: matching OS packages and native libraries against the offline database.

    python bench/bench_native_advisories.py [--repeat 5]

The records are generated in the shapes of real ones (no network): 4,000 Debian records
(``Debian:11`` and ``Debian:12``, 800 source packages, ECOSYSTEM ranges with dpkg versions, as
DSA/DLA/DEBIAN-CVE records have them) and 1,500 GIT records on the repositories of
``native_repos.UPSTREAMS`` (a commit range plus a ``versions`` list of 150 release tags, as
osv.dev's CVE records have them; one in five with commit-only ranges and no tags).

What is measured (medians of --repeat runs, interleaved with the baseline):

``match``: 1,000 OS packages (``Debian:12``, binary + source queries) and 200 identified
native libraries through ``depscan.match.match`` on the offline database, cold (a fresh
connection, caches cleared). Baseline: the brute force with every record already parsed in
memory, every query against every record with the same evaluation (``native_match.evaluate``).
Target: ratio under 0.2 (the index must beat scanning everything by far), and the same
(component, record) pairs as the brute force. The absolute time is printed, not judged: on a
shared machine it varies twofold between runs while the ratio holds.

Prints each figure, its ratio to its baseline, and PASS/FAIL against the targets; exits 1 on a FAIL.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from depscan.advisories import git_tags
from depscan.advisories.git_tags import normalize_tag
from depscan.advisories.native_match import evaluate
from depscan.advisories.native_repos import UPSTREAMS, tag_spellings
from depscan.advisories.osv_db import OfflineDatabase, import_sources
from depscan.advisories.osv_schema import parse_osv
from depscan.advisories.ranges import clear_caches
from depscan.match import match, other_queries
from depscan.models import Evidence, Location, NativeComponent, OsPackage


def _debian_version(rng: random.Random, release: str) -> str:
    upstream = f"{rng.randint(1, 4)}.{rng.randint(0, 9)}.{rng.randint(0, 20)}"
    return f"{upstream}-{rng.randint(1, 5)}~deb{release}u{rng.randint(1, 4)}"


def _debian_records(rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for i in range(4000):
        source = f"src{i % 800}"
        release = rng.choice(("11", "12"))
        fixed = _debian_version(rng, release)
        out.append({
            "id": f"DEBIAN-CVE-2024-{i:05d}", "modified": "2024-06-01T00:00:00Z", "aliases": [f"CVE-2024-{i:05d}"],
            "affected": [{"package": {"ecosystem": f"Debian:{release}", "name": source},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]}],
        })
    return out


def _git_records(rng: random.Random) -> list[dict[str, Any]]:
    out = []
    libraries = sorted(UPSTREAMS)
    for i in range(1500):
        library = libraries[i % len(libraries)]
        releases = [f"{a}.{b}.{c}" for a in (1, 2, 3) for b in range(5) for c in range(10)]
        listed = rng.sample(releases, 150) if i % 5 else []
        out.append({
            "id": f"CVE-2023-{i:05d}", "modified": "2024-06-01T00:00:00Z",
            "affected": [{
                "ranges": [{"type": "GIT", "repo": UPSTREAMS[library].repos[0],
                            "events": [{"introduced": "0"}, {"fixed": f"{rng.getrandbits(160):040x}"}]}],
                "versions": [tag_spellings(library, v)[0] for v in listed],
            }],
        })
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(9)
    records = _debian_records(rng) + _git_records(rng)
    work = Path(tempfile.mkdtemp(prefix="depscan bench native "))
    (work / "records").mkdir()
    for rec in records:
        (work / "records" / f"{rec['id']}.json").write_text(json.dumps(rec))
    db = work / "osv.sqlite"
    started = time.perf_counter()
    import_sources(db, [work / "records"])
    import_seconds = time.perf_counter() - started
    parsed = [parse_osv(r, "bench") for r in records]

    components: list[NativeComponent | OsPackage] = []
    for i in range(1000):
        version = _debian_version(rng, "12")
        components.append(OsPackage(
            name=f"lib{i}", version=version, purl=f"pkg:deb/debian/lib{i}@{version}", package_manager="dpkg",
            location=Location("var/lib/dpkg/status"), ecosystem="Debian:12", source_name=f"src{i % 800}",
            source_version=version,
        ))
    libraries = sorted(UPSTREAMS)
    for i in range(200):
        library = libraries[i % len(libraries)]
        version = f"{rng.randint(1, 3)}.{rng.randint(0, 4)}.{rng.randint(0, 9)}"
        components.append(NativeComponent(
            name=library, version=version, purl=f"pkg:generic/{library}@{version}", cpe=None,
            location=Location(f"lib/{library}-{i}.so"), evidence=(Evidence("banner", "high", "bench"),),
        ))
    queries = {q for c in components for q in other_queries(c)[0]}

    def brute_force() -> int:
        """(component, record) pairs: every component's queries against every record."""
        hits = 0
        for c in components:
            wanted = other_queries(c)[0]
            hits += sum(1 for adv in parsed if any(evaluate(adv, q)[0] for q in wanted))
        return hits

    match_times, base_times = [], []
    findings = hits = 0
    for _ in range(args.repeat):
        clear_caches()
        git_tags.clear_caches()
        started = time.perf_counter()
        hits = brute_force()
        base_times.append(time.perf_counter() - started)
        clear_caches()
        git_tags.clear_caches()
        backend = OfflineDatabase(db)
        started = time.perf_counter()
        result = match(components, backend)
        match_times.append(time.perf_counter() - started)
        backend.close()
        findings = len(result.findings)
    matched, base = statistics.median(match_times), statistics.median(base_times)
    ratio = matched / base
    ok = ratio < 0.2 and findings == hits
    print(f"records: {len(records)} ({len(queries)} queries from {len(components)} components); "
          f"import {import_seconds:.3f} s")
    print(f"match {len(components)} components: {matched:.4f} s  baseline brute force in memory {base:.3f} s  "
          f"ratio {ratio:.3f}x  target ratio < 0.2: {'PASS' if ok else 'FAIL'}")
    same = "SAME" if findings == hits else "DIFFERENT"  # no aliases shared between records: one finding each
    print(f"findings: {findings}; affected (component, record) pairs by brute force: {hits} {same}; "
          f"not verifiable: {len(result.not_verifiable)}")
    assert normalize_tag("OpenSSL_1_1_1k") == "1.1.1k"
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
