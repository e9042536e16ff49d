"""Dependencies committed to a repository (issue 11): rules DS101-DS104.

``committed_findings(root, paths)`` judges what git tracks below ``root`` (``git ls-files -z --cached``,
run in ``root``: the index, so staged files count and untracked or ignored ones do not), plus the
``paths`` given (a pre-commit hook passes the staged file names), and returns policy findings and notes:

* ``DS101`` installed metadata committed: a ``site-packages`` / ``dist-packages`` tree (a Lambda layer's
  ``python/lib/python3.X/site-packages`` among them), or ``*.dist-info`` / ``*.egg-info`` directories of
  an install target (``pip install -t package/``); one finding per tree, naming its distributions;
* ``DS102`` a vendored copy of a package (``catalogers/vendored.py``: a copied ``six.py``, a package in a
  ``_vendor/`` directory), with the distribution, version and evidence;
* ``DS103`` a native binary: an ELF file by its magic (``catalogers/native.py``, identified by
  ``native/identify.py``: "libwebp 1.3.1 (high)", its machine, whether a package owns it), a ``.pyd`` /
  ``.dll`` (PE) or ``.dylib`` (Mach-O) by name and magic;
* ``DS104`` a wheel (named with its distribution and version), an egg or a zip archive.

Files inside a DS101 tree are that finding's (not one finding per ``.so`` of a committed
site-packages). The files are read through a directory view of the tracked set only
(``artifacts.directory.open_listed``: nothing untracked is read, no symlink is followed out of ``root``),
by the inventory's own catalogers: distribution metadata, version files of vendored candidates, the
first 64 bytes of files that may be ELF and the ELF files themselves (the native cache applies).

When ``root`` is not in a git work tree (or git cannot say), a note says so and every file present is
judged (``open_directory``); with ``paths``, those files only (``open_listed``: a file named in a large
directory does not make the whole directory read). ``depscan scan DIR`` runs this for a directory at the top of a git
checkout (``has_git``); ``depscan check`` for the repository it checks.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from depscan.artifacts.directory import open_directory, open_listed
from depscan.artifacts.limits import Limits
from depscan.artifacts.view import ArtifactView, EntryType, OpenContext
from depscan.catalogers.native import NativeLibCataloger, is_candidate
from depscan.catalogers.python_dists import PythonDistCataloger
from depscan.catalogers.vendored import VendoredCodeCataloger, attribute_natives, mark_vendored_dists
from depscan.errors import MemberError
from depscan.gitfiles import tracked_files
from depscan.models import (
    Component,
    Evidence,
    Level,
    Location,
    NativeComponent,
    NativeLib,
    PolicyFinding,
    PythonDist,
    Unknown,
)

INSTALLED_METADATA = "DS101"
VENDORED_COPY = "DS102"
NATIVE_BINARY = "DS103"
ARCHIVE = "DS104"
RULES: dict[str, Level] = {
    INSTALLED_METADATA: Level.MEDIUM,
    VENDORED_COPY: Level.MEDIUM,
    NATIVE_BINARY: Level.HIGH,
    ARCHIVE: Level.MEDIUM,  # a plain zip is low: often test data
}

SITE_DIRS = frozenset({"site-packages", "dist-packages"})
# A virtual environment's site-packages (pyvenv.cfg at the environment's top, PEP 405).
_VENV_SITE = re.compile(r"^(?P<venv>(?:.+/)?[^/]+)/(?:lib/(?:python|pypy)[^/]*|Lib)/site-packages$")
_LAYER_SITE = re.compile(r"(?:^|/)python/lib/python3\.\d+/site-packages$")
PROJECT_FILES = frozenset({"pyproject.toml", "setup.py", "setup.cfg", "Pipfile"})
MAX_NAMED = 3  # distributions named in a tree's message and fix
# Native binaries that are not ELF, by name, confirmed by their magic: PE (Windows DLLs, .pyd modules),
# Mach-O (thin 32/64-bit either byte order, and fat binaries).
_PE_SUFFIXES = (".pyd", ".dll")
_MACHO_SUFFIXES = (".dylib",)
_MACHO_MAGIC = (b"\xfe\xed\xfa\xce", b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xcf", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe")
# The first line of a Git LFS pointer file (https://github.com/git-lfs/git-lfs/blob/main/docs/spec.md).
_LFS_POINTER = b"version https://git-lfs.github.com/spec/"
_EGG_NAME = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)(?:-.*)?\.egg$")


def has_git(root: Path) -> bool:
    """Whether ``root`` is the top of a git work tree (a ``.git`` directory, or the ``.git`` file of a
    linked worktree or submodule): no process is started to say so."""
    return os.path.lexists(root / ".git")


def committed_findings(
    root: Path, paths: Sequence[str] | None = None, *, limits: Limits | None = None, native_cache: bool = True,
    tracked: Sequence[str] | None = None,
) -> tuple[list[PolicyFinding], list[str]]:
    """Findings DS101-DS104 for the files committed below ``root``, and notes.

    ``paths`` (relative to ``root``, or absolute inside it): the files being committed, as a pre-commit
    hook passes them (a directory stands for the files below it). They count as committed, and only
    findings about them are returned (a staged file of a committed site-packages tree gives the tree's
    finding); the rest of the tracked files still give the context (the RECORD that owns a staged
    ``.so``). ``limits`` bound what is read, as in a scan; ``native_cache`` False keeps the native cache
    out of it (``--no-cache``). ``tracked``: what git tracks below ``root``, when the caller has already
    asked (``gitfiles.tracked_files``). Raises ``ArtifactError`` when ``root`` is not a directory.
    """
    notes: list[str] = []
    scope = _in_root(root, paths, notes) if paths is not None else None
    ctx = OpenContext(limits=limits or Limits())
    known: list[str] | None
    why = None
    if tracked is None:
        known, why = tracked_files(root)
    else:
        known = list(tracked)
    if known is None and scope is not None:  # the files named, and nothing else of a directory of any size
        notes.append(f"{root} is not a git checkout ({why}): the files named are judged as committed")
        view = open_listed(str(root), str(root), sorted(scope), ctx)
    elif known is None:
        notes.append(f"{root} is not a git checkout ({why}): every file present is judged as committed")
        view = open_directory(str(root), str(root), ctx)
    else:
        if not known:
            notes.append(f"git tracks no file below {root} (untracked and ignored files are not committed)")
        listed = known if scope is None else list(dict.fromkeys([*known, *scope]))
        view = open_listed(str(root), str(root), listed, ctx)
    in_scope = None
    if scope is not None:
        folders = tuple(f"{p}/" for p in scope if (root / p).is_dir() and not (root / p).is_symlink())

        def in_scope(path: str) -> bool:
            return path in scope or (bool(folders) and path.startswith(folders))

    with view:
        findings = _judge(view, native_cache, in_scope)
    if in_scope is not None:
        findings = [f for f in findings if any(map(in_scope, f.members))]
    for unknown in view.unknowns[:5]:
        notes.append(f"committed files: {unknown.location.path}: {unknown.reason}")
    if len(view.unknowns) > 5:
        notes.append(f"committed files: {len(view.unknowns) - 5} more could not be read")
    findings.sort(key=lambda f: (f.finding.rule, f.finding.location.path))
    return [f.finding for f in findings], notes


def _in_root(root: Path, paths: Sequence[str], notes: list[str]) -> frozenset[str]:
    """``paths`` as relative POSIX paths below ``root``; those outside it are left out with a note."""
    inside: set[str] = set()
    base = os.path.abspath(root)
    outside = []
    for path in paths:
        full = os.path.normpath(os.path.join(base, path))
        rel = os.path.relpath(full, base)
        if rel == os.curdir or rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
            outside.append(path)
            continue
        inside.add(rel.replace(os.sep, "/"))
    if outside:
        notes.append(f"{len(outside)} file(s) named outside {root} not judged (first: {outside[0]})")
    return frozenset(inside)


def _judge(view: ArtifactView, native_cache: bool, in_scope: Callable[[str], bool] | None) -> list[_Judged]:
    """The findings: installed trees first (from the paths and the distributions' metadata), then the
    vendored copies and binaries outside them (the scan's own catalogers, over what the trees leave; only
    the files ``in_scope`` are checked for binaries when the files being committed are named)."""
    files = [e.path for e in view.entries() if e.type is not EntryType.DIR]
    components: list[Component] = list(PythonDistCataloger().catalog(view).components)
    dists = [c for c in components if isinstance(c, PythonDist)]
    trees = _trees(files, dists)
    covered = {path for tree in trees.values() for path in tree.members}
    venvs = {path[: -len("/pyvenv.cfg")] for path in files if path.endswith("/pyvenv.cfg")}
    judged = [_tree_finding(tree, dists, venvs) for tree in sorted(trees.values(), key=lambda t: t.path)]
    # what lies in a tree is the tree's finding: neither identified again nor parsed
    view.discard_under([*(t.path for t in trees.values() if t.site), *covered])
    vendored = VendoredCodeCataloger(extra_roots=_project_roots(files, covered))
    components.extend(vendored.catalog(view, tuple(components)).components)
    if in_scope is not None:  # a binary's finding is about its file alone: the others need not be read
        view.discard_under([e.path for e in view.entries() if e.type is not EntryType.DIR and not in_scope(e.path)])
    native = NativeLibCataloger(use_cache=native_cache).catalog(view, tuple(components))
    components = attribute_natives(mark_vendored_dists([*components, *native.components]))
    native_unknowns: dict[str, Unknown] = {}
    for unknown in native.unknowns:
        native_unknowns.setdefault(unknown.location.path, unknown)
    dists = [c for c in components if isinstance(c, PythonDist)]
    by_metadata = {d.metadata_location.path: d for d in dists}
    for dist in dists:
        if dist.found_by == "vendored-code" and dist.metadata_location.path not in covered:
            judged.append(_vendored_finding(dist, files))
    for where, shown, project, evidence in vendored.unversioned:
        judged.append(_unversioned_finding(where.path, shown, project, evidence, files))
    natives: dict[str, NativeLib] = {}
    identified: dict[str, list[NativeComponent]] = {}
    for c in components:
        if isinstance(c, NativeLib):
            natives[c.location.path] = c
        elif isinstance(c, NativeComponent):
            identified.setdefault(c.location.path, []).append(c)
    for path, lib in natives.items():
        if path not in covered:
            judged.append(_native_finding(lib, identified.get(path, []), by_metadata, native_unknowns.get(path)))
    for path, unknown in native_unknowns.items():
        if path not in natives and path not in covered and _binary_magic(view, path) == "ELF":
            judged.append(_damaged_elf_finding(path, unknown))
    for path in files:
        if path in covered or path in natives or path not in view:
            continue
        lower = path.lower()
        if lower.endswith(_PE_SUFFIXES + _MACHO_SUFFIXES) or is_candidate(path):
            kind = _binary_magic(view, path)
            if kind in ("PE", "Mach-O", "LFS"):
                judged.append(_other_binary_finding(path, kind))
        elif lower.endswith((".whl", ".egg", ".zip")):
            entry = view.get(path)
            if entry is not None and entry.type is EntryType.FILE:
                judged.append(_archive_finding(path, entry.size))
    return judged


@dataclass(slots=True)
class _Judged:
    finding: PolicyFinding
    members: frozenset[str]  # the files the finding is about (a tree's files, a copy's files, the file)


@dataclass(slots=True)
class _Tree:
    path: str  # the site-packages directory, or the directory holding the metadata directories
    site: bool  # a site-packages / dist-packages tree (every file below it is its), else an install target
    metadata_dirs: set[str] = field(default_factory=set)
    members: set[str] = field(default_factory=set)
    build_metadata: bool = False  # only a project's own *.egg-info (SOURCES.txt, no installed-files.txt)


def _project_roots(files: list[str], covered: set[str]) -> frozenset[str]:
    """Directories a project's code is imported from, besides the top: those holding a file that declares a
    project or its requirements (``functions/api/requirements.txt``), and their ``src/`` (the src layout).
    A copied ``six.py`` beside a function's handler is a vendored copy there as at the top."""
    roots: set[str] = set()
    for path in files:
        directory, _, base = path.rpartition("/")
        if directory and path not in covered and (base in PROJECT_FILES or (
                base.startswith("requirements") and base.endswith((".txt", ".in")))):
            roots.add(directory)
    roots |= {f"{root}/src" for root in roots}
    return frozenset(roots | {"src"})


def _tree_of(path: str) -> tuple[str, bool, str | None] | None:
    """(tree, is a site tree, the metadata directory the file is in) of a file, or None outside trees."""
    if "-packages/" not in path and "-info" not in path and "EGG-INFO/" not in path:
        return None
    parts = path.split("/")
    for i, part in enumerate(parts[:-1]):
        if part in SITE_DIRS:
            tree = "/".join(parts[: i + 1])
            return tree, True, _metadata_dir(parts, i + 1)
    meta = _metadata_dir(parts, 0)
    if meta is None:
        return None
    return meta.rpartition("/")[0], False, meta


def _metadata_dir(parts: list[str], start: int) -> str | None:
    """The ``*.dist-info`` / ``*.egg-info`` / ``EGG-INFO`` directory (or egg-info file) a path lies in."""
    for i in range(start, len(parts)):
        part = parts[i]
        if part.endswith((".dist-info", ".egg-info")) or (part == "EGG-INFO" and i < len(parts) - 1):
            if part.endswith(".dist-info") and i == len(parts) - 1:
                return None  # a file named like that, not a directory
            return "/".join(parts[: i + 1])
    return None


def _trees(files: Iterable[str], dists: list[PythonDist]) -> dict[str, _Tree]:
    """The installed trees among the files: site-packages trees take every file below them; an install
    target (metadata directories outside a site tree) takes its metadata files and the files its
    distributions' RECORDs list (the project's own code beside a ``*.egg-info`` is not the tree's)."""
    trees: dict[str, _Tree] = {}
    egg_files: dict[str, set[str]] = {}
    for path in files:
        found = _tree_of(path)
        if found is None:
            continue
        where, site, meta = found
        tree = trees.get(where)
        if tree is None:
            tree = trees[where] = _Tree(where, site)
        tree.members.add(path)
        if meta is not None and (not site or meta.rpartition("/")[0] == where):  # a site tree's own, not vendored
            tree.metadata_dirs.add(meta)
            if meta.endswith(".egg-info") and meta != path:
                egg_files.setdefault(meta, set()).add(path.rpartition("/")[2])
    for dist in dists:
        tree = trees.get(dist.site_root)
        if tree is not None and not tree.site:
            tree.members.update(row.path for row in dist.record)
    for tree in trees.values():
        if not tree.site:
            names = [egg_files.get(meta, set()) for meta in tree.metadata_dirs]
            tree.build_metadata = bool(names) and all(
                meta.endswith(".egg-info") for meta in tree.metadata_dirs
            ) and all("SOURCES.txt" in n and "installed-files.txt" not in n for n in names)
    tracked = set(files) if any(not t.site for t in trees.values()) else set()
    for tree in trees.values():
        if not tree.site:
            tree.members &= tracked  # RECORD rows name files that may not be committed
    return trees


def _named(dists: list[PythonDist], pins: bool) -> str:
    shown = [f"{d.name}=={d.version}" if pins else f"{d.name} {d.version}" for d in dists[:MAX_NAMED]]
    more = len(dists) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "")


