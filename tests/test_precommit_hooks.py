"""The hooks of ``.pre-commit-hooks.yaml`` (issue 11): their manifest, which staged files each hook is given
(its ``files`` pattern, as pre-commit applies it), their entries run on those files, and the real
``pre-commit`` installing this checkout and running them on ``git commit`` in a temporary repository."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from builders import elf_header

REPO = Path(__file__).resolve().parent.parent
MANIFEST = REPO / ".pre-commit-hooks.yaml"
HOOKS = {hook["id"]: hook for hook in yaml.safe_load(MANIFEST.read_text())}
SUBSET = REPO / "fixtures" / "advisories" / "pypi-subset.zip"
GIT = shutil.which("git")
needs_git = pytest.mark.skipif(GIT is None, reason="no git on PATH to build the test repository")
# What pip says when the hook environment's dependencies cannot be fetched (no network, no index).
NO_INDEX = re.compile(r"Could not find a version that satisfies|No matching distribution found|Failed to establish a "
                      r"new connection|Temporary failure in name resolution|Network is unreachable|ProxyError|"
                      r"Max retries exceeded")


def git_env(home: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT")) and k != "DEPSCAN_DEBUG"}
    env.update({"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "t",
                "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"})
    if home is not None:
        env["PRE_COMMIT_HOME"] = str(home)
    return env


def git(root: Path, *args: str, env: dict[str, str] | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    assert GIT is not None
    return subprocess.run([GIT, "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args], cwd=root,
                          check=check, capture_output=True, text=True, env=env or git_env(), timeout=900)


def test_the_manifest_has_the_three_hooks() -> None:
    assert list(HOOKS) == ["depscan-pins", "depscan-committed", "depscan-audit"]
    for hook_id, family in (("depscan-pins", "pins"), ("depscan-committed", "committed"), ("depscan-audit", "audit")):
        hook = HOOKS[hook_id]
        assert hook["language"] == "python" and hook["pass_filenames"] is True
        assert shlex.split(hook["entry"]) == ["depscan", "check", "--only", family]
    clientlib = pytest.importorskip("pre_commit.clientlib", reason="pre-commit is not installed (test extra)")
    assert [h["id"] for h in clientlib.load_manifest(str(MANIFEST))] == list(HOOKS)  # pre-commit's own schema


def hooks_for(path: str) -> set[str]:
    """The hooks pre-commit runs for a staged ``path`` (``re.search`` of ``files``; ``exclude`` is ``^$``)."""
    return {hook_id for hook_id, hook in HOOKS.items() if re.search(hook["files"], path)}


DECLARED = {"depscan-pins", "depscan-audit"}
COMMITTED = {"depscan-committed"}


@pytest.mark.parametrize(("path", "expected"), [
    ("requirements.txt", DECLARED), ("services/api/requirements-dev.txt", DECLARED),
    ("dev-requirements.in", DECLARED), ("requirements/prod.txt", DECLARED), ("constraints.txt", DECLARED),
    ("constraints-prod.in", DECLARED),
    ("pyproject.toml", DECLARED), ("setup.cfg", DECLARED), ("Pipfile", DECLARED), ("Pipfile.lock", DECLARED),
    ("poetry.lock", DECLARED), ("uv.lock", DECLARED), ("pdm.lock", DECLARED), ("pylock.toml", DECLARED),
    ("pylock.prod.toml", DECLARED),
    ("lib/libz.so", COMMITTED), ("lib/libz.so.1.2.11", COMMITTED), ("ext/_speedups.cpython-312-x86_64-linux-gnu.so",
                                                                   COMMITTED),
    ("win/mod.pyd", COMMITTED), ("mac/libffi.dylib", COMMITTED), ("wheels/six-1.16.0-py2.py3-none-any.whl", COMMITTED),
    ("layer.zip", COMMITTED), ("eggs/six-1.16.0-py3.12.egg", COMMITTED),
    ("layer/python/lib/python3.12/site-packages/six.py", COMMITTED), ("pkg/_vendor/six.py", COMMITTED),
    ("src/vendor/yaml/__init__.py", COMMITTED), ("six-1.16.0.dist-info/METADATA", COMMITTED),
    ("app.egg-info/PKG-INFO", COMMITTED),
    ("app.py", set()), ("README.md", set()), ("docs/requirements.md", set()), ("notes.txt", set()),
    ("src/solver.py", set()), ("pyproject.toml.bak", set()),
])
def test_each_hook_runs_only_for_its_files(path: str, expected: set[str]) -> None:
    assert hooks_for(path) == expected


NAMES = ["requirements.txt", "REQUIREMENTS.TXT", "a/Requirements-Dev.txt", "dev-requirements.in", "requirements.in",
         "constraints.txt", "constraints-prod.in", "x/requirements/base.in", "requirements/prod.txt", "pyproject.toml",
         "setup.cfg", "Pipfile", "Pipfile.lock", "poetry.lock", "uv.lock", "pdm.lock", "pylock.toml", "pylock.dev.toml"]


def test_every_file_depscan_parses_is_given_to_the_pins_hooks() -> None:
    """The hooks' pattern and ``declared.PARSERS`` must not drift apart: a file depscan reads as declared
    dependencies is given to depscan-pins and depscan-audit (checked for every parser there is)."""
    from depscan.declared import parser_for_path

    parsed = [name for name in NAMES if parser_for_path(name) is not None]
    assert "requirements.txt" in parsed
    assert [name for name in parsed if hooks_for(name) != DECLARED] == []


def run_hook(hook_id: str, root: Path, *args: str) -> subprocess.CompletedProcess[str] | None:
    """What pre-commit does for one hook: the staged files its pattern matches, given to its entry (here with
    this interpreter's depscan); None when no staged file matches (pre-commit says "Skipped")."""
    staged = git(root, "diff", "--cached", "--name-only", "-z", "--diff-filter=ACMRTUXB").stdout.split("\0")
    files = [p for p in staged if p and re.search(HOOKS[hook_id]["files"], p)]
    if not files:
        return None
    command = shlex.split(HOOKS[hook_id]["entry"])
    assert command[0] == "depscan"
    return subprocess.run([sys.executable, "-m", "depscan", *command[1:], *args, *files], cwd=root,
                          capture_output=True, text=True, timeout=120, env=git_env())


@needs_git
def test_the_entries_on_the_files_pre_commit_passes(tmp_path: Path) -> None:
    root = tmp_path / "project with space"
    root.mkdir()
    git(root, "init", "-q")
    (root / "app.py").write_text("print('hi')\n")
    git(root, "add", "app.py")
    assert all(run_hook(h, root) is None for h in HOOKS)  # nothing staged matches: every hook skipped
    git(root, "commit", "-qm", "app")

    (root / "requirements.txt").write_text("requests\nsix==1.16.0\n")
    git(root, "add", "requirements.txt")
    bad = run_hook("depscan-pins", root)
    assert bad is not None and bad.returncode == 1
    assert "DS001" in bad.stdout and "requests is not pinned" in bad.stdout and "requirements.txt:1" in bad.stdout
    assert run_hook("depscan-committed", root) is None

    (root / "requirements.txt").write_text("requests==2.19.1\nsix==1.16.0\n")
    git(root, "add", "requirements.txt")
    fixed = run_hook("depscan-pins", root)
    assert fixed is not None and fixed.returncode == 0, fixed.stdout + fixed.stderr
    vulnerable = run_hook("depscan-audit", root, "--advisories", str(SUBSET))
    assert vulnerable is not None and vulnerable.returncode == 1, vulnerable.stderr
    assert "PYSEC-2023-74" in vulnerable.stdout and "1 of 2 pins vulnerable" in vulnerable.stderr
    (root / "requirements.txt").write_text("requests==2.31.0\nsix==1.16.0\n")
    git(root, "add", "requirements.txt")
    clean = run_hook("depscan-audit", root, "--advisories", str(SUBSET))
    assert clean is not None and clean.returncode == 0, clean.stderr
    git(root, "commit", "-qm", "pins")

    (root / "lib").mkdir()
    (root / "lib" / "libfoo.so").write_bytes(elf_header())
    git(root, "add", "lib/libfoo.so")
    binary = run_hook("depscan-committed", root)
    assert binary is not None and binary.returncode == 1
    assert "DS103" in binary.stdout and "lib/libfoo.so" in binary.stdout
    assert run_hook("depscan-pins", root) is None
    git(root, "rm", "-q", "--cached", "lib/libfoo.so")
    assert run_hook("depscan-committed", root) is None  # untracked again: not being committed


@pytest.fixture(scope="module")
def hooked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """A project repository whose .pre-commit-config.yaml uses this checkout's hooks, installed by the real
    pre-commit (in a temporary PRE_COMMIT_HOME) and set as its git pre-commit hook.

    pre-commit clones a repository at a commit; a snapshot of this checkout's working tree (tracked and
    untracked files git does not ignore) is committed in a temporary repository, so the hooks tested are the
    files as they are, not the last commit of the branch."""
    if GIT is None:
        pytest.skip("no git on PATH")
    pytest.importorskip("pre_commit", reason="pre-commit is not installed (test extra)")
    listed = subprocess.run([GIT, "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, check=False, env=git_env())
    if listed.returncode != 0:
        pytest.skip(f"{REPO} is not a git checkout: pre-commit installs hooks from a git repository")
    base = tmp_path_factory.mktemp("pre commit")
    snapshot, project, home = base / "depscan snapshot", base / "project", base / "home"
    for rel in sorted({p for p in listed.stdout.decode("utf-8", "surrogateescape").split("\0") if p}):
        source = REPO / rel
        if source.is_file() and not source.is_symlink():
            (snapshot / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, snapshot / rel)
    git(snapshot, "init", "-q")
    git(snapshot, "add", "-A")
    git(snapshot, "commit", "-qm", "snapshot")
    rev = git(snapshot, "rev-parse", "HEAD").stdout.strip()
    project.mkdir()
    git(project, "init", "-q")
    hooks = [{"id": "depscan-pins"}, {"id": "depscan-committed"},
             {"id": "depscan-audit", "args": ["--advisories", str(SUBSET)]}]  # offline: the fixture's records
    (project / ".pre-commit-config.yaml").write_text(yaml.safe_dump(
        {"repos": [{"repo": snapshot.as_posix(), "rev": rev, "hooks": hooks}]}, sort_keys=False))
    (project / "app.py").write_text("print('hi')\n")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "initial")
    env = git_env(home)
    pre_commit = [sys.executable, "-m", "pre_commit"]
    installed = subprocess.run([*pre_commit, "install-hooks"], cwd=project, capture_output=True, text=True,
                               env=env, timeout=900)
    if installed.returncode != 0:
        log = (home / "pre-commit.log").read_text(errors="replace") if (home / "pre-commit.log").is_file() else ""
        said = installed.stdout + installed.stderr + log
        problem = NO_INDEX.search(said)
        if problem is not None:
            line = next(line.strip() for line in said.splitlines() if problem.group(0) in line)
            pytest.skip(f"pre-commit could not install this checkout's hook environment: pip found no package "
                        f"index or network for its dependencies ({line}); the entries are tested without it")
        raise AssertionError(f"pre-commit install-hooks failed:\n{said[-4000:]}")
    subprocess.run([*pre_commit, "install"], cwd=project, check=True, capture_output=True, env=env)
    yield project, env


def committed(project: Path, env: dict[str, str], message: str) -> subprocess.CompletedProcess[str]:
    return git(project, "commit", "-m", message, env=env, check=False)


def test_pre_commit_fails_a_commit_of_unpinned_requirements(hooked: tuple[Path, dict[str, str]]) -> None:
    project, env = hooked
    head = git(project, "rev-parse", "HEAD").stdout
    (project / "requirements.txt").write_text("requests>=2.0\nsix==1.16.0\n")
    git(project, "add", "requirements.txt")
    bad = committed(project, env, "unpinned")
    said = bad.stdout + bad.stderr
    assert bad.returncode != 0, said
    assert re.search(r"depscan pins \(declared dependencies, DS001-DS007\)\.+Failed", said), said
    assert "requirements.txt:1" in said and "requests is not pinned" in said and "DS001" in said
    assert git(project, "rev-parse", "HEAD").stdout == head  # nothing was committed
    (project / "requirements.txt").write_text("requests==2.31.0\nsix==1.16.0\n")
    git(project, "add", "requirements.txt")
    good = committed(project, env, "pinned")
    said = good.stdout + good.stderr
    assert good.returncode == 0, said
    assert re.search(r"depscan pins \(declared dependencies, DS001-DS007\)\.+Passed", said), said
    assert re.search(r"depscan audit \(vulnerable pins\)\.+Passed", said), said
    assert re.search(r"depscan committed \(dependencies committed to git, DS101-DS104\)\.+\(no files to check\)"
                     r"Skipped", said), said


def test_pre_commit_fails_a_commit_of_a_shared_library(hooked: tuple[Path, dict[str, str]]) -> None:
    project, env = hooked
    (project / "native").mkdir(exist_ok=True)
    (project / "native" / "libfoo.so").write_bytes(elf_header())
    git(project, "add", "native/libfoo.so")
    bad = committed(project, env, "a binary")
    said = bad.stdout + bad.stderr
    assert bad.returncode != 0, said
    assert re.search(r"depscan committed \(dependencies committed to git, DS101-DS104\)\.+Failed", said), said
    assert "DS103" in said and "native/libfoo.so" in said and "a native binary is committed" in said
    git(project, "rm", "-q", "--cached", "native/libfoo.so")
    (project / "app.py").write_text("print('hello')\n")
    git(project, "add", "app.py")
    good = committed(project, env, "no binary")
    said = good.stdout + good.stderr
    assert good.returncode == 0, said
    assert re.search(r"depscan committed \(dependencies committed to git, DS101-DS104\)\.+\(no files to check\)"
                     r"Skipped", said), said


def test_the_pins_hook_imports_neither_the_scan_nor_rich(tmp_path: Path) -> None:
    """A pre-commit run starts a process per hook: the pins hook on a clean file loads the requirements parser
    and the rules, and none of the scan's machinery (bench/bench_check.py measures its start-up)."""
    (tmp_path / "requirements.txt").write_text("six==1.16.0\nrequests==2.31.0 ; python_version >= '3.8'\n")
    command = shlex.split(HOOKS["depscan-pins"]["entry"])[1:]
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "depscan", *command, "requirements.txt"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, env=git_env())
    assert done.returncode == 0, done.stderr
    imported = {m.group(1) for m in re.finditer(r"^import time:.*\|\s+(\S+)$", done.stderr, re.MULTILINE)}
    assert {"depscan.declared.check", "depscan.declared.rules", "packaging.requirements"} <= imported
    heavy = {m for m in imported if m.split(".")[0] in ("rich", "requests", "elftools", "cyclonedx", "yaml")
             or m.startswith(("depscan.scan", "depscan.catalogers", "depscan.artifacts.directory", "depscan.committed",
                              "depscan.advisories", "depscan.reporters.table", "depscan.facts"))}
    assert heavy == set(), sorted(heavy)


def test_pre_commit_fails_a_commit_of_a_vulnerable_pin(hooked: tuple[Path, dict[str, str]]) -> None:
    project, env = hooked
    (project / "requirements.txt").write_text("six==1.16.0\nrequests==2.19.1\n")
    git(project, "add", "requirements.txt")
    bad = committed(project, env, "a vulnerable pin")
    said = bad.stdout + bad.stderr
    assert bad.returncode != 0, said
    assert re.search(r"depscan pins \(declared dependencies, DS001-DS007\)\.+Passed", said), said
    assert re.search(r"depscan audit \(vulnerable pins\)\.+Failed", said), said
    assert "PYSEC-2023-74" in said and "1 of 2 pins vulnerable" in said
    (project / "requirements.txt").write_text("six==1.16.0\nrequests==2.31.0\n")
    git(project, "add", "requirements.txt")
    good = committed(project, env, "upgraded")
    said = good.stdout + good.stderr
    assert good.returncode == 0, said
    assert re.search(r"depscan audit \(vulnerable pins\)\.+Passed", said), said
