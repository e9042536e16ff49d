"""Every command goes through one guard: a DepscanError exits with its code and one line, a bug with
exit 70 and one line (DEPSCAN_DEBUG=1 adds the traceback). Through typer's CliRunner, in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from builders import dist, write_zip
from typer.testing import CliRunner, Result

from depscan.cli import app
from depscan.errors import ExitCode

REPO = Path(__file__).resolve().parent.parent
SUBSET = REPO / "fixtures" / "advisories" / "pypi-subset.zip"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("DEPSCAN_DB", raising=False)
    monkeypatch.delenv("DEPSCAN_DEBUG", raising=False)
    monkeypatch.chdir(tmp_path)


def invoke(*args: str | Path, debug: bool = False) -> Result:
    env = {"DEPSCAN_DEBUG": "1"} if debug else {}
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def error_line(result: Result) -> str:
    """The one line a failed run prints (there must be exactly one)."""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("depscan: error: "), line
    return line.removeprefix("depscan: error: ")


def test_internal_error_code_is_documented_and_distinct() -> None:
    assert ExitCode.INTERNAL == 70
    assert ExitCode.INTERNAL not in (ExitCode.FINDINGS, ExitCode.BAD_INPUT)
    readme = (REPO / "README.md").read_text()
    assert "| 70 | internal error" in readme and "DEPSCAN_DEBUG=1" in readme


def _boom(*args: object, **kwargs: object) -> None:
    raise KeyError("a bug\nacross lines")


@pytest.mark.parametrize(
    ("target", "args"),
    [
        ("depscan.scan.run", ("scan", "a.zip")),
        ("depscan.scan.rescan", ("rescan", "sbom.json", "--source", "offline")),
        ("depscan.db_commands.import_into", ("db", "import", "x.zip")),
        ("depscan.db_commands.update", ("db", "update")),
        ("depscan.db_commands.status_lines", ("db", "status")),
    ],
)
def test_a_bug_in_any_command_is_one_line_and_exit_70(
    monkeypatch: pytest.MonkeyPatch, target: str, args: tuple[str, ...]
) -> None:
    monkeypatch.setattr(target, _boom)
    result = invoke(*args)
    assert result.exit_code == ExitCode.INTERNAL, result.output
    line = error_line(result)
    assert line.startswith("internal error, a bug in depscan (KeyError: 'a bug\\nacross lines')")
    assert line.endswith("set DEPSCAN_DEBUG=1 for a traceback")
    assert "Traceback" not in result.output
    debug = invoke(*args, debug=True)
    assert debug.exit_code == ExitCode.INTERNAL
    assert "Traceback (most recent call last)" in debug.stderr and "_boom" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1].startswith("depscan: error: internal error, a bug in depscan")


def test_depscan_errors_keep_their_codes(tmp_path: Path) -> None:
    result = invoke("scan", tmp_path / "nope.zip")
    assert result.exit_code == ExitCode.BAD_INPUT
    assert error_line(result) == f"{tmp_path / 'nope.zip'}: no such file or directory"
    (tmp_path / ".depscan.toml").write_text("[[ignore]]\nid = 'X'\n")
    result = invoke("scan", write_zip(tmp_path / "a.zip", dist("x", "1")), "--advisories", SUBSET)
    assert result.exit_code == ExitCode.USAGE
    assert error_line(result) == ".depscan.toml: ignore X needs a 'reason'"


def test_new_only_without_baseline_is_refused_before_the_scan(tmp_path: Path) -> None:
    result = invoke("scan", tmp_path / "missing.zip", "--new-only")
    assert result.exit_code == ExitCode.USAGE
    assert error_line(result) == "--new-only needs --baseline"


def test_db_import_where_no_database_can_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("x")
    target = blocker / "osv.sqlite"
    result = invoke("db", "import", SUBSET, "--db", target)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert error_line(result).startswith(f"{target}: cannot create the database here (")
    result = invoke("db", "import", SUBSET, "--db", tmp_path)
    assert result.exit_code == ExitCode.USAGE
    assert error_line(result) == f"{tmp_path}: is a directory, not a database file"
    result = invoke("db", "update", "--db", target, "--url", "http://127.0.0.1:9")  # refused before any download
    assert result.exit_code == ExitCode.USAGE
    assert error_line(result).startswith(f"{target}: cannot create the database here (")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a file"]


def test_db_import_over_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    target = tmp_path / "notes.sqlite"
    target.write_text("not sqlite " * 100)
    result = invoke("db", "import", SUBSET, "--db", target)
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert error_line(result).startswith(f"{target}: not a depscan advisory database")
    assert target.read_text() == "not sqlite " * 100  # left as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.sqlite"]


def test_db_status_of_a_missing_or_unreadable_database(tmp_path: Path) -> None:
    missing = tmp_path / "dir with space" / "missing.sqlite"
    result = invoke("db", "status", "--db", missing)
    assert result.exit_code == ExitCode.BAD_INPUT
    assert error_line(result).startswith(f"{missing}: no such advisory database; create it with ")
    result = invoke("db", "status", "--db", tmp_path)
    assert result.exit_code == ExitCode.BAD_INPUT
    assert error_line(result) == f"{tmp_path}: is a directory, not an advisory database"
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"\x00garbage" * 200)
    result = invoke("db", "status", "--db", garbage)
    assert result.exit_code == ExitCode.BAD_INPUT
    assert error_line(result).startswith(f"{garbage}: not a depscan advisory database")


def test_db_status_of_a_good_database(tmp_path: Path) -> None:
    db = tmp_path / "osv.sqlite"
    assert invoke("db", "import", SUBSET, "--db", db).exit_code == 0
    result = invoke("db", "status", "--db", db)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:2] == [f"database: {db}", "records: 92"]
    assert lines[2].startswith("newest record modified: ") and lines[2].endswith("days ago)")
    assert lines[3].startswith(f"source: {SUBSET} (sha256 ")


def test_rescan_of_an_sbom_with_nothing_to_check_does_not_pass(tmp_path: Path) -> None:
    db = tmp_path / "osv.sqlite"
    assert invoke("db", "import", SUBSET, "--db", db).exit_code == 0
    empty = tmp_path / "empty.cdx.json"
    empty.write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, "components": []}))
    npm_only = tmp_path / "npm.cdx.json"
    npm_only.write_text(json.dumps({
        "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        "components": [{"type": "library", "name": "left-pad", "version": "1.3.0", "purl": "pkg:npm/left-pad@1.3.0"}],
    }))
    for sbom in (empty, npm_only):
        result = invoke("rescan", sbom, "--db", db)
        assert result.exit_code == ExitCode.LOOKUP_FAILED, result.output
        assert "No known vulnerabilities" not in result.stdout
        assert "Nothing was checked: the SBOM lists no PyPI component" in result.stdout
        markdown = invoke("rescan", sbom, "--db", db, "-f", "markdown")
        assert markdown.exit_code == ExitCode.LOOKUP_FAILED
        assert "**Nothing was checked**" in markdown.stdout and "No known vulnerabilities" not in markdown.stdout
        assert result.stderr.strip().splitlines()[-1] == (
            f"depscan: error: {sbom}: nothing was checked: the SBOM lists no PyPI component to match against "
            "advisories; it is NOT known to be free of vulnerabilities"
        )
    result = invoke("rescan", npm_only, "--db", db)
    assert "1 npm component(s) in the SBOM were not checked" in result.stderr


def test_repeated_constants_have_one_home() -> None:
    """The OSV API URL and the database variable are spelled once, in config.py (code only, not docs)."""
    for literal in ('"https://api.osv.dev"', '"DEPSCAN_DB"'):
        homes = sorted(
            str(p.relative_to(REPO)) for p in (REPO / "depscan").rglob("*.py") if literal in p.read_text()
        )
        assert homes == ["depscan/config.py"], (literal, homes)
