"""Declared-dependency parsers for project and lock files (issue 11): pyproject.toml (PEP 621, PEP 735,
Poetry), poetry.lock, uv.lock, pdm.lock, pylock.toml, Pipfile, Pipfile.lock, setup.cfg. The fixtures in
fixtures/declared/ have the shapes the real tools write (see fixtures/README.md)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from depscan.declared import parser_for
from depscan.declared.poetry_constraints import python_marker, to_specifier
from depscan.declared.tomlsource import MAX_LINE, TomlLines
from depscan.models import DeclaredFile, DeclaredRequirement

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "declared"

# fixture file -> the base name its parser is chosen by
FILES = {
    "pyproject.toml": "pyproject.toml",
    "pyproject-poetry.toml": "pyproject.toml",
    "poetry.lock": "poetry.lock",
    "poetry-1.1.lock": "poetry.lock",
    "uv.lock": "uv.lock",
    "pdm.lock": "pdm.lock",
    "pylock.toml": "pylock.toml",
    "pylock.refs.toml": "pylock.refs.toml",
    "Pipfile": "Pipfile",
    "Pipfile.lock": "Pipfile.lock",
    "setup.cfg": "setup.cfg",
}


def parse(fixture: str, text: str | None = None, name: str | None = None) -> DeclaredFile:
    parser = parser_for(name or FILES[fixture])
    assert parser is not None
    return parser(fixture, text if text is not None else (FIXTURES / fixture).read_text(encoding="utf-8"))


def by_name(declared: DeclaredFile) -> dict[str, DeclaredRequirement]:
    return {req.name or "": req for req in declared.requirements}


def row(req: DeclaredRequirement) -> tuple[object, ...]:
    return (req.line, req.name, req.specifier, req.pinned, req.marker, req.url, req.editable, req.group)


# --- the parser table -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("pyproject.toml", "pyproject"),
        ("poetry.lock", "locks"),
        ("uv.lock", "locks"),
        ("pdm.lock", "locks"),
        ("pylock.toml", "locks"),
        ("pylock.lambda.toml", "locks"),
        ("Pipfile", "pipfile"),
        ("Pipfile.lock", "locks"),
        ("setup.cfg", "setup_cfg"),
    ],
)
def test_parser_chosen_by_base_name(name: str, module: str) -> None:
    parser = parser_for(name)
    assert parser is not None and parser.__module__ == f"depscan.declared.{module}"


@pytest.mark.parametrize("name", ["pylock.a.b.toml", "pylock.lock", "mypyproject.toml", "setup.py", "Pipfile.bak"])
def test_files_depscan_does_not_read_have_no_parser(name: str) -> None:
    parser = parser_for(name)
    assert parser is None or parser.__module__ not in {
        f"depscan.declared.{module}" for module in ("pyproject", "locks", "pipfile", "setup_cfg")
    }


# --- every fixture: lines, kinds, the differential check against packaging ----------------------------


@pytest.mark.parametrize("fixture", sorted(FILES))
def test_every_line_is_the_line_that_names_the_package(fixture: str) -> None:
    declared = parse(fixture)
    assert declared.errors == ()
    assert declared.requirements
    lines = (FIXTURES / fixture).read_text(encoding="utf-8").split("\n")
    for req in declared.requirements:
        assert req.line > 0, req
        written = lines[req.line - 1]
        if written.lstrip().startswith("{") and req.source == "pyproject":  # one of several Poetry constraints
            written = next(line for line in reversed(lines[: req.line]) if " = [" in line)
        spellings = {req.name or "", (req.name or "").replace("-", "_")}
        assert any(s in canonicalize_name(written.replace("_", "-")) or s in written.lower() for s in spellings), (
            fixture, req.line, written, req.name)
        assert req.file == fixture


@pytest.mark.parametrize("fixture", sorted(FILES))
def test_packaging_agrees_on_name_specifier_and_marker(fixture: str) -> None:
    """Differential: the requirement each entry stands for, written as PEP 508 and parsed by packaging,
    has the parser's name, specifier and marker (and the text itself is PEP 508 where the format's is)."""
    for req in parse(fixture).requirements:
        pep508 = (req.name or "") + (f"[{','.join(req.extras)}]" if req.extras else "") + req.specifier
        if req.marker:
            pep508 += f"; {req.marker}"
        parsed = Requirement(pep508)
        assert canonicalize_name(parsed.name) == req.name
        assert str(parsed.specifier) == req.specifier
        assert (str(parsed.marker) if parsed.marker else None) == req.marker
        if req.source in ("pyproject", "setup.cfg") and " = " not in req.text:  # a PEP 508 string as written
            own = Requirement(req.text)
            assert (canonicalize_name(own.name), str(own.specifier)) == (req.name, req.specifier)
            assert (str(own.marker) if own.marker else None) == req.marker
            assert own.url == req.url


@pytest.mark.parametrize(
    ("fixture", "kind", "is_lock"),
    [("pyproject.toml", "pyproject", False), ("poetry.lock", "poetry.lock", True), ("uv.lock", "uv.lock", True),
     ("pdm.lock", "pdm.lock", True), ("pylock.toml", "pylock", True), ("Pipfile", "Pipfile", False),
     ("Pipfile.lock", "Pipfile.lock", True), ("setup.cfg", "setup.cfg", False)],
)
def test_kind_and_lock_flag(fixture: str, kind: str, is_lock: bool) -> None:
    declared = parse(fixture)
    assert (declared.kind, declared.is_lock) == (kind, is_lock)
    if is_lock:
        assert {req.source for req in declared.requirements} == {"lock"}


# --- pyproject.toml -----------------------------------------------------------------------------------


def test_pyproject_project_dependencies_extras_and_groups() -> None:
    declared = parse("pyproject.toml")
    rows = [(r.line, r.text, r.group, r.pinned) for r in declared.requirements]
    assert rows == [
        (10, "requests>=2.31", None, None),
        (11, "boto3==1.34.0", None, "1.34.0"),
        (12, 'pyyaml; python_version >= "3.9"', None, None),
        (13, "httpx @ git+https://github.com/encode/httpx.git@0.28.1", None, None),
        (14, "Flask[async]==3.0.0", None, "3.0.0"),
        (18, "s3fs===2024.3.1", "s3", "2024.3.1"),
        (18, "requests>=2.31", "s3", None),
        (21, "pytest==8.0.0", "test", "8.0.0"),
        (22, "ruff>=0.6", "lint", None),
        (23, "ipython", "dev", None),
    ]
    reqs = by_name(declared)
    assert reqs["httpx"].url == "git+https://github.com/encode/httpx.git@0.28.1"
    assert (reqs["flask"].name, reqs["flask"].extras) == ("flask", ("async",))
    assert reqs["pyyaml"].marker == 'python_version >= "3.9"'
    assert {req.source for req in declared.requirements} == {"pyproject"}
    # each requirement once, in the group that writes it; the includes resolved beside
    assert dict(declared.group_includes) == {
        "test": ("test", "lint"), "lint": ("lint",), "dev": ("dev", "test", "lint"),
    }


def test_pyproject_poetry_dependencies_translated_and_kept_as_written() -> None:
    declared = parse("pyproject-poetry.toml")
    assert declared.errors == ()
    rows = [row(r) for r in declared.requirements]
    assert rows == [
        (9, "requests", "<3.0,>=2.31", None, None, None, False, None),
        (10, "boto3", "==1.34.0", "1.34.0", None, None, False, None),
        (11, "flask", "<3.1,>=3.0", None, None, None, False, None),
        (13, "numpy", "<1.25", None, 'python_version < "3.11"', None, False, None),  # each element its line
        (14, "numpy", "<2.0,>=1.26", None, 'python_version >= "3.11"', None, False, None),
        (16, "httpx", "", None, None, "git+https://github.com/encode/httpx.git@0.28.1", False, None),
        (17, "internal-utils", "", None, None, "libs/internal-utils", True, None),
        (18, "pywin32", ">=306", None, 'sys_platform == "win32"', None, False, None),
        (19, "s3fs", "<2025.0,>=2024.3", None, None, None, False, "s3"),  # optional, in extra s3
        (20, "legacy", "", None, None, None, False, None),  # `||`: no PEP 440 equivalent
        (29, "black", "<25.0,>=24.1", None, None, None, False, "dev"),
        (26, "pytest", "", None, None, None, False, "dev"),
    ]
    reqs = by_name(declared)
    assert reqs["requests"].text == 'requests = "^2.31"'
    assert reqs["flask"].text == 'flask = { version = "~3.0", extras = ["async"] }'
    assert reqs["flask"].extras == ("async",)
    assert "python" not in reqs  # the supported Python is not a dependency


def test_pyproject_poetry_dependency_written_as_its_own_table() -> None:
    text = '[tool.poetry.dependencies]\npython = "^3.10"\n\n[tool.poetry.dependencies.requests]\nversion = "2.31.0"\n'
    (req,) = parse("pyproject.toml", text).requirements
    assert (req.line, req.pinned, req.text) == (4, "2.31.0", 'requests = {version = "2.31.0"}')


def test_dependency_groups_unknown_group_and_cycle_reported() -> None:
    text = (
        "[dependency-groups]\n"
        'a = ["x==1", {include-group = "b"}]\n'
        'b = [{include-group = "c"}]\n'
        'c = [{include-group = "A"}, "y"]\n'
        'd = [{include-group = "missing"}, 3]\n'
    )
    declared = parse("pyproject.toml", text)
    assert [(r.name, r.group, r.line) for r in declared.requirements] == [("x", "a", 2), ("y", "c", 4)]
    assert dict(declared.group_includes)["a"] == ("a", "b", "c")
    assert declared.errors == (
        (5, "dependency group 'd' includes 'missing', which is not defined"),
        (5, "3 in dependency group 'd' is neither a requirement string nor {include-group = \"...\"}"),
        (4, "dependency groups include each other: a -> b -> c -> a"),
    )


def test_dependency_group_including_itself() -> None:
    declared = parse("pyproject.toml", '[dependency-groups]\ndev = ["x", {include-group = "dev"}]\n')
    assert declared.errors == ((2, "dependency groups include each other: dev -> dev"),)
    assert [r.name for r in declared.requirements] == ["x"]


def test_repeated_requirement_strings_get_their_own_lines() -> None:
    text = '[project]\ndependencies = [\n  "six",\n  "six",\n]\noptional-dependencies = {a = ["six"], b = ["six"]}\n'
    assert [r.line for r in parse("pyproject.toml", text).requirements] == [3, 4, 6, 6]


@pytest.mark.parametrize(
    ("constraint", "specifier"),
    [
        ("^1.2.3", "<2.0.0,>=1.2.3"), ("^1.2", "<2.0,>=1.2"), ("^1", "<2,>=1"), ("^0.2.3", "<0.3.0,>=0.2.3"),
        ("^0.0.3", "<0.0.4,>=0.0.3"), ("^0.0", "<0.1,>=0.0"), ("^0", "<1,>=0"), ("~1.2.3", "<1.3.0,>=1.2.3"),
        ("~1.2", "<1.3,>=1.2"), ("~1", "<2,>=1"), ("*", ""), ("1.2.*", "==1.2.*"), ("1.2.3", "==1.2.3"),
        ("==1.2", "==1.2"), (">=1,<2", "<2,>=1"), (">= 1.2, < 1.5", "<1.5,>=1.2"), (">=1.2 <2.0", "<2.0,>=1.2"),
        ("~=1.4", "~=1.4"), ("!=1.5", "!=1.5"), ("^1.2.3b1", "<2.0.0,>=1.2.3b1"), ("^1.0 || ^2.0", None),
    ],
)
def test_poetry_constraints(constraint: str, specifier: str | None) -> None:
    assert to_specifier(constraint) == specifier


@pytest.mark.parametrize("constraint", ["^abc", ">>1", "1.2.3.a.b", "^1 || foo", ">=*"])
def test_invalid_poetry_constraints(constraint: str) -> None:
    with pytest.raises(ValueError, match="not a version constraint"):
        to_specifier(constraint)


def test_poetry_python_constraint_as_marker() -> None:
    assert python_marker("^3.8") == 'python_version >= "3.8" and python_version < "4.0"'
    assert python_marker("~2.7 || ^3.4") == (
        '(python_version >= "2.7" and python_version < "2.8") or (python_version >= "3.4" and python_version < "4.0")'
    )
    assert python_marker(">=3.6.1") == 'python_full_version >= "3.6.1"'
    assert python_marker("*") is None


def test_invalid_poetry_constraint_is_an_error_on_its_line() -> None:
    text = '[tool.poetry.dependencies]\nrequests = "^abc"\nboto3 = "1.0"\nflask = 3\n'
    declared = parse("pyproject.toml", text)
    assert declared.errors[0] == (2, "requests: not a version constraint: '^abc'")
    assert declared.errors[1] == (4, "`flask` is a number where a version constraint or a table belongs; ignored")
    assert [r.name for r in declared.requirements] == ["requests", "boto3"]  # kept, with no specifier
    assert declared.requirements[0].specifier == ""


# --- lock files ---------------------------------------------------------------------------------------


def test_poetry_lock() -> None:
    reqs = by_name(parse("poetry.lock"))
    assert row(reqs["boto3"]) == (4, "boto3", "==1.16.33", "1.16.33", None, None, False, "main")
    assert reqs["boto3"].hashes == (
        "sha256:0aba88dadc9ae5d103c6d8de7ac88df67b3b0198da82346993b0c52b7477a5dd",
        "sha256:aaccf2aec5c2dc15c81b3105d00db930fe40fd84114a5cebc33f9948ec0258ee",
    )
    assert reqs["colorama"].marker == 'sys_platform == "win32"'
    assert reqs["django-debug-toolbar"].url == (
        "git+https://github.com/jazzband/django-debug-toolbar.git@9ec7210e8d9bbe40d9f2e1c3b2ea6c28b4b1b1c4")
    assert (reqs["internal-utils"].url, reqs["internal-utils"].editable) == ("libs/internal-utils", True)
    assert (reqs["tomli"].group, reqs["tomli"].marker) == ("main,dev", None)  # markers differ per group
    assert all(req.text == f"{req.name}=={req.pinned}" for req in reqs.values())


def test_poetry_lock_format_1_hashes_from_metadata_files() -> None:
    reqs = by_name(parse("poetry-1.1.lock"))
    assert [(r.line, r.pinned, r.group, len(r.hashes)) for r in reqs.values()] == [
        (2, "2020.12.5", "main", 2), (10, "1.15.0", "dev", 2)]


def test_uv_lock_leaves_the_project_out() -> None:
    declared = parse("uv.lock")
    reqs = by_name(declared)
    assert list(reqs) == ["anyio", "httpx", "idna", "mylib", "sniffio"]  # not "project" (editable ".")
    assert reqs["anyio"].hashes == (
        "sha256:275d9973793619a5374e1c89a4f4ad3f4b0a5510a2b5b939444bee8f4c4d37ce",
        "sha256:eddca883c4175f14df8aedce21054bfca3adb70ffe76a9f607aef9d7fa2ea7f0",
    )
    assert reqs["httpx"].url == "git+https://github.com/encode/httpx@26d48e0634e6ee9cdc0533996db289ce4b430177"
    assert (reqs["mylib"].url, reqs["mylib"].editable) == ("libs/mylib", True)
    assert [r.line for r in declared.requirements] == [6, 19, 27, 36, 58]


def test_uv_lock_virtual_root_and_workspace_members_left_out() -> None:
    text = (
        'version = 1\n\n[manifest]\nmembers = ["app", "lib-a"]\n\n'
        '[[package]]\nname = "app"\nversion = "0.1.0"\nsource = { virtual = "." }\n\n'
        '[[package]]\nname = "lib-a"\nversion = "0.1.0"\nsource = { editable = "packages/lib-a" }\n\n'
        '[[package]]\nname = "six"\nversion = "1.17.0"\nsource = { registry = "https://pypi.org/simple" }\n'
    )
    assert [r.name for r in parse("uv.lock", text).requirements] == ["six"]


def test_pdm_lock() -> None:
    reqs = by_name(parse("pdm.lock"))
    assert row(reqs["attrs"]) == (14, "attrs", "==23.1.0", "23.1.0", None, None, False, "default")
    assert reqs["mypy-extensions"].marker == 'python_version < "3.13"'
    assert reqs["python-mpd2"].url == "git+https://github.com/Mic92/python-mpd2.git@0b0e2b5ab1dc0ccd59d1d6af2cfb1ee5ceb8b7d4"
    assert reqs["typing-extensions"].group == "default,dev"


def test_pylock_example_of_the_specification() -> None:
    reqs = by_name(parse("pylock.toml"))
    assert [(r.line, r.pinned, len(r.hashes)) for r in reqs.values()] == [(7, "25.1.0", 1), (25, "24.1.2", 1),
                                                                           (40, "2.2.3", 2)]
    assert reqs["numpy"].hashes[0] == "sha256:83807d445817326b4bcdaaaf8e8e9f1753da04341eceec705c001ff342002e5d"


def test_pylock_direct_references() -> None:
    reqs = by_name(parse("pylock.refs.toml"))
    assert reqs["httpx"].url == "git+https://github.com/encode/httpx.git@26d48e0634e6ee9cdc0533996db289ce4b430177"
    assert reqs["httpx"].marker == 'python_version >= "3.11"'
    assert (reqs["mylib"].pinned, reqs["mylib"].url, reqs["mylib"].editable) == (None, "libs/mylib", True)
    assert reqs["six"].hashes == ("sha256:4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274",)
    assert len(reqs["idna"].hashes) == 2  # sdist + wheel


def test_pipfile_lock() -> None:
    declared = parse("Pipfile.lock")
    rows = [(r.line, r.name, r.pinned, r.group, len(r.hashes)) for r in declared.requirements]
    assert rows == [
        (19, "boto3", "1.16.33", None, 2),
        (27, "mylib", None, None, 0),
        (31, "requests", "2.25.1", None, 2),
        (42, "sentry-sdk", None, None, 0),
        (48, "importlib-metadata", "3.10.0", "develop", 2),
        (56, "requests", "2.25.1", "develop", 2),
    ]
    reqs = by_name(declared)
    assert (reqs["mylib"].url, reqs["mylib"].editable) == ("./libs/mylib", True)
    assert reqs["sentry-sdk"].url == (
        "git+https://github.com/getsentry/sentry-python.git@0f1fb9e5b9b1fa0d0f5b9f1f2d0c4b8e4c4a3c2d")
    assert reqs["importlib-metadata"].marker == 'python_version < "3.8"'
    assert declared.requirements[2].extras == ("socks",)


# --- Pipfile and setup.cfg ----------------------------------------------------------------------------


def test_pipfile_packages_and_sources() -> None:
    declared = parse("Pipfile")
    assert [(o.line, o.name, o.value) for o in declared.options] == [
        (2, "--index-url", "https://pypi.org/simple"),
        (7, "--extra-index-url", "https://pypi.internal.example.com/simple"),
        (8, "--trusted-host", "pypi.internal.example.com"),
    ]
    assert declared.options[1].text == 'url = "https://pypi.internal.example.com/simple"'
    reqs = by_name(declared)
    assert row(reqs["boto3"]) == (12, "boto3", "==1.16.33", "1.16.33", None, None, False, None)
    assert (reqs["requests"].specifier, reqs["requests"].extras) == (">=2.25", ("socks",))
    assert reqs["flask"].specifier == ""
    assert reqs["sentry-sdk"].url == "git+https://github.com/getsentry/sentry-python.git@0.19.4"
    assert (reqs["mylib"].url, reqs["mylib"].editable) == ("./libs/mylib", True)
    assert reqs["pywin32"].marker == 'sys_platform == "win32"'
    assert reqs["internal-tool"].pinned == "1.0"  # a bare version is an exact pin
    assert (reqs["pytest"].line, reqs["pytest"].group) == (21, "dev-packages")
    assert "python" not in reqs and "python-version" not in reqs  # [requires]


def test_setup_cfg() -> None:
    declared = parse("setup.cfg")
    assert [(r.line, r.text, r.group) for r in declared.requirements] == [
        (9, "requests>=2.31", None),
        (11, "boto3==1.34.0", None),
        (12, 'importlib-metadata; python_version < "3.10"', None),
        (16, "pytest==8.0.0", "test"),
        (17, "s3fs===2024.3.1", "s3"),
    ]


def test_setup_cfg_one_line_value_splits_on_semicolons_as_setuptools_does() -> None:
    declared = parse("setup.cfg", "[options]\ninstall_requires = requests; click==8.0\n")
    assert [(r.line, r.name, r.pinned) for r in declared.requirements] == [(2, "requests", None), (2, "click", "8.0")]


def test_setup_cfg_bad_lines() -> None:
    text = "[options]\ninstall_requires =\n    requests\n    not a requirement!\nthis line is no option\n"
    declared = parse("setup.cfg", text)
    assert [r.name for r in declared.requirements] == ["requests"]
    assert [line for line, _ in declared.errors] == [5, 4]
    assert "not valid INI syntax" in declared.errors[0][1]
    assert parse("setup.cfg", "install_requires = x\n").errors == (
        (1, "not an INI file: a line comes before any [section]"),)


# --- bad input: errors, never an exception ------------------------------------------------------------


@pytest.mark.parametrize("fixture", sorted(FILES))
def test_binary_content_is_one_error(fixture: str) -> None:
    declared = parse(fixture, "abc\n\x00\x01\x02\xff")
    assert declared.requirements == ()
    assert declared.errors == ((2, "binary content (a NUL byte): not a text file"),)


@pytest.mark.parametrize("fixture", sorted(FILES))
def test_a_megabyte_line_is_an_error_and_the_rest_is_read(fixture: str) -> None:
    original = (FIXTURES / fixture).read_text(encoding="utf-8")
    lines = original.split("\n")
    lines.insert(len(lines) - 1, "# " + "x" * 1_000_000)  # a comment line of 1 MB, last but one
    started = time.perf_counter()
    declared = parse(fixture, "\n".join(lines))
    assert time.perf_counter() - started < 2
    assert (len(lines) - 1, f"line is 1,000,002 characters long (limit {MAX_LINE:,}); skipped") in declared.errors
    assert [row(r) for r in declared.requirements] == [row(r) for r in parse(fixture).requirements]


@pytest.mark.parametrize("fixture", sorted(name for name in FILES if name not in ("Pipfile.lock", "setup.cfg")))
def test_invalid_toml_is_an_error_with_its_line_and_the_rest_is_read(fixture: str) -> None:
    original = (FIXTURES / fixture).read_text(encoding="utf-8")
    lines = original.split("\n")
    broken = len(lines) - 2
    lines.insert(broken, "this is = = not toml")
    declared = parse(fixture, "\n".join(lines))
    assert declared.errors[0][0] == broken + 1
    assert declared.errors[0][1].startswith("not valid TOML: ")
    assert len(declared.requirements) == len(parse(fixture).requirements)


def test_unreadable_toml_gives_errors_and_no_requirements() -> None:
    declared = parse("poetry.lock", '[[package]]\nname = "x\nversion = """\n')
    assert declared.requirements == ()
    assert declared.errors and all(reason.startswith("not valid TOML") for _, reason in declared.errors)


