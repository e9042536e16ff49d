"""What the TOML (and JSON) declared-dependency parsers share: the text screened (binary content, a
line too long to be a declaration), the document loaded with every syntax error kept as (line, reason),
the 1-based line of a key found in the text (tomllib gives no positions), and one builder for a
``DeclaredRequirement`` checked by ``packaging``.

Line finding is a single pass over the lines that knows table headers (``[a.b]``, ``[[a]]`` with the
index of each array element, so ``[package.dependencies]`` belongs to the last ``[[package]]``), key
assignments (bare, quoted and dotted keys) and the values that span lines (multi-line arrays and
inline tables, multi-line strings), so a key of a nested value is never mistaken for a key of its table.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, Specifier, SpecifierSet
from packaging.utils import canonicalize_name

from depscan.models import DeclaredRequirement

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

MAX_LINE = 65_536  # characters; no declaration is this long: a longer line is an error, not a parse
MAX_RECOVERIES = 20  # syntax errors blanked out and parsed again before the file is given up

Errors = list[tuple[int, str]]

_KEYPART = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\\n]|\\.)*"|'[^'\n]*')"""
_DOTTED = rf"{_KEYPART}(?:[ \t]*\.[ \t]*{_KEYPART})*"
_HEADER = re.compile(rf"[ \t]*(\[\[?)[ \t]*({_DOTTED})[ \t]*\]\]?[ \t]*(?:#.*)?$")
_ASSIGN = re.compile(rf"[ \t]*({_DOTTED})[ \t]*=")
_PART = re.compile(_KEYPART)
_TOKEN = re.compile(r'"""|\'\'\'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#|[\[\]{}]')
_POSITION = re.compile(r"\(at line (\d+), column \d+\)|\(at end of document\)")


def screen(text: str) -> tuple[str | None, Errors]:
    """``text`` made safe to parse: None with one error for binary content; lines longer than
    ``MAX_LINE`` blanked (line numbers kept) with an error each; a leading byte-order mark dropped."""
    nul = text.find("\x00")
    if nul >= 0:
        return None, [(text.count("\n", 0, nul) + 1, "binary content (a NUL byte): not a text file")]
    if text.startswith("\ufeff"):
        text = text[1:]
    errors: Errors = []
    if len(text) > MAX_LINE:
        lines = text.split("\n")
        for index, line in enumerate(lines):
            if len(line) > MAX_LINE:
                errors.append((index + 1, f"line is {len(line):,} characters long (limit {MAX_LINE:,}); skipped"))
                lines[index] = ""
        if errors:
            text = "\n".join(lines)
    return text, errors


def load_toml(text: str) -> tuple[dict[str, Any] | None, Errors]:
    """The TOML document, or None when it cannot be read. Each syntax error is kept with its line; the
    line is blanked and the text parsed again (up to ``MAX_RECOVERIES`` times) so one bad line does not
    hide the rest of the file."""
    errors: Errors = []
    lines: list[str] | None = None
    for _ in range(MAX_RECOVERIES + 1):
        try:
            return tomllib.loads(text if lines is None else "\n".join(lines)), errors
        except RecursionError:
            errors.append((0, "not valid TOML: values nested too deeply"))
            return None, errors
        except tomllib.TOMLDecodeError as exc:
            message = str(exc)
            match = _POSITION.search(message)
            reason = "not valid TOML: " + _POSITION.sub("", message).strip()
            line = int(match[1]) if match and match[1] else 0
            if lines is None:
                lines = text.split("\n")
            if match and not match[1]:  # at end of document
                line = len(lines)
            errors.append((line, reason))
            if not 1 <= line <= len(lines) or not lines[line - 1].strip():
                return None, errors
            lines[line - 1] = ""
    return None, errors


def _unquote(part: str) -> str:
    if part[:1] == '"':
        return re.sub(r"\\(.)", r"\1", part[1:-1])
    if part[:1] == "'":
        return part[1:-1]
    return part


def split_key(dotted: str) -> tuple[str, ...]:
    return tuple(_unquote(part) for part in _PART.findall(dotted))


