"""``--baseline PREVIOUS.json``: what is new, fixed and unchanged since a previous run.

The previous run is a depscan JSON document (``--format json``). Findings are compared by their
stable fingerprint (rule, primary id, purl, location, layer), so a finding is "unchanged" only
when the same advisory still affects the same component copy in the same place.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from depscan.errors import UsageError
from depscan.models import BaselineDiff, Finding, PreviousFinding

MAX_BASELINE_BYTES = 256 * 1024 * 1024  # a depscan JSON report; a regular file only


def load_previous(path: Path) -> list[PreviousFinding]:
    """The findings of a previous depscan JSON report."""
    from depscan.regular_files import read_regular

    if not path.exists():
        raise UsageError(f"{path}: no such baseline file")
    data = read_regular(path, MAX_BASELINE_BYTES, "a baseline", UsageError)
    try:
        doc: Any = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise UsageError(f"{path}: not a readable depscan JSON report ({e})") from e
    if not isinstance(doc, dict) or doc.get("format") != "depscan.scan":
        raise UsageError(f"{path}: not a depscan JSON report (written by --format json)")
    if doc.get("format_version") not in (1, 2):  # 2 changed only how findings cite advisories
        raise UsageError(f"{path}: depscan JSON format version {doc.get('format_version')!r}, expected 1 or 2")
    previous = []
    items = doc.get("vulnerabilities") or []
    if not isinstance(items, list):
        raise UsageError(f"{path}: 'vulnerabilities' is not a list")
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("fingerprint"), str):
            raise UsageError(f"{path}: a vulnerability without a fingerprint")
        component: dict[str, Any] = item["component"] if isinstance(item.get("component"), dict) else {}
        location: dict[str, Any] = component["location"] if isinstance(component.get("location"), dict) else {}
        previous.append(
            PreviousFinding(
                fingerprint=item["fingerprint"],
                id=str(item.get("id")),
                purl=str(component.get("purl")),
                path=str(location.get("path")),
                layer=location.get("layer"),
            )
        )
    return previous


def compare(findings: Sequence[Finding], previous: Sequence[PreviousFinding], path: str) -> BaselineDiff:
    """Split the current findings into new and unchanged, and list the previous ones now gone."""
    before = {p.fingerprint: p for p in previous}
    now = {f.fingerprint for f in findings}
    return BaselineDiff(
        path=path,
        new=frozenset(now - before.keys()),
        unchanged=frozenset(now & before.keys()),
        fixed=tuple(sorted((p for fp, p in before.items() if fp not in now), key=lambda p: (p.purl, p.id))),
    )
