"""Container images: docker save (legacy and docker 25+), OCI layouts (dir and tar), whiteouts, errors.

Every image is built here, in ``tmp_path``, from three layers that exercise the changeset rules of
image-spec ``layer.md``: an overwritten file, a file and directories deleted by ``.wh.``, an opaque
directory, a whiteout next to the file it names in the same layer (which must survive), and a
directory replaced by a file.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import zstandard
from builders import FIXED_MTIME, dist

from depscan.artifacts.image import apply_layer, flatten_layer, open_image_tar, open_oci_dir
from depscan.artifacts.limits import Limits
from depscan.artifacts.tarball import open_tar
from depscan.artifacts.view import ArtifactView, EntryType, OpenContext
from depscan.errors import ArtifactError, CorruptArtifact, UnsupportedArtifact
from tests.helpers import dists, scan, view_of

SITE = "usr/local/lib/python3.12/site-packages"
FOO_METADATA = f"{SITE}/foo-1.0.dist-info/METADATA"
BAR_METADATA = f"{SITE}/bar-2.0.dist-info/METADATA"

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_TYPES = {
    "": "application/vnd.oci.image.layer.v1.tar",
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}
DOCKER_GZIP_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def wants_metadata(path: str) -> bool:
    return path.endswith("METADATA")


# -- building blocks ----------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    """A symlink member."""

    target: str


DIR = None  # a directory member
Members = Mapping[str, "bytes | Link | None"]


def tar_bytes(members: Members) -> bytes:
    """An uncompressed tar of ``members`` in the order given."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, value in members.items():
            info = tarfile.TarInfo(name)
            info.mtime = FIXED_MTIME
            if value is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(info)
            elif isinstance(value, Link):
                info.type, info.linkname = tarfile.SYMTYPE, value.target
                tf.addfile(info)
            else:
                info.size, info.mode = len(value), 0o644
                tf.addfile(info, io.BytesIO(value))
    return buffer.getvalue()


def compress(data: bytes, how: str) -> bytes:
    if how == "gzip":
        return gzip.compress(data, mtime=0)
    if how == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    assert how == "", how
    return data


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def hex_of(digest: str) -> str:
    return digest.split(":", 1)[1]


def as_json(doc: Any) -> bytes:
    return json.dumps(doc, indent=1).encode()


def write_tar_file(path: Path, members: Members, outer: str = "") -> Path:
    path.write_bytes(compress(tar_bytes(members), outer))
    return path


def write_dir(root: Path, files: Mapping[str, bytes]) -> Path:
    for name, data in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return root


# -- the standard three layers ------------------------------------------------------------


def standard_layers() -> list[bytes]:
    """Three uncompressed layer tars, lowest first."""
    base: dict[str, bytes | Link | None] = {
        "etc": DIR,
        "etc/app.conf": b"v1\n",
        "etc/secret.txt": b"hunter2\n",
        "var/cache/app": DIR,
        "var/cache/app/a.bin": b"a",
        "var/cache/app/sub": DIR,
        "var/cache/app/sub/b.bin": b"b",
        "data": DIR,
        "data/inner.txt": b"inner",
        f"{SITE}/old-0.1.dist-info": DIR,
        f"{SITE}/old": DIR,
        "usr/local/bin/foo": Link(f"/{SITE}/foo/__init__.py"),
    }
    base |= dist("foo", "1.0", root=SITE)
    base |= dist("old", "0.1", root=SITE)
    upper: dict[str, bytes | Link | None] = {
        "etc/app.conf": b"v2\n",  # overwrites
        "etc/.wh.secret.txt": b"",  # deletes a file
        f"{SITE}/.wh.old-0.1.dist-info": b"",  # deletes directories (pip uninstall)
        f"{SITE}/.wh.old": b"",
        "var/cache/app": DIR,
        "var/cache/app/.wh..wh..opq": b"",  # hides everything the lower layer had below var/cache/app
        "var/cache/app/fresh.bin": b"fresh",
        "srv/.wh.same.txt": b"",  # a whiteout never deletes from its own layer...
        "srv/same.txt": b"same layer",  # ...so this file stays
    }
    top: dict[str, bytes | Link | None] = {"data": b"now a file"}  # replaces the directory data/
    top |= dist("bar", "2.0", root=SITE)
    return [tar_bytes(base), tar_bytes(upper), tar_bytes(top)]


