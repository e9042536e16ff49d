"""Time and peak memory of `depscan scan` against hostile OSV mirrors and damaged databases.

    python bench/hostile_osv.py                 # every case, with --osv-timeout 10
    python bench/hostile_osv.py --before        # the same cases without the options older depscan lacks
    python bench/hostile_osv.py trickle nested  # some cases

Each case runs `python -m depscan scan app.zip` in a subprocess (the interpreter running this
script; set PYTHONPATH to measure another tree) against the fake OSV server of
`tests/advisories/osv_server.py` on 127.0.0.1, or against a damaged `--db`, and prints the exit
code, wall time, peak RSS of depscan (`resource.getrusage`, measured by a small parent) and the
last stderr line. The server stops by itself after `--lifetime` seconds, so a client that never
gives up is cut off there; such a run's time says "ended when the server stopped". The honest
server is the baseline of the run.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "fixtures"))
sys.path.insert(0, str(REPO))

from builders import dist, write_zip  # noqa: E402

from tests.advisories.osv_server import FakeOSV  # noqa: E402

RECORD = {
    "id": "PYSEC-0000-1",
    "modified": "2024-01-01T00:00:00Z",
    "published": "2023-01-01T00:00:00Z",
    "details": "A flaw.",
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "demo"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}],
            "versions": ["1.0"],
        }
    ],
}

# name -> (batch behaviour, vuln behaviour) on the fake server
SERVER_CASES = {
    "honest": ("ok", "ok"),
    "trickle": ("ok", "trickle"),
    "slow-headers": ("ok", "slow-headers"),
    "silent": ("ok", "silent"),
    "silent-batch": ("silent", "ok"),
    "gzip-bomb": ("ok", "gzip-bomb"),
    "gzip-bomb-batch": ("gzip-bomb", "ok"),
    "huge": ("ok", "huge"),
    "foreign": ("ok", "foreign"),
    "nested": ("ok", "nested"),
    "nested-8mb-batch": ("nested", "ok"),  # 4 million nested arrays: the deepest answer under the cap
    "many-ids-batch": ("many", "ok"),  # 8 MiB of distinct ids: the costliest answer to parse under the cap
}
DB_CASES = ("db-truncated", "db-garbage", "db-wrong-schema", "db-directory")
# `db update` against the export endpoint: name -> (behaviour, bytes of the answer)
UPDATE_CASES = {
    "update-trickle": ("trickle", 0),
    "update-silent": ("silent", 0),
    "update-gzip-bomb": ("gzip-bomb", 1100 * 1024 * 1024),  # over the 1 GiB cap of an export
}


# Runs its arguments and writes their peak RSS (KiB) to the file named first. Linux carries a
# parent's peak RSS into a child across fork + exec, so depscan runs as the child of this small
# process rather than of the benchmark (which holds the fake server).
MEASURE = (
    "import resource, subprocess, sys; code = subprocess.run(sys.argv[2:]).returncode; "
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); sys.exit(code)"
)


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, float, float, str]:
    """Exit code, seconds, peak RSS in MiB, last stderr line."""
    peak = cwd / "peak.txt"
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", MEASURE, str(peak), *cmd], cwd=cwd, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds = time.monotonic() - started
    lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
    return done.returncode, seconds, int(peak.read_text()) / 1024, (lines[-1] if lines else "")


def damaged_db(kind: str, work: Path, good: Path) -> Path:
    if kind == "db-directory":
        path = work / "db-dir.sqlite"
        path.mkdir(exist_ok=True)
        return path
    path = work / f"{kind}.sqlite"
    data = good.read_bytes()
    if kind == "db-truncated":
        path.write_bytes(data[: len(data) // 2])
    elif kind == "db-garbage":
        path.write_bytes(data[:100] + os.urandom(len(data) - 100))
    else:  # wrong schema: a depscan meta table and nothing else
        path.unlink(missing_ok=True)
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            conn.execute("INSERT INTO meta VALUES ('schema_version', '5')")
        conn.close()
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    every = [*SERVER_CASES, *DB_CASES, *UPDATE_CASES]
    parser.add_argument("cases", nargs="*", help=f"cases (default all): {', '.join(every)}")
    parser.add_argument("--before", action="store_true", help="omit --osv-timeout / --timeout (older depscan)")
    parser.add_argument("--timeout", type=float, default=10.0, help="--osv-timeout (db update: --timeout) given")
    parser.add_argument("--lifetime", type=float, default=200.0, help="seconds before the fake server stops")
    parser.add_argument("--size", type=int, default=400 * 1024 * 1024, help="bytes of the huge / bomb answers")
    args = parser.parse_args()
    cases = args.cases or every
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy") and k != "DEPSCAN_DB"}
    env["NO_PROXY"] = "127.0.0.1"
    print(f"{'case':18} {'exit':>4} {'seconds':>8} {'peak MiB':>9}  last stderr line")
    with tempfile.TemporaryDirectory(prefix="depscan hostile ") as tmp:
        work = Path(tmp)
        app = write_zip(work / "app.zip", dist("demo", "1.0") | dist("six", "1.16.0"))
        base = [sys.executable, "-m", "depscan", "scan", str(app)]
        good = work / "good.sqlite"
        records = work / "records"
        records.mkdir()
        (records / "PYSEC-0000-1.json").write_text(json.dumps(RECORD))
        for n in range(2, 3000):  # enough pages that a cut in the middle leaves the schema readable
            other = dict(RECORD, id=f"PYSEC-0000-{n}", details="A flaw. " * 20)
            other["affected"] = [dict(RECORD["affected"][0], package={"ecosystem": "PyPI", "name": f"pkg-{n}"})]
            (records / f"PYSEC-0000-{n}.json").write_text(json.dumps(other))
        subprocess.run([sys.executable, "-m", "depscan", "db", "import", str(records), "--db", str(good)],
                       cwd=work, env=env, check=True, capture_output=True)
        for case in cases:
            case_env = dict(env, XDG_CACHE_HOME=str(work / f"cache-{case}"))
            if case in SERVER_CASES:
                batch, vuln = SERVER_CASES[case]
                size = 8 * 1024 * 1024 - 4096 if case == "many-ids-batch" else args.size
                depth = 4 * 1024 * 1024 - 1 if case == "nested-8mb-batch" else 100_000
                with FakeOSV([RECORD], batch=batch, vuln=vuln, size=size, depth=depth,
                             lifetime=args.lifetime) as osv:
                    cmd = [*base, "--source", "online", "--osv-url", osv.url]
                    if not args.before:
                        cmd += ["--osv-timeout", f"{args.timeout:g}"]
                    code, seconds, peak, last = run(cmd, work, case_env)
                    cut = "  (ended when the server stopped)" if seconds >= args.lifetime else ""
            elif case in UPDATE_CASES:
                behaviour, size = UPDATE_CASES[case]
                export = work / "export.zip"
                with zipfile.ZipFile(export, "w") as zf:
                    zf.write(records / "PYSEC-0000-1.json", "PYSEC-0000-1.json")
                server = FakeOSV(download=behaviour, export=export.read_bytes(), size=size, lifetime=args.lifetime)
                with server:
                    db = work / f"{case}.sqlite"
                    cmd = [sys.executable, "-m", "depscan", "db", "update", "--db", str(db), "--url", server.url]
                    if not args.before:
                        cmd += ["--timeout", f"{args.timeout:g}"]
                    code, seconds, peak, last = run(cmd, work, case_env)
                    cut = "  (ended when the server stopped)" if seconds >= args.lifetime else ""
            else:
                db = damaged_db(case, work, good)
                code, seconds, peak, last = run([*base, "--db", str(db)], work, case_env)
                cut = ""
            print(f"{case:18} {code:>4} {seconds:>8.2f} {peak:>9.1f}  {last[-200:]}{cut}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
