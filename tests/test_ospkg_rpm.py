"""rpm's sqlite database (rpmdb.sqlite): header blobs, the Packages table, purls and file lists, on a
REAL database written by rpm (fixtures/ospkg/build_rpmdb.sh); corrupt databases -> one Unknown."""

from __future__ import annotations

import re
import shutil
import sqlite3
import struct
from pathlib import Path

import pytest

from depscan.models import OsPackage, ScanResult
from depscan.ospkg import DatabaseError, rpm
from depscan.ospkg.rpm import package, parse_header, parse_rpmdb
from tests.helpers import scan

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ospkg"
RPMDB = (FIXTURES / "rpmdb.sqlite").read_bytes()
BDB = (FIXTURES / "rpm-Packages").read_bytes()  # the same two headers in Berkeley DB (build_rpmdb.sh)
AL2023_RELEASE = (
    b'NAME="Amazon Linux"\nVERSION="2023"\nID="amzn"\nID_LIKE="fedora"\nVERSION_ID="2023"\n'
    b'PLATFORM_ID="platform:al2023"\nPRETTY_NAME="Amazon Linux 2023.6.20241010"\n'
)
LIBS_FILES = (
    "usr/lib64/engines-3",
    "usr/lib64/engines-3/afalg.so",
    "usr/lib64/libcrypto.so.3",
    "usr/lib64/libcrypto.so.3.0.8",
    "usr/lib64/libssl.so.3",
    "usr/lib64/libssl.so.3.0.8",
)


def packages(result: ScanResult) -> dict[str, OsPackage]:
    return {c.name: c for c in result.components if isinstance(c, OsPackage)}


def write_root(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def header(*entries: tuple[int, int, bytes, int]) -> bytes:
    """An rpm header blob as rpmdb.sqlite stores it: il, dl, (tag, type, offset, count) entries, data."""
    index, store = b"", b""
    for tag, kind, data, count in entries:
        if kind == 4:
            store += b"\x00" * (-len(store) % 4)
        index += struct.pack(">iiII", tag, kind, len(store), count)
        store += data
    return struct.pack(">II", len(entries), len(store)) + index + store


def string(tag: int, value: str) -> tuple[int, int, bytes, int]:
    return (tag, 6, value.encode() + b"\x00", 1)


def strings(tag: int, values: list[str]) -> tuple[int, int, bytes, int]:
    return (tag, 8, b"".join(v.encode() + b"\x00" for v in values), len(values))


def int32(tag: int, values: list[int]) -> tuple[int, int, bytes, int]:
    return (tag, 4, struct.pack(f">{len(values)}i", *values), len(values))


NAME_VR = (string(1000, "zlib"), string(1001, "1.2.11"), string(1002, "40.amzn2023.0.2"))


# -- the real database ----------------------------------------------------------------------


def test_the_fixture_is_a_wal_mode_database_as_rpm_leaves_it() -> None:
    # SQLite file format bytes 18-19 = 2: WAL. An in-memory copy must be switched to be openable.
    assert RPMDB.startswith(b"SQLite format 3\x00") and (RPMDB[18], RPMDB[19]) == (2, 2)


def test_real_rpmdb_packages_epochs_sources_and_files() -> None:
    found = {p.name: p for p in parse_rpmdb(RPMDB)}
    assert sorted(found) == ["openssl", "openssl-libs"]
    libs = found["openssl-libs"]
    assert (libs.version, libs.release, libs.epoch, libs.arch) == ("3.0.8", "1.amzn2023.0.14", 1, "x86_64")
    assert libs.evr == "1:3.0.8-1.amzn2023.0.14"
    # SOURCERPM openssl-3.0.8-1.amzn2023.0.14.src.rpm: the subpackage's source is "openssl", same epoch.
    assert libs.source_rpm == "openssl-3.0.8-1.amzn2023.0.14.src.rpm"
    assert libs.source == ("openssl", "1:3.0.8-1.amzn2023.0.14")
    # BASENAMES joined to DIRNAMES[DIRINDEXES]: two directories, a %dir entry and the symlinks included.
    assert libs.files == LIBS_FILES
    assert found["openssl"].files == ("usr/bin/openssl",)


def test_python_310_reads_through_a_temporary_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rpm, "DESERIALIZE", False)
    assert [p.name for p in parse_rpmdb(RPMDB)] == ["openssl-libs", "openssl"]


