"""Differential tests: parse_headers against packaging.metadata.parse_email, field by field.

The fast header split must give exactly what ``parse_email`` gives for every field the inventory
reads, on real METADATA files (every distribution installed in this environment, the README demo,
and the benchmark corpora when they are built) and on hand-made edge cases of the email format.
"""

from __future__ import annotations

import importlib.metadata
import os
import zipfile
from pathlib import Path

import pytest
from packaging import metadata as packaging_metadata
from packaging.metadata import parse_email

from depscan.catalogers.core_metadata import MAPPING_FIELDS, MULTIPLE_FIELDS, SINGLE_FIELDS, parse_headers
from depscan.catalogers.python_dists import _headers_only

KEYS = (*SINGLE_FIELDS.values(), *MULTIPLE_FIELDS.values(), *MAPPING_FIELDS.values())
BENCH_WORKDIR = Path(os.environ.get("DEPSCAN_BENCH_WORKDIR", "~/.cache/depscan-bench")).expanduser()
BENCH_ZIPS = sorted(BENCH_WORKDIR.glob("*.zip")) if BENCH_WORKDIR.is_dir() else []


def used(raw: object) -> dict[str, object]:
    assert isinstance(raw, dict)
    return {key: raw[key] for key in KEYS if key in raw}


def assert_same(data: bytes, where: str = "") -> None:
    block = _headers_only(data)
    expected = used(parse_email(block)[0])
    assert used(parse_headers(block)) == expected, where
    # The header block alone gives what the whole file gives (the body is only the description).
    assert used(parse_email(data)[0]) == expected, where


def test_field_kinds_match_packaging() -> None:
    """The single/multiple-use split mirrors packaging's own tables (a packaging upgrade that
    changes them fails here, not silently in the inventory)."""
    assert set(SINGLE_FIELDS.values()) <= packaging_metadata._STRING_FIELDS
    assert set(MULTIPLE_FIELDS.values()) <= packaging_metadata._LIST_FIELDS
    assert set(MAPPING_FIELDS.values()) == {"project_urls"}  # parse_email special-cases it (_parse_project_urls)
    for field, key in {**SINGLE_FIELDS, **MULTIPLE_FIELDS, **MAPPING_FIELDS}.items():
        assert packaging_metadata._EMAIL_TO_RAW_MAPPING[field] == key


def test_every_installed_distribution() -> None:
    count = 0
    for dist in importlib.metadata.distributions():
        base = getattr(dist, "_path", None)  # PathDistribution: a *.dist-info / *.egg-info directory
        if base is None:
            continue
        for name in ("METADATA", "PKG-INFO"):
            path = Path(str(base)) / name
            if path.is_file():
                assert_same(path.read_bytes(), str(path))
                count += 1
                break
    assert count >= 20  # pytest, packaging, typer, rich, requests, cyclonedx and their dependencies


def test_readme_demo(demo: tuple[Path, Path]) -> None:
    count = 0
    for archive in demo:
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                if name.endswith("/METADATA"):
                    assert_same(zf.read(name), f"{archive.name}: {name}")
                    count += 1
    assert count >= 5


@pytest.mark.skipif(not BENCH_ZIPS, reason=f"no benchmark corpora in {BENCH_WORKDIR} (bench/bench_inventory.py)")
@pytest.mark.parametrize("archive", BENCH_ZIPS, ids=lambda p: p.name)
def test_benchmark_corpora(archive: Path) -> None:
    count = 0
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            if info.filename.endswith(("/METADATA", "/PKG-INFO")):
                assert_same(zf.read(info), f"{archive.name}: {info.filename}")
                count += 1
    assert count >= 300


