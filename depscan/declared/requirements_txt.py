"""pip requirements files (``requirements*.txt``, ``*.in``, ``constraints*.txt``, ``requirements/*.txt``),
read the way pip reads them (pip's ``req/req_file.py``, "Requirements File Format" in pip's documentation),
without running pip:

* physical lines split as ``str.splitlines`` does; a line ending in ``\\`` continues on the next one (a
  comment line never continues); comments are ``#`` at the start of a line or after whitespace;
* a line is a requirement (a PEP 508 requirement, ``name @ url``, a bare URL or VCS URL, a local path or
  archive) followed by per-requirement options (``--hash``, ``--config-settings``, ``--global-option``),
  or a line of options: ``-r``/``--requirement`` and ``-c``/``--constraint`` includes, ``-e``/``--editable``,
  and the global options (``--index-url``/``-i``, ``--extra-index-url``, ``--no-index``, ``--trusted-host``,
  ``--find-links``/``-f``, ``--no-binary``, ``--only-binary``, ``--prefer-binary``, ``--require-hashes``,
  ``--pre``, ``--use-feature``). Long options may be abbreviated to a unique prefix, as optparse allows;
* ``${NAME}`` references are kept as written (pip expands them from the environment; depscan does not);
* ``# depscan: ignore[DS001,DS002]`` (or ``# depscan: ignore``) at the end of a line silences those rules on
  it (``ignored``).

Includes are resolved relative to the including file and kept as ``DeclaredOption`` rows (``--requirement``
or ``--constraint``, value = the resolved path relative to the checked root) and in ``DeclaredFile.includes``;
one that leaves the checked root is an error on its line and is not kept. Reading the included files, and
cycles, are the caller's (``declared.check``): a parser sees one file.

A line that does not parse is an error with its number and the rest of the file is still read (the first
``MAX_ERRORS`` are named, one more error counts the rest). A file with a NUL byte, or a line longer than
``MAX_LINE`` characters, is an error for the whole file; after ``MAX_ENTRIES`` requirement and option lines the
rest of a file is not read, nor after ``MAX_REQUIREMENT_TEXT`` characters (an error says so): a hostile
file costs at most about a second.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterator
from dataclasses import replace

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from depscan.models import DeclaredFile, DeclaredOption, DeclaredRequirement

MAX_LINE = 100_000  # characters in one physical line: pip's longest real lines (many hashes) are a few KB
MAX_REQUIREMENT = 10_000  # characters of one requirement (its options aside): real ones, markers included, are short
MAX_REQUIREMENT_TEXT = 1_000_000  # characters of requirements (options aside) parsed in one file: ~2 MB/s
MAX_ENTRIES = 10_000  # requirement and option lines of one file: the largest real compiled files have ~1,000
MAX_ERRORS = 50  # line errors of one file given one by one; one more counts the rest

_COMMENT = re.compile(r"(^|\s+)#.*$")
_SHLEX_SPECIAL = re.compile(r"[\"'\\\x0b\x0c\x1c-\x1f]")  # where shlex.split and str.split differ (ASCII)
_IGNORE = re.compile(r"#\s*depscan:\s*ignore(?:\[([^\]]*)\])?\s*$", re.IGNORECASE)
ENV_REF = re.compile(r"\$\{([A-Z0-9_]+)\}")  # the references pip expands (and depscan does not)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_VCS = ("git+", "hg+", "svn+", "bzr+")
_ARCHIVES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar", ".tar.lz")
_EGG = re.compile(r"(?:^|&)egg=([^&\[]+)(\[[^&\]]*\])?")
_HASH = re.compile(r"^(sha256|sha384|sha512):([0-9a-fA-F]+)$")
_HASH_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}

# Long option -> takes a value. pip's SUPPORTED_OPTIONS (global) and SUPPORTED_OPTIONS_REQ (per requirement).
GLOBAL_OPTIONS: dict[str, bool] = {
    "--index-url": True,
    "--extra-index-url": True,
    "--no-index": False,
    "--constraint": True,
    "--requirement": True,
    "--editable": True,
    "--find-links": True,
    "--no-binary": True,
    "--only-binary": True,
    "--prefer-binary": False,
    "--require-hashes": False,
    "--pre": False,
    "--trusted-host": True,
    "--use-feature": True,
}
REQUIREMENT_OPTIONS: dict[str, bool] = {"--hash": True, "--global-option": True, "--config-settings": True}
_SHORT = {"-i": "--index-url", "-c": "--constraint", "-r": "--requirement", "-e": "--editable",
          "-f": "--find-links", "-C": "--config-settings"}


class _LineError(Exception):
    """One line of the file cannot be read; the message says why."""


def parse(path: str, text: str) -> DeclaredFile:
    """The requirements file at ``path`` (relative to the checked root, POSIX), whose content is ``text``."""
    source = "constraints" if posixpath.basename(path).lower().startswith("constraints") else "requirements"
    return parse_as(path, text, source)


def parse_as(path: str, text: str, source: str) -> DeclaredFile:
    """As ``parse``, the requirements tagged ``source`` ("requirements", or "constraints" for a ``-c`` file)."""
    if "\x00" in text:
        return DeclaredFile(path, "requirements", False, errors=((0, "binary content (NUL bytes): not a requirements "
                                                                   "file"),))
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        if len(line) > MAX_LINE:
            return DeclaredFile(path, "requirements", False, errors=(
                (number, f"line {number} is {len(line):,} characters long (more than {MAX_LINE:,}): not read"),))
    requirements: list[DeclaredRequirement] = []
    options: list[DeclaredOption] = []
    errors: list[tuple[int, str]] = []
    includes: list[str] = []
    entries = text_read = 0
    more_errors = 0
    for number, raw in _logical_lines(lines):
        ignored = _ignored(raw)
        line = _COMMENT.sub("", raw).strip()
        if not line:
            continue
        entries += 1
        text_read += len(_split_args(line)[0]) if not line.startswith("-") else 0  # hashes are cheap: not counted
        if entries > MAX_ENTRIES or text_read > MAX_REQUIREMENT_TEXT:
            what = (f"{MAX_ENTRIES:,} requirement and option lines" if entries > MAX_ENTRIES
                    else f"{MAX_REQUIREMENT_TEXT:,} characters of requirements")
            errors.append((number, f"line {number}: more than {what}: the rest of the file is not read"))
            break
        try:
            reqs, opts = _parse_line(path, number, line, ignored, source)
        except _LineError as e:
            if "DS007" not in ignored and "*" not in ignored:
                if len(errors) < MAX_ERRORS:
                    errors.append((number, f"line {number}: {e}"))
                else:
                    more_errors += 1
            continue
        requirements += reqs
        options += opts
        includes += [o.value for o in opts if o.name in ("--requirement", "--constraint") and o.value]
    if more_errors:
        errors.append((0, f"{more_errors:,} more line(s) that cannot be read (the first {MAX_ERRORS} are named)"))
    return DeclaredFile(path, "requirements", False, tuple(requirements), tuple(options), tuple(errors),
                        tuple(dict.fromkeys(includes)))


def _logical_lines(lines: list[str]) -> Iterator[tuple[int, str]]:
    """(number of the first physical line, the logical line), continuations joined as pip joins them."""
    start: int | None = None
    parts: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.endswith("\\") or _COMMENT.match(line):
            if _COMMENT.match(line):
                line = " " + line  # a comment line ends a continuation and stays a comment
            if parts:
                parts.append(line)
                assert start is not None
                yield start, "".join(parts)
                parts = []
            else:
                yield number, line
        else:
            if not parts:
                start = number
            parts.append(line.strip("\\"))
    if parts:
        assert start is not None
        yield start, "".join(parts)


def _ignored(raw: str) -> tuple[str, ...]:
    if "depscan" not in raw.lower():
        return ()
    match = _IGNORE.search(raw)
    if match is None:
        return ()
    if match[1] is None:
        return ("*",)
    return tuple(part.strip().upper() for part in match[1].split(",") if part.strip())


def _split_args(line: str) -> tuple[str, str]:
    """pip's ``break_args_options``: the words before the first one starting with ``-``, and the rest."""
    tokens = line.split(" ")
    args: list[str] = []
    for token in tokens:
        if token.startswith("-"):
            break
        args.append(token)
    return " ".join(args), " ".join(tokens[len(args):])


