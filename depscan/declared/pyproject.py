"""``pyproject.toml``: ``[project] dependencies`` and ``optional-dependencies`` (group = the extra),
``[dependency-groups]`` (PEP 735: each requirement once, in the group that writes it; ``{include-group
= "..."}`` resolved into ``DeclaredFile.group_includes``, unknown groups and cycles reported), and
``[tool.poetry]`` (``dependencies``, ``dev-dependencies`` as group "dev", ``group.<g>.dependencies``;
Poetry's constraints translated to PEP 440 where exact, the text kept as written, ``python`` skipped:
it is not a dependency). Nothing is built and no backend runs.
"""

from __future__ import annotations

import re
from typing import Any

from packaging.utils import canonicalize_name

from depscan.declared.tomlsource import TomlFile, describe, inline, requirement
from depscan.models import DeclaredFile, DeclaredOption, DeclaredRequirement

SOURCE = "pyproject"
MAX_GROUPS = 256  # dependency groups whose includes are resolved (real projects have a handful)


def parse(path: str, text: str) -> DeclaredFile:
    doc = TomlFile(path, text)
    found: list[DeclaredRequirement] = []
    includes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    options: list[DeclaredOption] = []
    if doc.data is not None:
        project = doc.table(doc.data, ("project",))
        _strings(doc, project, ("project", "dependencies"), None, found)
        optional = doc.table(project, ("project", "optional-dependencies"))
        for extra in optional or {}:
            _strings(doc, optional, ("project", "optional-dependencies", extra), extra, found)
        includes = _dependency_groups(doc, found)
        tool = doc.table(doc.data, ("tool",))
        _poetry(doc, doc.table(tool, ("tool", "poetry")), found)
        # the development dependencies uv and PDM took before PEP 735
        uv = doc.table(tool, ("tool", "uv"))
        _strings(doc, uv, ("tool", "uv", "dev-dependencies"), "dev", found)
        pdm = doc.table(tool, ("tool", "pdm"))
        pdm_groups = doc.table(pdm, ("tool", "pdm", "dev-dependencies"))
        for group in pdm_groups or {}:
            _strings(doc, pdm_groups, ("tool", "pdm", "dev-dependencies", group), group, found)
        options = _index_options(doc, tool)
    return DeclaredFile(
        path=path,
        kind="pyproject",
        is_lock=False,
        requirements=tuple(found),
        options=tuple(options),
        errors=tuple(doc.errors),
        group_includes=includes,
    )


def _index_options(doc: TomlFile, tool: dict[str, Any] | None) -> list[DeclaredOption]:
    """The package indexes a pyproject.toml configures, as the pip options they stand for, so the index
    rules judge them as in a requirements file: Poetry's ``[[tool.poetry.source]]`` (the first
    ``primary``/``default`` source replaces PyPI: ``--index-url``; other primary, ``supplemental`` and
    ``secondary`` ones are searched too: ``--extra-index-url``; ``explicit`` ones serve only the packages
    that name them: not an index), uv's ``[[tool.uv.index]]`` (``default = true``: ``--index-url``,
    ``explicit = true``: none, others ``--extra-index-url``, as uv's own mapping of pip's options),
    PDM's ``[[tool.pdm.source]]`` (the one named ``pypi`` replaces PyPI, ``type = "find_links"`` is
    ``--find-links``, ``verify_ssl = false`` adds ``--trusted-host``)."""
    options: list[DeclaredOption] = []

    def add(path: tuple[str, ...], name: str, value: str, key: str = "url") -> None:
        line = doc.where.line_of((*path, key))
        options.append(DeclaredOption(file=doc.path, line=line, name=name, value=value,
                                      text=doc.where.text_at(line), ignored=doc.where.ignored(line)))

    def sources(path: tuple[str, ...], parent: dict[str, Any] | None) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
        found = []
        for index, entry in enumerate(doc.array(parent, path) or ()):
            where = (*path, f"[{index}]")
            if isinstance(entry, dict) and isinstance(entry.get("url"), str):
                found.append((where, entry))
            elif not (isinstance(entry, dict) and entry.get("priority") == "explicit"):
                doc.error(doc.where.line_of(where), f"`{'.'.join(path)}` entry {index + 1} has no url; ignored")
        return found

    poetry = doc.table(tool, ("tool", "poetry"))
    primary_seen = False
    for where, source in sources(("tool", "poetry", "source"), poetry):
        priority = source.get("priority") or ("primary" if source.get("default") is True else
                                              "supplemental" if source.get("secondary") is True else "primary")
        if priority == "explicit":
            continue
        if priority in ("primary", "default") and not primary_seen:
            primary_seen = True
            add(where, "--index-url", source["url"])
        else:
            add(where, "--extra-index-url", source["url"])
    uv = doc.table(tool, ("tool", "uv"))
    for where, index in sources(("tool", "uv", "index"), uv):
        if index.get("explicit") is True:
            continue
        add(where, "--index-url" if index.get("default") is True else "--extra-index-url", index["url"])
    pdm = doc.table(tool, ("tool", "pdm"))
    for where, source in sources(("tool", "pdm", "source"), pdm):
        if source.get("type") == "find_links":
            add(where, "--find-links", source["url"])
        else:
            add(where, "--index-url" if source.get("name") == "pypi" else "--extra-index-url", source["url"])
        if source.get("verify_ssl") is False:
            host = re.sub(r"^[a-z+]+://(?:[^@/]*@)?([^/:]+).*$", r"\1", source["url"])
            add(where, "--trusted-host", host, "verify_ssl")
    return options


