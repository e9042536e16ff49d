"""OS package databases: dpkg status (+ status.d), apk installed, os-release -> OSV ecosystem and purls;
the cataloger over a directory, a layer tarball and a compressed docker save; corrupt databases -> Unknown."""

from __future__ import annotations

from pathlib import Path

import pytest

from depscan.catalogers.os_packages import OsPackageCataloger
from depscan.models import OsPackage, ScanResult
from depscan.ospkg import DatabaseError
from depscan.ospkg.apk import parse_installed
from depscan.ospkg.dpkg import parse_md5sums, parse_status
from depscan.ospkg.osrelease import parse_os_release
from depscan.scan import default_catalogers
from tests.artifacts.test_image import Link, docker_legacy, tar_bytes, write_tar_file
from tests.helpers import scan

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ospkg"
DPKG_STATUS = (FIXTURES / "dpkg-status").read_bytes()
APK_INSTALLED = (FIXTURES / "apk-installed").read_bytes()
DEBIAN_RELEASE = (FIXTURES / "os-release-debian").read_bytes()
ALPINE_RELEASE = (FIXTURES / "os-release-alpine").read_bytes()


def packages(result: ScanResult) -> dict[str, OsPackage]:
    return {c.name: c for c in result.components if isinstance(c, OsPackage)}


def write_root(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


# -- parsers ------------------------------------------------------------------------------


def test_dpkg_status_fields_and_source_packages() -> None:
    found = {p.name: p for p in parse_status(DPKG_STATUS)}
    assert sorted(found) == ["base-files", "bash", "libc6", "libsqlite3-0", "libssl3", "openssl", "zlib1g"]
    assert (found["libssl3"].version, found["libssl3"].arch) == ("3.0.19-1~deb12u2", "amd64")
    # "Source: openssl": the source version is the binary's.
    assert (found["libssl3"].source_name, found["libssl3"].source_version) == ("openssl", "3.0.19-1~deb12u2")
    # "Source: bash (5.2.15-2)": a binNMU (+b8) names the source version it was rebuilt from.
    assert (found["bash"].source_name, found["bash"].source_version) == ("bash", "5.2.15-2")
    # No Source field: the source package is the binary package; the epoch is kept.
    assert (found["openssl"].source_name, found["zlib1g"].version) == ("openssl", "1:1.2.13.dfsg-1")
    assert found["libc6"].source_name == "glibc"


def test_dpkg_removed_packages_are_not_installed() -> None:
    extra = (
        b"\nPackage: old\nStatus: deinstall ok config-files\nVersion: 1.0-1\n"
        b"\nPackage: gone\nStatus: purge ok not-installed\n"
    )
    names = {p.name for p in parse_status(DPKG_STATUS + extra)}
    assert "old" not in names and "gone" not in names and "libssl3" in names


def test_dpkg_status_d_paragraphs_have_no_status() -> None:
    distroless = b"Package: libssl3\nVersion: 3.0.11-1~deb12u2\nArchitecture: amd64\nSource: openssl\n"
    assert [(p.name, p.version) for p in parse_status(distroless, status_d=True)] == [("libssl3", "3.0.11-1~deb12u2")]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"\x7fELF\x02\x01\x01\x00\x00\x00", "NUL bytes"),
        (b"Package: x\nthis is not a field\n", "line 2: not a 'Field: value' line"),
        (b"Status: install ok installed\nVersion: 1\n", "line 1: paragraph without a Package field"),
        (b"Package: x\nVersion: 1\n\xff\xfe\n", "not UTF-8"),
    ],
)
def test_dpkg_corrupt(data: bytes, problem: str) -> None:
    with pytest.raises(DatabaseError, match=problem):
        parse_status(data)


def test_apk_installed_packages_origins_and_files() -> None:
    found = {p.name: p for p in parse_installed(APK_INSTALLED)}
    assert sorted(found) == ["libcrypto3", "libssl3", "musl", "zlib"]
    ssl = found["libssl3"]
    assert (ssl.version, ssl.arch, ssl.origin) == ("3.1.4-r5", "x86_64", "openssl")
    # R lines are files in the last F directory.
    assert ssl.files == ("lib/libssl.so.3", "usr/lib/libssl.so.3")
    assert found["musl"].files == ("lib/ld-musl-x86_64.so.1", "lib/libc.musl-x86_64.so.1")


def test_apk_corrupt() -> None:
    with pytest.raises(DatabaseError, match="line 2: package without a P"):
        parse_installed(b"\nV:1.0-r0\nA:x86_64\n")
    with pytest.raises(DatabaseError, match="line 3: not an 'X:value' line"):
        parse_installed(b"P:musl\nV:1\ngarbage here\n")


