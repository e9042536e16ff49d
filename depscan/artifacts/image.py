"""Container images, read in place: ``docker save`` archives and OCI image layouts, merged into one view.

Inputs (never extracted to disk):

* a ``docker save`` archive, plain or compressed (``docker save | gzip``): a top-level
  ``manifest.json`` lists each image's ``Config`` and ``Layers``. Layers are legacy
  ``<id>/layer.tar`` members (docker < 25; podman writes ``<hex>.tar``) or ``blobs/sha256/<hex>``
  (docker 25+, which writes an OCI layout alongside). A legacy layer may be a symlink to an
  identical layer stored once. The config's ``rootfs.diff_ids`` name the layers.
* an OCI image layout (image-spec ``image-layout.md``), as a directory or a tar: ``oci-layout``,
  ``index.json`` and content-addressed ``blobs/<alg>/<encoded>``. ``index.json`` may point to an
  image index (nested up to ``MAX_INDEX_DEPTH``); the ``linux/amd64`` manifest is chosen when
  platforms are given (attestation manifests are skipped), else the first.

Merging (image-spec ``layer.md``, "Applying Changesets" and "Whiteouts"): layers are applied lowest
first; an upper entry replaces a lower one at the same path, and a non-directory replacing a
directory removes the directory's contents ("removing the file path ... recreating the file
path"). ``.wh.<name>`` deletes ``<name>`` and everything below it from LOWER layers only;
``.wh..wh..opq`` in a directory hides everything below it from lower layers (the directory stays).
Whiteout markers (and aufs metadata named ``.wh..wh.*``) never appear in the merged view. Every
merged entry carries its layer's diff_id (``sha256:...``) as ``layer``.

How each layer blob is read:

* plain outer tar, OCI directory: random access. A layer member is a seekable window on the
  outer file (``TarFile.extractfile``) or the blob file, handed to ``tarball.open_tar``.
* compressed outer tar: one streaming pass. ``manifest.json`` comes after the layers in real
  archives (docker writes members in name order), so every member that starts like a tar
  (uncompressed or compressed) is indexed as it streams by, keeping only the members the
  catalogers want (``ctx.wants``); small JSON members (manifests, configs, indexes: at most
  ``MAX_JSON_BYTES`` each, ``MAX_JSON_KEPT`` together) are kept to be parsed at the end. Layer
  views the manifest does not name are closed.

Detecting an image cheaply (``open_image_tar`` returns None for other tars): the FIRST member
name decides. Every member of a docker save archive or an OCI layout tar is image-like
(``manifest.json``, ``index.json``, ``oci-layout``, ``repositories``, ``blobs/...``,
``<64 hex>/``, ``<64 hex>/{VERSION,json,layer.tar}``, ``<64 hex>.json``, ``<64 hex>.tar``), while
ordinary tars almost never start with one, so a non-image compressed tar costs one header's worth
of decompression. A tar whose first member is image-like but which has no top-level
``manifest.json`` (nor ``oci-layout`` + ``index.json``) is not an image either; in the compressed
case that rare false start costs one full pass before the caller reads the tar again.

Budget: layer entries and decompressed bytes are charged by ``open_tar`` as for any tar. Members
of the outer archive are not entries of the artifact (they are capped at ``max_entries`` all the
same); the outer stream's decompressed bytes are charged except while a layer member is being
indexed (its bytes are charged by the layer's own pass), so an image's bytes are counted once.
"""

from __future__ import annotations

import hashlib
import io
import json
import lzma
import os
import re
import tarfile
import zlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, BinaryIO, cast

from depscan.artifacts.limits import MiB, resolve_link, safe_member_path
from depscan.artifacts.tarball import (
    CountingReader,
    compression_of,
    decompressing_reader,
    index_tar_stream,
    looks_like_tar,
    open_tar,
)
from depscan.artifacts.view import NEST, ArtifactView, EntryType, OpenContext
from depscan.errors import ArtifactError, CorruptArtifact, HostileArtifact, UnsupportedArtifact
from depscan.models import Location, Unknown

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

