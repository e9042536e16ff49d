"""finish.finish: every report rendered before any is written, the summary line, the verdict."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from builders import dist, write_zip
from typer.testing import CliRunner

from depscan import finish as finish_module
from depscan.cli import app
from depscan.errors import ExitCode
from depscan.finish import finish, summary_line
from depscan.models import ScanResult
from depscan.reporters import Reporter, ReportOptions
from depscan.reporters import get_reporter as real_get_reporter
from tests.helpers import scan


def _broken_sarif(name: str) -> Reporter:
    if name == "sarif":
        def render(result: ScanResult, options: ReportOptions) -> bytes:
            raise ValueError("reporter bug")

        return render
    return real_get_reporter(name)


def test_a_failing_reporter_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("depscan.reporters.get_reporter", _broken_sarif)
    result = scan(write_zip(tmp_path / "a.zip", dist("x", "1.0")))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ValueError, match="reporter bug"):
        finish(result, [("json", str(out / "r.json")), ("sarif", str(out / "r.sarif"))], seconds=0.0)
    assert os.listdir(out) == []  # the json report was rendered but never written
    monkeypatch.delenv("DEPSCAN_DEBUG", raising=False)
    cli = CliRunner().invoke(app, ["scan", str(tmp_path / "a.zip"), "--source", "skip",
                                   "-o", f"json={out / 'r.json'}", "-o", f"sarif={out / 'r.sarif'}"])
    assert cli.exit_code == ExitCode.INTERNAL
    assert os.listdir(out) == []


def test_finish_writes_reports_and_returns_lines_and_verdict(tmp_path: Path) -> None:
    files = dist("ok", "1.0") | {"bad-1.dist-info/METADATA": b"Name: bad\n"}
    result = scan(write_zip(tmp_path / "u.zip", files))
    target = tmp_path / "r.json"
    done = finish(result, [("json", str(target))], seconds=1.5, strict=True)
    assert json.loads(target.read_text())["summary"]["unknowns"] == 1
    assert done.verdict.code is ExitCode.INCOMPLETE
    assert done.lines == (summary_line(result, 1.5),)
    assert done.lines[0] == f"depscan: {tmp_path / 'u.zip'} (zip): 1 Python distributions, 1 unknowns in 1.50s"
    assert finish_module.STDOUT == "-"


def test_new_only_without_a_baseline_writes_nothing(tmp_path: Path) -> None:
    from depscan.errors import UsageError

    result = scan(write_zip(tmp_path / "a.zip", dist("x", "1.0")))
    with pytest.raises(UsageError, match="--new-only needs --baseline"):
        finish(result, [("json", str(tmp_path / "r.json"))], seconds=0.0, new_only=True)
    assert not (tmp_path / "r.json").exists()


def test_the_summary_line_of_a_rescan_names_the_artifact_the_sbom_describes() -> None:
    from depscan.finish import summary_line
    from depscan.models import ArtifactInfo, ScanResult

    result = ScanResult(
        artifact=ArtifactInfo(path="/ci/out/sbom.cdx.json", kind="sbom:cyclonedx-json:1.6", size=1,
                              describes="function.zip"),
        components=(), unknowns=(), source_kind="sbom",
    )
    assert summary_line(result, 1.0).startswith(
        "depscan: function.zip (described by sbom.cdx.json) (sbom:cyclonedx-json:1.6): 0 Python distributions")