@pytest.mark.parametrize(
    ("fixture", "text", "line", "reason"),
    [
        ("pyproject.toml", 'project = "x"\n', 1, "`project` is a string where a table belongs; ignored"),
        ("pyproject.toml", '[project]\ndependencies = "requests"\n', 2,
         "`project.dependencies` is a string where an array belongs; ignored"),
        ("pyproject.toml", "[tool]\npoetry = [1]\n", 2, "`tool.poetry` is an array where a table belongs; ignored"),
        ("pyproject.toml", "[tool]\nuv = 1\npdm = 2\n", 3, "`tool.pdm` is a number where a table belongs; ignored"),
        ("poetry.lock", 'package = "x"\n', 1, "`package` is a string where an array belongs; ignored"),
        ("uv.lock", '[[package]]\nversion = "1"\n', 1, "`package` entry 1 has no name; skipped"),
        ("pdm.lock", "package = [1]\n", 1, "`package` entry 1 is a number, not a table; skipped"),
        ("pylock.toml", '[[packages]]\nname = "a"\nversion = 1\n', 3, "a: version is a number, not a string"),
        ("Pipfile", '[packages]\nrequests = 2\n', 2,
         "`requests` is a number where a version or a table belongs; ignored"),
        ("Pipfile", 'packages = "x"\n', 1, "`packages` is a string where a table of packages belongs; ignored"),
    ],
)
def test_wrong_types_are_errors_on_their_lines(fixture: str, text: str, line: int, reason: str) -> None:
    errors = parse(fixture, text).errors
    assert (line, reason) in errors
    assert len(set(errors)) == len(errors)  # each once


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('{"default": {"six": {"version": "==1.0"},}}', (1, "not valid JSON: Expecting property name")),
        ("[1, 2]", (1, "the document is an array, not an object")),
        ('{\n"default": [1]\n}', (2, "`default` is an array, not an object")),
        ('{\n"default": {\n"six": "==1.0"\n}\n}', (3, "default.six is a string, not an object; skipped")),
        ("[" * 100_000 + "]" * 100_000, None),
    ],
)
def test_bad_pipfile_lock(text: str, error: tuple[int, str] | None) -> None:
    declared = parse("Pipfile.lock", text)
    assert declared.requirements == ()
    if error is None:
        assert declared.errors
    else:
        found = declared.errors
        assert any(line == error[0] and reason.startswith(error[1]) for line, reason in found), found


