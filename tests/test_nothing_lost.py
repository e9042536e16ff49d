"""Nothing lost, nothing left: SIGTERM and SIGINT clean up (exit 143 / 130), concurrent imports keep both
imports' records, and ``db import`` bombs (YAML aliases, a zip with no decompression budget,
overlapping members, members zipfile cannot read) end in a bounded result, measured in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from special_inputs import budget_bomb_zip, odd_members_zip, osv_record, overlapping_zip, yaml_alias_bomb

from depscan.advisories.osv_db import ImportBudget, OfflineDatabase, import_sources
from depscan.errors import ArtifactError, ExitCode

ROOT = Path(__file__).resolve().parents[1]

# Run depscan's CLI in a child, with ``PATCH`` (Python source) applied first: the patch makes the
# child announce (a file) that it reached the interesting point, and then wait there.
CHILD = """
import os, sys, time
sys.path.insert(0, {root!r})
{patch}
from depscan.cli import main
sys.argv = ["depscan", *{args!r}]
main()
"""


def child(args: list[str], patch: str = "", cwd: Path | None = None) -> subprocess.Popen[str]:
    code = CHILD.format(root=str(ROOT), patch=patch, args=[str(a) for a in args])
    env = {k: v for k, v in os.environ.items() if k != "DEPSCAN_DEBUG"}
    return subprocess.Popen([sys.executable, "-c", code], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for(marker: Path, proc: subprocess.Popen[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the child never reached the point to interrupt"
        time.sleep(0.02)


# The child's own peak (VmHWM of its address space, which exec starts afresh; wait4's ru_maxrss
# would include the size of this test process at fork time).
PEAK = """
import atexit, resource
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))  # a regression fails fast, not the machine
def _peak():
    with open("/proc/self/status") as fh:
        hwm = next(line for line in fh if line.startswith("VmHWM:"))
    with open({out!r}, "w") as fh:
        fh.write(hwm.split()[1])
atexit.register(_peak)
"""


def peak_rss_mib(args: list[str], cwd: Path) -> tuple[int, float, str]:
    """Exit code, peak RSS (MiB) and stderr of ``depscan ARGS`` run in a child."""
    out = cwd / "peak.kib"
    proc = child(args, PEAK.format(out=str(out)), cwd=cwd)
    _stdout, stderr = proc.communicate(timeout=120)
    peak = int(out.read_text()) / 1024
    out.unlink()
    return proc.returncode, peak, stderr


def records_dir(path: Path, prefix: str, count: int) -> Path:
    path.mkdir()
    for number in range(count):
        (path / f"{prefix}-{number}.json").write_text(json.dumps(osv_record(f"{prefix}-{number}")))
    return path


# -- signals ------------------------------------------------------------------------------------

# In the middle of an import: the temporary database exists (and has rows) when the signal comes.
SLOW_IMPORT = """
from depscan.advisories import osv_db
_original = osv_db._import_one
def _slow(conn, source, budget):
    report = _original(conn, source, budget)
    open({marker!r}, "w").close()
    time.sleep(60)
    return report
osv_db._import_one = _slow
"""

# In the middle of writing a report: the temporary file is written, not yet renamed.
SLOW_WRITE = """
import depscan.output as output
_fsync = os.fsync
def _slow(fd):
    _fsync(fd)
    open({marker!r}, "w").close()
    time.sleep(60)
