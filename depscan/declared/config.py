"""The ``[check]`` table of ``.depscan.toml`` at the checked root: which repository rules run and how.

```toml
[check]
select = ["DS0"]          # rule ids or prefixes to run (default: every rule)
ignore = ["DS006"]        # rule ids or prefixes never reported
application = true        # pyproject.toml ranges are reported unless a lock file pins them (false: a library)
require-hashes = true     # every requirement of a requirements or lock file needs a hash (DS002)
```

The file's ``[[ignore]]`` tables (advisory ignores, ``depscan.config.load_ignores``) are another table of the same
file; per-line ignores (``# depscan: ignore[DS001]``) come from the parsers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from depscan.errors import UsageError

CONFIG_NAME = ".depscan.toml"
MAX_CONFIG_BYTES = 1024 * 1024  # as config.MAX_IGNORE_FILE_BYTES


@dataclass(frozen=True, slots=True)
class CheckConfig:
    """How the repository rules run (``.depscan.toml [check]`` and the command line)."""

    select: tuple[str, ...] = ()  # rule ids or prefixes; empty: every rule
    ignore: tuple[str, ...] = ()
    application: bool | None = None  # None: not said (pyproject ranges reported only where a lock misses a name)
    require_hashes: bool = False

    def enabled(self, rule: str) -> bool:
        """Whether findings of ``rule`` are reported (a prefix selects or ignores every rule it starts)."""
        rule = rule.upper()
        if self.select and not any(rule.startswith(s.upper()) for s in self.select):
            return False
        return not any(rule.startswith(i.upper()) for i in self.ignore)


def load(root: Path) -> CheckConfig:
    """``root/.depscan.toml``'s ``[check]`` table (defaults when the file or the table is absent). A bad file is a
    usage error naming the file and the problem."""
    path = root / CONFIG_NAME
    if not path.is_file():
        return CheckConfig()
    from depscan.config import read_toml

    return from_table(path, read_toml(path, MAX_CONFIG_BYTES, "a configuration file").get("check", {}))


def from_table(path: Path, table: object) -> CheckConfig:
    """A ``[check]`` table as a CheckConfig; unknown keys and wrong types are usage errors."""
    if not isinstance(table, dict):
        raise UsageError(f"{path}: 'check' must be a table ([check])")
    known = {"select", "ignore", "application", "require-hashes"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise UsageError(f"{path}: [check] has unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    lists: dict[str, tuple[str, ...]] = {}
    for key in ("select", "ignore"):
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise UsageError(f"{path}: [check] {key} must be a list of rule ids or prefixes (\"DS001\", \"DS0\")")
        lists[key] = tuple(v.strip() for v in value)
    application = table.get("application")
    if application is not None and not isinstance(application, bool):
        raise UsageError(f"{path}: [check] application must be true or false")
    require_hashes = table.get("require-hashes", False)
    if not isinstance(require_hashes, bool):
        raise UsageError(f"{path}: [check] require-hashes must be true or false")
    return CheckConfig(lists["select"], lists["ignore"], application, require_hashes)
