"""``facts.parse_requirement`` (a fast split of the usual Requires-Dist line) answers as packaging's
``Requirement`` does: same name, extras and marker, and the same lines refused."""

from __future__ import annotations

import importlib.metadata
import json
import os
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from depscan.facts import ParsedRequirement, parse_requirement

EDGE_CASES = [
    "requests", "requests>=2.0", "requests (>=2.0)", "requests (>=2.0,<3)", "requests[socks]",
    "requests[socks, security] >= 2.0 ; python_version >= '3.8'", "Foo.Bar_baz-qux ==1.0",
    "tomli>=1.1.0; python_version < \"3.11\"", "pywin32 ; sys_platform == 'win32'", "babel; extra == 'i18n'",
    "x ; extra == \"Dev_Tools\"", "x[]", "x[ ]", "x [a,b]", "x>=1.0,!=1.5.*", "x~=1.4.2", "x===1.0",
    "x @ https://example.org/x-1.0.tar.gz", "x @ https://example.org/x.zip ; python_version > '3'",
    "x>=1.0a1.dev2+local", "x<2;platform_machine=='x86_64' and implementation_name=='cpython'",
    # refused by packaging: must be refused here too
    "", "   ", "-x", "x-", "x>=", "x ; ", "x ;", "x;", "x[a", "x[a,]", "x >=1.0 ; python_version >",
    "x>=1.0 ; bogus == '1'", "x=>1.0", "x 1.0", "x (>=1.0", "x>=1.0)", "x ; extra ==", "not a requirement !!",
    "x>=1.0;;", "x[a]]", "x]", "x @", "x>=1.0 @ url",
]


def _packaging(line: str) -> tuple[str, frozenset[str], str | None, str] | None:
    try:
        req = Requirement(line)
    except InvalidRequirement:
        return None
    return (canonicalize_name(req.name), frozenset(canonicalize_name(x) for x in req.extras),
            None if req.marker is None else str(req.marker), str(req.specifier))


def _ours(line: str) -> tuple[str, frozenset[str], str | None, str] | None:
    parsed = parse_requirement(line)
    if isinstance(parsed, str):
        return None
    assert isinstance(parsed, ParsedRequirement)
    return (parsed.name, parsed.extras, None if parsed.marker is None else str(parsed.marker),
            "" if parsed.specifier is None else str(parsed.specifier))


@pytest.mark.parametrize("line", EDGE_CASES)
def test_edge_cases(line: str) -> None:
    assert _ours(line) == _packaging(line)


def test_every_installed_distribution() -> None:
    lines = {line for dist in importlib.metadata.distributions() for line in dist.requires or ()}
    assert len(lines) > 50
    for line in lines:
        assert _ours(line) == _packaging(line), line


BENCH = Path(os.environ.get("DEPSCAN_BENCH_WORKDIR", "~/.cache/depscan-bench")).expanduser()


@pytest.mark.skipif(not (BENCH / "pure-python.zip").is_file(), reason="benchmark corpus not built here")
def test_benchmark_corpora() -> None:  # pragma: no cover - only where bench/bench_inventory.py ran
    lines: set[str] = set()
    for archive in sorted(BENCH.glob("*.zip")):
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                if name.endswith(".dist-info/METADATA"):
                    text = zf.read(name).decode("utf-8", "replace").split("\n\n", 1)[0]
                    lines |= {ln[len("Requires-Dist:"):].strip() for ln in text.splitlines()
                              if ln.startswith("Requires-Dist:")}
    for line in lines:
        assert _ours(line) == _packaging(line), json.dumps(line)
