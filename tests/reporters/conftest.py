"""One realistic ScanResult for every reporter: the README demo (a Lambda function with a layer
that holds a shadowed urllib3) matched against the bundled advisory subset, with one finding
ignored, plus a broken dist-info so there is an unknown."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pytest
from builders import dist, elf_header, write_zip

from depscan.config import AdvisorySettings, IgnoreRule, ScanConfig
from depscan.models import ScanResult
from depscan.scan import run

REPO = Path(__file__).resolve().parents[2]
SUBSET = REPO / "fixtures" / "advisories" / "pypi-subset.zip"


@pytest.fixture
def demo_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ScanResult:
    """The demo scan, with paths under ``tmp_path`` (redact them with ``str(tmp_path)``)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    sys.path.insert(0, str(REPO / "fixtures" / "demo"))
    try:
        from build_demo import build
    finally:
        sys.path.pop(0)
    function, layer = build(tmp_path / "demo")
    # The layer is rebuilt with one more, broken, distribution so the result has an unknown.
    broken = dist("MarkupSafe", "1.0", root="python") | dist("Jinja2", "2.10", root="python", requires=(
        "MarkupSafe (>=0.23)", "Babel (>=0.8) ; extra == 'i18n'")) | dist(
        "urllib3", "1.26.5", root="python/lib/python3.12/site-packages")
    broken["python/bad-1.0.dist-info/METADATA"] = b"Metadata-Version: 2.1\nName: bad\n"
    write_zip(layer, broken)
    settings = AdvisorySettings(
        mode="offline",
        export=SUBSET,
        ignores=(IgnoreRule("CVE-2019-10906", "sandbox not used", date(2099, 1, 1)),),
        max_age_days=100_000,
    )
    config = ScanConfig(str(function), (str(layer),), hash_artifact=True, advisories=settings)
    return run(config)


NUMPY_LIBS = {
    "numpy/core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so": elf_header(padding=b"umath" * 20),
    "numpy.libs/libgfortran-040039e1.so.5.0.0": elf_header(padding=b"gfortran" * 20),
}


@pytest.fixture
def native_result(tmp_path: Path) -> ScanResult:
    """A scanned function zip with native libraries: numpy's extension module and grafted libgfortran (owned
    by numpy through its RECORD), and an aarch64 ``lib/libcustom.so.1`` no distribution owns."""
    files = dist("numpy", "1.26.4", modules={"numpy/__init__.py": b"", **NUMPY_LIBS},
                 tags=("cp311-cp311-manylinux_2_17_x86_64",))
    files["lib/libcustom.so.1"] = elf_header(183, padding=b"custom" * 20)  # EM_AARCH64
    return run(ScanConfig(str(write_zip(tmp_path / "app.zip", files)), hash_artifact=True))


@pytest.fixture
def full_result(demo_result: ScanResult) -> ScanResult:
    """The demo scan plus, built by hand, every type native identification adds (``native_types``): ELF facts,
    identified libraries, an OS package, native and OS findings, policy findings, a not-verifiable component."""
    from tests.reporters.native_types import with_native_types

    return with_native_types(demo_result)