class TomlLines:
    """Where keys are written in a TOML text. Paths are tuples of keys; an element of an array of
    tables is the string ``"[n]"`` after the array's key (``("package", "[3]", "name")``)."""

    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")
        self.keys: dict[tuple[str, ...], int] = {}  # path -> 0-based line of its header or assignment
        self._counts: dict[tuple[str, ...], int] = {}
        self._arrays: dict[tuple[str, ...], tuple[dict[str, deque[int]], list[int]]] = {}
        self._index()

    def _resolve(self, parts: tuple[str, ...], is_array: bool) -> tuple[str, ...]:
        resolved: list[str] = []
        for position, part in enumerate(parts):
            resolved.append(part)
            key = tuple(resolved)
            if is_array and position == len(parts) - 1:
                count = self._counts.get(key, -1) + 1
                self._counts[key] = count
                resolved.append(f"[{count}]")
            elif key in self._counts:
                resolved.append(f"[{self._counts[key]}]")
        return tuple(resolved)

    def _index(self) -> None:
        table: tuple[str, ...] = ()
        depth = 0  # open brackets/braces of a value that spans lines
        closing: str | None = None  # the delimiter of an open multi-line string
        for number, line in enumerate(self.lines):
            start = 0
            if closing is not None:
                end = line.find(closing)
                if end < 0:
                    continue
                start, closing = end + 3, None
            elif depth == 0:
                header = _HEADER.match(line)
                if header is not None:
                    table = self._resolve(split_key(header[2]), header[1] == "[[")
                    self.keys.setdefault(table, number)
                    continue
                assign = _ASSIGN.match(line)
                if assign is not None:
                    self.keys.setdefault(table + split_key(assign[1]), number)
                    start = assign.end()
            depth, closing = _scan_value(line, start, depth)

    def line_of(self, path: Iterable[str]) -> int:
        """1-based line of the key at ``path``; else of the nearest enclosing key written in the text
        (an inline table or array holding it); 0 when none is."""
        key = tuple(path)
        while key:
            found = self.keys.get(key)
            if found is not None:
                return found + 1
            key = key[:-1]
        return 0

    def text_at(self, line: int) -> str:
        """The line as written, without its comment and surrounding blanks ("" for line 0)."""
        if not 1 <= line <= len(self.lines):
            return ""
        raw = self.lines[line - 1]
        for token in _TOKEN.finditer(raw):
            if token[0] == "#":
                return raw[: token.start()].strip()
        return raw.strip()

    def ignored(self, line: int) -> tuple[str, ...]:
        """The rule ids a ``# depscan: ignore[DS001,DS002]`` comment on ``line`` silences ("*": a bare
        ``# depscan: ignore``, every rule)."""
        if not 1 <= line <= len(self.lines) or "depscan" not in self.lines[line - 1]:
            return ()
        raw = self.lines[line - 1]
        for token in _TOKEN.finditer(raw):
            if token[0] == "#":
                return ignored_rules(raw[token.start() :])
        return ()

    def is_assignment(self, line: int, key: str) -> bool:
        """Whether ``line`` assigns ``key`` itself (``key = ...``), not a header or an enclosing value."""
        if not 1 <= line <= len(self.lines):
            return False
        assign = _ASSIGN.match(self.lines[line - 1])
        return assign is not None and split_key(assign[1])[-1:] == (key,)

    def string_line(self, path: tuple[str, ...], value: str) -> int:
        """1-based line of the string ``value`` inside the array at ``path`` (repeated strings get their
        own lines, in order); the array's line when the string is not found as written."""
        start = self.keys.get(path)
        if start is None:
            return self.line_of(path)
        strings = self._array(path, start)[0]
        lines = strings.get(value)
        return (lines.popleft() if lines else start) + 1

    def element_lines(self, path: tuple[str, ...]) -> list[int]:
        """1-based line where each element of the array at ``path`` starts ([] when it is not found)."""
        start = self.keys.get(path)
        return [] if start is None else [number + 1 for number in self._array(path, start)[1]]

    def _array(self, path: tuple[str, ...], start: int) -> tuple[dict[str, deque[int]], list[int]]:
        """The array assigned on line ``start``, read once (a lookup is then O(1), whatever its size): its
        strings by value, inline tables included, with their lines; the line each element starts on."""
        cached = self._arrays.get(path)
        if cached is not None:
            return cached
        strings: dict[str, deque[int]] = {}
        elements: list[int] = []
        assign = _ASSIGN.match(self.lines[start])
        position = assign.end() if assign is not None else 0
        depth, opened = 0, False
        for number in range(start, len(self.lines)):
            for lexeme in _TOKEN.findall(self.lines[number], position):
                first = lexeme[0]
                if first == "#":
                    break
                if first in "[{":
                    if depth == 1:
                        elements.append(number)
                    depth, opened = depth + 1, True
                elif first in "]}":
                    depth -= 1
                elif lexeme not in ('"""', "\'\'\'"):
                    if depth == 1:
                        elements.append(number)
                    strings.setdefault(_decode(lexeme), deque()).append(number)
            if not opened or depth <= 0:
                break
            position = 0
        self._arrays[path] = (strings, elements)
        return strings, elements


