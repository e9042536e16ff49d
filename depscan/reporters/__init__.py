"""Reporters turn a ScanResult into bytes. The CLI owns files and streams.

Every reporter is a function ``render(result, options) -> bytes`` in its own module, imported
only when its format is asked for (start-up stays light).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from depscan.models import ScanResult


@dataclass(frozen=True, slots=True)
class ReportOptions:
    """Settings some reporters use."""

    color: bool = False  # table: ANSI colours (a terminal)
    width: int = 120  # table: columns
    cyclonedx_version: str = "1.6"  # cyclonedx-json / cyclonedx-xml: 1.6, 1.5 or 1.4


Reporter = Callable[[ScanResult, ReportOptions], bytes]

# format name -> (module, function)
_REPORTERS: dict[str, tuple[str, str]] = {
    "table": ("depscan.reporters.table", "render"),
    "json": ("depscan.reporters.json_", "render"),
    "pip-audit-json": ("depscan.reporters.pip_audit_json", "render"),
    "markdown": ("depscan.reporters.markdown", "render"),
    "cyclonedx-json": ("depscan.reporters.cyclonedx", "render_json"),
    "cyclonedx-xml": ("depscan.reporters.cyclonedx", "render_xml"),
    "spdx-json": ("depscan.reporters.spdx", "render"),
    "sarif": ("depscan.reporters.sarif", "render"),
}

FORMATS = tuple(_REPORTERS)


def get_reporter(name: str) -> Reporter:
    """The reporter for a format name (one of ``FORMATS``)."""
    try:
        module, function = _REPORTERS[name]
    except KeyError:
        raise ValueError(f"unknown format {name!r}") from None
    reporter: Reporter = getattr(importlib.import_module(module), function)
    return reporter
