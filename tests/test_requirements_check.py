"""Requirement conflicts of the installed set (``requirements_check``): missing requirements and version
conflicts of the copies the runtime imports, markers for the target runtime, extras followed, and the
conflicts a Lambda layer creates. Components are built directly, or scanned from generated zips."""

from __future__ import annotations

from pathlib import Path

from builders import dist, write_zip

from depscan.config import ScanConfig
from depscan.models import Level, Location, PolicyFinding, PythonDist, Status, TargetRuntime
from depscan.policy import failing_policy
from depscan.requirements_check import CONFLICT, MISSING, check, marker_environment
from depscan.scan import run
from tests.helpers import cli, make_dist

PY312 = TargetRuntime(python="3.12", machine="x86_64")
UNKNOWN_PYTHON = TargetRuntime(python=None, machine="x86_64")
SITE = "opt/python/lib/python3.12/site-packages"


def d(name: str, version: str, *requires: str, root: str = SITE, **fields: object) -> PythonDist:
    folder = name.replace("-", "_")
    return make_dist(name, version, f"{root}/{folder}-{version}.dist-info/METADATA", site_root=root,
                     requires_dist=requires, **fields)


def rules(findings: tuple[PolicyFinding, ...]) -> list[tuple[str, str, str | None]]:
    return sorted((f.rule, f.component or "", f.about) for f in findings)


def test_missing_requirement_quotes_the_metadata_line() -> None:
    app = d("app", "1.0", "requests>=2.0", "idna")
    findings, notes = check([app, d("idna", "3.7")], PY312)
    assert rules(findings) == [(MISSING, "pkg:pypi/app@1.0", "requests")]
    (finding,) = findings
    assert finding.level is Level.MEDIUM
    assert finding.location == app.metadata_location
    assert "'Requires-Dist: requests>=2.0'" in finding.message
    assert "not installed" in finding.message
    assert notes == ()


def test_version_conflict_and_satisfied_requirements() -> None:
    app = d("app", "1.0", "urllib3<2,>=1.21.1", "idna (>=2.5)", "Charset_Normalizer~=3.0")
    installed = [app, d("urllib3", "2.2.1"), d("idna", "3.7"), d("charset-normalizer", "3.3.2")]
    findings, _ = check(installed, PY312)
    assert rules(findings) == [(CONFLICT, "pkg:pypi/app@1.0", "urllib3")]
    message = findings[0].message
    assert "urllib3<2,>=1.21.1" in message and "urllib3 2.2.1" in message
    assert f"{SITE}/urllib3-2.2.1.dist-info/METADATA" in message


def test_prereleases_as_pip_check_treats_them() -> None:
    # pip check: SpecifierSet.contains(version, prereleases=True)
    ok = check([d("app", "1.0", "lib>=1.0"), d("lib", "2.0rc1")], PY312)[0]
    assert ok == ()
    below = check([d("app", "1.0", "lib>=2.0"), d("lib", "2.0rc1")], PY312)[0]
    assert rules(below) == [(CONFLICT, "pkg:pypi/app@1.0", "lib")]


def test_markers_that_exclude_for_the_target() -> None:
    app = d("app", "1.0", 'pywin32>=300; sys_platform == "win32"', 'tomli; python_version < "3.11"',
            'greenlet; platform_machine == "ppc64le"', 'importlib-metadata; python_full_version < "3.8.0"')
    assert check([app], PY312) == ((), ())
    # the same under Python 3.10 needs tomli
    findings, _ = check([app], TargetRuntime(python="3.10", machine="x86_64"))
    assert rules(findings) == [(MISSING, "pkg:pypi/app@1.0", "tomli")]


def test_marker_on_an_unknown_python_is_not_judged_and_a_note_says_so() -> None:
    app = d("app", "1.0", 'tomli; python_version < "3.11"', "missing-one",
            'typing-extensions; python_version < "3.8" and extra == "dev"')
    findings, notes = check([app], UNKNOWN_PYTHON)
    assert rules(findings) == [(MISSING, "pkg:pypi/app@1.0", "missing-one")]  # the dev extra: false anyway
    (note,) = notes
    assert "1 requirement(s) not judged" in note and "the Python version (unknown: give --runtime)" in note


def test_unknown_machine_and_patch_release() -> None:
    app = d("app", "1.0", 'greenlet; platform_machine == "x86_64"', 'backport; python_full_version < "3.12.4"')
    findings, notes = check([app], TargetRuntime(python="3.12", machine=None))
    assert findings == ()
    assert "2 requirement(s) not judged" in notes[0]
    assert "the machine (unknown: give --arch)" in notes[0] and "patch release of Python 3.12" in notes[0]
    env, unknown = marker_environment(TargetRuntime(python="3.11", machine="aarch64"))
    assert env["python_full_version"] == "3.11.0" and env["platform_machine"] == "aarch64"
    assert unknown == {"platform_release", "platform_version"}


