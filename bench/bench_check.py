"""What ``depscan check`` costs: a whole repository, and a pre-commit run on one file (issue 11).

Builds, in ``--workdir`` (a temporary directory by default), a git repository with ``--files`` tracked files
(Python modules in nested packages, 5,000 by default) and a ``requirements.txt`` of ``--lines`` requirements
(300 by default), each pinned with two ``--hash`` options (a clean, compiled file), ``git add``-ed. Then times,
as separate processes (wall clock, the start-up of the interpreter and of depscan included, as a hook or a CI
step pays it), medians of ``--repeat`` runs:

* ``python -c pass``: the interpreter's own start-up, the baseline measured in the same run;
* ``depscan check REPO``: ``git ls-files`` of the whole repository, the requirements file read and judged
  (DS001-DS007), and the committed-dependency rules (DS101-DS104) over every tracked file;
* the ``depscan-pins`` hook on one clean requirements file, from inside the repository: its ``entry`` from
  ``.pre-commit-hooks.yaml`` (``depscan check --only pins``) and the file, as pre-commit runs it;
* the ``depscan-committed`` hook on one staged file (``git ls-files`` and the tracked files' catalog are its
  context, so it costs about what the whole repository's committed rules cost);
* ``python -X importtime`` of the pins hook: the modules it imports, the heaviest named;
* with ``--pre-commit``: the real ``pre-commit run depscan-pins --files requirements.txt``, the hook installed
  by pre-commit from a snapshot of this checkout's working tree (once, in ``WORKDIR/pre-commit-home``),
  against ``pre-commit run depscan-pins --files`` on a module it skips (pre-commit's own start-up and git calls).

Targets (issue 11): the repository under 1 s, the pins hook on one file under 0.5 s.

    python bench/bench_check.py --repeat 7
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import resource
import shlex
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


def timed(command: list[str], cwd: Path, repeat: int, expect: int = 0) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds (user + system of the child) of ``command``; it must exit
    ``expect``. Under load the wall time includes waiting for a core; the CPU time does not."""
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        proc = subprocess.run(command, cwd=cwd, capture_output=True, check=False)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if proc.returncode != expect:
            raise SystemExit(f"{' '.join(command)}: exit {proc.returncode}\n{proc.stderr.decode()}")
    return statistics.median(walls), statistics.median(cpus)


def hook_entry(hook_id: str) -> list[str]:
    """A hook's entry from .pre-commit-hooks.yaml, with this interpreter's depscan."""
    import yaml

    hooks = {h["id"]: h for h in yaml.safe_load((Path(__file__).resolve().parent.parent / ".pre-commit-hooks.yaml")
                                                 .read_text())}
    entry = shlex.split(hooks[hook_id]["entry"])
    return [sys.executable, "-m", "depscan", *entry[1:]]