def _add(doc: TomlFile, found: list[DeclaredRequirement], line: int, value: str, group: str | None) -> None:
    if value.startswith(("-e ", "--editable ")):  # PDM's editable development dependencies
        _add_editable(doc, found, line, value, group)
        return
    made, why = requirement(doc.path, line, value, value, source=SOURCE, group=group, ignored=doc.where.ignored(line))
    if made is None:
        doc.error(line, f"{value!r} is not a valid requirement: {why}")
    else:
        found.append(made)


def _add_editable(doc: TomlFile, found: list[DeclaredRequirement], line: int, value: str, group: str | None) -> None:
    """``-e name @ URL`` or ``-e URL#egg=name`` (``file:///${PROJECT_ROOT}/lib``, ``git+https://...``)."""
    target = value.split(None, 1)[1].strip() if len(value.split(None, 1)) == 2 else ""
    made, _ = requirement(doc.path, line, value, target, source=SOURCE, group=group, editable=True,
                          ignored=doc.where.ignored(line))
    if made is None and target:
        egg = re.search(r"[#&]egg=([A-Za-z0-9._-]+)", target)
        name = canonicalize_name(egg[1]) if egg else None
        made = DeclaredRequirement(file=doc.path, line=line, text=value, name=name, url=target.split("#egg=")[0],
                                   editable=True, source=SOURCE, group=group, ignored=doc.where.ignored(line))
    if made is None:
        doc.error(line, f"{value!r} is not a valid editable requirement")
    else:
        found.append(made)


def _strings(
    doc: TomlFile,
    parent: dict[str, Any] | None,
    path: tuple[str, ...],
    group: str | None,
    found: list[DeclaredRequirement],
) -> None:
    """An array of PEP 508 strings (``dependencies``, one extra)."""
    for item in doc.array(parent, path) or ():
        if isinstance(item, str):
            _add(doc, found, doc.where.string_line(path, item), item, group)
        else:
            doc.error(doc.where.line_of(path), f"{describe(item)} in `{'.'.join(path)}` is not a requirement string")


