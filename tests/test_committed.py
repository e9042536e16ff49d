"""Dependencies committed to a repository (issue 11, DS101-DS104): a temporary git repository with a committed
Lambda layer tree, a vendored six.py, a compiled .so and a wheel, next to untracked and ignored copies."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from builders import dist, elf_header, write_zip

from depscan.committed import committed_findings, tracked_files
from depscan.errors import MemberError
from depscan.models import PolicyFinding
from tests.helpers import scan

GIT = shutil.which("git")
CC = shutil.which("cc") or shutil.which("gcc")
needs_git = pytest.mark.skipif(GIT is None, reason="no git on PATH to build the test repository")
needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler (cc/gcc) on PATH to build the test .so file")

SITE = "layer/python/lib/python3.12/site-packages"
ZLIB = r"""
__attribute__((used)) const char inflate_copyright[] = " inflate 1.2.11 Copyright 1995-2017 Mark Adler ";
const char *zlibVersion(void) { return "1.2.11"; }
"""


def git(root: Path, *args: str) -> None:
    assert GIT is not None
    subprocess.run([GIT, "-c", "user.email=t@example.com", "-c", "user.name=t", "-c", "init.defaultBranch=main",
                    "-c", "commit.gpgsign=false", *args], cwd=root, check=True, capture_output=True)


def write(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def compile_zlib(out: Path) -> None:
    assert CC is not None
    out.parent.mkdir(parents=True, exist_ok=True)
    source = out.parent / "zlib_test_source.c"
    source.write_text(ZLIB)
    subprocess.run([CC, "-shared", "-fPIC", "-O2", "-o", str(out), str(source)], check=True, capture_output=True)
    source.unlink()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A committed checkout: a Lambda layer's site-packages (two distributions, one with an unowned-looking
    .so listed in its RECORD), a copied six.py, the function's own code, a compiled zlib, a wheel, a zip."""
    root = tmp_path / "my repo"
    root.mkdir()
    git(root, "init", "-q")
    files: dict[str, bytes] = {}
    files.update(dist("requests", "2.31.0", root=SITE))
    files.update(dist("urllib3", "2.0.7", root=SITE, modules={
        "urllib3/__init__.py": b'__version__ = "2.0.7"\n',
        "urllib3/_speedups.cpython-312-x86_64-linux-gnu.so": elf_header(),
    }))
    files["six.py"] = b'"""Utilities for writing code that runs on Python 2 and 3"""\n__version__ = "1.16.0"\n'
    files["handler.py"] = b"import six\n\ndef handler(event, context):\n    return six.PY3\n"
    files["wheels/boto3-1.34.0-py3-none-any.whl"] = write_zip(tmp_path / "w.zip", dist("boto3", "1.34.0")).read_bytes()
    files["tests/data/sample.zip"] = (tmp_path / "w.zip").read_bytes()
    files[".gitignore"] = b"ignored/\n"
    write(root, files)
    if CC is not None:
        compile_zlib(root / "native" / "libz.so.1")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def by_rule(found: list[PolicyFinding]) -> dict[str, list[PolicyFinding]]:
    out: dict[str, list[PolicyFinding]] = {}
    for finding in found:
        out.setdefault(finding.rule, []).append(finding)
    return out


@needs_git
@needs_cc
def test_each_committed_dependency_is_one_finding(repo: Path) -> None:
    found, notes = committed_findings(repo)
    assert notes == []
    rules = by_rule(found)
    assert sorted(rules) == ["DS101", "DS102", "DS103", "DS104"]
    # the layer's whole site-packages tree is one finding, its .so included, naming its distributions
    (tree,) = rules["DS101"]
    assert tree.location.path == SITE and tree.line is None
    assert tree.message.startswith("a Lambda layer's site-packages tree is committed: ")
    assert "2 distributions (requests 2.31.0, urllib3 2.0.7)" in tree.message
    assert tree.fix is not None and "requests==2.31.0, urllib3==2.0.7" in tree.fix
    (six,) = rules["DS102"]
    assert (six.location.path, six.component) == ("six.py", "pkg:pypi/six@1.16.0")
    assert "six 1.16.0" in six.message and "six.py: version 1.16.0" in six.message
    assert six.fix == "Remove six.py from git and declare six==1.16.0 in requirements.txt."
    (native,) = rules["DS103"]
    assert native.location.path == "native/libz.so.1"
    assert "zlib 1.2.11 (high)" in native.message and "x86_64" in native.message
    assert "no package owns it" in native.message
    assert native.component == "pkg:generic/zlib@1.2.11"
    wheel, sample = sorted(rules["DS104"], key=lambda f: f.location.path, reverse=True)
    assert wheel.location.path == "wheels/boto3-1.34.0-py3-none-any.whl" and "boto3 1.34.0" in wheel.message
    assert wheel.fix == "Remove it from git and declare boto3==1.34.0 in requirements.txt."
    assert (sample.location.path, sample.level.value) == ("tests/data/sample.zip", "low")
    # the function's own code is nobody's copy
    assert not any("handler" in f.location.path for f in found)


