"""``depscan check``: finding the declared files, includes, and the real command line (exit codes, formats)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from depscan.declared.check import check_paths, collect, tracked_files, walked_files
from depscan.declared.config import CheckConfig
from tests.helpers import cli

SHA = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _places(result: object) -> list[tuple[str, str, int | None]]:
    return [(f.rule, f.location.path, f.line) for f in result.policy_findings]  # type: ignore[attr-defined]


def test_a_walk_finds_declared_files_and_skips_environments(tmp_path: Path) -> None:
    _write(tmp_path, {
        "requirements.txt": "six==1.16.0\n",
        "requirements/dev.txt": "pytest\n",
        "svc/dev-requirements.txt": "-e .\n",
        ".venv/lib/python3.12/site-packages/x/requirements.txt": "junk\n",
        "node_modules/a/requirements.txt": "junk\n",
        "lib/site-packages/requirements.txt": "junk\n",
        "MANIFEST.in": "include README\n",
        "notes.txt": "not requirements\n",
    })
    result = check_paths([str(tmp_path)], CheckConfig(), cwd=tmp_path)
    assert _places(result) == [("DS001", "requirements/dev.txt", 1)]
    assert result.stats["declared_files"] == 3 and result.artifact.kind == "repository"


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_a_git_checkout_checks_tracked_files_only(tmp_path: Path) -> None:
    root = tmp_path / "repo with space"
    _write(root, {"requirements.txt": "six==1.16.0\n", "sub/requirements.txt": "flask\n",
                  "untracked-requirements.txt": "requests\n", ".gitignore": "ignored/\n",
                  "ignored/requirements.txt": "requests\n"})
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q", str(root)], check=True, env=env)
    subprocess.run(["git", "-C", str(root), "add", "requirements.txt", "sub/requirements.txt", ".gitignore"],
                   check=True, env=env)
    assert sorted(tracked_files(root) or []) == [".gitignore", "requirements.txt", "sub/requirements.txt"]
    assert tracked_files(root / "sub") == ["requirements.txt"]  # relative to the directory asked about
    assert _places(check_paths([str(root)], CheckConfig(), cwd=tmp_path)) == [
        ("DS001", "repo with space/sub/requirements.txt", 1)]


def test_not_a_checkout_is_none(tmp_path: Path) -> None:
    if (Path(tmp_path).resolve() / ".git").exists():
        pytest.skip("temporary directory inside a git checkout")
    assert tracked_files(tmp_path) is None or tracked_files(tmp_path) == []
    _write(tmp_path, {"a/b.txt": ""})
    assert walked_files(tmp_path) == ["a/b.txt"]


def test_includes_missing_outside_cycles_and_links(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _write(root, {
        "requirements.txt": "-r base.txt\n-r missing.txt\n-r ../outside.txt\n-c pins.txt\n-r loop-a.txt\n"
                            "-r link.txt\nrequests\n",
        "base.txt": "-r requirements.txt\nsix==1.16.0\n",
        "pins.txt": "requests==2.31.0\n",
        "loop-a.txt": "-r loop-b.txt\n",
        "loop-b.txt": "-r loop-a.txt\n",
    })
    _write(tmp_path, {"outside.txt": "flask\n", "secret.txt": "token\n"})
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    checked = collect(root, ["requirements.txt"])
    files = {f.path: f for f in checked.files}
    assert set(files) == {"requirements.txt", "base.txt", "pins.txt", "loop-a.txt", "loop-b.txt", "link.txt"}
    assert files["pins.txt"].requirements[0].source == "constraints"
    errors = dict(files["requirements.txt"].errors)
    assert "no such file" in errors[2] and "outside the checked root" in errors[3]
    assert any("include cycle (requirements.txt -> base.txt -> requirements.txt)" in e
               for _n, e in files["base.txt"].errors)
    assert any("include cycle" in e for _n, e in files["loop-b.txt"].errors)
    assert "leaves the checked root" in files["link.txt"].errors[0][1]
    result = check_paths(["requirements.txt"], CheckConfig(), cwd=root)
    # only the named file is reported; requests is pinned by the constraint file
    assert _places(result) == [("DS007", "requirements.txt", 2), ("DS007", "requirements.txt", 3)]


def test_unreadable_files_are_findings_not_crashes(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_bytes(b"six==1.16.0\n\xff\xfe bad\n")
    (tmp_path / "constraints.txt").write_bytes(b"\x00\x01binary")
    (tmp_path / "requirements-big.txt").write_bytes(b"a" * 2_000_000)
    result = check_paths(["."], CheckConfig(), cwd=tmp_path)
    messages = {f.location.path: f.message for f in result.policy_findings}
    assert set(messages) == {"requirements.txt", "constraints.txt", "requirements-big.txt"}
    assert "not UTF-8" in messages["requirements.txt"] and "NUL" in messages["constraints.txt"]
    assert "characters long" in messages["requirements-big.txt"]


def test_pip_tools_input_named_alone_reads_its_compiled_sibling(tmp_path: Path) -> None:
    _write(tmp_path, {"requirements.in": "requests\nflask\n", "requirements.txt": "requests==2.31.0\n"})
    assert _places(check_paths(["requirements.in"], CheckConfig(), cwd=tmp_path)) == [
        ("DS001", "requirements.in", 2)]


# -- the real command line ---------------------------------------------------------------------------------------


def test_cli_clean_file_exits_0(tmp_path: Path) -> None:
    _write(tmp_path, {"requirements.txt": f"six==1.16.0 --hash=sha256:{SHA}\n"})
    proc = cli("check", "requirements.txt", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "no findings" in proc.stdout
    assert "check requirements.txt: 1 declared file, 0 findings" in proc.stderr


def test_cli_findings_exit_1_with_file_and_line_in_every_format(tmp_path: Path) -> None:
    _write(tmp_path, {"requirements.txt": "six==1.16.0\nrequests>=2  # web\n--trusted-host pypi.example.com\n"})
    table = cli("check", cwd=tmp_path)
    assert table.returncode == 1
    assert "requirements.txt:2" in table.stdout and "DS001" in table.stdout and "Fix: Pin one exact" in table.stdout
    assert "2 policy finding(s) at or above --fail-on any (DS001, DS006)" in table.stderr
    markdown = cli("check", "-f", "markdown", cwd=tmp_path)
    assert "`requirements.txt:2`" in markdown.stdout and "Fix: " in markdown.stdout
    report = json.loads(cli("check", "-f", "json", cwd=tmp_path).stdout)
    first = report["policy_findings"][0]
    assert (first["rule"], first["line"], first["text"], first["location"]["path"]) == (
        "DS001", 2, "requests>=2", "requirements.txt")
    assert first["fix"].startswith("Pin one exact version")
    sarif = json.loads(cli("check", "-o", f"sarif={tmp_path / 'out.sarif'}", cwd=tmp_path).stdout or
                       (tmp_path / "out.sarif").read_text())
    run = sarif["runs"][0]
    results = {r["ruleId"]: r for r in run["results"]}
    region = results["DS001"]["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 2, "snippet": {"text": "requests>=2"}}
    assert results["DS001"]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "requirements.txt"
    assert "Fix: Pin one exact version" in results["DS001"]["message"]["text"]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert rules["DS006"]["shortDescription"]["text"] == "A trusted host: TLS verification off"
    assert "repository" in rules["DS006"]["properties"]["tags"]


def test_cli_fail_on_and_config(tmp_path: Path) -> None:
    _write(tmp_path, {"requirements.txt": "requests\n"})
    assert cli("check", "--fail-on", "high", cwd=tmp_path).returncode == 0  # DS001 is medium
    _write(tmp_path, {".depscan.toml": '[check]\nignore = ["DS001"]\n'})
    assert cli("check", cwd=tmp_path).returncode == 0
    _write(tmp_path, {".depscan.toml": '[check]\nrequire-hashes = true\nignore = ["DS001"]\n'})
    proc = cli("check", cwd=tmp_path)
    assert proc.returncode == 1 and "DS002" in proc.stderr
    _write(tmp_path, {".depscan.toml": "[check]\nignore = \"DS001\"\n"})
    bad = cli("check", cwd=tmp_path)
    assert bad.returncode == 2 and "[check] ignore must be a list" in bad.stderr


def test_cli_require_hashes_option(tmp_path: Path) -> None:
    _write(tmp_path, {"requirements.txt": "six==1.16.0\n"})
    assert cli("check", cwd=tmp_path).returncode == 0
    proc = cli("check", "--require-hashes", cwd=tmp_path)
    assert proc.returncode == 1 and "DS002" in proc.stderr


def test_cli_usage_errors(tmp_path: Path) -> None:
    _write(tmp_path, {"requirements.txt": "six==1.16.0\n"})
    assert cli("check", "-f", "cyclonedx-json", cwd=tmp_path).returncode == 2
    assert cli("check", "missing.txt", cwd=tmp_path).returncode == 2
    assert cli("check", ".", "requirements.txt", cwd=tmp_path).returncode == 2
    assert cli("check", "--fail-on", "bogus", cwd=tmp_path).returncode == 2


def test_scan_of_a_directory_includes_the_rules(tmp_path: Path) -> None:
    _write(tmp_path / "app", {"requirements.txt": "requests\n", "handler.py": "print('hi')\n"})
    proc = cli("scan", tmp_path / "app", "-f", "json", "--source", "skip")
    report = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert [(f["rule"], f["location"]["path"], f["line"]) for f in report["policy_findings"]] == [
        ("DS001", "requirements.txt", 1)]


# -- --audit: the exact pins against advisories ------------------------------------------------------------------

SUBSET = Path(__file__).resolve().parent.parent / "fixtures" / "advisories" / "pypi-subset.zip"


def test_pinned_components_are_exact_pins_only(tmp_path: Path) -> None:
    from depscan.declared.check import pinned_components
    from depscan.declared.requirements_txt import parse

    declared = parse("requirements.txt", "Requests==2.19.1\nflask>=2\n-e .\ntool @ https://x/tool-1.0.tar.gz\n"
                                         "six==1.16.0\nsix==1.16.0 ; python_version < '3'\n")
    dists = pinned_components([declared], "app/")
    assert [(d.name, d.version, d.purl, d.metadata_location.path, d.found_by, d.declared_line) for d in dists] == [
        ("requests", "2.19.1", "pkg:pypi/requests@2.19.1", "app/requirements.txt", "declared", 1),
        ("six", "1.16.0", "pkg:pypi/six@1.16.0", "app/requirements.txt", "declared", 5)]


def test_cli_audit_against_the_offline_database(tmp_path: Path) -> None:
    db = tmp_path / "osv.db"
    assert cli("db", "import", SUBSET, "--db", db).returncode == 0
    repo = tmp_path / "repo"
    _write(repo, {"requirements.txt": "requests==2.19.1\nsix==1.16.0\n"})
    proc = cli("check", "--audit", "--db", db, "-f", "json", cwd=repo)
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert {v["id"] for v in report["vulnerabilities"]} >= {"PYSEC-2018-28", "PYSEC-2023-74"}
    assert {c["name"] for c in report["components"]} == {"requests", "six"}
    assert "1 of 2 pins vulnerable" in proc.stderr
    sarif = json.loads(cli("check", "--audit", "--db", db, "-f", "sarif", cwd=repo).stdout)
    places = {(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
               r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in sarif["runs"][0]["results"]}
    assert places == {("requirements.txt", 1)}
    _write(repo, {"requirements.txt": "# pins\nsix==1.16.0\nrequests==2.19.1\n"})
    report = json.loads(cli("check", "--audit", "--db", db, "-f", "json", cwd=repo).stdout)
    assert {c["name"]: c["line"] for c in report["components"]} == {"six": 2, "requests": 3}
    sarif = json.loads(cli("check", "--audit", "--db", db, "-f", "sarif", cwd=repo).stdout)
    assert {r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in sarif["runs"][0]["results"]} == {3}
    _write(repo, {"requirements.txt": "requests==2.32.3\nsix==1.16.0\n"})
    clean = cli("check", "--audit", "--db", db, cwd=repo)
    assert clean.returncode == 0, clean.stderr
    assert "0 of 2 pins vulnerable" in clean.stderr
    assert cli("check", "--audit", "--source", "skip", cwd=repo).returncode == 2


def test_a_directory_checks_what_its_files_include_whatever_the_name(tmp_path: Path) -> None:
    _write(tmp_path, {"requirements.txt": "-r base.pip\nsix==1.16.0\n", "base.pip": "flask\n"})
    assert _places(check_paths(["."], CheckConfig(), cwd=tmp_path)) == [("DS001", "base.pip", 1)]
    assert _places(check_paths(["requirements.txt"], CheckConfig(), cwd=tmp_path)) == []


def test_scan_directory_rules_use_git_or_what_the_scan_read(tmp_path: Path) -> None:
    from depscan.declared.check import check_directory

    _write(tmp_path, {"requirements.txt": "requests\n", ".venv/requirements.txt": "flask\n",
                      ".depscan.toml": "[check]\nbogus = 1\n"})
    findings, notes = check_directory(tmp_path, ["requirements.txt", ".venv/requirements.txt"])
    assert [(f.rule, f.location.path) for f in findings] == [("DS001", "requirements.txt")]
    assert len(notes) == 1 and "unknown key(s) bogus" in notes[0] and "defaults" in notes[0]


def test_a_named_link_keeps_its_name(tmp_path: Path) -> None:
    _write(tmp_path, {"pins/real.txt": "requests\n"})
    (tmp_path / "requirements.txt").symlink_to(tmp_path / "pins" / "real.txt")
    assert _places(check_paths(["requirements.txt"], CheckConfig(), cwd=tmp_path)) == [
        ("DS001", "requirements.txt", 1)]


def test_a_clean_pre_commit_run_imports_little(tmp_path: Path) -> None:
    """A hook on one clean file must start fast: no rich (a clean table is one line), no report machinery of
    scans, no artifact readers. (subprocess comes with typer.)"""
    import sys

    _write(tmp_path, {"requirements.txt": f"six==1.16.0 --hash=sha256:{SHA}\n"})
    code = ("import sys, runpy\nsys.argv = ['depscan', 'check', 'requirements.txt']\n"
            "try:\n    runpy.run_module('depscan', run_name='__main__')\nexcept SystemExit as e:\n"
            "    assert e.code == 0, e.code\n"
            "print(sorted(m for m in sys.modules if m.startswith(('rich', 'depscan'))))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr
    loaded = proc.stdout.strip().splitlines()[-1]
    for heavy in ("'rich", "depscan.finish", "depscan.facts", "depscan.artifacts.detect", "depscan.scan'",
                  "depscan.reporters.table"):
        assert heavy not in loaded, (heavy, loaded)
    assert "depscan.declared.requirements_txt" in loaded
