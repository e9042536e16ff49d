"""Reporters turn a ScanResult into bytes. The CLI owns files and streams.

Every reporter is a function ``render(result, options) -> bytes`` in its own module, imported
only when its format is asked for (start-up stays light). A format whose reports can be too large to
hold in memory also has a streamer, ``stream(result, options) -> Iterable[str]`` (the same text in
pieces), used when the report goes to a file.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
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

Streamer = Callable[[ScanResult, ReportOptions], Iterable[str]]

# format name -> (module, function) for the formats that can be written piece by piece
_STREAMERS: dict[str, tuple[str, str]] = {
    "json": ("depscan.reporters.json_", "stream"),
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


def get_streamer(name: str) -> Streamer | None:
    """The streamer for a format name, or None when the format is only rendered whole."""
    if name not in _STREAMERS:
        return None
    module, function = _STREAMERS[name]
    streamer: Streamer = getattr(importlib.import_module(module), function)
    return streamer
