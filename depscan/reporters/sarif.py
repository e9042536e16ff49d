"""SARIF 2.1.0 (``--format sarif``) for GitHub code scanning and other SARIF viewers.

Section numbers are those of the OASIS SARIF 2.1.0 specification
(https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html). Everything written stays within
the subset GitHub code scanning documents ("SARIF support for code scanning"): relative URIs only,
``message.text`` on every result, ``help.text``, ``shortDescription`` and ``fullDescription`` on
every rule (at most 1024 characters each), rule ids of at most 255 characters, one location per
result with a region.

- One run (3.14), tool ``depscan`` (3.19). Rules (3.49): one per advisory group, its id the group's
  primary OSV id, and one per policy rule: ``depscan/unreadable`` (an unknown: metadata that could
  not be read, so the inventory is incomplete) and ``depscan/unchecked`` (a component whose advisory
  lookup failed). ``security-severity`` (a GitHub property) is the CVSS base score when one is known;
  without it GitHub shows the result's ``level`` instead of a security severity.
- Policy findings (``PolicyFinding``: a native library no package owns, a module built for another machine or
  a newer glibc than the target runtime's, ...) are results of their own rules, the rule id being
  ``PolicyFinding.rule`` (``native-unowned``); the rule's help says what the rule checks and what to do (a rule
  depscan has no text for is described by its first finding's message). Components advisories cannot vouch
  for (``ScanResult.not_verifiable``: a native library without a version, or of a kind no advisory data
  covers) are results of ``depscan/not-verifiable``, at the component's file.
- Results (3.27): one per finding, level from severity (critical/high -> error, medium -> warning,
  low/unknown -> note). Ignored findings are kept, with ``suppressions`` (3.27.23) of kind ``external``
  (the ignore lives in ``.depscan.toml``, not in the scanned files). A known-malicious package (an OSV
  ``MAL-`` record, ``Finding.malicious``) is critical, so ``error``; its rule is tagged ``malicious`` with
  ``security-severity`` 10.0, and its result says so first and has ``properties.malicious``.
- Locations (3.28): the METADATA file of the affected copy (the ELF file for a library identified in one, the
  package database for an OS package), as a URI relative to the artifact root
  (``uriBaseId`` ARTIFACTROOT, declared in ``originalUriBaseIds`` (3.14.14) without an absolute URI:
  the artifact is a zip or an image, not a directory a viewer could open). The layer, when there is
  one, is in the location's ``properties``. The region is line 1: GitHub requires ``startLine``; the
  file is not in the repository, so nothing finer is useful. An exact pin of a requirements or lock file
  (``depscan check --audit``: ``found_by`` ``declared``, with its ``declared_line``) is the exception: the
  file is in the repository, and its finding's region is the pin's line.
- Fix advice (``fixes.advice``: per vulnerable copy, the version that clears every advisory of it) is in the
  result's ``properties.fix`` and the run's ``properties.fixes``, and in the message when it differs from the
  finding's own fix. Not a SARIF ``fix`` object (3.55): one must hold ``artifactChanges`` with replacements
  in a file, and the artifact (a zip, an image) is not a file to edit; GitHub ignores them anyway.
- ``partialFingerprints`` (3.27.17): ``depscanFingerprint/v1`` is ``Finding.fingerprint`` (advisory id,
  purl, METADATA path; not the layer, whose digest or zip name changes with every rebuild). GitHub
  only reads ``primaryLocationLineHash``, and computes it from the file's lines when absent, which it
  cannot do for a file inside an artifact; the same stable value is therefore given as
  ``primaryLocationLineHash`` so alerts are tracked across runs.

A policy finding in a text file of the repository (``depscan check``: a requirements line, rules ``DS0xx``)
has ``PolicyFinding.line``: its region starts at that line and carries the offending text as its ``snippet``
(3.30.13), so code scanning annotates the requirement line itself; the fix sentence ends the message. Paths
are then relative to the directory ``depscan check`` ran in (the repository root, in CI and pre-commit).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any
from urllib.parse import quote

from depscan.facts import component_key
from depscan.fixes import advice, by_key, describe
from depscan.match import MALICIOUS_NOTE, smallest_fix_above
from depscan.models import (
    BaselineDiff,
    Finding,
    FixAdvice,
    Level,
    Location,
    Matchable,
    NativeComponent,
    OsPackage,
    PolicyFinding,
    PythonDist,
    ScanResult,
    Status,
    Unknown,
    component_location,
)
from depscan.reporters import ReportOptions
from depscan.text import encode_json

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"  # as in GitHub's SARIF examples
INFORMATION_URI = "https://pypi.org/project/pydepscan/"
URI_BASE = "ARTIFACTROOT"
FINGERPRINT_KEY = "depscanFingerprint/v1"
UNREADABLE_RULE = "depscan/unreadable"
UNCHECKED_RULE = "depscan/unchecked"
NOT_VERIFIABLE_RULE = "depscan/not-verifiable"

_SURROGATE = re.compile(r"[\ud800-\udfff]")
_MAX_TEXT = 1024  # GitHub: shortDescription.text and fullDescription.text
_MAX_RULE_ID = 255  # GitHub: reportingDescriptor id and name

_LEVEL = {
    Level.CRITICAL: "error",
    Level.HIGH: "error",
    Level.MEDIUM: "warning",
    Level.LOW: "note",
    Level.UNKNOWN: "note",
}


def sarif_level(level: Level) -> str:
    """The SARIF ``level`` (3.27.10) for a finding's severity."""
    return _LEVEL[level]


