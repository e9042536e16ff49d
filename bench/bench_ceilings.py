"""Peak memory and time of a scan of each hostile input class of issue 8 (artifacts and catalogers).

    python bench/bench_ceilings.py                 # every input
    python bench/bench_ceilings.py --only nested-zip-990k capped-tar-gz

Each input is generated into ``--workdir`` (default: a temporary directory; each is a few MB at
most) and scanned by ``python -m depscan scan INPUT --source skip -f json`` in a child process
started from a small parent (Linux carries a parent's RSS high-water mark into its child's
``ru_maxrss``), which reports the child's peak RSS and wall time. Baseline: the same command on a
zip of one small distribution, in the same run; the figure is each input's peak / the baseline's.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import lzma
import os
import struct
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
from builders import many_entries_zip

MiB = 1024 * 1024


class _Repeated(io.RawIOBase):
    """``head`` then ``unit`` repeated, ``size`` bytes in all, never held in memory."""

    def __init__(self, head: bytes, unit: bytes, size: int) -> None:
        super().__init__()
        self.data = head
        self.unit = unit * max(1, MiB // len(unit))
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.left)
        while len(self.data) < n:
            self.data += self.unit
        buffer[:n] = self.data[:n]
        self.data = self.data[n:]
        self.left -= n
        return n


def _member(tf: tarfile.TarFile, name: str, head: bytes, unit: bytes, size: int) -> None:
    info = tarfile.TarInfo(name)
    info.size = size
    tf.addfile(info, io.BufferedReader(_Repeated(head, unit, size)))


def _metadata(name: str) -> bytes:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n\n".encode()


def huge_members(path: Path) -> None:
    """Two 200 MiB METADATA and a 200 MiB RECORD of 4-byte rows in a tar.gz."""
    with tarfile.open(path, "w:gz", compresslevel=1) as tf:
        for i in range(2):
            _member(tf, f"site/p{i}-1.0.dist-info/METADATA", _metadata(f"p{i}"), b"X", 200 * MiB)
        _member(tf, "site/p0-1.0.dist-info/RECORD", b"", b"a,,\n", 200 * MiB)


def capped(path: Path) -> None:
    """The worst under the read limits: 60 MiB METADATA and RECORDs (15 million rows each)."""
    with tarfile.open(path, "w:gz", compresslevel=1) as tf:
        for i in range(2):
            _member(tf, f"site/p{i}-1.0.dist-info/METADATA", _metadata(f"p{i}"), b"X", 60 * MiB)
        for i in range(2):
            _member(tf, f"site/p{i}-1.0.dist-info/RECORD", b"", b"a,,\n", 60 * MiB)


def _extended_header(type_: bytes, size: int) -> bytes:
    header = tarfile.TarInfo("././@LongLink" if type_ == tarfile.GNUTYPE_LONGNAME else "./PaxHeaders/x")
    header.type = type_
    header.size = size
    return header.tobuf(format=tarfile.GNU_FORMAT if type_ == tarfile.GNUTYPE_LONGNAME else tarfile.USTAR_FORMAT)


def long_name(path: Path) -> None:
    """A 300 MiB GNU long name in a tar.gz."""
    size = 300 * MiB
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(_extended_header(tarfile.GNUTYPE_LONGNAME, size))
        for _ in range(size // MiB):
            out.write(b"a" * MiB)
        out.write(b"\0" * 1024)


def pax(path: Path) -> None:
    """A 300 MiB pax header in a tar.gz."""
    body = b" path=" + b"a" * (300 * MiB - 40) + b"\n"
    record = str(len(body) + 10).encode() + body
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(_extended_header(tarfile.XHDTYPE, len(record)))
        out.write(record + b"\0" * (-len(record) % 512) + b"\0" * 1024)


def header_chain(path: Path) -> None:
    """5,000 GNU long-name headers in a row."""
    data = bytearray()
    for _ in range(5000):
        data += _extended_header(tarfile.GNUTYPE_LONGNAME, 10) + b"aaaaaaaaa\0" + b"\0" * 502
    data += tarfile.TarInfo("x").tobuf(format=tarfile.GNU_FORMAT) + b"\0" * 1024
    path.write_bytes(gzip.compress(bytes(data)))


def xz_dictionary(path: Path) -> None:
    """An xz tar asking for a 1.5 GiB dictionary."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tf:
        data = _metadata("x")
        info = tarfile.TarInfo("x-1.0.dist-info/METADATA")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    filters = [{"id": lzma.FILTER_LZMA2, "dict_size": 1536 * MiB}]
    path.write_bytes(lzma.compress(buffer.getvalue(), format=lzma.FORMAT_XZ, filters=filters))


def _nested_zip(path: Path, count: int) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("inner.zip", many_entries_zip(count))


def many_tar_entries(path: Path) -> None:
    """990,000 empty files in a tar.gz."""
    raw = io.BytesIO()
    header = tarfile.TarInfo("x")
    for i in range(990_000):
        header.name = f"f/{i:07d}"
        raw.write(header.tobuf(format=tarfile.USTAR_FORMAT))
    raw.write(b"\0" * 1024)
    path.write_bytes(gzip.compress(raw.getvalue()))


