"""The terminal table prints what the artifact says as text: nothing in it is read as rich markup."""

from __future__ import annotations

import dataclasses

from depscan.models import Location, PythonDist, ScanResult, Unknown
from depscan.reporters import ReportOptions, get_reporter


def test_brackets_from_the_artifact_are_printed_not_read_as_markup(demo_result: ScanResult) -> None:
    dist = next(c for c in demo_result.components if isinstance(c, PythonDist))
    hostile = dataclasses.replace(dist, name="[bold]evil[/bold]", metadata_dir="x/[red]dir[/red].dist-info")
    finding = next(f for f in demo_result.findings if f.suppressed is not None)
    result = dataclasses.replace(
        demo_result,
        components=(hostile, *demo_result.components[1:]),
        unknowns=(Unknown(Location("[link=x]p[/link]"), "reason [b]x[/b]"),),
        warnings=("warning [i]w[/i]",),
        findings=(finding,),
    )
    text = get_reporter("table")(result, ReportOptions(width=250)).decode()
    for literal in ("[bold]evil[/bold]", "[red]dir[/red]", "[link=x]p[/link]", "reason [b]x[/b]",
                    "warning [i]w[/i]", f"[ignored: {finding.suppressed.reason}]"):
        assert literal in text, literal