output.os.fsync = _slow
"""


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, ExitCode.TERMINATED), (signal.SIGINT,
                                                                                      ExitCode.INTERRUPTED)])
def test_a_signal_during_db_import_leaves_the_previous_database_and_no_stray_file(
    tmp_path: Path, signum: int, code: ExitCode
) -> None:
    work = tmp_path / "db dir"
    work.mkdir()
    db = work / "osv.sqlite"
    import_sources(db, [records_dir(tmp_path / "first", "FIRST", 3)])
    before = db.read_bytes()
    marker = tmp_path / "reached"
    proc = child(["db", "import", records_dir(tmp_path / "second", "SECOND", 50), "--db", db],
                 SLOW_IMPORT.format(marker=str(marker)))
    wait_for(marker, proc)
    assert any(name.endswith(".tmp") for name in os.listdir(work))  # the import was under way
    proc.send_signal(signum)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert err.strip().splitlines()[-1].startswith("depscan: error: ")
    assert sorted(os.listdir(work)) == ["osv.sqlite"]  # no .tmp, no -journal
    assert db.read_bytes() == before


def test_sigterm_while_writing_a_report_leaves_the_old_report_and_no_temp_file(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "alpha-1.0.dist-info").mkdir(parents=True)
    (site / "alpha-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: alpha\nVersion: 1.0\n")
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "scan.json").write_text("old")
    marker = tmp_path / "reached"
    proc = child(["scan", site, "--source", "skip", "-o", f"json={reports / 'scan.json'}"],
                 SLOW_WRITE.format(marker=str(marker)))
    wait_for(marker, proc)
    assert len(os.listdir(reports)) == 2  # scan.json and its temporary file
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == ExitCode.TERMINATED == 143, err
    assert err.strip().splitlines()[-1] == "depscan: error: terminated (SIGTERM); temporary files removed"
    assert os.listdir(reports) == ["scan.json"] and (reports / "scan.json").read_text() == "old"


# -- concurrent imports -------------------------------------------------------------------------

# Each import waits a second after reading the database it starts from, so the two overlap.
OVERLAP = """
from depscan.advisories import osv_db
_original = osv_db._import_one
def _slow(conn, source, budget):
    time.sleep(1.0)
    return _original(conn, source, budget)