@pytest.mark.parametrize(
    ("text", "ecosystem", "distro"),
    [
        (DEBIAN_RELEASE.decode(), "Debian:12", "debian-12"),
        (ALPINE_RELEASE.decode(), "Alpine:v3.19", "alpine-3.19.1"),
        (
            'ID=ubuntu\nVERSION_ID="22.04"\nVERSION="22.04.4 LTS (Jammy Jellyfish)"\n',
            "Ubuntu:22.04:LTS",
            "ubuntu-22.04",
        ),
        ('ID=ubuntu\nVERSION_ID="23.10"\nVERSION="23.10 (Mantic Minotaur)"\n', "Ubuntu:23.10", "ubuntu-23.10"),
        ("ID=debian\nVERSION_CODENAME=trixie\n", None, "debian-trixie"),  # testing: no VERSION_ID
        ("ID=fedora\nVERSION_ID=40\n", None, "fedora-40"),  # no OSV ecosystem
        ('ID="amzn"\nVERSION_ID="2023"\n', None, "amzn-2023"),  # OSV has no Amazon Linux ecosystem
        ('ID="rocky"\nVERSION_ID="9.3"\n', "Rocky Linux:9", "rocky-9.3"),
        ('ID="almalinux"\nVERSION_ID="8.10"\n', "AlmaLinux:8", "almalinux-8.10"),
        ('ID=wolfi\nVERSION_ID="20230201"\n', "Wolfi", "wolfi-20230201"),  # rolling: no release in the ecosystem
    ],
)
def test_os_release(text: str, ecosystem: str | None, distro: str) -> None:
    release = parse_os_release(text)
    assert release is not None
    assert (release.ecosystem, release.distro) == (ecosystem, distro)


def test_os_release_without_id() -> None:
    assert parse_os_release("# nothing\nNAME=x\n") is None


# -- the cataloger ------------------------------------------------------------------------


def test_registered_before_native_libraries() -> None:
    names = [c.name for c in default_catalogers()]
    assert names.index("os-packages") < names.index("native-libs")


def test_wants_names_the_databases() -> None:
    cataloger = OsPackageCataloger()
    for path in (
        "var/lib/dpkg/status",
        "var/lib/dpkg/status.d/libssl3",
        "var/lib/dpkg/status.d/libssl3.md5sums",
        "var/lib/dpkg/info/libssl3:amd64.list",
        "lib/apk/db/installed",
        "var/lib/rpm/rpmdb.sqlite",
        "usr/lib/sysimage/rpm/rpmdb.sqlite",
        "var/lib/rpm/rpmdb.sqlite-wal",
        "var/lib/rpm/Packages",
        "etc/os-release",
    ):
        assert cataloger.wants(path), path
    for path in (
        "var/lib/dpkg/status-old",
        "var/lib/dpkg/info/libssl3:amd64.md5sums",
        "var/lib/dpkg/info/sub/x.list",
        "var/lib/rpm/Name",
        "var/lib/rpm/rpmdb.sqlite-shm",
        "var/lib/rpm/other-wal",
        "usr/lib/python3/dist-packages/x/status",
        "etc/passwd",
    ):
        assert not cataloger.wants(path), path


def test_debian_root_directory(tmp_path: Path) -> None:
    root = write_root(tmp_path / "root dir", {"var/lib/dpkg/status": DPKG_STATUS, "usr/lib/os-release": DEBIAN_RELEASE})
    (root / "etc").mkdir()
    (root / "etc/os-release").symlink_to("../usr/lib/os-release")
    result = scan(root)
    found = packages(result)
    ssl = found["libssl3"]
    assert ssl.purl == "pkg:deb/debian/libssl3@3.0.19-1~deb12u2?arch=amd64&distro=debian-12"
    assert (ssl.ecosystem, ssl.package_manager, ssl.source_name) == ("Debian:12", "dpkg", "openssl")
    assert ssl.location.path == "var/lib/dpkg/status"
    assert found["zlib1g"].purl == "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12"
    assert not result.unknowns


def test_distroless_status_d(tmp_path: Path) -> None:
    root = write_root(
        tmp_path,
        {
            "var/lib/dpkg/status.d/libssl3": b"Package: libssl3\nVersion: 3.0.11-1~deb12u2\nArchitecture: amd64\n"
            b"Source: openssl\n",
            "var/lib/dpkg/status.d/base": b"Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n",
            # Newer distroless images write each package's checksums beside its paragraph.
            "var/lib/dpkg/status.d/libssl3.md5sums": b"0123456789abcdef0123456789abcdef  usr/lib/libssl.so.3\n",
            "etc/os-release": DEBIAN_RELEASE,
        },
    )
    result = scan(root)
    found = packages(result)
    assert sorted(found) == ["base-files", "libssl3"]
    assert not result.unknowns
    assert found["libssl3"].location.path == "var/lib/dpkg/status.d/libssl3"
    # The .md5sums beside a paragraph is its package's file list.
    assert (found["libssl3"].files, found["base-files"].files) == (("usr/lib/libssl.so.3",), ())


def test_alpine_layer_tarball(tmp_path: Path) -> None:
    layer = write_tar_file(
        tmp_path / "layer.tar", {"lib/apk/db/installed": APK_INSTALLED, "etc/os-release": ALPINE_RELEASE}
    )
    found = packages(scan(layer))
    ssl = found["libssl3"]
    assert ssl.purl == "pkg:apk/alpine/libssl3@3.1.4-r5?arch=x86_64&distro=alpine-3.19.1"
    assert (ssl.ecosystem, ssl.source_name, ssl.source_version) == ("Alpine:v3.19", "openssl", "3.1.4-r5")
    assert "usr/lib/libssl.so.3" in ssl.files