def _headers(path: Path, count: int) -> None:
    lines = [b"Metadata-Version: 2.1", b"Name: h", b"Version: 1.0"] + [b"X-H%x: v" % i for i in range(count)]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("h-1.0.dist-info/METADATA", b"\n".join(lines) + b"\n\n")


def overlap(path: Path) -> None:
    """200 members whose data is one 20 MiB deflated kernel."""
    plain = b"a" * (20 * MiB)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    kernel = packer.compress(plain) + packer.flush()
    crc, names = zlib.crc32(plain), [b"site/m%03d.dist-info/RECORD" % i for i in range(200)]
    body = struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(kernel), len(plain), len(names[0]), 0)
    body += names[0] + kernel
    directory = b"".join(
        struct.pack(
            "<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(kernel), len(plain), len(n), 0, 0, 0, 0, 0, 0
        )
        + n
        for n in names
    )
    eocd = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(names), len(names), len(directory), len(body), 0)
    path.write_bytes(body + directory + eocd)


def _docker(path: Path, repeats: int, files: int) -> None:
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tf:
        for i in range(files):
            info = tarfile.TarInfo(f"usr/lib/f{i}.txt")
            info.size = 1
            tf.addfile(info, io.BytesIO(b"x"))
    blob = layer.getvalue()
    digest = hashlib.sha256(blob).hexdigest()
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": [f"sha256:{digest}"] * repeats}}).encode()
    config_name = f"blobs/sha256/{hashlib.sha256(config).hexdigest()}"
    layers = [f"blobs/sha256/{digest}"] * repeats
    manifest = json.dumps([{"Config": config_name, "RepoTags": ["x:1"], "Layers": layers}]).encode()
    with tarfile.open(path, "w") as tf:
        for name, data in ((f"blobs/sha256/{digest}", blob), (config_name, config), ("manifest.json", manifest)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def baseline(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a-1.0.dist-info/METADATA", _metadata("a"))


INPUTS: dict[str, tuple[str, Callable[[Path], None]]] = {
    "baseline": ("baseline.zip", baseline),
    "huge-members": ("huge-members.tar.gz", huge_members),
    "capped-tar-gz": ("capped.tar.gz", capped),
    "long-name": ("long-name.tar.gz", long_name),
    "pax": ("pax.tar.gz", pax),
    "header-chain": ("chain.tar.gz", header_chain),
    "xz-dictionary": ("dict.tar.xz", xz_dictionary),
    "nested-zip-2.5m": ("nested-2500k.zip", lambda p: _nested_zip(p, 2_500_000)),
    "nested-zip-990k": ("nested-990k.zip", lambda p: _nested_zip(p, 990_000)),
    "nested-zip-495k": ("nested-495k.zip", lambda p: _nested_zip(p, 495_000)),
    "many-tar-entries": ("many.tar.gz", many_tar_entries),
    "headers-300k": ("headers-300k.zip", lambda p: _headers(p, 300_000)),
    "headers-60mib": ("headers-60mib.zip", lambda p: _headers(p, 4_500_000)),
    "overlap": ("overlap.zip", overlap),
    "docker-5000-layers": ("docker-5000.tar", lambda p: _docker(p, 5000, 3000)),
    "docker-999-layers": ("docker-999.tar", lambda p: _docker(p, 999, 1000)),
}

_MEASURE = """
import json, os, subprocess, sys, time
started = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
stderr = child.stderr.read().decode("utf-8", "replace")
_pid, status, usage = os.wait4(child.pid, 0)
print(json.dumps([os.waitstatus_to_exitcode(status), usage.ru_maxrss / 1024, time.perf_counter() - started, stderr]))
"""


def measure(path: Path) -> tuple[int, float, float, str]:
    command = [sys.executable, "-m", "depscan", "scan", str(path), "--source", "skip", "-f", "json"]
    done = subprocess.run([sys.executable, "-c", _MEASURE, *command], capture_output=True, text=True, check=True)
    code, peak, seconds, stderr = json.loads(done.stdout)
    last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    return int(code), float(peak), float(seconds), last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--only", nargs="*", choices=sorted(INPUTS))
    args = parser.parse_args()
    names = ["baseline", *[n for n in (args.only or INPUTS) if n != "baseline"]]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        base_peak = 0.0
        for name in names:
            file_name, build = INPUTS[name]
            path = workdir / file_name
            if not path.exists():
                build(path)
            code, peak, seconds, last = measure(path)
            base_peak = base_peak or peak
            size = os.path.getsize(path) / MiB
            print(
                f"{name:20s} {size:7.2f} MB  exit {code:2d}  peak {peak:7.1f} MiB ({peak / base_peak:5.1f}x baseline)  "
                f"{seconds:6.2f} s  {last[:110]}",
                flush=True,
            )


if __name__ == "__main__":
    main()
