"""``depscan rescan`` at scale: a CycloneDX SBOM of every version the PyPA advisory export names.

    python bench/bench_rescan.py                      # ../shared/advisories/osv-pypi-pysec-2024-10-10.zip
    python bench/bench_rescan.py --export ZIP --repeat 3 --workdir /tmp/rescan --json /tmp/rescan.json
    python bench/bench_rescan.py --distinct           # each (name, version) once: about 37,600 components
    python bench/bench_rescan.py --workdir /tmp/rescan --stages   # the fix advice's stages, CPU in-process

The SBOM (CycloneDX 1.6 JSON) is built without the network from the export: for every PyPI
package of every record, one component per version in the record's ``versions`` list and per range
event value (``introduced``/``fixed``/``last_affected``/``limit`` of ECOSYSTEM and SEMVER ranges;
``"0"`` and GIT commit hashes left out). A version several records name is several copies of the
distribution, each in its own site root (``site-<record id>/``), as a large image with many
virtual environments lists them: 145,939 components from the 2024-10-10 export (the issue's SBOM
had 142,477), every one looked up, about 488,000 findings.

Measured, each a whole subprocess (interpreter start-up included), wall time and peak RSS
(``os.wait4``), best of ``--repeat`` after one untimed warm-up that also builds the export's cached
index (so no timed run pays the import):

* baseline: ``python -c`` that ``json.loads`` the SBOM and every record of the export (the least a
  rescan must read);
* ``depscan rescan SBOM --advisories ZIP -f json -o json=FILE``: the JSON report;
* ``depscan rescan SBOM --advisories ZIP`` with stdout to a file: the table (the default output).

Targets (the issue's): each rescan under 20 s and under 1 GB peak RSS; in the JSON report each
advisory is written once (``advisories``) and findings cite it by id. Exit status: 0 when every
target is met, 1 when one is missed, 2 when the benchmark could not run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

DEFAULT_EXPORT = Path(__file__).resolve().parents[2] / "shared" / "advisories" / "osv-pypi-pysec-2024-10-10.zip"
TARGET_SECONDS = 20.0
TARGET_RSS = 1024 * 1024 * 1024
RECIPE = "3"  # bump when the SBOM's shape changes (the cached SBOM is rebuilt)


def _canonical(name: str) -> str:
    from packaging.utils import canonicalize_name

    return canonicalize_name(name)


def export_versions(export: Path) -> set[tuple[str, str]]:
    """(PEP 503 name, version): every version a PyPI record lists or uses as an ECOSYSTEM/SEMVER
    range bound (``"0"`` and GIT commit hashes left out)."""
    out: set[tuple[str, str]] = set()
    with zipfile.ZipFile(export) as zf:
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            if not info.filename.endswith(".json"):
                continue
            record = json.loads(zf.read(info))
            for affected in record.get("affected") or []:
                package = affected.get("package") or {}
                if package.get("ecosystem") != "PyPI" or not package.get("name"):
                    continue
                versions = {v for v in affected.get("versions") or [] if isinstance(v, str) and v}
                for rng in affected.get("ranges") or []:
                    if rng.get("type") == "GIT":
                        continue
                    for event in rng.get("events") or []:
                        versions.update(v for v in event.values() if isinstance(v, str) and v and v != "0")
                name = _canonical(package["name"])
                out.update((name, version) for version in versions)
    return out


def build_sbom(path: Path, versions: set[tuple[str, str]], copies: int) -> int:
    """Write the CycloneDX 1.6 JSON SBOM, every (name, version) in ``copies`` site roots
    (``venv-<n>/``, as an image with several virtual environments lists them); returns the number
    of components."""
    from packageurl import PackageURL

    components: list[dict[str, Any]] = []
    ordered = sorted(versions)
    for number, (name, version, root) in enumerate(
        (name, version, f"venv-{copy}") for copy in range(copies) for name, version in ordered
    ):
        purl = PackageURL(type="pypi", name=name, version=version).to_string()
        components.append({
            "bom-ref": f"{purl}?package-id={number:016x}",
            "type": "library",
            "name": name,
            "version": version,
            "purl": purl,
            "evidence": {"occurrences": [{"location": f"{root}/{name}-{version}.dist-info/METADATA"}]},
        })
    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {"component": {"type": "application", "name": "every-release", "bom-ref": "root"}},
        "components": components,
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, path)
    return len(components)


def timed(cmd: list[str], cwd: Path, env: dict[str, str], stdout: Path | None = None) -> tuple[float, float, int, int]:
    """Run ``cmd``; (wall seconds, CPU seconds, peak RSS bytes, exit code)."""
    with open(stdout or os.devnull, "wb") as out, open(cwd / "stderr.txt", "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, proc.returncode


STAGES = """
import sys, time
from dataclasses import replace
from pathlib import Path
from depscan import finish, fixes, scan
from depscan.config import AdvisorySettings
from depscan.gc_pause import paused_gc
from depscan.reporters import json_
sbom, export, cache = sys.argv[1:4]
took = {}
verified = fixes.verified
def timed(*args, **kwargs):
    started = time.process_time()
    out = verified(*args, **kwargs)
    took["fixes.verified"] = time.process_time() - started
    return out
fixes.verified = timed
result = scan.rescan(sbom, AdvisorySettings(export=Path(export), cache_dir=Path(cache)))
with paused_gc():
    for label, r in (("JSON report", result), ("JSON report without fixes", replace(result, fixes=()))):
        best = []
        for _ in range(2):
            started = time.process_time()
            for _piece in json_.stream(r):
                pass
            best.append(time.process_time() - started)
        took[label] = min(best)
    started = time.process_time()
    finish.fix_plan(result, [("json", "out.json")], None)
    took["finish.fix_plan"] = time.process_time() - started