def _decode(literal: str) -> str:
    """The value of a one-line TOML string literal (basic strings unescaped like JSON, which shares
    TOML's escapes but \\U; a literal that does not decode is taken as written)."""
    if literal[0] == "'":
        return literal[1:-1]
    try:
        value = json.loads(literal)
    except ValueError:
        return literal[1:-1]
    return value if isinstance(value, str) else literal[1:-1]


_IGNORE = re.compile(r"#.*?\bdepscan:\s*ignore\b(?:\[([^\]]*)\])?")


def ignored_rules(comment: str) -> tuple[str, ...]:
    """Rule ids of a ``depscan: ignore[...]`` comment, upper case; ``("*",)`` for a bare ignore."""
    match = _IGNORE.search(comment)
    if match is None:
        return ()
    if match[1] is None:
        return ("*",)
    return tuple(dict.fromkeys(rule.strip().upper() for rule in match[1].split(",") if rule.strip()))


def _basic_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _scan_value(line: str, start: int, depth: int) -> tuple[int, str | None]:
    """Bracket depth after the value text of ``line`` from ``start``, and the delimiter of a multi-line
    string left open at its end."""
    if '"""' in line or "'''" in line:
        return _scan_with_strings(line, start, depth)
    for lexeme in _TOKEN.findall(line, start):  # one C-speed pass over the usual line
        first = lexeme[0]
        if first == "#":
            break
        if first in "[{":
            depth += 1
        elif first in "]}":
            depth = max(0, depth - 1)
    return depth, None


def _scan_with_strings(line: str, start: int, depth: int) -> tuple[int, str | None]:
    """``_scan_value`` for a line holding a multi-line string delimiter: token by token, with positions."""
    position = start
    while True:
        token = _TOKEN.search(line, position)
        if token is None:
            return depth, None
        lexeme = token[0]
        if lexeme in ('"""', "'''"):
            end = line.find(lexeme, token.end())
            if end < 0:
                return depth, lexeme
            position = end + 3
            continue
        if lexeme == "#":
            return depth, None
        if lexeme in "[{":
            depth += 1
        elif lexeme in "]}":
            depth = max(0, depth - 1)
        position = token.end()


