"""The fleet summary of ``depscan aws lambda``: a table for people and JSON for machines.

One row per function: runtime (and whether it is deprecated), age (days since last modified, stale
at ``--stale-days``), architecture, layers, Python packages, active findings by severity, components
advisories cannot vouch for, and the outcome (scanned, failed with its reason, not scanned).
"""

from __future__ import annotations

import io
import json
from typing import Any

from depscan import __version__
from depscan.aws.lambda_fleet import FleetResult, FunctionReport, severity_columns

_RUNTIME_MARK = {"deprecated": " (deprecated)", "deprecated-soon": " (deprecated soon)"}


def summary(fleet: FleetResult) -> dict[str, Any]:
    """The fleet's counts (JSON ``summary`` and the table's caption)."""
    levels = dict.fromkeys(severity_columns(), 0)
    for function in fleet.functions:
        for level, count in function.findings.items():
            levels[level] = levels.get(level, 0) + count
    shared = [layer for layer in fleet.layers if layer.users > 1]
    return {
        "functions": len(fleet.functions),
        "scanned": sum(1 for f in fleet.functions if f.outcome == "scanned"),
        "failed": sum(1 for f in fleet.functions if f.outcome == "failed"),
        "not_scanned": sum(1 for f in fleet.functions if f.outcome == "not-scanned"),
        "stale": sum(1 for f in fleet.functions if f.stale),
        "deprecated_runtime": sum(1 for f in fleet.functions if f.runtime.status == "deprecated"),
        "deprecated_soon_runtime": sum(1 for f in fleet.functions if f.runtime.status == "deprecated-soon"),
        "with_findings": sum(1 for f in fleet.functions if any(f.findings.values())),
        "findings": levels,
        "layers": len(fleet.layers),
        "shared_layers": len(shared),
        "errors": len(fleet.errors),
    }


def _function_json(function: FunctionReport) -> dict[str, Any]:
    info = function.info
    return {
        "region": info.region,
        "name": info.name,
        "arn": info.arn,
        "package_type": info.package_type,
        "image_uri": info.image_uri,
        "runtime": info.runtime,
        "runtime_status": function.runtime.status,
        "runtime_deprecation": function.runtime.deprecation.isoformat() if function.runtime.deprecation else None,
        "architectures": list(info.architectures),
        "last_modified": info.last_modified.isoformat() if info.last_modified else None,
        "days_since_modified": function.days_since_modified,
        "stale": function.stale,
        "code_sha256": info.code_sha256,
        "code_size": info.code_size,
        "layers": list(info.layers),
        "outcome": function.outcome,
        "reason": function.reason,
        "python_distributions": function.packages,
        "native_components": function.native_components,
        "findings": {level: function.findings.get(level, 0) for level in severity_columns()},
        "malicious": function.malicious,
        "policy_findings": function.policy_findings,
        "wrong_machine": function.wrong_machine,
        "not_verifiable": function.not_verifiable,
        "unchecked": function.unchecked,
        "exit_code": function.exit_code,
        "verdict": function.verdict,
        "reports": list(function.reports),
    }


def render_json(fleet: FleetResult, exit_code: int) -> bytes:
    document = {
        "tool": {"name": "depscan", "version": __version__},
        "scanned_at": fleet.scanned_at.isoformat(),
        "regions": list(fleet.regions),
        "stale_days": fleet.stale_days,
        "summary": summary(fleet),
        "exit_code": exit_code,
        "errors": list(fleet.errors),
        "functions": [_function_json(f) for f in fleet.functions],
        "layers": [
            {"arn": layer.arn, "functions": layer.users, "outcome": layer.outcome, "reason": layer.reason,
             "python_distributions": layer.packages,
             "findings": {level: layer.findings.get(level, 0) for level in severity_columns()},
             "reports": list(layer.reports)}
            for layer in fleet.layers
        ],
    }
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _age(function: FunctionReport) -> str:
    if function.days_since_modified is None:
        return "?"
    return f"{function.days_since_modified} d" + (" STALE" if function.stale else "")


def _outcome(function: FunctionReport) -> str:
    if function.outcome == "scanned":
        wrong = f"; {function.wrong_machine} native file(s) for another architecture" if function.wrong_machine else ""
        return "scanned" + wrong
    return f"{function.outcome}: {function.reason}"


def render_table(fleet: FleetResult, *, width: int = 160, color: bool = False) -> bytes:
    from rich.console import Console
    from rich.table import Table

    levels = severity_columns()
    table = Table(title="Lambda functions", show_lines=False)
    for column in ("Function", "Runtime", "Age", "Arch", "Layers", "Packages", *(lv.capitalize() for lv in levels),
                   "Not verifiable", "Outcome"):
        table.add_column(column, overflow="fold")
    for function in fleet.functions:
        info = function.info
        runtime = (info.runtime or "-") + _RUNTIME_MARK.get(function.runtime.status, "")
        scanned = function.outcome == "scanned"
        table.add_row(
            f"{info.region}/{info.name}",
            runtime,
            _age(function),
            ",".join(info.architectures),
            str(len(info.layers)),
            str(function.packages) if scanned else "-",
            *((str(function.findings.get(lv, 0)) if scanned else "-") for lv in levels),
            "-" if function.not_verifiable is None else str(function.not_verifiable),
            _outcome(function),
        )
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system="standard" if color else None, force_terminal=color,
                      highlight=False)
    if fleet.functions:
        console.print(table)
    if fleet.layers:
        layers = Table(title="Layers (each scanned once, on its own)")
        for column in ("Layer", "Functions", "Packages", *(lv.capitalize() for lv in levels), "Outcome"):
            layers.add_column(column, overflow="fold")
        for layer in fleet.layers:
            scanned = layer.outcome == "scanned"
            layers.add_row(layer.arn, str(layer.users), str(layer.packages) if scanned else "-",
                           *((str(layer.findings.get(lv, 0)) if scanned else "-") for lv in levels),
                           layer.outcome if scanned else f"{layer.outcome}: {layer.reason}")
        console.print(layers)
    counted = summary(fleet)
    found = ", ".join(f"{count} {level}" for level, count in counted["findings"].items() if count) or "no findings"
    console.print(
        f"{counted['functions']} function(s) in {', '.join(fleet.regions) or 'no region'}: {counted['scanned']} "
        f"scanned, {counted['failed']} failed, {counted['not_scanned']} not scanned; {found}; "
        f"{counted['stale']} stale (>= {fleet.stale_days} days), {counted['deprecated_runtime']} on a deprecated "
        f"runtime, {counted['deprecated_soon_runtime']} deprecated soon; {counted['layers']} layer(s), "
        f"{counted['shared_layers']} shared by several functions (downloaded once)"
    )
    for error in fleet.errors:
        console.print(f"error: {error}")
    return buffer.getvalue().encode("utf-8")