def expected_paths(d1: str, d2: str, d3: str) -> dict[str, str]:
    """The merged image's entries and the layer each comes from."""
    expected = {
        "etc": d1,
        "etc/app.conf": d2,
        "var/cache/app": d2,
        "var/cache/app/fresh.bin": d2,
        "srv/same.txt": d2,
        "data": d3,
        "usr/local/bin/foo": d1,
    }
    expected |= {path: d1 for path in dist("foo", "1.0", root=SITE)}
    expected |= {path: d3 for path in dist("bar", "2.0", root=SITE)}
    return expected


def check_merged(view: ArtifactView, diff_ids: list[str], *, streamed: bool = False) -> None:
    """The merged view of the standard layers: every path, its layer, and the bytes of METADATA."""
    assert view.layers == diff_ids
    assert view.absolute_links_inside
    got = {entry.path: entry.layer for entry in view.entries()}
    assert got == expected_paths(*diff_ids)
    assert not any(".wh." in path for path in got)
    metadata = view.read(FOO_METADATA)
    assert metadata == dist("foo", "1.0", root=SITE)[FOO_METADATA]
    assert b"Name: foo" in metadata
    assert view.read(BAR_METADATA) == dist("bar", "2.0", root=SITE)[BAR_METADATA]
    assert view.get(FOO_METADATA).layer == diff_ids[0]  # type: ignore[union-attr]
    if not streamed:
        assert view.read("etc/app.conf") == b"v2\n"
        assert view.read("srv/same.txt") == b"same layer"
        assert view.read("data") == b"now a file"
        # /usr/... inside an image means the image's own root.
        assert view.read("usr/local/bin/foo") == b'__version__ = "1.0"\n'
    else:
        # A compressed docker save is read once; only what the catalogers want was kept.
        with pytest.raises(Exception, match="not kept"):
            view.read("etc/app.conf")


# -- image formats ------------------------------------------------------------------------


def docker_legacy(layers: list[bytes], *, shared: dict[int, int] | None = None) -> tuple[dict[str, Any], list[str]]:
    """A docker < 25 ``docker save``: ``<id>/layer.tar`` members, written in name order like docker.

    ``shared`` {i: j} stores layer i as a symlink to layer j (docker does this for repeated layers).
    """
    diff_ids = [sha256(layer) for layer in layers]
    config = as_json({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}})
    config_name = f"{hex_of(sha256(config))}.json"
    ids = [hashlib.sha256(f"layer-{i}".encode()).hexdigest() for i in range(len(layers))]
    members: dict[str, Any] = {}
    for i, (layer_id, layer) in enumerate(zip(ids, layers, strict=True)):
        members[layer_id] = DIR
        members[f"{layer_id}/VERSION"] = b"1.0"
        members[f"{layer_id}/json"] = as_json({"id": layer_id})
        if shared and i in shared:
            members[f"{layer_id}/layer.tar"] = Link(f"../{ids[shared[i]]}/layer.tar")
        else:
            members[f"{layer_id}/layer.tar"] = layer
    members[config_name] = config
    manifest = [{"Config": config_name, "RepoTags": ["demo:latest"], "Layers": [f"{i}/layer.tar" for i in ids]}]
    members["manifest.json"] = as_json(manifest)
    members["repositories"] = as_json({"demo": {"latest": ids[-1]}})
    return dict(sorted(members.items())), diff_ids


