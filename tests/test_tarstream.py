"""ELF files in a streamed (compressed) tar are parsed and identified as the pass reads them
(``OpenContext.consume_whole``): the same facts as from a zip, and the bytes released, so that the
members after them (METADATA, RECORD) are never starved of ``max_kept_bytes``."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import zipfile
from pathlib import Path

import pytest

from depscan.artifacts.limits import Limits
from depscan.models import Location, NativeComponent, NativeLib, ScanResult
from tests.artifacts.test_image import DIR, compress, docker_legacy, oci_layout, tar_bytes, write_tar_file
from tests.helpers import dists, scan
from tests.test_native_ident import FREETYPE_WITH_ZLIB, PNG_STATIC, ZLIB_OWN, build, needs_cc

PAD = '__attribute__((used)) const char depscan_pad[{n}] = {{1}};\n'


def libraries(tmp_path: Path, pad: int = 0) -> dict[str, bytes]:
    """Compiled test libraries by their path in the artifact: two grafted libraries identified by their
    own code, an extension module with a static copy, and an ELF file found by its magic only."""
    extra = PAD.format(n=pad) if pad else ""
    zlib = build(tmp_path, "zlib", ZLIB_OWN + extra).read_bytes()
    freetype = build(tmp_path, "freetype", FREETYPE_WITH_ZLIB + extra).read_bytes()
    png = build(tmp_path, "png", PNG_STATIC + extra).read_bytes()
    return {
        "site/demo.libs/libz-0123abcd.so.1.2.11": zlib,
        "site/demo.libs/libfreetype-89abcdef.so.6.18.3": freetype,
        "site/demo/_png.cpython-311-x86_64-linux-gnu.so": png,
        "site/demo/bin/helper": zlib + b"\0",  # other bytes, no library name: found by its magic
    }


def distribution(name: str, files: dict[str, bytes]) -> dict[str, bytes]:
    """A dist-info for ``name`` whose RECORD lists ``files`` (and itself)."""
    info = f"site/{name}-1.0.dist-info"
    rows = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        rows.append(f"{path.removeprefix('site/')},sha256={digest},{len(data)}")
    rows.append(f"{name}-1.0.dist-info/RECORD,,")
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n".encode()
    return {f"{info}/METADATA": metadata, f"{info}/RECORD": ("\n".join(rows) + "\n").encode()}


def members(files: dict[str, bytes]) -> dict[str, bytes | None]:
    """Tar members: the directories, then the files in the order given."""
    dirs: dict[str, bytes | None] = {}
    for path in files:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs["/".join(parts[:i])] = DIR
    return {**dirs, **files}


def write_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def native_facts(result: ScanResult) -> list[object]:
    """The NativeLib and NativeComponent facts, without what depends on the source (the layer, and whether
    the sha256 was hashed or taken from RECORD: a zip member under a RECORD hash is not hashed)."""
    out: list[object] = []
    for c in result.components:
        if isinstance(c, NativeLib):
            out.append(dataclasses.replace(c, location=Location(c.location.path), owner_location=None,
                                           elf_sha256_source=None))
        elif isinstance(c, NativeComponent):
            out.append(dataclasses.replace(c, location=Location(c.location.path), owner_location=None,
                                           file_sha256_source=None))
    return sorted(out, key=repr)


@needs_cc
def test_streamed_tar_and_gzip_image_layers_give_the_zip_s_native_facts(tmp_path: Path) -> None:
    libs = libraries(tmp_path)
    files = {**libs, **distribution("demo", libs)}
    from_zip = scan(write_zip(tmp_path / "app.zip", files))
    from_tar = scan(write_tar_file(tmp_path / "app.tar.gz", members(files), "gzip"))
    layer = tar_bytes(members(files))
    legacy, _ = docker_legacy([compress(layer, "gzip")])
    from_docker = scan(write_tar_file(tmp_path / "docker.tar", legacy))
    oci, _ = oci_layout([layer], "gzip")
    from_oci = scan(write_tar_file(tmp_path / "oci.tar.gz", members(oci), "gzip"))

    expected = native_facts(from_zip)
    libs_found = [c for c in expected if isinstance(c, NativeLib)]
    assert len(libs_found) == 4 and all(lib.found_by == "elf" for lib in libs_found)
    identified = {(c.name, c.version, c.embedded) for c in expected if isinstance(c, NativeComponent)}
    assert ("zlib", "1.2.11", False) in identified and ("zlib", "1.2.13", True) in identified  # freetype's copy
    for result in (from_tar, from_docker, from_oci):
        assert native_facts(result) == expected
        assert set(dists(result)) == {"demo==1.0"}
        assert result.unknowns == from_zip.unknowns == ()


@needs_cc
@pytest.mark.parametrize("outer", ["tar.gz", "image"])
def test_elf_files_over_the_kept_budget_still_give_every_distribution(tmp_path: Path, outer: str) -> None:
    # Four ELF files of about 200 KiB each, then the distributions' metadata: with max_kept_bytes at
    # 300 KiB the ELF files alone are more than twice the budget. Each is parsed while the pass holds it
    # and released, so every ELF file is identified and every distribution found.
    libs = libraries(tmp_path, pad=200 * 1024)
    assert sum(len(data) for data in libs.values()) > 2 * 300 * 1024
    files = {**libs}
    for n in range(5):
        files |= distribution(f"dist{n}", libs if n == 0 else {})
    limits = Limits(max_kept_bytes=300 * 1024)
    if outer == "tar.gz":
        path = write_tar_file(tmp_path / "big.tar.gz", members(files), "gzip")
    else:
        legacy, _ = docker_legacy([compress(tar_bytes(members(files)), "gzip")])
        path = write_tar_file(tmp_path / "big-image.tar.gz", legacy, "gzip")
    result = scan(path, limits=limits)
    assert result.unknowns == ()
    assert set(dists(result)) == {f"dist{n}==1.0" for n in range(5)}
    natives = [c for c in result.components if isinstance(c, NativeLib)]
    assert sorted(c.location.path for c in natives) == sorted(libs)
    assert all(c.found_by == "elf" for c in natives)
    assert native_facts(result) == native_facts(scan(write_zip(tmp_path / "big.zip", files)))


@needs_cc
def test_a_hard_link_to_a_consumed_elf_file(tmp_path: Path) -> None:
    # A hard link reads its target's reader: with the same file name it has the target's identification;
    # with another name (not identified under it during the pass) its header facts and an unknown that says so.
    import io
    import tarfile

    zlib = build(tmp_path, "zlib", ZLIB_OWN).read_bytes()
    path = tmp_path / "links.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for name in ("a", "b"):
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            tf.addfile(info)
        info = tarfile.TarInfo("a/libz.so.1.2.11")
        info.size = len(zlib)
        tf.addfile(info, io.BytesIO(zlib))
        for link in ("b/libz.so.1.2.11", "b/other"):
            info = tarfile.TarInfo(link)
            info.type, info.linkname = tarfile.LNKTYPE, "a/libz.so.1.2.11"
            tf.addfile(info)
    result = scan(path)
    found = {(c.location.path, c.name, c.version) for c in result.components if isinstance(c, NativeComponent)}
    assert {("a/libz.so.1.2.11", "zlib", "1.2.11"), ("b/libz.so.1.2.11", "zlib", "1.2.11")} <= found
    libs = {c.location.path: c for c in result.components if isinstance(c, NativeLib)}
    assert libs["b/libz.so.1.2.11"].found_by == "elf" and libs["b/other"].found_by == "elf-header"
    (unknown,) = result.unknowns
    assert unknown.location.path == "b/other" and "consumed during the streaming pass" in unknown.reason
