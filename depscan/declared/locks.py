"""Lock files: ``poetry.lock``, ``Pipfile.lock``, ``uv.lock``, ``pdm.lock`` and ``pylock.toml`` (PEP 751).
Every locked package is a ``DeclaredRequirement`` with ``source="lock"``, ``pinned`` its version and the
hashes of its files as "algorithm:hexdigest"; its line is the line of its ``name`` (the package key in
``Pipfile.lock``). Direct references keep pip's spelling: ``git+URL@commit``, a local path, an archive URL.
The project a uv lock is made for (its ``virtual`` or ``editable = "."`` source, workspace members) is not
one of its dependencies and is left out.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from depscan.declared.tomlsource import Errors, TomlFile, describe, hash_text, lock_entry, screen
from depscan.models import DeclaredFile, DeclaredRequirement

Package = tuple[tuple[str, ...], dict[str, Any], str, str | None, int]


def _packages(doc: TomlFile, key: str) -> list[Package]:
    """The well-formed ``[[key]]`` entries: (path, table, name, version, line of the name)."""
    found: list[Package] = []
    for index, package in enumerate(doc.array(doc.data, (key,)) or ()):
        path = (key, f"[{index}]")
        line = doc.where.line_of((*path, "name"))
        if not isinstance(package, dict):
            doc.error(line, f"`{key}` entry {index + 1} is {describe(package)}, not a table; skipped")
            continue
        name, version = package.get("name"), package.get("version")
        if not isinstance(name, str) or not name.strip():
            doc.error(line, f"`{key}` entry {index + 1} has no name; skipped")
            continue
        if version is not None and not isinstance(version, str):
            doc.error(doc.where.line_of((*path, "version")), f"{name}: version is {describe(version)}, not a string")
            version = None
        found.append((path, package, name.strip(), version, line))
    return found


def _as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _file_hashes(files: object, key: str = "hash") -> list[str]:
    hashes = []
    for entry in files if isinstance(files, list) else ():
        if isinstance(entry, dict) and (digest := hash_text(entry.get(key))) is not None:
            hashes.append(digest)
    return hashes


def _table_hashes(table: object) -> list[str]:
    """PEP 751's ``hashes = {sha256 = "..."}`` of one file."""
    hashes = table.get("hashes") if isinstance(table, dict) else None
    found = []
    for algorithm, digest in hashes.items() if isinstance(hashes, dict) else ():
        if (normalized := hash_text(f"{algorithm}:{digest}")) is not None:
            found.append(normalized)
    return found


def _git_url(url: str, revision: object) -> str:
    base = url if url.startswith("git+") else f"git+{url}"
    return f"{base}@{revision}" if isinstance(revision, str) and revision else base


def _done(doc: TomlFile, kind: str, found: Iterable[DeclaredRequirement]) -> DeclaredFile:
    return DeclaredFile(path=doc.path, kind=kind, is_lock=True, requirements=tuple(found), errors=tuple(doc.errors))


def parse_poetry_lock(path: str, text: str) -> DeclaredFile:
    """``[[package]]`` name / version / ``files`` hashes (lock format 2: ``{file, hash}`` per package;
    format 1: ``[metadata.files]`` keyed by name), ``groups`` (2.1) or ``category`` (older), ``markers``
    and ``[package.source]`` (git, url, file, directory with ``develop``)."""
    doc = TomlFile(path, text)
    if doc.data is None:
        return _done(doc, "poetry.lock", ())
    old_files = doc.table(doc.table(doc.data, ("metadata",)), ("metadata", "files")) or {}
    old_by_name = {key.lower().replace("_", "-").replace(".", "-"): value for key, value in old_files.items()}
    found = []
    for _, package, name, version, line in _packages(doc, "package"):
        hashes = _file_hashes(package.get("files"))
        if not hashes and old_files:
            hashes = _file_hashes(old_by_name.get(name.lower().replace("_", "-").replace(".", "-")))
        groups = package.get("groups")
        group = ",".join(g for g in groups if isinstance(g, str)) if isinstance(groups, list) else None
        if group is None and isinstance(package.get("category"), str):
            group = package["category"]
        markers = package.get("markers")
        if isinstance(markers, dict):  # one marker per group: kept only when all groups agree
            values = set(markers.values())
            markers = values.pop() if len(values) == 1 else None
        url = None
        source = package.get("source")
        if isinstance(source, dict) and isinstance(source.get("url"), str):
            kind = source.get("type")
            if kind == "git":
                url = _git_url(source["url"], source.get("resolved_reference") or source.get("reference"))
            elif kind in ("url", "file", "directory"):
                url = source["url"]
        found.append(lock_entry(
            path, line, name, version, group=group or None,
            marker=markers if isinstance(markers, str) else None,
            url=url, editable=package.get("develop") is True, hashes=hashes, ignored=doc.where.ignored(line),
        ))
    return _done(doc, "poetry.lock", found)


