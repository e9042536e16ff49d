"""depscan/vendored_names.py: the import-name table generated from the wheels of PyPI's most-downloaded
projects (bench/gen_vendored_names.py): real mappings, names left out, and the packed table's mapping."""

from __future__ import annotations

from types import ModuleType

import pytest

from depscan import vendored_names
from depscan.vendored_names import IMPORT_NAMES
from tests.helpers import BENCH, bench_module


def _generator() -> ModuleType:
    return bench_module("gen_vendored_names")


@pytest.mark.parametrize(("name", "project"), [
    ("yaml", "PyYAML"), ("_yaml", "PyYAML"), ("dateutil", "python-dateutil"), ("bs4", "beautifulsoup4"),
    ("attr", "attrs"), ("six", "six"), ("typing_extensions", "typing-extensions"), ("PIL", "pillow"),
    ("OpenSSL", "pyOpenSSL"), ("zmq", "pyzmq"), ("Crypto", "pycryptodome"), ("sklearn", "scikit-learn"),
    ("pkg_resources", "setuptools"),  # the generator's EXTRA
    ("mangum", "mangum"), ("aws_encryption_sdk", "aws-encryption-sdk"), ("awslambdaric", "awslambdaric"),
])
def test_real_mappings(name: str, project: str) -> None:
    assert IMPORT_NAMES.get(name) == project
    assert IMPORT_NAMES[name] == project and name in IMPORT_NAMES


@pytest.mark.parametrize("name", [
    "google", "azure", "opentelemetry", "nvidia",  # namespaces many projects share
    "twisted",  # Twisted's, but autobahn adds twisted/plugins/ (and azure/__init__.py of one project is a namespace)
    "jwt",  # PyJWT and jwt
    "cv2",  # opencv-python, -headless, -contrib-python
    "psycopg2",  # psycopg2 and psycopg2-binary
    "backports", "jaraco", "zope",  # the namespaces of dotted projects
    "tests", "test", "docs", "examples", "scripts", "src", "lib", "utils", "__init__",  # generic
    "config", "events", "handler", "cli", "services", "schema",  # a function's own modules, more likely
    "brotli", "tensorflow", "phonenumbers",  # brotlipy, tensorflow-cpu, phonenumberslite install them too
    "no_such_module", "", "Yaml",
])
def test_names_that_identify_nothing(name: str) -> None:
    assert IMPORT_NAMES.get(name) is None and name not in IMPORT_NAMES
    assert IMPORT_NAMES.get(name, "x") == "x"
    with pytest.raises(KeyError):
        IMPORT_NAMES[name]


def test_the_packed_table_is_a_consistent_mapping() -> None:
    names = list(IMPORT_NAMES)
    assert names == sorted(names) and len(names) == len(set(names)) == len(IMPORT_NAMES) > 1500
    assert len(vendored_names._PROJECTS.split()) == len(names)
    table = dict(IMPORT_NAMES)
    assert all(IMPORT_NAMES.get(name) == project and " " not in project for name, project in table.items())
    assert not {name for name in table if name.lower() in _generator().GENERIC or name.startswith("__")}


def test_the_header_says_where_the_table_comes_from() -> None:
    doc = vendored_names.__doc__ or ""
    assert "python bench/gen_vendored_names.py" in doc
    assert "hugovk/top-pypi-packages" in doc and "last_update 2025-04-01" in doc
    assert "3000 most-downloaded projects" in doc and "sdist only" in doc


def test_the_list_file_is_the_one_the_header_names() -> None:
    header, names = _generator().read_top_list(BENCH / "data" / "top-pypi-packages.txt")
    assert header["last_update"].startswith("2025-04-01")
    assert "169a5a93c68410850fd1e9e98c090b8fb87c6b92" in header["file"]
    assert len(names) == len(set(names)) == 3000 and names[:3] == ["boto3", "urllib3", "setuptools"]
