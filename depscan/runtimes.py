"""Target runtimes: a dated DATA table of the AWS Lambda Python runtimes, and the runtime a scan is
judged against (``--runtime`` / ``--arch``, else inferred from the artifact).

The table says, per runtime identifier, the operating system Lambda pairs it with, that system's
glibc, the Python version, the architectures and the deprecation date. Policy checks use the glibc
(a module needing a newer ``GLIBC_2.x`` fails to load), the Python version (wheel tags, extension
module ABI tags) and the architecture (ELF machine). Issue 13 (runtime deprecation) reuses the dates.

Sources, checked on ``TABLE_CHECKED``:

* runtimes, operating systems, architectures and deprecation dates: the "Supported runtimes" and
  "Deprecated runtimes" tables of https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html
  (mirrored by https://endoflife.date/aws-lambda, which was used to cross-check the dates);
* glibc of the operating systems (not on the runtimes page): the ``glibc`` package each release ships,
  2.26 on Amazon Linux 2 and 2.34 on Amazon Linux 2023 (``ldd --version`` in the
  ``public.ecr.aws/lambda/python`` base images of each). Not re-checked against a package list in the
  session that wrote this table: verify when the table is next updated.

Lambda names the architectures ``x86_64`` and ``arm64``; ELF files, ``uname -m`` and wheel platform
tags say ``x86_64`` and ``aarch64``. ``machine`` values here use the ELF naming (``NativeLib.arch``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from depscan.errors import UsageError
from depscan.models import Component, NativeLib, OsPackage, PythonDist, Status, TargetRuntime

TABLE_CHECKED = date(2026, 2, 11)  # when the rows below were compared with the AWS pages

AMAZON_LINUX_2 = "Amazon Linux 2"
AMAZON_LINUX_2023 = "Amazon Linux 2023"
OS_GLIBC = {AMAZON_LINUX_2: "2.26", AMAZON_LINUX_2023: "2.34"}

# Lambda's architecture names -> the ELF machine names ``NativeLib.arch`` uses.
LAMBDA_ARCHITECTURES = {"x86_64": "x86_64", "arm64": "aarch64"}
# What ``--arch`` accepts: Lambda's names and the ELF names.
ARCH_CHOICES = {"x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}


@dataclass(frozen=True, slots=True)
class LambdaRuntime:
    """One AWS Lambda Python runtime."""

    identifier: str  # "python3.12"
    name: str  # "Python 3.12", as the AWS table names it
    python: str  # "3.12"
    os: str  # "Amazon Linux 2023"
    architectures: tuple[str, ...]  # Lambda's names: "x86_64", "arm64"
    deprecation: date  # "Deprecation date" column: no more security patches after it

    @property
    def glibc(self) -> str:
        return OS_GLIBC[self.os]

    @property
    def machines(self) -> tuple[str, ...]:
        """The architectures as ELF machine names."""
        return tuple(LAMBDA_ARCHITECTURES[a] for a in self.architectures)


_BOTH = ("x86_64", "arm64")

LAMBDA_PYTHON_RUNTIMES: tuple[LambdaRuntime, ...] = (
    # lambda-runtimes.html, Supported runtimes: "Python 3.14 | python3.14 | Amazon Linux 2023 | x86_64, arm64 |
    # Jun 30, 2029" (released Nov 18, 2025).
    LambdaRuntime("python3.14", "Python 3.14", "3.14", AMAZON_LINUX_2023, _BOTH, date(2029, 6, 30)),
    # lambda-runtimes.html, Supported runtimes: "Python 3.13 | python3.13 | Amazon Linux 2023 | x86_64, arm64 |
    # Jun 30, 2029".
    LambdaRuntime("python3.13", "Python 3.13", "3.13", AMAZON_LINUX_2023, _BOTH, date(2029, 6, 30)),
    # lambda-runtimes.html, Supported runtimes: "Python 3.12 | python3.12 | Amazon Linux 2023 | x86_64, arm64 |
    # Oct 31, 2028".
    LambdaRuntime("python3.12", "Python 3.12", "3.12", AMAZON_LINUX_2023, _BOTH, date(2028, 10, 31)),
    # lambda-runtimes.html, Supported runtimes: "Python 3.11 | python3.11 | Amazon Linux 2 | x86_64, arm64 |
    # Jun 30, 2027".
    LambdaRuntime("python3.11", "Python 3.11", "3.11", AMAZON_LINUX_2, _BOTH, date(2027, 6, 30)),
    # lambda-runtimes.html, Supported runtimes: "Python 3.10 | python3.10 | Amazon Linux 2 | x86_64, arm64 |
    # Jun 30, 2026".
    LambdaRuntime("python3.10", "Python 3.10", "3.10", AMAZON_LINUX_2, _BOTH, date(2026, 6, 30)),
    # lambda-runtimes.html, Deprecated runtimes: "Python 3.9 | python3.9 | Amazon Linux 2 | Dec 15, 2025"
    # (moved from Oct 31, 2025; the change is cited in terraform-linters/tflint-ruleset-aws#969).
    LambdaRuntime("python3.9", "Python 3.9", "3.9", AMAZON_LINUX_2, _BOTH, date(2025, 12, 15)),
    # lambda-runtimes.html, Deprecated runtimes: "Python 3.8 | python3.8 | Amazon Linux 2 | Oct 14, 2024".
    LambdaRuntime("python3.8", "Python 3.8", "3.8", AMAZON_LINUX_2, _BOTH, date(2024, 10, 14)),
)

RUNTIMES_BY_ID = {r.identifier: r for r in LAMBDA_PYTHON_RUNTIMES}
_BY_PYTHON = {r.python: r for r in LAMBDA_PYTHON_RUNTIMES}

# Artifact kinds that are Lambda deployments (``artifacts.kinds.ArtifactKind`` values).
LAMBDA_KINDS = frozenset({"lambda-function", "lambda-layer", "lambda-function+layers"})
# A Lambda layer's site-packages (``python/...`` in the layer zip, ``opt/python/...`` once mounted).
_LAYER_SITE = re.compile(r"^(?:opt/)?python/lib/python(3\.\d+)/site-packages$")
# Any ``lib/python3.X/site-packages`` (a virtualenv, an image's interpreter).
_SITE = re.compile(r"(?:^|/)lib/python(3\.\d+)/site-packages$")
# An extension module's CPython tag: "cpython-312-x86_64-linux-gnu" -> 3.12.
_CPYTHON_TAG = re.compile(r"^cpython-3(\d+)")


def site_python(path: str) -> str | None:
    """The Python version a ``.../lib/python3.X/site-packages/...`` path belongs to (``"3.12"``), or None."""
    marker = path.find("/site-packages")
    if marker < 0:
        return None
    site = _SITE.search(path[:marker + len("/site-packages")])
    return site[1] if site is not None else None


def lambda_runtime(identifier: str) -> LambdaRuntime:
    """The table's row for ``identifier`` (``python3.12``), or a usage error listing the known ones."""
    runtime = RUNTIMES_BY_ID.get(identifier)
    if runtime is None:
        known = ", ".join(r.identifier for r in LAMBDA_PYTHON_RUNTIMES)
        raise UsageError(f"unknown --runtime {identifier!r}; one of: {known}")
    return runtime