DOCKER_ARCHIVE = "docker-archive"
OCI_ARCHIVE = "oci-archive"
OCI_DIR = "oci"

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
AUFS_META_PREFIX = ".wh..wh."  # .wh..wh.plnk, .wh..wh.aufs: aufs bookkeeping, not whiteouts

# Manifests, configs and indexes are kilobytes; a config with a long history a few hundred.
MAX_JSON_BYTES = 16 * MiB
MAX_JSON_KEPT = 64 * MiB
MAX_INDEX_DEPTH = 4
MAX_LINK_HOPS = 8

INDEX_MEDIA_TYPES = frozenset(
    {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    }
)
MANIFEST_MEDIA_TYPES = frozenset(
    {
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    }
)
# image-spec media-types.md and layer.md; docker's image manifest v2 schema 2.
LAYER_MEDIA_TYPES = frozenset(
    {
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
        "application/vnd.docker.image.rootfs.diff.tar",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    }
)

# image-spec descriptor.md: digest grammar. Neither part can hold "/" or "..".
_DIGEST = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TOP_LEVEL_FILES = frozenset({"manifest.json", "index.json", "oci-layout", "repositories"})
_LEGACY_LAYER_FILES = frozenset({"VERSION", "json", "layer.tar"})

_READ_ERRORS: tuple[type[BaseException], ...] = (
    tarfile.TarError,
    EOFError,
    OSError,
    zlib.error,
    lzma.LZMAError,
    ValueError,
)


# -- public API ---------------------------------------------------------------------------


