"""Benchmark: what writing a CycloneDX SBOM costs next to the scan it describes.

    python bench/bench_reports.py [--components 500] [--scale 2000] [--repeat 5] [--export ZIP]

What it builds (in a temporary directory, or ``--workdir``): a Lambda-style function zip of generated
installed distributions (``fixtures/builders.py``), named and versioned after real PyPI packages of the
OSV export (``--export``; default the shared PyPA export when present, else
``fixtures/advisories/pypi-subset.zip``), one in three at a version the export lists as affected (the
others at 1000.0), so the scan has real findings. About one distribution in four
ships a Python extension module and one in ten an auditwheel-grafted ``<pkg>.libs/lib*.so``, both listed
in its RECORD (nested components); one in twenty-five native libraries sits outside every distribution
(top-level). Distributions require 0-3 others (the dependency graph) and carry assorted licenses. Names
the export runs out of are topped up with ``bench-pkg-NNNN`` distributions (no findings).

What it measures, per size (``--components``, then each ``--scale``), interleaved in each of ``--repeat``
rounds, medians compared:

* scan: ``depscan.scan.run`` as ``depscan scan --format cyclonedx-json`` runs it (inventory, SHA-256 of
  the input, offline advisory matching against the export), in this process;
* render: ``render_json`` / ``render_xml`` of ``depscan.reporters.cyclonedx`` for CycloneDX 1.6 and 1.4 on
  that result (a fresh copy each time, so the shared result facts are derived inside the timing too).

The ratio is of wall-clock medians (the target); the ``cpu`` column is the same ratio of CPU-time medians
(``time.process_time``), steadier when other jobs share the cores.

Target: render / scan <= 0.5 for each format and version at every size. ``--library`` also times
``render_with_library`` (cyclonedx-python-lib serializing its own model of the same document, which is
what depscan wrote before), as a reference in the same run. Exit status 0 when met, 1 when
missed, 2 when the benchmark could not run. Each document is checked: every component of the scan is in
it (nested ones included) and every finding's advisory group is a vulnerability.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # fixtures.builders

from cyclonedx.schema import OutputFormat  # noqa: E402

from depscan.config import AdvisorySettings, ScanConfig  # noqa: E402
from depscan.models import ScanResult  # noqa: E402
from depscan.reporters import ReportOptions  # noqa: E402
from depscan.reporters.cyclonedx import render_json, render_with_library, render_xml  # noqa: E402
from depscan.scan import run  # noqa: E402
from fixtures.builders import dist as make_dist  # noqa: E402
from fixtures.builders import elf_header  # noqa: E402

SHARED_EXPORT = REPO_ROOT.parent / "shared" / "advisories" / "osv-pypi-pysec-2024-10-10.zip"
FIXTURE_EXPORT = REPO_ROOT / "fixtures" / "advisories" / "pypi-subset.zip"
TARGET = 0.5
VERSIONS = ("1.6", "1.4")
# (License, License-Expression): an SPDX id, an expression, two statements that are no SPDX expression, none
LICENSES: tuple[tuple[str | None, str | None], ...] = (
    ("MIT", None), (None, "Apache-2.0 OR BSD-3-Clause"), ("Apache 2.0", None), ("BSD", None), (None, None),
)


def _pairs(export: Path) -> list[tuple[str, str]]:
    """(name, version) of real PyPI packages, one version each, taken from each record's ``versions``."""
    seen: dict[str, str] = {}
    with zipfile.ZipFile(export) as zf:
        for member in sorted(zf.namelist()):
            if not member.endswith(".json"):
                continue
            record = json.loads(zf.read(member))
            for affected in record.get("affected", []):
                package = affected.get("package", {})
                versions = affected.get("versions") or []
                name = package.get("name", "")
                if package.get("ecosystem") == "PyPI" and versions and name.lower() not in seen:
                    seen[name.lower()] = f"{name}\0{versions[len(versions) // 2]}"
    return [(v.split("\0")[0], v.split("\0")[1]) for v in seen.values()]


