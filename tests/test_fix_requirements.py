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
        "pip-compile --upgrade-package urllib3==1.26.19 requirements.in -o requirements.txt",)
    assert lock_commands("uv.lock", "", [advice]) == ("uv lock --upgrade-package urllib3==1.26.19",)
    text = compiled + "urllib3==1.23\n"
    declared = parse("requirements.txt", text)
    advice = FixAdvice(component_key="k", name="urllib3", normalized_name="urllib3", purl="p",
                       path=f"requirements.txt:{declared.requirements[0].line}", current="1.23",
                       recommended="1.26.19")
    fixed = plan(declared, text, [advice])
    assert not fixed.changed and fixed.commands and "generated or lock file" in (fixed.pins[0].why_not or "")