def open_image_tar(path: str, name: str, ctx: OpenContext) -> ArtifactView | None:
    """Open the tar at ``path`` as a container image, or return None when it is not one.

    Reads ``docker save`` archives (kind ``docker-archive``) and OCI image layout tars (kind
    ``oci-archive``), plain or gzip/zstd/bzip2/xz compressed. Whether a tar is an image is decided
    from its first member's name (see the module docstring). Raises an ``ArtifactError`` whose
    message starts with ``name`` when the tar is an image but a broken one.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError as e:
        raise ArtifactError(f"{name}: cannot read ({e.strerror or e})") from e
    compression = compression_of(head)
    source: _Source | None
    if compression is None:
        source = _open_plain_tar(path, name, ctx)
    else:
        source = _stream_compressed_tar(path, name, ctx, compression)
    if source is None:
        return None
    if source.has("manifest.json"):
        kind = DOCKER_ARCHIVE
    elif source.has("oci-layout") and source.has("index.json"):
        kind = OCI_ARCHIVE
    else:
        source.close()
        return None
    return _assemble(source, kind)


def open_oci_dir(path: str, name: str, ctx: OpenContext) -> ArtifactView:
    """Open an OCI image layout directory (``oci-layout``, ``index.json``, ``blobs/``) as a merged view."""
    if not os.path.isdir(path):
        raise ArtifactError(f"{name}: not a directory")
    source = _DirSource(path, name, ctx)
    if not (source.has("oci-layout") and source.has("index.json")):
        raise ArtifactError(f"{name}: not an OCI image layout (no oci-layout and index.json)")
    return _assemble(source, OCI_DIR)


def flatten_layer(view: ArtifactView) -> ArtifactView:
    """Drop whiteout markers from a single layer scanned on its own, and return the same view.

    A lone layer has nothing below it to delete, so ``.wh.<name>`` and ``.wh..wh..opq`` only
    disappear; a file a marker names in the same layer stays (whiteouts never apply to their own
    layer). A view without markers is returned unchanged.
    """
    markers = _markers_of(view)
    if markers.paths:
        view.discard_under(markers.paths)
    return view


def apply_layer(merged: ArtifactView, layer: ArtifactView, digest: str) -> None:
    """Apply ``layer`` (diff_id ``digest``) on top of ``merged``, as image-spec ``layer.md`` says.

    Whiteouts and opaque markers delete from what ``merged`` holds so far (the lower layers)
    before the layer's own entries are added, so they never delete from their own layer. A
    non-directory replacing a directory removes the directory's contents. Markers are dropped.
    The layer's entries and unknowns carry ``digest``, which is appended to ``merged.layers``.
    """
    markers = _markers_of(layer)
    if "" in markers.opaque:  # an opaque marker at the root hides every lower file
        merged.discard_under({entry.path.split("/", 1)[0] for entry in merged.entries()})
    merged.discard_under(markers.opaque - {""}, keep_self=True)
    merged.discard_under(markers.whiteouts)
    replaced = set()
    for entry in layer.entries():
        if entry.type is not EntryType.DIR:
            below = merged.get(entry.path)
            if below is not None and below.type is EntryType.DIR:
                replaced.add(entry.path)
    merged.discard_under(replaced, keep_self=True)
    # Layers indexed before their digest was known (the streaming pass) have unlabeled unknowns.
    layer.unknowns[:] = [
        Unknown(Location(u.location.path, digest), u.reason) if u.location.layer is None else u for u in layer.unknowns
    ]
    merged.overlay(layer, "", digest)
    merged.discard_under(markers.paths)
    merged.layers.append(digest)


# -- whiteouts ----------------------------------------------------------------------------


@dataclass
class _Markers:
    paths: set[str] = field(default_factory=set)  # every marker (removed from the view)
    whiteouts: set[str] = field(default_factory=set)  # paths deleted from lower layers
    opaque: set[str] = field(default_factory=set)  # directories whose lower contents are hidden ("" = root)


def _markers_of(view: ArtifactView) -> _Markers:
    found = _Markers()
    for entry in view.entries():
        if NEST in entry.path:
            continue
        parent, _, base = entry.path.rpartition("/")
        if any(part.startswith(WHITEOUT_PREFIX) for part in parent.split("/")):
            found.paths.add(entry.path)  # below a marker (aufs .wh..wh.plnk/...): no real file has such a path
            continue
        if not base.startswith(WHITEOUT_PREFIX):
            continue
        found.paths.add(entry.path)
        if base == OPAQUE_MARKER:
            found.opaque.add(parent)
        elif base.startswith(AUFS_META_PREFIX) or base == WHITEOUT_PREFIX:
            continue
        else:
            target = base[len(WHITEOUT_PREFIX) :]
            found.whiteouts.add(f"{parent}/{target}" if parent else target)
    return found


# -- assembling an image from a source ----------------------------------------------------


def _assemble(source: _Source, kind: str) -> ArtifactView:
    merged = ArtifactView(source.name, kind, absolute_links_inside=True)
    merged.on_close(source.close)  # registered first: closed last, after every layer view
    try:
        plan = (_docker_plan if kind == DOCKER_ARCHIVE else _oci_plan)(source, merged.warnings)
        for path, digest in plan:
            apply_layer(merged, source.open_layer(path, digest), digest)
    except BaseException:
        merged.close()
        raise
    return merged


def _show(text: str) -> str:
    """A path or value for a one-line message: quoted when it holds control characters."""
    return text if text.isprintable() else repr(text)


def _load_json(source: _Source, path: str) -> Any:
    data = source.read_bytes(path, MAX_JSON_BYTES)
    return _parse_json(source, path, data)


def _parse_json(source: _Source, path: str, data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise CorruptArtifact(f"{source.where(path)}: not valid JSON ({e})") from e


def _member_path(source: _Source, raw: object, what: str) -> str:
    if not isinstance(raw, str):
        raise CorruptArtifact(f"{source.name}: manifest.json: {what} is not a path")
    path = safe_member_path(raw)
    if path is None:
        raise CorruptArtifact(f"{source.name}: manifest.json: {what} path {raw!r} is unsafe (absolute or '..')")
    return path


def _diff_ids(source: _Source, config: Any, config_path: str, count: int) -> list[str]:
    rootfs = config.get("rootfs") if isinstance(config, dict) else None
    ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) and _DIGEST.fullmatch(i) for i in ids):
        raise CorruptArtifact(f"{source.where(config_path)}: rootfs.diff_ids is not a list of layer digests")
    if len(ids) != count:
        raise CorruptArtifact(
            f"{source.where(config_path)}: rootfs.diff_ids names {len(ids)} layers but the manifest lists {count}"
        )
    return [str(i) for i in ids]


def _docker_plan(source: _Source, warnings: list[str]) -> list[tuple[str, str]]:
    """(layer member, diff_id) pairs, lowest first, of the first image in manifest.json."""
    doc = _load_json(source, "manifest.json")
    if not isinstance(doc, list) or not doc or not isinstance(doc[0], dict):
        raise CorruptArtifact(f"{source.name}: manifest.json: expected a non-empty list of images")
    image: dict[str, Any] = doc[0]
    if len(doc) > 1:
        tags = image.get("RepoTags")
        label = ", ".join(_show(t) for t in tags if isinstance(t, str)) if isinstance(tags, list) else ""
        warnings.append(
            f"{source.name}: manifest.json lists {len(doc)} images; only the first ({label or 'untagged'}) was scanned"
        )
    config_path = _member_path(source, image.get("Config"), "Config")
    raw_layers = image.get("Layers")
    if not isinstance(raw_layers, list):
        raise CorruptArtifact(f"{source.name}: manifest.json: Layers is not a list")
    layer_paths = [_member_path(source, raw, "layer") for raw in raw_layers]
    if not source.has(config_path):
        raise CorruptArtifact(
            f"{source.name}: manifest.json lists config {_show(config_path)}, which is not in the {source.container}"
        )
    for path in layer_paths:
        if not source.has(path):
            raise CorruptArtifact(
                f"{source.name}: manifest.json lists layer {_show(path)}, which is not in the {source.container}"
            )
    config = _load_json(source, config_path)
    return list(zip(layer_paths, _diff_ids(source, config, config_path, len(layer_paths)), strict=True))


def _blob_path(source: _Source, digest: object, where: str) -> str:
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise CorruptArtifact(f"{source.where(where)}: descriptor digest {digest!r} is not a valid digest")
    algorithm, encoded = digest.split(":", 1)
    return f"blobs/{algorithm}/{encoded}"


def _load_blob_json(source: _Source, descriptor: dict[str, Any], where: str, what: str) -> tuple[str, Any]:
    digest = descriptor.get("digest")
    path = _blob_path(source, digest, where)
    if not source.has(path):
        raise CorruptArtifact(f"{source.where(where)} lists {what} {path}, which is not in the {source.container}")
    data = source.read_bytes(path, MAX_JSON_BYTES)
    algorithm, encoded = str(digest).split(":", 1)
    # Manifests and configs are small: check they are what their digest says (layers are not hashed).
    if algorithm in ("sha256", "sha512") and hashlib.new(algorithm, data).hexdigest() != encoded:
        raise CorruptArtifact(f"{source.where(path)}: content does not match its digest")
    return path, _parse_json(source, path, data)


def _is_attestation(descriptor: dict[str, Any]) -> bool:
    annotations = descriptor.get("annotations")
    if isinstance(annotations, dict) and annotations.get("vnd.docker.reference.type") == "attestation-manifest":
        return True
    platform = descriptor.get("platform")
    return isinstance(platform, dict) and platform.get("os") == "unknown"


def _platform(descriptor: dict[str, Any]) -> str:
    platform = descriptor.get("platform")
    if not isinstance(platform, dict):
        return "no platform"
    parts = [str(platform.get(k)) for k in ("os", "architecture", "variant") if platform.get(k)]
    return _show("/".join(parts))


def _choose_manifest(source: _Source, manifests: list[Any], where: str, warnings: list[str]) -> dict[str, Any]:
    candidates: list[dict[str, Any]] = [d for d in manifests if isinstance(d, dict) and not _is_attestation(d)]
    if not candidates:
        raise CorruptArtifact(f"{source.where(where)}: lists no image manifest")
    with_platform = [d for d in candidates if isinstance(d.get("platform"), dict)]
    if with_platform:
        for descriptor in with_platform:
            platform = descriptor["platform"]
            if platform.get("os") == "linux" and platform.get("architecture") == "amd64":
                return descriptor
        warnings.append(f"{source.where(where)}: no linux/amd64 image; scanned {_platform(with_platform[0])}")
        return with_platform[0]
    if len(candidates) > 1:
        warnings.append(f"{source.where(where)}: lists {len(candidates)} images; only the first was scanned")
    return candidates[0]


def _find_manifest(
    source: _Source, doc: Any, where: str, warnings: list[str], depth: int
) -> tuple[str, dict[str, Any]]:
    """Follow index.json (and nested image indexes) to one image manifest: (blob path, manifest)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("manifests"), list):
        raise CorruptArtifact(f"{source.where(where)}: not an image index (no manifests list)")
    descriptor = _choose_manifest(source, doc["manifests"], where, warnings)
    path, blob = _load_blob_json(source, descriptor, where, "manifest")
    if not isinstance(blob, dict):
        raise CorruptArtifact(f"{source.where(path)}: not a JSON object")
    media_type = descriptor.get("mediaType") or blob.get("mediaType")
    is_index = media_type in INDEX_MEDIA_TYPES or (media_type is None and "manifests" in blob)
    if is_index:
        if depth >= MAX_INDEX_DEPTH:
            raise CorruptArtifact(f"{source.where(path)}: image indexes nested more than {MAX_INDEX_DEPTH} deep")
        return _find_manifest(source, blob, path, warnings, depth + 1)
    if media_type in MANIFEST_MEDIA_TYPES or (media_type is None and "layers" in blob):
        return path, blob
    raise UnsupportedArtifact(f"{source.where(path)}: unsupported manifest media type {media_type!r}")