def import_times(command: list[str], cwd: Path) -> tuple[float, int, list[tuple[float, str]]]:
    """(seconds of imports in all, modules imported, the heaviest top-level packages by cumulative time)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *command[1:]], cwd=cwd, capture_output=True, text=True,
                          check=False)
    rows = [m for m in (re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
                        for line in proc.stderr.splitlines()) if m]
    top = [(int(m.group(2)) / 1e6, m.group(4)) for m in rows if len(m.group(3)) == 1]
    return sum(t for t, _ in top), len(rows), sorted(top, reverse=True)[:6]


def install_pre_commit(base: Path, repo: Path) -> list[str]:
    """The hooks of this checkout's working tree installed by pre-commit for ``repo``; the command to run it."""
    checkout = Path(__file__).resolve().parent.parent
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "b",
           "GIT_AUTHOR_EMAIL": "b@example.com", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.com",
           "PRE_COMMIT_HOME": str(base / "pre-commit-home")}
    snapshot = base / "snapshot"
    if not (snapshot / ".git").is_dir():
        listed = subprocess.run(["git", "-C", str(checkout), "ls-files", "-z", "--cached", "--others",
                                 "--exclude-standard"], capture_output=True, check=True).stdout
        for rel in sorted({p for p in listed.decode().split("\0") if p}):
            if (checkout / rel).is_file():
                (snapshot / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(checkout / rel, snapshot / rel)
        subprocess.run(["git", "init", "-q", str(snapshot)], check=True, env=env)
        subprocess.run(["git", "-C", str(snapshot), "add", "-A"], check=True, env=env)
        subprocess.run(["git", "-C", str(snapshot), "commit", "-qm", "snapshot"], check=True, env=env)
    rev = subprocess.run(["git", "-C", str(snapshot), "rev-parse", "HEAD"], capture_output=True, text=True,
                         check=True).stdout.strip()
    (repo / ".pre-commit-config.yaml").write_text(f"repos:\n- repo: {snapshot.as_posix()!r}\n  rev: {rev}\n"
                                                  "  hooks:\n  - id: depscan-pins\n")
    subprocess.run(["git", "-C", str(repo), "add", ".pre-commit-config.yaml"], check=True, env=env)
    command = [sys.executable, "-m", "pre_commit"]
    subprocess.run([*command, "install-hooks"], cwd=repo, check=True, env=env, capture_output=True)
    os.environ["PRE_COMMIT_HOME"] = env["PRE_COMMIT_HOME"]
    return [*command, "run", "depscan-pins", "--files"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--lines", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pre-commit", action="store_true", help="also time the real pre-commit running the "
                        "pins hook (installs it from this checkout first: needs pre-commit and a package index)")
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
        pins, committed = hook_entry("depscan-pins"), hook_entry("depscan-committed")
        staged = "src/pkg00/sub0/module0.py"
        python = timed([sys.executable, "-c", "pass"], base, args.repeat)
        whole = timed([*depscan, str(repo)], base, args.repeat)
        one = timed([*pins, "requirements.txt"], repo, args.repeat)
        binary = timed([*committed, staged], repo, args.repeat)
        imports, modules, heaviest = import_times([*pins, "requirements.txt"], repo)
        print(f"{tracked:,} tracked files, {args.lines} requirements (2 hashes each); medians of {args.repeat} runs, "
              f"wall / CPU (load {os.getloadavg()[0]:.1f}):")
        rows = [("python -c pass", python, ""), ("depscan check REPO (pins + committed)", whole, "; target < 1 s"),
                ("depscan-pins hook, requirements.txt", one, "; target < 0.5 s"),
                ("depscan-committed hook, one staged file", binary, "")]
        for label, (wall, cpu), target in rows:
            print(f"  {label:<47} {wall:.3f} s / {cpu:.3f} s  ({wall / python[0]:.1f}x wall{target})")
        if args.pre_commit:
            run_hook = install_pre_commit(base, repo)
            skipped = timed([*run_hook, staged], repo, args.repeat)
            hooked = timed([*run_hook, "requirements.txt"], repo, args.repeat)
            for label, (wall, cpu) in (("pre-commit run, hook skipped", skipped),
                                       ("pre-commit run, pins hook on requirements.txt", hooked)):
                print(f"  {label:<47} {wall:.3f} s / {cpu:.3f} s  ({wall / python[0]:.1f}x wall)")
            print(f"  the hook's share of the pre-commit run: {hooked[0] - skipped[0]:.3f} s wall / "
                  f"{hooked[1] - skipped[1]:.3f} s CPU")
        print(f"  pins hook imports: {modules} modules, {imports:.3f} s (-X importtime, one run); heaviest: "
              + ", ".join(f"{name} {seconds * 1000:.0f} ms" for seconds, name in heaviest))
        return 0 if whole[0] < 1.0 and one[0] < 0.5 else 1
    finally:
        if temporary is not None:
            temporary.cleanup()


if __name__ == "__main__":
    sys.exit(main())