def _long_name(token: str, allowed: dict[str, bool]) -> str:
    """A long option's full name: itself, or the one option it is an unambiguous prefix of (optparse)."""
    if token in allowed:
        return token
    candidates = [name for name in allowed if name.startswith(token)]
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        raise _LineError(f"option {token} is ambiguous ({', '.join(sorted(candidates))})")
    raise _LineError(f"unknown option {token}")


def split_options(text: str) -> list[str]:
    """``shlex.split(text)``, as pip splits options; without shlex (pure Python, character by character: most of
    the time of a file of hashed requirements) when nothing in ``text`` can make them differ: ASCII without
    quotes, backslashes or whitespace other than spaces, tabs, CR and LF."""
    if text.isascii() and _SHLEX_SPECIAL.search(text) is None:
        return text.split()
    try:
        return shlex.split(text)
    except ValueError as e:
        raise _LineError(f"cannot split the options ({e})") from None


def _options(text: str, allowed: dict[str, bool]) -> list[tuple[str, str | None]]:
    """The options of ``text`` as (long name, value); optparse's rules for ``--opt=v``, ``--opt v``, ``-xv``."""
    tokens = split_options(text)
    out: list[tuple[str, str | None]] = []
    at = 0
    while at < len(tokens):
        token = tokens[at]
        at += 1
        value: str | None = None
        if token.startswith("--"):
            name, eq, attached = token.partition("=")
            name = _long_name(name, allowed)
            if eq:
                value = attached
        elif token.startswith("-") and len(token) >= 2:
            name = _SHORT.get(token[:2], "")
            if not name or name not in allowed:
                raise _LineError(f"unknown option {token[:2]}")
            if len(token) > 2:
                value = token[2:]
        else:
            raise _LineError(f"unexpected {token!r} among the options")
        if allowed[name]:
            if value is None:
                if at >= len(tokens):
                    raise _LineError(f"{name} needs a value")
                value = tokens[at]
                at += 1
        elif value is not None:
            raise _LineError(f"{name} takes no value")
        out.append((name, value))
    return out