def _tree_finding(tree: _Tree, all_dists: list[PythonDist], venvs: set[str]) -> _Judged:
    dists = [d for d in all_dists if d.metadata_dir in tree.metadata_dirs]
    dists.sort(key=lambda d: (d.normalized_name, d.version))
    count = max(len(tree.metadata_dirs), len({d.metadata_dir for d in dists}))
    held = (f"{count} distribution{'s' if count != 1 else ''}" + (f" ({_named(dists, False)})" if dists else "")
            if count else "no distribution metadata")
    where = tree.path or min(tree.metadata_dirs)
    files = len(tree.members)
    venv = _VENV_SITE.match(tree.path) if tree.site else None
    if venv is not None and venv["venv"] in venvs:
        message = (f"a virtual environment is committed: {venv['venv']}/ (it has a pyvenv.cfg); its site-packages "
                   f"tree has {files} file{'s' if files != 1 else ''} with {held}")
    elif tree.site:
        what = "a Lambda layer's site-packages tree" if _LAYER_SITE.search(tree.path) else "a site-packages tree"
        message = f"{what} is committed: {files} file{'s' if files != 1 else ''} with {held}"
    elif tree.build_metadata:
        message = f"build metadata of a project is committed: {', '.join(sorted(tree.metadata_dirs)[:MAX_NAMED])}"
    else:
        at = f"{tree.path}/" if tree.path else "the top of the repository"
        message = f"installed distributions are committed in {at}: {held}"
    shown = f"{where}/" if tree.path else "the installed files"
    if venv is not None and venv["venv"] in venvs:
        fix = (f"Remove {venv['venv']}/ from git and add it to .gitignore; declare what it holds in "
               "requirements.txt and recreate it with pip.")
    elif tree.build_metadata:
        fix = (f"Remove {', '.join(d + '/' for d in sorted(tree.metadata_dirs))} from git and add *.egg-info to "
               ".gitignore: pip and setuptools regenerate it.")
    elif len(dists) == 1:
        fix = f"Remove {shown} from git and declare {dists[0].name}=={dists[0].version} in requirements.txt."
    elif dists:
        fix = (f"Remove {shown} from git and declare its distributions ({_named(dists, True)}) in "
               "requirements.txt, installed at build time.")
    else:
        fix = f"Remove {shown} from git and install what it holds at build time from declared requirements."
    finding = PolicyFinding(rule=INSTALLED_METADATA, level=RULES[INSTALLED_METADATA], location=Location(where),
                            message=message, fix=fix)
    return _Judged(finding, frozenset(tree.members))


