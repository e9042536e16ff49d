"""Vendored Python code: copies no dist-info describes, and copies inside other distributions' trees.

Candidates (one pass over the view's entries):

* **at an import root** (a directory holding distributions, the Lambda roots ``var/task``,
  ``opt/python``, ``opt/python/lib/python3.X/site-packages``, and the top of a zip, wheel or
  directory): a top-level module ``x.py`` or a regular package ``x/__init__.py`` that no RECORD and
  no OS package lists (a copied ``six.py``, a package whose dist-info was deleted); not ``setup.py``, a
  build script;
* **inside a vendor tree** of another distribution: a module or regular package directly in a
  ``_vendor/``, ``vendor/``, ``extern/``, ``packages/`` or ``_vendored_packages/`` directory below a
  top-level package (``pip/_vendor/urllib3``, ``requests/packages/urllib3``); the innermost tree
  wins (``urllib3/packages/six.py`` inside pip's urllib3 is six). ``vendor``, ``extern`` and
  ``packages`` are also ordinary names for a package's own subpackages (``poetry/core/packages``):
  there a candidate counts only when it is identified.

Each candidate is identified, strongest evidence first (``models.Evidence``):

1. ``vendor-list`` (high): the vendoring project's pin list beside the tree (``pip/_vendor/vendor.txt``);
2. ``module-version`` (high): the module's own ``__version__`` / ``VERSION`` / ``version`` in its
   ``__init__.py``, module file, ``__version__.py``, ``_version.py``, ``version.py`` or ``__about__.py``,
   read with ``ast`` from the source text, never imported;
3. ``import-name`` (medium): the import name in ``vendored_names.IMPORT_NAMES`` (generated from real
   wheels by ``bench/gen_vendored_names.py``): ``yaml`` is PyYAML, ``dateutil`` python-dateutil.

An identified copy's evidence is listed strongest first (a ``module-version`` before the ``import-name``
that named the project). An identified copy with a version is a ``PythonDist`` with status ``vendored``
(its ``vendored_by`` the distribution whose tree holds it), matched against advisories like any other. An
identified copy without a version is an ``Unknown`` ("identified as six, version unknown"), and so is a candidate
nothing identifies (but in ``vendor``/``extern``/``packages``, see above), except at the function's
own root (``var/task``, or the top of a zip or directory): there unidentified top-level code is the
function's own code, listed in one note. A candidate named like a distribution installed at the same
root (a Debian ``python3-six`` with an egg-info and no file list), or like a dist-info directory there
whose METADATA could not be read (already an Unknown), is that distribution's, not a copy.
Vendored trees that keep their own dist-info (``setuptools/_vendor/packaging-24.2.dist-info``) are
found by the Python cataloger; ``mark_vendored_dists`` marks them ``vendored`` with the distribution
whose RECORD lists them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from operator import itemgetter
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from depscan.artifacts.kinds import ArtifactKind
from depscan.artifacts.view import ArtifactView, EntryType
from depscan.catalogers import Cataloger, CatalogResult
from depscan.catalogers.python_dists import _purl
from depscan.errors import MemberError
from depscan.models import (
    Component,
    Evidence,
    Location,
    NativeComponent,
    NativeLib,
    OsPackage,
    PythonDist,
    Status,
    Unknown,
)
from depscan.vendored_names import IMPORT_NAMES

if TYPE_CHECKING:
    import ast

VENDOR_DIRS = frozenset({"_vendor", "vendor", "vendored", "_vendored", "extern", "packages", "_vendored_packages"})
# Names used for nothing but vendored copies (the others also name a package's own subpackages).
VENDOR_ONLY_DIRS = frozenset({"_vendor", "vendored", "_vendored", "_vendored_packages"})
VERSION_FILES = ("__version__.py", "_version.py", "version.py", "__about__.py")
PIN_LISTS = frozenset({"vendor.txt"})
# A project's build script, never an installed module: setuptools ships zipped test projects with one beside
# their egg-info (pkg_resources/tests/data/my-test-package-zip/my-test-package.zip!/setup.py).
BUILD_SCRIPT = "setup.py"
_STRONGEST_FIRST = {"high": 0, "medium": 1, "low": 2}
MAX_SOURCE_BYTES = 1024 * 1024  # a module's source read for its version
MAX_NOTE_NAMES = 10
# Where the function's (or project's) own code lives: unidentified top-level code there is not an Unknown.
OWN_CODE_ROOTS = frozenset({"", "var/task"})
# Kinds whose top level is an import root (a function zip, a zip of site-packages, a wheel, a directory).
_TOP_IS_ROOT = frozenset({ArtifactKind.ZIP, ArtifactKind.WHEEL, ArtifactKind.LAMBDA_FUNCTION,
                          ArtifactKind.LAMBDA_LAYER, ArtifactKind.DIRECTORY})
_LAMBDA_ROOT = re.compile(r"^(?:var/task|(?:opt/)?python(?:/lib/python3\.\d+/site-packages)?)$")
_SITE_DIR = ("site-packages", "dist-packages")
_LAMBDA_KINDS = frozenset({ArtifactKind.LAMBDA_FUNCTION, ArtifactKind.LAMBDA_LAYER,
                           ArtifactKind.LAMBDA_FUNCTION_WITH_LAYERS})
_VENDOR_SEGMENT = re.compile("/(?:" + "|".join(sorted(VENDOR_DIRS)) + ")/")
# A module-level version assignment (column 0): the statement is parsed alone, the file only if that fails.
_VERSION_LINE = re.compile(
    rb"^(__version__|VERSION|__VERSION__|version|__version_info__|version_info)\s*(?::[^=\n]*)?=[^=].*$", re.M
)
# A package's __init__.py taking its version from a sibling module: ``from .package_data import __version__``.
_VERSION_IMPORT = re.compile(
    rb"^from[ \t]+\.([A-Za-z_]\w*)[ \t]+import[ \t]+\(?[^\n]*\b(?:__version__|VERSION|version)\b", re.M
)
_VERSION_NAMES = ("__version__", "__VERSION__", "VERSION", "version", "__version_info__", "version_info")


def _root_like(directory: str) -> bool:
    """Whether ``directory`` looks like an import root (for what streaming passes keep)."""
    return directory == "" or directory.endswith(_SITE_DIR) or _LAMBDA_ROOT.match(directory) is not None


def _vendor_candidate(path: str, layer: str | None, is_root: Callable[[str], bool]) -> _Candidate | None:
    """The candidate a file in a vendor tree stands for (a module or a package's ``__init__.py`` directly
    in the tree), when the tree lies inside a package below an import root."""
    parts = path.split("/")
    vendor = _in_vendor_tree(parts)
    if vendor < 0 or not any(is_root("/".join(parts[:j])) for j in range(vendor)):
        return None
    tree = "/".join(parts[: vendor + 1])
    rest = len(parts) - vendor
    if rest == 2 and parts[-1] != "__init__.py":
        return _Candidate(parts[-1][:-3], path, None, tree, layer, tree)
    if rest == 3 and parts[-1] == "__init__.py":
        return _Candidate(parts[-2], path, "/".join(parts[:-1]), tree, layer, tree)
    return None


def _vendor_dir(directory: str) -> bool:
    """Whether ``directory`` is a vendor tree inside a package (``setuptools/_vendor``)."""
    return _in_vendor_tree([*directory.split("/"), ""]) >= 0


def _in_vendor_tree(parts: list[str]) -> int:
    """Index of the innermost vendor directory segment (not the first: it lies inside a package), or -1."""
    for i in range(len(parts) - 2, 0, -1):
        if parts[i] in VENDOR_DIRS:
            return i
    return -1


@dataclass(slots=True)
class _Candidate:
    name: str  # the import name
    path: str  # the module file, or the package's __init__.py
    package_dir: str | None  # the package directory (None: a module)
    root: str  # the import root or vendor directory holding it
    layer: str | None
    vendor_dir: str | None  # the vendor tree's directory (None: at an import root)


class VendoredCodeCataloger(Cataloger):
    """Python code that no dist-info describes, and copies inside other distributions' vendor trees."""

    name = "vendored-code"
    needs = ("python-dists",)

    def __init__(self, extra_roots: frozenset[str] = frozenset()) -> None:
        self.notes: list[str] = []
        # More import roots than the artifact shows (a repository's project directories: committed.py).
        self.extra_roots = extra_roots
        # Copies identified without a version (each also an Unknown): (location, shown path, project, evidence).
        self.unversioned: list[tuple[Location, str, str, tuple[Evidence, ...]]] = []

    def wants(self, path: str) -> bool:
        if not path.endswith((".py", ".txt")):
            return False
        parent, _, base = path.rpartition("/")
        if base in PIN_LISTS:
            return parent.rpartition("/")[2] in VENDOR_DIRS
        if base.endswith(".txt"):
            return False
        if parent.rpartition("/")[2] in VENDOR_DIRS or _root_like(parent):
            return True  # a module at a root or in a vendor tree
        if base == "__init__.py" or base in VERSION_FILES:
            grand = parent.rpartition("/")[0]
            return grand.rpartition("/")[2] in VENDOR_DIRS or _root_like(grand)
        return False

    def read_limit(self, path: str) -> int | None:
        return MAX_SOURCE_BYTES

    def catalog(self, view: ArtifactView, earlier: Sequence[Component] = ()) -> CatalogResult:
        self.notes = []
        self.unversioned = []
        dists = [c for c in earlier if isinstance(c, PythonDist)]
        roots = {d.site_root for d in dists if not _vendor_dir(d.site_root)} | self.extra_roots
        if view.kind in _TOP_IS_ROOT:
            roots.add("")
        lambda_roots = view.kind in _LAMBDA_KINDS
        verdicts: dict[str, bool] = {}

        def is_root(directory: str) -> bool:
            verdict = verdicts.get(directory)
            if verdict is None:
                verdict = (directory in roots or directory.endswith(_SITE_DIR)
                           or (lambda_roots and _LAMBDA_ROOT.match(directory) is not None))
                verdicts[directory] = verdict
            return verdict

        candidates: list[_Candidate] = []
        pin_lists: dict[str, str] = {}  # vendor directory -> its pin list's path
        metadata_dirs: set[tuple[str, str]] = set()  # (root, PEP 503 name) of every *.dist-info/METADATA
        vendor_segment = _VENDOR_SEGMENT.search
        verdict_of = verdicts.get
        for entry in view.entries():
            path = entry.path
            if path[-3:] != ".py":
                if path.endswith("/vendor.txt") and entry.type is not EntryType.DIR:
                    pin_lists[path.rpartition("/")[0]] = path
                elif path.endswith(".dist-info/METADATA"):
                    directory = path[: -len("/METADATA")]
                    root, _, stem = directory.rpartition("/")
                    metadata_dirs.add((root, canonicalize_name(stem.split("-", 1)[0])))
                continue
            if entry.type is EntryType.DIR:
                continue
            # substring tests first: a regex search per file costs more than the rest of the loop
            if ("vendor" in path or "/packages/" in path or "/extern/" in path) and vendor_segment(path) is not None:
                found = _vendor_candidate(path, entry.layer, is_root)
                if found is not None:
                    candidates.append(found)
                continue
            parent, _, base = path.rpartition("/")
            if base == "__init__.py":
                root, _, name = parent.rpartition("/")
                if parent and (verdict_of(root) or is_root(root)):
                    candidates.append(_Candidate(name, path, parent, root, entry.layer, None))
            elif base != BUILD_SCRIPT and verdict_of(parent) is not False and is_root(parent):
                candidates.append(_Candidate(base[:-3], path, None, parent, entry.layer, None))
        if not candidates:
            return CatalogResult((), ())
        return self._identify(view, candidates, dists, pin_lists, metadata_dirs, earlier)

    def _identify(self, view: ArtifactView, candidates: list[_Candidate], dists: list[PythonDist],
                  pin_lists: dict[str, str], metadata_dirs: set[tuple[str, str]],
                  earlier: Sequence[Component]) -> CatalogResult:
        owner: dict[str, PythonDist] = {}  # candidate path -> the distribution whose RECORD lists it
        wanted = {cand.path for cand in candidates}
        first = itemgetter(0)  # RecordEntry.path, without a Python-level loop over every row
        for dist in dists:
            for path in wanted.intersection(map(first, dist.record)):
                owner.setdefault(path, dist)
        os_files = {f for c in earlier if isinstance(c, OsPackage) for f in c.files}
        installed = {(d.site_root, str(d.normalized_name)) for d in dists} | metadata_dirs
        own_dists = {d.site_root for d in dists if _vendor_dir(d.site_root)}
        pins = {vendor_dir: _read_pins(view, path) for vendor_dir, path in pin_lists.items()}
        components: list[PythonDist] = []
        unknowns: list[Unknown] = []
        own_code: list[str] = []
        for cand in candidates:
            if cand.vendor_dir is None:
                if cand.path in owner or cand.path in os_files:
                    continue  # a distribution (or the OS) installed it
            elif cand.root in own_dists:
                continue  # the tree keeps its own dist-info for it (setuptools/_vendor/*.dist-info)
            found = _identity(cand, pins.get(cand.vendor_dir or ""), pin_lists.get(cand.vendor_dir or ""))
            where = Location(cand.path, cand.layer)
            shown = cand.package_dir + "/" if cand.package_dir else cand.path
            if found is None:
                if cand.vendor_dir is None and (cand.root, canonicalize_name(cand.name)) in installed:
                    continue  # a distribution whose metadata is there (or was, unreadable): not a copy
                if cand.vendor_dir is None and cand.root in OWN_CODE_ROOTS:
                    own_code.append(shown.rpartition("/")[2] if cand.package_dir is None else cand.name + "/")
                elif cand.vendor_dir is None:
                    unknowns.append(Unknown(where, f"Python code no distribution's RECORD lists: {shown} "
                                                   f"(import name {cand.name!r}) not identified"))
                elif cand.vendor_dir.rpartition("/")[2] in VENDOR_ONLY_DIRS:
                    unknowns.append(Unknown(where, f"vendored code in {cand.vendor_dir}/: {shown} "
                                                   f"(import name {cand.name!r}) not identified"))
                # else: vendor/, extern/ and packages/ are also ordinary names for a package's own
                # subpackages (poetry/core/packages): what nothing identifies there is the package's code.
                continue
            project, evidence, version = found
            if cand.vendor_dir is None and (cand.root, canonicalize_name(project)) in installed:
                continue  # the installed distribution's own files (an egg-info without a file list)
            if version is None:
                version, version_evidence = _module_version(view, cand)
                if version_evidence is not None:  # strongest first: the version the source states, then the name
                    evidence = tuple(sorted((*evidence, version_evidence),
                                            key=lambda e: _STRONGEST_FIRST.get(e.confidence, 3)))
            if version is None:
                unknowns.append(Unknown(where, f"{shown}: identified as {project} ({evidence[0].detail}), "
                                               "version unknown"))
                self.unversioned.append((where, shown, project, evidence))
                continue
            vendoring = owner.get(cand.path) if cand.vendor_dir is not None else None
            components.append(PythonDist(
                name=project, normalized_name=canonicalize_name(project), version=version,
                purl=_purl(project, version), found_by="vendored-code", metadata_location=where,
                metadata_sha256=None, metadata_dir=cand.package_dir or cand.path, site_root=cand.root,
                status=Status.VENDORED, vendored_by=vendoring.metadata_location if vendoring else None,
                evidence=evidence,
            ))
        if own_code:
            shown_names = ", ".join(sorted(own_code)[:MAX_NOTE_NAMES])
            more = f" and {len(own_code) - MAX_NOTE_NAMES} more" if len(own_code) > MAX_NOTE_NAMES else ""
            self.notes.append(f"Python code at the top that no distribution lists and no known distribution "
                              f"provides, taken as the function's own code: {shown_names}{more}")
        components.sort(key=lambda d: (d.normalized_name, d.metadata_location.path))
        return CatalogResult(tuple(components), tuple(unknowns))


