"""Helpers shared by tests: scanning a path, running the real CLI."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from packaging.utils import canonicalize_name

from depscan.artifacts.detect import open_artifact
from depscan.artifacts.limits import Limits
from depscan.artifacts.view import ArtifactView, OpenContext
from depscan.config import ScanConfig
from depscan.models import Location, NativeLib, PythonDist, ScanResult
from depscan.scan import run


def scan(path: Path | str, *layers: Path, limits: Limits | None = None, kind: str = "auto") -> ScanResult:
    """Run a scan in-process."""
    return run(ScanConfig(str(path), tuple(str(p) for p in layers), kind, limits or Limits()))


def dists(result: ScanResult) -> dict[str, PythonDist]:
    """The distributions of a result by ``name==version`` (shadowed copies get a ``!`` suffix)."""
    out = {}
    for c in result.components:
        if not isinstance(c, PythonDist):
            continue
        key = f"{c.normalized_name}=={c.version}"
        out[key + ("!" if c.status.value == "shadowed" else "")] = c
    return out


def natives(result: ScanResult) -> dict[str, NativeLib]:
    """The native libraries of a result by path (``layer:path`` when they have a layer)."""
    out = {}
    for c in result.components:
        if isinstance(c, NativeLib):
            out[c.location.path if c.location.layer is None else f"{c.location.layer}:{c.location.path}"] = c
    return out


def make_dist(
    name: str,
    version: str,
    path: str,
    *,
    layer: str | None = None,
    site_root: str = "",
    metadata_sha256: str | None = "0" * 64,
    **fields: Any,
) -> PythonDist:
    """A PythonDist as the cataloger would make it for METADATA at ``path``, for reporter tests."""
    normalized = canonicalize_name(name)
    return PythonDist(
        name=name,
        normalized_name=normalized,
        version=version,
        purl=f"pkg:pypi/{normalized}@{version}",
        found_by="python-dist-info",
        metadata_location=Location(path, layer),
        metadata_sha256=metadata_sha256,
        metadata_dir=path.rsplit("/", 1)[0],
        site_root=site_root,
        **fields,
    )


def view_of(path: Path | str, limits: Limits | None = None) -> ArtifactView:
    """Open an artifact as a view (with nested archives grafted)."""
    return open_artifact(str(path), OpenContext(limits or Limits()))


def cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real command line (``python -m depscan``) and capture its output."""
    env = {k: v for k, v in os.environ.items() if k != "DEPSCAN_DEBUG"}
    return subprocess.run(
        [sys.executable, "-m", "depscan", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


BENCH = Path(__file__).resolve().parents[1] / "bench"


def bench_module(name: str) -> ModuleType:
    """A script of ``bench/`` imported as a module (bench/ is not a package; its path is put back as it was)."""
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCH))