took["JSON fixes list"] = took["JSON report"] - took["JSON report without fixes"]
took["fix advice in all"] = took["fixes.verified"] + took["JSON fixes list"] + took["finish.fix_plan"]
print(fixes.__file__)
for label, seconds in took.items():
    print(f"{label:<26} {seconds:6.2f} s CPU")
"""

BASELINE = """
import json, sys, zipfile
json.loads(open(sys.argv[1], 'rb').read())
with zipfile.ZipFile(sys.argv[2]) as zf:
    for info in zf.infolist():
        if info.filename.endswith('.json'):
            json.loads(zf.read(info))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--export", type=Path, default=DEFAULT_EXPORT)
    parser.add_argument("--workdir", type=Path, default=None, help="SBOM and index cache (default: a temp dir)")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs of each (best wall time, highest RSS)")
    parser.add_argument("--copies", type=int, default=4, help="site roots holding every version (default 4)")
    parser.add_argument("--json", type=Path, default=None, help="write every figure here")
    parser.add_argument("--stages", action="store_true",
                        help="only the fix advice's stages, in one process (CPU of fixes.verified, the JSON fixes "
                             "list, the stderr plan)")
    args = parser.parse_args()
    if not args.export.is_file():
        print(f"{args.export}: no such advisory export", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        workdir = (args.workdir or Path(scratch)).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(args.export.read_bytes()).hexdigest()[:16]
        sbom = workdir / f"rescan-{args.copies}-{digest}-r{RECIPE}.cdx.json"
        if not sbom.is_file():
            started = time.perf_counter()
            count = build_sbom(sbom, export_versions(args.export), args.copies)
            print(f"built {sbom.name}: {count} components in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        components = len(json.loads(sbom.read_bytes())["components"])
        env = dict(os.environ, XDG_CACHE_HOME=str(workdir / "cache"))
        env.pop("DEPSCAN_DB", None)
        if args.stages:
            (workdir / "cache").mkdir(exist_ok=True)
            return subprocess.call([sys.executable, "-c", STAGES, str(sbom), str(args.export.resolve()),
                                    str(workdir / "cache" / "depscan")], cwd=workdir, env=env)
        report = workdir / "out.json"
        table = workdir / "table.txt"
        export = str(args.export.resolve())
        runs: dict[str, list[str]] = {
            "baseline": [sys.executable, "-c", BASELINE, str(sbom), export],
            "rescan json": [sys.executable, "-m", "depscan", "rescan", str(sbom), "--advisories", export,
                            "-f", "json", "-o", f"json={report}"],
            "rescan table": [sys.executable, "-m", "depscan", "rescan", str(sbom), "--advisories", export],
        }
        figures: dict[str, dict[str, float]] = {}
        for label, cmd in runs.items():
            stdout = table if label == "rescan table" else None
            wall, cpu, rss, code = timed(cmd, workdir, env, stdout)  # warm-up (builds the export's index once)
            if code not in (0, 1):
                print(f"{label}: exit {code}: {(workdir / 'stderr.txt').read_text()[-2000:]}", file=sys.stderr)
                return 2
            runs_of: list[tuple[float, float, int]] = []
            for _ in range(max(args.repeat, 1)):
                wall, cpu, rss, code = timed(cmd, workdir, env, stdout)
                runs_of.append((wall, cpu, rss))
            figures[label] = {"seconds": min(r[0] for r in runs_of), "cpu_seconds": min(r[1] for r in runs_of),
                              "peak_rss": max(r[2] for r in runs_of)}
        doc = json.loads(report.read_bytes())
        findings = doc["vulnerabilities"]
        advisories = doc["advisories"]
        cited = {ident for f in findings for ident in f["advisories"]}
        once = all(isinstance(i, str) for f in findings for i in f["advisories"]) and cited == set(advisories)
        figures["rescan json"]["output_bytes"] = report.stat().st_size
        figures["rescan table"]["output_bytes"] = table.stat().st_size
        base = figures["baseline"]["seconds"]
        print(f"{components} components, {len(findings)} findings, {len(advisories)} advisories cited, "
              f"SBOM {sbom.stat().st_size / 1e6:.1f} MB")
        failed = False
        print(f"{'run':<14} {'wall s':>8} {'ratio':>7} {'CPU s':>7} {'peak RSS MB':>12} {'output MB':>10}  target")
        for label, fig in figures.items():
            ok = label == "baseline" or (fig["seconds"] < TARGET_SECONDS and fig["peak_rss"] < TARGET_RSS)
            failed |= not ok
            out = f"{fig['output_bytes'] / 1e6:10.1f}" if "output_bytes" in fig else f"{'':>10}"
            verdict = "" if label == "baseline" else ("PASS" if ok else "FAIL") + " (wall < 20 s, < 1024 MB)"
            print(f"{label:<14} {fig['seconds']:8.2f} {fig['seconds'] / base:6.2f}x {fig['cpu_seconds']:7.2f}"
                  f" {fig['peak_rss'] / 2**20:12.0f} {out}  {verdict}")
        print(f"each advisory written once, findings cite ids: {'PASS' if once else 'FAIL'}")
        failed |= not once
        if args.json:
            args.json.write_text(json.dumps({"components": components, "findings": len(findings),
                                             "advisories": len(advisories), "runs": figures}, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