def oci_blobs(
    layers: list[bytes], how: str, *, layer_type: str | None = None
) -> tuple[dict[str, bytes], dict[str, Any], list[str], str]:
    """Blobs of one image (layers compressed with ``how``): (blobs, manifest descriptor, diff_ids, config path)."""
    blobs: dict[str, bytes] = {}

    def put(data: bytes) -> str:
        digest = sha256(data)
        blobs[f"blobs/sha256/{hex_of(digest)}"] = data
        return digest

    diff_ids = [sha256(layer) for layer in layers]
    layer_descriptors = []
    for layer in layers:
        data = compress(layer, how)
        layer_descriptors.append({"mediaType": layer_type or LAYER_TYPES[how], "digest": put(data), "size": len(data)})
    config = as_json({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}})
    config_digest = put(config)
    manifest = as_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
            "layers": layer_descriptors,
        }
    )
    descriptor = {"mediaType": OCI_MANIFEST, "digest": put(manifest), "size": len(manifest)}
    return blobs, descriptor, diff_ids, f"blobs/sha256/{hex_of(config_digest)}"


def docker_25(layers: list[bytes]) -> tuple[dict[str, Any], list[str]]:
    """A docker 25+ ``docker save``: an OCI layout plus manifest.json naming ``blobs/sha256/<hex>``."""
    blobs, descriptor, diff_ids, config_path = oci_blobs(layers, "")
    members: dict[str, Any] = {"blobs": DIR, "blobs/sha256": DIR, **blobs}
    members["index.json"] = as_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [descriptor]})
    layer_paths = [f"blobs/sha256/{hex_of(d)}" for d in diff_ids]  # uncompressed: blob digest == diff_id
    members["manifest.json"] = as_json([{"Config": config_path, "RepoTags": ["demo:latest"], "Layers": layer_paths}])
    members["oci-layout"] = as_json({"imageLayoutVersion": "1.0.0"})
    members["repositories"] = as_json({"demo": {"latest": hex_of(descriptor["digest"])}})
    return dict(sorted(members.items())), diff_ids


def oci_layout(layers: list[bytes], how: str, *, layer_type: str | None = None) -> tuple[dict[str, bytes], list[str]]:
    """An OCI layout whose index.json points to a multi-platform image index.

    The index lists an arm64 image first (with its own layer), then the amd64 image built from
    ``layers``, then a buildkit attestation manifest: the amd64 image must be the one scanned.
    """
    blobs, amd64, diff_ids, _config = oci_blobs(layers, how, layer_type=layer_type)
    arm_blobs, arm64, _arm_ids, _arm_config = oci_blobs([tar_bytes({"arm-only.txt": b"arm"})], how)
    blobs |= arm_blobs
    attestation = {
        "mediaType": OCI_MANIFEST,
        "digest": arm64["digest"],
        "size": arm64["size"],
        "platform": {"os": "unknown", "architecture": "unknown"},
        "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
    }
    nested = as_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {**arm64, "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
                {**amd64, "platform": {"os": "linux", "architecture": "amd64"}},
                attestation,
            ],
        }
    )
    nested_digest = sha256(nested)
    blobs[f"blobs/sha256/{hex_of(nested_digest)}"] = nested
    index = {
        "schemaVersion": 2,
        "manifests": [{"mediaType": OCI_INDEX, "digest": nested_digest, "size": len(nested)}],
    }
    files = {"oci-layout": as_json({"imageLayoutVersion": "1.0.0"}), "index.json": as_json(index), **blobs}
    return files, diff_ids


def oci_single(layers: list[bytes], how: str = "") -> tuple[dict[str, bytes], list[str]]:
    """An OCI layout whose index.json lists one image manifest directly."""
    blobs, descriptor, diff_ids, _config = oci_blobs(layers, how)
    files = {
        "oci-layout": as_json({"imageLayoutVersion": "1.0.0"}),
        "index.json": as_json({"schemaVersion": 2, "manifests": [descriptor]}),
        **blobs,
    }
    return files, diff_ids


