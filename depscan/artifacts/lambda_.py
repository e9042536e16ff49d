"""AWS Lambda: a function zip (mounted at /var/task) merged with its layer zips (under /opt).

The merged view uses the paths the runtime sees (``var/task/...``, ``opt/python/...``) and keeps,
as each entry's layer, the name of the zip it came from. Layers are applied in the order given:
a later layer's file replaces an earlier one's, as when Lambda extracts them into /opt.

Import order (the runtime's bootstrap and ``sys.path`` printed from deployed functions, python3.7
to 3.13): /var/task, then /opt/python/lib/python3.X/site-packages, then /opt/python, then the
runtime's own paths. A distribution found earlier on that path shadows one found later.
"""

from __future__ import annotations

import re

from depscan.artifacts.kinds import ArtifactKind
from depscan.artifacts.view import ArtifactView, OpenContext
from depscan.artifacts.zipfile_ import open_zip

FUNCTION_ROOT = "var/task"
LAYER_ROOT = "opt"

_LAYER_SITE = re.compile(r"^(?:opt/)?python/lib/python3\.\d+/site-packages$")
_LAYER_PYTHON = re.compile(r"^(?:opt/)?python$")


def import_rank(site_root: str) -> int | None:
    """Position of a site root on the Lambda runtime's ``sys.path``; None if not on it."""
    if site_root in (FUNCTION_ROOT, ""):
        return 0
    if _LAYER_SITE.match(site_root):
        return 1
    if _LAYER_PYTHON.match(site_root):
        return 2
    return None


def is_layer_layout(view: ArtifactView) -> bool:
    """A layer zip holds everything under ``python/`` (the only directory Python layers use)."""
    paths = [e.path for e in view.entries()]
    return bool(paths) and all(p == "python" or p.startswith("python/") for p in paths)


def open_lambda(function: str, layers: list[str], ctx: OpenContext) -> ArtifactView:
    """Open a function zip and its layer zips as one view, as the runtime mounts them."""
    merged = ArtifactView(function, ArtifactKind.LAMBDA_FUNCTION_WITH_LAYERS)
    merged.import_rank = import_rank
    sources = [(function, FUNCTION_ROOT)] + [(layer, LAYER_ROOT) for layer in layers]
    try:
        for path, mount in sources:
            kind = ArtifactKind.LAMBDA_LAYER if mount == LAYER_ROOT else ArtifactKind.LAMBDA_FUNCTION
            view = open_zip(path, path, ctx, kind)
            label = path.rsplit("/", 1)[-1]
            merged.layers.append(label)
            merged.overlay(view, f"{mount}/", label)
    except BaseException:
        merged.close()
        raise
    return merged
