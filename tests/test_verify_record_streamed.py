"""``--verify-record`` on compressed tars and compressed image layers: read in one streaming pass that keeps
only what catalogers read, so the files a RECORD lists are judged by the sha256 and size that pass computed
of every member as it streamed by (``OpenContext.digests``). The findings must be those of the same files in a
zip (read again at random); what the pass did not hash is an Unknown, never "verified"."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import tarfile
from pathlib import Path
from typing import Any

import pytest
from builders import dist, write_tar, write_zip

from depscan.artifacts.detect import open_artifact
from depscan.artifacts.limits import Limits
from depscan.artifacts.view import OpenContext
from depscan.config import ScanConfig
from depscan.models import Location, ScanResult
from depscan.record_check import MISSING, MODIFIED, UNLISTED
from depscan.scan import run
from tests.artifacts.test_image import as_json, compress, oci_blobs, oci_single, tar_bytes, write_dir, write_tar_file

SITE = "usr/lib/python3.12/site-packages"
ELF_SO = f"{SITE}/requests/_speedups.cpython-312-x86_64-linux-gnu.so"
TABLES = f"{SITE}/requests/tables.bin"


def verified(path: Path, limits: Limits | None = None) -> ScanResult:
    return run(ScanConfig(str(path), limits=limits or Limits(), verify_record=True))


def installed() -> dict[str, bytes]:
    """A distribution as pip installs it: a package, a subpackage, a data file and an ELF extension (of which
    a streaming pass keeps only the header)."""
    return dist("requests", "2.31.0", root=SITE, modules={
        "requests/__init__.py": b"from .api import get\n",
        "requests/api.py": b"def get(url):\n    return url\n",
        "requests/adapters/__init__.py": b"",
        "requests/adapters/http.py": b"class HTTPAdapter: pass\n",
        "requests/py.typed": b"",
        "requests/_speedups.cpython-312-x86_64-linux-gnu.so": b"\x7fELF\x02\x01\x01" + bytes(57) + b"code" * 4096,
        "requests/tables.bin": b"T" * 5000,  # a name that may be ELF: its first bytes are kept, no more
    })


def tampered() -> dict[str, bytes]:
    """What was deployed: a modified module (not kept by the pass), a modified package ``__init__`` (kept
    whole: the vendored-code cataloger reads it), a modified extension past its header (kept as a prefix),
    a missing file and an unlisted one."""
    files = installed()
    files[f"{SITE}/requests/api.py"] = b"def get(url):\n    return evl\n"  # same size: only the hash tells
    files[f"{SITE}/requests/__init__.py"] = b"import os; os.system('x')\n"
    files[ELF_SO] = files[ELF_SO][:-4] + b"evil"
    files[TABLES] = b"T" * 4999 + b"U"  # changed past the prefix the pass keeps
    del files[f"{SITE}/requests/py.typed"]
    files[f"{SITE}/requests/hook.py"] = b"import socket\n"
    return files


def judged(result: ScanResult) -> list[tuple[str, str, str]]:
    """The findings without their layer (a zip has none, an image has diff_ids)."""
    return sorted((f.rule, f.location.path, f.message) for f in result.policy_findings)


def expected_rules(result: ScanResult) -> None:
    assert judged(result) and {rule for rule, _p, _m in judged(result)} == {MODIFIED, MISSING, UNLISTED}
    modified = sorted(path for rule, path, _m in judged(result) if rule == MODIFIED)
    assert modified == sorted([f"{SITE}/requests/api.py", f"{SITE}/requests/__init__.py", ELF_SO, TABLES])
    assert not [u for u in result.unknowns if "--verify-record" in u.reason]


@pytest.mark.parametrize("mode", ["w:gz", "w:bz2", "w:xz"])
def test_a_compressed_tar_gives_the_findings_of_the_same_files_in_a_zip(tmp_path: Path, mode: str) -> None:
    files = tampered()
    from_zip = verified(write_zip(tmp_path / "site.zip", files))
    expected_rules(from_zip)
    from_tar = verified(write_tar(tmp_path / "site.tar.x", files, mode=mode))
    assert judged(from_tar) == judged(from_zip)
    expected_rules(from_tar)
    # every hashed row that has a file was judged, from the same bytes
    assert from_tar.stats["record_files_checked"] == from_zip.stats["record_files_checked"]
    assert from_tar.stats["record_bytes_read"] == from_zip.stats["record_bytes_read"]
    # what the catalogers did not keep whole (api.py, http.py, the prefix-only tables.bin) was judged by
    # the pass's digests
    assert from_tar.stats["record_files_streamed"] >= 3
    assert from_zip.stats["record_files_streamed"] == 0


def test_an_untouched_compressed_tar_is_clean_and_every_row_is_judged(tmp_path: Path) -> None:
    result = verified(write_tar(tmp_path / "site.tar.gz", installed(), mode="w:gz"))
    assert result.policy_findings == ()
    assert result.unknowns == ()
    assert result.stats["record_files_checked"] == 10  # 7 package files + METADATA, WHEEL, INSTALLER


def test_a_hard_link_is_judged_by_its_target_digest(tmp_path: Path) -> None:
    files = installed()
    body = files.pop(f"{SITE}/requests/adapters/http.py")
    files[f"{SITE}/requests/other.py"] = body  # unlisted, but its bytes are the listed file's
    tar = write_tar(tmp_path / "site.tar.gz", files, mode="w:gz",
                    hardlinks={f"{SITE}/requests/adapters/http.py": f"{SITE}/requests/other.py"})
    result = verified(tar)
    assert [(f.rule, f.location.path) for f in result.policy_findings] == [(UNLISTED, f"{SITE}/requests/other.py")]
    assert not [u for u in result.unknowns if "--verify-record" in u.reason]


def test_without_the_option_a_streaming_pass_hashes_nothing(tmp_path: Path) -> None:
    tar = write_tar(tmp_path / "site.tar.gz", installed(), mode="w:gz")
    with open_artifact(str(tar), OpenContext()) as view:
        assert view.digest(f"{SITE}/requests/api.py") is None
    with open_artifact(str(tar), OpenContext(digests=True)) as view:
        data = installed()[f"{SITE}/requests/api.py"]
        assert view.digest(f"{SITE}/requests/api.py") == (hashlib.sha256(data).digest(), len(data))
        assert view.digest("no/such/file") is None


def test_a_member_over_the_size_limit_is_judged_by_its_digest_not_read(tmp_path: Path) -> None:
    files = installed()
    big = f"{SITE}/requests/cacert.pem"
    files |= dist("requests", "2.31.0", root=SITE, modules={
        **{p.removeprefix(f"{SITE}/"): d for p, d in files.items() if p.startswith(f"{SITE}/requests/")},
        "requests/cacert.pem": b"C" * 5000})
    files[big] = b"C" * 4999 + b"D"
    limits = Limits(max_member_bytes=4096)
    from_zip = verified(write_zip(tmp_path / "site.zip", files), limits)
    assert [u.reason for u in from_zip.unknowns if big in u.location.path]  # a zip cannot read it: an Unknown
    from_tar = verified(write_tar(tmp_path / "site.tar.gz", files, mode="w:gz"), limits)
    assert [(f.rule, f.location.path) for f in from_tar.policy_findings] == [(MODIFIED, big)]


def test_a_row_with_another_algorithm_is_an_unknown_not_a_verdict(tmp_path: Path) -> None:
    files = installed()
    record_path = f"{SITE}/requests-2.31.0.dist-info/RECORD"
    data = files[f"{SITE}/requests/api.py"]
    sha512 = hashlib.sha512(data).digest()
    encoded = base64.urlsafe_b64encode(sha512).rstrip(b"=").decode()
    rows = [line for line in files[record_path].decode().splitlines() if not line.startswith("requests/api.py,")]
    files[record_path] = "\n".join([*rows, f"requests/api.py,sha512={encoded},{len(data)}", ""]).encode()
    from_zip = verified(write_zip(tmp_path / "site.zip", files))
    assert from_zip.policy_findings == () and from_zip.stats["record_files_checked"] == 10
    from_tar = verified(write_tar(tmp_path / "site.tar.gz", files, mode="w:gz"))
    assert from_tar.policy_findings == ()
    (unknown,) = [u for u in from_tar.unknowns if "--verify-record" in u.reason]
    assert unknown.location.path == f"{SITE}/requests/api.py"
    assert "computed its sha256 only" in unknown.reason and "sha512" in unknown.reason
    assert from_tar.stats["record_files_checked"] == 9


# -- images with compressed layers --------------------------------------------------------


def layered() -> tuple[list[bytes], dict[str, bytes]]:
    """Two layers: pip's install, then a layer that rewrites api.py and the extension, whites out py.typed and
    adds hook.py; and the filesystem the runtime sees (the zip equivalent)."""
    lower = installed()
    upper_files = {
        f"{SITE}/requests/api.py": b"def get(url):\n    return evl\n",
        ELF_SO: lower[ELF_SO][:-4] + b"evil",
        TABLES: b"T" * 4999 + b"U",
        f"{SITE}/requests/hook.py": b"import socket\n",
        f"{SITE}/requests/.wh.py.typed": b"",
    }
    # __init__.py is modified in the lower layer already (a layer below the one that fixes nothing)
    lower_tampered = dict(lower)
    lower_tampered[f"{SITE}/requests/__init__.py"] = b"import os; os.system('x')\n"
    merged = {p: d for p, d in lower_tampered.items() if not p.endswith("py.typed")}
    merged |= {p: d for p, d in upper_files.items() if ".wh." not in p}
    layers = [tar_bytes(dict(lower_tampered)), tar_bytes(dict(upper_files))]
    return layers, merged


def docker_save(layers: list[bytes], how: str) -> tuple[dict[str, Any], list[str]]:
    """A ``docker save`` archive whose layer members are compressed with ``how`` (as registries store them)."""
    blobs, _descriptor, diff_ids, config_path = oci_blobs(layers, how)
    layer_paths = [f"blobs/sha256/{hashlib.sha256(compress(layer, how)).hexdigest()}" for layer in layers]
    assert all(path in blobs for path in layer_paths)
    members: dict[str, Any] = {**blobs}
    members["manifest.json"] = as_json([{"Config": config_path, "RepoTags": ["demo:latest"], "Layers": layer_paths}])
    return dict(sorted(members.items())), diff_ids


@pytest.mark.parametrize(("how", "outer"), [("gzip", ""), ("gzip", "gzip"), ("zstd", "gzip")])
def test_an_image_with_compressed_layers_gives_the_findings_of_the_merged_files_in_a_zip(
    tmp_path: Path, how: str, outer: str
) -> None:
    layers, merged = layered()
    from_zip = verified(write_zip(tmp_path / "rootfs.zip", merged))
    expected_rules(from_zip)
    members, diff_ids = docker_save(layers, how)
    image = write_tar_file(tmp_path / "image.tar", members, outer)
    result = verified(image)
    assert result.artifact.kind == "docker-archive"
    assert judged(result) == judged(from_zip)
    expected_rules(result)
    # each finding is in the layer the runtime sees the file from
    layer_of = {f.location.path: f.location.layer for f in result.policy_findings}
    assert layer_of[f"{SITE}/requests/api.py"] == diff_ids[1]  # the upper layer's copy, not the lower's
    assert layer_of[ELF_SO] == layer_of[TABLES] == diff_ids[1]
    assert layer_of[f"{SITE}/requests/__init__.py"] == diff_ids[0]
    assert layer_of[f"{SITE}/requests/hook.py"] == diff_ids[1]
    assert Location(f"{SITE}/requests/py.typed", diff_ids[0]) in {f.location for f in result.policy_findings}


@pytest.mark.parametrize("how", ["gzip", "zstd"])
def test_an_oci_layout_directory_with_compressed_layers_gives_the_same_findings(tmp_path: Path, how: str) -> None:
    layers, merged = layered()
    from_zip = verified(write_zip(tmp_path / "rootfs.zip", merged))
    files, diff_ids = oci_single(layers, how)
    result = verified(write_dir(tmp_path / "layout", files))
    assert result.artifact.kind == "oci"
    assert judged(result) == judged(from_zip)
    expected_rules(result)
    assert {f.location.layer for f in result.policy_findings} == set(diff_ids)


def test_an_upper_layer_that_restores_a_file_clears_the_lower_tampering(tmp_path: Path) -> None:
    good = installed()
    lower = dict(good)
    lower[f"{SITE}/requests/api.py"] = b"tampered\n"
    upper = {f"{SITE}/requests/api.py": good[f"{SITE}/requests/api.py"]}
    members, _ids = docker_save([tar_bytes(dict(lower)), tar_bytes(dict(upper))], "gzip")
    result = verified(write_tar_file(tmp_path / "image.tar", members, "gzip"))
    assert result.policy_findings == ()
    assert not [u for u in result.unknowns if "--verify-record" in u.reason]


def test_a_gzip_layer_member_is_hashed_as_decompressed(tmp_path: Path) -> None:
    """The digest is of the file's bytes, not of the compressed layer around them."""
    files = installed()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    path = tmp_path / "site.tgz"
    path.write_bytes(gzip.compress(buffer.getvalue()))
    with open_artifact(str(path), OpenContext(digests=True)) as view:
        for name, data in files.items():
            assert view.digest(name) == (hashlib.sha256(data).digest(), len(data)), name
