"""``depscan fix --requirements``: the diff keeps the file as written, the hashes come from the index, and
the round trip (fix --write, then check the file again) leaves no finding on the fixed pins."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import responses
from typer.testing import CliRunner

from depscan.cli import app
from depscan.declared.requirements_txt import parse
from depscan.fix_requirements import lock_commands, plan
from depscan.models import FixAdvice

REPO = Path(__file__).resolve().parent.parent
SUBSET = REPO / "fixtures" / "advisories" / "pypi-subset.zip"
INDEX = "https://index.example.test/simple/"
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"

REQUIREMENTS = """\
# Deployment pins (pip-compile style, edited by hand)
--index-url https://pypi.org/simple

requests==2.19.1  # HTTP
    # via the handler
urllib3==1.23 ; python_version >= "3" \\
    --hash=sha256:{u1} \\
    --hash=sha256:{u2}
Jinja2[i18n]==2.10 --hash=sha256:{j1}
six==1.16.0
"""


def _digest(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def _file(filename: str, *, yanked: bool | str = False, requires_python: str | None = None) -> dict[str, object]:
    return {"filename": filename, "url": f"../../files/{filename}", "hashes": {"sha256": _digest(filename)},
            "requires-python": requires_python, "yanked": yanked, "core-metadata": False}


PAGES = {
    "requests": ["requests-2.19.1-py2.py3-none-any.whl", "requests-2.31.0-py3-none-any.whl",
                 "requests-2.31.0.tar.gz", "requests-2.32.3-py3-none-any.whl", "requests-2.32.3.tar.gz"],
    "urllib3": ["urllib3-1.23-py2.py3-none-any.whl", "urllib3-1.26.18-py2.py3-none-any.whl",
                "urllib3-1.26.18.tar.gz", "urllib3-1.26.19-py2.py3-none-any.whl", "urllib3-1.26.19.tar.gz",
                "urllib3-2.2.2-py3-none-any.whl"],
    "jinja2": ["Jinja2-2.10-py2.py3-none-any.whl", "Jinja2-2.11.3-py2.py3-none-any.whl", "Jinja2-2.11.3.tar.gz",
               "jinja2-3.1.4-py3-none-any.whl", "jinja2-3.1.4.tar.gz"],
    "six": ["six-1.16.0-py2.py3-none-any.whl", "six-1.16.0.tar.gz"],
}
YANKED = {"urllib3-1.26.18-py2.py3-none-any.whl", "urllib3-1.26.18.tar.gz"}  # the release is yanked


def _serve(mock: responses.RequestsMock) -> None:
    for project, files in PAGES.items():
        body = {"meta": {"api-version": "1.1"}, "name": project,
                "files": [_file(f, yanked="broken build" if f in YANKED else False) for f in files]}
        mock.add(responses.GET, f"{INDEX}{project}/", body=json.dumps(body), content_type=SIMPLE_JSON)


@pytest.fixture
def requirements(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("DEPSCAN_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "requirements.txt"
    path.write_text(REQUIREMENTS.format(u1="1" * 64, u2="2" * 64, j1="3" * 64))
    return path


def _fix(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["fix", "--requirements", "requirements.txt", "--advisories", str(SUBSET),
                                      "--db", "db.sqlite", *args])
    return result.exit_code, result.stdout, result.stderr


def test_round_trip_with_the_index(requirements: Path) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        _serve(mock)
        code, out, err = _fix("--check-index", "--index-url", INDEX, "--runtime", "python3.12", "--write")
    assert code == 0, err
    text = requirements.read_text()
    # versions: the smallest safe release that exists and is not yanked (1.26.18 is yanked here)
    assert "requests==2.31.0  # HTTP\n    # via the handler\n" in text
    assert 'urllib3==1.26.19 ; python_version >= "3" \\\n' in text
    # hashes: every installable file of the new release, in the file's own layout
    assert (f"    --hash=sha256:{_digest('urllib3-1.26.19-py2.py3-none-any.whl')} \\\n"
            f"    --hash=sha256:{_digest('urllib3-1.26.19.tar.gz')}\n") in text
    assert (f"Jinja2[i18n]==2.11.3 --hash=sha256:{_digest('Jinja2-2.11.3-py2.py3-none-any.whl')} "
            f"--hash=sha256:{_digest('Jinja2-2.11.3.tar.gz')}\n") in text
    assert "1" * 64 not in text and "3" * 64 not in text
    # everything else as written: comments, options, blank lines, order, the untouched pin
    assert text.startswith("# Deployment pins (pip-compile style, edited by hand)\n--index-url https://pypi.org/simple\n\n")
    assert text.endswith("six==1.16.0\n")
    # the rescan: the fixed file has no vulnerable pin left
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        _serve(mock)
        code, out, err = _fix("--check-index", "--index-url", INDEX, "--runtime", "python3.12")
    assert code == 0 and out == "" and "no vulnerable pin (4 pin(s) checked)" in err
    declared = parse("requirements.txt", text)
    assert {r.name: r.pinned for r in declared.requirements} == {
        "requests": "2.31.0", "urllib3": "1.26.19", "jinja2": "2.11.3", "six": "1.16.0"}


def test_offline_diff_leaves_hashed_pins_and_says_why(requirements: Path) -> None:
    before = requirements.read_text()
    code, out, err = _fix()
    assert code == 1  # changes are proposed, nothing written
    assert requirements.read_text() == before
    assert out.startswith("--- a/requirements.txt\n+++ b/requirements.txt\n")
    assert "-requests==2.19.1  # HTTP\n+requests==2.31.0  # HTTP\n" in out
    assert "urllib3" not in out.replace("urllib3==1.23 ; python_version", "")  # hashed: not rewritten offline
    assert "hashes of" in err and "--check-index" in err


def test_generated_and_lock_files_get_commands() -> None:
    advice = FixAdvice(component_key="k", name="urllib3", normalized_name="urllib3", purl="pkg:pypi/urllib3@1.23",
                       path="requirements.txt:3", current="1.23", recommended="1.26.19")
    compiled = "#\n# This file is autogenerated by pip-compile with Python 3.12\n#    pip-compile requirements.in\n#\n"
    assert lock_commands("requirements.txt", compiled, [advice]) == (
        "pip-compile requirements.in --upgrade-package urllib3==1.26.19 -o requirements.txt",)
    # the header's options are kept (a compile without --generate-hashes drops every hash); paths quoted
    header = ("# This file is autogenerated by pip-compile with Python 3.12\n"
              "#    pip-compile --generate-hashes --output-file='my reqs.txt' 'my reqs.in'\n")
    assert lock_commands("my reqs.txt", header, [advice]) == (
        "pip-compile --generate-hashes 'my reqs.in' --upgrade-package urllib3==1.26.19 -o 'my reqs.txt'",)
    uv = "# This file was autogenerated by uv via the following command:\n#    uv pip compile r.in -o r.txt\n"
    assert lock_commands("r.txt", uv, [advice]) == ("uv pip compile r.in --upgrade-package urllib3==1.26.19 -o r.txt",)
    assert lock_commands("uv.lock", "", [advice]) == ("uv lock --upgrade-package urllib3==1.26.19",)
    text = compiled + "urllib3==1.23\n"
    declared = parse("requirements.txt", text)
    advice = FixAdvice(component_key="k", name="urllib3", normalized_name="urllib3", purl="p",
                       path=f"requirements.txt:{declared.requirements[0].line}", current="1.23",
                       recommended="1.26.19")
    fixed = plan(declared, text, [advice])
    assert not fixed.changed and fixed.commands and "generated or lock file" in (fixed.pins[0].why_not or "")


# --- files as real tools and people write them (qa) -----------------------------------------------------------

HOSTILE = (b"# hand-written, CRLF, tabs, no newline at the end\r\n"
           b"requests==2.19.1\r\n"
           b"\tsix==1.16.0\r\n"
           b"Jinja2[i18n]===2.10 ; python_version >= \"3\"\r\n"
           b"urllib3==1.23  # via requests\r\n"
           b"-e git+https://example.test/x.git#egg=x\r\n"
           b"https://example.test/p-1.0.tar.gz\r\n"
           b"URLLIB3==1.23\r\n"
           b"six==1.16.0")


def test_crlf_duplicates_and_no_final_newline_patch_and_write_agree(requirements: Path) -> None:
    import shutil
    import subprocess

    requirements.write_bytes(HOSTILE)
    result = CliRunner().invoke(app, ["fix", "--requirements", "requirements.txt", "--advisories", str(SUBSET),
                                      "--db", "db.sqlite"])
    out, err = result.stdout_bytes.decode(), result.stderr  # .stdout would turn CRLF into LF
    assert result.exit_code == 1, err
    # the same pin written twice: both lines move (pip cannot resolve urllib3==1.26.18 with urllib3==1.23)
    assert "-URLLIB3==1.23\r\n+URLLIB3==1.26.18\r\n" in out
    assert out.endswith(" six==1.16.0\n\\ No newline at end of file\n")
    expected = (HOSTILE.replace(b"requests==2.19.1", b"requests==2.31.0").replace(b"===2.10 ", b"===2.11.3 ")
                .replace(b"urllib3==1.23", b"urllib3==1.26.18").replace(b"URLLIB3==1.23", b"URLLIB3==1.26.18"))
    if shutil.which("patch") is not None:
        diff = requirements.parent / "fix.diff"
        diff.write_text(out, newline="")
        subprocess.run(["patch", "-p1", "-s", "-i", str(diff)], cwd=requirements.parent, check=True)
        assert requirements.read_bytes() == expected
        requirements.write_bytes(HOSTILE)
    code, _out, err = _fix("--write")
    assert code == 0, err
    assert requirements.read_bytes() == expected  # every untouched byte (CRLF, tab, no final newline) kept


def test_rehash_keeps_crlf_and_replaces_sha384_and_sha512() -> None:
    text = ("urllib3[socks]==1.23 ; python_version >= \"3\" \\\r\n"
            f"    --hash=sha384:{'a' * 96} \\\r\n"
            f"    --hash=sha512:{'b' * 128}\r\n"
            "    # via requests\r\n"
            "six==1.16.0\r\n")
    new = ("sha256:" + "1" * 64, "sha512:" + "2" * 128)
    advice = FixAdvice(component_key="k", name="urllib3", normalized_name="urllib3", purl="pkg:pypi/urllib3@1.23",
                       path="r.txt:1", current="1.23", recommended="1.26.19", hashes=new)
    fixed = plan(parse("r.txt", text), text, [advice]).fixed
    assert fixed == ("urllib3[socks]==1.26.19 ; python_version >= \"3\" \\\r\n"
                     f"    --hash={new[0]} \\\r\n"
                     f"    --hash={new[1]}\r\n"
                     "    # via requests\r\n"
                     "six==1.16.0\r\n")
    assert parse("r.txt", fixed).requirements[0].hashes == new


def test_a_name_with_a_space_and_an_absolute_path_give_a_diff_patch_applies(requirements: Path) -> None:
    import shutil
    import subprocess

    spaced = requirements.parent / "my reqs.txt"
    spaced.write_text("requests==2.19.1\n")
    result = CliRunner().invoke(app, ["fix", "--requirements", str(spaced), "--advisories", str(SUBSET),
                                      "--db", "db.sqlite"])
    assert result.exit_code == 1, result.stderr
    assert result.stdout.startswith("--- a/my reqs.txt\t\n+++ b/my reqs.txt\t\n")  # relative to the cwd
    if shutil.which("patch") is None:
        pytest.skip("no patch program")
    subprocess.run(["patch", "-p1", "-s"], input=result.stdout, text=True, cwd=requirements.parent, check=True)
    assert spaced.read_text() == "requests==2.31.0\n"


def test_write_keeps_a_link_a_link_and_refuses_a_read_only_file(requirements: Path) -> None:
    real = requirements.parent / "real.txt"
    real.write_bytes(b"requests==2.19.1\r\n")
    requirements.unlink()
    requirements.symlink_to(real.name)
    code, _out, err = _fix("--write")
    assert code == 0, err
    assert requirements.is_symlink() and real.read_bytes() == b"requests==2.31.0\r\n"
    real.write_bytes(b"requests==2.19.1\n")
    real.chmod(0o444)
    code, _out, err = _fix("--write")
    assert code == 3 and "read-only" in err
    assert real.read_bytes() == b"requests==2.19.1\n"


def test_an_unreadable_line_is_incomplete_and_an_include_is_named(requirements: Path) -> None:
    requirements.write_text("-r base.txt\nsix==1.16.0 # " + "x" * 200_000 + "\n")
    code, _out, err = _fix()
    assert code == 5, err  # the file is not known clean: exit 5, never 0
    assert "NOT checked" in err
    requirements.write_text("-r base.txt\nsix==1.16.0\n")
    code, _out, err = _fix()
    assert code == 0, err
    assert "--requirement base.txt: its pins are not checked here: run depscan fix --requirements base.txt" in err


@pytest.mark.parametrize("content,message", [(b"\x7fELF\x02\x01\x01\x00\xff\xfe", "not UTF-8"), (None, "no such")])
def test_binary_and_missing_files_are_bad_input(requirements: Path, content: bytes | None, message: str) -> None:
    if content is None:
        requirements.unlink()
    else:
        requirements.write_bytes(content)
    code, _out, err = _fix()
    assert code == 3 and message in err


def test_a_byte_order_mark_is_read_past_and_kept(requirements: Path) -> None:
    requirements.write_bytes(b"\xef\xbb\xbfrequests==2.19.1\r\nsix==1.16.0\r\n")  # Notepad's UTF-8
    code, _out, err = _fix("--write")
    assert code == 0, err
    assert requirements.read_bytes() == b"\xef\xbb\xbfrequests==2.31.0\r\nsix==1.16.0\r\n"
