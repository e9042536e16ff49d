"""ArtifactKind: one closed set of kinds, reached by the openers, serialized as the old strings."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from builders import dist, write_tar, write_zip

from depscan.artifacts.detect import KINDS, open_artifact, sniff
from depscan.artifacts.kinds import ArtifactKind, is_nested_candidate
from depscan.artifacts.view import OpenContext
from depscan.errors import UsageError
from tests.artifacts.test_image import (
    docker_legacy,
    oci_single,
    standard_layers,
    tar_bytes,
    write_dir,
    write_tar_file,
)


def build_zip(tmp: Path) -> tuple[Path, tuple[Path, ...], str]:
    return write_zip(tmp / "app.zip", dist("six", "1.16.0")), (), "auto"


def build_wheel(tmp: Path) -> tuple[Path, tuple[Path, ...], str]:
    return write_zip(tmp / "six-1.16.0-py3-none-any.whl", dist("six", "1.16.0")), (), "auto"


def build_lambda_layer(tmp: Path) -> tuple[Path, tuple[Path, ...], str]:
    return write_zip(tmp / "layer.zip", dist("six", "1.16.0", root="python")), (), "auto"


def build_lambda_function(tmp: Path) -> tuple[Path, tuple[Path, ...], str]:
    return write_zip(tmp / "fn.zip", dist("six", "1.16.0")), (), "lambda-function"


def build_function_with_layers(tmp: Path) -> tuple[Path, tuple[Path, ...], str]:
    layer = write_zip(tmp / "layer.zip", dist("six", "1.16.0", root="python"))
    return write_zip(tmp / "fn.zip", {"app.py": b""}), (layer,), "auto"


def build_directory(tmp: Path) -> tuple[Path, tuple[Path, ...], str]:
    return write_dir(tmp / "site packages", dist("six", "1.16.0")), (), "auto"


def build_tar(tmp: Path) -> tuple[Path, tuple[Path, ...], str]:
    return write_tar(tmp / "site.tar.gz", dist("six", "1.16.0"), mode="w:gz"), (), "auto"


def build_docker_archive(tmp: Path) -> tuple[Path, tuple[Path, ...], str]:
    members, _ = docker_legacy(standard_layers())
    return write_tar_file(tmp / "img.tar", members), (), "auto"


def build_oci_archive(tmp: Path) -> tuple[Path, tuple[Path, ...], str]:
    files, _ = oci_single([tar_bytes({"a.txt": b"a"})])
    return write_tar_file(tmp / "oci.tar", dict(sorted(files.items())), "gzip"), (), "auto"


def build_oci_dir(tmp: Path) -> tuple[Path, tuple[Path, ...], str]:
    files, _ = oci_single([tar_bytes({"a.txt": b"a"})])
    return write_dir(tmp / "layout", files), (), "auto"


Builder = Callable[[Path], tuple[Path, tuple[Path, ...], str]]
BUILDERS: dict[ArtifactKind, Builder] = {
    ArtifactKind.ZIP: build_zip,
    ArtifactKind.WHEEL: build_wheel,
    ArtifactKind.LAMBDA_LAYER: build_lambda_layer,
    ArtifactKind.LAMBDA_FUNCTION: build_lambda_function,
    ArtifactKind.LAMBDA_FUNCTION_WITH_LAYERS: build_function_with_layers,
    ArtifactKind.DIRECTORY: build_directory,
    ArtifactKind.TAR: build_tar,
    ArtifactKind.DOCKER_ARCHIVE: build_docker_archive,
    ArtifactKind.OCI_ARCHIVE: build_oci_archive,
    ArtifactKind.OCI_DIR: build_oci_dir,
}


def test_every_kind_but_the_internal_layer_is_reached() -> None:
    assert set(ArtifactKind) - set(BUILDERS) == {ArtifactKind.LAYER}


@pytest.mark.parametrize("kind", list(BUILDERS), ids=lambda k: k.value)
def test_openers_report_the_kind_as_its_old_string(tmp_path: Path, kind: ArtifactKind) -> None:
    path, layers, requested = BUILDERS[kind](tmp_path)
    with open_artifact(str(path), OpenContext(), requested, tuple(map(str, layers))) as view:
        assert type(view.kind) is ArtifactKind and view.kind is kind
    text = kind.value
    assert json.dumps({"kind": kind}) == json.dumps({"kind": text})
    assert (str(kind), f"{kind}", f"{kind:>30}") == (text, text, f"{text:>30}")
    assert kind == text and hash(kind) == hash(text) and {text: 1}[kind] == 1


def test_sniff_and_the_kind_option() -> None:
    assert "auto" in KINDS and all(k == "auto" or ArtifactKind(k) for k in KINDS)
    assert "layer" not in KINDS and "oci-archive" not in KINDS  # decided by the opener, never requested
    with pytest.raises(UsageError, match="unknown --kind 'layer'"):
        open_artifact(".", OpenContext(), "layer")


def test_sniff_returns_kinds(tmp_path: Path) -> None:
    assert sniff(str(write_zip(tmp_path / "a.zip", {"x": b""}))) is ArtifactKind.ZIP
    assert sniff(str(tmp_path)) is ArtifactKind.DIRECTORY


def test_nested_candidates_by_name() -> None:
    assert is_nested_candidate("a/B.WHL") and is_nested_candidate("x.tar.zst")
    assert not is_nested_candidate("a/b.py") and not is_nested_candidate("zip")
