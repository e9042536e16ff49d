"""Memory and time ceilings of the openers and catalogers (issue 8): each hostile input is small,
generated here, and ends in a result with Unknowns or a one-line error naming the file, within
bounded memory (peak RSS of a child process) and time."""

from __future__ import annotations

import gzip
import io
import json
import lzma
import os
import struct
import subprocess
import sys
import tarfile
import time
import zipfile
import zlib
from pathlib import Path

import pytest
from builders import dist, many_entries_zip, write_tar, write_zip, zip_bytes

from depscan.artifacts.image import MAX_IMAGE_LAYERS
from depscan.artifacts.limits import Limits
from depscan.artifacts.tarball import MAX_TAR_HEADER_BYTES
from depscan.artifacts.zipfile_ import declared_entries
from depscan.catalogers import python_dists
from depscan.errors import HostileArtifact
from tests.helpers import dists, scan

MiB = 1024 * 1024
PEAK_LIMIT_MIB = 512


# Measures one child from a small parent: Linux carries the parent's RSS high-water mark into a
# child's ru_maxrss at fork/exec, so the scan is started from this little process, not from pytest.
_MEASURE = """
import json, os, subprocess, sys, time
started = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
stderr = child.stderr.read().decode("utf-8", "replace")
_pid, status, usage = os.wait4(child.pid, 0)
print(json.dumps([os.waitstatus_to_exitcode(status), usage.ru_maxrss / 1024, time.perf_counter() - started, stderr]))
"""


def peak_scan(path: Path) -> tuple[int, float, float, str]:
    """Exit code, peak RSS (MiB), wall time and stderr of ``depscan scan PATH --source skip -f json``
    in a child process (``ru_maxrss`` from ``wait4``)."""
    env = {k: v for k, v in os.environ.items() if k != "DEPSCAN_DEBUG"}
    scan_command = [sys.executable, "-m", "depscan", "scan", str(path), "--source", "skip", "-f", "json"]
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *scan_command], capture_output=True, text=True, env=env, timeout=300
    )
    code, peak, seconds, stderr = json.loads(done.stdout)
    return int(code), float(peak), float(seconds), str(stderr)


