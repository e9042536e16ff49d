"""``depscan check`` families (issue 11): the committed-dependency rules (DS101-DS104) on a checkout or on the
files being committed, ``--only`` / ``--select`` / ``--ignore``, and ``--audit`` (the exact pins matched against
advisories: findings at ``file:line`` in every format, exit codes as ``scan``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from builders import dist, elf_header, write_zip

from depscan.declared.check import check_paths
from depscan.declared.config import CheckConfig
from tests.helpers import cli

GIT = shutil.which("git")
needs_git = pytest.mark.skipif(GIT is None, reason="no git on PATH to build the test repository")
SUBSET = Path(__file__).resolve().parent.parent / "fixtures" / "advisories" / "pypi-subset.zip"
ENV = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def git(root: Path, *args: str) -> None:
    assert GIT is not None
    subprocess.run([GIT, "-c", "user.email=t@example.com", "-c", "user.name=t", "-c", "init.defaultBranch=main",
                    "-c", "commit.gpgsign=false", *args], cwd=root, check=True, capture_output=True, env=ENV)


def write(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A checkout with an unpinned requirement, a committed .so, a wheel, a site-packages tree, and an untracked
    .so (not committed: never judged)."""
    root = tmp_path / "my repo"
    root.mkdir()
    git(root, "init", "-q")
    files = {
        "requirements.txt": b"six==1.16.0\nflask>=2\n",
        "lib/libfoo.so": elf_header(),
        "wheels/boto3-1.34.0-py3-none-any.whl": write_zip(tmp_path / "w.zip", dist("boto3", "1.34.0")).read_bytes(),
        "app.py": b"print('hello')\n",
    }
    files.update(dist("requests", "2.31.0", root="layer/python/lib/python3.12/site-packages"))
    write(root, files)
    git(root, "add", "-A")
    write(root, {"untracked/libbar.so": elf_header()})
    return root


def rules(result: object) -> list[tuple[str, str]]:
    return [(f.rule, f.location.path) for f in result.policy_findings]  # type: ignore[attr-defined]


@needs_git
def test_a_checkout_gets_both_rule_families(repo: Path) -> None:
    result = check_paths([str(repo)], CheckConfig(), cwd=repo.parent)
    assert sorted(rules(result)) == [
        ("DS001", "my repo/requirements.txt"),
        ("DS101", "my repo/layer/python/lib/python3.12/site-packages"),
        ("DS103", "my repo/lib/libfoo.so"),
        ("DS104", "my repo/wheels/boto3-1.34.0-py3-none-any.whl"),
    ]
    assert result.stats["committed_findings"] == 3
    only_pins = check_paths([str(repo)], CheckConfig(), cwd=repo.parent, families=frozenset({"pins"}))
    assert rules(only_pins) == [("DS001", "my repo/requirements.txt")]
    assert "committed_findings" not in only_pins.stats
    only_committed = check_paths(["."], CheckConfig(), cwd=repo, families=frozenset({"committed"}))
    assert [r for r, _ in rules(only_committed)] == ["DS101", "DS103", "DS104"]
    # .depscan.toml-style select / ignore apply to the committed rules as to the DS00x ones
    selected = check_paths(["."], CheckConfig(select=("DS1",), ignore=("DS104",)), cwd=repo)
    assert sorted(r for r, _ in rules(selected)) == ["DS101", "DS103"]


@needs_git
def test_files_being_committed_are_judged_alone(repo: Path) -> None:
    """What pre-commit passes: a staged .so gives its finding; the wheel and the tree, not named, give none; a
    requirements file named with it is a declared file (not a committed dependency)."""
    result = check_paths(["lib/libfoo.so", "requirements.txt"], CheckConfig(), cwd=repo)
    assert rules(result) == [("DS103", "lib/libfoo.so"), ("DS001", "requirements.txt")]
    committed = check_paths(["layer/python/lib/python3.12/site-packages/requests/__init__.py"], CheckConfig(),
                            cwd=repo, families=frozenset({"committed"}))
    assert rules(committed) == [("DS101", "layer/python/lib/python3.12/site-packages")]
    assert rules(check_paths(["app.py"], CheckConfig(), cwd=repo, families=frozenset({"committed"}))) == []
    # only the declared-file rules: a .so named is skipped with a note, as before
    pins = check_paths(["lib/libfoo.so"], CheckConfig(), cwd=repo, families=frozenset({"pins"}))
    assert rules(pins) == [] and pins.notes == ("lib/libfoo.so: not a declared-dependency file depscan reads; "
                                                "skipped",)


def test_a_directory_outside_git_has_nothing_committed(tmp_path: Path) -> None:
    if subprocess.run(["git", "-C", str(tmp_path), "rev-parse"], capture_output=True).returncode == 0:
        pytest.skip("the temporary directory is inside a git checkout")
    write(tmp_path, {"requirements.txt": b"six==1.16.0\n", "lib/libfoo.so": elf_header()})
    result = check_paths([str(tmp_path)], CheckConfig(), cwd=tmp_path)
    assert rules(result) == []
    assert any("not a git checkout: nothing is committed, the rules DS101-DS104 were not run" in n
               for n in result.notes)