def _dependency_groups(doc: TomlFile, found: list[DeclaredRequirement]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    assert doc.data is not None
    groups = doc.table(doc.data, ("dependency-groups",))
    if not groups:
        return ()
    by_name = {canonicalize_name(name): name for name in groups}
    edges: dict[str, list[tuple[str, int]]] = {}
    for group in groups:
        path = ("dependency-groups", group)
        edges[group] = []
        for item in doc.array(groups, path) or ():
            if isinstance(item, str):
                _add(doc, found, doc.where.string_line(path, item), item, group)
                continue
            target = item.get("include-group") if isinstance(item, dict) and len(item) == 1 else None
            if not isinstance(target, str):
                doc.error(doc.where.line_of(path), f"{inline(item)} in dependency group {group!r} is neither a "
                          "requirement string nor {include-group = \"...\"}")
                continue
            line = doc.where.string_line(path, target)
            included = by_name.get(canonicalize_name(target))
            if included is None:
                doc.error(line, f"dependency group {group!r} includes {target!r}, which is not defined")
            else:
                edges[group].append((included, line))
    _report_cycles(doc, edges)
    if len(groups) > MAX_GROUPS:  # the resolution lists every group's closure: quadratic in the groups
        doc.error(doc.where.line_of(("dependency-groups",)),
                  f"{len(groups):,} dependency groups; includes resolved for the first {MAX_GROUPS} only")
    resolved: list[tuple[str, tuple[str, ...]]] = []
    for group in list(groups)[:MAX_GROUPS]:  # what each group installs: itself, then its includes, breadth first
        members, seen = [group], {group}
        for member in members:
            for included, _ in edges[member]:
                if included not in seen:
                    seen.add(included)
                    members.append(included)
        resolved.append((group, tuple(members)))
    return tuple(resolved)


def _report_cycles(doc: TomlFile, edges: dict[str, list[tuple[str, int]]]) -> None:
    """One error per cycle of includes (PEP 735: tools must reject them), at the include closing it."""
    state: dict[str, bool] = {}  # False: on the current path, True: finished
    reported: set[frozenset[str]] = set()
    for root in edges:  # depth first, without recursion: a file may chain thousands of groups
        if root in state:
            continue
        path, pending = [root], [iter(edges[root])]
        state[root] = False
        while pending:
            step = next(pending[-1], None)
            if step is None:
                state[path.pop()] = True
                pending.pop()
                continue
            included, line = step
            if included not in state:
                state[included] = False
                path.append(included)
                pending.append(iter(edges[included]))
            elif state[included] is False:
                cycle = [*path[path.index(included):], included]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    shown = cycle if len(cycle) <= 6 else [*cycle[:3], f"... ({len(cycle) - 5} more)", *cycle[-2:]]
                    doc.error(line, "dependency groups include each other: " + " -> ".join(shown))


def _poetry(doc: TomlFile, poetry: dict[str, Any] | None, found: list[DeclaredRequirement]) -> None:
    if poetry is None:
        return
    base = ("tool", "poetry")
    extra_of: dict[str, str] = {}
    extras = doc.table(poetry, (*base, "extras"))
    for extra, names in (extras or {}).items():
        for name in names if isinstance(names, list) else ():
            if isinstance(name, str):
                extra_of.setdefault(canonicalize_name(name), extra)
    _poetry_table(doc, poetry, (*base, "dependencies"), None, extra_of, found)
    _poetry_table(doc, poetry, (*base, "dev-dependencies"), "dev", extra_of, found)
    groups = doc.table(poetry, (*base, "group"))
    for group in groups or {}:
        table = doc.table(groups, (*base, "group", group))
        _poetry_table(doc, table, (*base, "group", group, "dependencies"), group, extra_of, found)


def _poetry_table(
    doc: TomlFile,
    parent: dict[str, Any] | None,
    path: tuple[str, ...],
    group: str | None,
    extra_of: dict[str, str],
    found: list[DeclaredRequirement],
) -> None:
    for name, spec in (doc.table(parent, path) or {}).items():
        if name.lower() == "python":
            continue  # the Python the project supports, not a dependency
        # several constraints for one dependency (one per Python or platform) are an array of tables
        if isinstance(spec, list):
            lines = doc.where.element_lines((*path, name))
            for index, entry in enumerate(spec):
                line = lines[index] if index < len(lines) else doc.where.line_of((*path, name))
                _poetry_entry(doc, (*path, name), name, entry, line, group, extra_of, found)
        else:
            _poetry_entry(doc, (*path, name), name, spec, None, group, extra_of, found)


def _poetry_entry(
    doc: TomlFile,
    path: tuple[str, ...],
    name: str,
    spec: object,
    element_line: int | None,
    group: str | None,
    extra_of: dict[str, str],
    found: list[DeclaredRequirement],
) -> None:
    # imported only for a file with [tool.poetry] (a pre-commit run imports what its files need)
    from depscan.declared.poetry_constraints import python_marker, to_specifier

    line = doc.where.line_of(path) if element_line is None else element_line  # an array element: its own line
    own_line = element_line is None and doc.where.is_assignment(line, name)
    text = doc.where.text_at(line) if own_line else f"{name} = {inline(spec)}"
    if isinstance(spec, str):
        options: dict[str, Any] = {"version": spec}
    elif isinstance(spec, dict):
        options = spec
    else:
        doc.error(line, f"`{name}` is {describe(spec)} where a version constraint or a table belongs; ignored")
        return
    specifier = ""
    constraint = options.get("version")
    if isinstance(constraint, str):
        try:
            specifier = to_specifier(constraint) or ""  # None: `||`, which PEP 440 cannot say
        except ValueError as exc:
            doc.error(line, f"{name}: {exc}")
    markers: list[str] = []
    if isinstance(options.get("markers"), str):
        markers.append(options["markers"])
    if isinstance(options.get("python"), str):
        try:
            python = python_marker(options["python"])
        except ValueError as exc:
            doc.error(line, f"{name}: python {exc}")
            python = None
        if python:
            markers.append(python)
    if isinstance(options.get("platform"), str):
        markers.append(f'sys_platform == "{options["platform"]}"')
    marker = markers[0] if len(markers) == 1 else " and ".join(f"({m})" for m in markers)
    extras = [extra for extra in options.get("extras") or () if isinstance(extra, str)]
    url, editable = _poetry_url(options)
    pep508 = name + (f"[{','.join(extras)}]" if extras else "") + specifier + (f"; {marker}" if marker else "")
    if group is None and options.get("optional") is True:
        group = extra_of.get(canonicalize_name(name))
    made, why = requirement(
        doc.path, line, text, pep508, source=SOURCE, group=group, url=url, editable=editable,
        ignored=doc.where.ignored(line),
    )
    if made is None:
        doc.error(line, f"{text!r} is not a valid dependency: {why}")
    else:
        found.append(made)


def _poetry_url(options: dict[str, Any]) -> tuple[str | None, bool]:
    """The direct reference of a Poetry dependency table (git, path, url) in pip's spelling, and whether
    it is installed in develop (editable) mode."""
    git = options.get("git")
    if isinstance(git, str):
        url = git if git.startswith("git+") else f"git+{git}"
        for key in ("rev", "tag", "branch"):
            if isinstance(options.get(key), str):
                url += f"@{options[key]}"
                break
        if isinstance(options.get("subdirectory"), str):
            url += f"#subdirectory={options['subdirectory']}"
        return url, options.get("develop") is True
    for key in ("path", "url", "file"):
        if isinstance(options.get(key), str):
            return options[key], key == "path" and options.get("develop") is True
    return None, False