def _read_pins(view: ArtifactView, path: str) -> dict[str, tuple[str, str]]:
    """A vendor.txt (pip's): ``name==version`` lines -> {PEP 503 name: (name as written, version)}."""
    try:
        text = view.read(path, MAX_SOURCE_BYTES).decode("utf-8", "replace")
    except MemberError:
        return {}
    pins: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        name, sep, version = line.split("#", 1)[0].strip().partition("==")
        name, version = name.split("[", 1)[0].strip(), version.split(";", 1)[0].strip()
        if sep and name and version:
            pins[canonicalize_name(name)] = (name, version)
    return pins


def _identity(
    cand: _Candidate, pins: dict[str, tuple[str, str]] | None, pin_path: str | None
) -> tuple[str, tuple[Evidence, ...], str | None] | None:
    """(distribution name, evidence, version from the pin list or None), or None when nothing identifies it."""
    tabled = IMPORT_NAMES.get(cand.name)
    if pins:
        for key in (canonicalize_name(cand.name), canonicalize_name(tabled) if tabled else None):
            if key is not None and key in pins:
                name, version = pins[key]
                return name, (Evidence("vendor-list", "high", f"{pin_path} pins {name}=={version}"),), version
    if tabled is not None:
        detail = f"import name {cand.name!r} is installed by {tabled} (depscan.vendored_names)"
        return tabled, (Evidence("import-name", "medium", detail),), None
    return None