def machine_for_arch(arch: str) -> str:
    """``--arch`` (Lambda's ``arm64`` or the ELF ``aarch64``, ``x86_64``) as an ELF machine name."""
    machine = ARCH_CHOICES.get(arch)
    if machine is None:
        raise UsageError(f"unknown --arch {arch!r}; one of: {', '.join(ARCH_CHOICES)}")
    return machine


def version_tuple(text: str) -> tuple[int, ...]:
    """``"2.34"`` -> ``(2, 34)``; the numeric dot-separated prefix (``"2.17a"`` -> ``(2, 17)``)."""
    parts = []
    for part in text.split("."):
        digits = re.match(r"\d+", part)
        if digits is None:
            break
        parts.append(int(digits[0]))
        if digits.end() != len(part):
            break
    return tuple(parts)


def infer_target(
    components: Sequence[Component], kind: str, runtime: str | None = None, arch: str | None = None
) -> TargetRuntime:
    """The runtime the artifact's code is judged against, and how each part of it was learned.

    ``--runtime`` fixes the Python version and glibc (from the table); ``--arch`` fixes the machine.
    Without them: the Python version from the site-packages paths of the distributions the runtime
    imports (``python/lib/python3.X/site-packages`` in a layer), else from the extension modules'
    ``cpython-3XY`` tags (the most common one); the machine from the ELF files (the most common
    one; a tie is unknown); the C library from the artifact's own OS package database when it has
    one (a container image: dpkg ``libc6``, rpm ``glibc``, apk ``musl``), else, when the Python
    version names a Lambda runtime and the artifact is a Lambda deployment (a Lambda kind, or a
    Lambda layer's path), that runtime's glibc. A part left None skips the checks that need it (the
    caller says so).
    """
    kind = str(getattr(kind, "value", kind))  # an ArtifactKind hashes by its member name, not its value
    basis: list[str] = []
    python = glibc = machine = chosen = libc = None
    if runtime is not None:
        row = lambda_runtime(runtime)
        python, glibc, chosen, libc = row.python, row.glibc, row.identifier, "glibc"
        basis.append(f"Python {python} and glibc {glibc} ({row.os}) from --runtime {runtime}")
    else:
        python, how, lambda_path = _python_version(components)
        if python is not None:
            basis.append(f"Python {python} from {how}")
        installed = _os_libc(components)
        row_for_python = _BY_PYTHON.get(python) if python is not None else None
        if installed is not None:
            libc, glibc, how = installed
            basis.append(how)
        elif row_for_python is not None and (kind in LAMBDA_KINDS or lambda_path):
            chosen, glibc, libc = row_for_python.identifier, row_for_python.glibc, "glibc"
            basis.append(f"glibc {glibc} from the Lambda runtime {chosen} ({row_for_python.os})")
    if arch is not None:
        machine = machine_for_arch(arch)
        basis.append(f"machine {machine} from --arch {arch}")
    else:
        machine, how = _machine(components)
        if machine is not None:
            basis.append(f"machine {machine} from {how}")
    return TargetRuntime(runtime=chosen, python=python, machine=machine, glibc=glibc, libc=libc, basis=tuple(basis))


