"""depscan's requirements-file reader against pip's own (``pip._internal.req.req_file``, private: pinned by the
venv's pip): the same logical lines at the same numbers, the same requirements (name, specifier, extras, marker,
URL or not, editable, hashes) and the same options, on a corpus of every form pip documents."""

from __future__ import annotations

from pathlib import Path

import pytest

from depscan.declared.requirements_txt import parse

req_file = pytest.importorskip("pip._internal.req.req_file", reason="pip is not installed in this environment")
constructors = pytest.importorskip("pip._internal.req.constructors")
session_module = pytest.importorskip("pip._internal.network.session")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pip's own imports (pkg_resources)

SHA_A = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
SHA_B = "486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7"
COMMIT = "6f0f4d1c4b1b9e2c4f0d1b1c2e3f4a5b6c7d8e9f"

CORPUS = f"""\
# a comment line \\
pytest
pytest-cov  # trailing comment
beautifulsoup4
docopt == 0.6.1
requests [security] >= 2.8.1, == 2.8.* ; python_version < "2.7"
urllib3 @ https://github.com/urllib3/urllib3/archive/refs/tags/1.26.8.zip
SomeProject; sys_platform == 'win32'
Foo.Bar_baz[Extra1,extra2]~=1.4.2;python_version>="3.8" and platform_machine!="x86_64"
FooProject == 1.2 --hash=sha256:{SHA_A} \\
    --hash=sha256:{SHA_B}
bar===1.0-custom --hash sha256:{SHA_A}
zeta \\
  >=1.0 \\
  ,<2
./downloads/numpy-1.9.2-cp34-none-win32.whl
http://wxpython.org/Phoenix/snapshot-builds/wxPython_Phoenix-3.0.3.dev1820+49a8884-cp34-none-win_amd64.whl
git+https://github.com/pypa/pip@{COMMIT}#egg=pip
MyLib @ git+https://git.example.com/MyLib.git@v1.0 ; python_version >= '3.8'
-e git+https://git.example.com/MyProject#egg=MyProject
--editable=git+https://git.example.com/Other.git@main#egg=other
-i https://pypi.example.com/simple
--index-url=https://pypi2.example.com/simple
--extra-index-url https://extra.example.com/simple
--extra-index https://abbreviated.example.com/simple
--trusted-host extra.example.com
-f ./wheels
--find-links=https://example.com/links
--no-index
--require-hashes
--pre --prefer-binary
--use-feature truststore
-r other-requirements.txt
-rattached.txt
--requirement=sub/dev.txt
-c constraints.txt
--constraint sub/../pins.txt
--index-url https://${{UNSET_DEPSCAN_TEST_TOKEN}}@private.example.com/simple
"""

# optparse dest -> depscan's long option name
OPTIONS = {
    "index_url": "--index-url",
    "extra_index_urls": "--extra-index-url",
    "trusted_hosts": "--trusted-host",
    "find_links": "--find-links",
    "requirements": "--requirement",
    "constraints": "--constraint",
}  # (--use-feature is left out: pip's parser appends it to the option's shared default list, every line sees it)
FLAGS = {"no_index": "--no-index", "require_hashes": "--require-hashes", "pre": "--pre",
         "prefer_binary": "--prefer-binary"}


def _is_requirement(line: object) -> bool:
    """Whether pip's ``ParsedLine`` is a requirement: ``is_requirement`` up to pip 25, ``requirement`` (None for an
    options line) since; pip 23 sets ``requirement`` only on requirement lines."""
    return getattr(line, "requirement", None) is not None


def _pip_lines(path: Path) -> list[object]:
    parser = req_file.RequirementsFileParser(session_module.PipSession(), req_file.get_line_parser(None))
    return list(parser._parse_file(str(path), constraint=False))


def test_the_same_lines_requirements_and_options_as_pip(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text(CORPUS)
    pip_lines = _pip_lines(path)
    declared = parse("requirements.txt", CORPUS)
    assert declared.errors == ()

    # requirements: line, editable, hashes; name, specifier, extras and marker as pip's InstallRequirement has them
    ours = {r.line: r for r in declared.requirements}
    theirs = [line for line in pip_lines if _is_requirement(line)]
    assert sorted(ours) == [line.lineno for line in theirs]
    for line in theirs:
        mine = ours[line.lineno]
        assert mine.editable == line.is_editable, line.lineno
        hashes = sorted(f"{alg}:{digest}" for alg, digests in (line.opts.hashes or {}).items() for digest in digests)
        assert sorted(mine.hashes) == hashes, line.lineno
        if line.is_editable:
            installed = constructors.install_req_from_editable(line.requirement)
        else:
            installed = constructors.install_req_from_line(line.requirement)
        pip_name = installed.req.name if installed.req is not None else None
        if pip_name is None and installed.link is not None:
            pip_name = installed.link.egg_fragment
        from packaging.utils import canonicalize_name

        assert mine.name == (canonicalize_name(pip_name) if pip_name else None), line.lineno
        if mine.url is None:  # (pip makes "==1.9.2" of a wheel file's name; depscan keeps the URL)
            assert mine.specifier == str(installed.specifier), line.lineno
        assert (mine.url is not None) == (installed.link is not None), line.lineno
        assert mine.marker == (str(installed.markers) if installed.markers is not None else None), line.lineno
        if installed.req is not None and not line.is_editable:
            assert mine.extras == tuple(sorted(installed.req.extras)), line.lineno

    # options: the same names and values at the same lines
    defaults = req_file.build_parser().get_default_values()
    expected: list[tuple[int, str, str | None]] = []
    for line in pip_lines:
        if _is_requirement(line):
            continue
        for dest, name in OPTIONS.items():
            value, default = getattr(line.opts, dest, None), getattr(defaults, dest, None)
            if isinstance(value, list):  # appended to a copy of the default list
                expected += [(line.lineno, name, item) for item in value[len(default or []):]]
            elif value is not None and value != default:
                expected.append((line.lineno, name, value))
        expected += [(line.lineno, name, None) for dest, name in FLAGS.items()
                     if getattr(line.opts, dest, False) and not getattr(defaults, dest, False)]
    # depscan resolves includes against the including file (normalized): pip joins them when it opens them
    import posixpath

    expected = [(n, name, posixpath.normpath(value) if name in ("--requirement", "--constraint") and value else value)
                for n, name, value in expected]
    mine_options = [(option.line, option.name, option.value) for option in declared.options
                    if option.name != "--use-feature"]
    assert [(o.line, o.value) for o in declared.options if o.name == "--use-feature"] == [(32, "truststore")]
    differences = sorted(set(mine_options) ^ set(expected), key=str)
    assert sorted(mine_options, key=str) == sorted(expected, key=str), differences


@pytest.mark.parametrize("text", [
    "requests >=2 ; python_version < \n",  # a marker cut short
    "not a requirement\n",
    "--no-such-option\n",
    "requests --hash\n",
])
def test_what_pip_refuses_depscan_reports(tmp_path: Path, text: str) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text(text)
    refused = False
    try:
        for line in _pip_lines(path):
            if _is_requirement(line):
                constructors.install_req_from_line(line.requirement)
    except Exception:
        refused = True
    assert refused
    assert parse("requirements.txt", text).errors