def describe(value: object) -> str:
    """The TOML type of a value, for "a string where a table belongs" errors."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "a table"
    return "a date or time"


def inline(value: object) -> str:
    """A value written back as an inline TOML value (for an entry whose own line cannot be shown)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + _basic_escape(value) + '"'
    if isinstance(value, list):
        return "[" + ", ".join(inline(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{key} = {inline(item)}" for key, item in value.items()) + "}"
    return str(value)


def pinned_version(specifier: SpecifierSet) -> str | None:
    """The one version an exact ``==`` (no wildcard) or ``===`` pin allows, else None."""
    for spec in specifier:
        if spec.operator == "===" or (spec.operator == "==" and not spec.version.endswith(".*")):
            return spec.version
    return None


def exact_specifier(version: str) -> str:
    """``==version`` as packaging prints it; ``===version`` for a version PEP 440 cannot parse."""
    try:
        return str(Specifier(f"=={version}"))
    except InvalidSpecifier:
        return f"==={version}"


def requirement(
    file: str,
    line: int,
    text: str,
    pep508: str,
    *,
    source: str,
    group: str | None = None,
    url: str | None = None,
    editable: bool = False,
    hashes: tuple[str, ...] = (),
    ignored: tuple[str, ...] = (),
) -> tuple[DeclaredRequirement | None, str | None]:
    """A requirement from its PEP 508 string, parsed by ``packaging`` (the one judge of the syntax):
    the requirement, or None and the reason it does not parse. ``url`` overrides the string's own
    (a local path or a VCS checkout written outside PEP 508)."""
    try:
        parsed = Requirement(pep508)
    except InvalidRequirement as exc:
        return None, str(exc).splitlines()[0]
    specifier = parsed.specifier
    return (
        DeclaredRequirement(
            file=file,
            line=line,
            text=text,
            name=canonicalize_name(parsed.name),
            specifier=str(specifier),
            extras=tuple(sorted(parsed.extras)),
            marker=str(parsed.marker) if parsed.marker is not None else None,
            url=url if url is not None else parsed.url,
            editable=editable,
            hashes=hashes,
            pinned=pinned_version(specifier),
            source=source,
            group=group,
            ignored=ignored,
        ),
        None,
    )


def lock_entry(
    file: str,
    line: int,
    name: str,
    version: str | None,
    *,
    group: str | None = None,
    marker: str | None = None,
    url: str | None = None,
    editable: bool = False,
    hashes: Iterable[str] = (),
    ignored: tuple[str, ...] = (),
) -> DeclaredRequirement:
    """One package of a lock file: an exact pin of ``version`` (None when the lock records none, as
    for some VCS and path entries), its hashes as "algorithm:hexdigest"."""
    text = f"{name}=={version}" if version else (f"{name} @ {url}" if url else name)
    if marker is not None:
        with contextlib.suppress(InvalidMarker):  # else kept as written
            marker = str(Marker(marker))  # as packaging prints it, like the other parsers' markers
    return DeclaredRequirement(
        file=file,
        line=line,
        text=text,
        name=canonicalize_name(name),
        specifier=exact_specifier(version) if version else "",
        marker=marker,
        url=url,
        editable=editable,
        hashes=tuple(dict.fromkeys(hashes)),
        pinned=version or None,
        source="lock",
        group=group,
        ignored=ignored,
    )


def hash_text(value: object) -> str | None:
    """A lock file's ``"sha256:hex"`` hash normalized ("algorithm:hexdigest", lower case), or None."""
    if not isinstance(value, str) or ":" not in value:
        return None
    algorithm, _, digest = value.partition(":")
    algorithm, digest = algorithm.strip().lower(), digest.strip().lower()
    if not algorithm or not re.fullmatch(r"[0-9a-f]+", digest):
        return None
    return f"{algorithm}:{digest}"


class TomlFile:
    """One TOML declared-dependency file being read: its data, where its keys are, what went wrong."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.errors: Errors = []
        self.data: dict[str, Any] | None = None
        screened, errors = screen(text)
        self.errors.extend(errors)
        self.where = TomlLines(screened or "")
        if screened is not None:
            self.data, errors = load_toml(screened)
            self.errors.extend(errors)

    def error(self, line: int, reason: str) -> None:
        if (line, reason) not in self.errors[-8:]:  # a table looked up twice is reported once
            self.errors.append((line, reason))

    def typed(self, value: object, path: tuple[str, ...], kind: type, what: str) -> Any:
        """``value`` when it is a ``kind`` (a table: dict, an array: list, a string: str), else None
        with an error naming the key, what it is, and what belongs there. None stays None silently."""
        if value is None or (isinstance(value, kind) and not (kind is int and isinstance(value, bool))):
            return value
        shown = ".".join(part for part in path if not part.startswith("["))
        self.error(self.where.line_of(path), f"`{shown}` is {describe(value)} where {what} belongs; ignored")
        return None

    def table(self, parent: Mapping[str, Any] | None, path: tuple[str, ...]) -> dict[str, Any] | None:
        if parent is None:
            return None
        result: dict[str, Any] | None = self.typed(parent.get(path[-1]), path, dict, "a table")
        return result

    def array(self, parent: Mapping[str, Any] | None, path: tuple[str, ...]) -> list[Any] | None:
        if parent is None:
            return None
        result: list[Any] | None = self.typed(parent.get(path[-1]), path, list, "an array")
        return result