def test_line_finder_knows_nested_values_and_strings() -> None:
    text = (
        "[[package]]\n"
        'name = "a"\n'
        'description = """\n'
        "[[package]]\n"
        'name = "not-a-package"\n'
        '"""\n'
        "files = [\n"
        '  {name = "x"},\n'
        "  [\n"
        "]]\n"
        "[package.dependencies]\n"
        'b = ">=1"\n'
        "[[package]]\n"
        "'name' = \"c\"\n"
    )
    where = TomlLines(text)
    assert where.line_of(("package", "[0]", "name")) == 2
    assert where.line_of(("package", "[0]", "dependencies", "b")) == 12
    assert where.line_of(("package", "[1]", "name")) == 14
    assert ("package", "[2]") not in where.keys


def test_large_lock_parses_fast() -> None:
    block = (
        '[[package]]\nname = "pkg{n}"\nversion = "1.{n}"\nsource = {{ registry = "https://pypi.org/simple" }}\n'
        'sdist = {{ url = "https://files.example/pkg{n}.tar.gz", hash = "sha256:{h}", size = 1 }}\n'
        'wheels = [\n    {{ url = "https://files.example/pkg{n}.whl", hash = "sha256:{h}", size = 1 }},\n]\n\n'
    )
    text = "version = 1\n\n" + "".join(block.format(n=n, h=f"{n:064x}") for n in range(2000))
    started = time.perf_counter()
    declared = parse("uv.lock", text)
    elapsed = time.perf_counter() - started
    assert len(declared.requirements) == 2000 and declared.requirements[-1].line == 2 + 1999 * 9 + 2
    assert elapsed < 5  # about 0.15 s on the development machine; generous for a loaded CI box


