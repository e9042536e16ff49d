"""End to end through the real command line: every exit code, outputs, errors as one line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from builders import dist, write_zip

from tests.helpers import cli

REPO = Path(__file__).resolve().parent.parent




def test_exit_0_table_and_summary(demo: tuple[Path, Path]) -> None:
    function, layer = demo
    # --fail-on medium: the demo's lib/libpq.so.5 is unowned on purpose (native-unowned is low)
    proc = cli("scan", function, "--layer", layer, "--source", "skip", "--fail-on", "medium")
    assert proc.returncode == 0, proc.stderr
    assert "requests" in proc.stdout and "2.19.1" in proc.stdout and "urllib3 (shadowed)" in proc.stdout
    note, summary = proc.stderr.strip().splitlines()
    assert note.startswith("depscan: note: Python code at the top") and note.endswith("own code: app.py")
    assert ("8 Python distributions, 1 shadowed, 1 native library (1 unowned), 1 identified library (1 low "
            "confidence), 0 unknowns") in summary
    assert "Native libraries" in proc.stdout and "libpq" in proc.stdout


def test_json_output_file_is_complete(demo: tuple[Path, Path], tmp_path: Path) -> None:
    function, layer = demo
    out = tmp_path / "report.json"
    proc = cli("scan", function, "-l", layer, "--format", "json", "--output", out, "--source", "skip",
               "--fail-on", "medium")  # the demo's unowned library is a low policy finding
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    doc = json.loads(out.read_text())
    assert doc["format"] == "depscan.scan" and doc["format_version"] == 2
    assert doc["artifact"]["kind"] == "lambda-function+layers"
    dists = [c for c in doc["components"] if c["type"] == "python-distribution"]
    names = sorted((c["normalized_name"], c["version"], c["status"]) for c in dists)
    assert ("urllib3", "1.26.5", "shadowed") in names and ("requests", "2.19.1", "used") in names
    (lib,) = [c for c in doc["components"] if c["type"] == "native-library"]
    assert (lib["name"], lib["version"], lib["owner"]) == ("libpq", "5", None)
    assert doc["summary"]["native_libraries"] == 1 and doc["summary"]["native_libraries_unowned"] == 1
    assert [n for n in os.listdir(tmp_path) if n.endswith(".tmp")] == []


def test_exit_2_usage(tmp_path: Path) -> None:
    proc = cli("scan", tmp_path, "--format", "yaml")
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("depscan: error: unknown --format 'yaml'; one of: table, json, ")
    assert cli("scan").returncode == 2
    assert cli("scan", tmp_path, "--kind", "rpm").returncode == 2


def test_exit_3_missing_and_unsupported_input(tmp_path: Path) -> None:
    proc = cli("scan", tmp_path / "nope.zip")
    assert proc.returncode == 3
    assert proc.stderr.strip() == f"depscan: error: {tmp_path / 'nope.zip'}: no such file or directory"
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    proc = cli("scan", text)
    assert proc.returncode == 3
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"depscan: error: {text}: not a zip, wheel, tar")


def test_exit_3_hostile_input_writes_nothing(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "many.zip", {f"f{i}": b"" for i in range(30)})
    out = tmp_path / "out.json"
    proc = cli("scan", path, "--max-entries", "10", "-f", "json", "-o", out)
    assert proc.returncode == 3
    assert "more than 10 entries" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()
    assert sorted(os.listdir(tmp_path)) == ["many.zip"]


def test_exit_3_truncated_zip(tmp_path: Path) -> None:
    data = write_zip(tmp_path / "a.zip", dist("x", "1")).read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(data[:-30])
    proc = cli("scan", cut)
    assert proc.returncode == 3
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"depscan: error: {cut}: not a readable zip archive")


def test_exit_5_strict_with_unknowns_and_0_without(tmp_path: Path) -> None:
    files = dist("ok", "1.0") | {"bad-1.dist-info/METADATA": b"Name: bad\n"}
    path = write_zip(tmp_path / "u.zip", files)
    assert cli("scan", path, "--source", "skip").returncode == 0
    proc = cli("scan", path, "--strict", "--source", "skip")
    assert proc.returncode == 5
    assert proc.stderr.strip().splitlines()[-1] == "depscan: error: 1 unknown(s): the scan is incomplete (--strict)"
    assert "METADATA has no Version field" in proc.stdout


def test_unwritable_output_is_a_clean_error(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "a.zip", dist("x", "1"))
    target = tmp_path / "no" / "such" / "dir" / "out.txt"
    proc = cli("scan", path, "-o", target, "--source", "skip")
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith(f"depscan: error: {target}: cannot write")


def test_help_and_version() -> None:
    proc = cli("--help")
    assert proc.returncode == 0 and "scan" in proc.stdout
    proc = cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("depscan ")


def test_help_does_not_import_the_scanner() -> None:
    code = "import sys; from depscan import cli; print(sorted(m for m in sys.modules if m.startswith('depscan')))"
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "depscan.scan" not in out and "depscan.artifacts.zipfile_" not in out


def test_kind_override(tmp_path: Path) -> None:
    layer = write_zip(tmp_path / "layer.bin", dist("six", "1.16.0", root="python"))
    proc = cli("scan", layer, "--kind", "lambda-layer", "-f", "json", "--source", "skip")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["artifact"]["kind"] == "lambda-layer"
    assert [c["name"] for c in doc["components"]] == ["six"]
    proc = cli("scan", layer, "--kind", "tar")
    assert proc.returncode == 3
    assert proc.stderr.startswith(f"depscan: error: {layer}: ")


def test_progress_appears_only_after_a_second_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from depscan import cli as cli_module

    monkeypatch.setattr(cli_module._DelayedProgress, "DELAY", 0.05)
    monkeypatch.setattr(cli_module.sys.stderr, "isatty", lambda: True, raising=False)
    monkeypatch.delenv("CI", raising=False)
    fast = cli_module._DelayedProgress()
    fast.update("opening", 0, 0)
    fast.stop()  # a scan that ends before the delay shows nothing, ever
    time.sleep(0.15)
    assert fast._progress is None
    slow = cli_module._DelayedProgress()
    slow.update("opening", 0, 0)  # a long first stage: no further update arrives
    time.sleep(0.3)
    assert slow._progress is not None  # the timer showed it anyway
    slow.update("cataloging", 1, 2)
    slow.stop()
    assert slow._progress is None
    monkeypatch.setattr(cli_module.sys.stderr, "isatty", lambda: False, raising=False)
    quiet = cli_module._DelayedProgress()
    time.sleep(0.15)
    quiet.update("cataloging", 1, 2)
    assert quiet._progress is None  # never when stderr is not a terminal
    quiet.stop()