def test_extras_are_followed() -> None:
    app = d("app", "1.0", "requests[socks]>=2")
    requests = d("requests", "2.32.0", 'PySocks!=1.5.7,>=1.5.6; extra == "socks"', 'chardet<6; extra == "use-chardet"')
    findings, _ = check([app, requests], PY312)
    assert rules(findings) == [(MISSING, "pkg:pypi/requests@2.32.0", "pysocks")]  # chardet: nobody asked
    findings, _ = check([d("app", "1.0", "requests>=2"), requests], PY312)
    assert findings == ()
    # an extra asked through an extra (app -> a[x] -> b[y] -> c)
    chain = [d("app", "1.0", "a[x]"), d("a", "1", 'b[y]; extra == "x"'), d("b", "1", 'c>=2; extra == "y"'),
             d("c", "1.5")]
    assert rules(check(chain, PY312)[0]) == [(CONFLICT, "pkg:pypi/b@1", "c")]


def test_a_distribution_requiring_its_own_extra() -> None:
    findings, _ = check([d("tool", "2.0", 'tool[cli]; extra == "all"', 'click>=8; extra == "cli"'),
                         d("app", "1", "tool[all]"), d("click", "8.1.7")], PY312)
    assert findings == ()
    findings, _ = check([d("tool", "2.0", 'tool[cli]; extra == "all"', 'click>=8; extra == "cli"'),
                         d("app", "1", "tool[all]")], PY312)
    assert rules(findings) == [(MISSING, "pkg:pypi/tool@2.0", "click")]


def test_requirements_of_a_shadowed_copy_are_not_judged() -> None:
    used = d("app", "2.0", "idna", root="")
    shadowed = d("app", "1.0", "requests", "idna<3", status=Status.SHADOWED, shadowed_by=used.metadata_location)
    findings, _ = check([used, shadowed, d("idna", "3.7", root="")], PY312)
    assert findings == ()


def test_two_findings_of_one_distribution_have_distinct_fingerprints() -> None:
    findings, _ = check([d("app", "1.0", "one", "two")], PY312)
    assert len({f.fingerprint for f in findings}) == 2
    plain = PolicyFinding("native-unowned", Level.LOW, Location("x.so"), "m", "pkg:generic/x")
    assert plain.fingerprint == PolicyFinding("native-unowned", Level.LOW, Location("x.so"), "other", "pkg:generic/x",
                                              ).fingerprint


def test_extra_gate_skips_lines_without_parsing_them() -> None:
    from depscan.requirements_check import _extra_gate

    assert _extra_gate('pytest; extra == "test"') == "test"
    assert _extra_gate("x ; (python_version < '3.8') and extra == 'Dev_Tools'") == "dev-tools"
    assert _extra_gate('x; python_version < "3.8" and extra == "a"') == "a"
    # a top-level "or" binds looser than "and": the line can hold without the extra
    assert _extra_gate('x; sys_platform == "linux" or python_version < "3" and extra == "a"') is None
    assert _extra_gate('x; (sys_platform == "linux" or python_version < "3") and extra == "a"') == "a"
    assert _extra_gate('x; (a == "1") or (b == "2") and extra == "a"') is None
    assert _extra_gate("x>=1") is None and _extra_gate('x; python_version < "3.8"') is None
    # an "or" line with an extra is judged by its marker: linux makes it hold without the extra
    findings, _ = check([d("app", "1", 'gone; sys_platform == "linux" or extra == "a"')], PY312)
    assert rules(findings) == [(MISSING, "pkg:pypi/app@1", "gone")]


def test_a_marker_packaging_cannot_evaluate_is_noted() -> None:
    findings, notes = check([d("app", "1", 'gone; python_version ~= "3"')], PY312)
    assert findings == () and "a comparison packaging cannot evaluate" in notes[0]


def test_a_line_that_does_not_parse_is_noted() -> None:
    findings, notes = check([d("app", "1", "gone>=", "other")], PY312)
    assert rules(findings) == [(MISSING, "pkg:pypi/app@1", "other")]
    assert "1 Requires-Dist line(s) do not parse" in notes[0] and "'gone>='" in notes[0]