def test_amazon_linux_2023_image_root(tmp_path: Path) -> None:
    root = write_root(tmp_path / "al 2023", {"var/lib/rpm/rpmdb.sqlite": RPMDB, "etc/os-release": AL2023_RELEASE})
    result = scan(root)
    assert not result.unknowns
    libs = packages(result)["openssl-libs"]
    # purl spec, rpm type: version-release as the version, the epoch a qualifier, the vendor the namespace.
    assert libs.purl == "pkg:rpm/amzn/openssl-libs@3.0.8-1.amzn2023.0.14?arch=x86_64&distro=amzn-2023&epoch=1"
    assert (libs.version, libs.package_manager) == ("1:3.0.8-1.amzn2023.0.14", "rpm")
    assert (libs.source_name, libs.source_version) == ("openssl", "1:3.0.8-1.amzn2023.0.14")
    # OSV has no Amazon Linux ecosystem (schema 1.7.5): unknown, not invented.
    assert libs.ecosystem is None
    assert libs.files == LIBS_FILES
    assert libs.location.path == "var/lib/rpm/rpmdb.sqlite"


def test_sysimage_location_and_almalinux_ecosystem(tmp_path: Path) -> None:
    root = write_root(
        tmp_path,
        {
            "usr/lib/sysimage/rpm/rpmdb.sqlite": RPMDB,
            "etc/os-release": b'ID="almalinux"\nVERSION_ID="9.4"\n',
        },
    )
    libs = packages(scan(root))["openssl-libs"]
    assert libs.ecosystem == "AlmaLinux:9"
    assert libs.purl.startswith("pkg:rpm/almalinux/openssl-libs@3.0.8-1.amzn2023.0.14?")


def test_without_os_release_no_namespace(tmp_path: Path) -> None:
    root = write_root(tmp_path, {"var/lib/rpm/rpmdb.sqlite": RPMDB})
    libs = packages(scan(root))["openssl-libs"]
    assert libs.purl == "pkg:rpm/openssl-libs@3.0.8-1.amzn2023.0.14?arch=x86_64&epoch=1"
    assert libs.ecosystem is None


def test_berkeley_db_packages_of_amazon_linux_2(tmp_path: Path) -> None:
    root = write_root(
        tmp_path,
        {"var/lib/rpm/Packages": BDB, "etc/os-release": b'ID="amzn"\nVERSION_ID="2"\n'},
    )
    result = scan(root)
    assert not result.unknowns
    libs = packages(result)["openssl-libs"]
    assert libs.purl == "pkg:rpm/amzn/openssl-libs@3.0.8-1.amzn2023.0.14?arch=x86_64&distro=amzn-2&epoch=1"
    assert (libs.location.path, libs.files) == ("var/lib/rpm/Packages", LIBS_FILES)
    # The same headers as the sqlite database: one parser behind both storage formats.
    assert rpm.parse_rpmdb(BDB, berkeley=True) == rpm.parse_rpmdb(RPMDB)


def test_sqlite_database_wins_over_a_leftover_berkeley_db(tmp_path: Path) -> None:
    root = write_root(tmp_path, {"var/lib/rpm/Packages": b"stale", "var/lib/rpm/rpmdb.sqlite": RPMDB})
    result = scan(root)
    assert not result.unknowns
    assert {p.location.path for p in packages(result).values()} == {"var/lib/rpm/rpmdb.sqlite"}


def test_ndb_is_an_unknown_not_a_guess(tmp_path: Path) -> None:
    result = scan(write_root(tmp_path, {"usr/lib/sysimage/rpm/Packages.db": b"RpmP" + b"\x00" * 60}))
    assert [(str(u.location), u.reason) for u in result.unknowns] == [
        ("usr/lib/sysimage/rpm/Packages.db", "ndb rpm database (openSUSE/SLES): format not read")
    ]
    assert not packages(result)


