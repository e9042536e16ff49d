"""Generate ``depscan/vendored_names.py``: import name -> the distribution that provides it.

The table is read from real installed wheels, never typed by hand: every ``*.dist-info`` in the
given zips or directories (pip installs from PyPI: the benchmark's ``pure-python.zip`` and
``lambda-function.zip``, built by ``bench/bench_inventory.py`` from the pinned
``bench/pure-requirements.txt`` and ``bench/lambda-requirements.txt``) gives its import names from
``top_level.txt`` when the wheel has one, else from the top level of its RECORD (``x.py``, ``x/...``
with Python files, ``x.cpython-311-...so``). The wheels other wheels vendor with their dist-info
(``setuptools/_vendor/tomli-2.4.0.dist-info``) count too, and so does a vendoring project's pin list
(``pip/_vendor/vendor.txt``): a module or package in that ``_vendor/`` whose name normalizes (PEP 503) to
a pinned distribution's is that distribution's (``pip/_vendor/resolvelib`` is resolvelib, ``tomli_w``
tomli-w). ``EXTRA`` adds the few names no input wheel installs at its top level any more but vendoring
projects still copy, each with its source. A name two distributions claim (namespace packages such
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
VENDOR_DIRS = frozenset({"_vendor", "vendor", "_vendored", "vendored", "extern", "_vendored_packages"})
# Names no input wheel installs at its top level, copied by vendoring projects (checked by hand, with the source):
EXTRA = {
    # setuptools' own top-level package in the releases pip vendors it from: pip 26.x ships
    # pip/_vendor/pkg_resources and pins "setuptools==70.3.0" for it in pip/_vendor/vendor.txt
    # (setuptools 84.2.1, the release the benchmark installs, no longer has a top-level pkg_resources).
    "pkg_resources": "setuptools",
}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _wanted(parts: list[str]) -> bool:
    """A dist-info file at the top (``x.dist-info/RECORD``) or in a vendor tree
    (``setuptools/_vendor/x.dist-info/RECORD``)."""
    return (len(parts) == 2 or (len(parts) == 4 and parts[1] in VENDOR_DIRS)) and parts[-2].endswith(".dist-info") \
        and parts[-1] in ("METADATA", "top_level.txt", "RECORD")


def _read_tree(source: Path) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(dist-info directory, {file name: bytes}) for METADATA, top_level.txt and RECORD, and
    (vendor tree, {"vendor.txt": pins, "entries": its top-level names, one a line}) for pin lists."""
    found: dict[str, dict[str, bytes]] = defaultdict(dict)
    entries: dict[str, set[str]] = defaultdict(set)  # vendor tree -> what lies directly in it
    if source.is_dir():
        members = [p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file()]
    else:
        with zipfile.ZipFile(source) as archive:
            members = archive.namelist()
    for member in members:
        parts = member.split("/")
        if len(parts) >= 3 and parts[1] in VENDOR_DIRS:
            entries["/".join(parts[:2])].add(parts[2])
        if _wanted(parts) or (len(parts) == 3 and parts[1] in VENDOR_DIRS and parts[2] == "vendor.txt"):
            directory = "/".join(parts[:-1])
            found[directory][parts[-1]] = (source / member).read_bytes() if source.is_dir() else b""
    if not source.is_dir():
        with zipfile.ZipFile(source) as archive:
            for directory, files in found.items():
                for name in files:
                    files[name] = archive.read(f"{directory}/{name}")
    for directory, files in found.items():
        if "vendor.txt" in files:
            files["entries"] = "\n".join(sorted(entries[directory])).encode()
    yield from found.items()


def pinned_names(files: dict[str, bytes]) -> dict[str, str]:
    """Import name -> distribution, for the modules and packages of a vendor tree named (PEP 503) like a
    distribution its pin list (``vendor.txt``: ``name==version`` lines) pins."""
    pins = {}
    for line in files["vendor.txt"].decode("utf-8", "replace").splitlines():
        name = line.split("#", 1)[0].strip().partition("==")[0].strip()
        if name:
            pins[_canonical(name)] = name
    out = {}
    for entry in files["entries"].decode().splitlines():
        name = entry[:-3] if entry.endswith(".py") else entry
        if _IDENT.match(name) and _canonical(name) in pins:
            out[name] = pins[_canonical(name)]
    return out


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
    # import name -> {PEP 503 name: the project's name as its METADATA spells it (the first seen)}
    claims: dict[str, dict[str, str]] = defaultdict(dict)
    pinned: list[dict[str, str]] = []
    for source in sources:
        for _directory, files in _read_tree(source):
            if "vendor.txt" in files:
                pinned.append(pinned_names(files))
                continue
            project = _project_name(files.get("METADATA", b""))
            if not project:
                continue
            for name in import_names(files):
                claims[name].setdefault(_canonical(project), project)
    for names in [*pinned, EXTRA]:  # after the wheels: their METADATA spelling wins
        for name, project in names.items():
            claims[name].setdefault(_canonical(project), project)
    return {
        name: next(iter(projects.values()))
        for name, projects in sorted(claims.items())
        if len(projects) == 1 and name.lower() not in GENERIC and not name.startswith("__")
        # a namespace the project only lives in (backports of backports.tarfile, jaraco of jaraco.text)
        and not next(iter(projects.values())).lower().startswith(name.lower() + ".")
    }


def render(table: dict[str, str], sources: list[Path]) -> str:
    today = datetime.date.today().isoformat()
    lines = [
        '"""DATA: top-level import name -> the PyPI distribution that installs it (generated; do not edit).',
        "",
        f"Generated {today} by ``python bench/gen_vendored_names.py`` from the dist-info directories of",
        "real wheels installed by pip from PyPI (read: top_level.txt, else the RECORD's top level; also the",
        "dist-info of wheels vendored inside them, and the modules a pin list such as pip/_vendor/vendor.txt names),",
        "plus the generator's documented EXTRA names (pkg_resources), from:",
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