class _Repeated(io.RawIOBase):
    """``head`` then ``unit`` repeated up to ``size`` bytes, without holding them in memory."""

    def __init__(self, head: bytes, unit: bytes, size: int) -> None:
        super().__init__()
        self.head, self.unit, self.left, self.pos = head, unit, size, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.left)
        if n == 0:
            return 0
        block = bytearray()
        while len(block) < n:
            at = self.pos + len(block)
            if at < len(self.head):
                block += self.head[at:]
            else:
                offset = (at - len(self.head)) % len(self.unit)
                block += (self.unit * (n // len(self.unit) + 2))[offset:]
        buffer[:n] = block[:n]
        self.pos += n
        self.left -= n
        return n


def _add(tf: tarfile.TarFile, name: str, head: bytes, unit: bytes, size: int) -> None:
    info = tarfile.TarInfo(name)
    info.size = size
    tf.addfile(info, io.BufferedReader(_Repeated(head, unit, size)))


def test_huge_wanted_members_of_a_compressed_tar_stay_bounded(tmp_path: Path) -> None:
    # Two 200 MiB METADATA files and a 200 MiB RECORD of 4-byte rows in a 0.6 MB tar.gz: before the
    # read limits, 17 GB peak and three minutes (52 million RECORD rows kept).
    path = tmp_path / "big members.tar.gz"
    with tarfile.open(path, "w:gz", compresslevel=1) as tf:
        for i in range(2):
            head = f"Metadata-Version: 2.1\nName: p{i}\nVersion: 1.0\n".encode()
            _add(tf, f"site/p{i}-1.0.dist-info/METADATA", head, b"X", 200 * MiB)
        _add(tf, "site/p0-1.0.dist-info/RECORD", b"", b"a,,\n", 200 * MiB)
    assert path.stat().st_size < 5 * MiB
    code, peak, seconds, stderr = peak_scan(path)
    assert code == 0, stderr
    assert peak < PEAK_LIMIT_MIB, peak
    assert seconds < 60, seconds


def test_members_under_the_read_limits_are_kept_within_max_kept_bytes(tmp_path: Path) -> None:
    # Each just under its read limit: the first ones are kept and read, the streaming pass keeps no
    # more than max_kept_bytes in all (here 512 KiB), and what it could not keep is an Unknown.
    files = dist("a", "1.0", root="site") | dist("b", "1.0", root="site")
    files["site/b-1.0.dist-info/METADATA"] += b"x" * (700 * 1024)
    path = write_tar(tmp_path / "kept.tar.gz", files, mode="w:gz")
    result = scan(path, limits=Limits(max_kept_bytes=512 * 1024))
    assert set(dists(result)) == {"a==1.0"}
    (unknown,) = result.unknowns
    assert unknown.location.path == "site/b-1.0.dist-info/METADATA"
    assert "more than the max_kept_bytes=524288 bytes a streaming pass keeps in memory" in unknown.reason
    assert scan(path).unknowns == ()  # the default keeps both


def test_a_wanted_member_over_its_read_limit_is_not_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(python_dists, "MAX_RECORD_BYTES", 1000)
    files = dist("a", "1.0", root="site")
    files["site/a-1.0.dist-info/RECORD"] = b"x.py,,\n" * 1000
    for mode in ("w", "w:gz"):
        path = write_tar(tmp_path / f"r.tar{mode[2:] and '.gz'}", files, mode=mode)
        result = scan(path)
        assert dists(result)["a==1.0"].record == ()
        (unknown,) = result.unknowns
        assert unknown.reason.endswith(
            "site/a-1.0.dist-info/RECORD: 7000 bytes, over the 1000-byte read limit; not read"
        )


@pytest.mark.parametrize("newline", ["\n", "\r", "\r\n"])
def test_record_rows_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, newline: str) -> None:
    monkeypatch.setattr(python_dists, "MAX_RECORD_ROWS", 100)
    files = dist("a", "1.0", root="site")
    files["site/a-1.0.dist-info/RECORD"] = "".join(f"f{i}.py,,{newline}" for i in range(5000)).encode()
    result = scan(write_zip(tmp_path / "rows.zip", files))
    record = dists(result)["a==1.0"].record
    assert len(record) == 100
    assert record[-1].path == "site/f99.py"
    assert [u.reason for u in result.unknowns] == ["more than 100 rows; the rest not read"]


def test_a_record_at_the_row_limit_is_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(python_dists, "MAX_RECORD_ROWS", 100)
    files = dist("a", "1.0", root="site")
    files["site/a-1.0.dist-info/RECORD"] = "".join(f"f{i}.py,,\r\n" for i in range(100)).encode()
    result = scan(write_zip(tmp_path / "rows.zip", files))
    assert len(dists(result)["a==1.0"].record) == 100
    assert result.unknowns == ()


def test_a_long_header_block_is_parsed_up_to_its_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(python_dists, "MAX_HEADER_BYTES", 4096)
    files = dist("a", "1.0", root="site", extra_metadata="".join(f"X-Field-{i}: v\n" for i in range(2000)))
    result = scan(write_zip(tmp_path / "headers.zip", files))
    assert "a==1.0" in dists(result)
    (unknown,) = result.unknowns
    assert unknown.reason.startswith("header block longer than 4096 bytes; only the first ")
    assert unknown.location.path == "site/a-1.0.dist-info/METADATA"


def test_many_distinct_headers_take_linear_time(tmp_path: Path) -> None:
    # 300,000 distinct fields (3.4 MB of header block): before, every field was kept; now only the
    # fields the inventory reads are, and the time grows with the size.
    extra = "".join(f"X-H{i}: v\n" for i in range(300_000))
    path = write_zip(tmp_path / "headers.zip", dist("a", "1.0", extra_metadata=extra))
    started = time.perf_counter()
    result = scan(path)
    assert "a==1.0" in dists(result)
    assert time.perf_counter() - started < 10


def _gnu_long_name_tar(size: int, compress: bool) -> bytes:
    header = tarfile.TarInfo("././@LongLink")
    header.type = tarfile.GNUTYPE_LONGNAME
    header.size = size
    data = header.tobuf(format=tarfile.GNU_FORMAT) + b"a" * size + b"\0" * (-size % 512) + b"\0" * 1024
    return gzip.compress(data) if compress else data


def _pax_tar(size: int) -> bytes:
    record = b" path=" + b"a" * size + b"\n"
    record = str(len(record) + len(str(len(record))) + 1).encode() + record
    header = tarfile.TarInfo("./PaxHeaders/x")
    header.type = tarfile.XHDTYPE
    header.size = len(record)
    return header.tobuf(format=tarfile.USTAR_FORMAT) + record + b"\0" * (-len(record) % 512) + b"\0" * 1024


@pytest.mark.parametrize("kind", ["long-name.tar", "long-name.tar.gz", "pax.tar"])
def test_long_name_and_pax_headers_are_bounded(tmp_path: Path, kind: str) -> None:
    size = MAX_TAR_HEADER_BYTES + 1
    data = _pax_tar(size) if kind == "pax.tar" else _gnu_long_name_tar(size, kind.endswith(".gz"))
    path = tmp_path / kind
    path.write_bytes(data)
    with pytest.raises(HostileArtifact) as raised:
        scan(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: a ")
    assert "long-name or pax header, over the 1048576-byte limit" in message


def test_a_long_name_under_the_bound_is_read(tmp_path: Path) -> None:
    long_dir = "d" * 300
    files = dist("a", "1.0", root=f"site/{long_dir}")
    path = write_tar(tmp_path / "gnu.tar", files)  # GNU format by default: ././@LongLink members
    assert "a==1.0" in dists(scan(path))


def test_xz_dictionary_is_limited(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tf:
        info = tarfile.TarInfo("x")
        tf.addfile(info, io.BytesIO(b""))
    filters = [{"id": lzma.FILTER_LZMA2, "dict_size": 1536 * MiB}]
    path = tmp_path / "dict.tar.xz"
    path.write_bytes(lzma.compress(buffer.getvalue(), format=lzma.FORMAT_XZ, filters=filters))
    assert path.stat().st_size < 1024
    with pytest.raises(HostileArtifact, match=r"the xz stream needs more than \d+ bytes of memory"):
        scan(path)
    # A real xz -9 tar (64 MiB dictionary) is read.
    ok = write_tar(tmp_path / "ok.tar.xz", dist("a", "1.0"), mode="w:xz")
    assert "a==1.0" in dists(scan(ok))


def _eocd_claiming(count: int, zip64: bool = False) -> bytes:
    """An empty zip whose end-of-central-directory record claims ``count`` entries."""
    if not zip64:
        return struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, count, count, 0, 0, 0)
    record = struct.pack("<4sQ2H2I4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, 0, 0)
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, 0, 1)
    return record + locator + struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)


@pytest.mark.parametrize("zip64", [False, True])
def test_a_central_directory_claiming_too_many_entries_is_refused_before_parsing(tmp_path: Path, zip64: bool) -> None:
    data = _eocd_claiming(60_000 if not zip64 else 5_000_000, zip64)
    assert declared_entries(io.BytesIO(data)) == (60_000 if not zip64 else 5_000_000)
    path = tmp_path / "claims.zip"
    path.write_bytes(data)
    with pytest.raises(HostileArtifact, match=r"the central directory claims \d+ entries: more than 50000 entries"):
        scan(path, limits=Limits(max_entries=50_000))
    # Nested, it is an Unknown of the outer archive, and the rest is scanned.
    outer = write_zip(tmp_path / "outer.zip", dist("a", "1.0") | {"inner.zip": data})
    result = scan(outer, limits=Limits(max_entries=50_000))
    assert "a==1.0" in dists(result)
    (unknown,) = result.unknowns
    assert unknown.location.path == "inner.zip"
    assert "the central directory claims" in unknown.reason


def test_a_nested_zip_of_millions_of_entries_stays_bounded(tmp_path: Path) -> None:
    # 1.5 million real entries (stored, empty) in a nested zip: 20 MB deflated into the outer zip.
    # Before the count check, zipfile built an object for each: 1.4 GB peak.
    path = tmp_path / "nested entries.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("inner.zip", many_entries_zip(1_500_000))
    code, peak, seconds, stderr = peak_scan(path)
    assert code == 0, stderr
    assert peak < PEAK_LIMIT_MIB, peak
    assert seconds < 60


def _local(name: bytes, payload: bytes, crc: int, size: int) -> bytes:
    return struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(payload), size, len(name), 0) + name