def parse_uv_lock(path: str, text: str) -> DeclaredFile:
    """``[[package]]`` with ``source`` registry / git / url / path / directory / editable / virtual and the
    ``sdist`` and ``wheels`` hashes. The project itself (a ``virtual`` source, ``editable = "."`` or a
    workspace member named in ``[manifest] members``) is not a dependency."""
    doc = TomlFile(path, text)
    if doc.data is None:
        return _done(doc, "uv.lock", ())
    manifest = doc.table(doc.data, ("manifest",))
    members = {m.lower() for m in (manifest or {}).get("members", ()) if isinstance(m, str)}
    found = []
    for _, package, name, version, line in _packages(doc, "package"):
        source = package.get("source")
        source = source if isinstance(source, dict) else {}
        if "virtual" in source or source.get("editable") == "." or name.lower() in members:
            continue
        url = None
        editable = False
        if isinstance(source.get("git"), str):
            url = _uv_git(source["git"])
        elif isinstance(source.get("url"), str):
            url = source["url"]
        elif isinstance(source.get("editable"), str):
            url, editable = source["editable"], True
        else:
            for key in ("path", "directory"):
                if isinstance(source.get(key), str):
                    url = source[key]
                    break
        sdist = package.get("sdist")
        hashes = _file_hashes([sdist] if isinstance(sdist, dict) else []) + _file_hashes(package.get("wheels"))
        found.append(lock_entry(
            path, line, name, version, url=url, editable=editable, hashes=hashes, ignored=doc.where.ignored(line),
        ))
    return _done(doc, "uv.lock", found)