def test_escaped_and_literal_strings_found_on_their_lines() -> None:
    text = (
        "[project]\n"
        'keywords = ["six"]\n'  # another array of the table: not where a requirement is looked for
        "dependencies = [\n"
        "  'attrs>=1',\n"
        '  "pkg\\u002Dx>=1",  # an escape\n'
        '  "six",\n'
        "]\n"
    )
    assert [(r.name, r.line) for r in parse("pyproject.toml", text).requirements] == [
        ("attrs", 4), ("pkg-x", 5), ("six", 6)]


@pytest.mark.parametrize(
    ("fixture", "text"),
    [
        ("pyproject.toml", "[project]\ndependencies = " + "[" * 5000 + "]" * 5000 + "\n"),
        ("uv.lock", "a = " + "{b = " * 3000 + "1" + "}" * 3000 + "\n"),
    ],
)
def test_deeply_nested_toml_is_an_error(fixture: str, text: str) -> None:
    declared = parse(fixture, text)
    assert declared.errors == ((0, "not valid TOML: values nested too deeply"),)
    assert declared.requirements == ()


def test_ignore_comments_on_the_entry_line() -> None:
    text = (
        "[project]\n"
        "dependencies = [\n"
        '  "requests>=2",  # depscan: ignore[ds001, DS002]\n'
        '  "six",  # depscan: ignore\n'
        '  "flask",  # pinned by the lock file\n'
        '  "a # depscan: ignore[DS001]" ,\n'
        "]\n"
    )
    declared = parse("pyproject.toml", text)
    assert [r.ignored for r in declared.requirements] == [("DS001", "DS002"), ("*",), ()]
    assert declared.errors[0][0] == 6  # the string with a "#" is not a requirement, and ignores nothing
    pipfile = parse("Pipfile", '[[source]]\nurl = "https://a.example/simple"  # depscan: ignore[DS005]\n'
                                '[packages]\nsix = "*"  # depscan: ignore[DS001]\n')
    assert pipfile.options[0].ignored == ("DS005",)
    assert pipfile.requirements[0].ignored == ("DS001",)
    lock = parse("uv.lock", '[[package]]\nname = "six"  # depscan: ignore[DS002]\nversion = "1.0"\n')
    assert lock.requirements[0].ignored == ("DS002",)


