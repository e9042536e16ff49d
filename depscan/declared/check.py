"""``depscan check``: the declared-dependency files of a checkout (or the files named), the repository rules on
them, as a ``ScanResult`` whose ``policy_findings`` every reporter already writes. Offline; never runs pip.

* A directory: its files from ``git ls-files`` when it is a git checkout (untracked and ignored files are not
  the repository's), else a walk that skips ``.git``, ``.venv``/``venv``, ``node_modules``, ``site-packages``
  and ``__pycache__``; the files a parser of ``declared.PARSERS`` reads (``parser_for_path``) are checked.
* Files (what pre-commit passes): those files, relative to the current directory; a requirements or lock file
  beside a manifest is read as context (its pins), never reported.
* ``-r`` / ``-c`` includes are read too (relative to the including file): one outside the checked root, one
  that does not exist, and a cycle are errors on the including line (DS007). Files named explicitly are
  reported; files only included by them are context (their own findings come when they are checked).

Three families of checks, chosen with ``families`` (``depscan check --only``):

* ``pins``: the rules DS001-DS007 on the declared-dependency files (``declared/rules.py``);
* ``committed``: the rules DS101-DS104 (``committed.committed_findings``): for a directory, what git tracks in
  it (a directory that is not a git checkout is not judged: a note says so); for files, the named files that
  are not declared-dependency files (a staged ``.so``, wheel, ``site-packages/...`` file), with the rest of
  the index as their context;
* ``audit``: the exact pins of the reported requirement and lock files matched against advisories
  (``declared/audit.py``, after the check: this module imports nothing of the scan).

``.depscan.toml [check]`` select/ignore apply to both rule families.
"""

from __future__ import annotations

import os
import posixpath
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from packaging.utils import canonicalize_name

from depscan import __version__
from depscan.declared import parser_for_path
from depscan.declared.config import CheckConfig
from depscan.declared.config import load as load_config
from depscan.errors import DepscanError, InputError, UsageError
from depscan.models import ArtifactInfo, DeclaredFile, Location, PolicyFinding, PythonDist, ScanResult