def _vendored_finding(dist: PythonDist, files: list[str]) -> _Judged:
    where = dist.metadata_dir
    shown = where + "/" if where != dist.metadata_location.path else where
    evidence = "; ".join(e.detail for e in dist.evidence[:2])
    message = f"a vendored copy of {dist.name} {dist.version} is committed at {shown} ({evidence})"
    fix = f"Remove {shown} from git and declare {dist.name}=={dist.version} in requirements.txt."
    if where == dist.metadata_location.path:
        members = frozenset({where})
    else:
        prefix = where + "/"
        members = frozenset(p for p in files if p.startswith(prefix))
    finding = PolicyFinding(rule=VENDORED_COPY, level=RULES[VENDORED_COPY], location=Location(where),
                            message=message, component=dist.purl, fix=fix)
    return _Judged(finding, members)


def _unversioned_finding(path: str, shown: str, project: str, evidence: tuple[Evidence, ...],
                         files: list[str]) -> _Judged:
    where = shown.rstrip("/")
    detail = "; ".join(e.detail for e in evidence[:2])
    message = f"a vendored copy of {project} (version unknown) is committed at {shown} ({detail})"
    fix = f"Remove {shown} from git and declare {project}, pinned to the version the copy is, in requirements.txt."
    members = frozenset({path}) if where == path else frozenset(p for p in files if p.startswith(where + "/"))
    finding = PolicyFinding(rule=VENDORED_COPY, level=RULES[VENDORED_COPY], location=Location(where),
                            message=message, fix=fix)
    return _Judged(finding, members)