def _uv_git(value: str) -> str:
    """uv's ``https://host/repo?rev=v1&subdirectory=x#<commit>`` as pip's ``git+https://host/repo@<commit>``."""
    try:
        parts = urlsplit(value)
    except ValueError:  # not a URL urllib can split: kept as written
        return _git_url(value, None)
    query = parse_qs(parts.query)
    commit = parts.fragment or next((query[key][0] for key in ("rev", "tag", "branch") if key in query), "")
    url = _git_url(urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")), commit)
    if "subdirectory" in query:
        url += f"#subdirectory={query['subdirectory'][0]}"
    return url


def parse_pdm_lock(path: str, text: str) -> DeclaredFile:
    """``[[package]]`` name / version / ``groups`` / ``marker`` / ``files`` hashes (older locks:
    ``[metadata.files]`` keyed by "name version"), ``git`` + ``revision``, ``path``, ``url``, ``editable``."""
    doc = TomlFile(path, text)
    if doc.data is None:
        return _done(doc, "pdm.lock", ())
    old_files = doc.table(doc.table(doc.data, ("metadata",)), ("metadata", "files")) or {}
    found = []
    for _, package, name, version, line in _packages(doc, "package"):
        hashes = _file_hashes(package.get("files"))
        if not hashes and old_files:
            hashes = _file_hashes(old_files.get(f"{name} {version}"))
        groups = package.get("groups")
        group = ",".join(g for g in groups if isinstance(g, str)) if isinstance(groups, list) else None
        url = None
        if isinstance(package.get("git"), str):
            url = _git_url(package["git"], package.get("revision") or package.get("ref"))
        else:
            for key in ("path", "url"):
                if isinstance(package.get(key), str):
                    url = package[key]
                    break
        marker = package.get("marker")
        found.append(lock_entry(
            path, line, name, version, group=group or None, marker=marker if isinstance(marker, str) else None,
            url=url, editable=package.get("editable") is True, hashes=hashes, ignored=doc.where.ignored(line),
        ))
    return _done(doc, "pdm.lock", found)


def parse_pylock(path: str, text: str) -> DeclaredFile:
    """PEP 751: ``[[packages]]`` name / version (optional for direct references) / ``marker``, exactly one
    of ``vcs`` (``commit-id``), ``directory`` (``editable``), ``archive``, or an index's ``sdist`` and
    ``wheels``; each file's ``hashes`` table."""
    doc = TomlFile(path, text)
    if doc.data is None:
        return _done(doc, "pylock", ())
    found = []
    for _, package, name, version, line in _packages(doc, "packages"):
        url = None
        editable = False
        hashes: list[str] = []
        vcs, directory, archive = package.get("vcs"), package.get("directory"), package.get("archive")
        if isinstance(vcs, dict):
            location = vcs.get("url") or vcs.get("path")
            if isinstance(location, str):
                scheme = vcs.get("type") if isinstance(vcs.get("type"), str) else "git"
                url = f"{scheme}+{location}" if "+" not in location.split(":", 1)[0] else location
                commit = vcs.get("commit-id") or vcs.get("requested-revision")
                url = f"{url}@{commit}" if isinstance(commit, str) and commit else url
                if isinstance(vcs.get("subdirectory"), str):
                    url += f"#subdirectory={vcs['subdirectory']}"
        elif isinstance(directory, dict):
            url = directory.get("path") if isinstance(directory.get("path"), str) else None
            editable = directory.get("editable") is True
        elif isinstance(archive, dict):
            location = archive.get("url") or archive.get("path")
            url = location if isinstance(location, str) else None
            hashes = _table_hashes(archive)
        else:
            hashes = _table_hashes(package.get("sdist"))
            wheels = package.get("wheels")
            for wheel in wheels if isinstance(wheels, list) else ():
                hashes.extend(_table_hashes(wheel))
        marker = package.get("marker")
        found.append(lock_entry(
            path, line, name, version, marker=marker if isinstance(marker, str) else None,
            url=url, editable=editable, hashes=hashes, ignored=doc.where.ignored(line),
        ))
    return _done(doc, "pylock", found)


_JSON_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"(\s*:)?|[{}\[\]]')
_NEWLINE = re.compile("\n")


def json_key_lines(text: str, depth: int = 2) -> dict[tuple[str, ...], int]:
    """1-based line of each object key up to ``depth`` levels deep (``("default", "requests")``), from
    one regular-expression pass over the JSON text (``json`` gives no positions)."""
    newlines = [match.start() for match in _NEWLINE.finditer(text)]
    lines: dict[tuple[str, ...], int] = {}
    stack: list[str] = []
    last = ""
    for token in _JSON_TOKEN.finditer(text):
        lexeme = token[0]
        first = lexeme[0]
        if first == '"':
            if token[1] is None:
                continue  # a value
            literal = lexeme[: lexeme.rindex('"') + 1]
            last = literal[1:-1]
            if "\\" in last:
                with contextlib.suppress(ValueError):  # else taken as written
                    last = json.loads(literal)
            if len(stack) <= depth:
                lines.setdefault((*stack[1:], last), bisect.bisect_left(newlines, token.start()) + 1)
        elif first in "{[":
            stack.append(last)
            last = ""
        else:
            if stack:
                stack.pop()
            last = ""
    return lines


def parse_pipfile_lock(path: str, text: str) -> DeclaredFile:
    """JSON: ``default`` (group None) and ``develop`` (and pipenv's other categories, each its own group),
    each package ``version: "==x"``, ``hashes``, ``markers``, ``extras``, or ``git`` + ``ref`` / ``path``
    / ``file`` with ``editable``."""
    screened, errors = screen(text)
    problems: Errors = list(errors)
    data: object = None
    if screened is not None:
        try:
            data = json.loads(screened)
        except RecursionError:
            problems.append((0, "not valid JSON: nested too deeply"))
        except ValueError as exc:
            problems.append((getattr(exc, "lineno", 0), f"not valid JSON: {getattr(exc, 'msg', exc)}"))
    found: list[DeclaredRequirement] = []
    if data is not None and not isinstance(data, dict):
        problems.append((1, f"the document is {describe(data)}, not an object"))
    elif isinstance(data, dict):
        where = json_key_lines(screened or "")
        for section, packages in data.items():
            if section.startswith("_"):
                continue  # _meta
            if not isinstance(packages, dict):
                problems.append((where.get((section,), 0), f"`{section}` is {describe(packages)}, not an object"))
                continue
            group = None if section == "default" else section
            for name, entry in packages.items():
                line = where.get((section, name), 0)
                if not isinstance(entry, dict):
                    problems.append((line, f"{section}.{name} is {describe(entry)}, not an object; skipped"))
                    continue
                found.append(_pipfile_lock_entry(path, line, name, entry, group))
    return DeclaredFile(path=path, kind="Pipfile.lock", is_lock=True, requirements=tuple(found), errors=tuple(problems))


def _pipfile_lock_entry(
    path: str, line: int, name: str, entry: dict[str, Any], group: str | None
) -> DeclaredRequirement:
    version = entry.get("version")
    pinned = None
    if isinstance(version, str):
        pinned = version[3:] if version.startswith("===") else version[2:] if version.startswith("==") else None
    url = None
    if isinstance(entry.get("git"), str):
        url = _git_url(entry["git"], entry.get("ref"))
        if isinstance(entry.get("subdirectory"), str):
            url += f"#subdirectory={entry['subdirectory']}"
    else:
        for key in ("path", "file"):
            if isinstance(entry.get(key), str):
                url = entry[key]
                break
    listed = entry.get("hashes")
    hashes = [digest for value in _as_list(listed) if (digest := hash_text(value)) is not None]
    markers = entry.get("markers")
    made = lock_entry(
        path, line, name, pinned, group=group, marker=markers if isinstance(markers, str) else None,
        url=url, editable=entry.get("editable") is True, hashes=hashes,
    )
    extras = entry.get("extras")
    if isinstance(extras, list):
        made = replace(made, extras=tuple(sorted(e for e in extras if isinstance(e, str))))
    return made