@needs_git
def test_untracked_and_ignored_files_are_not_committed(repo: Path) -> None:
    before = {(f.rule, f.location.path) for f in committed_findings(repo)[0]}
    write(repo, {
        "ignored/six.py": b'__version__ = "1.16.0"\n',
        "ignored/lib/python3.12/site-packages/x-1.0.dist-info/METADATA": b"Name: x\nVersion: 1.0\n",
        "untracked/attrs-23.1.0-py3-none-any.whl": b"PK\x05\x06" + b"\0" * 18,
        "untracked/libthing.so": elf_header(),
        "scratch.zip": b"PK\x05\x06" + b"\0" * 18,
    })
    assert {(f.rule, f.location.path) for f in committed_findings(repo)[0]} == before
    # staged is committed (the index is what git ls-files --cached reads)
    git(repo, "add", "scratch.zip")
    after = {(f.rule, f.location.path) for f in committed_findings(repo)[0]}
    assert after == before | {("DS104", "scratch.zip")}


@needs_git
def test_the_files_being_committed_select_the_findings(repo: Path) -> None:
    staged = [f"{SITE}/requests/__init__.py", "wheels/boto3-1.34.0-py3-none-any.whl", "handler.py"]
    found, _ = committed_findings(repo, staged)
    assert [(f.rule, f.location.path) for f in found] == [
        ("DS101", SITE), ("DS104", "wheels/boto3-1.34.0-py3-none-any.whl")]
    # a path named but not yet tracked counts (a hook names what it commits); one outside the root does not
    write(repo, {"new/vendor/thing.whl": b"PK\x05\x06" + b"\0" * 18})
    found, notes = committed_findings(repo, ["new/vendor/thing.whl", str(repo.parent / "elsewhere.whl")])
    assert [f.location.path for f in found] == ["new/vendor/thing.whl"]
    assert "a wheel is committed, its file name not a valid wheel name" in found[0].message
    assert notes == [f"1 file(s) named outside {repo} not judged (first: {repo.parent / 'elsewhere.whl'})"]


def test_a_directory_that_is_not_a_git_checkout_is_judged_as_it_is(tmp_path: Path) -> None:
    root = tmp_path / "plain dir"
    write(root, {"six.py": b'__version__ = "1.16.0"\n', "lib/x.whl": b"PK", **dist("idna", "3.4", root="package")})
    found, notes = committed_findings(root)
    assert {(f.rule, f.location.path) for f in found} == {("DS102", "six.py"), ("DS104", "lib/x.whl"),
                                                          ("DS101", "package")}
    (note,) = notes
    assert note.startswith(f"{root} is not a git checkout (") and note.endswith(
        "): every file present is judged as committed")


def test_outside_git_the_files_named_are_judged_alone(tmp_path: Path) -> None:
    root = tmp_path / "plain dir"
    write(root, {"six.py": b'__version__ = "1.16.0"\n', "lib/x.whl": b"PK", **dist("idna", "3.4", root="package"),
                 "big/unreadable.so": b"\x7fELF"})
    found, notes = committed_findings(root, ["lib/x.whl"])
    assert [(f.rule, f.location.path) for f in found] == [("DS104", "lib/x.whl")]
    (note,) = notes
    assert note.startswith(f"{root} is not a git checkout (") and note.endswith(
        "): the files named are judged as committed")