EDGE_CASES = {
    "project urls": b"Name: demo\nVersion: 1.0\nHome-page: https://x.org\nProject-URL: Source, https://g.com/x\n"
    b"Project-URL: Bug Tracker,https://g.com/x/issues\nProject-URL: no comma here\n\n",
    "duplicate url label": b"Name: demo\nVersion: 1.0\nProject-URL: A, https://a\nProject-URL: A, https://b\n\n",
    "two home pages": b"Name: demo\nVersion: 1.0\nHome-page: https://a\nHome-page: https://b\n\n",
    "plain": b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nSummary: A demo\n\nBody text\n",
    "crlf": b"Metadata-Version: 2.1\r\nName: demo\r\nVersion: 1.0\r\nSummary: A demo\r\n\r\nBody\r\n",
    "bare cr": b"Metadata-Version: 2.1\rName: demo\rVersion: 1.0\rSummary: A demo\r\rBody\r",
    "mixed breaks": b"Name: demo\r\nVersion: 1.0\rSummary: x\n\r\nBody",
    "folded license": b"Name: demo\nVersion: 1.0\nLicense: MIT License\n        \n        Copyright (c) 2020\n"
    b"\tall rights\nSummary: s\n\n",
    "folded last header": b"Name: demo\nVersion: 1.0\nLicense: line one\n  line two\n",
    "duplicate name": b"Name: demo\nName: other\nVersion: 1.0\n\n",
    "duplicate summary": b"Name: demo\nVersion: 1.0\nSummary: a\nsummary: b\n\n",
    "lower and odd case": b"name: demo\nVERSION: 1.0\nrequires-DIST: a\nRequires-Dist: b ; extra == 'x'\n\n",
    "space before colon": b"Name : demo\nVersion: 1.0\n\n",
    "space in field name": b"Name: demo\nVersion: 1.0\nBad Field: x\nSummary: after the body started\n\n",
    "colon first": b"Name: demo\n: no name\n  continuation of nothing\nVersion: 1.0\n\n",
    "continuation first": b"  leading continuation\nName: demo\nVersion: 1.0\n\n",
    "no colon line": b"Name: demo\nnot a header line\nVersion: 1.0\n\n",
    "from first": b"From someone Mon Jan  1 00:00:00 2024\nName: demo\nVersion: 1.0\n\n",
    "from middle": b"Name: demo\nFrom someone\n  folded\nVersion: 1.0\n\n",
    "from last": b"Name: demo\nVersion: 1.0\nFrom the body\n",
    "utf-8 summary": "Name: demo\nVersion: 1.0\nSummary: caf\u00e9 \u2603\nAuthor: J\u00f6rg\n\n".encode(),
    "latin-1 summary": b"Name: demo\nVersion: 1.0\nSummary: caf\xe9\n\n",
    "latin-1 name": b"Name: d\xe9mo\nVersion: 1.0\n\n",
    "latin-1 in one classifier": b"Name: demo\nVersion: 1.0\nClassifier: A\nClassifier: caf\xe9\n\n",
    "utf-8 folded license": "Name: demo\nVersion: 1.0\nLicense: \u00a9 J\u00f6rg\n  \u2603 line two\n\n".encode(),
    "non-ascii field name": "Name: demo\nVersion: 1.0\nN\u00e4me: x\nSummary: after the body started\n\n".encode(),
    "utf-8 line separators": "Name: demo\nVersion: 1.0\nSummary: a\u2028b\u0085c\n\n".encode(),
    "cp1252 and utf-8 mixed": b"Name: demo\nVersion: 1.0\nSummary: \xc3\xa9 and \xe9\n\n",
    "tabs and blanks": b"Name:\t demo  \nVersion:1.0\t\nSummary:   \nLicense:\n\n",
    "empty values": b"Name:\nVersion: \n\n",
    "no final newline": b"Name: demo\nVersion: 1.0",
    "no blank line": b"Name: demo\nVersion: 1.0\nClassifier: A :: B\nClassifier: C :: D\n",
    "form feed and vertical tab": b"Name: demo\nVersion: 1.0\nSummary: a\x0cb\x0bc\x1cd\n\n",
    "nul byte": b"Name: demo\nVersion: 1.0\nSummary: a\x00b\n\n",
    "header continues with spaces only": b"Name: demo\n \nVersion: 1.0\n\n",
    "requires-python and expression": b"Name: demo\nVersion: 1.0\nRequires-Python: >=3.8\n"
    b"License-Expression: MIT OR Apache-2.0\n\n",
    "empty": b"",
    "only body": b"\nName: demo\n",
    "description header and body": b"Name: demo\nVersion: 1.0\nDescription: short\n\nlong\n",
    # Read fields are taken without the header-line pattern: lines that only look like them must not be.
    "read field after a break": b"Name: demo\nVersion: 1.0\n\nSummary: in the body\n",
    "read field after a bad line": b"Name: demo\nVersion: 1.0\nnot a header\nSummary: body\n\n",
    "read field name with a non-ascii byte": b"Name: demo\nVersion: 1.0\nSumm\xe4ry: x\nLicense: MIT\n\n",
    "read field name with a space": b"Name: demo\nVersion: 1.0\nRequires Dist: a\nLicense: MIT\n\n",
    "from line named like a field": b"From: someone\nName: demo\nVersion: 1.0\nFrom name: x\n\n",
    "read field folded after an unread one": b"Name: demo\nVersion: 1.0\nAuthor: a\n  b\nSummary: s\n  t\n\n",
    # Over 64 KiB: split line by line by the pattern, not all at once (core_metadata._SMALL_BLOCK).
    "large block": b"Name: demo\nVersion: 1.0\nLicense: a\n  folded\n" + b"Classifier: Topic :: X\n" * 3000 + b"\n",
}


@pytest.mark.parametrize("data", EDGE_CASES.values(), ids=EDGE_CASES.keys())
def test_edge_cases(data: bytes) -> None:
    block = _headers_only(data)
    assert used(parse_headers(block)) == used(parse_email(block)[0])


def test_fields_are_read() -> None:
    """Not only equal to parse_email: the fields are really there (an empty result would also be equal
    on an empty corpus)."""
    raw = parse_headers(
        b"Metadata-Version: 2.4\nName: Demo_Pkg\nVersion: 1.0.post1\nSummary: s\nLicense: MIT\n"
        b"License-Expression: MIT\nRequires-Python: >=3.9\nRequires-Dist: a>=1\nRequires-Dist: b; extra == 'x'\n"
        b"Classifier: A :: B\n\n"
    )
    assert raw == {
        "name": "Demo_Pkg",
        "version": "1.0.post1",
        "summary": "s",
        "license": "MIT",
        "license_expression": "MIT",
        "requires_python": ">=3.9",
        "requires_dist": ["a>=1", "b; extra == 'x'"],
        "classifiers": ["A :: B"],
    }
