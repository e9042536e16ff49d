"""Where an inventory scan's time goes, phase by phase (CPU and wall), in fresh processes.

Runs ``depscan scan ZIP --format json --output FILE --source skip`` exactly as the command line
does (``depscan.cli.main``), in ``--repeat`` fresh subprocesses, with timers wrapped around the
phases of a scan: the interpreter's start (up to this script's first line, ``site`` included),
the imports (every module a scan of this artifact loads, imported up front so that no later phase
pays for one: the list comes from an untimed first run), opening the outer archive, grafting
nested archives, each cataloger, the policy rules, the requirements check, the derived facts, the
JSON report, and what is left (option parsing, exit). Medians per phase.

    python bench/phases_inventory.py ZIP --repeat 7
    python bench/phases_inventory.py ZIP --imports     # the import phase split by module (-X importtime, min of runs)
    python bench/phases_inventory.py ZIP --floor       # and, alternately, start + imports + index + reads only

Run it with the interpreter of the venv depscan is installed in. It changes nothing in depscan:
the timers wrap functions from outside (module attributes), and the import list is only loaded
earlier than the scan would load it.
"""

from __future__ import annotations

import time

_START_CPU = time.process_time()  # the interpreter's start and site, up to here
_START_WALL = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

PRE_LOADED = frozenset(sys.modules)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