def cut_inside(layer: bytes, member: str) -> bytes:
    """``layer`` cut in the middle of ``member``'s data.

    (A tar cut inside or at a header reads as a shorter, complete tar: tarfile treats a short
    header as the end of the archive, so only cuts inside data are detectable today.)
    """
    with tarfile.open(fileobj=io.BytesIO(layer)) as tf:
        info = tf.getmember(member)
    assert info.size > 1
    return layer[: info.offset_data + info.size // 2]


def image_at(path: Path, ctx: OpenContext, name: str | None = None) -> ArtifactView:
    """``open_image_tar`` on a tar that must be recognized as an image."""
    view = open_image_tar(str(path), name or str(path), ctx)
    assert view is not None, f"{path}: not recognized as an image"
    return view


def open_ctx(streamed: bool) -> OpenContext:
    return OpenContext(wants=wants_metadata) if streamed else OpenContext()


# -- docker save ---------------------------------------------------------------------------


@pytest.mark.parametrize("outer", ["", "gzip", "zstd"])
def test_docker_save_legacy_layout_merges_layers(tmp_path: Path, outer: str) -> None:
    members, diff_ids = docker_legacy(standard_layers())
    path = write_tar_file(tmp_path / "img.tar", members, outer)
    with image_at(path, open_ctx(bool(outer))) as view:
        assert view.kind == "docker-archive"
        assert not view.warnings and not view.unknowns
        check_merged(view, diff_ids, streamed=bool(outer))


@pytest.mark.parametrize("outer", ["", "gzip"])
def test_docker_25_save_layout_merges_layers(tmp_path: Path, outer: str) -> None:
    members, diff_ids = docker_25(standard_layers())
    path = write_tar_file(tmp_path / "img25.tar", members, outer)
    with image_at(path, open_ctx(bool(outer))) as view:
        assert view.kind == "docker-archive"  # manifest.json wins over the OCI index docker writes too
        check_merged(view, diff_ids, streamed=bool(outer))


@pytest.mark.parametrize("outer", ["", "gzip"])
def test_docker_save_repeated_layer_stored_as_symlink(tmp_path: Path, outer: str) -> None:
    layers = standard_layers()
    members, diff_ids = docker_legacy([*layers, layers[1]], shared={3: 1})
    assert any(isinstance(value, Link) for name, value in members.items() if name.endswith("/layer.tar"))
    path = write_tar_file(tmp_path / "shared.tar", members, outer)
    with image_at(path, open_ctx(bool(outer))) as view:
        assert view.layers == diff_ids and diff_ids[3] == diff_ids[1]
        assert view.get("etc/app.conf").layer == diff_ids[1]  # type: ignore[union-attr]
        assert view.read(FOO_METADATA).startswith(b"Metadata-Version")


def test_streamed_layer_whose_first_name_looks_like_json(tmp_path: Path) -> None:
    layers = [tar_bytes({"{odd}.txt": b"x", **dist("foo", "1.0", root=SITE)})]
    members, diff_ids = docker_legacy(layers)
    path = write_tar_file(tmp_path / "odd.tar.gz", members, "gzip")
    with image_at(path, open_ctx(True)) as view:
        assert view.layers == diff_ids and "{odd}.txt" in view and FOO_METADATA in view


def test_docker_save_with_several_images_scans_the_first_and_says_so(tmp_path: Path) -> None:
    members, diff_ids = docker_legacy(standard_layers())
    manifest = json.loads(members["manifest.json"])
    other = {**manifest[0], "RepoTags": ["other:1"]}
    members["manifest.json"] = as_json([manifest[0], other])
    path = write_tar_file(tmp_path / "two.tar", members)
    with image_at(path, OpenContext(), "two.tar") as view:
        assert view.layers == diff_ids
        assert view.warnings == ["two.tar: manifest.json lists 2 images; only the first (demo:latest) was scanned"]


def test_compressed_docker_save_charges_image_bytes_once(tmp_path: Path) -> None:
    noise = hashlib.sha256(b"seed").digest() * 65536  # 2 MiB that gzip cannot shrink much
    layers = [tar_bytes({"big.bin": noise}), *standard_layers()]
    members, _diff_ids = docker_legacy(layers)
    uncompressed = len(tar_bytes(members))
    path = write_tar_file(tmp_path / "big.tar.gz", members, "gzip")
    ctx = OpenContext(wants=wants_metadata)
    with image_at(path, ctx):
        assert ctx.charge.bytes_read <= uncompressed * 1.2  # counted once, not once per tar level
        assert ctx.charge.entries == sum(member_count(layer) for layer in layers)  # layer entries, each once


def member_count(layer: bytes) -> int:
    with tarfile.open(fileobj=io.BytesIO(layer)) as tf:
        return len(tf.getmembers())


def test_unknowns_of_a_streamed_layer_carry_its_digest(tmp_path: Path) -> None:
    members, diff_ids = docker_legacy(standard_layers())
    path = write_tar_file(tmp_path / "img.tar.gz", members, "gzip")
    unknowns = scan(path, limits=Limits(max_member_bytes=40)).unknowns  # METADATA not kept: read refused
    where = {u.location.path: u.location.layer for u in unknowns}
    assert where[FOO_METADATA] == diff_ids[0]
    assert where[BAR_METADATA] == diff_ids[2]


def test_scanning_an_image_finds_the_distributions_of_the_final_filesystem(tmp_path: Path) -> None:
    members, diff_ids = docker_legacy(standard_layers())
    path = write_tar_file(tmp_path / "app.tar.gz", members, "gzip")
    result = scan(path)
    found = dists(result)
    assert set(found) == {"foo==1.0", "bar==2.0"}  # old==0.1 was uninstalled by a whiteout
    assert found["foo==1.0"].metadata_location.layer == diff_ids[0]
    assert found["bar==2.0"].metadata_location.layer == diff_ids[2]
    assert result.artifact.kind == "docker-archive"
    assert list(result.artifact.layers) == diff_ids
    assert not result.unknowns


# -- OCI layouts --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("how", "layer_type"), [("gzip", None), ("zstd", None), ("", None), ("gzip", DOCKER_GZIP_LAYER)]
)
def test_oci_layout_directory(tmp_path: Path, how: str, layer_type: str | None) -> None:
    files, diff_ids = oci_layout(standard_layers(), how, layer_type=layer_type)
    root = write_dir(tmp_path / "layout", files)
    streamed = how != ""
    with open_oci_dir(str(root), str(root), open_ctx(streamed)) as view:
        assert view.kind == "oci"
        assert "arm-only.txt" not in view  # the linux/amd64 image was chosen
        assert not view.warnings
        check_merged(view, diff_ids, streamed=streamed)