def _central(name: bytes, offset: int, compressed: int, crc: int, size: int) -> bytes:
    fields = (b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, compressed, size, len(name), 0, 0, 0, 0, 0, offset)
    return struct.pack("<4s6H3I5H2I", *fields) + name


def test_overlapping_members_are_not_read(tmp_path: Path) -> None:
    # The "overlapping files" zip bomb: every member's data is the same compressed kernel.
    plain = b"a" * MiB
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    kernel = packer.compress(plain) + packer.flush()
    crc = zlib.crc32(plain)
    names = [f"m{i}.dist-info/RECORD".encode() for i in range(50)]
    body = bytearray()
    directory = bytearray()
    # Each local header sits inside the previous member's data ("quoted"): member i's data runs to the kernel's end.
    headers = [_local(name, kernel, crc, len(plain)) for name in names]
    offsets = []
    for header in headers:
        offsets.append(len(body))
        body += header
    tail = len(body)
    body += kernel
    for name, offset in zip(names, offsets, strict=True):
        start = offset + 30 + len(name)
        directory += _central(name, offset, len(body) - start, crc, len(plain))
    eocd = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(names), len(names), len(directory), len(body), 0)
    path = tmp_path / "overlap.zip"
    path.write_bytes(bytes(body + directory + eocd))
    assert tail > 0
    result = scan(path)
    reasons = {u.location.path: u.reason for u in result.unknowns}
    # Every member but the last overlaps the next header: none of them is read.
    assert len([r for r in reasons.values() if "overlaps another member" in r]) == len(names) - 1, reasons


