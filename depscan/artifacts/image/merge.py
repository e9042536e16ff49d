"""Merging image layers into one filesystem view (image-spec ``layer.md``, "Applying Changesets"
and "Whiteouts").

Layers are applied lowest first; an upper entry replaces a lower one at the same path, and a
non-directory replacing a directory removes the directory's contents ("removing the file path ...
recreating the file path"). ``.wh.<name>`` deletes ``<name>`` and everything below it from LOWER
layers only; ``.wh..wh..opq`` in a directory hides everything below it from lower layers (the
directory stays). Whiteout markers (and aufs metadata named ``.wh..wh.*``) never appear in the
merged view. Every merged entry carries its layer's diff_id (``sha256:...``) as ``layer``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from depscan.artifacts.view import NEST, ArtifactView, EntryType
from depscan.models import Location, Unknown

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
AUFS_META_PREFIX = ".wh..wh."  # .wh..wh.plnk, .wh..wh.aufs: aufs bookkeeping, not whiteouts


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