@pytest.mark.parametrize(("how", "outer"), [("gzip", ""), ("", ""), ("gzip", "gzip"), ("", "zstd")])
def test_oci_layout_tar(tmp_path: Path, how: str, outer: str) -> None:
    files, diff_ids = oci_layout(standard_layers(), how)
    members: dict[str, Any] = {"blobs": DIR, "blobs/sha256": DIR, **files}
    path = write_tar_file(tmp_path / "oci.tar", dict(sorted(members.items())), outer)
    streamed = bool(how or outer)
    with image_at(path, open_ctx(streamed)) as view:
        assert view.kind == "oci-archive"
        check_merged(view, diff_ids, streamed=streamed)


def test_oci_layout_tar_made_with_dot_slash_names(tmp_path: Path) -> None:
    files, diff_ids = oci_single(standard_layers())
    members: dict[str, Any] = {"./": DIR, **{f"./{k}": v for k, v in files.items()}}
    for outer in ("", "gzip"):
        path = write_tar_file(tmp_path / f"dot{outer}.tar", members, outer)
        with image_at(path, open_ctx(bool(outer))) as view:
            assert view.layers == diff_ids


def test_oci_index_without_amd64_scans_the_first_platform_with_a_warning(tmp_path: Path) -> None:
    files, _diff_ids = oci_layout(standard_layers(), "")
    index = json.loads(files["index.json"])
    nested_path = f"blobs/sha256/{hex_of(index['manifests'][0]['digest'])}"
    nested = json.loads(files[nested_path])
    nested["manifests"] = [nested["manifests"][0]]  # arm64 only
    data = as_json(nested)
    files[f"blobs/sha256/{hex_of(sha256(data))}"] = data
    index["manifests"][0] |= {"digest": sha256(data), "size": len(data)}
    files["index.json"] = as_json(index)
    root = write_dir(tmp_path / "arm", files)
    with open_oci_dir(str(root), "arm", OpenContext()) as view:
        assert [e.path for e in view.entries()] == ["arm-only.txt"]
        assert len(view.warnings) == 1 and "no linux/amd64 image; scanned linux/arm64/v8" in view.warnings[0]


