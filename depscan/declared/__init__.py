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



def _requirements_name(name: str) -> bool:
    """``requirements*.txt``, ``dev-requirements.txt``, ``requirements*.in``, ``constraints*.txt``: the names read
    as pip requirements files (an include, or a file named on the command line, is read whatever its name)."""
    lower = name.lower()
    return lower.endswith((".txt", ".in")) and ("requirements" in lower or lower.startswith("constraints"))


PARSERS: list[tuple[Callable[[str], bool], str]] = [
    (_requirements_name, "depscan.declared.requirements_txt:parse"),
]


def parser_for(name: str) -> Parser | None:
    """The parser of a file with this base name, or None when depscan does not read such files."""
    for matches, target in PARSERS:
        if matches(name):
            module_name, _, function = target.partition(":")
            module = importlib.import_module(module_name)
            parser: Parser = getattr(module, function)
            return parser
    return None


def parser_for_path(path: str) -> Parser | None:
    """The parser of the file at ``path`` (POSIX, relative): by its base name (``parser_for``), and a
    ``requirements/`` directory's ``*.txt`` and ``*.in`` files, read as requirements files."""
    name = path.rsplit("/", 1)[-1]
    found = parser_for(name)
    if found is not None:
        return found
    parent = path.rsplit("/", 2)[-2] if path.count("/") else ""
    if parent.lower() == "requirements" and name.lower().endswith((".txt", ".in")):
        from depscan.declared.requirements_txt import parse

        return parse
    return None
def _is_pylock(name: str) -> bool:
    """PEP 751's names: ``pylock.toml`` and ``pylock.<name>.toml`` (``^pylock\\.([^.]+\\.)?toml$``)."""
    if not (name.startswith("pylock.") and name.endswith("toml")):
        return False
    middle = name[len("pylock.") : -len("toml")]
    return middle == "" or (middle.endswith(".") and "." not in middle[:-1] and len(middle) > 1)


# project and lock files (the requirements-file rows are above)
PARSERS.extend([
    (lambda name: name == "pyproject.toml", "depscan.declared.pyproject:parse"),
    (lambda name: name == "poetry.lock", "depscan.declared.locks:parse_poetry_lock"),
    (lambda name: name == "uv.lock", "depscan.declared.locks:parse_uv_lock"),
    (lambda name: name == "pdm.lock", "depscan.declared.locks:parse_pdm_lock"),
    (_is_pylock, "depscan.declared.locks:parse_pylock"),
    (lambda name: name == "Pipfile.lock", "depscan.declared.locks:parse_pipfile_lock"),
    (lambda name: name == "Pipfile", "depscan.declared.pipfile:parse"),
    (lambda name: name == "setup.cfg", "depscan.declared.setup_cfg:parse"),
])
