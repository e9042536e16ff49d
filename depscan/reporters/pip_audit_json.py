"""``--format pip-audit-json``: pip-audit's ``-f json`` document, so pipelines built on it keep working.

The shape is pip-audit's (``pip_audit/_format/json.py``, with ``--desc`` and aliases on):
``{"dependencies": [{"name", "version", "vulns": [{"id", "fix_versions", "aliases",
"description"}]}], "fixes": []}``. Names are PEP 503 normalized as pip-audit writes them; a
component whose lookup failed gets pip-audit's ``skip_reason``. Suppressed findings are left
out, as pip-audit's ``--ignore-vuln`` does. One entry per distinct (name, version).

pip-audit audits Python distributions only, and its shape has no place for anything else: native libraries,
libraries identified in them, OS packages, their findings, policy findings and not-verifiable components are left
out (every other format states them; the CLI says so when this format is asked for a scan that has them).
"""

from __future__ import annotations

import json
from typing import Any

from depscan.models import Finding, PythonDist, ScanResult
from depscan.reporters import ReportOptions
from depscan.text import encode_json


def _description(finding: Finding) -> str:
    """As pip-audit writes it: the summary, else the full details, newlines as spaces."""
    for advisory in finding.advisories:
        text = advisory.summary or advisory.details
        if text:
            return text.replace("\n", " ")
    return "N/A"


def render(result: ScanResult, options: ReportOptions | None = None) -> bytes:
    """pip-audit's JSON shape."""
    unchecked = dict(result.unchecked)
    by_component: dict[tuple[str, str], list[dict[str, Any]]] = {}
    skipped: dict[tuple[str, str], str] = {}
    for component in result.components:
        if not isinstance(component, PythonDist):
            continue
        key: tuple[str, str] = (component.normalized_name, component.version)
        if component.purl in unchecked:
            skipped[key] = unchecked[component.purl]
        by_component.setdefault(key, [])
    seen: dict[tuple[str, str], set[str]] = {}
    for finding in result.findings:
        if finding.suppressed is not None or not isinstance(finding.component, PythonDist):
            continue  # pip-audit's shape is PyPI only
        key = (str(finding.component.normalized_name), finding.component.version or "")
        if finding.id in seen.setdefault(key, set()):
            continue  # the same group on another copy (a shadowed one) of the same version
        seen[key].add(finding.id)
        by_component.setdefault(key, []).append(
            {
                "id": finding.id,
                "fix_versions": list(finding.fixed_versions),
                "aliases": list(finding.ids[1:]),
                "description": _description(finding),
            }
        )
    dependencies: list[dict[str, Any]] = []
    for (name, version), vulns in sorted(by_component.items()):
        if (name, version) in skipped:
            dependencies.append({"name": name, "skip_reason": skipped[(name, version)]})
        else:
            dependencies.append({"name": name, "version": version, "vulns": vulns})
    return encode_json(json.dumps({"dependencies": dependencies, "fixes": []}, ensure_ascii=False) + "\n")
