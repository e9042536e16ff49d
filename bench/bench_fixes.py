"""What fix advice (``depscan/fixes.py``) costs against matching, on the real PyPA export.

Every (package, listed version) pair of an OSV PyPI export (default ``../shared/advisories/
osv-pypi-pysec-2024-10-10.zip``: 35,302 copies, about 141,000 findings) is matched against the offline
database built from it (the baseline, measured in the same run), then the fix advice is computed from the
findings alone (``fixes.compute``) and as a scan does it (``fixes.verified``: every recommended version
looked up in the database too). Prints CPU-time medians of ``--repeat`` runs and the ratios to matching,
and how many copies got a recommendation.

    python bench/bench_fixes.py --repeat 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

from packaging.utils import canonicalize_name  # noqa: E402

from depscan import fixes  # noqa: E402
from depscan.advisories.osv_db import OfflineDatabase, import_sources  # noqa: E402
from depscan.match import match  # noqa: E402
from depscan.models import ArtifactInfo, FixAdvice, Location, PythonDist, ScanResult  # noqa: E402

DEFAULT_EXPORT = BENCH_DIR.parent.parent / "shared" / "advisories" / "osv-pypi-pysec-2024-10-10.zip"


def _dist(name: str, version: str) -> PythonDist:
    return PythonDist(name=name, normalized_name=canonicalize_name(name), version=version,
                      purl=f"pkg:pypi/{name}@{version}", found_by="sbom",
                      metadata_location=Location(f"{name}-{version}.dist-info/METADATA"), metadata_sha256=None,
                      metadata_dir=f"{name}-{version}.dist-info", site_root="")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--export", type=Path, default=DEFAULT_EXPORT)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pairs = set()
    with zipfile.ZipFile(args.export) as zf:
        for name in zf.namelist():
            for affected in json.loads(zf.read(name)).get("affected", []):
                package = canonicalize_name(affected["package"]["name"])
                pairs.update((package, version) for version in affected.get("versions") or [])
    dists = [_dist(n, v) for n, v in sorted(pairs)]
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "osv.sqlite"
        import_sources(db, [args.export])
        backend = OfflineDatabase(db)
        times: dict[str, list[float]] = {"match": [], "compute": [], "verified": []}
        advice: tuple[FixAdvice, ...] = ()
        for _ in range(args.repeat):
            started = time.process_time()
            matched = match(dists, backend)
            times["match"].append(time.process_time() - started)
            result = ScanResult(artifact=ArtifactInfo("bench", "sbom", None), components=tuple(dists), unknowns=(),
                                findings=tuple(matched.findings), advisory_data=matched.data)
            started = time.process_time()
            advice = fixes.compute(result)
            times["compute"].append(time.process_time() - started)
            started = time.process_time()
            advice = fixes.verified(result, backend)
            times["verified"].append(time.process_time() - started)
        backend.close()
    base = statistics.median(times["match"])
    print(f"{len(dists)} copies, {len(matched.findings)} findings, {len(advice)} vulnerable copies, "
          f"{sum(1 for a in advice if a.recommended)} with a recommendation")
    for what, values in times.items():
        median = statistics.median(values)
        print(f"{what:9} {median:7.2f} s CPU (median of {len(values)})  x{median / base:.2f} of matching")


if __name__ == "__main__":
    main()