def _oci_plan(source: _Source, warnings: list[str]) -> list[tuple[str, str]]:
    """(layer blob, diff_id) pairs, lowest first, of the image index.json leads to."""
    if not isinstance(_load_json(source, "oci-layout"), dict):
        raise CorruptArtifact(f"{source.where('oci-layout')}: not a JSON object")
    manifest_path, manifest = _find_manifest(source, _load_json(source, "index.json"), "index.json", warnings, 0)
    config_descriptor = manifest.get("config")
    layers = manifest.get("layers")
    if not isinstance(config_descriptor, dict) or not isinstance(layers, list):
        raise CorruptArtifact(f"{source.where(manifest_path)}: image manifest without config and layers")
    layer_paths = []
    for descriptor in layers:
        if not isinstance(descriptor, dict):
            raise CorruptArtifact(f"{source.where(manifest_path)}: a layer descriptor is not a JSON object")
        media_type = descriptor.get("mediaType")
        if media_type not in LAYER_MEDIA_TYPES:
            raise UnsupportedArtifact(f"{source.where(manifest_path)}: unsupported layer media type {media_type!r}")
        path = _blob_path(source, descriptor.get("digest"), manifest_path)
        if not source.has(path):
            raise CorruptArtifact(
                f"{source.where(manifest_path)} lists layer {path}, which is not in the {source.container}"
            )
        layer_paths.append(path)
    config_path, config = _load_blob_json(source, config_descriptor, manifest_path, "config")
    return list(zip(layer_paths, _diff_ids(source, config, config_path, len(layer_paths)), strict=True))


