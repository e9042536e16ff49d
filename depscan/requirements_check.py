"""Requirement conflicts of the installed set: what ``pip check`` would say, for the artifact's runtime.

One call after the catalogers, once the target runtime is settled (``scan._policy``). For every copy
of a distribution the runtime imports (status ``used``), each ``Requires-Dist`` line is parsed
(``facts.parse_requirement``: the one parse, shared with the dependency graph), its marker evaluated
for the target, and the requirement judged against the copy the distribution imports
(``facts._target``, the dependency graph's rule: a used copy, in the source's own site root when there
are several; in a Lambda view the import order has already decided which copy is used):

* ``requirement-missing`` (medium): no copy of the required distribution is installed. In a Lambda
  deployment, a requirement on the AWS SDK the Lambda Python runtimes ship (``LAMBDA_PROVIDED``) is
  low: the runtime provides a copy whose version this scan cannot see.
* ``requirement-conflict`` (medium): the copy imported has a version outside the specifier
  (pre-releases count as inside when the specifier admits them by number, as ``pip check`` calls
  ``SpecifierSet.contains(version, prereleases=True)``). When another copy of the distribution, shadowed
  by the one imported (a Lambda layer's copy behind the function's, or the other way round), would
  satisfy it, the finding names both copies: the conflict exists only because of the shadowing.

Each finding quotes the METADATA line (``Requires-Dist: ...``) and is located at that METADATA file.
Both rules are medium: neither is certain to break the code at runtime (the missing module may be
imported on a path never taken; upper bounds are often cautious), and nothing here is a
vulnerability; what certainly fails to load is high (``native.policy``).

**Markers** are evaluated for the target (``TargetRuntime``): ``python_version`` and
``python_full_version`` from its Python (the patch level is unknown: a comparison with a patch
release of the same minor version is undecided), ``platform_machine`` from its machine (ELF names,
as ``uname -m`` gives them), Linux, CPython, ``posix``. ``platform_release`` and ``platform_version``
are always unknown. A comparison with an unknown part is undecided, and a marker is evaluated with
three values (Kleene's ``and`` / ``or``): ``python_version < "3.8" and extra == "dev"`` is false
without the Python version when nobody asked for ``dev``. A requirement whose marker stays
undecided is not judged, and a note counts them and says what to give (``--runtime``, ``--arch``).

**Extras** are followed: a requirement ``foo[bar]`` that holds switches on foo's ``extra == "bar"``
requirements, to a fixed point (only requirements of used copies ask for extras). A requirement
of a distribution on itself (``foo[bar]`` in foo's own metadata) is judged against that copy.
Requirements of shadowed copies are never judged: the runtime never imports them.

**Cost.** This runs in every scan. Most lines of real metadata are ``...; extra == "x"``
(``_extra_gate``): while nobody asks for ``x`` they are skipped without being parsed. A marker whose
variables are all known is evaluated by packaging itself; only markers naming an unknown part are
walked atom by atom (bench/README.md, ``bench_requirements_check.py``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any, cast

from packaging.markers import Marker
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from depscan.facts import ParsedRequirement, _target, parse_requirement
from depscan.models import Component, Level, PolicyFinding, PythonDist, Status, TargetRuntime
from depscan.runtimes import LAMBDA_KINDS

MISSING = "requirement-missing"
CONFLICT = "requirement-conflict"

RULES: dict[str, Level] = {MISSING: Level.MEDIUM, CONFLICT: Level.MEDIUM}

# The AWS SDK for Python and what it requires, which every Lambda Python runtime ships ("Lambda
# Python runtimes include the AWS SDK for Python (Boto3)": https://docs.aws.amazon.com/lambda/latest/
# dg/lambda-python.html); a function that needs them may leave them out of its zip.
LAMBDA_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"})

_PYTHON_VARIABLES = frozenset({"python_version", "python_full_version", "implementation_version"})
_FULL_VERSION_VARIABLES = frozenset({"python_full_version", "implementation_version"})
_NOT_EVALUABLE = "(a comparison packaging cannot evaluate)"
_ALWAYS_UNKNOWN = frozenset({"platform_release", "platform_version"})
# ELF machine names (TargetRuntime.machine) that ``uname -m`` spells otherwise.
_UNAME_MACHINES = {"i386": "i686", "arm": "armv7l"}


def marker_environment(target: TargetRuntime) -> tuple[dict[str, str], frozenset[str]]:
    """The PEP 508 environment of ``target`` and the variables it leaves unknown."""
    unknown = set(_ALWAYS_UNKNOWN)
    python = target.python
    env = {
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "os_name": "posix",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_release": "",
        "platform_version": "",
        "python_version": python or "",
        "python_full_version": f"{python}.0" if python else "",
        "implementation_version": f"{python}.0" if python else "",
        "platform_machine": _UNAME_MACHINES.get(target.machine, target.machine) if target.machine else "",
        "extra": "",
    }
    if python is None:
        unknown |= _PYTHON_VARIABLES
    if target.machine is None:
        unknown.add("platform_machine")
    return env, frozenset(unknown)


class _Judge:
    """Three-valued marker evaluation in one environment (results cached: markers repeat)."""

    def __init__(self, target: TargetRuntime) -> None:
        self.env, self.unknown = marker_environment(target)
        self.python = target.python
        # markers naming these are evaluated atom by atom (an unknown part, or the patch level of Python)
        self.slow = self.unknown | _FULL_VERSION_VARIABLES
        self.cache: dict[tuple[str, frozenset[str]], tuple[bool | None, frozenset[str]]] = {}

    def holds(self, line: str, marker: Marker | None, extras: frozenset[str]) -> tuple[bool | None, frozenset[str]]:
        """Whether ``marker`` (of the Requires-Dist ``line``) holds for any of ``extras`` ("" included);
        None: undecided, with the unknown variables that left it so."""
        if marker is None:
            return True, frozenset()
        key = (line, extras)
        found = self.cache.get(key)
        if found is None:
            missing: set[str] = set()
            if _variables(marker) & self.slow:
                results = [self._group(marker._markers, extra, missing) for extra in sorted(extras)]
            else:  # every variable known: packaging's own evaluation
                results = [_evaluate(marker, {**self.env, "extra": extra}, missing) for extra in sorted(extras)]
            value = True if any(r is True for r in results) else (None if None in results else False)
            found = self.cache[key] = (value, frozenset(missing) if value is None else frozenset())
        return found

    def _group(self, items: Sequence[object], extra: str, missing: set[str]) -> bool | None:
        # packaging's structure: atoms (lhs, op, rhs), nested lists, and "and" / "or" between them; "and"
        # binds tighter (an "or" of "and" groups, as packaging's own evaluator reads it).
        groups: list[list[bool | None]] = [[]]
        for item in items:
            if isinstance(item, list):
                groups[-1].append(self._group(item, extra, missing))
            elif isinstance(item, tuple):
                groups[-1].append(self._atom(item, extra, missing))
            elif item == "or":
                groups.append([])
        values = [_all(group) for group in groups]
        return True if True in values else (None if None in values else False)

    def _atom(self, atom: tuple[object, ...], extra: str, missing: set[str]) -> bool | None:
        names = {str(getattr(part, "value", "")) for part in atom if type(part).__name__ == "Variable"}
        unknown = names & self.unknown
        if unknown:
            missing |= unknown
            return None
        marker = Marker.__new__(Marker)  # the atom alone, without parsing it again
        marker._markers = [cast(Any, atom)]
        env = {**self.env, "extra": extra}
        if names & _FULL_VERSION_VARIABLES and self.python is not None:
            answers = {_evaluate(marker, _with_full(env, full), missing)
                       for full in _patch_candidates(self.python, atom)}
            if len(answers) > 1:
                missing.add("python_full_version")
                return None
            return answers.pop()
        return _evaluate(marker, env, missing)


def _all(values: list[bool | None]) -> bool | None:
    return False if False in values else (None if None in values else True)


def _evaluate(marker: Marker, env: dict[str, str], missing: set[str]) -> bool | None:
    try:
        return marker.evaluate(env)
    except Exception:  # an undefined comparison (packaging's UndefinedComparison, InvalidVersion, ...)
        missing.add(_NOT_EVALUABLE)
        return None


def _variables(marker: Marker) -> set[str]:
    """The marker variables ``marker`` compares (walking packaging's parsed structure)."""
    found: set[str] = set()
    stack: list[object] = [marker._markers]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        elif type(item).__name__ == "Variable":
            found.add(str(getattr(item, "value", "")))
    return found


@lru_cache(maxsize=16384)
def _extra_gate(line: str) -> str | None:
    """The extra a Requires-Dist line holds only under, when its marker is ``extra == "x"`` or
    ``<anything without a top-level or> and extra == "x"`` (most lines of real metadata): such a line
    is skipped without being parsed while nobody asks for ``x``. None: any other form."""
    _, semicolon, marker = line.rpartition(";")
    if not semicolon:
        return None
    gate = _GATE.fullmatch(marker)
    if gate is None:
        return None
    before = gate["before"]
    if before is not None and _OR.search(before) and not _wrapped(before):
        return None
    return canonicalize_name(gate["name"])


_GATE = re.compile(r"""\s*(?:(?P<before>.*?)\s+and\s+)?extra\s*==\s*(?P<q>["'])(?P<name>[^"']*)(?P=q)\s*""", re.S)
_OR = re.compile(r"\bor\b")


def _wrapped(text: str) -> bool:
    """``text`` is one parenthesized group: ``(a or b)``, not ``(a) or (b)``."""
    text = text.strip()
    if not text.startswith("(") or not text.endswith(")"):
        return False
    depth = 0
    for position, char in enumerate(text):
        depth += char == "("
        depth -= char == ")"
        if depth == 0 and position < len(text) - 1:
            return False
    return True


def _with_full(env: dict[str, str], full: str) -> dict[str, str]:
    return {**env, "python_full_version": full, "implementation_version": full}


def _patch_candidates(python: str, atom: tuple[object, ...]) -> set[str]:
    """Full versions of Python ``X.Y`` a comparison can tell apart: X.Y.0, a late patch, and the patch the
    atom names (with its neighbours) when it names one of X.Y."""
    found = {f"{python}.0", f"{python}.999"}
    for part in atom:
        value = str(getattr(part, "value", ""))
        if type(part).__name__ == "Value" and value.startswith(python + "."):
            patch = value[len(python) + 1:].split(".")[0]
            if patch.isdigit():
                found |= {f"{python}.{max(int(patch) + d, 0)}" for d in (-1, 0, 1)}
    return found


@lru_cache(maxsize=16384)
def _satisfies(specifier: SpecifierSet, version: str) -> bool:
    """``pip check``'s test; InvalidVersion when the installed version is not PEP 440."""
    return specifier.contains(Version(version), prereleases=True)


def check(components: Sequence[Component], target: TargetRuntime, kind: str = "") -> tuple[
    tuple[PolicyFinding, ...], tuple[str, ...]
]:
    """The requirement findings of the used copies in ``components`` and notes on what was not judged."""
    kind = str(getattr(kind, "value", kind))
    dists = [c for c in components if isinstance(c, PythonDist)]
    by_name: dict[str, list[int]] = defaultdict(list)
    for i, dist in enumerate(dists):
        by_name[dist.normalized_name].append(i)
    used = [i for i, d in enumerate(dists) if d.status is Status.USED]
    judge = _Judge(target)
    extras: dict[int, frozenset[str]] = {i: frozenset({""}) for i in range(len(dists))}

    unparsed: list[str] = []

    def requirements(i: int, asking: bool = False) -> Iterator[tuple[str, ParsedRequirement]]:
        """The parsed Requires-Dist lines of ``dists[i]`` but those of extras nobody asked for (``asking``:
        only lines that can ask for extras themselves)."""
        for line in dists[i].requires_dist:
            if asking and "[" not in line:
                continue
            gate = _extra_gate(line)
            if gate is not None and gate not in extras[i]:
                continue
            req = parse_requirement(line)
            if not isinstance(req, str):
                yield line, req
            elif not asking:
                unparsed.append(f"{dists[i].name} {dists[i].version} ({dists[i].metadata_location}): {line!r}")

    def imported(i: int, req: ParsedRequirement) -> int | None:
        if req.name == dists[i].normalized_name:
            return i
        return _target(dists, by_name.get(req.name, []), i)

    is_used = set(used)
    pending = list(used)
    while pending:  # requirements that hold can ask for extras, which switch on more requirements
        i = pending.pop()
        for line, req in requirements(i, asking=True):
            if not req.extras or judge.holds(line, req.marker, extras[i])[0] is not True:
                continue
            j = imported(i, req)
            if j is not None and not req.extras <= extras[j]:
                extras[j] |= req.extras
                if j in is_used:
                    pending.append(j)

    lambda_deployment = kind in LAMBDA_KINDS or target.runtime is not None
    findings: list[PolicyFinding] = []
    undecided: set[str] = set()  # the unknown variables that left markers undecided
    not_judged = 0
    invalid: list[str] = []
    for i in used:
        source = dists[i]
        for line, req in requirements(i):
            holds, unknown = judge.holds(line, req.marker, extras[i])
            if holds is None:
                undecided |= unknown
                not_judged += 1
                continue
            if not holds:
                continue
            j = imported(i, req)
            stated = f"Requires-Dist: {line}"
            if j is None:
                provided = lambda_deployment and req.name in LAMBDA_PROVIDED
                message = (f"{source.name} {source.version} requires {req.name} ({stated!r}), which is not installed"
                           + ("; the Lambda runtime provides its own copy, whose version is not checked"
                              if provided else "; install it into the deployment or drop what requires it"))
                findings.append(PolicyFinding(MISSING, Level.LOW if provided else RULES[MISSING],
                                              source.metadata_location, message, source.purl, about=req.name))
                continue
            if req.specifier is None:
                continue
            copy = dists[j]
            try:
                if _satisfies(req.specifier, copy.version):
                    continue
            except InvalidVersion:
                invalid.append(f"{copy.name} {copy.version} ({copy.metadata_location})")
                continue
            message = (f"{source.name} {source.version} requires {req.name}{req.specifier} ({stated!r}), "
                       f"but the copy it imports is {copy.name} {copy.version} at {copy.metadata_location}")
            behind = [d for d in (dists[k] for k in by_name[req.name])
                      if d.status is Status.SHADOWED and d.shadowed_by == copy.metadata_location
                      and _satisfies_quietly(req.specifier, d.version)]
            if behind:
                message += "; the copy " + ", ".join(f"{d.name} {d.version} at {d.metadata_location}"
                                                     for d in behind) + (
                    " would satisfy it but " + ("is" if len(behind) == 1 else "are") + " shadowed by that copy")
            message += "; install a version that satisfies every requirement on it"
            findings.append(PolicyFinding(CONFLICT, RULES[CONFLICT], source.metadata_location, message,
                                          source.purl, about=req.name))
    notes = []
    if undecided:
        what = []
        if undecided & _PYTHON_VARIABLES and target.python is None:
            what.append("the Python version (unknown: give --runtime)")
        if "python_full_version" in undecided and target.python is not None:
            what.append(f"the patch release of Python {target.python} (unknown)")
        if "platform_machine" in undecided:
            what.append("the machine (unknown: give --arch)")
        if undecided & _ALWAYS_UNKNOWN:
            what.append("the kernel release (unknown)")
        if _NOT_EVALUABLE in undecided:
            what.append("a comparison packaging cannot evaluate")
        notes.append(f"{MISSING}/{CONFLICT}: {not_judged} requirement(s) not judged: their markers depend on "
                     f"{'; '.join(what)}")
    if unparsed:
        shown = "; ".join(unparsed[:5]) + (f"; and {len(unparsed) - 5} more" if len(unparsed) > 5 else "")
        notes.append(f"{MISSING}/{CONFLICT}: {len(unparsed)} Requires-Dist line(s) do not parse (PEP 508) and "
                     f"were not judged: {shown}")
    if invalid:
        shown = ", ".join(dict.fromkeys(invalid))
        notes.append(f"{CONFLICT}: versions that are not PEP 440 cannot be compared with a specifier: {shown}")
    return tuple(findings), tuple(notes)


def _satisfies_quietly(specifier: SpecifierSet, version: str) -> bool:
    try:
        return _satisfies(specifier, version)
    except InvalidVersion:
        return False
