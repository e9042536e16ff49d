"""Benchmark of the OS package cataloger: what it costs every scan, and what a real database costs.

It runs in every scan, over every entry of the view, so its cost on an artifact WITHOUT package
databases matters most. Measured in one run, best of ``--repeat`` rounds each:

* baseline: one bare pass over the view's entries (``for e in view.entries(): pass``);
* os-packages: ``OsPackageCataloger.catalog`` on the same view (no databases in it);
* native-libs: ``NativeLibCataloger.catalog`` on the same view, the neighbour for scale.

The view is ``fixtures/builders.many_entries_zip(--entries)`` (a Zip64 of tiny members). Then a
real database: this machine's ``/var/lib/dpkg/status`` (when present) in a directory with its
``/etc/os-release``, catalogued, with packages per millisecond.

Target: os-packages / baseline <= 3.0 on the many-entry zip. Exit status 0 when met, 1 when not.

    python bench/bench_ospkg.py [--entries 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fixtures"))

from builders import many_entries_zip

from depscan.artifacts.detect import open_artifact
from depscan.artifacts.limits import Limits
from depscan.artifacts.view import ArtifactView, OpenContext
from depscan.catalogers.native import NativeLibCataloger
from depscan.catalogers.os_packages import OsPackageCataloger

TARGET = 3.0


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def bare_pass(view: ArtifactView) -> None:
    for _entry in view.entries():
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="depscan-bench-ospkg-"))
    try:
        archive = work / "many.zip"
        archive.write_bytes(many_entries_zip(args.entries))
        with open_artifact(str(archive), OpenContext(Limits())) as view:
            base = best(lambda: bare_pass(view), args.repeat)
            ours = best(lambda: OsPackageCataloger().catalog(view), args.repeat)
            native = best(lambda: NativeLibCataloger().catalog(view), args.repeat)
        ratio = ours / base
        print(f"{len(view):,} entries, no package database:")
        print(f"  baseline (bare pass)  {base * 1000:8.1f} ms")
        print(f"  os-packages           {ours * 1000:8.1f} ms  ratio {ratio:.2f} (target <= {TARGET})")
        print(f"  native-libs           {native * 1000:8.1f} ms  ratio {native / base:.2f}")
        status = Path("/var/lib/dpkg/status")
        if status.is_file():
            root = work / "root"
            (root / "var/lib/dpkg").mkdir(parents=True)
            (root / "etc").mkdir()
            shutil.copyfile(status, root / "var/lib/dpkg/status")
            if Path("/etc/os-release").is_file():
                shutil.copyfile("/etc/os-release", root / "etc/os-release")
            with open_artifact(str(root), OpenContext(Limits())) as view:
                found = OsPackageCataloger().catalog(view)
                took = best(lambda: OsPackageCataloger().catalog(view), args.repeat)
            size = status.stat().st_size
            packages = len(found.components)
            print(f"this machine's dpkg status ({size:,} bytes): {packages} packages in {took * 1000:.1f} ms")
        return 0 if ratio <= TARGET else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