def smallest_fix(installed: str, fixed_versions: tuple[str, ...]) -> str | None:
    """The smallest fixed version above ``installed`` (PEP 440 order), or None when none is known
    (the core's rule, ``Finding.fix``)."""
    return smallest_fix_above(installed, fixed_versions)


def fix_text(finding: Finding) -> str:
    """``Upgrade <name> to <version>.``, or what is known when that cannot be said."""
    component = finding.component
    fix = finding.fix
    if fix is not None:
        return f"Upgrade {component.name} to {fix}."
    if finding.fixed_versions:
        return f"Fixed in {', '.join(finding.fixed_versions)}; none is above the installed {component.version}."
    return "No fixed version is known."


def _clip(text: str, limit: int = _MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _rule_id(text: str) -> str:
    """Rule ids longer than GitHub accepts keep a readable prefix and a hash of the whole id."""
    if len(text) <= _MAX_RULE_ID:
        return text
    return text[: _MAX_RULE_ID - 17] + "-" + hashlib.sha256(text.encode()).hexdigest()[:16]


def _score_text(score: float | None) -> str | None:
    # GitHub: a string, greater than 0.0 up to 10.0; anything else means "no security severity".
    return None if score is None or not 0.0 < score <= 10.0 else f"{score:.1f}"


def _vulnerability_rule(rule_id: str, findings: list[Finding]) -> dict[str, Any]:
    first = findings[0]
    advisory = first.advisories[0] if first.advisories else None
    summary = first.summary or (advisory.summary if advisory and advisory.summary else "") or rule_id
    details = (advisory.details if advisory and advisory.details else None) or summary
    aliases = [i for i in first.ids if i != first.id]
    fixes: list[str] = []
    for finding in findings:
        line = f"{finding.component.name} {finding.component.version}: {fix_text(finding)}"
        if line not in fixes:
            fixes.append(line)
    help_lines = [summary]
    if aliases:
        help_lines.append("Also known as " + ", ".join(aliases) + ".")
    help_lines += fixes
    references = list(dict.fromkeys(advisory.references)) if advisory else []
    markdown = [summary, ""]
    if aliases:
        markdown += ["Also known as " + ", ".join(aliases) + ".", ""]
    markdown += [f"- {line}" for line in fixes]
    if references:
        markdown += ["", "References:", ""] + [f"- <{ref}>" for ref in references]
    scores = [f.score for f in findings if f.score is not None]
    worst = max(findings, key=lambda f: f.level.rank).level
    properties: dict[str, Any] = {"tags": ["security", "vulnerability"], "precision": "high"}
    security_severity = _score_text(max(scores) if scores else None)
    if first.malicious:  # a known-malicious package: critical on GitHub whatever the record scores
        properties["tags"] = ["security", "malicious"]
        security_severity = "10.0"
        help_lines.insert(1, MALICIOUS_NOTE)
        markdown[1:1] = ["", f"**{MALICIOUS_NOTE}**"]
    if security_severity is not None:
        properties["security-severity"] = security_severity
    return {
        "id": rule_id,
        "shortDescription": {"text": _clip(summary)},
        "fullDescription": {"text": _clip(details)},
        "defaultConfiguration": {"level": sarif_level(worst)},
        "help": {"text": "\n".join(help_lines), "markdown": "\n".join(markdown)},
        "helpUri": f"https://osv.dev/vulnerability/{first.id}",
        "properties": properties,
    }


_POLICY_RULES: dict[str, dict[str, Any]] = {
    UNREADABLE_RULE: {
        "id": UNREADABLE_RULE,
        "name": "UnreadableMetadata",
        "shortDescription": {"text": "Metadata that could not be read: the inventory is incomplete"},
        "fullDescription": {
            "text": "depscan found distribution metadata (or an archive member) it could not read or parse. "
            "Whatever it describes is missing from the inventory and was not checked for vulnerabilities."
        },
        "defaultConfiguration": {"level": "warning"},
        "help": {
            "text": "Inspect the file named in the result: repair or remove the broken metadata, or rebuild the "
            "artifact, so every installed distribution can be inventoried and checked."
        },
        "properties": {"tags": ["completeness"], "precision": "very-high", "problem.severity": "warning"},
    },
    UNCHECKED_RULE: {
        "id": UNCHECKED_RULE,
        "name": "AdvisoryLookupFailed",
        "shortDescription": {"text": "A component whose advisory lookup failed"},
        "fullDescription": {
            "text": "The advisory source could not be queried for this component, so its vulnerabilities are "
            "unknown. The absence of vulnerability results for it means nothing."
        },
        "defaultConfiguration": {"level": "warning"},
        "help": {"text": "Run the scan again (with --osv-retries, or against an offline advisory database)."},
        "properties": {"tags": ["completeness"], "precision": "very-high", "problem.severity": "warning"},
    },
}


_POLICY_RULES[NOT_VERIFIABLE_RULE] = {
    "id": NOT_VERIFIABLE_RULE,
    "name": "NotVerifiable",
    "shortDescription": {"text": "A component advisories cannot vouch for"},
    "fullDescription": {
        "text": "A native library identified without a version, or of a kind no advisory data covers, cannot be "
        "matched against advisories. The absence of vulnerability results for it means nothing."
    },
    "defaultConfiguration": {"level": "warning"},
    "help": {"text": "Find out which version the file is (its build, the wheel or OS package that ships it) and "
             "check it by hand, or replace the file with one from a package that is tracked."},
    "properties": {"tags": ["completeness", "native"], "precision": "very-high", "problem.severity": "warning"},
}

# What each policy rule checks and what to do, for its SARIF rule (3.49). A rule without an entry is described
# by its first finding's message.
POLICY_RULE_TEXT: dict[str, tuple[str, str, str]] = {
    "native-unowned": (
        "A native library no package owns",
        "An ELF file that no Python distribution's RECORD and no OS package database lists: nothing installs it, "
        "so nothing updates it, and nothing but its own bytes says what it is.",
        "Ship the library inside the wheel that needs it (auditwheel repair), or install it from an OS package, "
        "so it is tracked and updated; otherwise rebuild it from a patched upstream release.",
    ),
    "native-wrong-machine": (
        "A native module built for another machine",
        "The ELF file's machine (e_machine) is not the artifact's: the runtime cannot load it.",
        "Install the wheel built for the target platform (manylinux x86_64 or aarch64, as the runtime is).",
    ),
    "native-glibc-too-new": (
        "A native module that needs a newer glibc than the target runtime has",
        "The ELF file needs GLIBC symbol versions newer than the target runtime's glibc: importing it fails.",
        "Install a wheel built for an older manylinux tag, or move to a runtime with a newer glibc.",
    ),
    "wheel-tag-mismatch": (
        "A wheel whose tag does not fit the target runtime",
        "The wheel's platform or Python tag does not match the runtime it is deployed to: its modules may not load.",
        "Install the wheel for the runtime's Python version and platform (pip --platform/--python-version).",
    ),
    "sbom-disagreement": (
        "A wheel's own SBOM disagrees with its bytes",
        "The wheel's embedded SBOM (PEP 770, *.dist-info/sboms/) lists another version of a library than the "
        "library's bytes say, or a library no file of the distribution holds.",
        "Believe the bytes; rebuild or re-repair the wheel so that its SBOM describes what it ships.",
    ),
    "record-modified": (
        "A file changed since its distribution was installed",
        "With --verify-record: a file whose sha256 or size differs from its row in the distribution's RECORD "
        "(PEP 376): the installed code or data is not what the wheel shipped. A changed certifi/cacert.pem "
        "means root certificates were added to (or removed from) the CA bundle.",
        "Find what changed the file (a build step, a patch, an intrusion) and reinstall the distribution.",
    ),
    "record-missing": (
        "A file its distribution's RECORD lists is missing",
        "With --verify-record: a file the distribution's RECORD lists with a hash is not in the artifact: it "
        "was removed after install, and importing it fails at runtime.",
        "Reinstall the distribution, or trim it with a tool that rewrites its RECORD.",
    ),
    "record-unlisted": (
        "A file no RECORD lists inside a distribution's directories",
        "With --verify-record: a file inside a directory of an installed distribution (its packages, its "
        ".dist-info) that no RECORD lists: it was added after install (__pycache__ and .pyc files aside).",
        "Find what added the file; reinstall the distribution.",
    ),
    "requirement-missing": (
        "A requirement of an installed distribution is not installed",
        "A Requires-Dist line of a distribution the runtime imports (its marker true for the target runtime, "
        "extras followed) names a distribution no copy of which is installed, as pip check reports it: "
        "importing the code that needs it fails.",
        "Install the missing distribution into the deployment (pip install -r requirements.txt --target), "
        "or remove what requires it.",
    ),
    "DS001": (
        "An unpinned requirement",
        "A requirement of a requirements, constraints or lock file that is not one exact version (==X.Y.Z or "
        "===X, no wildcard): every install may resolve another version, released at any time. In pyproject.toml "
        "a range is reported for an application when no lock file pins the name.",
        "Pin one exact version (compile the file with pip-compile or uv pip compile), or pin the name in a "
        "constraints file included with -c.",
    ),
    "DS002": (
        "A requirement without a hash in hash-checking mode",
        "pip runs an install in hash-checking mode when any of its requirements has --hash (or with "
        "--require-hashes): then every requirement needs a hash, and pip refuses the whole install.",
        "Add --hash for every requirement (pip-compile --generate-hashes, uv pip compile --generate-hashes).",
    ),
    "DS003": (
        "A URL or VCS requirement without a commit id or a hash",
        "A requirement installed from a URL or a VCS branch or tag: what it installs can change without any "
        "change to the repository.",
        "Pin the full commit id (git+https://...@<40 hex digits>) or add --hash for the archive, or depend on a "
        "released version.",
    ),
    "DS004": (
        "An editable install in a deployment requirements file",
        "An -e requirement in a requirements file that is not for development: the deployment runs whatever the "
        "source tree holds, not a built release.",
        "Install a built wheel or a pinned release; keep -e in a development requirements file.",
    ),
    "DS005": (
        "An extra package index (dependency confusion)",
        "--extra-index-url: pip takes the highest version of a name from any index, so a package of the same "
        "name published on the other index wins.",
        "Use one --index-url that serves your packages and proxies PyPI, or pin every requirement with --hash.",
    ),
    "DS006": (
        "A trusted host: TLS verification off",
        "--trusted-host: pip accepts that host over plain HTTP or with an unverified certificate, so anyone on "
        "the path can change what is installed.",
        "Serve the index over HTTPS with a valid certificate and remove --trusted-host.",
    ),
    "DS007": (
        "A declared-dependency file or line depscan could not read",
        "A line that does not parse (pip would refuse it too), an include that is missing, outside the "
        "repository or in a cycle, or a file that is binary, not UTF-8 or too large: what it declares is not "
        "checked.",
        "Fix the line or the file so that it can be read.",
    ),
    "requirement-conflict": (
        "An installed distribution's version is outside what another one requires",
        "A Requires-Dist line of a distribution the runtime imports excludes the version of the copy it "
        "imports, as pip check reports it; when a Lambda layer's copy and the function's shadow each other, "
        "the finding names both copies.",
        "Install a version that satisfies every requirement (let one resolver install the whole set), or drop "
        "the copy that shadows the one that fits.",
    ),
    "DS101": (
        "Installed packages committed to the repository",
        "A site-packages or dist-packages tree (a Lambda layer's python/lib/python3.X/site-packages among them), "
        "or the *.dist-info / *.egg-info directories of an install target, is tracked by git: the dependencies "
        "are frozen in the repository, where no resolver, audit or update reaches them.",
        "Remove the tree from git, declare its distributions as exact pins in requirements.txt, and install them "
        "at build time (pip install -r requirements.txt --target).",
    ),
    "DS102": (
        "A vendored copy of a package committed to the repository",
        "Python code of a known distribution (identified by its import name, its own version string or the "
        "vendoring project's pin list) is tracked by git without its metadata: nothing updates it, and "
        "advisories reach it only through this scan.",
        "Remove the copy from git and declare the distribution as an exact pin in requirements.txt.",
    ),
    "DS103": (
        "A native binary committed to the repository",
        "An ELF file (or a .pyd/.dll or .dylib) is tracked by git: compiled code no package manager installs or "
        "updates, whose source cannot be reviewed in the repository.",
        "Remove it from git and install it at build time from the wheel or OS package that ships it, or build it "
        "from its source in CI.",
    ),
    "DS104": (
        "A wheel, egg or zip archive committed to the repository",
        "A package archive (or a zip, often a build output) is tracked by git instead of being declared and "
        "downloaded at build time.",
        "Remove it from git and declare the distribution as an exact pin in requirements.txt (a zip that is test "
        "data can be ignored).",
    ),
}


def _camel(rule: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", rule) if part) or "Policy"


def _policy_tag(rule: str) -> str:
    """The SARIF tag of a policy rule's family: file integrity, requirements, committed dependencies, or native
    code."""
    if rule.startswith("record-"):
        return "integrity"
    if rule.startswith("requirement-"):
        return "requirements"
    if re.fullmatch(r"DS\d+", rule):
        return "repository"
    return "native"


def _policy_rule(rule_id: str, findings: list[PolicyFinding]) -> dict[str, Any]:
    short, full, help_text = POLICY_RULE_TEXT.get(
        findings[0].rule, (f"depscan policy rule {findings[0].rule}", findings[0].message,
                           "See the result's message for what is wrong and what to do."))
    worst = max(findings, key=lambda f: f.level.rank).level
    return {
        "id": rule_id,
        "name": _camel(findings[0].rule),
        "shortDescription": {"text": _clip(short)},
        "fullDescription": {"text": _clip(full)},
        "defaultConfiguration": {"level": sarif_level(worst)},
        "help": {"text": help_text},
        "properties": {"tags": ["policy", _policy_tag(findings[0].rule)],
                       "precision": "high", "problem.severity": sarif_level(worst)},
    }


def _policy_result(finding: PolicyFinding, rule_id: str, rule_index: int) -> dict[str, Any]:
    loc = finding.location
    message = finding.message.strip()
    message = message if message.endswith(".") else message + "."
    if finding.fix:
        message += f" Fix: {finding.fix.strip()}"
    location = _location(loc.path, loc.layer)
    if finding.line is not None:  # a line of a repository file: code scanning annotates it
        region: dict[str, Any] = {"startLine": finding.line}
        if finding.text:
            region["snippet"] = {"text": finding.text}
        location["physicalLocation"]["region"] = region
    result: dict[str, Any] = {
        "ruleId": rule_id,
        "ruleIndex": rule_index,
        "level": sarif_level(finding.level),
        "message": {"text": message},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint, "primaryLocationLineHash": finding.fingerprint},
        "properties": {"severity": finding.level.value},
    }
    if finding.component is not None:
        result["properties"]["component"] = finding.component
    return result


def _not_verifiable_result(purl: str, why: str, where: Location | None, rule_index: int) -> dict[str, Any]:
    path, layer = (".", None) if where is None else (where.path, where.layer)
    key = _fingerprint(NOT_VERIFIABLE_RULE, purl, path)
    return {
        "ruleId": NOT_VERIFIABLE_RULE,
        "ruleIndex": rule_index,
        "level": "warning",
        "message": {"text": f"{purl} cannot be checked against advisories: {why}."},
        "locations": [_location(path, layer)],
        "partialFingerprints": {FINGERPRINT_KEY: key, "primaryLocationLineHash": key},
        "properties": {"purl": purl},
    }


def relative_uri(path: str) -> str:
    """A POSIX path inside the artifact as a relative URI reference (RFC 3986): spaces, ``%``, ``#``,
    ``?``, non-ASCII and ``:`` (which would read as a scheme in a first segment) percent-encoded; an
    undecodable byte of a tar member name (carried as a surrogate) is percent-encoded as that byte
    (``caf%E9``), a surrogate that stands for no byte becomes U+FFFD."""
    try:
        raw = path.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = _SURROGATE.sub("\ufffd", path).encode("utf-8", "surrogateescape")
    return quote(raw, safe="/!$&'()*+,;=@")


def _location(path: str, layer: str | None, note: str | None = None) -> dict[str, Any]:
    location: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": {"uri": relative_uri(path), "uriBaseId": URI_BASE},
            "region": {"startLine": 1},
        }
    }
    if note:
        location["message"] = {"text": note}
    if layer is not None:
        location["properties"] = {"layer": layer}
    return location


