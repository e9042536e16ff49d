"""The repository rules DS001-DS007 (depscan/declared/rules.py), on model objects of every format and on parsed
requirements files."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from depscan.declared.config import CheckConfig, from_table
from depscan.declared.requirements_txt import parse, parse_as
from depscan.declared.rules import RULES, check, is_immutable_url
from depscan.errors import UsageError
from depscan.models import DeclaredFile, DeclaredOption, DeclaredRequirement, PolicyFinding

SHA = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
COMMIT = "6f0f4d1c4b1b9e2c4f0d1b1c2e3f4a5b6c7d8e9f"


def _req(name: str | None, line: int, *, file: str = "pyproject.toml", spec: str = "", pinned: str | None = None,
         source: str = "pyproject", **kw: object) -> DeclaredRequirement:
    req = DeclaredRequirement(file=file, line=line, text=f"{name}{spec}", name=name, specifier=spec, pinned=pinned,
                              source=source)
    return replace(req, **kw) if kw else req


def _rules(findings: tuple[PolicyFinding, ...]) -> list[tuple[str, str, int | None]]:
    return [(f.rule, f.location.path, f.line) for f in findings]


def _check_text(files: dict[str, str], config: CheckConfig | None = None) -> list[tuple[str, str, int | None]]:
    declared = [parse_as(p, t, "constraints") if p.startswith("pins") else parse(p, t) for p, t in files.items()]
    return _rules(check(declared, config).findings)


def test_ds001_unpinned_in_requirements_files() -> None:
    text = "requests\nflask>=1.0\ndjango==4.*\nattrs~=23.1\nsix==1.16.0\nweird===1.0-custom\n"
    assert _check_text({"requirements.txt": text}) == [("DS001", "requirements.txt", n) for n in (1, 2, 3, 4)]


def test_finding_fields() -> None:
    finding = check([parse("requirements.txt", "six\nflask >= 1.0  # web\n")]).findings[1]
    assert finding.rule == "DS001" and finding.level is RULES["DS001"]
    assert (finding.location.path, finding.line, finding.text) == ("requirements.txt", 2, "flask >= 1.0")
    assert finding.component == "pkg:pypi/flask"
    assert "flask is not pinned (>=1.0)" in finding.message
    assert finding.fix is not None and finding.fix.startswith("Pin one exact version (flask==X.Y.Z)")
    # the fingerprint does not depend on the line: a line inserted above does not make the finding new
    moved = check([parse("requirements.txt", "\n\nsix\nflask >= 1.0\n")]).findings[1]
    assert moved.line == 4 and moved.fingerprint == finding.fingerprint


def test_ds001_constraint_pins_count_when_included_with_c() -> None:
    files = {"requirements.txt": "-c pins.txt\nrequests\nflask\n", "pins.txt": "requests==2.31.0\nflask>=2\n"}
    assert sorted(_check_text(files)) == [("DS001", "pins.txt", 2), ("DS001", "requirements.txt", 3)]
    # without the -c line the constraint file pins nothing for it
    files["requirements.txt"] = "requests\nflask\n"
    assert ("DS001", "requirements.txt", 1) in _check_text(files)


def test_ds001_constraints_reach_files_included_with_r() -> None:
    files = {"requirements.txt": "-c pins.txt\n-r base.txt\n", "base.txt": "requests\n", "pins.txt": "requests==2\n"}
    assert _check_text(files) == []


def test_ds001_lock_entries_must_be_exact() -> None:
    lock = DeclaredFile("poetry.lock", "poetry.lock", True, requirements=(
        _req("six", 10, file="poetry.lock", spec="==1.16.0", pinned="1.16.0", source="lock"),
        _req("attrs", 20, file="poetry.lock", spec=">=23", source="lock"),
    ))
    assert _rules(check([lock]).findings) == [("DS001", "poetry.lock", 20)]


def _pyproject(*reqs: DeclaredRequirement) -> DeclaredFile:
    return DeclaredFile("pyproject.toml", "pyproject", False, requirements=reqs)


@pytest.mark.parametrize(("application", "with_lock", "expected"), [
    (None, False, []),  # a library, or nothing says otherwise and nothing is locked: ranges are normal
    (None, True, [("DS001", "pyproject.toml", 8)]),  # a lock exists and misses flask: it is stale
    (False, True, []),  # declared a library
    (True, False, [("DS001", "pyproject.toml", 7), ("DS001", "pyproject.toml", 8)]),
    (True, True, [("DS001", "pyproject.toml", 8)]),
])
def test_ds001_pyproject_ranges(application: bool | None, with_lock: bool,
                                expected: list[tuple[str, str, int]]) -> None:
    files = [_pyproject(_req("requests", 7, spec=">=2"), _req("flask", 8, spec=">=2"),
                        _req("six", 9, spec="==1.16.0", pinned="1.16.0"))]
    if with_lock:
        files.append(DeclaredFile("uv.lock", "uv.lock", True, requirements=(
            _req("requests", 3, file="uv.lock", spec="==2.31.0", pinned="2.31.0", source="lock"),)))
    assert _rules(check(files, CheckConfig(application=application)).findings) == expected


def test_ds001_pip_tools_inputs_need_a_compiled_pin() -> None:
    files = {"requirements.in": "requests\nflask\n", "requirements.txt": "requests==2.31.0\n"}
    assert _check_text(files) == [("DS001", "requirements.in", 2)]


def test_ds002_hash_mode_from_other_lines_of_the_file() -> None:
    text = f"six==1.16.0 --hash=sha256:{SHA}\nattrs==23.1.0\n-e .\nflask==3.0.0 --hash=sha256:{SHA}\n"
    found = check([parse("requirements.txt", text)]).findings
    assert _rules(found) == [("DS002", "requirements.txt", 2), ("DS002", "requirements.txt", 3),
                             ("DS004", "requirements.txt", 3)]
    assert "other requirements of this file have hashes (six, line 1)" in found[0].message


def test_ds002_require_hashes_option_config_and_includes() -> None:
    assert _check_text({"requirements.txt": "--require-hashes\nsix==1.16.0\n"}) == [("DS002", "requirements.txt", 2)]
    assert _check_text({"requirements.txt": "six==1.16.0\n"}, CheckConfig(require_hashes=True)) == [
        ("DS002", "requirements.txt", 1)]
    files = {"requirements.txt": f"-r base.txt\nsix==1.16.0 --hash=sha256:{SHA}\n", "base.txt": "attrs==23.1.0\n"}
    assert _check_text(files) == [("DS002", "base.txt", 1)]
    assert _check_text({"requirements.txt": "six==1.16.0\nattrs==23.1.0\n"}) == []  # no hash anywhere: no mode


def test_ds002_lock_file_entries() -> None:
    lock = DeclaredFile("pdm.lock", "pdm.lock", True, requirements=(
        _req("six", 1, file="pdm.lock", pinned="1.16.0", source="lock", hashes=(f"sha256:{SHA}",)),
        _req("attrs", 2, file="pdm.lock", pinned="23.1.0", source="lock"),
        _req("mine", 3, file="pdm.lock", source="lock", url="git+https://x/y.git@" + COMMIT),
    ))
    assert _rules(check([lock]).findings) == [("DS002", "pdm.lock", 2)]


def test_ds003_mutable_urls() -> None:
    text = (
        f"pip @ git+https://github.com/pypa/pip@{COMMIT}\n"
        "tool @ git+https://github.com/x/tool@main\n"
        "-e git+https://git.example.com/MyProject#egg=MyProject\n"
        f"https://example.com/Foo-1.0.tar.gz#sha256={SHA}\n"
        "https://example.com/Bar-1.0.tar.gz\n"
        f"https://example.com/Baz-1.0.tar.gz --hash=sha256:{SHA}\n"
        "./vendor/attrs-23.1.0-py3-none-any.whl\n"
    )
    found = [(r, n) for r, _p, n in _check_text({"requirements-dev.txt": text}) if r == "DS003"]
    assert found == [("DS003", 2), ("DS003", 3), ("DS003", 5)]


def test_is_immutable_url() -> None:
    assert is_immutable_url(f"git+https://github.com/a/b.git@{COMMIT}#egg=b", ())
    assert is_immutable_url(f"git+https://github.com/a/b.git?rev=main#{COMMIT}", ())  # uv.lock's spelling
    assert not is_immutable_url("git+https://github.com/a/b.git@v1.0", ())
    assert not is_immutable_url(f"git+https://{COMMIT}@github.com/a/b.git", ())  # a token, not a revision
    assert is_immutable_url("https://x/a.whl", (f"sha256:{SHA}",))


def test_ds004_editable_only_in_deployment_files() -> None:
    for path, reported in (("requirements.txt", True), ("requirements/prod.txt", True),
                           ("requirements-dev.txt", False), ("requirements/test.txt", False),
                           ("docs/requirements.txt", False)):
        rules = [r for r, _p, _n in _check_text({path: "-e .\n"})]
        assert ("DS004" in rules) is reported, path


def test_ds005_ds006_options_and_per_line_ignores() -> None:
    text = ("--extra-index-url https://extra.example.com/simple\n--trusted-host extra.example.com\n"
            "--extra-index-url https://ok.example.com/simple  # depscan: ignore[DS005]\n")
    assert _check_text({"requirements.txt": text}) == [("DS005", "requirements.txt", 1),
                                                      ("DS006", "requirements.txt", 2)]


def test_ds007_errors_with_their_line() -> None:
    found = check([parse("requirements.txt", "six==1.16.0\nnot a requirement\n")]).findings
    assert _rules(found) == [("DS007", "requirements.txt", 2)]
    assert found[0].message.startswith("line 2: ") and found[0].fix
    whole = check([DeclaredFile("requirements.txt", "requirements", False, errors=((0, "binary"),))]).findings
    assert _rules(whole) == [("DS007", "requirements.txt", None)]


def test_select_and_ignore() -> None:
    text = "requests\n--trusted-host x\n"
    assert [r for r, _p, _n in _check_text({"requirements.txt": text}, CheckConfig(ignore=("DS001",)))] == ["DS006"]
    assert [r for r, _p, _n in _check_text({"requirements.txt": text}, CheckConfig(select=("DS00",),
                                                                                   ignore=("DS006",)))] == ["DS001"]
    assert _check_text({"requirements.txt": text}, CheckConfig(select=("DS1",))) == []


def test_reported_limits_findings_to_the_named_files() -> None:
    files = [parse("requirements.txt", "-r base.txt\nrequests\n"), parse("base.txt", "flask\n")]
    assert _rules(check(files, reported=["requirements.txt"]).findings) == [("DS001", "requirements.txt", 2)]


def test_environment_references_make_a_note() -> None:
    declared = parse("requirements.txt", "--index-url https://${TOKEN}@pypi.example.com/simple\n")
    outcome = check([declared])
    assert outcome.notes == ("requirements.txt line 1: ${TOKEN} kept as written (depscan does not evaluate "
                             "environment references)",)


def test_options_of_other_formats_are_judged_too() -> None:
    pipfile = DeclaredFile("Pipfile", "Pipfile", False, options=(
        DeclaredOption("Pipfile", 3, "--extra-index-url", "https://x/simple", 'url = "https://x/simple"'),))
    assert _rules(check([pipfile]).findings) == [("DS005", "Pipfile", 3)]


def test_config_table() -> None:
    where = Path(".depscan.toml")
    config = from_table(where, {"select": ["DS0"], "ignore": ["DS006"], "application": True, "require-hashes": True})
    assert config == CheckConfig(("DS0",), ("DS006",), True, True)
    assert config.enabled("DS001") and not config.enabled("DS006") and not config.enabled("DS101")
    for bad in ({"select": "DS001"}, {"application": "yes"}, {"require-hashes": 1}, {"unknown": 1}, {"ignore": [""]}):
        with pytest.raises(UsageError, match=r"\.depscan\.toml"):
            from_table(where, bad)