def bdb_page(data: bytes, number: int) -> int:
    return number * struct.unpack_from("<I", data, 20)[0]


def _bdb_broken_overflow() -> bytes:
    data = bytearray(BDB)
    for number in range(1, len(data) // 4096):
        if data[bdb_page(data, number) + 25] == 7:  # the first overflow page -> not an overflow page
            data[bdb_page(data, number) + 25] = 5
            break
    return bytes(data)


def _bdb_item_outside() -> bytes:
    data = bytearray(BDB)
    struct.pack_into("<H", data, bdb_page(data, 1) + 26, 5000)  # page 1's first item offset past the page
    return bytes(data)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (BDB[:300], "too short for a Berkeley DB database"),
        (b"\x00" * 4096, "not a Berkeley DB hash database"),
        (BDB[:25] + b"\x09" + BDB[26:], "metadata page of type 9, not a hash database"),
        (BDB[:24] + b"\x01" + BDB[25:], "encrypted Berkeley DB database"),
        (BDB[:26] + b"\x01" + BDB[27:], "page checksums: not read"),
        (BDB[:20] + struct.pack("<I", 1000) + BDB[24:], "page size 1000"),
        (BDB[: 4096 * 3], "Berkeley DB page [0-9]+ outside the file's 3 pages"),
        (_bdb_broken_overflow(), "overflow chain from page [0-9]+ broken at page"),
        (_bdb_item_outside(), "page 1: item 0 at 5000..4096 outside the page"),
    ],
)
def test_corrupt_berkeley_db(data: bytes, problem: str) -> None:
    with pytest.raises(DatabaseError, match=problem):
        rpm.parse_rpmdb(data, berkeley=True)


# -- header blobs -------------------------------------------------------------------------


def test_header_without_epoch_source_or_files() -> None:
    found = package(header(*NAME_VR, string(1022, "x86_64")))
    assert found is not None
    assert (found.evr, found.source, found.files) == ("1.2.11-40.amzn2023.0.2", ("zlib", "1.2.11-40.amzn2023.0.2"), ())


def test_a_later_entry_for_a_tag_replaces_an_earlier_one() -> None:
    found = package(header(*NAME_VR, string(1022, "noarch"), string(1022, "aarch64")))
    assert found is not None and found.arch == "aarch64"


def test_old_filenames_and_signing_keys() -> None:
    found = package(header(*NAME_VR, strings(1027, ["/usr/lib64/libz.so.1"])))
    assert found is not None and found.files == ("usr/lib64/libz.so.1",)
    key = header(string(1000, "gpg-pubkey"), string(1001, "d832c631"), string(1002, "5e4d6e2c"))
    assert package(key) is None


@pytest.mark.parametrize(
    ("blob", "problem"),
    [
        (b"\x00\x00", "shorter than its 8-byte preamble"),
        (struct.pack(">II", 0, 0), "outside rpm's limits"),
        (struct.pack(">II", 1, 0x10000000), "outside rpm's limits"),
        (header(*NAME_VR)[:-3], "header truncated"),
        (header(string(1000, "zlib"), string(1001, "1")), "without NAME, VERSION or RELEASE"),
        (header(*NAME_VR, (1022, 6, b"x86_64", 1)), "tag 1022: string at offset .* runs past the data store"),
        (header(*NAME_VR, (1003, 4, b"\x00\x00\x00\x01", 2)), "tag 1003: 2 INT32 values"),
        (header(*NAME_VR, (1022, 7, b"\x01\x02", 2)), "tag 1022: unexpected type 7"),
        (header(*NAME_VR, (1022, 6, b"a\x00b\x00", 2)), "tag 1022: STRING with count 2"),
        (
            header(*NAME_VR, strings(1117, ["libz.so.1"]), strings(1118, ["/usr/lib64/"]), int32(1116, [3])),
            "DIRINDEXES entry 3 outside its 1 DIRNAMES",
        ),
        (
            header(*NAME_VR, strings(1117, ["a", "b"]), strings(1118, ["/usr/"]), int32(1116, [0])),
            "BASENAMES without matching DIRNAMES/DIRINDEXES",
        ),
    ],
)
def test_corrupt_headers(blob: bytes, problem: str) -> None:
    with pytest.raises(DatabaseError, match=problem):
        package(blob)