def _module_version(view: ArtifactView, cand: _Candidate) -> tuple[str | None, Evidence | None]:
    """The version the module's source states, read with ``ast``, and where it was seen: in PEP 440's normal
    form, as the distribution's metadata (which build backends normalize) and its purl say it (certifi's
    ``__version__ = "2024.08.30"`` is release 2024.8.30). A package's ``__init__.py`` that imports its version
    from a sibling module (idna's ``from .package_data import __version__``) leads to that module."""
    files = [cand.path]
    if cand.package_dir is not None:
        files += [f"{cand.package_dir}/{name}" for name in VERSION_FILES]
    for path in files:
        if view.get(path) is None:
            continue
        try:
            source = view.read(path, MAX_SOURCE_BYTES)
        except MemberError:
            continue
        written = source_version(source)
        if written is not None:
            version = str(Version(written))
            shown = written if version == written else f"{written} ({version} in PEP 440's normal form)"
            return version, Evidence("module-version", "high", f"{path}: version {shown}")
        if path == cand.path and cand.package_dir is not None:
            imported = _VERSION_IMPORT.search(source)
            sibling = f"{cand.package_dir}/{imported.group(1).decode()}.py" if imported else None
            if sibling is not None and sibling not in files:
                files.append(sibling)
    return None, None


