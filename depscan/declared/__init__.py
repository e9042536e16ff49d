"""Declared dependencies: the files a project states its requirements in, parsed without running pip or
a build backend (issue 11). One parser per format; ``parse_declared`` chooses it by the file's name.

``PARSERS`` is the one table: (predicate on the file's base name, "module:function"); the function
takes ``(path, text)`` (path relative to the checked root, POSIX; text decoded as UTF-8) and returns a
``models.DeclaredFile``. Modules are imported only when a file of theirs is met, so a pre-commit run
on one requirements file imports one parser.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from depscan.models import DeclaredFile

Parser = Callable[[str, str], DeclaredFile]

PARSERS: list[tuple[Callable[[str], bool], str]] = []


def parser_for(name: str) -> Parser | None:
    """The parser of a file with this base name, or None when depscan does not read such files."""
    for matches, target in PARSERS:
        if matches(name):
            module_name, _, function = target.partition(":")
            module = importlib.import_module(module_name)
            parser: Parser = getattr(module, function)
            return parser
    return None
