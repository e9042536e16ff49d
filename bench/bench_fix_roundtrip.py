"""The lock-and-rescan round trip against the real package index (not a unit test: it needs PyPI).

    python bench/bench_fix_roundtrip.py [--advisories ../shared/advisories/osv-pypi-pysec-2024-10-10.zip]

1. Writes a hash-pinned requirements file of old, vulnerable releases (hashes asked from PyPI's JSON API,
   so ``pip install --require-hashes`` accepts the file as it is).
2. ``depscan fix --requirements ... --check-index --runtime python3.12 --write``: versions and hashes
   rewritten from the index.
3. ``pip download --require-hashes --no-deps`` of the rewritten file for CPython 3.12 manylinux x86_64:
   pip itself verifies every new hash.
4. ``depscan fix`` again: no vulnerable pin may be left.

Prints the diff, the timings (fix with the index, pip's download) and OK/FAIL per step; exit 1 on a FAIL.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_EXPORT = REPO.parent / "shared" / "advisories" / "osv-pypi-pysec-2024-10-10.zip"
PINS = [("requests", "2.19.1"), ("urllib3", "1.23"), ("Jinja2", "2.10"), ("idna", "2.7"), ("six", "1.16.0")]


def hashes(name: str, version: str) -> list[str]:
    """The sha256 of every file of a release, from PyPI's PEP 691 project page."""
    from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
    from packaging.version import Version

    request = urllib.request.Request(f"https://pypi.org/simple/{canonicalize_name(name)}/",
                                     headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        data = json.load(answer)
    out = []
    for item in data["files"]:
        filename = item["filename"]
        try:
            parsed = (parse_wheel_filename(filename)[1] if filename.endswith(".whl")
                      else parse_sdist_filename(filename)[1])
        except ValueError:
            continue
        if parsed == Version(version) and "sha256" in item["hashes"]:
            out.append(f"sha256:{item['hashes']['sha256']}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--advisories", type=Path, default=DEFAULT_EXPORT)
    args = parser.parse_args()
    if not args.advisories.is_file():
        args.advisories = REPO / "fixtures" / "advisories" / "pypi-subset.zip"
    work = Path(tempfile.mkdtemp(prefix="depscan-fix-roundtrip-"))
    lines = ["# old pins, hashed as pip-compile --generate-hashes writes them"]
    for name, version in PINS:
        found = hashes(name, version)
        lines.append(f"{name}=={version} \\")
        lines += [f"    --hash={h} \\" for h in found[:-1]] + [f"    --hash={found[-1]}"]
    requirements = work / "requirements.txt"
    requirements.write_text("\n".join(lines) + "\n")
    base = [sys.executable, "-m", "depscan", "fix", "-r", str(requirements), "--advisories", str(args.advisories),
            "--db", str(work / "db.sqlite"), "--check-index", "--runtime", "python3.12", "--arch", "x86_64"]
    failed = 0
    started = time.perf_counter()
    fixed = subprocess.run([*base, "--write"], capture_output=True, text=True)
    fix_seconds = time.perf_counter() - started
    print(fixed.stderr)
    print(requirements.read_text())
    ok = fixed.returncode == 0
    failed += not ok
    print(f"fix --write with the index: {fix_seconds:.1f} s, exit {fixed.returncode}: {'OK' if ok else 'FAIL'}")
    started = time.perf_counter()
    pip = subprocess.run([sys.executable, "-m", "pip", "download", "--require-hashes", "--no-deps", "-q",
                          "--only-binary=:all:", "--python-version", "3.12", "--platform", "manylinux2014_x86_64",
                          "-d", str(work / "wheels"), "-r", str(requirements)], capture_output=True, text=True)
    ok = pip.returncode == 0
    failed += not ok
    print(f"pip download --require-hashes of the fixed file: {time.perf_counter() - started:.1f} s: "
          f"{'OK' if ok else 'FAIL ' + pip.stderr.strip()[-500:]}")
    again = subprocess.run(base, capture_output=True, text=True)
    ok = again.returncode == 0 and "no vulnerable pin" in again.stderr
    failed += not ok
    print(f"depscan fix on the fixed file: exit {again.returncode}: {'OK' if ok else 'FAIL ' + again.stderr[-500:]}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
