"""Poetry's version constraint syntax translated to PEP 440 specifiers, where the translation is exact.

Poetry (poetry-core's ``parse_constraint``) writes ``^1.2`` (caret: ``>=1.2,<2.0``; the first non-zero
component is the one that may not change: ``^0.2.3`` is ``>=0.2.3,<0.3.0``, ``^0.0.3`` is
``>=0.0.3,<0.0.4``), ``~1.2`` (tilde: ``>=1.2,<1.3``; ``~1`` is ``>=1,<2``), ``*`` (any), ``1.2.*``
(``==1.2.*``), a bare version (``1.2.3`` is ``==1.2.3``), PEP 440 operators, and several constraints
joined by commas or blanks (all must hold). ``||`` (either) has no PEP 440 equivalent: such a
constraint is left untranslated (``None``). A constraint that is not valid raises ``ValueError``.
"""

from __future__ import annotations

import re

from packaging.specifiers import InvalidSpecifier, Specifier, SpecifierSet
from packaging.version import InvalidVersion, Version

_OPERATOR = re.compile(r"(===|==|!=|~=|<=|>=|<|>|=|\^|~)?\s*(\S+)$")
_SPLIT = re.compile(r"\s*,\s*|\s+")
_GLUE = re.compile(r"(===|==|!=|~=|<=|>=|<|>|=|\^|~)\s+")  # ">= 1.2" -> ">=1.2" before splitting on blanks


def _parts(constraint: str) -> list[str]:
    return [part for part in _SPLIT.split(_GLUE.sub(r"\1", constraint.strip())) if part]


def _bumped(version: str, index: int) -> str:
    """The upper bound of a caret or tilde: component ``index`` plus one, the rest zero."""
    release = list(Version(version).release)
    release += [0] * (index + 1 - len(release))
    upper = [*release[:index], release[index] + 1]
    upper += [0] * (len(release) - len(upper))
    return ".".join(str(part) for part in upper)


def _one(constraint: str) -> list[str]:
    match = _OPERATOR.match(constraint)
    if match is None:
        raise ValueError(f"not a version constraint: {constraint!r}")
    operator, version = match[1] or "", match[2]
    if version in ("*", "x", "X"):
        if operator:
            raise ValueError(f"not a version constraint: {constraint!r}")
        return []
    try:
        if operator in ("^", "~"):
            release = Version(version).release
            if operator == "^":
                nonzero = [index for index, part in enumerate(release) if part != 0]
                index = nonzero[0] if nonzero else len(release) - 1
            else:
                index = min(1, len(release) - 1)
            return [f">={version}", f"<{_bumped(version, index)}"]
        if operator in ("", "="):
            operator = "=="
        spec = Specifier(f"{operator}{version}")
    except (InvalidVersion, InvalidSpecifier):
        raise ValueError(f"not a version constraint: {constraint!r}") from None
    return [str(spec)]


def to_specifier(constraint: str) -> str | None:
    """The PEP 440 specifier (as packaging prints it) equal to a Poetry constraint; "" for any
    version; None when PEP 440 cannot say it (``||``). ValueError for an invalid constraint."""
    text = constraint.strip()
    if "|" in text:
        for alternative in re.split(r"\s*\|\|?\s*", text):
            for part in _parts(alternative):
                _one(part)  # still validated
        return None
    specs: list[str] = []
    for part in _parts(text):
        specs.extend(_one(part))
    return str(SpecifierSet(",".join(specs)))


def python_marker(constraint: str) -> str | None:
    """A Poetry ``python = "..."`` constraint as a PEP 508 marker (``python_version`` for X.Y,
    ``python_full_version`` for longer versions; ``||`` becomes ``or``); None for any Python."""
    alternatives = [part for part in re.split(r"\s*\|\|?\s*", constraint.strip()) if part]
    clauses: list[str] = []
    for alternative in alternatives:
        specs: list[str] = []
        for part in _parts(alternative):
            specs.extend(_one(part))
        if not specs:
            return None  # one alternative allows any Python
        terms = []
        for spec in specs:
            parsed = Specifier(spec)
            version = parsed.version
            length = len(version.removesuffix(".*").split("."))
            variable = "python_version" if length <= 2 and not version.endswith(".*") else "python_full_version"
            terms.append(f'{variable} {parsed.operator} "{version}"')
        clauses.append(" and ".join(terms))
    if len(clauses) == 1:
        return clauses[0]
    return " or ".join(f"({clause})" if " and " in clause else clause for clause in clauses)