MAX_FILE_BYTES = 4 * 1024 * 1024  # larger is an error for the file (hashed compiled files are < 1 MiB)
SKIP_DIRS = frozenset({".git", ".hg", ".svn", ".venv", "venv", "node_modules", "site-packages", "__pycache__",
                       ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache"})
KIND = "repository"
FAMILIES = ("pins", "committed", "audit")  # depscan check --only
DEFAULT_FAMILIES = frozenset({"pins", "committed"})


@dataclass(frozen=True, slots=True)
class Checked:
    """What a check read: every file parsed (context included) and the paths findings are reported for."""

    files: tuple[DeclaredFile, ...]
    reported: frozenset[str]


def tracked_files(root: Path) -> list[str] | None:
    """The files git tracks under ``root`` (POSIX, relative to it), or None when ``root`` is not in a git
    checkout (or git is not installed): ``gitfiles.tracked_files``, which the committed rules use too."""
    from depscan.gitfiles import tracked_files as listed  # only a directory needs git: a pre-commit run does not

    return listed(root)[0]


def walked_files(root: Path) -> list[str]:
    """Every file under ``root`` (POSIX, relative), skipping ``SKIP_DIRS``; links to directories not followed."""
    out: list[str] = []
    for current, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith((".dist-info", ".egg-info")))
        rel = os.path.relpath(current, root)
        base = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        out += [base + name for name in sorted(files)]
    return out


def declared_paths(names: Sequence[str], root: Path) -> list[str]:
    """The names a parser reads, in order, that exist under ``root`` (git lists a tracked file deleted from the
    working tree until the deletion is committed)."""
    return [name for name in names if parser_for_path(name) is not None and os.path.lexists(root / name)]


def read_text(root: Path, rel: str) -> tuple[str | None, str | None]:
    """(text, None) or (None, the one-line reason the file cannot be read): a regular file inside ``root``, at
    most ``MAX_FILE_BYTES``, UTF-8 (a BOM allowed), no NUL bytes."""
    from depscan.regular_files import read_regular

    full = root / rel
    real_root = os.path.realpath(root)
    real = os.path.realpath(full)
    if real != real_root and not real.startswith(real_root.rstrip(os.sep) + os.sep):
        return None, "a link that leaves the checked root: not read"
    try:
        data = read_regular(full, MAX_FILE_BYTES, "a declared-dependency file", InputError)
    except DepscanError as e:
        reason = str(e)
        return None, reason.split(": ", 1)[1] if reason.startswith(str(full)) and ": " in reason else reason
    if b"\0" in data:
        return None, "binary content (NUL bytes): not a text file"
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as e:
        return None, f"not UTF-8 text (byte {e.start}: {data[e.start:e.start + 1]!r})"


def _parse(root: Path, rel: str, source: str | None = None) -> DeclaredFile:
    """One file parsed (``source`` "requirements"/"constraints": an include, read as a requirements file)."""
    from depscan.declared import requirements_txt

    text, problem = read_text(root, rel)
    parser = parser_for_path(rel)
    kind = "requirements" if parser is None or source is not None else _kind_guess(rel)
    if text is None:
        return DeclaredFile(rel, kind, False, errors=((0, f"cannot be read: {problem}"),))
    if source is not None:
        return requirements_txt.parse_as(rel, text, source)
    if parser is None:
        return requirements_txt.parse(rel, text)
    try:
        return parser(rel, text)
    except RecursionError:
        return DeclaredFile(rel, kind, False, errors=((0, "nested too deeply to be read"),))


def _kind_guess(rel: str) -> str:
    """The ``DeclaredFile.kind`` of a file that could not be read, from its name."""
    name = posixpath.basename(rel)
    if name.lower().endswith((".txt", ".in")):
        return "requirements"
    if name.startswith("pylock.") and name.endswith(".toml"):
        return "pylock"
    return {"pyproject.toml": "pyproject"}.get(name, name)  # poetry.lock, Pipfile, uv.lock ... are their names


def collect(root: Path, paths: Sequence[str], context: Sequence[str] = ()) -> Checked:
    """``paths`` (relative to ``root``) parsed and reported, ``context`` parsed only, and every file their
    ``-r``/``-c`` includes name, transitively (context); include errors added to the including file."""
    files: dict[str, DeclaredFile] = {}
    queue: list[tuple[str, str | None]] = [(p, None) for p in dict.fromkeys([*paths, *context])]
    constraint_targets: set[str] = set()
    while queue:
        rel, source = queue.pop(0)
        if rel in files:
            continue
        declared = _parse(root, rel, source)
        extra: list[tuple[int, str]] = []
        for option in declared.options:
            if option.name not in ("--requirement", "--constraint") or option.value is None:
                continue
            target = option.value
            if option.name == "--constraint":
                constraint_targets.add(target)
            if target in files or any(target == q for q, _ in queue):
                continue
            if not (root / target).is_file():
                extra.append((option.line, f"line {option.line}: {option.name} {target}: no such file"))
                continue
            queue.append((target, "constraints" if option.name == "--constraint" else "requirements"))
        if extra:
            declared = replace(declared, errors=(*declared.errors, *extra))
        files[rel] = declared
    for target in constraint_targets:  # a file included with -c constrains, whatever else names it
        found = files.get(target)
        if found is not None and found.kind == "requirements":
            files[target] = replace(found, requirements=tuple(replace(r, source="constraints")
                                                              for r in found.requirements))
    for rel, error in _cycles(files):
        files[rel] = replace(files[rel], errors=(*files[rel].errors, error))
    return Checked(tuple(files.values()), frozenset(paths))


def _cycles(files: dict[str, DeclaredFile]) -> list[tuple[str, tuple[int, str]]]:
    """The include that closes a cycle (``a -r b``, ``b -r a``), as (file, (line, error)), once per edge."""
    found: list[tuple[str, tuple[int, str]]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(path: str, trail: list[str]) -> None:
        state[path] = 1
        declared = files.get(path)
        for option in declared.options if declared else ():
            if option.name not in ("--requirement", "--constraint") or option.value is None:
                continue
            target = option.value
            if state.get(target) == 1:
                loop = [*trail[trail.index(target):], path, target] if target in trail else [path, target]
                found.append((path, (option.line, f"line {option.line}: {option.name} {target}: include cycle "
                                                   f"({' -> '.join(loop)}): not followed again")))
            elif state.get(target) is None and target in files:
                visit(target, [*trail, path])
        state[path] = 2

    for path in files:  # the order they were read in: named files first
        if path not in state:
            visit(path, [])
    return found


@dataclass(frozen=True, slots=True)
class Run:
    """A check's result, what it read, and how the current directory reaches the checked root ("" or "sub/")."""

    result: ScanResult
    checked: Checked
    prefix: str


def check_paths(arguments: Sequence[str], config: CheckConfig | None = None,
                cwd: Path | None = None, *, families: frozenset[str] = DEFAULT_FAMILIES) -> ScanResult:
    """``depscan check ARGUMENTS``: one directory (the checked root), or files (relative to the current
    directory, which is then the root). Findings name files relative to the current directory. ``families``
    chooses the checks (``FAMILIES``; the advisory lookup of ``audit`` is ``declared.audit.audit``'s)."""
    return check_repository(arguments, config, cwd, families=families).result


def check_repository(arguments: Sequence[str], config: CheckConfig | None = None,
                     cwd: Path | None = None, *, families: frozenset[str] = DEFAULT_FAMILIES) -> Run:
    """``check_paths``, with what it read (the pins ``declared.audit`` matches come from it)."""
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown or not families:
        raise UsageError(f"unknown check famil{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown) or '(none)'}; "
                         f"one or more of: {', '.join(FAMILIES)}")
    started = time.perf_counter()
    here = (cwd or Path.cwd()).resolve()
    if not arguments:
        arguments = ["."]
    directories = [a for a in arguments if os.path.isdir(a if cwd is None else cwd / a)]
    if directories and len(arguments) > 1:
        raise UsageError("give one directory, or files: not both, nor several directories")
    notes: list[str] = []
    committed: list[PolicyFinding] = []
    committed_run = False
    if directories:
        root = (here / directories[0]).resolve()
        tracked = tracked_files(root)
        names = tracked if tracked is not None else walked_files(root)
        checked = collect(root, declared_paths(names, root))
        checked = Checked(checked.files, frozenset(f.path for f in checked.files))  # includes are the repository's
        label = directories[0]
        considered = len(names)
        others: list[str] | None = None  # every tracked file
        if "committed" in families and tracked is None:
            notes.append(f"{label}: not a git checkout: nothing is committed, the rules DS101-DS104 were not run")
    else:
        root = here
        tracked = None
        paths, context, others = _named_files(root, arguments, notes, "committed" in families,
                                              declared=bool(families & {"pins", "audit"}))
        checked = collect(root, paths, context)
        label = arguments[0] if len(arguments) == 1 else f"{len(arguments)} files"
        considered = len(arguments)
    config = config if config is not None else load_config(root)
    prefix = _prefix(root, here)
    findings: list[PolicyFinding] = []
    if "pins" in families:
        from depscan.declared.rules import check

        outcome = check(checked.files, config, checked.reported)
        findings += outcome.findings
        notes += [prefix + n for n in outcome.notes]
    if "committed" in families and (tracked is not None if others is None else bool(others)):
        from depscan.committed import committed_findings

        committed_run = True
        found, committed_notes = committed_findings(root, others, tracked=tracked)
        committed = [f for f in found if config.enabled(f.rule)]
        findings += committed
        notes += committed_notes
    stats: dict[str, int | float] = {
        "files_considered": considered, "declared_files": len(checked.reported),
        "context_files": len(checked.files) - len(checked.reported)}
    if committed_run:
        stats["committed_findings"] = len(committed)
    stats["total_seconds"] = round(time.perf_counter() - started, 4)
    relocated = sorted((_relocated(f, prefix) for f in findings), key=lambda f: (f.location.path, f.line or 0, f.rule))
    result = ScanResult(
        artifact=ArtifactInfo(path=label, kind=KIND, size=None),
        components=(),
        unknowns=(),
        tool_version=__version__,
        policy_findings=tuple(relocated),
        notes=tuple(notes),
        stats=stats,
    )
    return Run(result, checked, prefix)


def _named_files(root: Path, arguments: Sequence[str], notes: list[str], committed: bool = False, *,
                 declared: bool = True) -> tuple[list[str], list[str], list[str]]:
    """Named files relative to ``root``: the declared-dependency files (when ``declared``), the lock and
    requirements files beside any of them (context), and the other files (judged by the committed-dependency
    rules when ``committed``; every named file when not ``declared``)."""
    paths: list[str] = []
    others: list[str] = []
    for argument in arguments:
        full = Path(os.path.normpath(root / argument))  # links not resolved: the name given is the file's name
        rel = os.path.relpath(full, root).replace(os.sep, "/")
        if rel == ".." or rel.startswith("../"):
            raise UsageError(f"{argument}: outside the current directory; run depscan check from the repository "
                             "root")
        if not os.path.lexists(full):
            raise UsageError(f"{argument}: no such file or directory")
        if not declared or (parser_for_path(rel) is None and not rel.lower().endswith((".txt", ".in"))):
            if committed:
                others.append(rel)
            else:
                notes.append(f"{rel}: not a declared-dependency file depscan reads; skipped")
            continue
        paths.append(rel)
    context: list[str] = []
    # pins beside a manifest or a pip-tools input decide whether its ranges are reported (rules.DS001)
    needing = [p for p in paths if posixpath.basename(p) in ("pyproject.toml", "setup.cfg", "Pipfile")
               or p.lower().endswith(".in")]
    for directory in sorted({posixpath.dirname(p) for p in needing}):
        try:
            siblings = sorted(os.listdir(root / directory if directory else root))
        except OSError:
            continue
        for name in siblings:
            rel = posixpath.join(directory, name) if directory else name
            if rel not in paths and parser_for_path(rel) is not None and (root / rel).is_file():
                context.append(rel)
    return paths, context, others


def _prefix(root: Path, here: Path) -> str:
    """How the current directory reaches ``root``: "" when they are one, "sub/" under it."""
    try:
        rel = root.relative_to(here)
    except ValueError:
        return ""
    text = rel.as_posix()
    return "" if text in ("", ".") else text + "/"


def _relocated(finding: PolicyFinding, prefix: str) -> PolicyFinding:
    if not prefix:
        return finding
    return replace(finding, location=Location(prefix + finding.location.path, finding.location.layer))


def check_directory(root: Path, entries: Sequence[str] = ()) -> tuple[tuple[PolicyFinding, ...], tuple[str, ...]]:
    """The repository rules on a directory ``depscan scan`` reads (paths relative to it, as every location of
    the scan is): the files git tracks in a checkout, else (not a checkout, or nothing tracked in it)
    ``entries`` (the scan's own listing of the directory) outside ``SKIP_DIRS``. Its ``.depscan.toml``
    ``[check]`` table applies; a bad table is a note, not an error (the scan is about the artifact)."""
    from depscan.declared.rules import check

    notes: list[str] = []
    try:
        config = load_config(root)
    except UsageError as e:
        config = CheckConfig()
        notes.append(f"{e}; the repository rules ran with their defaults")
    names = tracked_files(root)
    if not names:  # not a checkout, or a directory git tracks nothing in (a build output): what the scan read
        names = [e for e in entries if not any(part in SKIP_DIRS or part.endswith((".dist-info", ".egg-info"))
                                               for part in e.split("/")[:-1])]
    checked = collect(root, declared_paths(names, root))
    outcome = check(checked.files, config)  # every file read, includes too, is the directory's
    return outcome.findings, (*notes, *outcome.notes)


def pinned_components(files: Sequence[DeclaredFile], prefix: str = "") -> tuple[PythonDist, ...]:
    """``depscan check --audit``: each exact pin (a name, one version, not a URL nor editable) of ``files`` as a
    Python distribution advisories are matched against, located at its file (``prefix`` + path, where an
    installed copy has its METADATA); one per name, version and file."""
    seen: dict[tuple[str, str, str], PythonDist] = {}
    for declared in files:
        for req in declared.requirements:
            if req.name is None or req.pinned is None or req.url is not None or req.editable:
                continue
            key = (req.name, req.pinned, req.file)
            if key not in seen:
                where = prefix + req.file
                seen[key] = PythonDist(
                    name=req.name, normalized_name=canonicalize_name(req.name), version=req.pinned,
                    purl=f"pkg:pypi/{req.name}@{req.pinned}", found_by="declared",
                    metadata_location=Location(where), metadata_sha256=None, metadata_dir=where, site_root="",
                    declared_line=req.line or None)
    return tuple(seen.values())