def source_version(source: bytes) -> str | None:
    """The PEP 440 version a module's source assigns at module level (``__version__ = "1.15.0"``,
    ``VERSION = (3, 17, 3)``, ``__version__ = ".".join(map(str, VERSION))``), or None. Parsed, never run."""
    lines = [m.group(0) for m in _VERSION_LINE.finditer(source)]
    if not lines:
        return None
    import ast  # only when a file states a version (most scans parse none)

    try:
        tree = ast.parse(b"\n".join(lines))
    except (SyntaxError, ValueError):
        try:
            tree = ast.parse(source)  # a value over several lines
        except (SyntaxError, ValueError):
            return None
    values: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    values[target.id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            values[node.target.id] = node.value
    for name in _VERSION_NAMES:
        if name in values:
            version = _evaluate(values[name], values, 0)
            if version is not None:
                return version
    return None


def _evaluate(node: ast.expr, values: dict[str, ast.expr], depth: int) -> str | None:
    import ast

    if depth > 4:
        return None
    text: str | None = None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value.strip()
    elif isinstance(node, (ast.Tuple, ast.List)):
        numbers = []
        for element in node.elts:  # the leading numbers: (3, 17, 3) and (1, 2, 0, "final", 0)
            if isinstance(element, ast.Constant) and isinstance(element.value, int):
                numbers.append(str(element.value))
            else:
                break
        text = ".".join(numbers) if numbers else None
    elif isinstance(node, ast.Name) and node.id in values:
        return _evaluate(values[node.id], values, depth + 1)
    elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "join"
          and isinstance(node.func.value, ast.Constant) and node.func.value.value == "." and len(node.args) == 1):
        arg = node.args[0]
        if isinstance(arg, ast.Call) and isinstance(arg.func, ast.Name) and arg.func.id == "map" and len(arg.args) == 2:
            arg = arg.args[1]
        return _evaluate(arg, values, depth + 1)
    if not text:
        return None
    try:
        Version(text)
    except InvalidVersion:
        return None
    return text


