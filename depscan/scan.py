"""Orchestration: open -> catalog -> ScanResult. Returns data; never prints or exits."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from depscan import __version__
from depscan.artifacts.detect import open_artifact
from depscan.artifacts.view import OpenContext
from depscan.catalogers import Cataloger
from depscan.catalogers.python_dists import PythonDistCataloger
from depscan.config import ScanConfig
from depscan.models import ArtifactInfo, Component, ScanResult, Unknown

# Called with a stage name and how far it is (done, total); total 0 when unknown.
Progress = Callable[[str, int, int], None]


def default_catalogers() -> list[Cataloger]:
    """The catalogers every scan runs."""
    return [PythonDistCataloger()]


def run(config: ScanConfig, progress: Progress | None = None) -> ScanResult:
    """Scan one artifact (plus Lambda layers) and return what was found."""
    started = time.perf_counter()
    report = progress or (lambda stage, done, total: None)
    catalogers = default_catalogers()

    def wants(path: str) -> bool:
        return any(c.wants(path) for c in catalogers)

    ctx = OpenContext(limits=config.limits, wants=wants)
    report("opening", 0, 0)
    with open_artifact(config.path, ctx, config.kind, config.layers) as view:
        opened = time.perf_counter()
        components: list[Component] = []
        unknowns: list[Unknown] = list(view.unknowns)
        for number, cataloger in enumerate(catalogers):
            report(f"cataloging ({cataloger.name})", number, len(catalogers))
            found = cataloger.catalog(view)
            components.extend(found.components)
            unknowns.extend(found.unknowns)
        report("done", len(catalogers), len(catalogers))
        info = ArtifactInfo(
            path=config.path,
            kind=view.kind,
            size=_size(config.path),
            layers=tuple(view.layers),
        )
        entries = len(view)
        warnings = tuple(view.warnings)
    finished = time.perf_counter()
    assert ctx.budget is not None
    return ScanResult(
        artifact=info,
        components=tuple(components),
        unknowns=tuple(unknowns),
        warnings=warnings,
        tool_version=__version__,
        stats={
            "entries": entries,
            "bytes_read": ctx.budget.bytes_read,
            "open_seconds": round(opened - started, 4),
            "total_seconds": round(finished - started, 4),
        },
    )


def _size(path: str) -> int | None:
    try:
        return os.path.getsize(path) if os.path.isfile(path) else None
    except OSError:
        return None
