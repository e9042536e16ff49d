"""Reporters turn a ScanResult into bytes. The CLI owns files and streams."""

from __future__ import annotations

from collections.abc import Callable

from depscan.models import ScanResult

Reporter = Callable[[ScanResult], bytes]


def get_reporter(name: str, *, color: bool = False, width: int = 120) -> Reporter:
    """The reporter for a ``--format`` name."""
    if name == "json":
        from depscan.reporters.json_ import render

        return render
    if name == "pip-audit-json":
        from depscan.reporters.pip_audit_json import render as render_pip_audit

        return render_pip_audit
    if name == "table":
        from depscan.reporters.table import render_table

        return lambda result: render_table(result, color=color, width=width)
    raise ValueError(f"unknown format {name!r}")


FORMATS = ("table", "json", "pip-audit-json")