osv_db._import_one = _slow
"""


def test_two_concurrent_imports_into_one_database_keep_both(tmp_path: Path) -> None:
    db = tmp_path / "osv.sqlite"
    first = records_dir(tmp_path / "a", "A", 20)
    second = records_dir(tmp_path / "b", "B", 30)
    procs = [child(["db", "import", source, "--db", db], OVERLAP) for source in (first, second)]
    for proc in procs:
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    database = OfflineDatabase(db)
    try:
        assert database.info().records == 50
        assert sorted(Path(s.location).name for s in database.sources()) == ["a", "b"]
    finally:
        database.close()
    assert sorted(os.listdir(tmp_path)) == ["a", "b", "osv.sqlite"]


# -- db import bombs ----------------------------------------------------------------------------


NEEDS_PROC = pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="peak memory is read from /proc")


@NEEDS_PROC
def test_yaml_alias_bomb_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_bytes(yaml_alias_bomb(9, 9))  # 9**9 strings once expanded (about 3 GB as JSON)
    code, peak, stderr = peak_rss_mib(["db", "import", bomb, "--db", tmp_path / "db.sqlite"], tmp_path)
    assert code == 0, stderr
    assert "bomb.yaml: 0 records imported, 1 skipped" in stderr
    assert "aliases are not allowed in OSV records" in stderr
    assert peak < 200, f"peak RSS {peak:.0f} MiB"


def test_yaml_anchors_without_aliases_still_import(tmp_path: Path) -> None:
    record = tmp_path / "A-1.yaml"
    record.write_text("id: A-1\nmodified: '2024-01-01T00:00:00Z'\ndetails: &d text\n"
                      "affected:\n  - package: {ecosystem: PyPI, name: alpha}\n    versions: ['1.0']\n")
    (report,) = import_sources(tmp_path / "db.sqlite", [record])
    assert (report.records, report.skipped) == (1, 0)


@NEEDS_PROC
def test_zip_decompression_budget(tmp_path: Path) -> None:
    bomb = tmp_path / "budget.zip"
    bomb.write_bytes(budget_bomb_zip(40, 4 * 1024 * 1024))  # 160 MiB of records in about 160 KiB
    db = tmp_path / "db.sqlite"
    with pytest.raises(ArtifactError, match=r"budget\.zip: the import reads more than 67108864 bytes of records"):
        import_sources(db, [bomb], 64 * 1024 * 1024)
    assert sorted(os.listdir(tmp_path)) == ["budget.zip"]
    budget = ImportBudget(10)
    budget.charge(bomb, 10)
    with pytest.raises(ArtifactError):
        budget.charge(bomb, 1)
    code, peak, stderr = peak_rss_mib(["db", "import", bomb, "--db", db, "--max-total-bytes", "32M"], tmp_path)
    assert code == ExitCode.BAD_INPUT, stderr
    assert stderr.strip().endswith("(--max-total-bytes); nothing imported")
    assert peak < 200, f"peak RSS {peak:.0f} MiB"
    (report,) = import_sources(db, [bomb])  # under the default budget: read, and every member skipped
    assert (report.records, report.skipped) == (0, 40)


def test_overlapping_members_are_refused(tmp_path: Path) -> None:
    bomb = tmp_path / "overlap.zip"
    bomb.write_bytes(overlapping_zip())
    with pytest.raises(ArtifactError, match=r"overlap\.zip: zip members 'PyPI/OVER-0\.json' and "
                                            r"'PyPI/OVER-1\.json' overlap"):
        import_sources(tmp_path / "db.sqlite", [bomb])


def test_members_zipfile_cannot_read_are_skipped_with_a_note(tmp_path: Path) -> None:
    odd = tmp_path / "odd.zip"
    odd.write_bytes(odd_members_zip())
    (report,) = import_sources(tmp_path / "db.sqlite", [odd])
    assert (report.records, report.skipped) == (1, 4)
    assert list(report.problems) == [
        f"{odd}: PyPI/DEFLATE64-1.json: compression method 9 (Deflate64) is not supported",
        f"{odd}: PyPI/ENCRYPTED-1.json: encrypted",
        f"{odd}: PyPI/LATIN1-\\xe9.json: member name is not UTF-8",
        f"{odd}: PyPI/BADUTF8-\\xff.json: member name is not UTF-8",
    ]
    database = OfflineDatabase(tmp_path / "db.sqlite")
    try:
        assert database.advisory("GOOD-1").id == "GOOD-1"
    finally:
        database.close()


def test_yaml_records_as_written_unquoted_times_kept_and_non_json_types_skipped(tmp_path: Path) -> None:
    records = tmp_path / "yaml records"
    records.mkdir()
    (records / "PYSEC-1.yaml").write_text(
        "id: PYSEC-1\nmodified: 2024-11-18T15:22:27.187148Z\ndetails: x\naffected:\n"
        "- package: {name: alpha, ecosystem: PyPI}\n  versions: ['1.0']\ndatabase_specific: {when: 2020-01-01}\n"
    )
    (records / "SET-1.yaml").write_text(
        "id: SET-1\nmodified: '2024-01-01T00:00:00Z'\ndetails: x\naffected: []\ndatabase_specific: !!set {a, b}\n"
    )
    (records / "DEEP-1.json").write_text('{"id": "DEEP-1", "x": ' + "[" * 5000 + "]" * 5000 + "}")
    (report,) = import_sources(tmp_path / "db.sqlite", [records])
    assert (report.records, report.skipped) == (1, 2)
    assert [p.split(": ")[1] for p in report.problems] == ["DEEP-1.json", "SET-1.yaml"]
    database = OfflineDatabase(tmp_path / "db.sqlite")
    try:
        advisory = database.advisory("PYSEC-1")
        assert advisory.modified == "2024-11-18T15:22:27.187148Z"
    finally:
        database.close()


def test_a_cache_entry_built_meanwhile_is_not_imported_again(tmp_path: Path) -> None:
    db = tmp_path / "osv-export.sqlite"
    import_sources(db, [records_dir(tmp_path / "a", "A", 2)], only_new=True)
    before = db.read_bytes()
    assert import_sources(db, [records_dir(tmp_path / "b", "B", 2)], only_new=True) == []
    assert db.read_bytes() == before
