"""Generate ``depscan/vendored_names.py``: import name -> the distribution that provides it.

The table is read from real installed wheels, never typed by hand: every ``*.dist-info`` in the
given zips or directories (pip installs from PyPI: the benchmark's ``pure-python.zip`` and
``lambda-function.zip``, built by ``bench/bench_inventory.py`` from the pinned
``bench/pure-requirements.txt`` and ``bench/lambda-requirements.txt``) gives its import names from
``top_level.txt`` when the wheel has one, else from the top level of its RECORD (``x.py``, ``x/...``
with Python files, ``x.cpython-311-...so``). A name two distributions claim (namespace packages such
as ``google``), the namespace of a dotted project name (``backports`` of ``backports.tarfile``) and
generic names (``tests``, ``docs``, ...) are left out: they identify nothing.

    python bench/gen_vendored_names.py ~/.cache/depscan-bench/pure-python.zip \\
        ~/.cache/depscan-bench/lambda-function.zip [site-packages dirs...]

writes ``depscan/vendored_names.py`` (``--output`` to write elsewhere).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import re
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
GENERIC = frozenset({
    "test", "tests", "testing", "doc", "docs", "example", "examples", "benchmark", "benchmarks", "bench",
    "scripts", "script", "tools", "util", "utils", "src", "lib", "bin", "build", "data", "share", "include",
    "conftest", "setup", "__init__", "__main__", "__pycache__", "_version", "version", "main", "app",
})
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _read_tree(source: Path) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(dist-info directory, {file name: bytes}) for METADATA, top_level.txt and RECORD."""
    wanted = ("METADATA", "top_level.txt", "RECORD")
    found: dict[str, dict[str, bytes]] = defaultdict(dict)
    if source.is_dir():
        for meta in source.glob("*.dist-info"):
            for name in wanted:
                if (meta / name).is_file():
                    found[meta.name][name] = (meta / name).read_bytes()
    else:
        with zipfile.ZipFile(source) as archive:
            for member in archive.namelist():
                parts = member.split("/")
                if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] in wanted:
                    found[parts[0]][parts[1]] = archive.read(member)
    yield from found.items()


def _project_name(metadata: bytes) -> str | None:
    for line in metadata.decode("utf-8", "replace").splitlines():
        if not line.strip():
            return None
        key, _, value = line.partition(":")
        if key.strip().lower() == "name":
            return value.strip()
    return None


def import_names(files: dict[str, bytes]) -> set[str]:
    """The top-level import names a distribution installs."""
    if "top_level.txt" in files:
        names = {line.strip().split("/")[0] for line in files["top_level.txt"].decode("utf-8", "replace").splitlines()}
        return {n for n in names if _IDENT.match(n)}
    names = set()
    text = files.get("RECORD", b"").decode("utf-8", "replace")
    for row in csv.reader(text.splitlines()):
        if not row or row[0].startswith(("..", "/")):
            continue
        head, sep, _ = row[0].partition("/")
        if sep:
            if not head.endswith((".dist-info", ".data", ".libs")) and row[0].endswith(".py"):
                names.add(head)
        elif head.endswith(".py"):
            names.add(head[:-3])
        elif ".so" in head or head.endswith(".pyd"):
            names.add(head.split(".")[0])
    return {n for n in names if _IDENT.match(n)}


def build(sources: list[Path]) -> dict[str, str]:
    claims: dict[str, set[str]] = defaultdict(set)
    for source in sources:
        for _directory, files in _read_tree(source):
            project = _project_name(files.get("METADATA", b""))
            if not project:
                continue
            for name in import_names(files):
                claims[name].add(project)
    return {
        name: next(iter(projects))
        for name, projects in sorted(claims.items())
        if len(projects) == 1 and name.lower() not in GENERIC and not name.startswith("__")
        # a namespace the project only lives in (backports of backports.tarfile, jaraco of jaraco.text)
        and not next(iter(projects)).lower().startswith(name.lower() + ".")
    }


def render(table: dict[str, str], sources: list[Path]) -> str:
    today = datetime.date.today().isoformat()
    lines = [
        '"""DATA: top-level import name -> the PyPI distribution that installs it (generated; do not edit).',
        "",
        f"Generated {today} by ``python bench/gen_vendored_names.py`` from the dist-info directories of",
        "real wheels installed by pip from PyPI (read: top_level.txt, else the RECORD's top level):",
        *(f"``{s.name}``" + ("," if i < len(sources) - 1 else ".") for i, s in enumerate(sources)),
        "The benchmark zips pin their releases in bench/pure-requirements.txt and bench/lambda-requirements.txt.",
        "Names two distributions claim, namespaces (backports of backports.tarfile) and generic names (tests,",
        "docs, ...) are left out.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "IMPORT_NAMES: dict[str, str] = {",
        *(f'    "{name}": "{project}",' for name, project in table.items()),
        "}",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="+", type=Path, help="zips or directories of installed distributions")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "depscan" / "vendored_names.py")
    args = parser.parse_args()
    table = build([s.expanduser() for s in args.sources])
    args.output.write_text(render(table, args.sources))
    print(f"wrote {args.output}: {len(table)} import names")


if __name__ == "__main__":
    main()
