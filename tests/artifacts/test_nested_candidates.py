"""is_nested_candidate: the quick last-suffix check says what a full suffix test says."""

from __future__ import annotations

import pytest

from depscan.artifacts.kinds import NESTED_SUFFIXES, is_nested_candidate

NAMES = [
    "pkg/mod.py", "pkg/mod.pyi", "", "noext", "a.b/c", ".whl", "x.tar.gz/", "dir.whl/inner.py",
    "x.gz", "x.xz", "x.bz2", "x.zst", "data.tar", "a.tgz", "a.tzst", "b.TZST", "A.WHL", "x/y.Tar.Gz",
    "e.egg", "p.pex", "z.zip", "t.tar.bz2", "t.tar.xz", "t.tar.zst", "t.tar.Zst", "wheel.whl.py", "a..zip",
]


@pytest.mark.parametrize("name", NAMES)
def test_same_as_full_suffix_test(name: str) -> None:
    assert is_nested_candidate(name) == name.lower().endswith(NESTED_SUFFIXES)


def test_some_are_candidates() -> None:
    assert sum(is_nested_candidate(name) for name in NAMES) == 15