def mark_vendored_dists(components: list[Component]) -> list[Component]:
    """Distributions whose dist-info lies inside another distribution's vendor tree
    (``setuptools/_vendor/packaging-24.2.dist-info``), marked ``vendored`` with the distribution whose
    RECORD lists their METADATA (or None when no RECORD does)."""
    inner = {c.metadata_location.path for c in components
             if isinstance(c, PythonDist) and c.status is not Status.VENDORED
             and _vendor_dir(c.site_root)}
    if not inner:
        return components
    by_metadata: dict[str, PythonDist] = {}
    for c in components:
        if isinstance(c, PythonDist) and c.metadata_location.path not in inner:
            for row in c.record:
                if row.path in inner:
                    by_metadata.setdefault(row.path, c)
    out: list[Component] = []
    for c in components:
        if isinstance(c, PythonDist) and c.metadata_location.path in inner:
            vendoring = by_metadata.get(c.metadata_location.path)
            c = replace(c, status=Status.VENDORED, vendored_by=vendoring.metadata_location if vendoring else None,
                        evidence=(Evidence("dist-info", "high", c.metadata_dir),))
        out.append(c)
    return out


def held_without_record(components: Sequence[Component]) -> dict[int, PythonDist]:
    """``id(file)`` -> the vendored copy without a RECORD of its own (found by this cataloger) that
    ``attribute_natives`` made the owner of the ELF file, for the files no real RECORD lists (one the
    vendoring distribution's RECORD lists is that distribution's to update). Nothing installs or
    updates such a file: ``native-unowned`` reports it, and the counts call it unowned."""
    copies = {(c.metadata_location.path, c.metadata_location.layer): c for c in components
              if isinstance(c, PythonDist) and c.found_by == "vendored-code"}
    if not copies:
        return {}
    held: list[tuple[NativeLib, PythonDist]] = []
    for lib in components:
        if isinstance(lib, NativeLib) and lib.owner_location is not None and lib.os_package is None:
            copy = copies.get((lib.owner_location.path, lib.owner_location.layer))
            if copy is not None:
                held.append((lib, copy))
    if not held:
        return {}
    listed = {row.path for c in components if isinstance(c, PythonDist) for row in c.record}
    return {id(lib): copy for lib, copy in held if lib.location.path not in listed}


def attribute_natives(components: list[Component]) -> list[Component]:
    """Native libraries inside a vendored copy's package directory belong to that copy (``owner``,
    ``owner_location``): ``yaml/_yaml.cpython-311-x86_64-linux-gnu.so`` beside a PyYAML whose dist-info
    was deleted, a ``.so`` in ``pip/_vendor/<package>/``. Run before the policy rules."""
    trees = {(c.metadata_dir, c.metadata_location.layer): c for c in components if isinstance(c, PythonDist)
             and c.found_by == "vendored-code" and c.metadata_dir != c.metadata_location.path}
    if not trees:
        return components
    out: list[Component] = []
    for c in components:
        if isinstance(c, (NativeLib, NativeComponent)):
            directory = c.location.path.rpartition("/")[0]
            while directory:
                copy = trees.get((directory, c.location.layer))
                if copy is not None:
                    c = replace(c, owner=copy.purl, owner_location=copy.metadata_location)
                    break
                directory = directory.rpartition("/")[0]
        out.append(c)
    return out
