"""What the committed-dependency check (DS101-DS104, ``depscan/committed.py``) costs on a repository of 5,000
tracked files, against ``git ls-files`` alone and ``python -c pass``.

    python bench/bench_committed.py [--files 5000] [--repeat 9] [--keep DIR]

The repository is built in a temporary directory (or ``--keep DIR``) and committed with git: a committed
Lambda layer tree (``layer/python/lib/python3.X/site-packages``) holding real installed distributions
copied from this interpreter's own site-packages (their RECORD-listed files: METADATA, RECORD, modules and
extension modules, as pip installed them), three of those distributions' ``.so`` files copied again to
``native/`` (binaries no package owns: read whole, parsed and identified), a vendored ``six.py``, a wheel,
and project files (per 20: ten Python modules, two each of Markdown, JSON and YAML, a text file, a TOML
file, a shell script and an extension-less file) up to ``--files`` tracked files; plus an untracked
``.venv``-like tree that must not be read.

Each round runs, in fresh processes (interpreter start-up and imports included):
  * ``git ls-files -z --cached`` in the repository (what the check starts with);
  * ``python -c pass``;
  * ``python -c "...committed_findings(root)"`` with an empty native cache (cold: every ELF file parsed)
    and with the cache the cold run left (warm), the figure a pre-commit hook sees from the second run on;
  * the same with one file named (``six.py``), as a pre-commit hook names the staged files.
Medians of wall time, then the ratios. The first round is a warm-up and is not counted.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SITE = "layer/python/lib/python3.12/site-packages"
# Installed distributions to commit as the layer's tree (those present are taken; some ship .so files).
DISTRIBUTIONS = ("packaging", "idna", "certifi", "charset-normalizer", "PyYAML", "attrs", "requests", "urllib3",
                 "pyelftools", "packageurl-python", "cvss", "typer", "click", "rich", "pygments", "markdown-it-py",
                 "mdurl", "jsonschema", "referencing", "rpds-py", "platformdirs", "msgpack", "lxml", "isal")
MAX_NATIVE_COPIES = 3


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=bench@example.com", "-c", "user.name=bench", "-c",
                    "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args], cwd=root, check=True,
                   capture_output=True)


def _copy_distributions(root: Path) -> tuple[int, list[Path]]:
    """Copy the installed distributions' files into the layer tree; (files copied, their .so files)."""
    site = Path(sysconfig.get_paths()["purelib"])
    copied = 0
    natives: list[Path] = []
    for name in DISTRIBUTIONS:
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        for file in dist.files or ():
            source = Path(str(dist.locate_file(file)))
            rel = source.relative_to(site) if source.is_relative_to(site) else None
            if rel is None or not source.is_file() or "__pycache__" in rel.parts:
                continue
            target = root / SITE / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            copied += 1
            if source.name.endswith(".so") and source.stat().st_size < 4_000_000:
                natives.append(source)
    return copied, natives


