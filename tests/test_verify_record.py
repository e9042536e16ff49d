"""``--verify-record``: files against their RECORD rows. Zips built with ``fixtures/builders.dist`` (which
writes real RECORDs: sha256, urlsafe base64, sizes), then tampered with: each rule fires and does not fire."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from builders import dist, write_tar, write_zip, zip_bytes

from depscan.artifacts.limits import Limits
from depscan.config import ScanConfig
from depscan.models import Level, Location, PolicyFinding, ScanResult
from depscan.record_check import MAX_PER_RULE, MAX_UNREADABLE, MISSING, MODIFIED, RULES, UNLISTED
from depscan.reporters.sarif import POLICY_RULE_TEXT
from depscan.scan import run
from tests.artifacts.test_image import docker_25, tar_bytes, write_tar_file
from tests.helpers import cli, view_of

SITE = "python/lib/python3.12/site-packages"


def verified(path: Path, *layers: Path, limits: Limits | None = None) -> ScanResult:
    return run(ScanConfig(str(path), tuple(map(str, layers)), limits=limits or Limits(), verify_record=True))


def by_rule(result: ScanResult, rule: str) -> list[PolicyFinding]:
    return [f for f in result.policy_findings if f.rule == rule]


def record_b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def requests_like(root: str = "") -> dict[str, bytes]:
    """A distribution with a package, a subpackage and a data file."""
    return dist("requests", "2.31.0", root=root, modules={
        "requests/__init__.py": b"from .api import get\n",
        "requests/certs.zip": zip_bytes({"ca/one.pem": b"cert\n"}),  # a nested archive: its members are unlisted
        "requests/api.py": b"def get(url):\n    return url\n",
        "requests/adapters/__init__.py": b"",
        "requests/adapters/http.py": b"class HTTPAdapter: pass\n",
        "requests/py.typed": b"",
    })


def test_an_untouched_distribution_has_no_findings_and_every_hashed_row_is_read(tmp_path: Path) -> None:
    files = requests_like() | {"requests/__pycache__/api.cpython-312.pyc": b"\x00compiled", "app.py": b"x"}
    result = verified(write_zip(tmp_path / "f.zip", files))
    assert result.policy_findings == ()
    assert result.unknowns == ()
    # 6 package files + METADATA, WHEEL, INSTALLER; the RECORD's own row has no hash
    assert result.stats["record_files_checked"] == 9
    assert result.stats["record_rows_without_hash"] == 1
    assert result.stats["record_distributions"] == 1


def test_without_the_option_nothing_is_read_or_reported(tmp_path: Path) -> None:
    files = requests_like()
    files["requests/api.py"] = b"import os; os.system('curl evil')\n"
    del files["requests/py.typed"]
    files["requests/evil.py"] = b"x"
    path = write_zip(tmp_path / "f.zip", files)
    plain = run(ScanConfig(str(path)))
    assert plain.policy_findings == ()
    assert not any(key.startswith("record_") for key in plain.stats)
    checked = verified(path)
    assert {f.rule for f in checked.policy_findings} == {MODIFIED, MISSING, UNLISTED}
    assert int(checked.stats["bytes_read"]) > int(plain.stats["bytes_read"])


def test_a_modified_file_names_both_hashes_sizes_and_the_distribution(tmp_path: Path) -> None:
    files = requests_like()
    original = files["requests/api.py"]
    changed = original.replace(b"url", b"evl")  # same size: only the hash tells
    assert len(changed) == len(original)
    files["requests/api.py"] = changed
    (finding,) = verified(write_zip(tmp_path / "f.zip", files)).policy_findings
    assert finding.rule == MODIFIED and finding.level is Level.HIGH
    assert finding.location.path == "requests/api.py"
    assert finding.component == "pkg:pypi/requests@2.31.0"
    assert f"sha256={record_b64(original)} and {len(original)} bytes" in finding.message
    assert f"sha256={record_b64(changed)} and {len(changed)} bytes" in finding.message
    assert "requests 2.31.0 (requests-2.31.0.dist-info)" in finding.message


def test_a_size_that_differs_alone_is_a_modification(tmp_path: Path) -> None:
    files = requests_like()
    record = files["requests-2.31.0.dist-info/RECORD"].decode()
    size = len(files["requests/api.py"])
    files["requests-2.31.0.dist-info/RECORD"] = record.replace(
        f"requests/api.py,sha256={record_b64(files['requests/api.py'])},{size}",
        f"requests/api.py,sha256={record_b64(files['requests/api.py'])},{size + 1}").encode()
    (finding,) = verified(write_zip(tmp_path / "f.zip", files)).policy_findings
    assert finding.rule == MODIFIED and f"{size + 1} bytes, the file has" in finding.message


def test_a_tampered_ca_bundle_is_an_added_root_certificate(tmp_path: Path) -> None:
    files = dist("certifi", "2024.2.2", root=SITE, modules={
        "certifi/__init__.py": b"from .core import where\n",
        "certifi/cacert.pem": b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    })
    files[f"{SITE}/certifi/cacert.pem"] += b"-----BEGIN CERTIFICATE-----\nEVIL\n-----END CERTIFICATE-----\n"
    (finding,) = verified(write_zip(tmp_path / "layer.zip", files)).policy_findings
    assert finding.rule == MODIFIED and finding.level is Level.HIGH
    assert finding.location.path == f"{SITE}/certifi/cacert.pem"
    assert "root certificates were added" in finding.message
    assert finding.component == "pkg:pypi/certifi@2024.2.2"


def test_a_modified_pyc_is_medium(tmp_path: Path) -> None:
    files = dist("attrs", "23.1.0", modules={"attrs/__init__.py": b"", "attrs/__pycache__/x.cpython-312.pyc": b"abc"})
    files["attrs/__pycache__/x.cpython-312.pyc"] = b"abd"
    (finding,) = verified(write_zip(tmp_path / "f.zip", files)).policy_findings
    assert finding.rule == MODIFIED and finding.level is Level.MEDIUM and "byte-code" in finding.message


def test_a_missing_file_is_reported_but_stripped_bytecode_and_files_outside_site_packages_are_noted(
    tmp_path: Path,
) -> None:
    files = dist("tool", "1.0", root=SITE, modules={
        "tool/__init__.py": b"", "tool/core.py": b"def main(): pass\n",
        "tool/__pycache__/core.cpython-312.pyc": b"\x00", "../../../bin/tool": b"#!/bin/sh\n",
    })
    del files[f"{SITE}/tool/core.py"]
    del files[f"{SITE}/tool/__pycache__/core.cpython-312.pyc"]
    del files[f"{SITE}/../../../bin/tool"]
    result = verified(write_zip(tmp_path / "layer.zip", files))
    (finding,) = result.policy_findings
    assert finding.rule == MISSING and finding.level is Level.LOW
    assert finding.location.path == f"{SITE}/tool/core.py"
    assert f"sha256={record_b64(b'def main(): pass' + bytes([10]))}, 17 bytes" in finding.message
    (note,) = [n for n in result.notes if n.startswith("--verify-record")]
    assert "1 byte-code file(s)" in note and "1 file(s) outside site-packages" in note


def test_unlisted_files_in_a_distribution_directory_are_reported_and_others_are_not(tmp_path: Path) -> None:
    files = requests_like() | dist("protobuf", "4.25.0", modules={"google/protobuf/__init__.py": b""}) | dist(
        "googleapis-common-protos", "1.62.0", modules={"google/api/__init__.py": b""})
    files |= {
        "requests/backdoor.py": b"import socket\n",  # beside listed files
        "requests/adapters/extra/payload.py": b"x",  # a new directory below a listed one
        "requests/__pycache__/api.cpython-312.pyc": b"\x00",  # byte-code compiled after install
        "requests/cache.pyc": b"\x00",
        "requests-2.31.0.dist-info/NOTES": b"added",  # inside the dist-info
        "six.py": b"",  # a top-level module nobody lists: the vendored-code check's business
        "google/stray.py": b"",  # a namespace directory: nobody's own
        "handler.py": b"",
    }
    found = {f.location.path: f for f in verified(write_zip(tmp_path / "f.zip", files)).policy_findings}
    assert set(found) == {"requests/backdoor.py", "requests/adapters/extra/payload.py",
                          "requests-2.31.0.dist-info/NOTES"}
    for finding in found.values():
        assert finding.rule == UNLISTED and finding.level is Level.MEDIUM
        assert finding.component == "pkg:pypi/requests@2.31.0"
    payload = found["requests/adapters/extra/payload.py"]
    assert "in requests/adapters/, a directory of requests 2.31.0" in payload.message


def test_a_shadowed_copy_is_checked_too_and_says_so(tmp_path: Path) -> None:
    function = write_zip(tmp_path / "function.zip", {"app.py": b""} | dist("six", "1.16.0"))
    layer_files = dist("six", "1.10.0", root=SITE, modules={"six.py": b"# six 1.10\n"})
    layer_files[f"{SITE}/six.py"] = b"# six 1.1X\n"
    layer = write_zip(tmp_path / "layer.zip", layer_files)
    (finding,) = verified(function, layer).policy_findings
    assert finding.rule == MODIFIED
    assert finding.location == Location(f"opt/{SITE}/six.py", "layer.zip")
    assert "a shadowed copy the runtime does not import" in finding.message
    assert finding.component == "pkg:pypi/six@1.10.0"


def test_many_files_are_capped_per_distribution_and_rule(tmp_path: Path) -> None:
    files = requests_like() | {f"requests/added_{n:02}.py": b"" for n in range(MAX_PER_RULE + 5)}
    findings = verified(write_zip(tmp_path / "f.zip", files)).policy_findings
    assert len(findings) == MAX_PER_RULE + 1
    summary = findings[-1]
    assert summary.location.path == "requests-2.31.0.dist-info/METADATA"
    assert summary.message.startswith("5 more file(s) of requests 2.31.0")


def test_an_unreadable_file_is_an_unknown_not_a_verdict(tmp_path: Path) -> None:
    big = b"# padding\n" * 300
    files = dist("big", "1.0", modules={"big/__init__.py": big})
    files["big/__init__.py"] = big.replace(b"padding", b"changed")  # modified, but too large to read here
    result = verified(write_zip(tmp_path / "f.zip", files), limits=Limits(max_member_bytes=2000))
    assert result.policy_findings == ()
    (unknown,) = [u for u in result.unknowns if "--verify-record" in u.reason]
    assert unknown.location.path == "big/__init__.py"


def test_rows_with_an_algorithm_hashlib_lacks_are_noted_not_judged(tmp_path: Path) -> None:
    files = dist("odd", "1.0")
    record = files["odd-1.0.dist-info/RECORD"].decode()
    files["odd-1.0.dist-info/RECORD"] = record.replace("odd/__init__.py,sha256=", "odd/__init__.py,blake3=").encode()
    files["odd/__init__.py"] = b"changed\n"
    result = verified(write_zip(tmp_path / "f.zip", files))
    assert result.policy_findings == ()
    assert any("blake3 (1)" in note for note in result.notes)


def test_cli_option_sarif_rules_and_fail_on(tmp_path: Path) -> None:
    files = requests_like()
    del files["requests/py.typed"]
    folder = tmp_path / "dir with space"
    folder.mkdir()
    path = write_zip(folder / "f.zip", files)
    sarif = tmp_path / "out.sarif"
    done = cli("scan", path, "--source", "skip", "--verify-record", "-o", f"sarif={sarif}")
    assert done.returncode == 1, done.stderr
    run_ = json.loads(sarif.read_text())["runs"][0]
    (rule,) = run_["tool"]["driver"]["rules"]
    assert rule["shortDescription"]["text"] == "A file its distribution's RECORD lists is missing"
    assert rule["properties"]["tags"] == ["policy", "integrity"]
    assert run_["results"][0]["properties"]["component"] == "pkg:pypi/requests@2.31.0"
    # record-missing is low: --fail-on medium lets it pass; without the option nothing is checked
    assert cli("scan", path, "--source", "skip", "--verify-record", "--fail-on", "medium").returncode == 0
    assert cli("scan", path, "--source", "skip").returncode == 0


def test_a_vendored_distribution_is_checked_through_the_vendoring_record(tmp_path: Path) -> None:
    inner = dist("html5lib", "1.1", root="bleach/_vendor", modules={"html5lib/sanitizer.py": b"allowed = 1\n"})
    inner["bleach/_vendor/html5lib/sanitizer.py"] = b"allowed = 2\n"  # bleach patches what it vendors
    outer = dist("bleach", "6.0.0", modules={"bleach/__init__.py": b"", **inner})
    path = write_zip(tmp_path / "f.zip", outer)
    result = verified(path)
    assert result.policy_findings == ()
    assert result.stats["record_vendored_skipped"] == 1
    # a change after install is still seen, through bleach's RECORD
    write_zip(path, outer | {"bleach/_vendor/html5lib/sanitizer.py": b"allowed = 3\n"})
    (finding,) = verified(path).policy_findings
    assert finding.rule == MODIFIED and finding.component == "pkg:pypi/bleach@6.0.0"


def test_members_of_a_listed_nested_archive_are_not_unlisted(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "f.zip", requests_like())
    result = verified(path)
    with view_of(path) as view:
        assert view.get("requests/certs.zip!/ca/one.pem") is not None  # grafted, yet not reported
    assert result.policy_findings == ()


def test_a_plain_tar_and_a_compressed_one_are_verified(tmp_path: Path) -> None:
    files = {f"usr/lib/python3.12/site-packages/{p}": d for p, d in requests_like().items()}
    files["usr/lib/python3.12/site-packages/requests/api.py"] = b"tampered\n"
    (finding,) = verified(write_tar(tmp_path / "rootfs.tar", files)).policy_findings
    assert finding.rule == MODIFIED and finding.location.path.endswith("requests/api.py")
    # A compressed tar is read in one streaming pass that keeps only the metadata files: with the option, that
    # pass hashes every member as it streams by, and the files it did not keep are judged by those digests
    # (tests/test_verify_record_streamed.py has the rest).
    many = dist("lots", "1.0", root="usr/lib/python3.12/site-packages",
                modules={f"lots/m{n}.py": b"" for n in range(MAX_UNREADABLE + 2)})
    result = verified(write_tar(tmp_path / "rootfs.tar.gz", files | many, mode="w:gz"))
    assert [(f.rule, f.location.path) for f in result.policy_findings] == [(MODIFIED, finding.location.path)]
    assert result.policy_findings[0].message == finding.message
    assert not [u for u in result.unknowns if "--verify-record" in u.reason]
    assert result.stats["record_files_streamed"] >= MAX_UNREADABLE + 2


def test_an_image_layer_that_changes_removes_and_adds_files_is_seen_with_its_layer(tmp_path: Path) -> None:
    site = "usr/local/lib/python3.12/site-packages"
    base = tar_bytes(dict(dist("requests", "2.31.0", root=site, modules={
        "requests/__init__.py": b"", "requests/api.py": b"def get(): pass\n", "requests/help.py": b"# help\n"})))
    patch = tar_bytes({f"{site}/requests/api.py": b"def get(): steal()\n",  # an upper layer rewrites it
                       f"{site}/requests/.wh.help.py": b"",  # and deletes this one (a whiteout)
                       f"{site}/requests/hook.py": b"import os\n"})
    members, diff_ids = docker_25([base, patch])
    result = verified(write_tar_file(tmp_path / "image.tar", members, ""))
    found = {f.rule: f for f in result.policy_findings}
    assert set(found) == {MODIFIED, MISSING, UNLISTED}
    assert found[MODIFIED].location == Location(f"{site}/requests/api.py", diff_ids[1])
    assert found[MISSING].location.path == f"{site}/requests/help.py"
    assert found[UNLISTED].location == Location(f"{site}/requests/hook.py", diff_ids[1])


def test_rule_levels_are_documented_and_every_rule_has_sarif_texts() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for rule, level in RULES.items():
        assert f"| `{rule}` | {level.value}" in readme
    assert set(RULES) <= set(POLICY_RULE_TEXT)


def test_a_modified_shared_library_mentions_stripping(tmp_path: Path) -> None:
    files = dist("lxml", "5.2.1", modules={"lxml/__init__.py": b"", "lxml/etree.cpython-312-x86_64-linux-gnu.so":
                                          b"\x7fELF" + bytes(60) + b"symbols"})
    files["lxml/etree.cpython-312-x86_64-linux-gnu.so"] = b"\x7fELF" + bytes(60)
    modified = by_rule(verified(write_zip(tmp_path / "f.zip", files)), MODIFIED)
    assert [f.location.path for f in modified] == ["lxml/etree.cpython-312-x86_64-linux-gnu.so"]
    assert "stripping debug symbols" in modified[0].message and modified[0].level is Level.HIGH
