"""``depscan check --audit``: the exact pins of the checked requirement and lock files matched against advisories.

Each exact pin of a reported file (``check.pinned_components``: ``name==1.2.3``, ``===``, a lock entry) becomes
a component (``found_by`` ``declared``, located at its file relative to the current directory, with its line)
and is matched like an installed copy (``scan.with_advisories``: the offline database when there is one,
``--source auto`` semantics, else the OSV API). Vulnerable pins are the result's ``findings`` (every report
writes them; SARIF puts the region on the pin's line), a failed lookup is ``unchecked`` (exit 4: never clean).
Files only included by a reported file (``-r``) are context, as for the rules: their pins are audited when
they are checked themselves.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from depscan.models import PythonDist, ScanResult

if TYPE_CHECKING:
    from depscan.config import AdvisorySettings
    from depscan.declared.check import Run


def pins(run: Run, say_errors: bool) -> ScanResult:
    """The check's result with the reported files' exact pins as its components (``stats["audited_pins"]``).
    ``say_errors``: what a file could not say (a line that does not parse) becomes a note (its pin, if it has
    one, is not audited), for a run without the DS00x rules that would report it."""
    from depscan.declared.check import pinned_components

    notes = list(run.result.notes)
    reported = [declared for declared in run.checked.files if declared.path in run.checked.reported]
    components: list[PythonDist] = list(pinned_components(reported, run.prefix))
    for declared in reported:
        if say_errors:
            notes += [f"{run.prefix}{declared.path}: {why}; not audited" for _line, why in declared.errors]
    stats = {**run.result.stats, "audited_pins": len(components)}
    return replace(run.result, components=tuple(components), notes=tuple(notes), stats=stats)


def audit(run: Run, settings: AdvisorySettings, say_errors: bool = False) -> ScanResult:
    """``pins``, matched against advisories (no lookup when there is no pin: a note says so)."""
    result = pins(run, say_errors)
    if not result.components:
        return replace(result, notes=(*result.notes, "no exact pin in the checked files: no advisory was looked up"))
    from depscan.scan import with_advisories

    return with_advisories(result, settings)