def _parse_line(path: str, number: int, line: str, ignored: tuple[str, ...],
                source: str) -> tuple[list[DeclaredRequirement], list[DeclaredOption]]:
    args, rest = _split_args(line)
    if len(args) > MAX_REQUIREMENT:
        raise _LineError(f"a requirement of {len(args):,} characters (more than {MAX_REQUIREMENT:,}): not read")
    if args:
        hashes: list[str] = []
        for name, value in _options(rest, {**REQUIREMENT_OPTIONS, **GLOBAL_OPTIONS}):
            if name not in REQUIREMENT_OPTIONS:
                raise _LineError(f"{name} cannot follow a requirement (pip ignores it there); put it on a line "
                                 "of its own")
            if name == "--hash":
                assert value is not None
                hashes.append(_hash(value))
        return [_requirement(path, number, line, args, ignored, source, tuple(hashes), editable=False)], []
    requirements: list[DeclaredRequirement] = []
    options: list[DeclaredOption] = []
    for name, value in _options(rest, GLOBAL_OPTIONS):
        if name == "--editable":
            assert value is not None
            requirements.append(_requirement(path, number, line, value, ignored, source, (), editable=True))
            continue
        if name in ("--requirement", "--constraint"):
            assert value is not None
            value = _include(path, value)
        options.append(DeclaredOption(path, number, name, value, line, ignored))
    return requirements, options


def _hash(value: str) -> str:
    match = _HASH.match(value)
    if match is None or len(match[2]) != _HASH_LENGTHS[match[1]]:
        raise _LineError(f"--hash {value!r} is not sha256:, sha384: or sha512: and its hex digest")
    return f"{match[1]}:{match[2].lower()}"


