"""ScanConfig: everything a scan needs to know, frozen, built by the CLI (or by tests)."""

from __future__ import annotations

from dataclasses import dataclass, field

from depscan.artifacts.limits import Limits


@dataclass(frozen=True, slots=True)
class ScanConfig:
    """One scan's inputs and settings."""

    path: str
    layers: tuple[str, ...] = ()
    kind: str = "auto"
    limits: Limits = field(default_factory=Limits)
    strict: bool = False
