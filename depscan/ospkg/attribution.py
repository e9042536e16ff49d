"""Which OS package owns each native library: a post-catalog step (``scan.run``).

Every ``NativeLib`` and ``NativeComponent`` whose file an ``OsPackage`` lists (``OsPackage.files``:
dpkg ``info/*.list`` / ``status.d/*.md5sums``, apk ``R:`` lines, rpm BASENAMES) gets that
package's purl in ``os_package``: the file is the distribution's, not "unowned".

Paths are compared as written first, then usr-merged: a package database written before or
across the merge lists ``/lib/x86_64-linux-gnu/libc.so.6`` while the image's file is
``usr/lib/x86_64-linux-gnu/libc.so.6`` (``lib`` a link to ``usr/lib``), so a path under ``bin``,
``sbin``, ``lib``, ``lib32``, ``lib64`` or ``libx32`` is looked up under its twin across the merge
(``lib/x`` <-> ``usr/lib/x``) when no package lists it as written. When several packages list
one path (a diversion, a path two packages share), the first database's first package wins, the
order the cataloger reports them in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from depscan.models import Component, NativeComponent, NativeLib, OsPackage

_MERGED = ("bin/", "sbin/", "lib/", "lib32/", "lib64/", "libx32/")
_USR_MERGED = tuple(f"usr/{top}" for top in _MERGED)


def usr_merged(path: str) -> str:
    """``lib/x86_64-linux-gnu/libc.so.6`` -> ``usr/lib/x86_64-linux-gnu/libc.so.6``; other paths as they are."""
    return f"usr/{path}" if path.startswith(_MERGED) else path


def _twin(path: str) -> str | None:
    """The other spelling of a path across the usr merge (``lib/x`` <-> ``usr/lib/x``), if any."""
    if path.startswith(_MERGED):
        return f"usr/{path}"
    if path.startswith(_USR_MERGED):
        return path[4:]
    return None


def attribute(components: Sequence[Component]) -> list[Component]:
    """``components`` with ``os_package`` set on every native library an OS package lists."""
    packages = [c for c in components if isinstance(c, OsPackage) and c.files]
    paths = {
        c.location.path
        for c in components
        if isinstance(c, NativeLib | NativeComponent) and c.os_package is None
    }
    if not packages or not paths:
        return list(components)
    # The few library paths (and their twins) are looked up in the many listed paths, not the other
    # way round: set.intersection runs in C over a package's files (a Debian image lists ~100k).
    wanted = paths | {twin for path in paths if (twin := _twin(path)) is not None}
    owner: dict[str, str] = {}
    for package in packages:  # the first package listing a path wins
        for path in wanted.intersection(package.files):
            owner.setdefault(path, package.purl)
    out: list[Component] = []
    for component in components:
        if isinstance(component, NativeLib | NativeComponent) and component.os_package is None:
            path = component.location.path
            twin = _twin(path)
            purl = owner.get(path) or (owner.get(twin) if twin is not None else None)
            if purl is not None:
                component = replace(component, os_package=purl)
        out.append(component)
    return out