def _include(path: str, target: str) -> str:
    """An include's path relative to the checked root; an error when it is a URL or leaves the root."""
    if _SCHEME.match(target):
        raise _LineError(f"{target}: an include from a URL is not read (depscan checks files of the repository)")
    if target.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", target):
        raise _LineError(f"{target}: an absolute include path is outside the checked root: not followed")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target.replace("\\", "/")))
    if resolved == ".." or resolved.startswith("../"):
        raise _LineError(f"{target}: outside the checked root: not followed")
    return resolved


def _requirement(path: str, number: int, line: str, spec: str, ignored: tuple[str, ...], source: str,
                 hashes: tuple[str, ...], *, editable: bool) -> DeclaredRequirement:
    spec = spec.strip()
    base = DeclaredRequirement(file=path, line=number, text=line, name=None, editable=editable, source=source,
                               ignored=ignored, hashes=hashes)
    if _SCHEME.match(spec) or spec.startswith(_VCS) or spec.lower().startswith("file:"):
        url, _, marker_text = spec.partition("; ")
        url = url.strip()
        name, extras = _url_name(url)
        return replace(base, name=name, extras=extras, url=url, marker=_marker(marker_text))
    head = spec.split(";")[0].strip()
    looks_local = head.startswith((".", "/", "~")) or "/" in head or "\\" in head or head.lower().endswith(_ARCHIVES)
    if looks_local and "@" not in head:
        local, _, marker_text = spec.partition(";")
        local = local.strip()
        bare, extras = _strip_extras(local)
        name = _archive_name(posixpath.basename(bare.replace("\\", "/")))
        return replace(base, name=name, extras=extras, url=local, marker=_marker(marker_text))
    try:
        req = Requirement(spec)
    except InvalidRequirement as e:
        detail = " ".join(str(e).split())
        unevaluated = " (${...} references are not evaluated)" if ENV_REF.search(spec) else ""
        raise _LineError(f"{spec!r} is not a requirement{unevaluated}: {detail}") from None
    pinned = None
    specs = list(req.specifier)
    if len(specs) == 1 and (specs[0].operator == "===" or (specs[0].operator == "==" and
                                                            not specs[0].version.endswith(".*"))):
        pinned = specs[0].version
    return replace(base, name=canonicalize_name(req.name), specifier=str(req.specifier),
                   extras=tuple(sorted(req.extras)), marker=str(req.marker) if req.marker is not None else None,
                   url=req.url, pinned=pinned)


def _marker(text: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    try:
        from packaging.markers import InvalidMarker, Marker

        return str(Marker(text))
    except InvalidMarker as e:
        raise _LineError(f"{text!r} is not a marker: {' '.join(str(e).split())}") from None


def _strip_extras(text: str) -> tuple[str, tuple[str, ...]]:
    match = re.match(r"^(.*?)(\[[^\]]*\])$", text)
    if match is None:
        return text, ()
    return match[1], tuple(sorted(e.strip() for e in match[2][1:-1].split(",") if e.strip()))


def _url_name(url: str) -> tuple[str | None, tuple[str, ...]]:
    """The project a URL names: its ``#egg=`` fragment, else a wheel's or sdist's file name."""
    _, _, fragment = url.partition("#")
    match = _EGG.search(fragment)
    if match is not None:
        extras = tuple(sorted(e.strip() for e in (match[2] or "[]")[1:-1].split(",") if e.strip()))
        return canonicalize_name(match[1]), extras
    base = posixpath.basename(url.split("#")[0].split("?")[0].rstrip("/"))
    return _archive_name(base), ()


def _archive_name(base: str) -> str | None:
    if base.lower().endswith(".whl"):
        try:
            return str(parse_wheel_filename(base)[0])
        except InvalidWheelFilename:
            return None
    for suffix in _ARCHIVES:
        if base.lower().endswith(suffix):
            stem = base[: -len(suffix)]
            name, sep, _version = stem.rpartition("-")
            return canonicalize_name(name) if sep and name else None
    return None
