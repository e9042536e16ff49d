from __future__ import annotations

import pytest

from depscan.artifacts.limits import join_inside, resolve_link, safe_member_path


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a/b.py", "a/b.py"),
        ("./a//b.py", "a/b.py"),
        ("a\\b.py", "a/b.py"),
        ("../x", None),
        ("a/../../x", None),
        ("a/../x", None),
        ("/etc/passwd", None),
        ("C:/x", None),
        ("", None),
        ("a\x00b", None),
    ],
)
def test_safe_member_path(name: str, expected: str | None) -> None:
    assert safe_member_path(name) == expected


def test_links_and_joins() -> None:
    assert resolve_link("usr/lib/libz.so", "libz.so.1", absolute_is_root=True) == "usr/lib/libz.so.1"
    assert resolve_link("usr/lib/libz.so", "/lib/libz.so.1", absolute_is_root=True) == "lib/libz.so.1"
    assert resolve_link("usr/lib/libz.so", "/lib/libz.so.1", absolute_is_root=False) is None
    assert resolve_link("a/b", "../../../etc", absolute_is_root=True) is None
    assert join_inside("lib/site", "../../bin/x", absolute_is_root=False) == "bin/x"
    assert join_inside("lib/site", "../../../bin/x", absolute_is_root=False) is None
