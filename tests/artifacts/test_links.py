"""One symlink resolver (``limits.follow_links``) with one hop limit, for every kind of source.

Each source kind gets the same three checks: a chain of exactly ``MAX_LINK_HOPS`` links is
followed, one link more is not, and a loop ends without hanging; escapes are refused. Sources:
zip, plain and compressed tar, a directory's recorded links, a nested archive, an image layer,
and the members of a ``docker save`` archive itself (a repeated layer linked to the stored one).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from builders import write_tar, write_zip

from depscan.artifacts.detect import open_artifact
from depscan.artifacts.limits import MAX_LINK_HOPS, Link, follow_links, resolve_link
from depscan.artifacts.view import ArtifactView, OpenContext
from depscan.errors import CorruptArtifact, MemberError
from tests.artifacts.test_image import (
    DIR,
    FOO_METADATA,
    docker_legacy,
    image_at,
    open_ctx,
    standard_layers,
    tar_bytes,
    write_tar_file,
)
from tests.artifacts.test_image import Link as TarLink
from tests.helpers import view_of


def chain(n: int, target: str, prefix: str = "") -> dict[str, str]:
    """Symlinks ``l0 -> l1 -> ... -> l{n-1} -> target``: reading ``l0`` follows ``n`` links."""
    links = {f"{prefix}l{i}": f"l{i + 1}" for i in range(n - 1)}
    links[f"{prefix}l{n - 1}"] = target
    return links


LOOP = {"loop-a": "loop-b", "loop-b": "loop-a", "self": "self"}


# -- the resolver itself ------------------------------------------------------------------


def resolve_in(links: dict[str, str], path: str, *, absolute_is_root: bool = True) -> str | None:
    return follow_links(path, lambda p: Link(links[p]) if p in links else None, absolute_is_root=absolute_is_root)


def test_the_hop_limit_is_exact() -> None:
    assert MAX_LINK_HOPS == 40  # Linux's MAXSYMLINKS; documented in docs/architecture.md
    assert resolve_in(chain(MAX_LINK_HOPS, "file"), "l0") == "file"
    assert resolve_in(chain(MAX_LINK_HOPS + 1, "file"), "l0") is None


def test_loops_end() -> None:
    assert resolve_in(LOOP, "loop-a") is None
    assert resolve_in(LOOP, "self") is None


def test_a_path_that_is_no_link_is_itself() -> None:
    assert resolve_in({}, "a/b") == "a/b"  # whether anything is there is the caller's question


def test_escapes_and_absolute_targets() -> None:
    links = {"a/up": "../../x", "a/abs": "/etc/x", "a/hop": "up"}
    assert resolve_in(links, "a/up") is None
    assert resolve_in(links, "a/hop") is None  # the second link of the chain escapes
    assert resolve_in(links, "a/abs", absolute_is_root=True) == "etc/x"
    assert resolve_in(links, "a/abs", absolute_is_root=False) is None


def test_hard_links_name_a_member_from_the_root() -> None:
    assert resolve_link("a/b/hard", "c/file", absolute_is_root=True, hard=True) == "c/file"
    assert resolve_link("a/b/hard", "../file", absolute_is_root=True, hard=True) is None
    links = {"a/b/hard": Link("c/soft", hard=True), "c/soft": Link("file")}
    assert follow_links("a/b/hard", links.get, absolute_is_root=False) == "c/file"


def test_links_inside_a_nested_archive_stay_inside_it() -> None:
    assert resolve_link("b.zip!/w.whl!/pkg/x", "../y", absolute_is_root=False) == "b.zip!/w.whl!/y"
    assert resolve_link("b.zip!/w.whl!/pkg/x", "../../y", absolute_is_root=False) is None
    assert resolve_link("b.zip!/w.whl!/pkg/x", "/y", absolute_is_root=True) == "b.zip!/w.whl!/y"
    assert resolve_link("b.zip!/w.whl!/pkg/x", "/y", absolute_is_root=False) is None


# -- every source kind --------------------------------------------------------------------


def check_view(view: ArtifactView, prefix: str = "") -> None:
    """``ok/l0`` is a chain of MAX_LINK_HOPS links to data.txt, ``long/l0`` one link longer,
    ``loop-a``/``self`` loop, ``out`` escapes."""
    assert view.read(f"{prefix}ok/l0") == b"data"
    with pytest.raises(MemberError, match=f"longer than {MAX_LINK_HOPS} links"):
        view.read(f"{prefix}long/l0")
    for name in ("loop-a", "self"):
        assert view.resolve(f"{prefix}{name}") is None
        with pytest.raises(MemberError, match="loops"):
            view.read(f"{prefix}{name}")
    with pytest.raises(MemberError, match="points outside the artifact"):
        view.read(f"{prefix}out")


def link_set(absolute: bool) -> dict[str, str]:
    target = "/data.txt" if absolute else "../data.txt"
    return {
        **chain(MAX_LINK_HOPS, target, "ok/"),
        **chain(MAX_LINK_HOPS + 1, target, "long/"),
        **LOOP,
        "out": "../../../etc/passwd",
    }


def test_zip(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "links.zip", {"data.txt": b"data"}, symlinks=link_set(absolute=False))
    with view_of(path) as view:
        check_view(view)
        assert [link.path for link in view.escaping_links()] == ["out"]


@pytest.mark.parametrize("mode", ["w", "w:gz"])
def test_tar(tmp_path: Path, mode: str) -> None:
    path = write_tar(tmp_path / "links.tar", {"data.txt": b"data"}, symlinks=link_set(absolute=True), mode=mode)
    # A compressed tar keeps only what is wanted during its one pass.
    with open_artifact(str(path), OpenContext(wants=lambda p: p == "data.txt")) as view:
        check_view(view)


def test_hard_link_in_a_streamed_tar(tmp_path: Path) -> None:
    path = write_tar(tmp_path / "h.tar.gz", {"a/data.txt": b"data"}, hardlinks={"b/hard": "a/data.txt"}, mode="w:gz")
    with open_artifact(str(path), OpenContext(wants=lambda p: True)) as view:
        assert view.read("b/hard") == b"data"


def test_directory(tmp_path: Path) -> None:
    root = tmp_path / "dir with spaces"
    root.mkdir()
    (root / "data.txt").write_bytes(b"data")
    for name, target in link_set(absolute=False).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, root / name)
    with view_of(root) as view:
        check_view(view)


def test_nested_archive(tmp_path: Path) -> None:
    inner = tmp_path / "inner.zip"
    write_zip(inner, {"data.txt": b"data"}, symlinks={**link_set(absolute=False), "climb": "../data.txt"})
    path = write_zip(tmp_path / "outer.zip", {"vendor/inner.zip": inner.read_bytes(), "vendor/data.txt": b"outer"})
    with view_of(path) as view:
        check_view(view, "vendor/inner.zip!/")
        # Climbing out of the nested archive is refused, even onto a file of the outer one.
        assert view.resolve("vendor/inner.zip!/climb") is None
        assert "vendor/inner.zip!/climb" in {link.path for link in view.escaping_links()}


@pytest.mark.parametrize("outer", ["", "gzip"])
def test_image_layer(tmp_path: Path, outer: str) -> None:
    layer: dict[str, bytes | TarLink | None] = {"data.txt": b"data", "ok": DIR, "long": DIR}
    layer |= {name: TarLink(target) for name, target in link_set(absolute=True).items()}
    members, _diff_ids = docker_legacy([tar_bytes(layer)])
    path = write_tar_file(tmp_path / "img.tar", members, outer)
    with image_at(path, OpenContext(wants=lambda p: p == "data.txt")) as view:
        check_view(view)


def legacy_with_linked_layer(hops: int) -> dict[str, Any]:
    """A legacy docker save whose last layer.tar reaches the stored one through ``hops`` links."""
    layers = standard_layers()
    members, _diff_ids = docker_legacy([*layers, layers[1]], shared={3: 1})
    last = next(name for name, value in members.items() if isinstance(value, TarLink))
    stored = members[last].target  # "../<id of layer 1>/layer.tar"
    directory = last.rsplit("/", 1)[0]
    members[last] = TarLink("hop1")
    for i in range(1, hops - 1):
        members[f"{directory}/hop{i}"] = TarLink(f"hop{i + 1}")
    members[f"{directory}/hop{hops - 1}"] = TarLink(stored)
    return dict(sorted(members.items()))


@pytest.mark.parametrize("outer", ["", "gzip"])
def test_image_archive_members(tmp_path: Path, outer: str) -> None:
    """The outer tar's own links (plain: random access; gzip: the streamed source) follow the same
    limit: before one resolver, these stopped after 8 hops."""
    path = write_tar_file(tmp_path / "ok.tar", legacy_with_linked_layer(MAX_LINK_HOPS), outer)
    with image_at(path, open_ctx(bool(outer))) as view:
        assert view.read(FOO_METADATA).startswith(b"Metadata-Version")
    path = write_tar_file(tmp_path / "long.tar", legacy_with_linked_layer(MAX_LINK_HOPS + 1), outer)
    with pytest.raises(CorruptArtifact, match=r"manifest\.json lists layer .*layer\.tar, which is not in the archive"):
        image_at(path, open_ctx(bool(outer)))


def test_a_link_to_a_missing_file_says_so(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "gone.zip", {"a/x": b"x"}, symlinks={"a/gone": "../b/missing.txt"})
    with view_of(path) as view:
        with pytest.raises(MemberError, match=r"a/gone: symlink to '../b/missing.txt' leads to b/missing.txt, which"):
            view.read("a/gone")
        assert not list(view.escaping_links())  # inside the artifact: no warning