def _where(path: str, layer: str | None) -> str:
    return path if layer is None else f"{path} in {layer}"


def _component_properties(dist: Matchable) -> dict[str, Any]:
    return {"name": dist.name, "version": dist.version, "purl": dist.purl, "status": dist.status.value}


def _fix_properties(item: FixAdvice) -> dict[str, Any]:
    return {
        "component": item.component_key,
        "name": item.name,
        "current": item.current,
        "recommended": item.recommended,
        "newestInMajor": item.newest_in_major,
        "advisoriesCleared": list(item.advisories),
        "breaking": item.breaking,
        "availabilityChecked": item.checked,
        "whyNot": item.why_not,
        "conflicts": list(item.conflicts),
    }


def _finding_result(finding: Finding, rule_index: int, baseline: BaselineDiff | None,
                    fix_of: dict[str, FixAdvice] | None = None) -> dict[str, Any]:
    dist = finding.component
    loc = component_location(dist)
    aliases = [i for i in finding.ids if i != finding.id]
    also = f" ({', '.join(aliases)})" if aliases else ""
    # GitHub titles the alert with the first sentence: package, version and ids come first, then the fix.
    parts = [f"{dist.name} {dist.version} is affected by {finding.id}{also}.", fix_text(finding)]
    if finding.malicious:
        parts = [f"{dist.name} {dist.version} is a known-malicious package ({finding.id}{also}).",
                 MALICIOUS_NOTE[0].upper() + MALICIOUS_NOTE[1:] + "."]
    summary = finding.summary.strip()
    if summary:
        parts.append(summary if summary.endswith((".", "\u2026")) else summary + ".")
    if isinstance(dist, NativeComponent):
        parts.append(f"Found {'linked into' if dist.embedded else 'as'} the ELF file {_where(loc.path, loc.layer)}.")
        if finding.covered_by is not None:
            parts.append(f"The distribution that ships it reports the same vulnerability as {finding.covered_by}.")
        note = f"{dist.name} {dist.version} ({'linked into this file' if dist.embedded else 'this file'})"
    elif isinstance(dist, OsPackage):
        parts.append(f"Installed as a {dist.package_manager} package, listed in {_where(loc.path, loc.layer)}.")
        note = f"{dist.name} {dist.version} in the {dist.package_manager} database"
    else:
        parts.append(f"Found at {_where(loc.path, loc.layer)}.")
        note = f"{dist.name} {dist.version} metadata"
    if dist.status is Status.SHADOWED:
        parts.append("This copy is shadowed: the runtime imports another one.")
    item = fix_of.get(component_key(dist)) if fix_of and isinstance(dist, PythonDist) else None
    if item is not None and item.recommended is not None and item.recommended != finding.fix:
        parts.append(f"To clear every advisory of this copy: {describe(item)}.")
    text = " ".join(parts)
    location = _location(loc.path, loc.layer, note)
    pin = _pin_line(dist)
    if pin is not None:  # a pin of a requirements file (depscan check --audit): the region is its line
        location = _location(pin[0], None, note)
        location["physicalLocation"]["region"] = {"startLine": pin[1]}
    result: dict[str, Any] = {
        "ruleId": _rule_id(finding.id),
        "ruleIndex": rule_index,
        "level": sarif_level(finding.level),
        "message": {"text": text},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint, "primaryLocationLineHash": finding.fingerprint},
        "properties": {
            "ids": list(finding.ids),
            "severity": finding.level.value,
            "fixedVersions": list(finding.fixed_versions),
            "component": _component_properties(dist),
        },
    }
    if finding.score is not None:
        result["properties"]["score"] = finding.score
    if finding.vector is not None:
        result["properties"]["vector"] = finding.vector
    if finding.covered_by is not None:
        result["properties"]["coveredBy"] = finding.covered_by
    if item is not None:  # no SARIF fix object: it must edit a file (3.55), and the artifact is not one to edit
        result["properties"]["fix"] = _fix_properties(item)
    if finding.malicious:
        result["properties"]["malicious"] = True
        result["properties"]["tags"] = ["malicious"]
    if baseline is not None:  # --baseline: 3.27.24 (GitHub ignores it; other viewers filter on it)
        result["baselineState"] = "new" if finding.fingerprint in baseline.new else "unchanged"
    if finding.suppressed is not None:
        ignore = finding.suppressed
        result["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": ignore.reason,
                "properties": {"ignoreId": ignore.id, "expires": ignore.expires},
            }
        ]
    return result