def test_uv_and_pdm_development_dependencies() -> None:
    text = (
        "[tool.uv]\n"
        'dev-dependencies = ["pytest>=8"]\n'
        "[tool.pdm.dev-dependencies]\n"
        'lint = ["ruff==0.6.0"]\n'
        'local = ["-e file:///${PROJECT_ROOT}/libs/core#egg=core", "-e mylib @ file:///${PROJECT_ROOT}/libs/mylib"]\n'
    )
    declared = parse("pyproject.toml", text)
    assert declared.errors == ()
    assert [(r.line, r.name, r.group, r.editable, r.url) for r in declared.requirements] == [
        (2, "pytest", "dev", False, None),
        (4, "ruff", "lint", False, None),
        (5, "core", "local", True, "file:///${PROJECT_ROOT}/libs/core"),
        (5, "mylib", "local", True, "file:///${PROJECT_ROOT}/libs/mylib"),
    ]


@pytest.mark.parametrize("fixture", sorted(FILES))
def test_mutated_files_never_raise(fixture: str) -> None:
    """Truncations, deletions and insertions of TOML/JSON/INI syntax characters (seeded, so a failure
    repeats): each parse returns a DeclaredFile whose errors are one-line (line, reason) pairs."""
    import random

    original = (FIXTURES / fixture).read_text(encoding="utf-8")
    chance = random.Random(f"declared-{fixture}")
    syntax = ['"', "'", "[", "]", "{", "}", "=", ",", "\n", "#", "\\", '"""', ":", "[[", "\ud800", "\x00"[:0]]
    for _ in range(60):
        cut = chance.randrange(len(original))
        variants = [
            original[:cut],
            original[:cut] + original[cut + 1 :],
            original[:cut] + chance.choice(syntax) + original[cut:],
        ]
        for text in variants:
            declared = parse(fixture, text)
            assert isinstance(declared, DeclaredFile)
            for line, reason in declared.errors:
                assert isinstance(line, int) and line >= 0
                assert reason and "\n" not in reason