def _identity(lib: NativeLib, found: list[NativeComponent]) -> str:
    """What the file is: the libraries identified in it, strongest first, or what its name says."""
    if found:
        found = sorted(found, key=lambda c: (c.embedded, c.name))
        return ", ".join(f"{c.name} {c.version or '(version unknown)'} ({c.confidence or 'low'}"
                         + (", linked in statically)" if c.embedded else ")") for c in found)
    if lib.kind == "python-extension":
        return f"a Python extension module ({lib.name}), no known library identified in it"
    return f"{lib.name}, not identified"


def _native_finding(lib: NativeLib, found: list[NativeComponent], by_metadata: dict[str, PythonDist],
                    problem: Unknown | None) -> _Judged:
    owner = by_metadata.get(lib.owner_location.path) if lib.owner_location is not None else None
    if owner is None:
        owned = "no package owns it"
    elif owner.found_by == "vendored-code":
        owned = f"part of the vendored copy of {owner.name} {owner.version}"
    else:
        owned = f"listed in the RECORD of {owner.name} {owner.version}"
    message = f"a native binary is committed: {_identity(lib, found)}; ELF {lib.elf_type} for {lib.arch}; {owned}"
    if problem is not None:
        message += f" ({problem.reason})"
    versioned = [c for c in found if c.version and not c.embedded]
    if owner is not None:
        fix = f"Remove it from git and declare {owner.name}=={owner.version} in requirements.txt."
    elif versioned:
        fix = (f"Remove it from git and install {versioned[0].name} {versioned[0].version} at build time from a "
               "wheel or an OS package that ships it.")
    else:
        fix = "Remove it from git and build it from its source in CI, or ship it inside a wheel."
    purl = next((c.purl for c in sorted(found, key=lambda c: c.embedded)), lib.purl)
    finding = PolicyFinding(rule=NATIVE_BINARY, level=RULES[NATIVE_BINARY], location=lib.location,
                            message=message, component=purl, fix=fix)
    return _Judged(finding, frozenset({lib.location.path}))


