"""Which opener fits an input: magic bytes first, the name second; ``--kind`` overrides."""

from __future__ import annotations

import os
import stat
import zipfile

from depscan.artifacts.directory import open_directory
from depscan.artifacts.kinds import ZIP_KINDS, ArtifactKind
from depscan.artifacts.lambda_ import import_rank, is_layer_layout, open_lambda
from depscan.artifacts.nested import expand_nested
from depscan.artifacts.tarball import compression_of, looks_like_tar, open_tar
from depscan.artifacts.view import ArtifactView, OpenContext
from depscan.artifacts.zipfile_ import open_zip
from depscan.errors import ArtifactError, UnsupportedArtifact, UsageError
from depscan.regular_files import open_regular, stat_input

# What ``--kind`` accepts: "auto" (sniff) or a kind to open the input as. ``oci`` opens an OCI
# layout directory or tar; the kinds only an opener decides on are not requested.
REQUESTABLE_KINDS = (
    ArtifactKind.DIRECTORY,
    ArtifactKind.ZIP,
    ArtifactKind.WHEEL,
    ArtifactKind.LAMBDA_FUNCTION,
    ArtifactKind.LAMBDA_LAYER,
    ArtifactKind.TAR,
    ArtifactKind.DOCKER_ARCHIVE,
    ArtifactKind.OCI_DIR,
)
KINDS = ("auto", *(kind.value for kind in REQUESTABLE_KINDS))


def sniff(path: str) -> ArtifactKind:
    """The kind of artifact at ``path``, from its magic bytes (and its name for wheels).

    Tars (images included) are ``TAR`` here: whether a tar is an image is decided when it is opened.
    Only a regular file or a directory is an artifact: a FIFO, a device or a socket is refused
    before it is opened (``regular_files``).
    """
    st = stat_input(path, ArtifactError, directory_ok=True)  # never a FIFO, a device or a socket
    if stat.S_ISDIR(st.st_mode):
        return ArtifactKind.OCI_DIR if os.path.isfile(os.path.join(path, "oci-layout")) else ArtifactKind.DIRECTORY
    fd = open_regular(path, ArtifactError)
    try:
        head = os.read(fd, 512)
    except OSError as e:
        raise ArtifactError(f"{path}: cannot read ({e.strerror or e})") from e
    finally:
        os.close(fd)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return ArtifactKind.WHEEL if path.lower().endswith(".whl") else ArtifactKind.ZIP
    if compression_of(head) is not None or looks_like_tar(head):
        return ArtifactKind.TAR
    if not head:
        raise UnsupportedArtifact(f"{path}: empty file, not an artifact")
    if zipfile.is_zipfile(path):  # a zip with a prefix (a .pex with its shebang line)
        return ArtifactKind.ZIP
    raise UnsupportedArtifact(
        f"{path}: not a zip, wheel, tar, container image or directory (unrecognized content {head[:8]!r})"
    )


def open_artifact(path: str, ctx: OpenContext, kind: str = "auto", layers: tuple[str, ...] = ()) -> ArtifactView:
    """Open ``path`` (plus Lambda ``layers``) as one view, nested archives grafted in.

    ``kind`` is one of ``KINDS`` (the ``--kind`` option); the view's ``kind`` says what was opened.
    """
    if kind not in KINDS:
        raise UsageError(f"unknown --kind {kind!r}; one of: {', '.join(KINDS)}")
    if layers:
        if kind not in ("auto", ArtifactKind.LAMBDA_FUNCTION, ArtifactKind.ZIP):
            raise UsageError(f"--layer applies to Lambda function zips, not --kind {kind}")
        for p in (path, *layers):
            if sniff(p) not in (ArtifactKind.ZIP, ArtifactKind.WHEEL):
                raise ArtifactError(f"{p}: not a zip; a Lambda function and its layers are zips")
        view = open_lambda(path, list(layers), ctx)
    else:
        if kind != "auto":
            stat_input(path, ArtifactError, directory_ok=True)  # what sniff() checks, when it is skipped
        detected = sniff(path) if kind == "auto" else ArtifactKind(kind)
        view = _open_kind(path, detected, ctx)
    try:
        expand_nested(view, ctx)
        for link in view.escaping_links():
            where = f"{link.path} [{link.layer}]" if link.layer else link.path
            view.warnings.append(f"{where}: symlink to {link.link!r} points outside the artifact; not followed")
    except BaseException:
        view.close()
        raise
    return view


def _open_kind(path: str, kind: ArtifactKind, ctx: OpenContext) -> ArtifactView:
    if kind is ArtifactKind.DIRECTORY:
        return open_directory(path, path, ctx)
    if kind in ZIP_KINDS:
        view = open_zip(path, path, ctx, kind)
        if kind is ArtifactKind.ZIP and is_layer_layout(view):
            view.kind = ArtifactKind.LAMBDA_LAYER
        if view.kind is not ArtifactKind.WHEEL:
            view.import_rank = import_rank
        return view
    from depscan.artifacts import image  # container images and tars: imported only when needed

    if kind is ArtifactKind.OCI_DIR:
        if os.path.isdir(path):
            return image.open_oci_dir(path, path, ctx)
        found = image.open_image_tar(path, path, ctx)
        if found is None:
            raise ArtifactError(f"{path}: not an OCI image layout (no oci-layout and index.json)")
        return found
    if kind is ArtifactKind.DOCKER_ARCHIVE:
        found = image.open_image_tar(path, path, ctx)
        if found is None:
            raise ArtifactError(f"{path}: not a docker save archive (no manifest.json)")
        return found
    if kind is ArtifactKind.TAR:
        found = image.open_image_tar(path, path, ctx)
        if found is not None:
            return found
        return image.flatten_layer(open_tar(path, path, ctx))
    raise UsageError(f"--kind {kind.value} cannot be requested; one of: {', '.join(KINDS)}")