# -- sources: where metadata and layer blobs are read from --------------------------------


class _Source(ABC):
    """An image's files: ``has`` / ``read_bytes`` for metadata, ``open_layer`` for layer blobs."""

    container = "archive"

    def __init__(self, name: str, ctx: OpenContext) -> None:
        self.name = name
        self.ctx = ctx

    def where(self, path: str) -> str:
        """``path`` inside the source, for the start of a message."""
        return f"{self.name}: {_show(path)}"

    @abstractmethod
    def has(self, path: str) -> bool:
        """Whether ``path`` is a regular file (after following links inside the source)."""

    @abstractmethod
    def read_bytes(self, path: str, limit: int) -> bytes:
        """The bytes of the file at ``path``, which ``has``; refuse more than ``limit`` bytes."""

    @abstractmethod
    def open_layer(self, path: str, digest: str) -> ArtifactView:
        """The layer tar at ``path`` indexed as a view labelled ``digest``."""

    @abstractmethod
    def close(self) -> None:
        """Release what the source holds open."""

    def _too_big(self, path: str, size: int, limit: int) -> CorruptArtifact:
        return CorruptArtifact(f"{self.where(path)}: {size} bytes, more than image metadata can be ({limit})")


class _TarSource(_Source):
    """A plain (uncompressed) outer tar: members are read at random through seekable windows."""

    def __init__(
        self, name: str, ctx: OpenContext, fh: BinaryIO, tf: tarfile.TarFile, members: dict[str, tarfile.TarInfo]
    ) -> None:
        super().__init__(name, ctx)
        self._fh = fh
        self._tf = tf
        self._members = members

    def _file(self, path: str) -> tarfile.TarInfo | None:
        current: str | None = path
        for _ in range(MAX_LINK_HOPS):
            info = None if current is None else self._members.get(current)
            if current is None or info is None:
                return None
            if info.isreg():
                return info
            if info.issym():  # legacy docker save stores a repeated layer once, linked from the others
                current = resolve_link(current, info.linkname, absolute_is_root=True)
            elif info.islnk():
                current = safe_member_path(info.linkname)
            else:
                return None
        return None

    def _open(self, path: str) -> tuple[tarfile.TarInfo, IO[bytes]]:
        info = self._file(path)
        if info is None:
            raise CorruptArtifact(f"{self.where(path)}: not in the archive")
        try:
            fh = self._tf.extractfile(info)
        except _READ_ERRORS as e:
            raise CorruptArtifact(f"{self.where(path)}: cannot read ({e})") from e
        if fh is None:
            raise CorruptArtifact(f"{self.where(path)}: not a regular file")
        return info, fh

    def has(self, path: str) -> bool:
        return self._file(path) is not None

    def read_bytes(self, path: str, limit: int) -> bytes:
        info, fh = self._open(path)
        if info.size > limit:
            raise self._too_big(path, info.size, limit)
        try:
            data = fh.read(limit + 1)
        except _READ_ERRORS as e:
            raise CorruptArtifact(f"{self.where(path)}: cannot read ({e})") from e
        self.ctx.charge.charge_bytes(len(data), self.name)
        return data

    def open_layer(self, path: str, digest: str) -> ArtifactView:
        _info, fh = self._open(path)
        return open_tar(cast(BinaryIO, fh), self.where(path), self.ctx, "layer", digest)

    def close(self) -> None:
        self._tf.close()
        self._fh.close()