def _damaged_elf_finding(path: str, problem: Unknown) -> _Judged:
    finding = PolicyFinding(rule=NATIVE_BINARY, level=RULES[NATIVE_BINARY], location=Location(path),
                            message=f"a native binary is committed: an ELF file that cannot be read ({problem.reason})",
                            fix="Remove it from git and build it from its source in CI, or ship it inside a wheel.")
    return _Judged(finding, frozenset({path}))


def _other_binary_finding(path: str, kind: str) -> _Judged:
    if kind == "LFS":
        message = ("a native binary is committed through Git LFS: only its pointer file is checked out, so it "
                   "is not identified")
    else:
        what = "a Windows PE file (DLL or extension module)" if kind == "PE" else "a Mach-O file (macOS library)"
        message = f"a native binary is committed: {what}, not identified (only ELF files are)"
    finding = PolicyFinding(rule=NATIVE_BINARY, level=RULES[NATIVE_BINARY], location=Location(path),
                            message=message,
                            fix="Remove it from git and install it at build time from the wheel that ships it, or "
                                "build it from its source in CI.")
    return _Judged(finding, frozenset({path}))


def _binary_magic(view: ArtifactView, path: str) -> str | None:
    """"ELF", "PE", "Mach-O", or "LFS" (a Git LFS pointer file) from the file's first bytes, or None."""
    try:
        head = view.read_prefix(path, len(_LFS_POINTER))
    except MemberError:
        return None
    if head == _LFS_POINTER:
        return "LFS"
    head = head[:4]
    if head.startswith(b"\x7fELF"):
        return "ELF"
    if head.startswith(b"MZ"):
        return "PE"
    if head in _MACHO_MAGIC:
        return "Mach-O"
    return None


