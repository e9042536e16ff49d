"""pip requirements files read as pip reads them (depscan/declared/requirements_txt.py)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from depscan.declared import parser_for, parser_for_path
from depscan.declared.requirements_txt import MAX_LINE, parse, parse_as
from depscan.models import DeclaredRequirement

REPO = Path(__file__).resolve().parent.parent
SHA_A = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
SHA_B = "486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7"


def _by_name(text: str, path: str = "requirements.txt") -> dict[str | None, DeclaredRequirement]:
    return {r.name: r for r in parse(path, text).requirements}


def test_pip_documentation_example() -> None:
    text = (REPO / "fixtures" / "declared" / "pip-docs-example.txt").read_text()
    declared = parse("requirements.txt", text)
    assert declared.errors == ()
    reqs = {r.name: r for r in declared.requirements}
    assert list(reqs) == ["pytest", "pytest-cov", "beautifulsoup4", "docopt", "requests", "urllib3", "numpy",
                          "wxpython-phoenix"]
    assert (reqs["pytest"].line, reqs["pytest"].specifier, reqs["pytest"].pinned) == (3, "", None)
    assert (reqs["docopt"].line, reqs["docopt"].pinned, reqs["docopt"].text) == (8, "0.6.1", "docopt == 0.6.1")
    requests = reqs["requests"]
    assert requests.extras == ("security",)
    assert requests.specifier == "==2.8.*,>=2.8.1" and requests.pinned is None  # a wildcard is not a pin
    assert requests.marker == 'python_version < "2.7"'
    assert reqs["urllib3"].url == "https://github.com/urllib3/urllib3/archive/refs/tags/1.26.8.zip"
    assert reqs["numpy"].url == "./downloads/numpy-1.9.2-cp34-none-win32.whl"
    assert reqs["wxpython-phoenix"].url is not None and reqs["wxpython-phoenix"].url.startswith("http://wxpython")
    assert [(o.line, o.name, o.value) for o in declared.options] == [
        (13, "--requirement", "other-requirements.txt"), (14, "--constraint", "constraints.txt")]
    assert declared.includes == ("other-requirements.txt", "constraints.txt")
    assert all(r.source == "requirements" and r.file == "requirements.txt" for r in declared.requirements)


def test_hashes_several_per_line_and_continuations() -> None:
    text = (f"# first\nFooProject == 1.2 --hash=sha256:{SHA_A} \\\n    --hash sha256:{SHA_B.upper()}\n"
            "bar==1.0\n")
    reqs = _by_name(text)
    foo = reqs["fooproject"]
    assert foo.line == 2 and foo.pinned == "1.2"
    assert foo.hashes == (f"sha256:{SHA_A}", f"sha256:{SHA_B}")
    assert reqs["bar"].line == 4 and reqs["bar"].hashes == ()


def test_a_comment_line_ending_in_a_backslash_does_not_continue() -> None:
    reqs = _by_name("# note \\\nsix==1.16.0\nattrs==23.1.0 # pinned \\\n")
    assert reqs["six"].line == 2 and reqs["attrs"].line == 3


def test_a_continuation_on_the_last_line_is_kept() -> None:
    reqs = _by_name("requests\\\n>=2.0\\")
    assert reqs["requests"].specifier == ">=2.0" and reqs["requests"].line == 1


def test_a_bad_line_is_an_error_with_its_number_and_the_rest_is_read() -> None:
    declared = parse("requirements.txt", "six==1.16.0\nthis is not a requirement\nattrs==23.1.0\n--bogus-option x\n")
    assert [r.name for r in declared.requirements] == ["six", "attrs"]
    assert [n for n, _ in declared.errors] == [2, 4]
    assert declared.errors[0][1].startswith("line 2: 'this is not a requirement' is not a requirement")
    assert "unknown option --bogus-option" in declared.errors[1][1]


def test_bad_hashes_and_misplaced_options_are_line_errors() -> None:
    declared = parse("r.txt", "a==1 --hash=md5:abc\nb==1 --hash=sha256:1234\nc==1 --index-url https://x\n")
    assert [n for n, _ in declared.errors] == [1, 2, 3]
    assert "cannot follow a requirement" in declared.errors[2][1]


def test_editable_vcs_urls_and_local_paths() -> None:
    text = (
        "-e git+https://git.example.com/MyProject#egg=MyProject\n"
        "--editable ./libs/tool[cli]\n"
        "-e .\n"
        "git+https://github.com/pypa/pip@6f0f4d1c4b1b9e2c4f0d1b1c2e3f4a5b6c7d8e9f#egg=pip\n"
        "MyLib @ git+https://git.example.com/MyLib.git@v1.0 ; python_version >= '3.8'\n"
        "https://example.com/dist/Foo_Bar-1.0.tar.gz#sha256=" + SHA_A + "\n"
        "file:///srv/wheels/six-1.16.0-py2.py3-none-any.whl\n"
        "../vendor/attrs-23.1.0-py3-none-any.whl\n"
    )
    declared = parse("requirements.txt", text)
    assert declared.errors == ()
    rows = [(r.line, r.name, r.editable, r.url, r.extras) for r in declared.requirements]
    assert rows == [
        (1, "myproject", True, "git+https://git.example.com/MyProject#egg=MyProject", ()),
        (2, None, True, "./libs/tool[cli]", ("cli",)),
        (3, None, True, ".", ()),
        (4, "pip", False, "git+https://github.com/pypa/pip@6f0f4d1c4b1b9e2c4f0d1b1c2e3f4a5b6c7d8e9f#egg=pip", ()),
        (5, "mylib", False, "git+https://git.example.com/MyLib.git@v1.0", ()),
        (6, "foo-bar", False, "https://example.com/dist/Foo_Bar-1.0.tar.gz#sha256=" + SHA_A, ()),
        (7, "six", False, "file:///srv/wheels/six-1.16.0-py2.py3-none-any.whl", ()),
        (8, "attrs", False, "../vendor/attrs-23.1.0-py3-none-any.whl", ()),
    ]
    assert declared.requirements[4].marker == 'python_version >= "3.8"'


def test_global_options_long_short_attached_and_abbreviated() -> None:
    text = (
        "-i https://pypi.example.com/simple\n"
        "--extra-index-url=https://extra.example.com/simple\n"
        "--extra-index https://abbrev.example.com/simple\n"
        "--trusted-host extra.example.com\n"
        "-f ./wheels\n"
        "--find-links=https://example.com/links\n"
        "--no-index\n"
        "--require-hashes\n"
        "--pre --prefer-binary\n"
        "--only-binary :all:\n"
        "--no-binary=lxml\n"
        "--use-feature truststore\n"
        "-rbase.txt\n"
        "--requirement=sub/dev.txt\n"
        "--constraint ../pins.txt\n"
    )
    declared = parse("app/requirements.txt", text)
    assert declared.errors == ()
    assert [(o.line, o.name, o.value) for o in declared.options] == [
        (1, "--index-url", "https://pypi.example.com/simple"),
        (2, "--extra-index-url", "https://extra.example.com/simple"),
        (3, "--extra-index-url", "https://abbrev.example.com/simple"),
        (4, "--trusted-host", "extra.example.com"),
        (5, "--find-links", "./wheels"),
        (6, "--find-links", "https://example.com/links"),
        (7, "--no-index", None),
        (8, "--require-hashes", None),
        (9, "--pre", None),
        (9, "--prefer-binary", None),
        (10, "--only-binary", ":all:"),
        (11, "--no-binary", "lxml"),
        (12, "--use-feature", "truststore"),
        (13, "--requirement", "app/base.txt"),
        (14, "--requirement", "app/sub/dev.txt"),
        (15, "--constraint", "pins.txt"),
    ]
    assert declared.includes == ("app/base.txt", "app/sub/dev.txt", "pins.txt")


def test_includes_outside_the_root_or_from_urls_are_errors_not_kept() -> None:
    declared = parse("requirements.txt", "-r ../outside.txt\n-c /etc/pins.txt\n-r https://example.com/r.txt\n")
    assert declared.includes == () and declared.options == ()
    assert [n for n, _ in declared.errors] == [1, 2, 3]
    assert all("not followed" in e or "not read" in e for _, e in declared.errors)


def test_environment_references_are_kept_as_written() -> None:
    declared = parse("requirements.txt", "--index-url https://${USER}:${TOKEN}@pypi.example.com/simple\n"
                                         "internal==${VERSION}\n")
    assert declared.options[0].value == "https://${USER}:${TOKEN}@pypi.example.com/simple"
    assert len(declared.errors) == 1 and "references are not evaluated" in declared.errors[0][1]


def test_per_line_ignores() -> None:
    declared = parse("requirements.txt", "requests  # depscan: ignore[DS001, ds002]\nflask # depscan: ignore\n"
                                         "not a requirement # depscan: ignore[DS007]\nsix # just a comment\n")
    assert [r.ignored for r in declared.requirements] == [("DS001", "DS002"), ("*",), ()]
    assert declared.errors == ()


def test_constraints_files_are_tagged_by_name_or_by_the_caller() -> None:
    assert parse("constraints.txt", "six==1.16.0\n").requirements[0].source == "constraints"
    assert parse_as("pins.txt", "six==1.16.0\n", "constraints").requirements[0].source == "constraints"
    assert parse("requirements.txt", "six==1.16.0\n").requirements[0].source == "requirements"


def test_exact_pins() -> None:
    reqs = _by_name("a==1.0\nb===weird\nc==1.*\nd~=1.4\ne>=1,<2\nf==1.0+local\ng\n")
    assert {name: r.pinned for name, r in reqs.items()} == {"a": "1.0", "b": "weird", "c": None, "d": None, "e": None,
                                                            "f": "1.0+local", "g": None}


def test_binary_files_and_huge_lines_are_errors_for_the_file_not_hangs() -> None:
    binary = parse("requirements.txt", "six==1.16.0\n\x00\x01\x02")
    assert binary.requirements == () and "NUL" in binary.errors[0][1]
    started = time.perf_counter()
    huge = parse("requirements.txt", "six==1.16.0\n" + "a" * 1_048_576 + "\n")
    assert time.perf_counter() - started < 1.0
    assert huge.requirements == () and huge.errors[0][0] == 2 and f"{MAX_LINE:,}" in huge.errors[0][1]


def test_a_long_continued_line_of_many_hashes_is_read() -> None:
    hashes = " \\\n".join(f"    --hash=sha256:{i:064x}" for i in range(200))
    reqs = _by_name(f"numpy==1.26.4 \\\n{hashes}\n")
    assert len(reqs["numpy"].hashes) == 200


@pytest.mark.parametrize(("path", "read"), [
    ("requirements.txt", True), ("requirements-dev.txt", True), ("dev-requirements.txt", True),
    ("requirements.in", True), ("constraints.txt", True), ("requirements/base.txt", True),
    ("requirements/prod.in", True), ("src/requirements/base.txt", True), ("MANIFEST.in", False),
    ("Makefile.in", False), ("notes.txt", False), ("docs/requirements/x.md", False),
])
def test_which_files_are_read(path: str, read: bool) -> None:
    assert (parser_for_path(path) is not None) is read
    if "/" not in path and read:
        assert parser_for(path) is not None


def test_options_split_as_shlex_splits_them() -> None:
    import random
    import shlex

    from depscan.declared.requirements_txt import split_options

    alphabet = ["a", "-", "=", ":", " ", "\t", "\r", '"', "'", "\\", "\x0b", "\x0c", "\x1c", "\xa0", "é", "#", "$"]
    rng = random.Random(11)
    samples = [f"--hash=sha256:{SHA_A} --hash sha256:{SHA_B}", "--config-settings 'a=b c'", "-C a\\ b"]
    samples += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(3000)]
    for text in samples:
        try:
            expected: list[str] | None = shlex.split(text)
        except ValueError:
            expected = None
        try:
            got: list[str] | None = split_options(text)
        except Exception:
            got = None
        assert got == expected, repr(text)


@pytest.mark.parametrize("text", [
    "a==1\n" * 200_000,  # many short requirements
    "not a requirement\n" * 100_000,  # many bad lines
    ("a==1 ; " + 'python_version > "3" and ' * 400 + 'python_version > "3"\n') * 400,  # long markers
    ("a" * 50_000 + "\n") * 80,  # long names
])
def test_hostile_files_cost_at_most_about_a_second(text: str) -> None:
    from depscan.declared.requirements_txt import MAX_ENTRIES, MAX_ERRORS

    started = time.perf_counter()
    declared = parse("requirements.txt", text)
    assert time.perf_counter() - started < 3.0  # about 0.5 s here; generous for loaded machines
    assert len(declared.requirements) <= MAX_ENTRIES and len(declared.errors) <= MAX_ERRORS + 2
    assert declared.errors  # what was not read is said


def test_error_lines_are_capped_with_a_count() -> None:
    from depscan.declared.requirements_txt import MAX_ERRORS

    declared = parse("requirements.txt", "six==1.16.0\n" + "bad line\n" * 60)
    assert len(declared.errors) == MAX_ERRORS + 1
    assert declared.errors[-1] == (0, f"{60 - MAX_ERRORS} more line(s) that cannot be read (the first {MAX_ERRORS} "
                                      "are named)")
