"""What an artifact is (``ArtifactKind``), and which member names may hold a nested archive.

A leaf module: openers, ``detect`` and the nesting code all import it, it imports nothing of
theirs.
"""

from __future__ import annotations

from enum import Enum


class ArtifactKind(str, Enum):
    """The kind of an opened artifact (``ArtifactView.kind``, ``ArtifactInfo.kind``), a closed set.

    Str-valued: a kind compares, hashes, formats and serializes (JSON) as its string, so reports
    show the same strings as before the enum existed. Every kind that can occur:

    * ``directory`` (``DIRECTORY``): a directory on disk that is not an OCI layout.
    * ``zip`` (``ZIP``): a zip (or a ``.pex``: a zip with a prefix) that is neither a wheel nor a
      Lambda layer.
    * ``wheel`` (``WHEEL``): a zip named ``*.whl``.
    * ``lambda-function`` (``LAMBDA_FUNCTION``): a zip scanned with ``--kind lambda-function``.
    * ``lambda-layer`` (``LAMBDA_LAYER``): a zip holding only ``python/...`` (or ``--kind lambda-layer``).
    * ``lambda-function+layers`` (``LAMBDA_FUNCTION_WITH_LAYERS``): a function zip merged with its
      ``--layer`` zips.
    * ``tar`` (``TAR``): a tar, plain or compressed, that is not a container image (a single image
      layer scanned on its own is one).
    * ``docker-archive`` (``DOCKER_ARCHIVE``): a ``docker save`` tar, plain or compressed.
    * ``oci-archive`` (``OCI_ARCHIVE``): an OCI image layout in a tar, plain or compressed.
    * ``oci`` (``OCI_DIR``): an OCI image layout directory.
    * ``layer`` (``LAYER``): one layer of an image while it is merged; never the kind of a scanned
      artifact (the merged view is the image's kind).

    Archives nested in an artifact are opened as ``zip``, ``wheel`` or ``tar`` views, but they are
    grafted into the outer view, whose kind is the one reported.
    """

    DIRECTORY = "directory"
    ZIP = "zip"
    WHEEL = "wheel"
    LAMBDA_FUNCTION = "lambda-function"
    LAMBDA_LAYER = "lambda-layer"
    LAMBDA_FUNCTION_WITH_LAYERS = "lambda-function+layers"
    TAR = "tar"
    DOCKER_ARCHIVE = "docker-archive"
    OCI_ARCHIVE = "oci-archive"
    OCI_DIR = "oci"
    LAYER = "layer"

    def __str__(self) -> str:
        return str.__str__(self)

    def __format__(self, spec: str) -> str:
        return str.__format__(str(self), spec)


# Kinds opened as zips (by `--kind` or by sniffing), and the container images.
ZIP_KINDS = frozenset({ArtifactKind.ZIP, ArtifactKind.WHEEL, ArtifactKind.LAMBDA_FUNCTION, ArtifactKind.LAMBDA_LAYER})
CONTAINER_IMAGE_KINDS = frozenset({ArtifactKind.DOCKER_ARCHIVE, ArtifactKind.OCI_ARCHIVE, ArtifactKind.OCI_DIR})

NESTED_SUFFIXES = (
    ".whl",
    ".zip",
    ".egg",
    ".pex",
    ".tar",
    ".tar.gz",
    ".tgz",
    ".tar.bz2",
    ".tar.xz",
    ".tar.zst",
    ".tzst",
)


# The part after the last dot of every suffix above: most names (".py", ".pyi", ".json") are turned
# down with one slice and one set lookup, without lower-casing the whole path.
_LAST_SUFFIXES = frozenset(suffix[suffix.rfind(".") :] for suffix in NESTED_SUFFIXES)


def is_nested_candidate(path: str) -> bool:
    """Whether a member's name says it may be an archive worth opening."""
    dot = path.rfind(".")
    if dot < 0 or path[dot:].lower() not in _LAST_SUFFIXES:
        return False
    return path.lower().endswith(NESTED_SUFFIXES)