def build_zip(path: Path, components: int, pairs: list[tuple[str, str]]) -> tuple[int, int]:
    """A function zip with about ``components`` components; returns (distributions, native libraries)."""
    files: dict[str, bytes] = {}
    names: list[str] = []
    natives = 0
    i = 0
    while len(names) + natives < components:
        name, version = pairs[i] if i < len(pairs) else (f"bench-pkg-{i:04d}", "1.0.0")
        if i % 3:  # two in three past every fix: about one finding per component in all
            version = "1000.0"
        folder = name.lower().replace("-", "_").replace(".", "_")
        modules = {f"{folder}/__init__.py": f'__version__ = "{version}"\n'.encode()}
        if i % 4 == 0:
            modules[f"{folder}/_speedups.cpython-311-x86_64-linux-gnu.so"] = elf_header(padding=name.encode())
            natives += 1
        if i % 10 == 0:
            modules[f"{folder}.libs/libz-{i:08x}.so.1.2.13"] = elf_header(padding=version.encode() + name.encode())
            natives += 1
        requires = tuple(names[(i * 7 + k * 13) % len(names)] for k in range(i % 4)) if names else ()
        license, expression = LICENSES[i % len(LICENSES)]
        files |= make_dist(name, version, requires=tuple(dict.fromkeys(requires)), summary=f"{name}, for a benchmark",
                           modules=modules, license=license, license_expression=expression)
        names.append(name)
        if i % 25 == 0 and len(names) + natives < components:
            files[f"lib/libvendored{i}.so.{i % 7}"] = elf_header(padding=str(i).encode())
            natives += 1
        i += 1
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in files.items():
            zf.writestr(zipfile.ZipInfo(member, (2024, 1, 1, 0, 0, 0)), data)
    return len(names), natives


def _timed(func: Callable[[], Any]) -> tuple[float, float, Any]:
    """Wall and CPU seconds of ``func()``, and its value."""
    start, cpu = time.perf_counter(), time.process_time()
    value = func()
    return time.perf_counter() - start, time.process_time() - cpu, value


def check_json(data: bytes, result: ScanResult) -> str | None:
    doc = json.loads(data)
    found = 0
    stack = list(doc.get("components", []))
    while stack:
        component = stack.pop()
        found += 1
        stack.extend(component.get("components", []))
    return _check(found, {v["id"] for v in doc.get("vulnerabilities", [])}, result)


def check_xml(data: bytes, result: ScanResult) -> str | None:
    root = ET.fromstring(data)
    ns = root.tag.split("}")[0] + "}"
    top = root.find(f"{ns}components")
    found = 0 if top is None else len(top.findall(f".//{ns}component"))
    vulns = root.find(f"{ns}vulnerabilities")
    ids = set() if vulns is None else {v.findtext(f"{ns}id") for v in vulns.findall(f"{ns}vulnerability")}
    return _check(found, ids, result)


def _check(found: int, vuln_ids: set[Any], result: ScanResult) -> str | None:
    expected = len(result.components)  # every type: distributions, ELF files, identified libraries, OS packages
    if found != expected:
        return f"{found} components in the document, {expected} in the scan"
    missing = {f.id for f in result.findings} - vuln_ids
    if missing:
        return f"{len(missing)} advisory group(s) of the findings are not in the document"
    return None


