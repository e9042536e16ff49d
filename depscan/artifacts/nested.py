"""Archives inside archives: wheels in a bundle, a zip inside a zip, a tarball in a layer.

A nested archive is read into memory (bounded by ``max_member_bytes``), opened by magic bytes
and grafted into the outer view under ``<path>!/``. Depth is bounded by ``max_depth``; past it,
or when the member is damaged, the nested archive becomes an ``Unknown`` and the scan goes on.
"""

from __future__ import annotations

import io

from depscan.artifacts.kinds import ArtifactKind, is_nested_candidate
from depscan.artifacts.limits import NESTED_ENTRY_COST
from depscan.artifacts.tarball import compression_of, looks_like_tar, open_tar
from depscan.artifacts.view import NEST, ArtifactView, EntryType, OpenContext, gc_paused
from depscan.artifacts.zipfile_ import open_zip
from depscan.errors import ArtifactError, MemberError


def open_bytes(data: bytes, name: str, ctx: OpenContext) -> ArtifactView | None:
    """Open an in-memory archive by its magic bytes; None when it is not an archive."""
    head = data[:512]
    if head.startswith(b"PK"):
        kind = ArtifactKind.WHEEL if name.lower().endswith(".whl") else ArtifactKind.ZIP
        return open_zip(data, name, ctx, kind)
    if compression_of(head) is not None or looks_like_tar(head):
        return open_tar(io.BytesIO(data), name, ctx)
    return None


def expand_nested(view: ArtifactView, ctx: OpenContext) -> None:
    """Graft every nested archive of ``view`` into it, recursively, within the limits."""
    with gc_paused():
        _expand(view, ctx)


def _expand(view: ArtifactView, ctx: OpenContext) -> None:
    candidates = [
        e for e in view.entries() if is_nested_candidate(e.path) and e.type is EntryType.FILE and NEST not in e.path
    ]
    for entry in candidates:
        where = f"{view.name}: {entry.path}"
        if ctx.depth + 1 > ctx.limits.max_depth:
            view.unknown(
                entry.path, f"nested archive deeper than max_depth={ctx.limits.max_depth}; not opened", entry.layer
            )
            continue
        try:
            data = view.read(entry.path, ctx.limits.max_member_bytes)
        except MemberError as e:
            view.unknown(entry.path, f"nested archive not opened: {e}", entry.layer)
            continue
        inner = ctx.nested()
        try:
            sub = open_bytes(data, where, inner)
        except ArtifactError as e:
            view.unknown(entry.path, f"nested archive not opened: {e}", entry.layer)
            continue
        if sub is None:
            continue  # named like an archive, but it is not one: an ordinary file
        try:
            _expand(sub, inner)
        except ArtifactError as e:
            sub.close()
            view.unknown(entry.path, f"nested archive not opened: {e}", entry.layer)
            continue
        # A nested entry costs NESTED_ENTRY_COST top-level entries (limits.py); the opener charged one.
        extra = (NESTED_ENTRY_COST - 1) * len(sub)
        if extra > ctx.charge.entries_left():
            sub.close()
            view.unknown(
                entry.path,
                f"nested archive not opened: its {len(sub)} entries, charged {NESTED_ENTRY_COST} times each "
                f"(a nested entry costs that much more memory), would take the artifact over "
                f"max_entries={ctx.limits.max_entries}",
                entry.layer,
            )
            continue
        ctx.charge.charge_entries(extra, where)
        view.graft(entry.path, sub, entry.layer)