def test_poetry_translation_agrees_with_poetry_core() -> None:
    """Differential: for each constraint, every version of a grid is allowed by Poetry's own parser
    (poetry-core, a test dependency) exactly when the translated PEP 440 specifier contains it; the
    `python` constraint's marker evaluates as Poetry's constraint allows."""
    import random

    from packaging.markers import Marker
    from packaging.specifiers import SpecifierSet

    versions = pytest.importorskip("poetry.core.constraints.version", reason="a test dependency: pip install '.[test]'")
    PoetryVersion, parse_constraint = versions.Version, versions.parse_constraint

    grid = [f"{a}.{b}.{c}" for a in range(4) for b in range(4) for c in range(3)] + ["0", "1", "2.1", "10.0.0"]
    chance = random.Random("poetry-constraints")
    constraints = [
        "^1.2.3", "^1.2", "^1", "^0.2.1", "^0.0.1", "^0.0", "^0", "~1.2.1", "~1.2", "~1", "*", "1.2.*", "1.*",
        "1.2.1", "==1.2", ">=1,<2", ">= 1.2, < 2.1", ">=1.1 <3.0", "~=1.1", "!=1.2.0", ">0.3", "<=2.1.1",
    ]
    for _ in range(100):
        operator = chance.choice(["^", "~", ">=", "<", "==", "!=", "~=", ""])
        version = ".".join(str(chance.randrange(4)) for _ in range(chance.randint(1 if operator != "~=" else 2, 3)))
        constraints.append(operator + version)
    for constraint in constraints:
        specifier = SpecifierSet(to_specifier(constraint) or "")
        poetry = parse_constraint(constraint)
        for version in grid:
            assert poetry.allows(PoetryVersion.parse(version)) == specifier.contains(version), (constraint, version)
    for constraint in ["^3.8", "~3.9", ">=3.7,<3.11", "~2.7 || ^3.4", ">=3.6.1", "3.10.*", "!=3.9.*"]:
        marker = python_marker(constraint)
        assert marker is not None
        poetry = parse_constraint(constraint)
        for python in ["2.7.18", "3.4.0", "3.6.0", "3.6.2", "3.7.1", "3.8.0", "3.9.5", "3.10.0", "3.12.1", "4.0.0"]:
            environment = {"python_version": ".".join(python.split(".")[:2]), "python_full_version": python}
            assert Marker(marker).evaluate(environment) == poetry.allows(PoetryVersion.parse(python)), (
                constraint, python)


