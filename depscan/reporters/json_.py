"""The versioned JSON document (``--format json``), specified in ``docs/json-format.md``.

Bump ``FORMAT_VERSION`` on any change that removes or retypes a field; adding fields is compatible.
"""

from __future__ import annotations

import json
from typing import Any

from depscan.models import Location, PythonDist, ScanResult, Status, Unknown

FORMAT = "depscan.scan"
FORMAT_VERSION = 1


def _location(loc: Location | None) -> dict[str, Any] | None:
    return None if loc is None else {"path": loc.path, "layer": loc.layer}


def _dist(dist: PythonDist) -> dict[str, Any]:
    return {
        "type": "python-distribution",
        "name": dist.name,
        "normalized_name": dist.normalized_name,
        "version": dist.version,
        "purl": dist.purl,
        "found_by": dist.found_by,
        "status": dist.status.value,
        "shadowed_by": _location(dist.shadowed_by),
        "location": _location(dist.metadata_location),
        "metadata_dir": dist.metadata_dir,
        "site_root": dist.site_root,
        "summary": dist.summary,
        "license": dist.license,
        "license_expression": dist.license_expression,
        "requires_python": dist.requires_python,
        "requires_dist": list(dist.requires_dist),
        "installer": dist.installer,
        "wheel": None
        if dist.wheel is None
        else {
            "generator": dist.wheel.generator,
            "root_is_purelib": dist.wheel.root_is_purelib,
            "tags": list(dist.wheel.tags),
        },
        "direct_url": dist.direct_url,
        "record_files": len(dist.record),
        "record_files_outside": dist.record_outside,
    }


def _unknown(unknown: Unknown) -> dict[str, Any]:
    return {"path": unknown.location.path, "layer": unknown.location.layer, "reason": unknown.reason}


def document(result: ScanResult) -> dict[str, Any]:
    """The JSON document as a dict."""
    dists = [c for c in result.components if isinstance(c, PythonDist)]
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "tool": {"name": "depscan", "version": result.tool_version},
        "artifact": {
            "path": result.artifact.path,
            "kind": result.artifact.kind,
            "size": result.artifact.size,
            "layers": list(result.artifact.layers),
        },
        "summary": {
            "components": len(result.components),
            "python_distributions": len(dists),
            "shadowed": sum(1 for d in dists if d.status is Status.SHADOWED),
            "unknowns": len(result.unknowns),
            "warnings": len(result.warnings),
        },
        "components": [_dist(d) for d in dists],
        "unknowns": [_unknown(u) for u in result.unknowns],
        "warnings": list(result.warnings),
        "stats": dict(result.stats),
    }


def render(result: ScanResult) -> bytes:
    """``--format json``."""
    return (json.dumps(document(result), indent=2, ensure_ascii=False) + "\n").encode("utf-8")