def test_without_git_on_the_path_the_files_present_are_judged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, {"dist/tool-1.0-py3-none-any.whl": b"PK"})
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    assert tracked_files(tmp_path) == (None, "git is not installed")
    found, notes = committed_findings(tmp_path)
    assert [f.location.path for f in found] == ["dist/tool-1.0-py3-none-any.whl"]
    assert notes == [f"{tmp_path} is not a git checkout (git is not installed): every file present is judged as "
                     "committed"]


@needs_git
def test_symlinks_never_lead_out_of_the_checkout(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write(outside, {"libsecret.so": elf_header(), "six.py": b'__version__ = "1.16.0"\n'})
    (repo / "linked.so").symlink_to(outside / "libsecret.so")
    (repo / "pkg").symlink_to(outside)
    git(repo, "add", "linked.so", "pkg")
    git(repo, "commit", "-q", "-m", "links")
    # a tracked directory replaced by a link to somewhere else after the commit
    shutil.rmtree(repo / "wheels")
    (repo / "wheels").symlink_to(outside)
    found, notes = committed_findings(repo)
    paths = {f.location.path for f in found}
    assert not paths & {"linked.so", "pkg", "pkg/six.py", "wheels/boto3-1.34.0-py3-none-any.whl", "wheels/six.py"}
    assert notes == ["committed files: wheels: not a directory in the checkout (a symlink or missing); not followed"]


@needs_git
def test_damaged_and_non_elf_binaries(repo: Path) -> None:
    write(repo, {
        "bin/broken.so": b"\x7fELF\x09garbage",  # the ELF magic, an invalid class
        "bin/readme.so": b"not a library\n",  # named like one, not one
        "win/_speedups.pyd": b"MZ\x90\x00" + b"\0" * 60,
        "win/notes.pyd": b"text\n",
        "mac/libfoo.dylib": b"\xcf\xfa\xed\xfe" + b"\0" * 28,
        "lfs/libbig.so.3": b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"0" * 64 + b"\nsize 9\n",
    })
    git(repo, "add", "-A")
    found = {f.location.path: f for f in committed_findings(repo)[0] if f.rule == "DS103"}
    assert {"bin/broken.so", "win/_speedups.pyd", "mac/libfoo.dylib"} <= set(found)
    assert not {"bin/readme.so", "win/notes.pyd"} & set(found)
    assert "invalid ELF class 9" in found["bin/broken.so"].message
    assert "Windows PE" in found["win/_speedups.pyd"].message
    assert "Mach-O" in found["mac/libfoo.dylib"].message
    assert "through Git LFS" in found["lfs/libbig.so.3"].message
    # a tracked file deleted from the working tree is not read, and nothing breaks
    (repo / "six.py").unlink()
    assert "six.py" not in {f.location.path for f in committed_findings(repo)[0]}


@needs_git
def test_install_targets_and_a_project_s_own_egg_info(tmp_path: Path) -> None:
    root = tmp_path / "fn"
    root.mkdir()
    git(root, "init", "-q")
    files = {**dist("idna", "3.4"), **dist("certifi", "2024.2.2", modules={
        "certifi/__init__.py": b'__version__ = "2024.02.02"\n', "certifi/_helper.so": elf_header()})}
    files["app.py"] = b"import idna\n"
    files["src/myproj.egg-info/PKG-INFO"] = b"Metadata-Version: 2.1\nName: myproj\nVersion: 0.1\n"
    files["src/myproj.egg-info/SOURCES.txt"] = b"src/myproj/__init__.py\n"
    files["src/myproj/__init__.py"] = b""
    files["src/myproj/_accel.so"] = elf_header(padding=b"\x01" * 64)
    write(root, files)
    git(root, "add", "-A")
    found = {(f.rule, f.location.path): f for f in committed_findings(root)[0]}
    # pip install -t . : the distributions at the top are one finding (their RECORD-listed .so included)
    top = found["DS101", "certifi-2024.2.2.dist-info"]
    assert top.message == ("installed distributions are committed in the top of the repository: 2 distributions "
                           "(certifi 2024.2.2, idna 3.4)")
    own = found["DS101", "src"]
    assert own.message == "build metadata of a project is committed: src/myproj.egg-info"
    assert own.fix == ("Remove src/myproj.egg-info/ from git and add *.egg-info to .gitignore: pip and setuptools "
                       "regenerate it.")
    # the project's own extension module beside its egg-info is judged on its own
    assert set(found) == {("DS101", "certifi-2024.2.2.dist-info"), ("DS101", "src"), ("DS103", "src/myproj/_accel.so")}


@needs_git
def test_a_scan_of_a_checkout_reports_what_it_commits(repo: Path, tmp_path: Path) -> None:
    write(repo, {"untracked/tool-2.0-py3-none-any.whl": b"PK"})
    rules = {(f.rule, f.location.path) for f in scan(repo).policy_findings}
    assert ("DS101", SITE) in rules and ("DS102", "six.py") in rules
    assert ("DS104", "untracked/tool-2.0-py3-none-any.whl") not in rules
    # a directory that is no checkout (an unpacked deployment) is made of installed files by design
    plain = tmp_path / "unpacked"
    shutil.copytree(repo, plain, symlinks=True, ignore=shutil.ignore_patterns(".git"))
    assert not [f for f in scan(plain).policy_findings if f.rule.startswith("DS")]


def test_git_errors_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if GIT is None:
        pytest.skip("no git on PATH")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    monkeypatch.delenv("GIT_DIR", raising=False)
    tracked, why = tracked_files(tmp_path)
    assert tracked is None and why is not None and "not a git repository" in why and "\n" not in why
    assert os.path.isdir(tmp_path)


@needs_git
def test_sarif_describes_each_repository_rule(repo: Path) -> None:
    from depscan.committed import RULES
    from depscan.reporters import ReportOptions
    from depscan.reporters.sarif import POLICY_RULE_TEXT, render

    assert set(RULES) <= set(POLICY_RULE_TEXT)
    log = json.loads(render(scan(repo), ReportOptions()))
    rules = {r["name"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    for rule in ("DS101", "DS102", "DS104"):
        described = rules[rule]
        assert described["shortDescription"]["text"] == POLICY_RULE_TEXT[rule][0]
        assert described["properties"]["tags"] == ["policy", "repository"]
    results = [r for r in log["runs"][0]["results"] if r["message"]["text"].startswith("a vendored copy of six")]
    (six,) = results
    assert six["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "six.py"


@needs_git
def test_copies_beside_a_function_s_requirements_and_copies_without_a_version(tmp_path: Path) -> None:
    root = tmp_path / "functions repo"
    root.mkdir()
    git(root, "init", "-q")
    write(root, {
        "functions/api/requirements.txt": b"requests==2.31.0\n",
        "functions/api/handler.py": b"import six\n",
        "functions/api/six.py": b'__version__ = "1.16.0"\n',
        "functions/api/attr/__init__.py": b"from attr._make import attrs\n",
        "src/yaml/__init__.py": b'__version__ = "6.0.1"\n',
        "docs/six.py": b'__version__ = "1.16.0"\n',  # no project here: an example, not an import root
    })
    git(root, "add", "-A")
    found = {f.location.path: f for f in committed_findings(root)[0]}
    assert set(found) == {"functions/api/six.py", "functions/api/attr", "src/yaml"}
    attrs = found["functions/api/attr"]
    assert attrs.message.startswith("a vendored copy of attrs (version unknown) is committed at functions/api/attr/")
    assert attrs.fix == ("Remove functions/api/attr/ from git and declare attrs, pinned to the version the copy is, "
                         "in requirements.txt.")
    assert found["src/yaml"].component == "pkg:pypi/pyyaml@6.0.1"


@needs_git
def test_a_directory_named_stands_for_the_files_below_it(repo: Path) -> None:
    found, _ = committed_findings(repo, ["layer", str(repo / "wheels")])
    assert [(f.rule, f.location.path) for f in found] == [
        ("DS101", SITE), ("DS104", "wheels/boto3-1.34.0-py3-none-any.whl")]
    assert committed_findings(repo, [])[0] == []


def test_a_view_of_listed_files_only(tmp_path: Path) -> None:
    from depscan.artifacts.directory import open_listed
    from depscan.artifacts.view import EntryType, OpenContext

    root = tmp_path / "checkout"
    write(root, {"a/b.py": b"x = 1\n", "a/__pycache__/b.cpython-312.pyc": b"\0", "c.txt": b"c", "untracked.py": b""})
    write(tmp_path, {"secret/key.so": elf_header()})
    (root / "link").symlink_to(tmp_path / "secret")
    (root / "file-link.so").symlink_to(tmp_path / "secret" / "key.so")
    listed = ["a/b.py", "a/__pycache__/b.cpython-312.pyc", "c.txt", "../secret/key.so", "/etc/passwd",
              "link/key.so", "file-link.so", "gone.py", "a"]
    with open_listed(str(root), "checkout", listed, OpenContext()) as view:
        entries = {e.path: e.type for e in view.entries()}
        assert entries == {"a": EntryType.DIR, "a/b.py": EntryType.FILE, "c.txt": EntryType.FILE,
                           "file-link.so": EntryType.SYMLINK}
        assert view.read("a/b.py") == b"x = 1\n"
        with pytest.raises(MemberError, match="points outside the artifact"):
            view.read("file-link.so")
        assert [(u.location.path, u.reason) for u in view.unknowns] == [
            ("link", "not a directory in the checkout (a symlink or missing); not followed")]


@needs_git
def test_a_committed_virtual_environment_is_named_as_one(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    git(root, "init", "-q")
    write(root, {"env/pyvenv.cfg": b"home = /usr/bin\nversion = 3.12.1\n",
                 "env/bin/activate": b"# activate\n",
                 **dist("idna", "3.4", root="env/lib/python3.12/site-packages"),
                 **dist("six", "1.16.0", root="other/lib/python3.12/site-packages")})
    git(root, "add", "-A")
    found = {f.location.path: f for f in committed_findings(root)[0]}
    venv = found["env/lib/python3.12/site-packages"]
    assert venv.message == ("a virtual environment is committed: env/ (it has a pyvenv.cfg); its site-packages tree "
                            "has 5 files with 1 distribution (idna 3.4)")
    assert venv.fix == ("Remove env/ from git and add it to .gitignore; declare what it holds in requirements.txt and "
                        "recreate it with pip.")
    # without a pyvenv.cfg, a lib/python3.X/site-packages is a site-packages tree
    assert found["other/lib/python3.12/site-packages"].message.startswith("a site-packages tree is committed: ")


@needs_git
@needs_cc
def test_the_command_line_scan_of_a_checkout_fails_on_what_it_commits(repo: Path, tmp_path: Path) -> None:
    from tests.helpers import cli

    report = tmp_path / "report.json"
    done = cli("scan", repo, "--source", "skip", "-o", f"json={report}")
    assert done.returncode == 1, done.stderr
    policy = json.loads(report.read_text())["policy_findings"]
    assert {"rule": "DS102", "severity": "medium", "message": "a vendored copy of six 1.16.0 is committed at six.py "
            "(six.py: version 1.16.0; import name 'six' is installed by six (depscan.vendored_names))",
            "component": "pkg:pypi/six@1.16.0"}.items() <= next(p for p in policy if p["rule"] == "DS102").items()
    # a high-only run still fails on the binary (DS103 is high), a critical-only run does not
    assert cli("scan", repo, "--source", "skip", "--fail-on", "high").returncode == 1
    assert cli("scan", repo, "--source", "skip", "--fail-on", "critical").returncode == 0


@needs_git
def test_an_ignored_directory_of_a_checkout_commits_nothing(repo: Path) -> None:
    write(repo, {"ignored/build/six.py": b'__version__ = "1.16.0"\n', "ignored/build/x.whl": b"PK"})
    assert committed_findings(repo / "ignored" / "build") == (
        [], [f"git tracks no file below {repo / 'ignored' / 'build'} (untracked and ignored files are not committed)"])
    # a tracked subdirectory is judged on its own: paths are relative to it
    found, notes = committed_findings(repo / "wheels")
    assert [(f.rule, f.location.path) for f in found] == [("DS104", "boto3-1.34.0-py3-none-any.whl")] and notes == []