def _archive_finding(path: str, size: int) -> _Judged:
    base = path.rpartition("/")[2]
    level = RULES[ARCHIVE]
    component = None
    if base.lower().endswith(".whl"):
        from packaging.utils import InvalidWheelFilename, parse_wheel_filename

        try:
            wheel_name, wheel_version, _build, tags = parse_wheel_filename(base)
        except InvalidWheelFilename as e:
            message = f"a wheel is committed, its file name not a valid wheel name ({e})"
            fix = "Remove it from git and declare the distribution it holds in requirements.txt."
        else:
            shown_tags = ", ".join(sorted(str(t) for t in tags)[:2]) + (" ..." if len(tags) > 2 else "")
            message = f"a wheel is committed: {wheel_name} {wheel_version} ({shown_tags})"
            fix = f"Remove it from git and declare {wheel_name}=={wheel_version} in requirements.txt."
            component = f"pkg:pypi/{wheel_name}@{wheel_version}"
    elif base.lower().endswith(".egg"):
        match = _EGG_NAME.match(base)
        if match is not None:
            name, version = match["name"].replace("_", "-"), match["version"].replace("_", "-")
            message = f"an egg is committed: {name} {version}"
            fix = f"Remove it from git and declare {name}=={version} in requirements.txt."
        else:
            message = "an egg is committed"
            fix = "Remove it from git and declare the distribution it holds in requirements.txt."
    else:
        level = Level.LOW
        message = f"a zip archive is committed ({size:,} bytes)"
        fix = ("Remove it from git and build it in CI from declared requirements; if it is test data, "
               "ignore DS104 for it.")
    finding = PolicyFinding(rule=ARCHIVE, level=level, location=Location(path), message=message,
                            component=component, fix=fix)
    return _Judged(finding, frozenset({path}))
