"""Special files as inputs (FIFOs, devices, sockets) are refused without blocking; outputs that are not
regular files are written through, never replaced; regular files are replaced atomically (links kept)."""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from special_inputs import osv_record

from depscan import baseline as baseline_module
from depscan import sbom_reader
from depscan.advisories.osv_db import OfflineDatabase, import_sources
from depscan.artifacts.detect import open_artifact, sniff
from depscan.artifacts.limits import Limits
from depscan.artifacts.view import OpenContext
from depscan.baseline import load_previous
from depscan.config import MAX_IGNORE_FILE_BYTES, load_ignores
from depscan.errors import ArtifactError, OutputError, UsageError
from depscan.output import write_output
from depscan.sbom_reader import read_sbom
from tests.helpers import dists, scan

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def watchdog() -> Iterator[None]:
    """A test that blocks (on a FIFO) fails after 20 s instead of hanging the suite, and one that
    reads ``/dev/zero`` without bound fails with MemoryError at 1 GiB more than this process has."""

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError("blocked: the code under test waited on a special file")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(20)
    limits = resource.getrlimit(resource.RLIMIT_AS)
    status = Path("/proc/self/status")
    if status.exists():
        vm_kib = int(next(line for line in status.read_text().splitlines() if line.startswith("VmSize:")).split()[1])
        ceiling = vm_kib * 1024 + (1 << 30)
        if limits[1] == resource.RLIM_INFINITY or ceiling < limits[1]:
            resource.setrlimit(resource.RLIMIT_AS, (ceiling, limits[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, limits)
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "named pipe.json"
    os.mkfifo(path)
    return path


@pytest.fixture
def sock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)  # a relative name: socket paths are limited to ~100 bytes
    server = socket.socket(socket.AF_UNIX)
    server.bind("s.sock")
    try:
        yield tmp_path / "s.sock"
    finally:
        server.close()


def special_inputs(fifo: Path, sock: Path, tmp_path: Path) -> dict[str, tuple[Path, str]]:
    link = tmp_path / "link to zero.json"
    link.symlink_to("/dev/zero")
    return {
        "fifo": (fifo, "a FIFO (named pipe)"),
        "device": (Path("/dev/zero"), "a character device"),
        "link": (link, "a character device"),
        "socket": (sock, "a socket"),
    }


READERS = {
    "scan input": (lambda p: sniff(str(p)), ArtifactError),
    "scan input --kind zip": (lambda p: open_artifact(str(p), OpenContext(Limits()), "zip"), ArtifactError),
    "sbom": (lambda p: read_sbom(p), ArtifactError),
    "baseline": (lambda p: load_previous(p), UsageError),
    "ignore file": (lambda p: load_ignores(p), UsageError),
    "db import": (lambda p: import_sources(p.parent / "db.sqlite", [p]), ArtifactError),
}


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("special", ["fifo", "device", "link", "socket"])
def test_special_files_are_refused_without_blocking(
    reader: str, special: str, fifo: Path, sock: Path, tmp_path: Path
) -> None:
    path, kind = special_inputs(fifo, sock, tmp_path)[special]
    read, error = READERS[reader]
    with pytest.raises(error) as caught:
        read(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {kind}, not a regular file") and "\n" not in message
    assert not (tmp_path / "db.sqlite").exists()


def test_a_directory_is_still_a_scan_input_and_its_fifos_are_skipped(tmp_path: Path) -> None:
    site = tmp_path / "site"
    info = site / "alpha-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: alpha\nVersion: 1.0\n")
    os.mkfifo(site / "pipe.so")
    os.mkfifo(site / "beta-2.0.dist-info")  # not even a directory: skipped
    result = scan(site)
    assert list(dists(result)) == ["alpha==1.0"]


def test_size_caps_per_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / ".depscan.toml"
    toml.write_bytes(b"#" * (MAX_IGNORE_FILE_BYTES + 1))
    with pytest.raises(UsageError, match=rf"over the {MAX_IGNORE_FILE_BYTES} byte limit for an ignore file"):
        load_ignores(toml)
    monkeypatch.setattr(sbom_reader, "MAX_SBOM_BYTES", 100)
    sbom = tmp_path / "sbom.json"
    sbom.write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [], "x": "y" * 100}))
    with pytest.raises(ArtifactError, match=r"sbom\.json: \d+ bytes, over the 100 byte limit for an SBOM"):
        read_sbom(sbom)
    monkeypatch.setattr(baseline_module, "MAX_BASELINE_BYTES", 10)
    previous = tmp_path / "previous.json"
    previous.write_text(json.dumps({"format": "depscan.scan", "format_version": 2, "vulnerabilities": []}))
    with pytest.raises(UsageError, match=r"previous\.json: \d+ bytes, over the 10 byte limit for a baseline"):
        load_previous(previous)


def test_db_import_skips_special_and_oversized_members_of_a_directory(tmp_path: Path) -> None:
    records = tmp_path / "records dir"
    records.mkdir()
    (records / "GOOD-1.json").write_text(json.dumps(osv_record("GOOD-1")))
    os.mkfifo(records / "FIFO-1.json")
    (records / "ZERO-1.json").symlink_to("/dev/zero")
    (records / "HUGE-1.json").write_bytes(b" " * (8 * 1024 * 1024 + 1))
    (report,) = import_sources(tmp_path / "db.sqlite", [records])
    assert (report.records, report.skipped) == (1, 3)
    assert sorted(report.problems) == [
        f"{records}: FIFO-1.json: a FIFO (named pipe), not a regular file",
        f"{records}: HUGE-1.json: {8 * 1024 * 1024 + 1} bytes, over {8 * 1024 * 1024}",
        f"{records}: ZERO-1.json: a character device, not a regular file",
    ]
    database = OfflineDatabase(tmp_path / "db.sqlite")
    assert database.info().records == 1
    database.close()


