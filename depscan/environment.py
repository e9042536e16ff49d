"""The PEP 508 marker environment of a scanned artifact: the interpreter and platform it runs on.

``Requires-Dist`` entries carry environment markers (``pywin32 ; sys_platform == "win32"``,
``tomli ; python_version < "3.11"``). To decide which of them apply inside a deployment, they are
evaluated for the artifact's interpreter, never for the interpreter running depscan. Nothing in an
artifact states that interpreter outright, so it is inferred:

* **Python version.** A site root such as ``opt/python/lib/python3.12/site-packages`` or
  ``usr/local/lib/python3.11/site-packages`` names it: every distribution votes for the ``pythonX.Y``
  in its site root; the version with most votes wins, the higher version on a tie. Without one (a
  Lambda function zip keeps its packages at the root), the WHEEL tags decide: tags built for one
  interpreter (``cp312-cp312-...``, ``cp37-cp37m-...``) vote the same way; when only stable-ABI
  tags exist (``cp38-abi3-...``, a lower bound) the highest bound is used. Without any, ``3.12``.
  The patch level is unknown: ``python_full_version`` is ``X.Y.0``.
* **Platform.** Always Linux (Lambda and container images run Linux). The machine comes from
  Linux platform tags (``manylinux_2_17_x86_64``, ``musllinux_1_1_aarch64``, ``linux_x86_64``),
  most common first, ``x86_64`` on a tie; without any, ``x86_64`` (Lambda's default architecture).
* **Implementation.** CPython (``implementation_name`` ``cpython``), ``os_name`` ``posix``.
  ``platform_release`` and ``platform_version`` (a kernel's release strings) are unknown: ``""``.
* **Extras.** ``extra`` is ``""``: an installed artifact does not record which extras were asked for.
  A caller that knows (a requirement ``B[x]`` naming distribution ``B``) sets ``extra`` itself.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from packaging.tags import Tag, parse_tag

from depscan.models import PythonDist, ScanResult

DEFAULT_PYTHON = "3.12"
DEFAULT_MACHINE = "x86_64"

_SITE_ROOT_PYTHON = re.compile(r"(?:^|/)python(\d+)\.(\d+)(?:/|$)")
_CPYTHON_TAG = re.compile(r"^cp(\d)(\d+)$")
_CPYTHON_ABI = re.compile(r"^cp(\d)(\d+)[dmtu]*$")
_LINUX_PLATFORM = re.compile(r"^(?:manylinux\d*|manylinux_\d+_\d+|musllinux_\d+_\d+|linux)_(\w+)$")


def marker_environment(result: ScanResult) -> dict[str, str]:
    """Every PEP 508 marker variable, set for the interpreter the scanned artifact runs on.

    Every key is present, so ``Marker.evaluate(env)`` never falls back to depscan's own interpreter.
    The result's target runtime (``ScanResult.target``: ``--runtime``/``--arch``, or what
    ``runtimes.infer_target`` learned from the artifact), which the requirement check judges markers
    against too, wins where it is known; the inference below fills what it leaves unknown.
    """
    dists = [c for c in result.components if isinstance(c, PythonDist)]
    target = result.target
    python_version = (target.python if target is not None and target.python else None) or infer_python_version(dists)
    machine = (target.machine if target is not None and target.machine else None) or infer_machine(dists)
    full_version = f"{python_version}.0"
    return {
        "implementation_name": "cpython",
        "implementation_version": full_version,
        "os_name": "posix",
        "platform_machine": machine,
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": full_version,
        "python_version": python_version,
        "sys_platform": "linux",
        "extra": "",
    }


def _most_votes(votes: Counter[tuple[int, int]]) -> tuple[int, int] | None:
    if not votes:
        return None
    return max(votes, key=lambda version: (votes[version], version))


def infer_python_version(dists: Iterable[PythonDist]) -> str:
    """``X.Y`` from site roots, else from WHEEL tags, else ``DEFAULT_PYTHON`` (see the module docstring)."""
    dists = list(dists)
    from_roots: Counter[tuple[int, int]] = Counter()
    for dist in dists:
        match = _SITE_ROOT_PYTHON.search(dist.site_root)
        if match:
            from_roots[(int(match[1]), int(match[2]))] += 1
    exact: Counter[tuple[int, int]] = Counter()
    lower_bounds: set[tuple[int, int]] = set()
    for dist in dists:
        exact_here: set[tuple[int, int]] = set()
        for tag in _tags(dist):
            interpreter = _CPYTHON_TAG.match(tag.interpreter)
            if interpreter is None:
                continue
            version = (int(interpreter[1]), int(interpreter[2]))
            abi = _CPYTHON_ABI.match(tag.abi)
            if abi is not None and (int(abi[1]), int(abi[2])) == version:
                exact_here.add(version)
            else:
                lower_bounds.add(version)
        exact.update(exact_here)  # one vote per distribution, however many tags it lists
    best = _most_votes(from_roots) or _most_votes(exact) or (max(lower_bounds) if lower_bounds else None)
    return DEFAULT_PYTHON if best is None else f"{best[0]}.{best[1]}"


def infer_machine(dists: Iterable[PythonDist]) -> str:
    """The Linux machine (``x86_64``, ``aarch64``) named by platform tags, else ``DEFAULT_MACHINE``."""
    votes: Counter[str] = Counter()
    for dist in dists:
        machines = set()
        for tag in _tags(dist):
            match = _LINUX_PLATFORM.match(tag.platform)
            if match:
                machines.add(match[1])
        votes.update(machines)
    if not votes:
        return DEFAULT_MACHINE
    return max(votes, key=lambda machine: (votes[machine], machine == DEFAULT_MACHINE, machine))


def _tags(dist: PythonDist) -> Iterable[Tag]:
    if dist.wheel is None:
        return
    for text in dist.wheel.tags:
        try:
            yield from parse_tag(text.strip())
        except ValueError:  # a malformed tag in a WHEEL file says nothing
            continue