# -- whiteouts, directly ------------------------------------------------------------------


def layer_view(members: Members, digest: str) -> ArtifactView:
    return open_tar(io.BytesIO(tar_bytes(members)), digest, OpenContext(), "layer", digest)


def merge(*layers: Members) -> ArtifactView:
    merged = ArtifactView("img", "test", absolute_links_inside=True)
    for number, members in enumerate(layers, 1):
        apply_layer(merged, layer_view(members, f"sha256:{number}"), f"sha256:{number}")
    return merged


def test_whiteout_applies_only_to_lower_layers() -> None:
    merged = merge(
        {"a/x": b"1", "a/y": b"1"},
        {"a/.wh.x": b"", "a/.wh.y": b"", "a/y": b"2"},  # y re-created in the same layer stays
        {"a/.wh.z": b"", "a/z": b"3"},  # whiteout of a name no lower layer has: harmless
    )
    assert {e.path: e.layer for e in merged.entries()} == {"a/y": "sha256:2", "a/z": "sha256:3"}
    assert merged.read("a/y") == b"2"
    assert merged.layers == ["sha256:1", "sha256:2", "sha256:3"]


def test_opaque_directory_keeps_itself_and_its_new_contents() -> None:
    merged = merge(
        {"d": DIR, "d/old": b"1", "d/sub": DIR, "d/sub/deep": b"1", "dx/keep": b"1"},
        {"d/.wh..wh..opq": b"", "d/new": b"2"},  # no entry for d itself in this layer
    )
    assert {e.path: e.layer for e in merged.entries()} == {"d": "sha256:1", "d/new": "sha256:2", "dx/keep": "sha256:1"}


def test_opaque_marker_at_the_root_hides_every_lower_file() -> None:
    merged = merge({"a/b": b"1", "c": b"1"}, {".wh..wh..opq": b"", "n": b"2"})
    assert [e.path for e in merged.entries()] == ["n"]


def test_file_replacing_a_directory_removes_its_contents_and_back() -> None:
    merged = merge(
        {"p": DIR, "p/q": b"1", "s": b"file"},
        {"p": b"now a file", "s": DIR, "s/t": b"2"},
    )
    assert {e.path: (e.type, e.layer) for e in merged.entries()} == {
        "p": (EntryType.FILE, "sha256:2"),
        "s": (EntryType.DIR, "sha256:2"),
        "s/t": (EntryType.FILE, "sha256:2"),
    }


def test_aufs_metadata_and_markers_never_show() -> None:
    merged = merge(
        {"x": b"1"},
        {".wh..wh.plnk": DIR, ".wh..wh.plnk/123.456": b"", ".wh..wh.aufs": b"", ".wh.": b"", "y": b"2"},
    )
    assert {e.path for e in merged.entries()} == {"x", "y"}


def test_flatten_layer_drops_markers_and_keeps_what_they_name() -> None:
    view = layer_view(
        {"etc/.wh.passwd": b"", "etc/passwd": b"root", "var/.wh..wh..opq": b"", "var/log": b"l", ".wh..wh.plnk/1": b""},
        "layer",
    )
    assert flatten_layer(view) is view
    assert {e.path for e in view.entries()} == {"etc/passwd", "var/log"}
    assert view.read("etc/passwd") == b"root"


def test_flatten_layer_without_markers_is_unchanged() -> None:
    view = layer_view({"a": b"1", "b": DIR, "b/c": Link("/a")}, "layer")
    before = list(view.entries())
    assert flatten_layer(view) is view
    assert list(view.entries()) == before


def test_a_single_layer_tar_is_flattened_by_detect(tmp_path: Path) -> None:
    members = {"a/.wh.b": b"", "a/c": b"c", **dist("foo", "1.0", root=SITE)}
    path = write_tar_file(tmp_path / "layer.tar.gz", members, "gzip")
    with view_of(path) as view:
        assert view.kind == "tar"
        assert "a/.wh.b" not in view and "a/c" in view


# -- not an image -------------------------------------------------------------------------


