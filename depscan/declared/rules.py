"""The repository rules on declared requirements (DS001-DS007), over ``DeclaredFile``s of every format.

Each finding is a ``PolicyFinding`` with the rule id, its level, the file, the line, the offending text and the
fix in one sentence (README, "Repository rules"):

* ``DS001`` (medium) unpinned: in a requirements, constraints or lock file, anything but an exact ``==``/``===``
  pin without a wildcard (``requests``, ``flask>=1.0``, ``==1.*``, ``~=1.4``); a constraint file included with
  ``-c`` pins the names it pins. In a manifest (``pyproject.toml``, ``setup.cfg``, ``Pipfile``) ranges are normal
  for a library: a range is reported for an application (``[check] application = true``) when no lock or
  requirements file of the checked files pins the name; when ``application`` is not set, only when such pins
  exist and miss the name (the lock is stale). A pip-tools input (``*.in``) is judged like an application's
  manifest: its names must be pinned by a compiled file.
* ``DS002`` (high) missing hashes: a requirement without ``--hash`` when pip runs in hash-checking mode for it
  (another requirement of the same install has a hash, or the install says ``--require-hashes``): pip refuses
  the whole file; or any requirement of a requirements or lock file with ``require-hashes`` configured.
* ``DS003`` (medium) a URL or VCS requirement without an immutable commit (40 or 64 hex digits) or a hash.
* ``DS004`` (medium) an editable requirement (``-e``) in a deployment requirements file (a file whose name
  does not say dev, test, docs, lint or ci).
* ``DS005`` (high) ``--extra-index-url``: pip takes the highest version of a name from any index
  (dependency confusion).
* ``DS006`` (medium) ``--trusted-host``: TLS verification off for that host.
* ``DS007`` (medium) a line or a file depscan could not read (the error is the message).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from depscan.declared.config import CheckConfig
from depscan.models import DeclaredFile, DeclaredOption, DeclaredRequirement, Level, Location, PolicyFinding

UNPINNED = "DS001"
MISSING_HASH = "DS002"
MUTABLE_URL = "DS003"
EDITABLE = "DS004"
EXTRA_INDEX = "DS005"
TRUSTED_HOST = "DS006"
UNREADABLE = "DS007"

RULES: dict[str, Level] = {
    UNPINNED: Level.MEDIUM,
    MISSING_HASH: Level.HIGH,
    MUTABLE_URL: Level.MEDIUM,
    EDITABLE: Level.MEDIUM,
    EXTRA_INDEX: Level.HIGH,
    TRUSTED_HOST: Level.MEDIUM,
    UNREADABLE: Level.MEDIUM,
}

MANIFEST_KINDS = frozenset({"pyproject", "setup.cfg", "Pipfile"})
MANIFEST_SOURCES = frozenset({"pyproject", "setup.cfg", "pipfile"})
_NOT_DEPLOYED = re.compile(r"(^|[^a-z])(dev|develop|development|test|tests|testing|docs?|lint|ci|local|typing)"
                           r"([^a-z]|$)")
_ENV_REF = re.compile(r"\$\{[A-Z0-9_]+\}")
_VCS = ("git+", "hg+", "svn+", "bzr+")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True, slots=True)
class Outcome:
    """The findings of the rules and the notes (what was not evaluated)."""

    findings: tuple[PolicyFinding, ...]
    notes: tuple[str, ...]


def check(files: Sequence[DeclaredFile], config: CheckConfig | None = None,
          reported: Iterable[str] | None = None) -> Outcome:
    """Judge ``files``. ``reported``: the paths findings are reported for (default: every file); the other files
    are context only (their pins, their includes, their hash mode)."""
    config = config or CheckConfig()
    report = set(reported) if reported is not None else {f.path for f in files}
    graph = _Graph(files)
    pins = _context_pins(files)
    findings: list[PolicyFinding] = []
    notes: list[str] = []
    for declared in files:
        if declared.path not in report:
            continue
        for number, reason in declared.errors:
            findings.append(_finding(UNREADABLE, declared.path, number or None, None, reason,
                                     "Fix the line so that pip (and depscan) can read it, or remove it.",
                                     about=f"{number}:{reason}"))
        hash_mode = config.require_hashes and (declared.kind == "requirements" or declared.is_lock)
        hash_reason = "require-hashes is configured" if hash_mode else ""
        if not hash_mode and (declared.kind == "requirements" or declared.is_lock):
            hash_reason = graph.hash_reason(declared.path)
            hash_mode = bool(hash_reason)
        constrained = graph.constraint_pins(declared.path)
        for req in declared.requirements:
            findings += _requirement_findings(declared, req, config, pins, constrained, hash_reason if hash_mode
                                              else "")
            if _ENV_REF.search(req.text):
                notes.append(f"{req.file} line {req.line}: {', '.join(sorted(set(_ENV_REF.findall(req.text))))} "
                             "kept as written (depscan does not evaluate environment references)")
        for option in declared.options:
            findings += _option_findings(option)
            if _ENV_REF.search(option.text):
                notes.append(f"{option.file} line {option.line}: "
                             f"{', '.join(sorted(set(_ENV_REF.findall(option.text))))} kept as written (depscan does "
                             "not evaluate environment references)")
    kept = [f for f in findings if config.enabled(f.rule)]
    return Outcome(tuple(kept), tuple(notes))


def _finding(rule: str, path: str, line: int | None, text: str | None, message: str, fix: str, *,
             name: str | None = None, about: str | None = None) -> PolicyFinding:
    return PolicyFinding(rule=rule, level=RULES[rule], location=Location(path), message=message,
                         component=f"pkg:pypi/{name}" if name else None, about=about, line=line, text=text, fix=fix)


def _silenced(rule: str, ignored: tuple[str, ...]) -> bool:
    return "*" in ignored or rule in ignored


def _label(req: DeclaredRequirement) -> str:
    return req.name or req.url or req.text


def _is_local(url: str) -> bool:
    return url.lower().startswith("file:") or not (_SCHEME.match(url) or url.startswith(_VCS))


def is_immutable_url(url: str, hashes: tuple[str, ...]) -> bool:
    """A URL requirement that always gets the same bytes: a VCS URL at a full commit id (40 or 64 hex digits,
    after ``@`` or as the fragment, as uv.lock writes it), or an archive URL with a hash (``--hash``, a lock
    file's hash, a ``#sha256=`` fragment)."""
    if hashes:
        return True
    base, _, fragment = url.partition("#")
    commit = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
    if url.startswith(_VCS):
        _, _, after = base.partition("://")
        _netloc, _, rest = after.partition("/")
        revision = rest.rsplit("@", 1)[1] if "@" in rest else ""
        revision = revision.split("?")[0]
        return commit.fullmatch(revision) is not None or any(commit.fullmatch(part) for part in fragment.split("&"))
    return re.search(r"(?:^|&)(sha256|sha384|sha512)=[0-9a-fA-F]+", fragment) is not None


def _requirement_findings(declared: DeclaredFile, req: DeclaredRequirement, config: CheckConfig,
                          pins: dict[str, str], constrained: dict[str, str], hash_reason: str) -> list[PolicyFinding]:
    out: list[PolicyFinding] = []
    about = req.text
    remote_url = req.url is not None and not _is_local(req.url)
    # DS001
    if req.url is None and req.name is not None and req.pinned is None and not _silenced(UNPINNED, req.ignored):
        why = _unpinned(declared, req, config, pins, constrained)
        if why is not None:
            written = req.specifier or "no version"
            out.append(_finding(
                UNPINNED, req.file, req.line or None, req.text,
                f"{req.name} is not pinned ({written}){why}: every install may get a different version",
                f"Pin one exact version ({req.name}==X.Y.Z), e.g. compiled by pip-compile or uv pip compile, or "
                "pin it in a constraints file included with -c.", name=req.name, about=about))
    # DS002
    if hash_reason and not req.hashes and req.source != "constraints" and not (declared.is_lock and (
            req.editable or req.url is not None)) and not _silenced(MISSING_HASH, req.ignored):
        refused = "pip refuses VCS requirements in hash-checking mode" if (req.url or "").startswith(_VCS) else (
            "pip refuses the whole install")
        out.append(_finding(
            MISSING_HASH, req.file, req.line or None, req.text,
            f"{_label(req)} has no hash while {hash_reason}: {refused}",
            "Add --hash=sha256:... for every file of the pinned version (pip-compile --generate-hashes, "
            "uv pip compile --generate-hashes).", name=req.name, about=about))
    # DS003
    if remote_url and req.url is not None and not is_immutable_url(req.url, req.hashes) and not _silenced(
            MUTABLE_URL, req.ignored):
        kind = "VCS" if req.url.startswith(_VCS) else "URL"
        out.append(_finding(
            MUTABLE_URL, req.file, req.line or None, req.text,
            f"{_label(req)} comes from a {kind} ({req.url}) without a commit id or a hash: what it installs can "
            "change without any change to this file",
            "Pin the full 40-hex commit id (git+https://...@<commit>) or add --hash for the archive, or depend on "
            "a released version.", name=req.name, about=about))
    # DS004
    if req.editable and declared.kind == "requirements" and _deployed(declared.path) and not _silenced(
            EDITABLE, req.ignored):
        out.append(_finding(
            EDITABLE, req.file, req.line or None, req.text,
            f"{_label(req)} is installed in editable mode in a deployment file: the deployment runs whatever the "
            "source tree holds, not a built release",
            "Install a built wheel or a pinned release instead of -e (keep -e in a dev requirements file).",
            name=req.name, about=about))
    return out


def _unpinned(declared: DeclaredFile, req: DeclaredRequirement, config: CheckConfig, pins: dict[str, str],
              constrained: dict[str, str]) -> str | None:
    """Why ``req`` (not an exact pin) is reported as unpinned (a clause of the message, maybe ""), or None."""
    assert req.name is not None
    if req.editable:
        return None  # DS004's
    manifest = declared.kind in MANIFEST_KINDS or req.source in MANIFEST_SOURCES
    pip_tools_input = declared.kind == "requirements" and declared.path.lower().endswith(".in")
    if not manifest and not pip_tools_input:
        return None if req.name in constrained else ""
    if req.name in pins:
        return None
    if pip_tools_input:
        return " and no compiled requirements or lock file pins it"
    if config.application is False:
        return None
    if config.application is None and not pins:
        return None  # a library, or an application without a lock: ranges are what it declares
    return " and no lock file pins it"


def _option_findings(option: DeclaredOption) -> list[PolicyFinding]:
    out: list[PolicyFinding] = []
    if option.name == "--extra-index-url" and not _silenced(EXTRA_INDEX, option.ignored):
        out.append(_finding(
            EXTRA_INDEX, option.file, option.line or None, option.text,
            f"--extra-index-url {option.value}: pip takes the highest version of a name from any index, so anyone "
            "who publishes that name on the other index wins (dependency confusion)",
            "Use one --index-url that serves your packages and proxies PyPI, or pin every requirement with --hash.",
            about=option.value))
    if option.name == "--trusted-host" and not _silenced(TRUSTED_HOST, option.ignored):
        out.append(_finding(
            TRUSTED_HOST, option.file, option.line or None, option.text,
            f"--trusted-host {option.value}: pip accepts that host over plain HTTP or an unverified certificate, "
            "so anyone on the path can change what is installed",
            "Serve the index over HTTPS with a valid certificate and remove --trusted-host.", about=option.value))
    return out


def _deployed(path: str) -> bool:
    """A requirements file that describes a deployment (not dev, test, docs, lint, ci requirements)."""
    parts = [p.lower() for p in path.split("/")]
    stem = posixpath.splitext(parts[-1])[0]
    return not any(_NOT_DEPLOYED.search(part) for part in [*parts[:-1], stem])


def _context_pins(files: Sequence[DeclaredFile]) -> dict[str, str]:
    """Names exactly pinned by a lock file or a (compiled) requirements or constraints file: name -> file."""
    pins: dict[str, str] = {}
    for declared in files:
        if not (declared.is_lock or (declared.kind == "requirements" and not declared.path.lower().endswith(".in"))):
            continue
        for req in declared.requirements:
            if req.name is not None and req.pinned is not None:
                pins.setdefault(req.name, declared.path)
    return pins


class _Graph:
    """The ``-r`` / ``-c`` includes between requirements files: what pip reads as one install."""

    def __init__(self, files: Sequence[DeclaredFile]) -> None:
        self.files = {f.path: f for f in files}
        self.parents: dict[str, set[str]] = {}
        self.constraints: dict[str, list[str]] = {}
        self.requires: dict[str, list[str]] = {}
        for declared in files:
            for option in declared.options:
                if option.value is None:
                    continue
                if option.name == "--requirement":
                    self.requires.setdefault(declared.path, []).append(option.value)
                    self.parents.setdefault(option.value, set()).add(declared.path)
                elif option.name == "--constraint":
                    self.constraints.setdefault(declared.path, []).append(option.value)

    def ancestors(self, path: str) -> list[str]:
        """``path`` and every file that includes it with ``-r``, transitively."""
        seen = [path]
        at = 0
        while at < len(seen):
            for parent in sorted(self.parents.get(seen[at], ())):
                if parent not in seen:
                    seen.append(parent)
            at += 1
        return seen

    def closure(self, path: str) -> list[str]:
        """``path`` and every file it includes (``-r`` and ``-c``), transitively."""
        seen = [path]
        at = 0
        while at < len(seen):
            for child in [*self.requires.get(seen[at], ()), *self.constraints.get(seen[at], ())]:
                if child not in seen:
                    seen.append(child)
            at += 1
        return seen

    def constraint_pins(self, path: str) -> dict[str, str]:
        """Names pinned exactly by the constraint files of every install ``path`` is part of."""
        pins: dict[str, str] = {}
        for root in self.ancestors(path):
            for top in self.closure(root):
                for constraint in self.constraints.get(top, ()):
                    for member in self.closure(constraint):
                        declared = self.files.get(member)
                        for req in declared.requirements if declared else ():
                            if req.name is not None and req.pinned is not None:
                                pins.setdefault(req.name, member)
        return pins

    def hash_reason(self, path: str) -> str:
        """Why pip runs ``path``'s requirements in hash-checking mode ("" when it does not): a hash or
        ``--require-hashes`` anywhere in an install it is part of."""
        for root in self.ancestors(path):
            for member in self.closure(root):
                declared = self.files.get(member)
                if declared is None:
                    continue
                for option in declared.options:
                    if option.name == "--require-hashes":
                        return f"{member} line {option.line} says --require-hashes"
                for req in declared.requirements:
                    if req.hashes and req.source != "constraints":
                        where = "other requirements of this file have hashes" if member == path else (
                            f"{member}, installed with it, has hashes")
                        return f"{where} ({req.name or req.text}, line {req.line})"
        return ""
