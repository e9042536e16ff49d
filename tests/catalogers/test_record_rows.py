"""Differential tests: _parse_record (inline fast path, comma split without quotes) against the
plain reading it replaced (csv.reader + _record_row for every row)."""

from __future__ import annotations

import csv
import os
import random
import zipfile
from pathlib import Path

import pytest

from depscan.artifacts.view import ArtifactView
from depscan.catalogers.python_dists import MAX_BAD_RECORD_ROWS, _parse_record, _record_row
from depscan.models import Location, RecordEntry, Unknown

BENCH_WORKDIR = Path(os.environ.get("DEPSCAN_BENCH_WORKDIR", "~/.cache/depscan-bench")).expanduser()
BENCH_ZIPS = sorted(BENCH_WORKDIR.glob("*.zip")) if BENCH_WORKDIR.is_dir() else []


def reference(data: bytes, path: str, site_root: str, absolute_inside: bool) -> tuple[list[object], int, list[str]]:
    """What _parse_record returned before the fast path: every row through csv and _record_row."""
    rows = list(csv.reader(data.decode("utf-8", errors="replace").splitlines()))
    base = site_root.strip("/")
    base = f"{base}/" if base else ""
    entries: list[object] = []
    outside = 0
    problems: list[str] = []
    bad = 0
    for number, row in enumerate(rows, start=1):
        if not row or row == [""]:
            continue
        parsed = _record_row(row, base, site_root, absolute_inside)
        if parsed is None:
            outside += 1
        elif isinstance(parsed, str):
            bad += 1
            if bad <= MAX_BAD_RECORD_ROWS:
                problems.append(f"RECORD line {number}: {parsed}")
        else:
            entries.append(parsed)
    if bad > MAX_BAD_RECORD_ROWS:
        problems.append(f"{bad - MAX_BAD_RECORD_ROWS} more bad RECORD lines")
    return entries, outside, problems


def assert_same(data: bytes, site_root: str = "site") -> tuple[RecordEntry, ...]:
    view = ArtifactView("x.zip", "zip")
    unknowns: list[Unknown] = []
    entries, outside = _parse_record(data, "d.dist-info/RECORD", site_root, None, view, unknowns)
    want_entries, want_outside, want_problems = reference(data, "d.dist-info/RECORD", site_root, False)
    assert list(entries) == want_entries
    assert outside == want_outside
    assert unknowns == [Unknown(Location("d.dist-info/RECORD", None), p) for p in want_problems]
    return entries


ROWS = {
    "plain": b"pkg/__init__.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\n"
    b"pkg-1.0.dist-info/RECORD,,\n",
    "crlf and blank lines": b"a.py,sha256=AAAA,3\r\n\r\n\r\nb.py,,\r\n",
    "outside and irregular": b"../../bin/tool,sha256=AAAA,10\n./pkg/x.py,,\npkg//y.py,,\n/abs/z.py,,\n",
    "bad hashes": b"a.py,sha256,1\nb.py,md5=!!,1\nc.py,sha256=AAAAA,1\nd.py,SHA256=AAAA==,1\n",
    "sizes": b"a.py,,+5\nb.py,, 5\nc.py,,-1\nd.py,,5_000\ne.py,,x\nf.py,,007\n" + "g.py,,\u0663\n".encode(),
    "columns": b"a.py\na.py,sha256=AAAA\na.py,sha256=AAAA,1,extra\n,sha256=AAAA,1\n",
    "quoted": b'"pkg/with,comma.py",sha256=AAAA,1\n"multi\nline.py",,\nplain.py,,2\n',
    "quote in the middle": b'pkg/a"b.py,,1\n',
    "nul": b"a\x00b.py,,1\n",
    "many bad rows": b"".join(b"bad%d.py,,x\n" % i for i in range(9)),
    "non-utf8": b"caf\xe9.py,,1\n",
    # What pip writes (CRLF, scripts under ../../bin), and characters next to the usual ones.
    "usual with scripts outside": b"a.py,sha256=AAAA,3\r\n../../bin/x,sha256=AAAA,10\r\n./b.py,,\r\n/c,,\r\nd,,4\r\n",
    "usual, no final line break": b"a.py,sha256=AAAA==,1\r\nb.py,SHA256=AAA,2",
    "usual, blank lines at the end": b"a.py,,1\r\n\r\n\n",
    "digest of 4n+1 characters": b"a.py,sha256=AAAAA,1\nb.py,,2\n",
    "colon": b"a:b.py,,1\nc.py,,2\n",
    "lone carriage return": b"a.py,,1\rb.py,,2\n",
    "vertical tab": b"a.py,,1\x0bb.py,,2\n",
    "bad row starting with a dot": b"../x.py,md5=!!,1\n.x,1\nok.py,,2\n",
    "empty digest": b"a.py,sha256=,1\n",
    "equals only": b"a.py,=AAAA,1\n",
    "row of commas": b",,\na.py,,1\n",
    # The usual-row branch's checks without the _HASH regex, and its whole-text test for irregular paths.
    "digest with - and _ only": b"a.py,sha256=-_-_,1\nb.py,sha256=AAAA=,2\n",
    "padding inside the digest": b"a.py,sha256=AA=AA,1\n",
    "standard base64 alphabet": b"a.py,sha256=ab+c,1\nb.py,sha256=ab/c,2\n",
    "non-ascii digest": "a.py,sha256=\u00c4\u00c4\u00c4\u00c4,1\nb.py,sha256=AAA\u0663,2\n".encode(),
    "unusual algorithm names": b"a.py,sha3_256=AAAA,1\nb.py,Sha256=AAAA,2\nc.py,sha-256=AAAA,3\n",
    "one irregular path among plain ones": b"a.py,,1\nb/./c.py,,2\nd.py,,3\n",
    "dot path first": b".hidden,,1\na.py,,2\n",
    "backslash": b"a\\b.py,,1\nc.py,,2\n",
}