def test_dependency_groups_agree_with_the_pep_735_reference_implementation() -> None:
    """Differential: pypa's ``dependency-groups`` (a test dependency) resolves each group to the same
    requirement strings as the groups ``group_includes`` names; it raises on exactly the cyclic groups
    we report."""
    import random

    dependency_groups = pytest.importorskip("dependency_groups", reason="test dependency: pip install -e '.[test]'")
    chance = random.Random("pep735")
    for _ in range(200):
        names = [f"g{i}" for i in range(chance.randint(1, 6))]
        table: dict[str, list[object]] = {}
        for name in names:
            entries: list[object] = []
            for _ in range(chance.randint(0, 4)):
                if chance.random() < 0.4:
                    entries.append({"include-group": chance.choice(names).upper()})  # names compare normalized
                else:
                    entries.append(f"pkg{chance.randrange(5)}>={chance.randrange(3)}")
            table[name] = entries
        text = "[dependency-groups]\n" + "".join(
            f"{name} = [" + ", ".join(
                f'{{include-group = "{e["include-group"]}"}}' if isinstance(e, dict) else f'"{e}"' for e in entries
            ) + "]\n"
            for name, entries in table.items()
        )
        declared = parse("pyproject.toml", text)
        includes = dict(declared.group_includes)
        cyclic = {reason for _, reason in declared.errors if "include each other" in reason}
        for name in names:
            try:
                expected = dependency_groups.resolve(table, name)
            except dependency_groups.CyclicDependencyError:
                assert cyclic, (text, name)  # a cycle reachable from this group was reported
                continue
            ours = [r.text for r in declared.requirements if r.group in includes[name]]
            assert set(ours) == set(expected), (text, name)  # the reference repeats a group included twice


