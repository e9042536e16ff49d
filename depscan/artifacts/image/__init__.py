"""Container images, read in place: ``docker save`` archives and OCI image layouts, merged into one view.

Inputs (never extracted to disk):

* a ``docker save`` archive, plain or compressed (``docker save | gzip``): a top-level
  ``manifest.json`` lists each image's ``Config`` and ``Layers``. Layers are legacy
  ``<id>/layer.tar`` members (docker < 25; podman writes ``<hex>.tar``) or ``blobs/sha256/<hex>``
  (docker 25+, which writes an OCI layout alongside). A legacy layer may be a symlink to an
  identical layer stored once. The config's ``rootfs.diff_ids`` name the layers.
* an OCI image layout (image-spec ``image-layout.md``), as a directory or a tar: ``oci-layout``,
  ``index.json`` and content-addressed ``blobs/<alg>/<encoded>``.

Three parts, one module each, used in this order by ``open_image_tar`` / ``open_oci_dir``:

* ``sources.py``: where the files are read from (plain tar, streamed compressed tar, directory),
  and whether a tar is an image at all;
* ``manifests.py``: which layers, in which order, with which diff_ids (docker ``manifest.json``,
  OCI index and manifest choice, platforms, attestations);
* ``merge.py``: layers applied lowest first (whiteouts, opaque directories).

A tar whose first member is image-like but which has no top-level ``manifest.json`` (nor
``oci-layout`` + ``index.json``) is not an image; in the compressed case that rare false start
costs one full pass before the caller reads the tar again.
"""

from __future__ import annotations

import os

from depscan.artifacts.image.manifests import docker_plan, oci_plan
from depscan.artifacts.image.merge import apply_layer, flatten_layer
from depscan.artifacts.image.sources import (
    DirSource,
    ImageSource,
    open_plain_tar,
    stream_compressed_tar,
)
from depscan.artifacts.kinds import ArtifactKind
from depscan.artifacts.tarball import compression_of
from depscan.artifacts.view import ArtifactView, OpenContext
from depscan.errors import ArtifactError, HostileArtifact

__all__ = ["apply_layer", "flatten_layer", "open_image_tar", "open_oci_dir"]

# Layers one image may list. Docker refuses to build more than 127 (overlayfs' limit); the margin
# is for other builders. Above it the manifest is hostile (one layer listed thousands of times).
MAX_IMAGE_LAYERS = 1000


def open_image_tar(path: str, name: str, ctx: OpenContext) -> ArtifactView | None:
    """Open the tar at ``path`` as a container image, or return None when it is not one.

    Reads ``docker save`` archives (kind ``docker-archive``) and OCI image layout tars (kind
    ``oci-archive``), plain or gzip/zstd/bzip2/xz compressed. Whether a tar is an image is decided
    from its first member's name (see ``sources.py``). Raises an ``ArtifactError`` whose message
    starts with ``name`` when the tar is an image but a broken one.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError as e:
        raise ArtifactError(f"{name}: cannot read ({e.strerror or e})") from e
    compression = compression_of(head)
    source: ImageSource | None
    if compression is None:
        source = open_plain_tar(path, name, ctx)
    else:
        source = stream_compressed_tar(path, name, ctx, compression)
    if source is None:
        return None
    if source.has("manifest.json"):
        kind = ArtifactKind.DOCKER_ARCHIVE
    elif source.has("oci-layout") and source.has("index.json"):
        kind = ArtifactKind.OCI_ARCHIVE
    else:
        source.close()
        return None
    return _assemble(source, kind)


def open_oci_dir(path: str, name: str, ctx: OpenContext) -> ArtifactView:
    """Open an OCI image layout directory (``oci-layout``, ``index.json``, ``blobs/``) as a merged view."""
    if not os.path.isdir(path):
        raise ArtifactError(f"{name}: not a directory")
    source = DirSource(path, name, ctx)
    if not (source.has("oci-layout") and source.has("index.json")):
        raise ArtifactError(f"{name}: not an OCI image layout (no oci-layout and index.json)")
    return _assemble(source, ArtifactKind.OCI_DIR)


def _assemble(source: ImageSource, kind: ArtifactKind) -> ArtifactView:
    merged = ArtifactView(source.name, kind, absolute_links_inside=True)
    merged.on_close(source.close)  # registered first: closed last, after every layer view
    try:
        plan = (docker_plan if kind is ArtifactKind.DOCKER_ARCHIVE else oci_plan)(source, merged.warnings)
        if len(plan) > MAX_IMAGE_LAYERS:
            raise HostileArtifact(
                f"{source.name}: the image lists {len(plan)} layers, more than {MAX_IMAGE_LAYERS}; refusing to go on"
            )
        opened: dict[tuple[str, str], ArtifactView] = {}
        for path, digest in plan:
            layer = opened.get((path, digest))
            if layer is None:
                layer = opened[(path, digest)] = source.open_layer(path, digest)
            else:
                # The same layer listed again (identical layers do repeat): indexed once, and its
                # entries charged again, as applying it walks them again.
                source.ctx.charge.charge_entries(len(layer), source.name)
            apply_layer(merged, layer, digest)
    except BaseException:
        merged.close()
        raise
    return merged
