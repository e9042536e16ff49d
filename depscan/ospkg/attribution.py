"""Which OS package owns each native library: a post-catalog step (``scan.run``).

Every ``NativeLib`` and ``NativeComponent`` whose file an ``OsPackage`` lists (``OsPackage.files``:
dpkg ``info/*.list`` / ``status.d/*.md5sums``, apk ``R:`` lines, rpm BASENAMES) gets that
package's purl in ``os_package``: the file is the distribution's, not "unowned".

Paths are compared as written first, then usr-merged: a package database written before or
across the merge lists ``/lib/x86_64-linux-gnu/libc.so.6`` while the image's file is
``usr/lib/x86_64-linux-gnu/libc.so.6`` (``lib`` a link to ``usr/lib``), so ``bin``, ``sbin``,
``lib``, ``lib32``, ``lib64`` and ``libx32`` are read as their ``usr/`` twins when the exact path
is not listed. When several packages list one path (a diversion, a path two packages share),
the first database's first package wins, the order the cataloger reports them in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from depscan.models import Component, NativeComponent, NativeLib, OsPackage

_MERGED = ("bin/", "sbin/", "lib/", "lib32/", "lib64/", "libx32/")


def usr_merged(path: str) -> str:
    """``lib/x86_64-linux-gnu/libc.so.6`` -> ``usr/lib/x86_64-linux-gnu/libc.so.6``; other paths as they are."""
    return f"usr/{path}" if path.startswith(_MERGED) else path


def owners(packages: Sequence[OsPackage]) -> tuple[dict[str, str], dict[str, str]]:
    """(exact path -> purl, usr-merged path -> purl) over every file the packages list."""
    exact: dict[str, str] = {}
    merged: dict[str, str] = {}
    for package in packages:
        for path in package.files:
            exact.setdefault(path, package.purl)
            merged.setdefault(usr_merged(path), package.purl)
    return exact, merged


def attribute(components: Sequence[Component]) -> list[Component]:
    """``components`` with ``os_package`` set on every native library an OS package lists."""
    packages = [c for c in components if isinstance(c, OsPackage) and c.files]
    if not packages:
        return list(components)
    exact, merged = owners(packages)
    out: list[Component] = []
    for component in components:
        if isinstance(component, NativeLib | NativeComponent) and component.os_package is None:
            path = component.location.path
            purl = exact.get(path) or merged.get(usr_merged(path))
            if purl is not None:
                component = replace(component, os_package=purl)
        out.append(component)
    return out