def test_offsets_outside_the_data_store() -> None:
    blob = bytearray(header(*NAME_VR))
    struct.pack_into(">i", blob, 8 + 8, 10_000)  # the first entry's offset
    with pytest.raises(DatabaseError, match="tag 1000: offset 10000"):
        parse_header(bytes(blob))


# -- corrupt databases: one Unknown each, never a crash -------------------------------------------


def edited(tmp_path: Path, sql: str) -> bytes:
    """A copy of the real database changed by one SQL statement."""
    path = tmp_path / "copy.sqlite"
    shutil.copyfile(FIXTURES / "rpmdb.sqlite", path)
    connection = sqlite3.connect(path)
    with connection:
        connection.execute(sql)
    connection.close()
    return path.read_bytes()


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda tmp: RPMDB[:20_000], r"rpm database: SQLite: .*"),
        (lambda tmp: b"not a database at all" * 10, "rpm database: not an SQLite database"),
        (lambda tmp: edited(tmp, "DROP TABLE Packages"), "rpm database: SQLite database without a Packages table"),
        (
            lambda tmp: edited(tmp, "UPDATE Packages SET blob = substr(blob, 1, 100) WHERE hnum = 1"),
            "rpm database: Packages row 1: header truncated: 100 bytes, its index says 2508",
        ),
        (
            lambda tmp: edited(tmp, "UPDATE Packages SET blob = 'text' WHERE hnum = 2"),
            "rpm database: Packages row 2: blob is str, not a header",
        ),
    ],
)
def test_corrupt_rpmdb_is_one_unknown(tmp_path: Path, make: object, reason: str) -> None:
    assert callable(make)
    root = write_root(tmp_path / "root", {"var/lib/rpm/rpmdb.sqlite": make(tmp_path)})
    result = scan(root)
    assert not packages(result)
    assert len(result.unknowns) == 1
    unknown = result.unknowns[0]
    assert str(unknown.location) == "var/lib/rpm/rpmdb.sqlite"
    assert re.match(reason, unknown.reason), unknown.reason
    assert "\n" not in unknown.reason


def test_transactions_still_in_the_write_ahead_log_are_read(tmp_path: Path) -> None:
    """A layer saved while rpm had the database open: the last transaction (openssl removed) is
    only in rpmdb.sqlite-wal. Both files are copied while a connection holds the log open."""
    live = tmp_path / "live" / "rpmdb.sqlite"
    live.parent.mkdir()
    shutil.copyfile(FIXTURES / "rpmdb.sqlite", live)
    connection = sqlite3.connect(live)
    try:
        connection.execute("PRAGMA wal_autocheckpoint = 0")
        with connection:
            connection.execute("DELETE FROM Packages WHERE hnum = 2")
        main, wal = live.read_bytes(), Path(f"{live}-wal").read_bytes()
    finally:
        connection.close()
    assert wal and main == RPMDB  # the removal is in the log only
    root = write_root(tmp_path / "root", {"var/lib/rpm/rpmdb.sqlite": main})
    assert sorted(packages(scan(root))) == ["openssl", "openssl-libs"]
    (root / "var/lib/rpm/rpmdb.sqlite-wal").write_bytes(wal)
    result = scan(root)
    assert not result.unknowns
    assert sorted(packages(result)) == ["openssl-libs"]
    # An empty log (rpm closed the database cleanly) changes nothing.
    (root / "var/lib/rpm/rpmdb.sqlite-wal").write_bytes(b"")
    assert sorted(packages(scan(root))) == ["openssl", "openssl-libs"]
