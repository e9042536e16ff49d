"""bench/gen_vendored_names.py: import names from top-level wheels, wheels vendored with their dist-info, a
vendoring project's pin list, and the documented extra names; and what the generated table identifies."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

from builders import dist, write_zip

from depscan.models import PythonDist, Status
from tests.helpers import scan

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _generator() -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        import gen_vendored_names
    finally:
        sys.path.remove(str(BENCH))
    return gen_vendored_names


def test_vendored_dist_infos_pin_lists_and_extras_feed_the_table(tmp_path: Path) -> None:
    gen = _generator()
    files = dist("CacheControl", "0.14.0", modules={"cachecontrol/__init__.py": b""})
    vendored = dist("tomli", "2.4.0", root="setuptools/_vendor")  # a wheel setuptools vendors, dist-info kept
    files |= {path: data for path, data in vendored.items()}
    files |= dist("setuptools", "84.2.1", modules={"setuptools/__init__.py": b""})
    files |= {
        "pip/_vendor/vendor.txt": b"CacheControl==0.14.4\nresolvelib==1.2.1  # pinned\ntomli-w==1.2.0\nrich==15\n",
        "pip/_vendor/cachecontrol/__init__.py": b"",
        "pip/_vendor/resolvelib/__init__.py": b"",
        "pip/_vendor/tomli_w/__init__.py": b"",
        "pip/_vendor/notpinned/__init__.py": b"",
    }
    source = write_zip(tmp_path / "in put.zip", files)
    table = gen.build([source])
    assert table["tomli"] == "tomli"  # read from setuptools/_vendor/tomli-2.4.0.dist-info
    assert (table["resolvelib"], table["tomli_w"]) == ("resolvelib", "tomli-w")  # named by pip's vendor.txt
    assert table["cachecontrol"] == "CacheControl"  # one project however it is spelled: kept
    assert "notpinned" not in table and "rich" not in table
    assert table["pkg_resources"] == "setuptools"  # EXTRA
    directory = tmp_path / "site dir"
    for path, data in files.items():
        (directory / path).parent.mkdir(parents=True, exist_ok=True)
        (directory / path).write_bytes(data)
    assert gen.build([directory]) == table


def test_pip_vendored_pkg_resources_is_the_setuptools_pip_pins(tmp_path: Path) -> None:
    modules = {
        "pip/__init__.py": b'__version__ = "26.3"\n',
        "pip/_vendor/__init__.py": b"",
        "pip/_vendor/vendor.txt": b"packaging==26.3\nsetuptools==70.3.0\nresolvelib==1.2.1\n",
        "pip/_vendor/pkg_resources/__init__.py": b"import sys\n",
        "pip/_vendor/resolvelib/__init__.py": b"",
    }
    result = scan(write_zip(tmp_path / "site.zip", dist("pip", "26.3", modules=modules)))
    copies = {(c.name, c.version, c.metadata_location.path) for c in result.components
              if isinstance(c, PythonDist) and c.status is Status.VENDORED}
    assert copies == {("setuptools", "70.3.0", "pip/_vendor/pkg_resources/__init__.py"),
                      ("resolvelib", "1.2.1", "pip/_vendor/resolvelib/__init__.py")}
    assert not result.unknowns