class _DirSource(_Source):
    """An OCI layout directory. Blobs resolving outside the directory are treated as missing."""

    container = "layout"

    def __init__(self, root: str, name: str, ctx: OpenContext) -> None:
        super().__init__(name, ctx)
        self._root = os.path.realpath(root)

    def where(self, path: str) -> str:
        return f"{self.name.rstrip('/')}/{_show(path)}"

    def _full(self, path: str) -> str | None:
        real = os.path.realpath(os.path.join(self._root, *path.split("/")))
        if not real.startswith(self._root + os.sep) or not os.path.isfile(real):
            return None
        return real

    def has(self, path: str) -> bool:
        return self._full(path) is not None

    def read_bytes(self, path: str, limit: int) -> bytes:
        full = self._full(path)
        if full is None:
            raise CorruptArtifact(f"{self.where(path)}: not in the layout")
        try:
            with open(full, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if size > limit:
                    raise self._too_big(path, size, limit)
                data = fh.read(limit + 1)
        except OSError as e:
            raise CorruptArtifact(f"{self.where(path)}: cannot read ({e.strerror or e})") from e
        self.ctx.charge.charge_bytes(len(data), self.name)
        return data

    def open_layer(self, path: str, digest: str) -> ArtifactView:
        full = self._full(path)
        if full is None:
            raise CorruptArtifact(f"{self.where(path)}: not in the layout")
        return open_tar(full, self.where(path), self.ctx, "layer", digest)

    def close(self) -> None:
        """Nothing to release: each layer view owns the blob file it opened."""
        return None


class _StreamedSource(_Source):
    """What one streaming pass over a compressed outer tar kept: small JSON members and layer views."""

    def __init__(self, name: str, ctx: OpenContext) -> None:
        super().__init__(name, ctx)
        self.files: set[str] = set()
        self.links: dict[str, tuple[str, bool]] = {}  # path -> (link name, is symlink)
        self.texts: dict[str, bytes] = {}
        self.not_kept: dict[str, str] = {}  # path -> why its bytes were not kept
        self.layers: dict[str, ArtifactView | CorruptArtifact] = {}
        self._kept_bytes = 0

    # -- during the pass
    def take(self, tf: tarfile.TarFile, member: tarfile.TarInfo, path: str, meter: CountingReader) -> None:
        """Record one outer member as it streams by, indexing it when it looks like a layer."""
        self.files.discard(path)
        self.links.pop(path, None)
        self.texts.pop(path, None)
        self.not_kept.pop(path, None)
        old = self.layers.pop(path, None)
        if isinstance(old, ArtifactView):
            old.close()
        if member.issym() or member.islnk():
            self.links[path] = (member.linkname, member.issym())
            return
        if not member.isreg():
            return
        self.files.add(path)
        fh = tf.extractfile(member)
        if fh is None:
            return
        head = fh.read(512)
        # Tar magic first: a layer whose first member is named "{..." must not pass for JSON.
        if looks_like_tar(head) or compression_of(head) is not None:
            meter.paused = True  # the layer's own pass charges these bytes
            try:
                self.layers[path] = _stream_layer(head, fh, self.where(path), self.ctx)
            except HostileArtifact:
                raise
            except CorruptArtifact as e:
                if meter.error is not None:  # the outer stream broke, not this layer
                    raise _outer_corrupt(self.name, meter.error) from e
                self.layers[path] = e  # only fatal if the manifest names this member
            finally:
                meter.paused = False
        elif head.lstrip()[:1] in (b"{", b"["):
            if member.size > MAX_JSON_BYTES or self._kept_bytes + member.size > MAX_JSON_KEPT:
                self.not_kept[path] = f"{member.size} bytes, more than image metadata can be ({MAX_JSON_BYTES})"
                return
            data = head + fh.read()
            self._kept_bytes += len(data)
            self.texts[path] = data
        else:
            self.not_kept[path] = "neither JSON nor a tar archive"

    # -- after the pass
    def _file(self, path: str) -> str | None:
        current: str | None = path
        for _ in range(MAX_LINK_HOPS):
            if current is None:
                return None
            if current in self.files:
                return current
            link = self.links.get(current)
            if link is None:
                return None
            target, is_symlink = link
            current = resolve_link(current, target, absolute_is_root=True) if is_symlink else safe_member_path(target)
        return None

    def has(self, path: str) -> bool:
        return self._file(path) is not None

    def read_bytes(self, path: str, limit: int) -> bytes:
        found = self._file(path)
        data = self.texts.get(found) if found is not None else None
        if found is None or data is None:
            why = self.not_kept.get(found or path, "not kept during the streaming pass")
            raise CorruptArtifact(f"{self.where(path)}: not readable as image metadata ({why})")
        if len(data) > limit:
            raise self._too_big(path, len(data), limit)
        return data

    def open_layer(self, path: str, digest: str) -> ArtifactView:
        found = self._file(path)
        layer = self.layers.get(found) if found is not None else None
        if isinstance(layer, CorruptArtifact):
            raise layer
        if layer is None:
            raise CorruptArtifact(f"{self.where(path)}: layer is not a tar archive")
        return layer

    def close(self) -> None:
        layers, self.layers = self.layers, {}
        for layer in layers.values():
            if isinstance(layer, ArtifactView):
                layer.close()


# -- opening outer tars -------------------------------------------------------------------


def _image_like(path: str) -> bool:
    """Whether a member name can belong to a docker save archive or an OCI layout tar."""
    if path in _TOP_LEVEL_FILES:
        return True
    parts = path.split("/")
    if parts[0] == "blobs":
        return len(parts) <= 3
    if len(parts) == 1:
        stem = parts[0].removesuffix(".json").removesuffix(".tar")
        return _HEX64.fullmatch(stem) is not None
    return len(parts) == 2 and _HEX64.fullmatch(parts[0]) is not None and parts[1] in _LEGACY_LAYER_FILES


def _decide(member: tarfile.TarInfo) -> bool | None:
    """From the first member: True (may be an image), False (is not), None (the root dir; look further)."""
    path = safe_member_path(member.name)
    if path is None:
        return None if member.isdir() else False
    return _image_like(path)


class _NotAnImage(Exception):
    """The first member says this tar is no image: the generic tar opener takes it."""


class _ImageGate:
    """The member walk both outer-tar readers share: the entry limit, the first-member verdict
    (``_decide``), and the safe path of every member after it (None: skip the member)."""

    def __init__(self, name: str, ctx: OpenContext) -> None:
        self.name = name
        self.limit = ctx.limits.max_entries
        self.count = 0
        self.decided = False

    def admit(self, member: tarfile.TarInfo) -> str | None:
        self.count += 1
        if self.count > self.limit:
            raise HostileArtifact(f"{self.name}: more than {self.limit} members (max_entries)")
        if not self.decided:
            verdict = _decide(member)
            if verdict is None:
                return None
            if not verdict:
                raise _NotAnImage
            self.decided = True
        return safe_member_path(member.name)


def _open_plain_tar(path: str, name: str, ctx: OpenContext) -> _TarSource | None:
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the source (with the view) or below
    except OSError as e:
        raise ArtifactError(f"{name}: cannot open ({e.strerror or e})") from e
    keep = False
    try:
        try:
            tf = tarfile.open(fileobj=fh, mode="r:")  # noqa: SIM115 - kept open by the source
        except _READ_ERRORS:
            return None  # not a readable tar: the generic tar opener reports it
        members: dict[str, tarfile.TarInfo] = {}
        gate = _ImageGate(name, ctx)
        try:
            while True:
                member = tf.next()
                if member is None:
                    break
                member_path = gate.admit(member)
                if member_path is not None:
                    members[member_path] = member
        except _NotAnImage:
            return None
        except _READ_ERRORS as e:
            if not gate.decided:
                return None
            raise CorruptArtifact(f"{name}: corrupt or truncated tar archive ({e})") from e
        if not gate.decided:
            return None
        keep = True
        return _TarSource(name, ctx, fh, tf, members)
    finally:
        if not keep:
            fh.close()


def _is_decoder_error(e: Exception) -> bool:
    return isinstance(e, _READ_ERRORS) or type(e).__module__.startswith("zstandard")


def _stream_compressed_tar(path: str, name: str, ctx: OpenContext, compression: str) -> _StreamedSource | None:
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed below; nothing read later needs it
    except OSError as e:
        raise ArtifactError(f"{name}: cannot open ({e.strerror or e})") from e
    source = _StreamedSource(name, ctx)
    done = False
    try:
        meter = CountingReader(decompressing_reader(raw, compression), ctx.charge, name)
        stream = io.BufferedReader(meter, buffer_size=64 * 1024)
        gate = _ImageGate(name, ctx)
        try:
            tf = tarfile.open(fileobj=stream, mode="r|")  # noqa: SIM115 - raw file closed below
            for member in tf:
                member_path = gate.admit(member)
                if member_path is not None:
                    source.take(tf, member, member_path, meter)
        except _NotAnImage:
            return None
        except ArtifactError:
            raise
        except Exception as e:
            if not _is_decoder_error(e):
                raise
            if not gate.decided and meter.error is None:
                return None  # a compressed file that is not a tar: the generic tar opener reports it
            raise _outer_corrupt(name, meter.error or e) from e
        if meter.error is not None:  # a decoder error swallowed on the way (tarfile reads a short stream as its end)
            raise _outer_corrupt(name, meter.error) from meter.error
        if not gate.decided:
            return None
        done = True
        return source
    finally:
        raw.close()
        if not done:
            source.close()


def _outer_corrupt(name: str, error: BaseException) -> CorruptArtifact:
    return CorruptArtifact(f"{name}: corrupt or truncated compressed tar ({error})")


def _stream_layer(head: bytes, rest: IO[bytes], name: str, ctx: OpenContext) -> ArtifactView:
    """Index a layer member of a streamed outer tar in one pass, from its first bytes and the rest."""
    joined = io.BufferedReader(_Prefixed(head, rest), buffer_size=64 * 1024)
    compression = compression_of(head)
    stream: BinaryIO = joined if compression is None else decompressing_reader(joined, compression)
    view = ArtifactView(name, "layer", absolute_links_inside=True)
    try:
        index_tar_stream(stream, name, ctx, view, None)
    except BaseException:
        view.close()
        raise
    return view


class _Prefixed(io.RawIOBase):
    """``head`` (already read from a stream) followed by the rest of that stream."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        super().__init__()
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        out = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(out), len(self._head))
            out[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(out))
        out[: len(data)] = data
        return len(data)