@needs_git
def test_only_select_and_ignore_on_the_command_line(repo: Path) -> None:
    done = cli("check", "--only", "committed", "-f", "json", cwd=repo)
    assert done.returncode == 1, done.stderr
    assert [f["rule"] for f in json.loads(done.stdout)["policy_findings"]] == ["DS101", "DS103", "DS104"]
    done = cli("check", "--select", "DS1,DS001", "--ignore", "DS101", "--ignore", "DS104", "-f", "json", cwd=repo)
    assert [f["rule"] for f in json.loads(done.stdout)["policy_findings"]] == ["DS103", "DS001"]
    done = cli("check", "--only", "committed", "app.py", cwd=repo)
    assert done.returncode == 0 and "no findings" in done.stdout, done.stderr
    done = cli("check", "--only", "pinz", cwd=repo)
    assert done.returncode == 2 and "unknown --only 'pinz'; one of: pins, committed, audit" in done.stderr


REQUIREMENTS = "# deployed\nsix==1.16.0\nrequests==2.19.1  # HTTP\nflask>=2\n"


def test_audit_finds_vulnerable_pins_at_their_line(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(REQUIREMENTS)
    done = cli("check", "--audit", "--advisories", SUBSET, "requirements.txt", "-o", "json=out.json",
               "-o", "sarif=out.sarif", "-o", "markdown=out.md", "-o", "table", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "1 finding, 1 of 2 pins vulnerable" in done.stderr
    report = json.loads((tmp_path / "out.json").read_text())
    assert {f["id"] for f in report["vulnerabilities"]} == {"PYSEC-2018-28", "PYSEC-2023-74"}
    assert {(f["component"]["location"]["path"], f["component"].get("line")) for f in report["vulnerabilities"]} == {
        ("requirements.txt", 3)}
    assert [f["rule"] for f in report["policy_findings"]] == ["DS001"]
    sarif = json.loads((tmp_path / "out.sarif").read_text())
    places = {(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
               r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in sarif["runs"][0]["results"]}
    assert places == {("PYSEC-2018-28", "requirements.txt", 3), ("PYSEC-2023-74", "requirements.txt", 3),
                      ("DS001", "requirements.txt", 4)}
    assert "PYSEC-2023-74" in (tmp_path / "out.md").read_text()
    assert "requirements.txt:3" in done.stdout and "PYSEC-2018-28" in done.stdout  # the table


def test_audit_alone_and_clean_pins(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("six==1.16.0\nflask>=2\nrequests==2.31.0\n")
    done = cli("check", "--only", "audit", "--advisories", SUBSET, "requirements.txt", "-f", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["vulnerabilities"] == [] and report["policy_findings"] == []  # DS001 is the pins family's
    assert "0 of 2 pins vulnerable" in done.stderr


def test_audit_lookup_failure_is_never_clean(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("# pins\nsix==1.16.0\n")
    done = cli("check", "--only", "audit", "--source", "online", "--osv-url", "http://127.0.0.1:9",
               "--osv-retries", "0", "--osv-timeout", "10", "requirements.txt", "-o", "sarif=out.sarif", cwd=tmp_path)
    assert done.returncode == 4, done.stderr
    assert "NOT known to be free of vulnerabilities" in done.stderr and "pkg:pypi/six@1.16.0" in done.stderr
    (unchecked,) = json.loads((tmp_path / "out.sarif").read_text())["runs"][0]["results"]
    where = unchecked["locations"][0]["physicalLocation"]
    assert unchecked["ruleId"] == "depscan/unchecked"
    assert (where["artifactLocation"]["uri"], where["region"]["startLine"]) == ("requirements.txt", 2)
    done = cli("check", "--audit", "--source", "skip", "requirements.txt", cwd=tmp_path)
    assert done.returncode == 2 and "--audit needs advisories" in done.stderr


def test_a_pin_s_finding_keeps_its_fingerprint_when_lines_move(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("requests==2.19.1\n")
    first = cli("check", "--audit", "--advisories", SUBSET, "requirements.txt", "-f", "json", cwd=tmp_path)
    (tmp_path / "requirements.txt").write_text("# a comment above\nsix==1.16.0\nrequests==2.19.1\n")
    moved = cli("check", "--audit", "--advisories", SUBSET, "requirements.txt", "-f", "json", cwd=tmp_path)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "requirements.txt").write_text("requests==2.19.1\n")
    other = cli("check", "--audit", "--advisories", SUBSET, "other/requirements.txt", "-f", "json", cwd=tmp_path)

    def prints(done: subprocess.CompletedProcess[str]) -> dict[str, str]:
        assert done.returncode == 1, done.stderr
        return {f["id"]: f["fingerprint"] for f in json.loads(done.stdout)["vulnerabilities"]}

    assert prints(first) == prints(moved)
    assert set(prints(other).values()).isdisjoint(prints(first).values())  # another file: another finding
