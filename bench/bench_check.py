"""What ``depscan check`` costs: a whole repository, and a pre-commit run on one file (issue 11).

Builds, in ``--workdir`` (a temporary directory by default), a git repository with ``--files`` tracked files
(Python modules in nested packages, 5,000 by default) and a ``requirements.txt`` of ``--lines`` requirements
(300 by default), each pinned with two ``--hash`` options (a clean, compiled file), ``git add``-ed. Then times,
as separate processes (wall clock, the start-up of the interpreter and of depscan included, as a hook or a CI
step pays it), medians of ``--repeat`` runs:

* ``python -c pass``: the interpreter's own start-up, the baseline measured in the same run;
* ``depscan check REPO``: ``git ls-files`` of the whole repository, the requirements file read and judged;
* ``depscan check requirements.txt`` from inside the repository: what a pre-commit hook runs on one file.

Targets (issue 11): the repository under 1 s, the single file under 0.5 s.

    python bench/bench_check.py --repeat 7
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def build(root: Path, files: int, lines: int) -> None:
    """The repository: ``files`` tracked files in all (the requirements file is one), ``lines`` requirements."""
    root.mkdir(parents=True, exist_ok=True)
    for number in range(files - 1):
        package = root / "src" / f"pkg{number // 250:02d}" / f"sub{number // 25 % 10}"
        package.mkdir(parents=True, exist_ok=True)
        (package / f"module{number}.py").write_text(f"VALUE = {number}\n")
    rows = []
    for number in range(lines):
        one = hashlib.sha256(f"{number}-wheel".encode()).hexdigest()
        two = hashlib.sha256(f"{number}-sdist".encode()).hexdigest()
        rows.append(f"package-{number}==1.{number}.0 --hash=sha256:{one} --hash=sha256:{two}")
    (root / "requirements.txt").write_text("\n".join(rows) + "\n")
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q", str(root)], check=True, env=env)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True, env=env)


def timed(command: list[str], cwd: Path, repeat: int, expect: int = 0) -> float:
    """Median wall seconds of ``command``; it must exit ``expect``."""
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        proc = subprocess.run(command, cwd=cwd, capture_output=True, check=False)
        runs.append(time.perf_counter() - started)
        if proc.returncode != expect:
            raise SystemExit(f"{' '.join(command)}: exit {proc.returncode}\n{proc.stderr.decode()}")
    return statistics.median(runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--lines", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if shutil.which("git") is None:
        print("git is not installed")
        return 2
    temporary = tempfile.TemporaryDirectory() if args.workdir is None else None
    base = Path(temporary.name) if temporary is not None else args.workdir.expanduser()
    try:
        repo = base / "repo"
        if not (repo / "requirements.txt").is_file():
            build(repo, args.files, args.lines)
        tracked = subprocess.run(["git", "-C", str(repo), "ls-files"], capture_output=True, check=True).stdout.count(
            b"\n")
        depscan = [sys.executable, "-m", "depscan", "check"]
        python = timed([sys.executable, "-c", "pass"], base, args.repeat)
        whole = timed([*depscan, str(repo)], base, args.repeat)
        one = timed([*depscan, "requirements.txt"], repo, args.repeat)
        print(f"{tracked:,} tracked files, {args.lines} requirements (2 hashes each); wall medians of {args.repeat} "
              f"(load {os.getloadavg()[0]:.1f}):")
        print(f"  python -c pass                    {python:.3f} s  (1.0x)")
        print(f"  depscan check REPO                {whole:.3f} s  ({whole / python:.1f}x; target < 1 s)")
        print(f"  depscan check requirements.txt    {one:.3f} s  ({one / python:.1f}x; target < 0.5 s)")
        return 0 if whole < 1.0 and one < 0.5 else 1
    finally:
        if temporary is not None:
            temporary.cleanup()


if __name__ == "__main__":
    sys.exit(main())