def test_no_os_release(tmp_path: Path) -> None:
    root = write_root(tmp_path, {"lib/apk/db/installed": APK_INSTALLED})
    musl = packages(scan(root))["musl"]
    assert musl.ecosystem is None
    assert musl.purl == "pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64"


def test_compressed_docker_save_keeps_the_databases(tmp_path: Path) -> None:
    """A gzip docker save is streamed once: only what a cataloger wants is kept, and the
    databases and os-release (through its symlink) must be among it."""
    base = tar_bytes(
        {
            "usr/lib/os-release": DEBIAN_RELEASE,
            "etc/os-release": Link("../usr/lib/os-release"),
            "var/lib/dpkg/status": DPKG_STATUS,
        }
    )
    app = tar_bytes({"app/main.py": b"print('hi')\n"})
    members, diff_ids = docker_legacy([base, app])
    image = write_tar_file(tmp_path / "image.tar.gz", members, "gzip")
    result = scan(image)
    ssl = packages(result)["libssl3"]
    assert ssl.ecosystem == "Debian:12"
    assert ssl.location.layer == diff_ids[0]
    assert not result.unknowns


def test_corrupt_database_is_one_unknown(tmp_path: Path) -> None:
    root = write_root(
        tmp_path,
        {
            "var/lib/dpkg/status": b"Package: libssl3\n\x00\x01garbage",
            "lib/apk/db/installed": APK_INSTALLED,
        },
    )
    result = scan(root)
    assert [str(u.location) for u in result.unknowns] == ["var/lib/dpkg/status"]
    reason = result.unknowns[0].reason
    assert reason == "dpkg status: binary data (NUL bytes), not a dpkg status file"
    assert "\n" not in reason
    # The other database is still read.
    assert "musl" in packages(result)


def test_os_release_without_id_falls_back_to_usr_lib(tmp_path: Path) -> None:
    root = write_root(
        tmp_path,
        {
            "etc/os-release": b"# emptied by a hardening step\n",
            "usr/lib/os-release": ALPINE_RELEASE,
            "lib/apk/db/installed": APK_INSTALLED,
        },
    )
    assert packages(scan(root))["zlib"].ecosystem == "Alpine:v3.19"


# -- dpkg file lists ------------------------------------------------------------------------------

# As dpkg writes them (Debian 12, libssl3:amd64): directories first, "/." for the root.
LIBSSL3_LIST = (
    b"/.\n/usr\n/usr/lib\n/usr/lib/x86_64-linux-gnu\n/usr/lib/x86_64-linux-gnu/libssl.so.3\n"
    b"/usr/share/doc/libssl3\n/usr/share/doc/libssl3/changelog.Debian.gz\n"
)


def test_dpkg_file_lists(tmp_path: Path) -> None:
    root = write_root(
        tmp_path,
        {
            "var/lib/dpkg/status": DPKG_STATUS,
            # Multi-Arch: same packages' lists carry the architecture; others do not.
            "var/lib/dpkg/info/libssl3:amd64.list": LIBSSL3_LIST,
            "var/lib/dpkg/info/zlib1g:amd64.list": b"/.\n/lib/x86_64-linux-gnu/libz.so.1.2.13\n",
            "var/lib/dpkg/info/openssl.list": b"/.\n/usr/bin/openssl\n",
            "var/lib/dpkg/info/openssl.md5sums": b"0123456789abcdef0123456789abcdef  usr/bin/openssl\n",
            "etc/os-release": DEBIAN_RELEASE,
        },
    )
    result = scan(root)
    assert not result.unknowns
    found = packages(result)
    assert found["libssl3"].files == (
        "usr",
        "usr/lib",
        "usr/lib/x86_64-linux-gnu",
        "usr/lib/x86_64-linux-gnu/libssl.so.3",
        "usr/share/doc/libssl3",
        "usr/share/doc/libssl3/changelog.Debian.gz",
    )
    assert found["zlib1g"].files == ("lib/x86_64-linux-gnu/libz.so.1.2.13",)
    assert found["openssl"].files == ("usr/bin/openssl",)
    assert found["bash"].files == ()  # no list in this root


def test_unreadable_file_list_is_an_unknown_and_the_package_stays(tmp_path: Path) -> None:
    root = write_root(
        tmp_path,
        {"var/lib/dpkg/status": DPKG_STATUS, "var/lib/dpkg/info/libssl3:amd64.list": b"/usr\x00/lib\n"},
    )
    result = scan(root)
    assert [(str(u.location), u.reason) for u in result.unknowns] == [
        ("var/lib/dpkg/info/libssl3:amd64.list", "dpkg file list: binary data (NUL bytes), not a dpkg file list")
    ]
    assert packages(result)["libssl3"].files == ()


def test_malformed_md5sums() -> None:
    with pytest.raises(DatabaseError, match="line 2: not an '<md5>  <path>' line"):
        parse_md5sums(b"0123456789abcdef0123456789abcdef  usr/bin/x\nnot a checksum line\n")