@pytest.mark.parametrize("outer", ["", "gzip", "zstd"])
def test_ordinary_tar_is_not_an_image(tmp_path: Path, outer: str) -> None:
    noise = hashlib.sha256(b"x").digest() * 131072  # 4 MiB, incompressible enough
    path = write_tar_file(tmp_path / "src.tar", {"project/README": b"hi", "project/big.bin": noise}, outer)
    ctx = OpenContext()
    assert open_image_tar(str(path), str(path), ctx) is None
    assert ctx.charge.bytes_read < 512 * 1024  # decided from the first member, not a full pass
    assert ctx.charge.entries == 0


@pytest.mark.parametrize("outer", ["", "gzip"])
def test_image_like_first_member_without_manifest_is_not_an_image(tmp_path: Path, outer: str) -> None:
    path = write_tar_file(tmp_path / "t.tar", {"repositories": b"{}", "notes.txt": b"x"}, outer)
    assert open_image_tar(str(path), str(path), OpenContext()) is None


# -- broken and hostile images ------------------------------------------------------------


def error_of(call: Callable[[], object], path: Path | str, kind: type[Exception] = CorruptArtifact) -> str:
    """The message of the error ``call`` raises: one line, starting with ``path``."""
    with pytest.raises(kind) as caught:
        view = call()
        if isinstance(view, ArtifactView):
            view.close()
    message = str(caught.value)
    assert message.startswith(str(path)), message
    assert "\n" not in message
    return message


def opener(path: Path) -> Callable[[], object]:
    if path.is_dir():
        return lambda: open_oci_dir(str(path), str(path), OpenContext(wants=wants_metadata))
    return lambda: open_image_tar(str(path), str(path), OpenContext(wants=wants_metadata))


@pytest.mark.parametrize("outer", ["", "gzip"])
def test_manifest_json_that_is_not_json(tmp_path: Path, outer: str) -> None:
    members, _ = docker_legacy(standard_layers())
    members["manifest.json"] = b"[{'Config': oops"
    path = write_tar_file(tmp_path / "bad.tar", members, outer)
    assert "manifest.json: not valid JSON" in error_of(opener(path), path)


@pytest.mark.parametrize("outer", ["", "gzip"])
def test_layer_listed_but_absent(tmp_path: Path, outer: str) -> None:
    members, _ = docker_legacy(standard_layers())
    missing = next(name for name in members if name.endswith("/layer.tar"))
    del members[missing]
    path = write_tar_file(tmp_path / "missing.tar", members, outer)
    message = error_of(opener(path), path)
    assert message == f"{path}: manifest.json lists layer {missing}, which is not in the archive"


def test_config_listed_but_absent(tmp_path: Path) -> None:
    members, _ = docker_legacy(standard_layers())
    config = next(name for name in members if name.endswith(".json") and "/" not in name and name != "manifest.json")
    del members[config]
    path = write_tar_file(tmp_path / "noconfig.tar", members)
    assert error_of(opener(path), path) == f"{path}: manifest.json lists config {config}, which is not in the archive"


def test_manifest_layer_path_climbing_out(tmp_path: Path) -> None:
    members, _ = docker_legacy(standard_layers())
    manifest = json.loads(members["manifest.json"])
    manifest[0]["Layers"][0] = "../../etc/passwd"
    members["manifest.json"] = as_json(manifest)
    path = write_tar_file(tmp_path / "climb.tar", members)
    assert "unsafe" in error_of(opener(path), path)


@pytest.mark.parametrize("outer", ["", "gzip"])
def test_truncated_layer_tar_in_docker_save(tmp_path: Path, outer: str) -> None:
    members, _ = docker_legacy(standard_layers())
    layer_name = json.loads(members["manifest.json"])[0]["Layers"][0]
    members[layer_name] = cut_inside(members[layer_name], "etc/secret.txt")
    path = write_tar_file(tmp_path / "cut.tar", members, outer)
    message = error_of(opener(path), path)
    assert message.startswith(f"{path}: {layer_name}: corrupt or truncated"), message