# The C library's package in each package manager's database.
_LIBC_PACKAGES = {("dpkg", "libc6"): "glibc", ("rpm", "glibc"): "glibc", ("apk", "musl"): "musl"}


def _os_libc(components: Sequence[Component]) -> tuple[str, str | None, str] | None:
    """(libc, glibc version or None, how) from an OS package database's C library package."""
    for c in components:
        if isinstance(c, OsPackage) and c.status is Status.USED:
            libc = _LIBC_PACKAGES.get((c.package_manager, c.name))
            if libc is None:
                continue
            # "2.36-9+deb12u4" (dpkg), "2.34-100.amzn2023.0.2" (rpm), "1.2.4-r2" (apk): the upstream part
            upstream = ".".join(str(n) for n in version_tuple(re.sub(r"^\d+:", "", c.version)))
            how = f"{libc} {upstream} from the {c.package_manager} package {c.name} {c.version}"
            return libc, upstream if libc == "glibc" and upstream else None, how
    return None


def _python_version(components: Sequence[Component]) -> tuple[str | None, str, bool]:
    """(version, how it was learned, whether a Lambda layer path said it)."""
    sites: Counter[str] = Counter()
    lambda_sites: Counter[str] = Counter()
    tags: Counter[str] = Counter()
    for c in components:
        if isinstance(c, PythonDist) and c.status is Status.USED:
            layer = _LAYER_SITE.match(c.site_root)
            if layer is not None:
                lambda_sites[layer[1]] += 1
            else:
                site = _SITE.search(c.site_root)
                if site is not None:
                    sites[site[1]] += 1
        elif isinstance(c, NativeLib) and c.kind == "python-extension" and c.abi_tag:
            tag = _CPYTHON_TAG.match(c.abi_tag)
            if tag is not None:
                tags[f"3.{tag[1]}"] += 1
    for counter, what, is_lambda in (
        (lambda_sites, "the Lambda layer path python/lib/python{v}/site-packages", True),
        (sites, "the path lib/python{v}/site-packages", False),
        (tags, "the extension modules' cpython-{t} tags", False),
    ):
        best = _majority(counter)
        if best is not None:
            version, count = best
            how = what.format(v=version, t=version.replace(".", ""))
            if len(counter) > 1:
                others = ", ".join(f"{v} ({n})" for v, n in sorted(counter.items()) if v != version)
                how += f" ({count} distribution(s) or modules; also seen: {others})"
            return version, how, is_lambda
    return None, "", False


def _machine(components: Sequence[Component]) -> tuple[str | None, str]:
    machines = Counter(c.arch for c in components if isinstance(c, NativeLib) and c.arch != "unknown")
    best = _majority(machines)
    if best is None:
        return None, ""
    machine, count = best
    total = sum(machines.values())
    return machine, f"the ELF files ({count} of {total})"


def _majority(counter: Counter[str]) -> tuple[str, int] | None:
    """The most common value, None when there is none or two share the top count."""
    ranked = counter.most_common(2)
    if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
        return None
    return ranked[0]
