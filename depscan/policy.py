"""Which findings fail the run (``--fail-on``)."""

from __future__ import annotations

from collections.abc import Sequence

from depscan.models import Finding, Level

_THRESHOLDS = {
    "low": Level.LOW,
    "medium": Level.MEDIUM,
    "high": Level.HIGH,
    "critical": Level.CRITICAL,
}


def failing(findings: Sequence[Finding], fail_on: str) -> list[Finding]:
    """Unsuppressed findings at or above ``fail_on``.

    ``any`` counts every finding, those without a severity score included. A threshold counts only
    findings whose score reaches it: an advisory with no CVSS vector cannot be ranked, so it fails
    the run only under ``any`` (the default). Most PyPI advisories carry no vector.
    """
    active = [f for f in findings if f.suppressed is None]
    if fail_on == "any":
        return active
    threshold = _THRESHOLDS[fail_on]
    return [f for f in active if f.level.rank >= threshold.rank]
