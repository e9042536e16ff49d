"""Golden files for the text formats (JSON, pip-audit JSON, table, Markdown) on the demo result.

Volatile parts are redacted before comparing: the tmp_path and repository prefixes of paths,
the tool version, timestamps and the timing stats. Update with ``pytest --update-goldens``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from depscan import __version__
from depscan.models import ScanResult
from depscan.reporters import ReportOptions, get_reporter
from tests.redact import redact, redact_result

REPO = Path(__file__).resolve().parents[2]


def _redacted(result: ScanResult, fmt: str, tmp_path: Path) -> str:
    paths = [(str(tmp_path), "TMP"), (str(REPO), "REPO")]
    data = get_reporter(fmt)(redact_result(result, paths), ReportOptions(width=140))
    text = data.decode("utf-8")
    if fmt == "json":
        doc = json.loads(text)
        doc["stats"] = "REDACTED"
        doc["tool"]["version"] = "TOOL_VERSION"
        text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    return redact(text, extra=[(str(tmp_path), "TMP"), (str(REPO), "REPO"), (f"depscan {__version__}", "depscan V")])


def test_json_golden(full_result: ScanResult, tmp_path: Path, golden: Callable[[str, bytes], None]) -> None:
    golden("scan.json", _redacted(full_result, "json", tmp_path).encode())


def test_pip_audit_json_golden(full_result: ScanResult, tmp_path: Path, golden: Callable[[str, bytes], None]) -> None:
    golden("pip-audit.json", _redacted(full_result, "pip-audit-json", tmp_path).encode())


def test_table_golden(full_result: ScanResult, tmp_path: Path, golden: Callable[[str, bytes], None]) -> None:
    golden("scan.table.txt", _redacted(full_result, "table", tmp_path).encode())


def test_markdown_golden(full_result: ScanResult, tmp_path: Path, golden: Callable[[str, bytes], None]) -> None:
    golden("scan.md", _redacted(full_result, "markdown", tmp_path).encode())
