"""The lock-and-rescan plan at the end of a scan with findings (``finish.fix_plan``) and ``--check-index`` from
the command line: the pins it prints clear the findings once the artifact is rebuilt with them, and its
commands run as printed."""

from __future__ import annotations

import hashlib
import json
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest
import responses
from builders import dist, write_zip
from typer.testing import CliRunner

from depscan.cli import app
from depscan.pypi_index import SIMPLE_JSON

REPO = Path(__file__).resolve().parents[1]
SUBSET = REPO / "fixtures" / "advisories" / "pypi-subset.zip"


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    sys.path.insert(0, str(REPO / "fixtures" / "demo"))
    try:
        from build_demo import build
    finally:
        sys.path.pop(0)
    return build(tmp_path / "demo dir")


def _invoke(args: list[str]) -> Any:
    return CliRunner().invoke(app, args, catch_exceptions=False)


def _plan(stderr: str) -> tuple[list[str], list[str], list[str]]:
    """(pins, step-3 scan command, step-4 rescan command) from a run's stderr."""
    lines = stderr.splitlines()
    start = lines.index("depscan: fix plan (lock, rebuild, rescan):")
    pins = [line.strip() for line in lines[start:] if line.startswith("       ")]
    scan = next(line for line in lines[start:] if line.startswith("  3. ")).split(": ", 1)[1]
    rescan = next(line for line in lines[start:] if line.startswith("  4. ")).split("): ", 1)[1]
    return pins, shlex.split(scan), shlex.split(rescan)


def test_the_plan_pins_clear_the_findings_and_its_commands_run(demo: tuple[Path, Path], tmp_path: Path) -> None:
    function, layer = demo
    # in the order the command declares its options, long names: how the plan writes them back
    args = ["scan", str(function), "--layer", str(layer), "--output", f"json={tmp_path / 'before.json'}",
            "--advisories", str(SUBSET), "--fail-on", "high", "--max-db-age", "100000"]
    first = _invoke(args)
    assert first.exit_code == 1
    pins, scan_command, rescan_command = _plan(first.stderr)
    assert pins == ["certifi==2023.7.22", "idna==3.7", "Jinja2==2.11.3", "requests==2.31.0", "urllib3==1.26.18"]
    assert "availability not checked against the package index" in first.stderr
    # the exact command, this run's options, an SBOM output added
    assert scan_command[:2] == ["depscan", "scan"] and scan_command[2:-2] == args[1:]
    assert scan_command[-2:] == ["-o", "cyclonedx-json=sbom.cdx.json"]
    assert rescan_command == ["depscan", "rescan", "sbom.cdx.json", "--advisories", str(SUBSET), "--fail-on", "high",
                              "--max-db-age", "100000"]
    doc = json.loads((tmp_path / "before.json").read_text())
    assert {f["name"]: f["recommended"] for f in doc["fixes"] if f["status"] == "used"} == {
        p.split("==")[0]: p.split("==")[1] for p in pins}

    # rebuild with the pins (the demo's function, every pinned distribution at its pinned version)
    pinned = dict(p.split("==") for p in pins)
    files: dict[str, bytes] = {"app.py": b"import requests\n"}
    for name, version in pinned.items():
        root = "python" if name == "Jinja2" else ""
        files |= dist(name, version, root=root) if root else dist(name, version)
    files |= dist("chardet", "3.0.4") | dist("MarkupSafe", "1.0", root="python")
    rebuilt = write_zip(tmp_path / "rebuilt.zip", files)
    command = [word if word != str(function) else str(rebuilt) for word in scan_command[1:]]
    command = [w for i, w in enumerate(command) if w != "--layer" and (i == 0 or command[i - 1] != "--layer")]
    second = _invoke(command)
    after = json.loads((tmp_path / "before.json").read_text())
    left = {f["component"]["name"] for f in after["vulnerabilities"] if f["suppressed"] is None}
    assert not left & {name.lower() for name in pinned}, left
    assert "fix plan" not in second.stderr and second.exit_code == 0, second.stderr
    assert (tmp_path / "sbom.cdx.json").is_file()
    # and the scheduled rescan of the SBOM, as printed
    third = _invoke(rescan_command[1:])
    assert third.exit_code == 0, third.stderr


def test_check_index_from_the_command_line(demo: tuple[Path, Path], tmp_path: Path) -> None:
    function, _layer = demo
    index = "https://mirror.example/simple/"
    wheel = "urllib3-1.26.18-py2.py3-none-any.whl"
    page = {"meta": {"api-version": "1.1"}, "name": "urllib3", "files": [
        {"filename": name, "url": f"https://files.example/{name}", "hashes": {"sha256": hashlib.sha256(
            name.encode()).hexdigest()}, **extra}
        for name, extra in (("urllib3-1.26.17-py2.py3-none-any.whl", {"yanked": "regression"}),
                            (wheel, {}), ("urllib3-1.26.18.tar.gz", {}), ("urllib3-2.2.2-py3-none-any.whl", {}))]}
    out = tmp_path / "out.json"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(f"{index}urllib3/", json=page, content_type=SIMPLE_JSON)
        rsps.get("https://mirror.example/pypi/urllib3/1.26.18/json", json={"info": {"requires_dist": []}})
        for other in ("certifi", "idna", "requests"):
            rsps.get(f"{index}{other}/", status=404)
        result = _invoke(["scan", str(function), "--advisories", str(SUBSET), "--max-db-age", "100000",
                          "--check-index", "--index-url", index, "-o", f"json={out}"])
    assert result.exit_code == 1, result.stderr
    fixes = {f["name"]: f for f in json.loads(out.read_text())["fixes"]}
    urllib3 = fixes["urllib3"]
    assert urllib3["availability_checked"] is True and urllib3["index_url"] == index
    assert urllib3["recommended"] == "1.26.18" and urllib3["newest_in_major"] == "1.26.18"
    assert urllib3["hashes"] == [f"sha256:{hashlib.sha256(n.encode()).hexdigest()}"
                                 for n in (wheel, "urllib3-1.26.18.tar.gz")]
    assert fixes["idna"]["recommended"] is None and "not on the index" in fixes["idna"]["why_not"]
    assert "availability not checked" not in result.stderr


def test_check_index_options_are_checked() -> None:
    bad = _invoke(["scan", "x.zip", "--check-index", "--index-url", "ftp://x/"])
    assert bad.exit_code == 2 and "--index-url must be an http(s) URL" in bad.stderr
    skip = _invoke(["scan", "x.zip", "--check-index", "--source", "skip"])
    assert skip.exit_code == 2 and "--check-index needs advisories" in skip.stderr


def test_the_plan_on_stderr_is_capped_and_says_how_many_more() -> None:
    from depscan.finish import PLAN_LINES, fix_plan
    from tests.advisories.osv_records import record
    from tests.test_fixes import _dist, _result

    names = [f"p{i:02}" for i in range(PLAN_LINES + 5)]
    copies = [_dist(n, "1.0") for n in names] + [_dist(n, "1.0", path=f"other/{n}-1.0.dist-info/METADATA")
                                                 for n in names]
    result = _result(copies, [record(f"A-{n}", n, events=[{"introduced": "0"}]) for n in names])
    lines = fix_plan(result, [], ["depscan", "scan", "x.zip"])
    told = [line for line in lines if line.startswith("     no fix for")]
    assert len(told) == PLAN_LINES and len(set(told)) == PLAN_LINES  # two copies of one version: said once
    assert lines[lines.index(told[-1]) + 1] == ("     ... and 5 more conflicts or distributions without a fix (the "
                                                "reports' fixes section has every one)")
    assert "1. no version to pin" in lines[1]