def test_a_version_that_is_not_pep_440_is_noted() -> None:
    findings, notes = check([d("app", "1.0", "old>=1.0"), d("old", "1.0-custom-build_x")], PY312)
    assert findings == ()
    assert "old 1.0-custom-build_x" in notes[0]


def test_lambda_runtime_provided_sdk_is_low() -> None:
    app = d("app", "1.0", "boto3>=1.26", "requests", root="")
    findings, _ = check([app], TargetRuntime(runtime="python3.12", python="3.12", machine="x86_64"),
                        "lambda-function")
    levels = {f.about: f.level for f in findings}
    assert levels == {"boto3": Level.LOW, "requests": Level.MEDIUM}
    assert "Lambda runtime provides" in next(f.message for f in findings if f.about == "boto3")
    assert failing_policy(findings, "medium") == [f for f in findings if f.about == "requests"]
    # outside Lambda, a missing boto3 is an ordinary missing requirement
    assert {f.level for f in check([app], PY312)[0]} == {Level.MEDIUM}


def _layer_and_function(tmp_path: Path) -> tuple[Path, Path]:
    function = {**dist("handler-lib", "1.0", requires=("requests>=2",)),
                **dist("botocore", "1.20.0"), **dist("requests", "2.31.0")}
    layer_site = "python/lib/python3.12/site-packages"
    layer = {**dist("boto3", "1.34.0", root=layer_site, requires=("botocore<1.35.0,>=1.34.0", "jmespath<2,>=0.7")),
             **dist("botocore", "1.34.0", root=layer_site), **dist("jmespath", "1.0.1", root=layer_site)}
    return write_zip(tmp_path / "function.zip", function), write_zip(tmp_path / "layer.zip", layer)


def test_conflict_created_by_a_layer_names_both_copies(tmp_path: Path) -> None:
    function, layer = _layer_and_function(tmp_path)
    result = run(ScanConfig(str(function), layers=(str(layer),)))
    found = [f for f in result.policy_findings if f.rule in (MISSING, CONFLICT)]
    assert len(found) == 1, found
    (finding,) = found
    assert finding.rule == CONFLICT and finding.component == "pkg:pypi/boto3@1.34.0"
    assert finding.location.path == "opt/python/lib/python3.12/site-packages/boto3-1.34.0.dist-info/METADATA"
    # the imported copy is the function's 1.20.0; the layer's 1.34.0 would do but is shadowed by it
    assert "botocore 1.20.0 at var/task/botocore-1.20.0.dist-info/METADATA" in finding.message
    layer_copy = "opt/python/lib/python3.12/site-packages/botocore-1.34.0.dist-info/METADATA"
    assert f"the copy botocore 1.34.0 at {layer_copy} [" in finding.message
    assert "shadowed by that copy" in finding.message
    # the layer alone is consistent
    alone = run(ScanConfig(str(layer)))
    assert [f for f in alone.policy_findings if f.rule in (MISSING, CONFLICT)] == []


def test_scan_reports_reach_json_and_sarif(tmp_path: Path) -> None:
    import json

    from depscan.reporters import json_, sarif

    zipped = write_zip(tmp_path / "function.zip", {**dist("app", "1.0", requires=("missing-lib>=1",))})
    result = run(ScanConfig(str(zipped)))
    assert [(f.rule, f.about) for f in result.policy_findings] == [(MISSING, "missing-lib")]
    assert b"requirement-missing" in json_.render(result)
    document = json.loads(sarif.render(result))
    (rule,) = [r for r in document["runs"][0]["tool"]["driver"]["rules"] if r["name"] == "RequirementMissing"]
    assert rule["shortDescription"]["text"] == "A requirement of an installed distribution is not installed"
    assert rule["properties"]["tags"] == ["policy", "requirements"]


def test_the_command_line_fails_on_a_conflict_at_medium_not_at_high(tmp_path: Path) -> None:
    import json

    files = {**dist("app", "1.0", requires=("lib<2",)), **dist("lib", "2.1")}
    zipped = write_zip(tmp_path / "function zip.zip", files)
    out = tmp_path / "scan.json"
    failing = cli("scan", zipped, "--source", "skip", "--fail-on", "medium", "-o", f"json={out}")
    assert failing.returncode == 1, failing.stderr
    (finding,) = json.loads(out.read_text())["policy_findings"]
    assert finding["rule"] == CONFLICT and finding["severity"] == "medium"
    assert "'Requires-Dist: lib<2'" in finding["message"] and "lib 2.1" in finding["message"]
    passing = cli("scan", zipped, "--source", "skip", "--fail-on", "high")
    assert passing.returncode == 0, passing.stderr
