"""Which layers make up an image: the plan (layer blob, diff_id) pairs, lowest first.

* ``docker save``: the top-level ``manifest.json`` lists each image's ``Config`` and ``Layers``;
  the first image is scanned (a warning names the others). The config's ``rootfs.diff_ids``
  name the layers.
* OCI image layout (image-spec ``image-layout.md``): ``index.json`` may point to an image index
  (nested up to ``MAX_INDEX_DEPTH``); the ``linux/amd64`` manifest is chosen when platforms are
  given (attestation manifests are skipped), else the first. Manifests and configs are checked
  against their digests; layer media types must be tar layers.

Everything is read through an ``ImageSource`` (``sources.py``), so the rules are the same for a
tar, a streamed compressed tar and a directory.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from depscan.artifacts.image.sources import MAX_JSON_BYTES, ImageSource, show
from depscan.artifacts.limits import safe_member_path
from depscan.errors import CorruptArtifact, UnsupportedArtifact

MAX_INDEX_DEPTH = 4

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


def _load_json(source: ImageSource, path: str) -> Any:
    data = source.read_bytes(path, MAX_JSON_BYTES)
    return _parse_json(source, path, data)


def _parse_json(source: ImageSource, path: str, data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise CorruptArtifact(f"{source.where(path)}: not valid JSON ({e})") from e


def _member_path(source: ImageSource, raw: object, what: str) -> str:
    if not isinstance(raw, str):
        raise CorruptArtifact(f"{source.name}: manifest.json: {what} is not a path")
    path = safe_member_path(raw)
    if path is None:
        raise CorruptArtifact(f"{source.name}: manifest.json: {what} path {raw!r} is unsafe (absolute or '..')")
    return path


def _diff_ids(source: ImageSource, config: Any, config_path: str, count: int) -> list[str]:
    rootfs = config.get("rootfs") if isinstance(config, dict) else None
    ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) and _DIGEST.fullmatch(i) for i in ids):
        raise CorruptArtifact(f"{source.where(config_path)}: rootfs.diff_ids is not a list of layer digests")
    if len(ids) != count:
        raise CorruptArtifact(
            f"{source.where(config_path)}: rootfs.diff_ids names {len(ids)} layers but the manifest lists {count}"
        )
    return [str(i) for i in ids]


def docker_plan(source: ImageSource, warnings: list[str]) -> list[tuple[str, str]]:
    """(layer member, diff_id) pairs, lowest first, of the first image in manifest.json."""
    doc = _load_json(source, "manifest.json")
    if not isinstance(doc, list) or not doc or not isinstance(doc[0], dict):
        raise CorruptArtifact(f"{source.name}: manifest.json: expected a non-empty list of images")
    image: dict[str, Any] = doc[0]
    if len(doc) > 1:
        tags = image.get("RepoTags")
        label = ", ".join(show(t) for t in tags if isinstance(t, str)) if isinstance(tags, list) else ""
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
            f"{source.name}: manifest.json lists config {show(config_path)}, which is not in the {source.container}"
        )
    for path in layer_paths:
        if not source.has(path):
            raise CorruptArtifact(
                f"{source.name}: manifest.json lists layer {show(path)}, which is not in the {source.container}"
            )
    config = _load_json(source, config_path)
    return list(zip(layer_paths, _diff_ids(source, config, config_path, len(layer_paths)), strict=True))


def _blob_path(source: ImageSource, digest: object, where: str) -> str:
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise CorruptArtifact(f"{source.where(where)}: descriptor digest {digest!r} is not a valid digest")
    algorithm, encoded = digest.split(":", 1)
    return f"blobs/{algorithm}/{encoded}"


def _load_blob_json(source: ImageSource, descriptor: dict[str, Any], where: str, what: str) -> tuple[str, Any]:
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
    return show("/".join(parts))


def _choose_manifest(source: ImageSource, manifests: list[Any], where: str, warnings: list[str]) -> dict[str, Any]:
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
    source: ImageSource, doc: Any, where: str, warnings: list[str], depth: int
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


def oci_plan(source: ImageSource, warnings: list[str]) -> list[tuple[str, str]]:
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