def test_a_present_depscan_toml_that_is_a_fifo_is_refused(tmp_path: Path, fifo: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    os.rename(fifo, tmp_path / ".depscan.toml")
    proc = subprocess.run([sys.executable, "-m", "depscan", "scan", str(site), "--source", "skip"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == "depscan: error: .depscan.toml: a FIFO (named pipe), not a regular file; " \
        "depscan reads only those"


# -- outputs ------------------------------------------------------------------------------------


def test_symlink_to_a_regular_file_writes_the_target_and_keeps_the_link(tmp_path: Path) -> None:
    target = tmp_path / "reports" / "scan.json"
    target.parent.mkdir()
    target.write_text("old")
    target.chmod(0o640)
    link = tmp_path / "latest.json"
    link.symlink_to(os.path.join("reports", "scan.json"))
    write_output(str(link), b"new")
    assert link.is_symlink() and os.readlink(link) == os.path.join("reports", "scan.json")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # the replaced file's permissions are kept
    assert sorted(os.listdir(target.parent)) == ["scan.json"]


def test_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "out.json"
    link.symlink_to("made.json")
    write_output(str(link), b"data")
    assert link.is_symlink() and (tmp_path / "made.json").read_bytes() == b"data"


def test_fifo_output_is_written_through(fifo: Path) -> None:
    got: list[bytes] = []

    def consume() -> None:
        with open(fifo, "rb") as fh:
            got.append(fh.read())

    reader = threading.Thread(target=consume)
    reader.start()
    write_output(str(fifo), b"x" * 200_000)  # more than a pipe buffer
    reader.join(10)
    assert got == [b"x" * 200_000]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_dev_null_stays_a_device() -> None:
    if not stat.S_ISCHR(os.stat("/dev/null").st_mode):
        pytest.skip("this host's /dev/null is not a device (something replaced it before this test)")
    write_output("/dev/null", b"discarded")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_directories_and_sockets_are_output_errors(tmp_path: Path, sock: Path) -> None:
    with pytest.raises(OutputError, match=r"is a directory$"):
        write_output(str(tmp_path), b"x")
    with pytest.raises(OutputError, match=r"s\.sock: cannot write \("):
        write_output(str(sock), b"x")


def test_dev_stdout_appends_to_the_shells_redirection(tmp_path: Path) -> None:
    """``-o json=/dev/stdout`` writes to the process's stdout: a ``>>`` log keeps its lines and its inode."""
    site = tmp_path / "site"
    (site / "alpha-1.0.dist-info").mkdir(parents=True)
    (site / "alpha-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: alpha\nVersion: 1.0\n")
    log = tmp_path / "ci log.txt"
    log.write_text("earlier line\n")
    inode = log.stat().st_ino
    with open(log, "ab") as out:
        proc = subprocess.run([sys.executable, "-m", "depscan", "scan", str(site), "--source", "skip", "-o",
                               "json=/dev/stdout"], stdout=out, stderr=subprocess.PIPE, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert log.stat().st_ino == inode
    text = log.read_text()
    assert text.startswith("earlier line\n")
    assert json.loads(text.removeprefix("earlier line\n"))["format"] == "depscan.scan"



@pytest.mark.parametrize("spec", ["json", "json=/dev/stdout"])
def test_a_reader_that_closed_the_pipe_is_an_output_error_not_a_crash(tmp_path: Path, spec: str) -> None:
    site = tmp_path / "site"
    (site / "alpha-1.0.dist-info").mkdir(parents=True)
    (site / "alpha-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: alpha\nVersion: 1.0\n")
    proc = subprocess.Popen([sys.executable, "-m", "depscan", "scan", str(site), "--source", "skip", "-o", spec],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # as `| head -c 0` does
    stderr = proc.stderr.read()
    assert proc.wait(60) == 2, stderr
    assert stderr.strip().splitlines() == [
        f"depscan: error: {'stdout' if spec == 'json' else '/dev/stdout'}: cannot write (the reader closed the pipe)"
    ]


def test_db_import_target_fifo_refused_and_symlink_kept(tmp_path: Path, fifo: Path) -> None:
    from depscan.advisories.osv_db import DatabaseError
    from depscan.db_commands import import_into

    record = tmp_path / "A-1.json"
    record.write_text(json.dumps(osv_record("A-1")))
    with pytest.raises(OutputError, match=r"named pipe\.json: a FIFO \(named pipe\), not a database file$"):
        import_into(fifo, [record])  # sqlite would block opening it
    with pytest.raises(DatabaseError, match=r"not a regular file, not a database$"):
        import_sources(fifo, [record])
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    link = tmp_path / "osv.sqlite"
    link.symlink_to("real.sqlite")
    import_sources(link, [record])
    import_sources(link, [record])  # the second import starts from the link's target
    assert link.is_symlink() and (tmp_path / "real.sqlite").is_file()
    database = OfflineDatabase(link)
    try:
        assert [s.location for s in database.sources()] == [str(record), str(record)]
    finally:
        database.close()


def test_deeply_nested_ignore_file_and_baseline_are_usage_errors(tmp_path: Path) -> None:
    toml = tmp_path / "deep.toml"
    toml.write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(UsageError, match=r"deep\.toml: not valid TOML \(nested too deeply\)$"):
        load_ignores(toml)
    previous = tmp_path / "deep.json"
    previous.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(UsageError, match=r"deep\.json: not a readable depscan JSON report \(maximum recursion"):
        load_previous(previous)
