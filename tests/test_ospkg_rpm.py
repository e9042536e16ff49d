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


def test_berkeley_db_is_an_unknown_not_a_guess(tmp_path: Path) -> None:
    # Amazon Linux 2's database: a BerkeleyDB hash file (magic 0x00061561 at offset 12).
    berkeley = b"\x00" * 12 + struct.pack("<I", 0x00061561) + b"\x00" * 4080
    result = scan(write_root(tmp_path, {"var/lib/rpm/Packages": berkeley}))
    assert [(str(u.location), u.reason) for u in result.unknowns] == [
        ("var/lib/rpm/Packages", "BerkeleyDB rpm database (Amazon Linux 2, RHEL/CentOS 7-8): format not read")
    ]
    assert not packages(result)


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