class _Clock:
    """Accumulated CPU and wall per phase; nested phases are charged to the innermost only."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)
        self.wall: dict[str, float] = defaultdict(float)
        self.stack: list[tuple[str, float, float]] = []

    def wrap(self, owner: Any, attr: str, phase: str) -> None:
        original = getattr(owner, attr)
        clock = self

        def timed(*args: Any, **kwargs: Any) -> Any:
            clock.push(phase)
            try:
                return original(*args, **kwargs)
            finally:
                clock.pop()

        setattr(owner, attr, timed)

    def push(self, phase: str) -> None:
        now_cpu, now_wall = time.process_time(), time.perf_counter()
        if self.stack:
            outer, cpu0, wall0 = self.stack[-1]
            self.cpu[outer] += now_cpu - cpu0
            self.wall[outer] += now_wall - wall0
        self.stack.append((phase, now_cpu, now_wall))

    def pop(self) -> None:
        now_cpu, now_wall = time.process_time(), time.perf_counter()
        phase, cpu0, wall0 = self.stack.pop()
        self.cpu[phase] += now_cpu - cpu0
        self.wall[phase] += now_wall - wall0
        if self.stack:
            outer, _c, _w = self.stack[-1]
            self.stack[-1] = (outer, now_cpu, now_wall)


def child(zip_path: str, report: str, modules: list[str]) -> dict[str, Any]:
    """One measured scan in this process (a fresh subprocess of ``main``)."""
    import contextlib
    import importlib

    clock = _Clock()
    clock.cpu["start (interpreter, site)"] = _START_CPU
    clock.push("imports")
    for name in modules:
        with contextlib.suppress(Exception):  # a module that only imports in context: the scan loads it
            importlib.import_module(name)
    clock.pop()
    from depscan import finish, scan
    from depscan.artifacts import detect
    from depscan.catalogers import native, os_packages, python_dists, vendored, wheel_sboms
    from depscan.cli import main

    clock.wrap(detect, "_open_kind", "open outer archive")
    clock.wrap(detect, "expand_nested", "nested archives")
    for module, cls in ((python_dists, "PythonDistCataloger"), (os_packages, "OsPackageCataloger"),
                        (vendored, "VendoredCodeCataloger"), (native, "NativeLibCataloger"),
                        (wheel_sboms, "WheelSbomCataloger")):
        klass = getattr(module, cls)
        clock.wrap(klass, "catalog", f"cataloger {cls}")
        if hasattr(klass, "prefetch"):
            clock.wrap(klass, "prefetch", f"cataloger {cls}")
    for attr in ("attribute_os_packages", "mark_vendored_dists", "attribute_natives"):
        clock.wrap(scan, attr, "attribution")
    import depscan.native.policy as native_policy
    import depscan.requirements_check as requirements_check

    clock.wrap(native_policy, "check", "policy rules (native.policy.check)")
    clock.wrap(requirements_check, "check", "requirements check")
    import depscan.facts as facts
    import depscan.reporters.json_ as json_reporter

    clock.wrap(facts, "facts_for", "facts (facts_for)")
    clock.wrap(json_reporter, "facts_for", "facts (facts_for)")
    clock.wrap(finish, "render_reports", "JSON report")
    clock.wrap(finish, "write_reports", "JSON report")
    sys.argv = ["depscan", "scan", zip_path, "--format", "json", "--output", report, "--source", "skip"]
    clock.push("rest (options, summary, exit)")
    stderr = sys.stderr
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115
    try:
        main()
    except SystemExit:
        pass
    finally:
        sys.stderr.close()
        sys.stderr = stderr
    clock.pop()
    return {"cpu": dict(clock.cpu), "wall": dict(clock.wall), "total_cpu": time.process_time(),
            "total_wall": time.perf_counter() - _START_WALL}


def read_log(zip_path: str, report: str) -> list[list[object]]:
    """What a scan reads of the artifact once it is indexed: ``[path, n]`` for ``read_prefix(path, n)``,
    ``[path, None]`` for a whole read (an untimed run with the view's two read methods wrapped; the reads
    of nested archives while the artifact is opened belong to the index)."""
    code = (
        "import json, sys\n"
        "from depscan.artifacts.view import ArtifactView\n"
        "log = []\n"
        "target = sys.argv[1]\n"
        "read, prefix = ArtifactView.read, ArtifactView.read_prefix\n"
        "def logged_read(self, path, max_bytes=None):\n"
        "    log.append((path, None)) if self.name == target else None\n"
        "    return read(self, path, max_bytes)\n"
        "def logged_prefix(self, path, n):\n"
        "    log.append((path, n)) if self.name == target else None\n"
        "    return prefix(self, path, n)\n"
        "ArtifactView.read, ArtifactView.read_prefix = logged_read, logged_prefix\n"
        "import depscan.scan\n"
        "opener = depscan.scan.open_artifact\n"
        "def opened(*args, **kwargs):\n"  # what the index reads (nested archives) is the index's
        "    view = opener(*args, **kwargs)\n"
        "    log.clear()\n"
        "    return view\n"
        "depscan.scan.open_artifact = opened\n"
        "from depscan.cli import main\n"
        f"sys.argv = ['depscan', 'scan', {zip_path!r}, '--format', 'json', '--output', {report!r}, "
        "'--source', 'skip']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(log))"
    )
    out = subprocess.run([sys.executable, "-c", code, zip_path], capture_output=True, text=True, env=_env(),
                         check=True)
    log: list[list[object]] = json.loads(out.stdout.splitlines()[-1])
    return log


def floor_child(zip_path: str, modules: list[str], reads: list[list[object]]) -> dict[str, Any]:
    """What no inventory of this artifact avoids with depscan's design: the interpreter, the imports, the
    artifact indexed (nested archives grafted) and the members a scan reads, read (no parsing, no report)."""
    import contextlib
    import importlib

    clock = _Clock()
    clock.cpu["start (interpreter, site)"] = _START_CPU
    clock.push("imports")
    for name in modules:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    clock.pop()
    from depscan.artifacts.detect import open_artifact
    from depscan.artifacts.view import OpenContext
    from depscan.errors import MemberError
    from depscan.scan import default_catalogers

    catalogers = default_catalogers()
    ctx = OpenContext(wants=lambda path: any(c.wants(path) for c in catalogers))
    clock.push("index (outer archive and nested ones)")
    with open_artifact(zip_path, ctx) as view:
        clock.pop()
        clock.push(f"the {len(reads)} reads a scan makes")
        for path, n in reads:
            with contextlib.suppress(MemberError):
                view.read(str(path)) if n is None else view.read_prefix(str(path), int(str(n)))
        clock.pop()
    return {"cpu": dict(clock.cpu), "wall": dict(clock.wall), "total_cpu": time.process_time(),
            "total_wall": time.perf_counter() - _START_WALL}


def scan_modules(zip_path: str, report: str) -> list[str]:
    """The modules a scan of ``zip_path`` loads, in the order it loads them (an untimed run)."""
    code = (
        "import sys; before = set(sys.modules); from depscan.cli import main; "
        f"sys.argv = ['depscan', 'scan', {zip_path!r}, '--format', 'json', '--output', {report!r}, "
        "'--source', 'skip']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('\\n'.join(m for m in sys.modules if m not in before))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), check=True)
    return out.stdout.split()


def import_table(zip_path: str, report: str, repeat: int) -> None:
    """``-X importtime`` of the real command, min per module over ``repeat`` runs, heaviest first."""
    own: dict[str, list[int]] = defaultdict(list)
    cumulative: dict[str, list[int]] = defaultdict(list)
    for _ in range(repeat):
        done = subprocess.run([sys.executable, "-X", "importtime", "-m", "depscan", "scan", zip_path, "--format",
                               "json", "--output", report, "--source", "skip"], capture_output=True, text=True,
                              env=_env(), check=False)
        for line in done.stderr.splitlines():
            m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|\s*(\S+)", line)
            if m:
                own[m[3]].append(int(m[1]))
                cumulative[m[3]].append(int(m[2]))
    total = sum(min(v) for v in own.values())
    print(f"{len(own)} modules, own time summed (min of {repeat} runs each): {total / 1000:.1f} ms")
    print(f"{'own ms':>7} {'cum ms':>7}  module")
    for name in sorted(own, key=lambda n: -min(own[n]))[:40]:
        print(f"{min(own[name]) / 1000:7.1f} {min(cumulative[name]) / 1000:7.1f}  {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("zip")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--imports", action="store_true", help="the import phase by module instead")
    parser.add_argument("--floor", action="store_true",
                        help="also the floor, alternately with the scan: start, imports, index and the scan's "
                        "reads, nothing else")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--floor-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    zip_path = str(Path(args.zip).resolve())
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "report.json")
        if args.child is not None:
            print(json.dumps(child(zip_path, report, json.loads(args.child))))
            return 0
        if args.floor_child is not None:
            modules, reads = json.loads(Path(args.floor_child).read_text())
            print(json.dumps(floor_child(zip_path, modules, reads)))
            return 0
        if args.imports:
            import_table(zip_path, report, args.repeat)
            return 0
        modules = [m for m in scan_modules(zip_path, report) if m not in PRE_LOADED]
        commands = {"scan": [sys.executable, __file__, zip_path, "--child", json.dumps(modules)]}
        if args.floor:  # alternately with the scan's own phases, for figures of the same load
            plan = os.path.join(tmp, "floor.json")
            Path(plan).write_text(json.dumps([modules, read_log(zip_path, report)]))
            commands["floor"] = [sys.executable, __file__, zip_path, "--floor-child", plan]
            commands["baseline"] = [sys.executable, "-c", BASELINE, zip_path]
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in commands}
        process_cpu: dict[str, list[float]] = {name: [] for name in commands}
        for number in range(args.repeat + 1):  # the first round writes bytecode caches, untimed
            for name, command in commands.items():
                out, cpu = _run(command)
                if number:
                    process_cpu[name].append(cpu)
                    if name != "baseline":
                        runs[name].append(json.loads(out.splitlines()[-1]))
    print(f"{args.repeat} fresh processes each, medians (load average {os.getloadavg()[0]:.1f})")
    for name, measured in runs.items():
        if not measured:
            continue  # the baseline: its process CPU below
        print(f"{'phase (' + name + ')':44} {'CPU ms':>8} {'wall ms':>8}")
        for phase in measured[0]["cpu"]:
            cpu = statistics.median(r["cpu"].get(phase, 0.0) for r in measured) * 1000
            wall = statistics.median(r["wall"].get(phase, r["cpu"].get(phase, 0.0)) for r in measured) * 1000
            print(f"{phase:44} {cpu:8.1f} {wall:8.1f}")
        print(f"{'whole process (to the end of main)':44} "
              f"{statistics.median(r['total_cpu'] for r in measured) * 1000:8.1f} "
              f"{statistics.median(r['total_wall'] for r in measured) * 1000:8.1f}")
    if "baseline" in process_cpu:  # the whole processes' CPU (wait4: exit included), against the baseline's
        base = statistics.median(process_cpu["baseline"])
        for name, values in process_cpu.items():
            print(f"process CPU, {name:35} {statistics.median(values) * 1000:8.1f} ms  "
                  f"{statistics.median(values) / base:.3f} of the baseline")
    return 0


# bench_inventory.py's baseline: a fresh interpreter reads every member of the zip once.
BASELINE = """\
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as zf:
    for name in zf.namelist():
        zf.read(name)
"""


def _run(command: list[str]) -> tuple[str, float]:
    """Run ``command``; its standard output and its CPU time (user + system, from ``os.wait4``)."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_env(), text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{' '.join(command[:3])} ... exited {proc.returncode}")
    return out, usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    sys.exit(main())