def test_members_that_touch_but_do_not_overlap_are_read(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "ok.zip", dist("a", "1.0") | dist("b", "2.0"))
    result = scan(path)
    assert result.unknowns == ()
    assert set(dists(result)) == {"a==1.0", "b==2.0"}


def _docker_archive(path: Path, repeats: int, files: int) -> Path:
    import hashlib

    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tf:
        for i in range(files):
            info = tarfile.TarInfo(f"usr/lib/f{i}.txt")
            info.size = 1
            tf.addfile(info, io.BytesIO(b"x"))
    blob = layer.getvalue()
    digest = hashlib.sha256(blob).hexdigest()
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": [f"sha256:{digest}"] * repeats}}).encode()
    config_digest = hashlib.sha256(config).hexdigest()
    layers = [f"blobs/sha256/{digest}"] * repeats
    manifest = json.dumps([{"Config": f"blobs/sha256/{config_digest}", "RepoTags": ["x:1"], "Layers": layers}]).encode()
    with tarfile.open(path, "w") as tf:
        for name, data in (
            (f"blobs/sha256/{digest}", blob),
            (f"blobs/sha256/{config_digest}", config),
            ("manifest.json", manifest),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def test_a_layer_listed_thousands_of_times_is_refused_quickly(tmp_path: Path) -> None:
    # Before: every repeat indexed the layer again (54 s and 734 MB for 5,000 repeats of 3,000 files).
    path = _docker_archive(tmp_path / "repeat.tar", MAX_IMAGE_LAYERS + 1, 3000)
    started = time.perf_counter()
    with pytest.raises(HostileArtifact, match=f"lists {MAX_IMAGE_LAYERS + 1} layers, more than {MAX_IMAGE_LAYERS}"):
        scan(path)
    assert time.perf_counter() - started < 10


def test_a_repeated_layer_is_indexed_once_and_charged_each_time(tmp_path: Path) -> None:
    path = _docker_archive(tmp_path / "repeat.tar", 300, 3000)
    started = time.perf_counter()
    # 300 applications of 3,000 entries: 900,000 entries charged, under the default 1,000,000.
    result = scan(path)
    assert len(result.artifact.layers) == 300
    assert time.perf_counter() - started < 30
    with pytest.raises(HostileArtifact, match="max_entries"):
        scan(path, limits=Limits(max_entries=100_000))


def test_a_large_member_read_in_pieces_is_still_crc_checked(tmp_path: Path) -> None:
    # Members over 1 MiB are read in pieces (one copy in memory, not two): the CRC still decides.
    files = dist("a", "1.0")
    files["a-1.0.dist-info/RECORD"] = b"".join(b"a/f%d.py,,\n" % i for i in range(200_000))
    assert len(files["a-1.0.dist-info/RECORD"]) > 2 * MiB
    path = write_zip(tmp_path / "large.zip", files)
    assert len(dists(scan(path))["a==1.0"].record) == 200_000
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("a-1.0.dist-info/RECORD")
    data = bytearray(path.read_bytes())
    central = data.rindex(b"a-1.0.dist-info/RECORD") - 46  # the name follows the 46-byte central header
    assert data[central : central + 4] == b"PK\x01\x02"
    for at in (info.header_offset + 14, central + 16):  # the CRC in the local and the central header
        data[at] ^= 0xFF
    path.write_bytes(bytes(data))
    result = scan(path)
    assert dists(result)["a==1.0"].record == ()
    (unknown,) = result.unknowns
    assert "Bad CRC-32" in unknown.reason, unknown.reason


def test_max_kept_bytes_on_the_command_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from depscan.cli import app

    files = dist("a", "1.0", root="site") | dist("b", "1.0", root="site")
    files["site/b-1.0.dist-info/METADATA"] += b"x" * (700 * 1024)
    path = write_tar(tmp_path / "kept.tar.gz", files, mode="w:gz")
    runner = CliRunner()
    args = ["scan", str(path), "-f", "json", "--source", "skip"]
    kept = json.loads(runner.invoke(app, args).stdout)
    assert [c["name"] for c in kept["components"]] == ["a", "b"]
    refused = runner.invoke(app, [*args, "--max-kept-bytes", "512K", "--strict"])
    assert refused.exit_code == 5, refused.output
    report = json.loads(refused.stdout)
    assert [c["name"] for c in report["components"]] == ["a"]
    assert "max_kept_bytes=524288" in report["unknowns"][0]["reason"]


@pytest.mark.parametrize("mode", ["w", "w:gz"])
def test_a_large_tar_member_is_read_whole(tmp_path: Path, mode: str) -> None:
    # Over 1 MiB, a streamed member is kept in pieces (one copy in memory): every byte arrives.
    files = dist("a", "1.0")
    files["a-1.0.dist-info/RECORD"] = b"".join(b"a/f%d.py,,\n" % i for i in range(300_000))
    assert len(files["a-1.0.dist-info/RECORD"]) > 3 * MiB
    path = write_tar(tmp_path / f"large.tar{mode[2:] and '.gz'}", files, mode=mode)
    record = dists(scan(path))["a==1.0"].record
    assert len(record) == python_dists.MAX_RECORD_ROWS
    assert record[-1].path == f"a/f{python_dists.MAX_RECORD_ROWS - 1}.py"


def test_a_nested_archive_is_charged_for_the_entries_it_adds_when_grafted(tmp_path: Path) -> None:
    # 60 entries nested, each charged NESTED_ENTRY_COST (3) top-level entries: 180 (+ the outer zip's own).
    # A zip's count is checked from its EOCD record; a tar's once indexed, before it is grafted.
    inner = {f"pkg/m{i}.py": b"" for i in range(59)} | {"pkg/__init__.py": b""}
    inner_tar = write_tar(tmp_path / "inner.tar", inner).read_bytes()
    for name, data in (("inner.zip", zip_bytes(inner)), ("inner.tar", inner_tar)):
        outer = write_zip(tmp_path / "outer.zip", dist("a", "1.0") | {name: data})
        opened = scan(outer, limits=Limits(max_entries=200))
        assert opened.unknowns == ()
        refused = scan(outer, limits=Limits(max_entries=100))
        assert "a==1.0" in dists(refused)
        (unknown,) = refused.unknowns
        assert unknown.location.path == name
        assert "nested archive not opened" in unknown.reason and "max_entries" in unknown.reason


@pytest.mark.parametrize("compressed", [False, True])
def test_a_chain_of_long_name_headers_is_refused(tmp_path: Path, compressed: bool) -> None:
    # tarfile reads each header after a long name recursively: 5,000 in a row were a RecursionError (exit 70).
    data = bytearray()
    for _ in range(5000):
        header = tarfile.TarInfo("././@LongLink")
        header.type = tarfile.GNUTYPE_LONGNAME
        header.size = 10
        data += header.tobuf(format=tarfile.GNU_FORMAT) + b"aaaaaaaaa\0" + b"\0" * 502
    data += tarfile.TarInfo("x").tobuf(format=tarfile.GNU_FORMAT) + b"\0" * 1024
    path = tmp_path / f"chain.tar{'.gz' if compressed else ''}"
    path.write_bytes(gzip.compress(bytes(data)) if compressed else bytes(data))
    with pytest.raises(HostileArtifact, match="more than 16 long-name or pax headers in a row"):
        scan(path)


def test_long_name_long_link_and_pax_headers_of_one_member_are_read(tmp_path: Path) -> None:
    path = tmp_path / "pax.tar"
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in dist("a", "1.0", root="site/" + "d" * 200).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.pax_headers = {"comment": "x" * 1000}
            tf.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("site/link-" + "l" * 200)
        link.type = tarfile.SYMTYPE
        link.linkname = "d" * 200 + "/" + "t" * 150
        tf.addfile(link)
    assert "a==1.0" in dists(scan(path))


def test_the_largest_nested_zip_the_default_limits_accept_stays_under_the_ceiling(tmp_path: Path) -> None:
    # At max_entries=1,000,000 and NESTED_ENTRY_COST=3, a nested zip of 330,000 entries (2.3 MB) is
    # accepted; 495,000 were accepted before and peaked at 568 MiB. Just over the line is refused.
    path = tmp_path / "nested 330k.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("inner.zip", many_entries_zip(330_000))
    code, peak, _seconds, stderr = peak_scan(path)
    assert code == 0, stderr
    assert "0 unknowns" in stderr  # opened, not refused
    assert peak < PEAK_LIMIT_MIB, peak