def _pin_line(component: object) -> tuple[str, int] | None:
    """(file, line) of an exact pin of a requirements or lock file (``found_by`` ``declared``, with its
    ``declared_line``), or None for an installed copy."""
    if not isinstance(component, PythonDist) or component.found_by != "declared" or not component.declared_line:
        return None
    return component.metadata_location.path, component.declared_line


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _unknown_result(unknown: Unknown, rule_index: int) -> dict[str, Any]:
    loc = unknown.location
    key = _fingerprint(UNREADABLE_RULE, loc.path)  # not the layer: see Finding.fingerprint
    return {
        "ruleId": UNREADABLE_RULE,
        "ruleIndex": rule_index,
        "level": "warning",
        "message": {"text": f"Could not read {_where(loc.path, loc.layer)}: {unknown.reason}. Not inventoried."},
        "locations": [_location(loc.path, loc.layer)],
        "partialFingerprints": {FINGERPRINT_KEY: key, "primaryLocationLineHash": key},
    }


def _unchecked_result(dist: PythonDist, why: str, rule_index: int) -> dict[str, Any]:
    loc = dist.metadata_location
    key = _fingerprint(UNCHECKED_RULE, dist.purl, loc.path)
    location = _location(loc.path, loc.layer)
    pin = _pin_line(dist)
    if pin is not None:
        location = _location(pin[0], None)
        location["physicalLocation"]["region"] = {"startLine": pin[1]}
    return {
        "ruleId": UNCHECKED_RULE,
        "ruleIndex": rule_index,
        "level": "warning",
        "message": {"text": f"Advisories for {dist.name} {dist.version} could not be checked: {why}."},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT_KEY: key, "primaryLocationLineHash": key},
        "properties": {"component": _component_properties(dist)},
    }