def test_truncated_layer_blob_in_oci_dir(tmp_path: Path) -> None:
    files, diff_ids = oci_single(standard_layers())
    blob = f"blobs/sha256/{hex_of(diff_ids[1])}"
    files[blob] = cut_inside(files[blob], "srv/same.txt")
    root = write_dir(tmp_path / "cut", files)
    message = error_of(opener(root), root)
    assert message.startswith(f"{root}/{blob}: corrupt or truncated"), message


def test_truncated_compressed_docker_save(tmp_path: Path) -> None:
    members, _ = docker_legacy(standard_layers())
    data = compress(tar_bytes(members), "gzip")
    path = tmp_path / "cut.tar.gz"
    path.write_bytes(data[: len(data) * 2 // 3])
    assert "corrupt or truncated" in error_of(opener(path), path)


def test_missing_blob_in_oci_dir(tmp_path: Path) -> None:
    files, diff_ids = oci_single(standard_layers())
    del files[f"blobs/sha256/{hex_of(diff_ids[2])}"]
    root = write_dir(tmp_path / "missing", files)
    message = error_of(opener(root), root)
    assert message.endswith(f"lists layer blobs/sha256/{hex_of(diff_ids[2])}, which is not in the layout")


def test_index_json_that_is_not_json(tmp_path: Path) -> None:
    files, _ = oci_single(standard_layers())
    files["index.json"] = b"\xff\xfe not json"
    root = write_dir(tmp_path / "badindex", files)
    assert f"{root}/index.json: not valid JSON" in error_of(opener(root), root)


@pytest.mark.parametrize("outer", ["", "gzip"])
def test_descriptor_digest_with_dot_dot(tmp_path: Path, outer: str) -> None:
    files, _ = oci_single(standard_layers())
    files["index.json"] = as_json({"schemaVersion": 2, "manifests": [{"digest": "sha256:../../../etc/passwd"}]})
    path = write_tar_file(tmp_path / "dots.tar", files, outer)
    assert "is not a valid digest" in error_of(opener(path), path)


def test_unknown_layer_media_type(tmp_path: Path) -> None:
    files, _ = oci_layout(standard_layers(), "gzip", layer_type="application/vnd.oci.image.layer.v1.tar+encrypted")
    root = write_dir(tmp_path / "enc", files)
    message = error_of(opener(root), root, UnsupportedArtifact)
    assert "unsupported layer media type 'application/vnd.oci.image.layer.v1.tar+encrypted'" in message


def test_manifest_blob_that_does_not_match_its_digest(tmp_path: Path) -> None:
    files, _ = oci_single(standard_layers())
    descriptor = json.loads(files["index.json"])["manifests"][0]
    blob = f"blobs/sha256/{hex_of(descriptor['digest'])}"
    files[blob] = files[blob].replace(b"schemaVersion", b"schemaversion")
    root = write_dir(tmp_path / "tampered", files)
    assert error_of(opener(root), root) == f"{root}/{blob}: content does not match its digest"


def test_diff_ids_that_do_not_match_the_layers(tmp_path: Path) -> None:
    members, diff_ids = docker_legacy(standard_layers())
    config = next(name for name in members if name.endswith(".json") and "/" not in name and name != "manifest.json")
    members[config] = as_json({"rootfs": {"type": "layers", "diff_ids": diff_ids[:2]}})
    path = write_tar_file(tmp_path / "ids.tar", members)
    assert "rootfs.diff_ids names 2 layers but the manifest lists 3" in error_of(opener(path), path)


def test_oci_blob_symlinked_outside_the_layout_is_missing(tmp_path: Path) -> None:
    files, diff_ids = oci_single(standard_layers())
    root = write_dir(tmp_path / "linked", files)
    blob = root / "blobs" / "sha256" / hex_of(diff_ids[0])
    outside = tmp_path / "outside.tar"
    outside.write_bytes(blob.read_bytes())
    blob.unlink()
    os.symlink(outside, blob)
    assert "which is not in the layout" in error_of(opener(root), root)


def test_not_an_oci_layout_directory(tmp_path: Path) -> None:
    error_of(lambda: open_oci_dir(str(tmp_path), str(tmp_path), OpenContext()), tmp_path, ArtifactError)