def build(root: Path, total: int) -> int:
    """The repository (committed), with ``total`` tracked files; returns how many git tracks."""
    root.mkdir(parents=True)
    _git(root, "init", "-q")
    copied, natives = _copy_distributions(root)
    for index, source in enumerate(natives[:MAX_NATIVE_COPIES]):
        target = root / "native" / f"lib{index}_{source.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    (root / "six.py").write_text('"""six (copied)"""\n__version__ = "1.16.0"\n')
    wheels = root / "wheels"
    wheels.mkdir()
    (wheels / "boto3-1.34.0-py3-none-any.whl").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    done = copied + min(len(natives), MAX_NATIVE_COPIES) + 2
    # per 20 files: 10 modules, 2 Markdown, 2 JSON, 2 YAML, a text file, a TOML file, a shell script and an
    # extension-less file (the last two are checked for the ELF magic, as any name the deny-list does not know)
    py, md, js, ym = ((".py", "def f{n}(x):\n    return x + {n}\n"), (".md", "# Notes {n}\n\nSome text.\n"),
                      (".json", '{{"n": {n}}}\n'), (".yaml", "n: {n}\n"))
    kinds = [py] * 10 + [md, md, js, js, ym, ym, (".txt", "note {n}\n"), (".toml", "n = {n}\n"),
                         (".sh", "#!/bin/sh\necho {n}\n"), ("", "FROM public.ecr.aws/lambda/python:3.12\n# {n}\n")]
    n = 0
    while done < total:
        suffix, text = kinds[n % len(kinds)]
        service = f"services/svc{n // 200:02d}"
        name = f"Dockerfile-{n}" if not suffix else f"{'tests/test_' if n % 7 == 0 else 'mod_'}{n}{suffix}"
        path = root / service / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.format(n=n))
        n += 1
        done += 1
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "bench")
    # untracked: a virtual environment next to the code (never read by the check)
    venv = root / ".venv" / "lib" / "python3.12" / "site-packages"
    shutil.copytree(root / SITE, venv)
    (root / ".git" / "info" / "exclude").write_text(".venv/\n")
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    return listed.count(b"\0")


CHECK = ("import sys; from pathlib import Path; from depscan.committed import committed_findings; "
         "found, notes = committed_findings(Path(sys.argv[1]), sys.argv[2:] or None); print(len(found))")


def _timed(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall time, CPU time (user + system of the child) and what it printed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, proc.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--keep", type=Path, help="build the repository here and keep it")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-committed-"))
    try:
        root = args.keep or scratch / "repo"
        tracked = build(root, args.files) if not root.exists() else -1
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
        labels = ("git ls-files", "python -c pass", "check (cold cache)", "check (warm cache)", "check (1 file)")
        times: dict[str, list[float]] = {label: [] for label in labels}
        cpu: dict[str, list[float]] = {label: [] for label in labels}
        found = ""
        for round_ in range(args.repeat + 1):
            cache = scratch / f"cache-{round_}"
            runs = {
                "git ls-files": (["git", "-C", str(root), "ls-files", "-z", "--cached"], env),
                "python -c pass": ([sys.executable, "-c", "pass"], env),
                "check (cold cache)": ([sys.executable, "-c", CHECK, str(root)],
                                       dict(env, DEPSCAN_CACHE_DIR=str(cache))),
                "check (warm cache)": ([sys.executable, "-c", CHECK, str(root)],
                                       dict(env, DEPSCAN_CACHE_DIR=str(cache))),
                # a pre-commit hook's run: one staged file named (the vendored six.py)
                "check (1 file)": ([sys.executable, "-c", CHECK, str(root), "six.py"],
                                   dict(env, DEPSCAN_CACHE_DIR=str(cache))),
            }
            for label, (command, run_env) in runs.items():
                wall, used, out = _timed(command, run_env)
                if label.startswith("check (") and label != "check (1 file)":
                    found = out
                if round_:
                    times[label].append(wall)
                    cpu[label].append(used)
        medians = {label: statistics.median(values) for label, values in times.items()}
        cpu_medians = {label: statistics.median(values) for label, values in cpu.items()}
        print(f"repository: {tracked if tracked >= 0 else '(kept)'} tracked files, {found} findings; "
              f"medians of {args.repeat} rounds (fresh processes); load average {os.getloadavg()[0]:.1f}")
        for label in labels:
            print(f"  {label:20} wall {medians[label]:.3f} s, CPU {cpu_medians[label]:.3f} s")
        git_alone, python_alone = medians["git ls-files"], medians["python -c pass"]
        for label in ("check (cold cache)", "check (warm cache)", "check (1 file)"):
            print(f"  {label}: wall {medians[label] / git_alone:.1f}x git ls-files, "
                  f"{medians[label] / python_alone:.1f}x python -c pass; CPU "
                  f"{cpu_medians[label] / cpu_medians['python -c pass']:.1f}x python -c pass")
    finally:
        if args.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