def _notifications(result: ScanResult) -> list[dict[str, Any]]:
    """The invocation's (3.20) ``toolExecutionNotifications``: what limits the run's completeness."""
    notes: list[dict[str, Any]] = []
    if result.advisory_data is None:
        notes.append(
            {"level": "warning", "message": {"text": "Advisories were not checked: no vulnerability results."}}
        )
    notes += [{"level": "warning", "message": {"text": w}} for w in result.warnings]
    notes += [{"level": "note", "message": {"text": n}} for n in result.notes]
    return notes


def document(result: ScanResult) -> dict[str, Any]:
    """The SARIF log as a dict."""
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    groups: dict[str, list[Finding]] = {}
    for finding in result.findings:
        groups.setdefault(_rule_id(finding.id), []).append(finding)
    for rule_id, findings in groups.items():
        index[rule_id] = len(rules)
        rules.append(_vulnerability_rule(rule_id, findings))
    fix_items = advice(result) if result.advisory_data is not None else ()
    fix_of = by_key(fix_items)
    results = [_finding_result(f, index[_rule_id(f.id)], result.baseline, fix_of) for f in result.findings]

    dists = [c for c in result.components if isinstance(c, PythonDist)]
    unchecked = [(d, why) for purl, why in result.unchecked for d in dists if d.purl == purl]
    for rule_id, present in ((UNREADABLE_RULE, bool(result.unknowns)), (UNCHECKED_RULE, bool(unchecked))):
        if present:
            index[rule_id] = len(rules)
            rules.append(_POLICY_RULES[rule_id])
    results += [_unknown_result(u, index[UNREADABLE_RULE]) for u in result.unknowns]
    results += [_unchecked_result(d, why, index[UNCHECKED_RULE]) for d, why in unchecked]

    # Policy rules by their own id (one that an advisory group already uses is prefixed with depscan/policy/).
    policy: dict[str, list[PolicyFinding]] = {}
    for item in result.policy_findings:
        policy.setdefault(item.rule, []).append(item)
    policy_ids: dict[str, str] = {}
    for rule, items in policy.items():
        rule_id = _rule_id(rule if _rule_id(rule) not in index else f"depscan/policy/{rule}")
        policy_ids[rule] = rule_id
        index[rule_id] = len(rules)
        rules.append(_policy_rule(rule_id, items))
    results += [_policy_result(item, policy_ids[item.rule], index[policy_ids[item.rule]])
                for item in result.policy_findings]
    if result.not_verifiable:
        index[NOT_VERIFIABLE_RULE] = len(rules)
        rules.append(_POLICY_RULES[NOT_VERIFIABLE_RULE])
        where_of: dict[str, Location] = {}
        for component in result.components:
            if component.purl is not None:
                where_of.setdefault(component.purl, component_location(component))
        results += [_not_verifiable_result(purl, why, where_of.get(purl), index[NOT_VERIFIABLE_RULE])
                    for purl, why in result.not_verifiable]

    artifact = result.artifact
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "depscan",
                "version": result.tool_version or _own_version(),
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }
        },
        "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": _notifications(result)}],
        "originalUriBaseIds": {
            URI_BASE: {
                "description": {
                    "text": f"The directory depscan check ran in (it checked {artifact.label}); paths are relative "
                    "to it." if artifact.kind == "repository" else f"The root of the scanned artifact "
                    f"{artifact.label} ({artifact.kind}); paths are those the runtime sees."
                }
            }
        },
        "results": results,
        "properties": {
            "artifact": {
                "path": artifact.path,
                "kind": artifact.kind,
                "layers": list(artifact.layers),
                "sha256": artifact.sha256,
            },
            "fixes": [_fix_properties(item) for item in fix_items],
            "advisoryData": None
            if result.advisory_data is None
            else {
                "source": result.advisory_data.source,
                "records": result.advisory_data.records,
                "newestModified": result.advisory_data.newest_modified,
            },
        },
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def _own_version() -> str:
    from depscan import __version__

    return __version__


def render(result: ScanResult, options: ReportOptions | None = None) -> bytes:
    """``--format sarif``: a SARIF 2.1.0 log with one run (3.13 sarifLog, 3.14 run)."""
    text = json.dumps(document(result), indent=2, ensure_ascii=False) + "\n"
    return encode_json(text)  # undecodable bytes (non-UTF-8 names, hostile metadata) written escaped
