"""``setup.cfg``: ``[options] install_requires`` and ``[options.extras_require]`` (group = the extra),
read with ``configparser`` as setuptools reads them (a multi-line value is one requirement a line, ``#``
comment lines dropped; a one-line value is split on ``;`` as setuptools does). Each requirement keeps
the line it is written on.
"""

from __future__ import annotations

import configparser
import re

from depscan.declared.tomlsource import requirement, screen
from depscan.models import DeclaredFile, DeclaredRequirement

SOURCE = "setup.cfg"
_SECTION = re.compile(r"\s*\[\s*([^\]]+?)\s*\]")
_KEY = re.compile(r"([^\s=:][^=:]*?)\s*[=:]")


def _values(value: str) -> list[str]:
    """setuptools' ``list-semi``: a value with line breaks is one item a line; one line splits on ``;``."""
    items = value.splitlines() if "\n" in value else value.split(";")
    return [item.strip() for item in items if item.strip() and not item.strip().startswith("#")]


def _key_lines(lines: list[str]) -> dict[tuple[str, str], int]:
    """0-based line of each ``key =`` at the start of a line, by (section, key) as configparser names them."""
    found: dict[tuple[str, str], int] = {}
    section = ""
    for number, line in enumerate(lines):
        if not line or line[0] in " \t#;":
            continue
        header = _SECTION.match(line)
        if header is not None:
            section = header[1]
            continue
        key = _KEY.match(line)
        if key is not None:
            found.setdefault((section, key[1].strip()), number)
    return found


def parse(path: str, text: str) -> DeclaredFile:
    screened, errors = screen(text)
    if screened is None:
        return DeclaredFile(path=path, kind="setup.cfg", is_lock=False, errors=tuple(errors))
    parser = configparser.RawConfigParser(strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys as written, as setuptools reads them
    try:
        parser.read_string(screened, source=path)
    except configparser.MissingSectionHeaderError as exc:
        errors.append((exc.lineno, "not an INI file: a line comes before any [section]"))
        return DeclaredFile(path=path, kind="setup.cfg", is_lock=False, errors=tuple(errors))
    except configparser.ParsingError as exc:  # the rest of the file is read; these lines are not
        errors.extend((lineno, f"not valid INI syntax: {line.strip()[:80]!r}") for lineno, line in exc.errors)
    except configparser.Error as exc:
        errors.append((getattr(exc, "lineno", 0) or 0, f"not a valid setup.cfg: {str(exc).splitlines()[0]}"))
        return DeclaredFile(path=path, kind="setup.cfg", is_lock=False, errors=tuple(errors))
    lines = screened.split("\n")
    keys = _key_lines(lines)
    found: list[DeclaredRequirement] = []
    wanted: list[tuple[str, str, str | None]] = [("options", "install_requires", None)]
    if parser.has_section("options.extras_require"):
        wanted += [("options.extras_require", extra, extra) for extra in parser.options("options.extras_require")]
    for section, key, group in wanted:
        if not parser.has_option(section, key):
            continue
        start = keys.get((section, key), -1)
        end = start + 1  # the value's continuation lines: indented or blank
        while start >= 0 and end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t"):
            end += 1
        cursor = start
        for item in _values(parser.get(section, key)):
            line = start + 1 if start >= 0 else 0  # a one-line value: every item on the key's line
            for number in range(max(cursor, start), end) if start >= 0 else ():
                candidate = lines[number].strip()
                if (number > start and candidate.startswith(item)) or (number == start and item in candidate):
                    line, cursor = number + 1, number + 1
                    break
            made, why = requirement(path, line, item, item, source=SOURCE, group=group)
            if made is None:
                errors.append((line, f"{item!r} is not a valid requirement: {why}"))
            else:
                found.append(made)
    return DeclaredFile(path=path, kind="setup.cfg", is_lock=False, requirements=tuple(found), errors=tuple(errors))