@pytest.mark.parametrize("data", ROWS.values(), ids=ROWS.keys())
def test_edge_cases(data: bytes) -> None:
    assert_same(data)
    assert_same(data, site_root="")
    assert_same(data, site_root="opt/python")


def test_rows_are_read() -> None:
    entries = assert_same(ROWS["plain"])
    assert entries == (
        RecordEntry("site/pkg/__init__.py", "sha256", "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU", 0),
        RecordEntry("site/pkg-1.0.dist-info/RECORD", None, None, None),
    )


@pytest.mark.skipif(not BENCH_ZIPS, reason=f"no benchmark corpora in {BENCH_WORKDIR} (bench/bench_inventory.py)")
@pytest.mark.parametrize("archive", BENCH_ZIPS, ids=lambda p: p.name)
def test_benchmark_corpora(archive: Path) -> None:
    count = 0
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            if info.filename.endswith(".dist-info/RECORD"):
                assert_same(zf.read(info))
                count += 1
    assert count >= 300


def test_random_records() -> None:
    """Generated RECORDs (fixed seed) mixing usual rows with every kind of odd one: same answers."""
    rng = random.Random(20261201)
    paths = ["a.py", "pkg/mod.py", "pkg/sub/x.txt", "../../bin/tool", "./a.py", "pkg//b.py", "/abs.py", "c:x.py",
             "a\\b.py", "pkg/.hidden", "caf\u00e9.py", "x:y/z.py", "", "a,b.py", "pkg/x.py "]
    hashes = ["", "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU", "sha256=AAAA==", "sha256=AAAAA", "SHA256=AAAA",
              "md5=!!", "sha256=", "=AAAA", "sha256", "sha256=ab+c", "sha512=-_", "blake2b=AA=A", "sha1=\u00c4AA"]
    sizes = ["", "0", "12", "007", "-1", "x", " 5", "\u0663", "1.0"]
    breaks = ["\n", "\n", "\r\n", "\r\n", "\r"]
    for _ in range(2000):
        lines = []
        for _ in range(rng.randrange(0, 12)):
            kind = rng.random()
            if kind < 0.05:
                lines.append("")
            elif kind < 0.08:
                lines.append(rng.choice(paths) + "," + rng.choice(hashes))  # two columns
            elif kind < 0.10:
                lines.append('"' + rng.choice(paths) + '",,1')
            else:
                lines.append(",".join((rng.choice(paths), rng.choice(hashes), rng.choice(sizes))))
        text = "".join(line + rng.choice(breaks) for line in lines)
        if rng.random() < 0.2:
            text = text.rstrip("\r\n")
        for site_root in ("site", "", "a.whl!/"):
            assert_same(text.encode(), site_root=site_root)
