"""Policy findings on native code and wheels: the runtimes table, the target runtime, each rule
firing and not firing, and how policy findings set the exit code. Components are built directly."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from builders import EM_AARCH64, EM_X86_64, dist, elf_header, write_zip

from depscan.config import ScanConfig
from depscan.errors import ExitCode, UsageError
from depscan.models import (
    ArtifactInfo,
    ElfFacts,
    Evidence,
    Level,
    Location,
    NativeComponent,
    NativeLib,
    OsPackage,
    PolicyFinding,
    PythonDist,
    ScanResult,
    Status,
    TargetRuntime,
    WheelInfo,
)
from depscan.native import policy
from depscan.native.policy import check, tag_mismatches, wheel_tag_problems
from depscan.policy import failing_policy, verdict
from depscan.runtimes import (
    LAMBDA_PYTHON_RUNTIMES,
    OS_GLIBC,
    RUNTIMES_BY_ID,
    infer_target,
    lambda_runtime,
    machine_for_arch,
    version_tuple,
)
from depscan.scan import run
from tests.helpers import cli, make_dist

SITE = "opt/python/lib/python3.12/site-packages"
PY312_AL2023 = TargetRuntime(runtime="python3.12", python="3.12", machine="x86_64", glibc="2.34", libc="glibc")
PY311_AL2 = TargetRuntime(runtime="python3.11", python="3.11", machine="x86_64", glibc="2.26", libc="glibc")
ALPINE = TargetRuntime(python="3.12", machine="x86_64", libc="musl")


def lib(
    path: str,
    *,
    arch: str = "x86_64",
    owner: str | None = "pkg:pypi/pillow@10.0.0",
    owner_location: Location | None = None,
    kind: str = "shared-library",
    abi_tag: str | None = None,
    min_glibc: str | None = None,
    sha256: str = "ab" * 32,
    os_package: str | None = None,
) -> NativeLib:
    name = path.rsplit("/", 1)[-1].split(".", 1)[0]
    return NativeLib(
        name=name,
        kind=kind,  # type: ignore[arg-type]
        version=None,
        location=Location(path),
        size=100,
        arch=arch,
        elf_class=64,
        endianness="little",
        elf_type="shared-object",
        purl=None if kind == "python-extension" else f"pkg:generic/{name}",
        abi_tag=abi_tag,
        owner=owner,
        owner_location=owner_location if owner_location is not None or owner is None
        else Location(f"{SITE}/pillow-10.0.0.dist-info/METADATA"),
        found_by="elf",
        elf=ElfFacts(sha256=sha256, min_glibc=min_glibc),
        os_package=os_package,
    )


def identity(path: str, name: str, version: str | None, *, embedded: bool = False, method: str = "banner",
             confidence: str = "high") -> NativeComponent:
    return NativeComponent(
        name=name,
        version=version,
        purl=f"pkg:generic/{name}" + (f"@{version}" if version else ""),
        cpe=None,
        location=Location(path),
        evidence=(Evidence(method, confidence, "test"),),  # type: ignore[arg-type]
        embedded=embedded,
    )


def wheel_dist(name: str, version: str, *tags: str, site: str = SITE) -> PythonDist:
    return make_dist(name, version, f"{site}/{name}-{version}.dist-info/METADATA", site_root=site,
                     wheel=WheelInfo("bdist_wheel (0.41)", False, tags))


def rules(findings: list[PolicyFinding] | tuple[PolicyFinding, ...]) -> list[tuple[str, str]]:
    return sorted((f.rule, f.location.path) for f in findings)


# -- the runtimes table ---------------------------------------------------------------------


def test_runtimes_table_rows_are_consistent() -> None:
    ids = [r.identifier for r in LAMBDA_PYTHON_RUNTIMES]
    assert ids[0] == "python3.14" and ids[-1] == "python3.8" and len(set(ids)) == len(ids) == 7
    for row in LAMBDA_PYTHON_RUNTIMES:
        assert row.identifier == f"python{row.python}" and row.name == f"Python {row.python}"
        assert row.os in OS_GLIBC and set(row.architectures) == {"x86_64", "arm64"}
        assert row.machines == ("x86_64", "aarch64")
        assert date(2024, 1, 1) <= row.deprecation <= date(2031, 1, 1)
    # Amazon Linux 2023 from python3.12 on; Amazon Linux 2 (glibc 2.26) before it
    assert RUNTIMES_BY_ID["python3.12"].glibc == "2.34" and RUNTIMES_BY_ID["python3.11"].glibc == "2.26"
    assert RUNTIMES_BY_ID["python3.9"].deprecation == date(2025, 12, 15)


def test_unknown_runtime_and_arch_are_usage_errors() -> None:
    with pytest.raises(UsageError, match=r"unknown --runtime 'python2\.7'; one of: python3\.14"):
        lambda_runtime("python2.7")
    with pytest.raises(UsageError, match="unknown --arch 'sparc'"):
        machine_for_arch("sparc")
    assert machine_for_arch("arm64") == machine_for_arch("aarch64") == "aarch64"


def test_version_tuple() -> None:
    assert version_tuple("2.34") == (2, 34) and version_tuple("2.17a") == (2, 17) and version_tuple("x") == ()
    assert version_tuple("2.28") > version_tuple("2.9")


# -- the target runtime -----------------------------------------------------------------------


def test_runtime_and_arch_options_win() -> None:
    comps = [lib("a/x.so", arch="aarch64"), wheel_dist("six", "1.0", "py3-none-any")]
    target = infer_target(comps, "zip", runtime="python3.11", arch="x86_64")
    assert (target.runtime, target.python, target.glibc, target.machine) == ("python3.11", "3.11", "2.26", "x86_64")
    assert "from --runtime python3.11" in target.describe() and "from --arch x86_64" in target.describe()


def test_inferred_from_a_lambda_layer_path_and_the_elf_majority() -> None:
    comps = [
        wheel_dist("pillow", "10.0.0", "cp312-cp312-manylinux_2_28_x86_64"),
        lib(f"{SITE}/PIL/a.so"), lib(f"{SITE}/PIL/b.so"), lib(f"{SITE}/PIL/c.so", arch="aarch64"),
    ]
    target = infer_target(comps, "zip")
    assert (target.runtime, target.python, target.glibc, target.machine) == ("python3.12", "3.12", "2.34", "x86_64")
    assert target.basis == (
        "Python 3.12 from the Lambda layer path python/lib/python3.12/site-packages",
        "glibc 2.34 from the Lambda runtime python3.12 (Amazon Linux 2023)",
        "machine x86_64 from the ELF files (2 of 3)",
    )


def test_cpython_tags_give_the_python_but_not_a_glibc_outside_lambda() -> None:
    comps = [
        lib("site/_a.cpython-311-x86_64-linux-gnu.so", kind="python-extension", abi_tag="cpython-311-x86_64-linux-gnu"),
        lib("site/_b.cpython-311-x86_64-linux-gnu.so", kind="python-extension", abi_tag="cpython-311-x86_64-linux-gnu"),
    ]
    target = infer_target(comps, "docker-archive")
    assert (target.python, target.glibc, target.runtime) == ("3.11", None, None)
    assert "cpython-311 tags" in target.describe()
    # a Lambda kind makes the same tags name a Lambda runtime, and so a glibc
    lambda_target = infer_target(comps, "lambda-function")
    assert (lambda_target.runtime, lambda_target.glibc) == ("python3.11", "2.26")


def test_a_tie_of_machines_is_unknown() -> None:
    target = infer_target([lib("a.so"), lib("b.so", arch="aarch64")], "zip")
    assert target.machine is None and target.python is None and target.describe() == "unknown"


# -- native-unowned ---------------------------------------------------------------------------


def test_unowned_fires_with_hash_and_best_identity() -> None:
    path = "lib/libcrypto.so.1.1"
    comps = [
        lib(path, owner=None, sha256="cd" * 32),
        identity(path, "zlib", "1.2.11", embedded=True),
        identity(path, "openssl", "1.1.1k"),
    ]
    (finding,) = policy.unowned(comps)
    assert (finding.rule, finding.level, finding.location.path) == ("native-unowned", Level.LOW, path)
    assert finding.component == "pkg:generic/openssl@1.1.1k"
    assert "sha256 " + "cd" * 32 in finding.message and "identified as openssl 1.1.1k (banner, high" in finding.message


def test_unowned_does_not_fire_for_owned_files() -> None:
    comps = [
        lib("site/PIL/a.so"),  # a RECORD lists it
        lib("usr/lib/libz.so.1", owner=None, os_package="pkg:deb/debian/zlib1g@1.2.13"),
        lib("usr/lib/libssl.so.3", owner=None),  # listed by an OS package's files
        OsPackage("libssl3", "3.0.11-1", "pkg:deb/debian/libssl3@3.0.11-1", "dpkg", Location("var/lib/dpkg/status"),
                  files=("usr/lib/libssl.so.3",)),
    ]
    assert policy.unowned(comps) == []


def test_unowned_extension_module_without_identity() -> None:
    (finding,) = policy.unowned([lib("app/_fast.cpython-312-x86_64-linux-gnu.so", owner=None,
                                     kind="python-extension", abi_tag="cpython-312-x86_64-linux-gnu")])
    assert finding.component is None
    assert "ELF extension module" in finding.message and "not identified" in finding.message


# -- native-wrong-machine / native-glibc-too-new ------------------------------------------------


def test_wrong_machine_fires_for_the_other_machine_only() -> None:
    comps = [lib("a.so"), lib("b.so", arch="aarch64"), lib("c.so", arch="unknown")]
    arm = replace(PY312_AL2023, machine="aarch64")
    assert rules(policy.wrong_machine(comps, arm)) == [("native-wrong-machine", "a.so")]
    assert rules(policy.wrong_machine(comps, PY312_AL2023)) == [("native-wrong-machine", "b.so")]
    assert policy.wrong_machine(comps, TargetRuntime()) == []


def test_glibc_too_new_compares_versions_numerically() -> None:
    comps = [lib("new.so", min_glibc="2.28"), lib("old.so", min_glibc="2.17"), lib("none.so"), lib("al2023.so",
                                                                                                     min_glibc="2.34")]
    (finding,) = policy.glibc_too_new(comps, PY311_AL2)[:1]
    assert rules(policy.glibc_too_new(comps, PY311_AL2)) == [("native-glibc-too-new", "al2023.so"),
                                                             ("native-glibc-too-new", "new.so")]
    assert finding.level is Level.HIGH and "needs GLIBC_2.28, the target (python3.11) has glibc 2.26" in finding.message
    assert policy.glibc_too_new(comps, PY312_AL2023) == []
    assert policy.glibc_too_new(comps, replace(PY311_AL2, glibc=None, libc=None)) == []
    on_musl = policy.glibc_too_new(comps, ALPINE)  # any GLIBC_ need fails on musl
    assert len(on_musl) == 3 and "runs musl libc" in on_musl[0].message


def test_the_c_library_comes_from_the_os_package_database() -> None:
    site = "usr/local/lib/python3.12/site-packages"
    six = make_dist("six", "1.16.0", f"{site}/six-1.16.0.dist-info/METADATA", site_root=site)
    libc6 = OsPackage("libc6", "2.36-9+deb12u4", "pkg:deb/debian/libc6@2.36-9+deb12u4", "dpkg",
                      Location("var/lib/dpkg/status"))
    target = infer_target([six, libc6], "docker-archive")
    assert (target.python, target.libc, target.glibc, target.runtime) == ("3.12", "glibc", "2.36", None)
    assert "glibc 2.36 from the dpkg package libc6 2.36-9+deb12u4" in target.basis
    glibc_rpm = OsPackage("glibc", "2.34-100.amzn2023.0.2", "pkg:rpm/amzn/glibc@2.34-100.amzn2023.0.2", "rpm",
                          Location("var/lib/rpm/rpmdb.sqlite"))
    assert infer_target([glibc_rpm], "oci-dir").glibc == "2.34"
    musl = OsPackage("musl", "1.2.4-r2", "pkg:apk/alpine/musl@1.2.4-r2", "apk", Location("lib/apk/db/installed"))
    alpine = infer_target([six, musl], "docker-archive")
    assert (alpine.libc, alpine.glibc) == ("musl", None) and "musl libc" in alpine.describe()
    # --runtime wins over the database
    assert infer_target([musl], "zip", runtime="python3.12").libc == "glibc"


# -- wheel-tag-mismatch -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "target", "expected"),
    [
        (("py3-none-any",), PY311_AL2, []),
        (("py2.py3-none-any",), PY311_AL2, []),
        (("py2-none-any",), PY311_AL2, ["py2 is for Python 2"]),
        (("cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",), PY311_AL2, []),
        (("cp311-cp311-manylinux_2_28_x86_64",), PY311_AL2,
         ["manylinux_2_28_x86_64 needs glibc 2.28 (the target has 2.26)"]),
        (("cp311-cp311-manylinux_2_28_x86_64",), PY312_AL2023,
         ["cp311 is built for CPython 3.11 (target Python 3.12)"]),
        (("cp312-cp312-manylinux_2_17_aarch64",), PY312_AL2023,
         ["manylinux_2_17_aarch64 is for aarch64 (target machine x86_64)"]),
        (("cp312-cp312-musllinux_1_2_x86_64",), PY312_AL2023,
         ["musllinux_1_2_x86_64 is for musl libc (the target runs glibc 2.34)"]),
        (("cp39-abi3-manylinux2014_x86_64",), PY312_AL2023, []),
        (("cp313-abi3-manylinux2014_x86_64",), PY312_AL2023,
         ["cp313-abi3 needs CPython 3.13 or later (target Python 3.12)"]),
        (("cp312-cp312-macosx_11_0_arm64",), PY312_AL2023, ["macosx_11_0_arm64 is not a Linux platform"]),
        (("pp310-pypy310_pp73-manylinux2014_x86_64",), PY312_AL2023,
         ["pp310 is for another Python implementation than CPython"]),
        # one fitting tag among several is enough
        (("cp312-cp312-musllinux_1_2_x86_64", "cp312-cp312-manylinux_2_17_x86_64"), PY312_AL2023, []),
        # an unknown target judges nothing
        (("cp311-cp311-manylinux_2_28_aarch64",), TargetRuntime(), []),
        # the Python known, the glibc not: only the Python is judged
        (("cp312-cp312-manylinux_2_39_x86_64",), TargetRuntime(python="3.12"), []),
        (("not a tag",), PY312_AL2023, []),
        # a musl target (Alpine's musl package): musllinux fits, manylinux does not
        (("cp312-cp312-musllinux_1_2_x86_64",), ALPINE, []),
        (("cp312-cp312-manylinux_2_17_x86_64",), ALPINE,
         ["manylinux_2_17_x86_64 is for glibc (the target runs musl libc)"]),
    ],
)
def test_wheel_tag_problems(tags: tuple[str, ...], target: TargetRuntime, expected: list[str]) -> None:
    assert wheel_tag_problems(tags, target) == expected


def test_tag_mismatch_on_distributions_and_modules() -> None:
    numpy = wheel_dist("numpy", "2.2.0", "cp312-cp312-manylinux_2_28_x86_64")
    six = wheel_dist("six", "1.16.0", "py2.py3-none-any")
    shadowed = replace(wheel_dist("numpy", "1.0", "cp39-cp39-manylinux1_x86_64", site="var/task"),
                       status=Status.SHADOWED)
    numpy_home = numpy.metadata_location
    module_of_numpy = lib(f"{SITE}/numpy/_core.cpython-312-x86_64-linux-gnu.so", kind="python-extension",
                          abi_tag="cpython-312-x86_64-linux-gnu", owner_location=numpy_home)
    stray = lib("var/task/_x.cpython-312-x86_64-linux-gnu.so", kind="python-extension",
                abi_tag="cpython-312-x86_64-linux-gnu", owner=None)
    fine = lib("var/task/_y.cpython-311-x86_64-linux-gnu.so", kind="python-extension",
               abi_tag="cpython-311-x86_64-linux-gnu", owner=None)
    found = tag_mismatches([numpy, six, shadowed, module_of_numpy, stray, fine], PY311_AL2)
    assert rules(found) == [
        ("wheel-tag-mismatch", f"{SITE}/numpy-2.2.0.dist-info/METADATA"),
        ("wheel-tag-mismatch", "var/task/_x.cpython-312-x86_64-linux-gnu.so"),
    ]
    numpy_finding = found[0]
    assert numpy_finding.component == "pkg:pypi/numpy@2.2.0" and numpy_finding.level is Level.HIGH
    assert "cp312 is built for CPython 3.12 (target Python 3.11)" in numpy_finding.message
    assert "needs glibc 2.28 (the target has 2.26)" in numpy_finding.message
    assert "an extension module for CPython 3.12" in found[1].message
    assert tag_mismatches([numpy, six, module_of_numpy, stray], PY312_AL2023) == []


# -- check: everything together ---------------------------------------------------------------


def test_check_notes_only_what_was_skipped() -> None:
    comps = [lib("a.so", min_glibc="2.28", owner=None)]
    outcome = check(comps, "zip")  # machine from the ELF file; no Python, no glibc
    assert rules(outcome.findings) == [("native-unowned", "a.so")]
    assert outcome.target.machine == "x86_64"
    (note,) = outcome.notes
    assert note.startswith("policy checks skipped: native-glibc-too-new (the glibc is unknown: give --runtime)")
    assert "target runtime: machine x86_64" in note
    with_runtime = check(comps, "zip", runtime="python3.11")
    assert rules(with_runtime.findings) == [("native-glibc-too-new", "a.so"), ("native-unowned", "a.so")]
    assert with_runtime.notes == ()
    assert check([wheel_dist("six", "1.16.0", "py3-none-any")], "zip").notes == ()


def test_rule_levels_are_documented_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for rule, level in policy.RULES.items():
        assert f"| `{rule}` | {level.value} |" in readme


# -- the exit code ----------------------------------------------------------------------------


def _result(*findings: PolicyFinding) -> ScanResult:
    return ScanResult(ArtifactInfo("x.zip", "zip", 1), (), (), policy_findings=findings)


def _policy_finding(rule: str, level: Level) -> PolicyFinding:
    return PolicyFinding(rule, level, Location("a.so"), "m")


def test_policy_findings_fail_by_level() -> None:
    low, high = _policy_finding("native-unowned", Level.LOW), _policy_finding("native-glibc-too-new", Level.HIGH)
    assert failing_policy([low, high], "any") == [low, high]
    assert failing_policy([low, high], "medium") == [high]
    assert failing_policy([low, high], "critical") == []
    assert verdict(_result(low, high), "any").code is ExitCode.FINDINGS
    judged = verdict(_result(low), "low")
    assert judged.code is ExitCode.FINDINGS and judged.message == (
        "1 policy finding(s) at or above --fail-on low (native-unowned)"
    )
    assert verdict(_result(low), "medium").code is ExitCode.OK
    assert verdict(_result(), "any").code is ExitCode.OK


def test_cli_runtime_option_end_to_end(tmp_path: Path) -> None:
    files = dist("pillow", "10.0.0", root="python/lib/python3.11/site-packages",
                 tags=("cp311-cp311-manylinux_2_28_x86_64",),
                 modules={"PIL/_imaging.cpython-311-x86_64-linux-gnu.so": elf_header(EM_X86_64)})
    files["python/lib/python3.11/site-packages/stray/libfoo.so"] = elf_header(EM_AARCH64)
    layer = write_zip(tmp_path / "layer with space.zip", files)
    proc = cli("scan", layer, "--source", "skip", "--fail-on", "high")
    assert proc.returncode == 1, proc.stderr
    # the machine is a tie (one x86_64 module, one aarch64 library): that check is skipped, with a note
    assert "1 policy finding(s) at or above --fail-on high (wheel-tag-mismatch)" in proc.stderr
    assert "policy checks skipped: native-wrong-machine (the machine is unknown: give --arch)" in proc.stderr
    wrong = cli("scan", layer, "--source", "skip", "--runtime", "python2.7")
    assert wrong.returncode == int(ExitCode.USAGE) and "unknown --runtime 'python2.7'" in wrong.stderr
    # inferred: Python 3.11 from the layer path, so python3.11 (Amazon Linux 2, glibc 2.26), machine a tie
    inferred = run(ScanConfig(str(layer)))
    assert inferred.target is not None and (inferred.target.runtime, inferred.target.machine) == ("python3.11", None)
    assert rules(inferred.policy_findings) == [
        ("native-unowned", "python/lib/python3.11/site-packages/stray/libfoo.so"),
        ("wheel-tag-mismatch", "python/lib/python3.11/site-packages/pillow-10.0.0.dist-info/METADATA"),
    ]
    assert any("native-wrong-machine (the machine is unknown: give --arch)" in n for n in inferred.notes)
    # --runtime python3.12 --arch arm64: the glibc fits, the Python and the machine do not
    chosen = run(ScanConfig(str(layer), runtime="python3.12", arch="arm64"))
    assert rules(chosen.policy_findings) == [
        ("native-unowned", "python/lib/python3.11/site-packages/stray/libfoo.so"),
        ("native-wrong-machine", "python/lib/python3.11/site-packages/PIL/_imaging.cpython-311-x86_64-linux-gnu.so"),
        ("wheel-tag-mismatch", "python/lib/python3.11/site-packages/pillow-10.0.0.dist-info/METADATA"),
    ]
    (tag,) = [f for f in chosen.policy_findings if f.rule == "wheel-tag-mismatch"]
    assert "cp311 is built for CPython 3.11 (target Python 3.12)" in tag.message


def test_unowned_is_not_judged_where_an_os_database_has_no_file_lists() -> None:
    dpkg = OsPackage("libssl3", "3.0.11-1", "pkg:deb/debian/libssl3@3.0.11-1", "dpkg", Location("var/lib/dpkg/status"))
    site = "usr/local/lib/python3.12/site-packages"
    comps = [
        dpkg,
        make_dist("six", "1.16.0", f"{site}/six-1.16.0.dist-info/METADATA", site_root=site),
        lib("usr/lib/x86_64-linux-gnu/libssl.so.3", owner=None),  # dpkg may own it: not judged
        lib(f"{site}/stray/libfoo.so", owner=None),  # inside site-packages: judged
    ]
    outcome = check(comps, "docker-archive")
    assert rules(outcome.findings) == [("native-unowned", f"{site}/stray/libfoo.so")]
    (note,) = outcome.notes
    assert "native-unowned for 1 ELF file(s) outside Python site-packages (the file lists of the dpkg database" in note
    # once libraries are attributed to packages (or the database lists files), every file is judged
    attributed = [*comps, lib("usr/lib/libz.so.1", owner=None, os_package="pkg:deb/debian/zlib1g@1.2.13")]
    assert len(check(attributed, "docker-archive").findings) == 2
    listed = [replace(dpkg, files=("usr/lib/libz.so.1",)), *comps[1:]]
    assert len(check(listed, "docker-archive").findings) == 2


def test_bench_policy_runs_on_a_small_zip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    bench = Path(__file__).resolve().parents[1] / "bench"
    sys.path.insert(0, str(bench))
    try:
        import bench_policy
    finally:
        sys.path.remove(str(bench))
    files = dist("six", "1.16.0", tags=("py2.py3-none-any",))
    files["lib/libfoo.so"] = elf_header(EM_X86_64)
    path = write_zip(tmp_path / "small.zip", files)
    assert bench_policy.main([str(path), "--repeat", "1", "--runtime", "python3.12"]) == 0
    out = capsys.readouterr().out
    assert "policy (inferred):" in out and "findings: {'native-unowned': 1}" in out
    assert "policy (--runtime python3.12):" in out and "glibc 2.34" in out
    assert bench_policy.main([str(tmp_path / "missing.zip")]) == 2


def test_another_pythons_site_packages_is_not_judged() -> None:
    """A layer built for two runtimes: python3.12 imports only python/lib/python3.12/site-packages."""
    old_site = "python/lib/python3.11/site-packages"
    comps = [
        wheel_dist("numpy", "2.2.0", "cp312-cp312-manylinux_2_17_x86_64", site="python/lib/python3.12/site-packages"),
        wheel_dist("numpy", "2.2.0", "cp311-cp311-manylinux_2_17_x86_64", site=old_site),
        lib(f"{old_site}/numpy/_core.cpython-311-x86_64-linux-gnu.so", kind="python-extension", owner=None,
            abi_tag="cpython-311-x86_64-linux-gnu"),
    ]
    assert tag_mismatches(comps, PY312_AL2023) == []
    assert tag_mismatches(comps, PY311_AL2) == []
    # no site-packages of the target's own (python3.13): everything is judged, nothing would be imported
    py313 = replace(PY312_AL2023, runtime="python3.13", python="3.13")
    assert len(tag_mismatches(comps, py313)) == 3
    from depscan.runtimes import site_python

    assert site_python("opt/python/lib/python3.12/site-packages/x/y.so") == "3.12"
    assert site_python("var/task/x.so") is None and site_python("a/site-packages/x") is None


def test_files_of_a_shadowed_copy_are_not_judged() -> None:
    """The runtime imports the copy that shadows it: the shadowed copy's files are never loaded."""
    old = replace(wheel_dist("numpy", "1.0", "cp39-cp39-manylinux_2_28_aarch64", site="opt/python"),
                  status=Status.SHADOWED)
    arm = lib("opt/python/numpy/_core.cpython-39-aarch64-linux-gnu.so", arch="aarch64", min_glibc="2.28",
              kind="python-extension", abi_tag="cpython-39-aarch64-linux-gnu", owner_location=old.metadata_location)
    comps = [old, arm]
    assert policy.wrong_machine(comps, PY311_AL2) == []
    assert policy.glibc_too_new(comps, PY311_AL2) == []
    assert tag_mismatches(comps, PY311_AL2) == []
    used = [replace(old, status=Status.USED), arm]
    assert {f.rule for f in check(used, "zip", runtime="python3.11", arch="x86_64").findings} == {
        "native-wrong-machine", "native-glibc-too-new", "wheel-tag-mismatch"}