@pytest.mark.parametrize("fixture", ["pylock.toml", "pylock.refs.toml"])
def test_pylock_agrees_with_packaging_pylock(fixture: str) -> None:
    """Differential: packaging's own PEP 751 reader (``packaging.pylock``, packaging >= 25.1) validates the
    fixture and finds the same packages, versions, markers, hashes and VCS commits."""
    pylock = pytest.importorskip("packaging.pylock", reason="packaging.pylock is in packaging >= 25.1")
    import tomllib

    reference = pylock.Pylock.from_dict(tomllib.loads((FIXTURES / fixture).read_text(encoding="utf-8")))
    ours = parse(fixture).requirements
    assert [(r.name, r.pinned, r.marker) for r in ours] == [
        (str(p.name), str(p.version) if p.version else None, str(p.marker) if p.marker else None)
        for p in reference.packages
    ]
    for req, package in zip(ours, reference.packages, strict=True):
        files = [package.archive, package.sdist, *(package.wheels or ())]
        expected = {f"{algorithm}:{digest}" for file in files if file for algorithm, digest in file.hashes.items()}
        assert set(req.hashes) == expected
        if package.vcs is not None:
            assert req.url is not None and req.url.endswith(f"@{package.vcs.commit_id}")
        if package.directory is not None:
            assert (req.url, req.editable) == (package.directory.path, bool(package.directory.editable))


@pytest.mark.parametrize("name", ["pylock.toml", "pylock.dev.toml", "pylock..toml", "pylock.a.b.toml", "Pylock.toml"])
def test_pylock_names_as_packaging_judges_them(name: str) -> None:
    pylock = pytest.importorskip("packaging.pylock", reason="packaging.pylock is in packaging >= 25.1")
    parser = parser_for(name)
    ours = parser is not None and parser.__name__ == "parse_pylock"
    assert ours == pylock.is_valid_pylock_path(Path(name))


def test_pyproject_package_indexes_as_pip_options() -> None:
    text = (
        "[[tool.poetry.source]]\n"
        'name = "internal"\n'
        'url = "https://pypi.internal.example/simple"\n'
        'priority = "primary"\n'
        "[[tool.poetry.source]]\n"
        'name = "extra"\n'
        'url = "https://extra.example/simple"\n'
        'priority = "supplemental"\n'
        "[[tool.poetry.source]]\n"
        'name = "torch"\n'
        'url = "https://download.pytorch.org/whl/cpu"\n'
        'priority = "explicit"\n'
        "[[tool.uv.index]]\n"
        'url = "https://uv-extra.example/simple"  # depscan: ignore[DS005]\n'
        "[[tool.uv.index]]\n"
        'url = "https://uv-default.example/simple"\n'
        "default = true\n"
        "[[tool.pdm.source]]\n"
        'name = "private"\n'
        'url = "https://user:token@pdm.example/simple"\n'
        "verify_ssl = false\n"
    )
    declared = parse("pyproject.toml", text)
    assert declared.errors == ()
    assert [(o.line, o.name, o.value, o.ignored) for o in declared.options] == [
        (3, "--index-url", "https://pypi.internal.example/simple", ()),
        (7, "--extra-index-url", "https://extra.example/simple", ()),
        (14, "--extra-index-url", "https://uv-extra.example/simple", ("DS005",)),
        (16, "--index-url", "https://uv-default.example/simple", ()),
        (20, "--extra-index-url", "https://user:token@pdm.example/simple", ()),
        (21, "--trusted-host", "pdm.example", ()),
    ]
    assert declared.options[0].text == 'url = "https://pypi.internal.example/simple"'
