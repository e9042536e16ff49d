"""``Pipfile`` (pipenv): ``[packages]`` (group None), ``[dev-packages]`` and pipenv's other package
categories (group = the section), each entry ``"*"``, a PEP 440 specifier (a bare version is ``==``), or
a table with ``version``, ``extras``, ``markers`` and marker keys (``sys_platform = "== 'linux'"``),
``git`` + ``ref``, ``path`` / ``file``, ``editable``. ``[[source]]`` entries become the options pip would
be given: the first ``--index-url``, the others ``--extra-index-url``, and ``verify_ssl = false``
``--trusted-host`` (pipenv passes exactly that), so the index rules judge a Pipfile like a requirements file.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from packaging.version import InvalidVersion, Version

from depscan.declared.tomlsource import TomlFile, describe, inline, requirement
from depscan.models import DeclaredFile, DeclaredOption, DeclaredRequirement

SOURCE = "pipfile"
NOT_PACKAGES = frozenset({"source", "requires", "scripts", "pipenv"})
MARKER_KEYS = (
    "os_name", "sys_platform", "platform_machine", "platform_python_implementation", "platform_release",
    "platform_system", "platform_version", "python_version", "python_full_version", "implementation_name",
    "implementation_version",
)


def parse(path: str, text: str) -> DeclaredFile:
    doc = TomlFile(path, text)
    found: list[DeclaredRequirement] = []
    options: list[DeclaredOption] = []
    if doc.data is not None:
        options = _sources(doc)
        for section, value in doc.data.items():
            if section in NOT_PACKAGES:
                continue
            table = doc.typed(value, (section,), dict, "a table of packages")
            group = None if section == "packages" else section
            for name, spec in (table or {}).items():
                _entry(doc, (section, name), name, spec, group, found)
    return DeclaredFile(
        path=path, kind="Pipfile", is_lock=False, requirements=tuple(found), options=tuple(options),
        errors=tuple(doc.errors),
    )


def _sources(doc: TomlFile) -> list[DeclaredOption]:
    options: list[DeclaredOption] = []
    assert doc.data is not None
    for index, source in enumerate(doc.array(doc.data, ("source",)) or ()):
        path = ("source", f"[{index}]")
        if not isinstance(source, dict) or not isinstance(source.get("url"), str):
            doc.error(doc.where.line_of(path), f"[[source]] entry {index + 1} has no url; ignored")
            continue
        url = source["url"]
        line = doc.where.line_of((*path, "url"))
        name = "--index-url" if index == 0 else "--extra-index-url"
        options.append(DeclaredOption(
            file=doc.path, line=line, name=name, value=url, text=doc.where.text_at(line),
            ignored=doc.where.ignored(line),
        ))
        if source.get("verify_ssl") is False:
            try:
                host = urlsplit(url).hostname or url
            except ValueError:  # not a URL urllib can split ("http://[::1/"): the value as written
                host = url
            ssl_line = doc.where.line_of((*path, "verify_ssl"))
            options.append(DeclaredOption(
                file=doc.path, line=ssl_line, name="--trusted-host", value=host, text=doc.where.text_at(ssl_line),
                ignored=doc.where.ignored(ssl_line),
            ))
    return options


def _specifier(value: str) -> str:
    """A Pipfile version: ``*`` is any, a bare version is an exact pin, anything else is PEP 440."""
    value = value.strip()
    if value in ("", "*"):
        return ""
    try:
        Version(value)
    except InvalidVersion:
        return value
    return f"=={value}"


def _entry(
    doc: TomlFile, path: tuple[str, ...], name: str, spec: object, group: str | None, found: list[DeclaredRequirement]
) -> None:
    line = doc.where.line_of(path)
    text = doc.where.text_at(line) if doc.where.is_assignment(line, name) else f"{name} = {inline(spec)}"
    if isinstance(spec, str):
        options: dict[str, Any] = {"version": spec}
    elif isinstance(spec, dict):
        options = spec
    else:
        doc.error(line, f"`{name}` is {describe(spec)} where a version or a table belongs; ignored")
        return
    version = options.get("version")
    specifier = _specifier(version) if isinstance(version, str) else ""
    markers = [options["markers"]] if isinstance(options.get("markers"), str) else []
    markers += [f"{key} {options[key]}" for key in MARKER_KEYS if isinstance(options.get(key), str)]
    marker = markers[0] if len(markers) == 1 else " and ".join(f"({m})" for m in markers)
    extras = [extra for extra in options.get("extras") or () if isinstance(extra, str)]
    url = None
    if isinstance(options.get("git"), str):
        git = options["git"]
        url = git if git.startswith("git+") else f"git+{git}"
        if isinstance(options.get("ref"), str):
            url += f"@{options['ref']}"
        if isinstance(options.get("subdirectory"), str):
            url += f"#subdirectory={options['subdirectory']}"
    else:
        for key in ("path", "file"):
            if isinstance(options.get(key), str):
                url = options[key]
                break
    pep508 = name + (f"[{','.join(extras)}]" if extras else "") + specifier + (f"; {marker}" if marker else "")
    made, why = requirement(
        doc.path, line, text, pep508, source=SOURCE, group=group, url=url, editable=options.get("editable") is True,
        ignored=doc.where.ignored(line),
    )
    if made is None:
        doc.error(line, f"{text!r} is not a valid dependency: {why}")
    else:
        found.append(made)