def bench_size(work: Path, export: Path, components: int, pairs: list[tuple[str, str]], repeat: int,
               library: bool) -> dict[str, Any]:
    artifact = work / f"function-{components}.zip"
    dists, natives = build_zip(artifact, components, pairs)
    settings = AdvisorySettings(mode="offline", export=export, cache_dir=work / "cache", max_age_days=10**6)
    config = ScanConfig(path=str(artifact), hash_artifact=True, advisories=settings)
    renders: dict[str, Callable[[ScanResult], bytes]] = {}
    for version in VERSIONS:
        options = ReportOptions(cyclonedx_version=version)
        renders[f"json {version}"] = lambda r, o=options: render_json(r, o)  # type: ignore[misc]
        renders[f"xml {version}"] = lambda r, o=options: render_xml(r, o)  # type: ignore[misc]
    if library:  # the same documents serialized by cyclonedx-python-lib from its model (what depscan did before)
        for version in VERSIONS:
            options = ReportOptions(cyclonedx_version=version)
            for fmt, output_format in (("json", OutputFormat.JSON), ("xml", OutputFormat.XML)):
                renders[f"{fmt} {version} lib"] = (
                    lambda r, o=options, f=output_format: render_with_library(r, o, f)[0])  # type: ignore[misc]
    result = run(config)  # warm-up: builds the advisory database cache, imports everything
    for render in renders.values():
        render(dataclasses.replace(result))
    scans: list[float] = []
    scan_cpu: list[float] = []
    cpu: dict[str, list[float]] = {key: [] for key in renders}
    times: dict[str, list[float]] = {key: [] for key in renders}
    sizes: dict[str, int] = {}
    for _ in range(repeat):
        seconds, cpu_seconds, result = _timed(lambda: run(config))
        scans.append(seconds)
        scan_cpu.append(cpu_seconds)
        for key, render in renders.items():
            copy = dataclasses.replace(result)  # not the object facts_for cached: facts derived inside the timing
            seconds, cpu_seconds, data = _timed(lambda r=copy, f=render: f(r))  # type: ignore[misc]
            times[key].append(seconds)
            cpu[key].append(cpu_seconds)
            sizes[key] = len(data)
            problem = (check_json if key.startswith("json") else check_xml)(data, result)
            if problem is not None:
                raise SystemExit(f"{key}: {problem}")
    scan = statistics.median(scans)
    return {
        "components": dists + natives, "distributions": dists, "native_libraries": natives,
        "findings": len(result.findings), "vulnerabilities": len({f.id for f in result.findings}),
        "scan_seconds": scan, "scan_runs": scans, "scan_cpu_seconds": statistics.median(scan_cpu),
        "render": {key: {"seconds": statistics.median(v), "ratio": statistics.median(v) / scan, "runs": v,
                         "cpu_ratio": statistics.median(cpu[key]) / statistics.median(scan_cpu),
                         "bytes": sizes[key]} for key, v in times.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--components", type=int, default=500, help="components of the main size (default 500)")
    parser.add_argument("--scale", type=int, action="append", default=[],
                        help="another size to measure (repeat; e.g. --scale 2000)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--export", type=Path, default=SHARED_EXPORT if SHARED_EXPORT.is_file() else FIXTURE_EXPORT)
    parser.add_argument("--workdir", type=Path, default=None, help="where the zips go (default: a temporary dir)")
    parser.add_argument("--json", type=Path, default=None, help="write every run and figure here")
    parser.add_argument("--library", action="store_true",
                        help="also time cyclonedx-python-lib serializing its model of the same document (reference)")
    args = parser.parse_args(argv)
    if not args.export.is_file():
        print(f"{args.export}: no such OSV export zip", file=sys.stderr)
        return 2
    pairs = _pairs(args.export)
    figures = []
    with tempfile.TemporaryDirectory(prefix="depscan-bench-reports-") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for size in [args.components, *args.scale]:
            figures.append(bench_size(work, args.export, size, pairs, args.repeat, args.library))
    print(f"export: {args.export}; medians of {args.repeat} rounds; target render/scan <= {TARGET}")
    print(f"{'components':>10} {'dists':>6} {'native':>6} {'findings':>8} {'scan s':>7}  {'output':<13} "
          f"{'render s':>8} {'ratio':>6} {'cpu':>6} {'MB':>6}  verdict")
    ok = True
    for fig in figures:
        for key, render in fig["render"].items():
            passed = render["ratio"] <= TARGET
            reference = key.endswith(" lib")
            ok &= passed or reference
            verdict = "reference" if reference else "PASS" if passed else "FAIL"
            print(f"{fig['components']:>10} {fig['distributions']:>6} {fig['native_libraries']:>6} "
                  f"{fig['findings']:>8} {fig['scan_seconds']:>7.3f}  {key:<13} {render['seconds']:>8.3f} "
                  f"{render['ratio']:>6.2f} {render['cpu_ratio']:>6.2f} {render['bytes'] / 1e6:>6.2f}  {verdict}")
    if args.json is not None:
        args.json.write_text(json.dumps({"export": str(args.export), "repeat": args.repeat, "sizes": figures},
                                        indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
