"""Small hand-written OSV records for unit tests (shapes from the OSV schema, values invented)."""

from __future__ import annotations

from typing import Any


def record(
    ident: str,
    name: str,
    *,
    events: list[dict[str, str]] | None = None,
    versions: list[str] | None = None,
    aliases: list[str] | None = None,
    modified: str = "2024-01-01T00:00:00Z",
    withdrawn: str | None = None,
    cvss: str | None = None,
    summary: str | None = None,
    details: str = "details",
    ecosystem: str = "PyPI",
) -> dict[str, Any]:
    """One OSV record affecting ``name``."""
    affected: dict[str, Any] = {"package": {"ecosystem": ecosystem, "name": name}}
    if events is not None:
        affected["ranges"] = [{"type": "ECOSYSTEM", "events": events}]
    if versions is not None:
        affected["versions"] = versions
    out: dict[str, Any] = {
        "id": ident,
        "modified": modified,
        "published": "2023-01-01T00:00:00Z",
        "aliases": aliases or [],
        "details": details,
        "affected": [affected],
    }
    if summary:
        out["summary"] = summary
    if withdrawn:
        out["withdrawn"] = withdrawn
    if cvss:
        out["severity"] = [{"type": "CVSS_V3", "score": cvss}]
    return out
