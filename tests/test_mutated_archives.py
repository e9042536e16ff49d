"""Damaged input never crashes: every byte-level mutation of a valid artifact either scans (with
unknowns, perhaps) or ends in a DepscanError naming the file. Deterministic (fixed seeds)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from builders import dist, elf_header, write_tar, write_zip, zip_bytes

from depscan.errors import DepscanError
from tests.helpers import scan

COUNT = 600  # per artifact kind; raise it locally to hunt for crashes (3,000 each found none)


def _artifacts(tmp_path: Path) -> dict[str, bytes]:
    files = dist("requests", "2.31.0", root="site") | dist("six", "1.16.0", root="site")
    files["site/six.libs/libz-0123abcd.so.1.2.13"] = elf_header() + b"\0" * 64
    files["site/wheels/x-1.0-py3-none-any.whl"] = zip_bytes(dist("x", "1.0"))
    return {
        "a.zip": write_zip(tmp_path / "src.zip", files).read_bytes(),
        "a.tar": write_tar(tmp_path / "src.tar", files).read_bytes(),
        "a.tar.gz": write_tar(tmp_path / "src.tar.gz", files, mode="w:gz").read_bytes(),
    }


def _mutations(data: bytes, seed: int, count: int) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        mutated = bytearray(data)
        kind = rng.randrange(3)
        if kind == 0:  # flip a few bytes
            for _ in range(rng.randint(1, 8)):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        elif kind == 1:  # truncate
            del mutated[rng.randrange(1, len(mutated)) :]
        else:  # splice a run of garbage
            at = rng.randrange(len(mutated))
            mutated[at : at + rng.randint(1, 64)] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        out.append(bytes(mutated))
    return out


@pytest.mark.parametrize("name", ["a.zip", "a.tar", "a.tar.gz"])
def test_mutations_end_in_a_result_or_a_clean_error(tmp_path: Path, name: str) -> None:
    original = _artifacts(tmp_path)[name]
    outcomes = {"scanned": 0, "error": 0}
    for number, data in enumerate(_mutations(original, seed=hash(name) % 1000, count=COUNT)):
        path = tmp_path / f"m{number}-{name}"
        path.write_bytes(data)
        try:
            scan(path)
        except DepscanError as e:
            assert str(e).startswith(str(path)), str(e)  # the message names the file
            assert "\n" not in str(e)
            outcomes["error"] += 1
        else:
            outcomes["scanned"] += 1
        path.unlink()
    assert outcomes["scanned"] + outcomes["error"] == COUNT


@pytest.mark.parametrize("layout", ["docker-legacy", "docker-25", "docker-25-gzip"])
def test_mutated_images_end_in_a_result_or_a_clean_error(tmp_path: Path, layout: str) -> None:
    from tests.artifacts.test_image import docker_25, docker_legacy, standard_layers, write_tar_file

    members, _diff_ids = (docker_legacy if layout == "docker-legacy" else docker_25)(standard_layers())
    original = write_tar_file(tmp_path / "img.tar", members, "gzip" if layout.endswith("gzip") else "").read_bytes()
    for number, data in enumerate(_mutations(original, seed=len(layout), count=COUNT // 3)):
        path = tmp_path / f"m{number}.tar"
        path.write_bytes(data)
        try:
            scan(path)
        except DepscanError as e:
            assert str(e).startswith(str(path)), str(e)
            assert "\n" not in str(e)
        path.unlink()
