"""Benchmark of the OS package cataloger: what it costs every scan, and what a real database costs.

It runs in every scan, over every entry of the view, so its cost on an artifact WITHOUT package
databases matters most. Measured in one run, best of ``--repeat`` rounds each:

* baseline: one bare pass over the view's entries (``for e in view.entries(): pass``);
* os-packages: ``OsPackageCataloger.catalog`` on the same view (no databases in it);
* native-libs: ``NativeLibCataloger.catalog`` on the same view, the neighbour for scale.

The view is ``fixtures/builders.many_entries_zip(--entries)`` (a Zip64 of tiny members). Then real
databases, each catalogued in a directory (best of ``--repeat``):

* this machine's dpkg database (when present): ``/var/lib/dpkg/status``, every
  ``/var/lib/dpkg/info/*.list`` and ``/etc/os-release``: packages, files listed, milliseconds;
* an rpm database: ``fixtures/ospkg/rpmdb.sqlite`` (real, written by rpm) with its two header
  rows copied ``--rpm-rows`` times in all (an Amazon Linux 2023 Lambda base image has about 110
  packages): rows, files, milliseconds;
* the Berkeley DB twin of that fixture (``fixtures/ospkg/rpm-Packages``), parsed;
* attribution (``depscan.ospkg.attribution.attribute``) against those packages of one native
  library per listed ``.so`` path of the dpkg database.

Target: os-packages / baseline <= 3.0 on the many-entry zip. Exit status 0 when met, 1 when not.

    python bench/bench_ospkg.py [--entries 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
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
from depscan.models import Component, Location, NativeLib, OsPackage
from depscan.ospkg.attribution import attribute
from depscan.ospkg.rpm import parse_rpmdb

RPMDB = Path(__file__).resolve().parent.parent / "fixtures" / "ospkg" / "rpmdb.sqlite"

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


def _lib(path: str) -> NativeLib:
    return NativeLib(
        name=path.rsplit("/", 1)[-1],
        kind="shared-library",
        version=None,
        location=Location(path),
        size=0,
        arch="x86_64",
        elf_class=64,
        endianness="little",
        elf_type="shared-object",
        purl=None,
    )


def rpm_database(work: Path, rows: int, repeat: int) -> tuple[int, int, float]:
    """The real fixture with its header rows copied to ``rows`` rows, catalogued: (packages, files, seconds)."""
    root = work / "rpm-root"
    target = root / "var/lib/rpm/rpmdb.sqlite"
    target.parent.mkdir(parents=True)
    shutil.copyfile(RPMDB, target)
    connection = sqlite3.connect(target)
    with connection:
        blobs = [blob for (blob,) in connection.execute("SELECT blob FROM Packages")]
        extra = [(blobs[i % len(blobs)],) for i in range(max(0, rows - len(blobs)))]
        connection.executemany("INSERT INTO Packages (blob) VALUES (?)", extra)
    connection.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, as an image layer holds it
    connection.close()
    (root / "etc").mkdir()
    (root / "etc/os-release").write_bytes(b'ID="amzn"\nVERSION_ID="2023"\n')
    with open_artifact(str(root), OpenContext(Limits())) as view:
        found = OsPackageCataloger().catalog(view)
        took = best(lambda: OsPackageCataloger().catalog(view), repeat)
    packages = [c for c in found.components if isinstance(c, OsPackage)]
    assert not found.unknowns, found.unknowns
    return len(packages), sum(len(p.files) for p in packages), took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rpm-rows", type=int, default=110)
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
            (root / "var/lib/dpkg/info").mkdir(parents=True)
            (root / "etc").mkdir()
            shutil.copyfile(status, root / "var/lib/dpkg/status")
            for listed in Path("/var/lib/dpkg/info").glob("*.list"):
                shutil.copyfile(listed, root / "var/lib/dpkg/info" / listed.name)
            if Path("/etc/os-release").is_file():
                shutil.copyfile("/etc/os-release", root / "etc/os-release")
            with open_artifact(str(root), OpenContext(Limits())) as view:
                found = OsPackageCataloger().catalog(view)
                took = best(lambda: OsPackageCataloger().catalog(view), args.repeat)
            dpkg = [c for c in found.components if isinstance(c, OsPackage)]
            files = sum(len(p.files) for p in dpkg)
            print(
                f"this machine's dpkg database: {len(dpkg)} packages, {files:,} listed paths "
                f"in {took * 1000:.1f} ms ({len(found.unknowns)} unknowns)"
            )
            libs = [_lib(path) for p in dpkg for path in p.files if ".so" in path.rsplit("/", 1)[-1]]
            components: list[Component] = [*dpkg, *libs]
            took = best(lambda: attribute(components), args.repeat)
            owned = sum(1 for c in attribute(components) if isinstance(c, NativeLib) and c.os_package)
            print(f"  attribution: {len(libs):,} libraries ({owned:,} attributed) in {took * 1000:.1f} ms")
        rows, files, took = rpm_database(work, args.rpm_rows, args.repeat)
        print(f"rpm database ({args.rpm_rows} header rows): {rows} packages, {files:,} listed paths", end="")
        print(f" in {took * 1000:.1f} ms")
        bdb = RPMDB.with_name("rpm-Packages").read_bytes()
        took = best(lambda: parse_rpmdb(bdb, berkeley=True), args.repeat)
        print(f"rpm Berkeley DB fixture ({len(bdb):,} bytes, 2 packages): {took * 1000:.2f} ms")
        return 0 if ratio <= TARGET else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
