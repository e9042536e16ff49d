"""Attribution of native libraries to the OS packages that list them (depscan.ospkg.attribution, run by
scan.run after the catalogers), and OS package databases inside docker-save images: layers, a later
layer's upgrade, a whiteout deleting a database."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from builders import elf_header

from depscan.facts import counts
from depscan.models import Component, Location, NativeComponent, NativeLib, OsPackage, ScanResult
from depscan.ospkg.attribution import attribute, usr_merged
from tests.artifacts.test_image import DIR, docker_legacy, tar_bytes, write_tar_file
from tests.helpers import scan

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ospkg"
RPMDB = (FIXTURES / "rpmdb.sqlite").read_bytes()
DPKG_STATUS = (FIXTURES / "dpkg-status").read_bytes()
DEBIAN_RELEASE = (FIXTURES / "os-release-debian").read_bytes()
AL2023_RELEASE = b'NAME="Amazon Linux"\nID="amzn"\nVERSION_ID="2023"\n'
OPENSSL_LIBS = "pkg:rpm/amzn/openssl-libs@3.0.8-1.amzn2023.0.14?arch=x86_64&distro=amzn-2023&epoch=1"
CC = shutil.which("cc") or shutil.which("gcc")


def os_package(name: str, purl: str, files: tuple[str, ...]) -> OsPackage:
    return OsPackage(name, "1", purl, "apk", Location("lib/apk/db/installed"), files=files)


def native_lib(path: str, os_package: str | None = None) -> NativeLib:
    return NativeLib(
        name=Path(path).name.split(".so")[0],
        kind="shared-library",
        version=None,
        location=Location(path),
        size=64,
        arch="x86_64",
        elf_class=64,
        endianness="little",
        elf_type="shared-object",
        purl=None,
        os_package=os_package,
    )


def attributed(result: ScanResult) -> dict[str, str | None]:
    """The os_package of every native library and identified component, by type and path."""
    return {
        f"{type(c).__name__} {c.location.path}": c.os_package
        for c in result.components
        if isinstance(c, NativeLib | NativeComponent)
    }


def write_root(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


# -- the step itself --------------------------------------------------------------------------


def test_usr_merge() -> None:
    assert usr_merged("lib/x86_64-linux-gnu/libc.so.6") == "usr/lib/x86_64-linux-gnu/libc.so.6"
    assert usr_merged("lib64/libz.so.1") == "usr/lib64/libz.so.1"
    assert usr_merged("usr/lib/libz.so.1") == "usr/lib/libz.so.1"
    assert usr_merged("library/x.so") == "library/x.so"  # a prefix, not a directory


def test_exact_path_first_then_usr_merged() -> None:
    # Alpine is not usr-merged: lib/ and usr/lib/ are different files, listed by different packages.
    base = os_package("libssl3", "pkg:apk/alpine/libssl3@3.1.4-r5", ("lib/libssl.so.3",))
    compat = os_package("libssl3-compat", "pkg:apk/alpine/libssl3-compat@1", ("usr/lib/libssl.so.3",))
    zlib = os_package("zlib1g", "pkg:deb/debian/zlib1g@1", ("lib/x86_64-linux-gnu/libz.so.1.2.13",))
    libs = [
        native_lib("usr/lib/libssl.so.3"),
        native_lib("lib/libssl.so.3"),
        native_lib("usr/lib/x86_64-linux-gnu/libz.so.1.2.13"),  # the image has lib -> usr/lib
        native_lib("opt/vendor/libz.so.1.2.13"),
        native_lib("usr/lib/libfoo.so", os_package="pkg:apk/alpine/foo@1"),  # already known: kept
    ]
    out: list[Component] = attribute([base, compat, zlib, *libs])
    assert [c.os_package for c in out if isinstance(c, NativeLib)] == [
        "pkg:apk/alpine/libssl3-compat@1",
        "pkg:apk/alpine/libssl3@3.1.4-r5",
        "pkg:deb/debian/zlib1g@1",
        None,
        "pkg:apk/alpine/foo@1",
    ]
    assert out[:3] == [base, compat, zlib]  # packages untouched, order kept


def test_nothing_to_attribute_without_file_lists() -> None:
    lib = native_lib("usr/lib/libssl.so.3")
    assert attribute([os_package("x", "pkg:apk/alpine/x@1", ()), lib])[1] is lib


# -- through a scan -----------------------------------------------------------------------------


def test_rpm_owned_library_and_an_unowned_one(tmp_path: Path) -> None:
    root = write_root(
        tmp_path / "al2023 root",
        {
            "etc/os-release": AL2023_RELEASE,
            "var/lib/rpm/rpmdb.sqlite": RPMDB,
            "usr/lib64/libcrypto.so.3.0.8": elf_header(padding=b"crypto" * 20),
            "opt/vendor/lib/libcrypto.so.3": elf_header(padding=b"vendored" * 20),
        },
    )
    result = scan(root)
    found = attributed(result)
    assert found["NativeLib usr/lib64/libcrypto.so.3.0.8"] == OPENSSL_LIBS
    assert found["NativeLib opt/vendor/lib/libcrypto.so.3"] is None
    # the summary's "unowned" counts the vendored copy only: the rpm-owned one has its OS package
    assert counts(result).native_libraries_unowned == 1


@pytest.mark.skipif(CC is None, reason="no C compiler (cc/gcc) to build the test library")
def test_identified_component_is_attributed_too(tmp_path: Path) -> None:
    source = tmp_path / "ssl.c"
    source.write_text('const char *ver(void) { return "OpenSSL 3.0.8 7 Feb 2023"; }\nint SSL_new(void) { return 1; }\n')
    root = write_root(tmp_path / "root", {"etc/os-release": AL2023_RELEASE, "var/lib/rpm/rpmdb.sqlite": RPMDB})
    library = root / "usr/lib64/libssl.so.3.0.8"
    library.parent.mkdir(parents=True)
    assert CC is not None
    built = subprocess.run(
        [CC, "-shared", "-fPIC", "-Wl,-soname,libssl.so.3", "-o", str(library), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    if built.returncode != 0:
        pytest.skip(f"cc could not build the test library: {built.stderr.strip()[:200]}")
    (root / "usr/lib64/libssl.so.3").symlink_to("libssl.so.3.0.8")
    result = scan(root)
    found = attributed(result)
    assert found["NativeLib usr/lib64/libssl.so.3.0.8"] == OPENSSL_LIBS
    assert found["NativeComponent usr/lib64/libssl.so.3.0.8"] == OPENSSL_LIBS


def test_dpkg_list_with_pre_merge_paths(tmp_path: Path) -> None:
    root = write_root(
        tmp_path,
        {
            "etc/os-release": DEBIAN_RELEASE,
            "var/lib/dpkg/status": DPKG_STATUS,
            "var/lib/dpkg/info/zlib1g:amd64.list": b"/.\n/lib/x86_64-linux-gnu/libz.so.1.2.13\n",
            "usr/lib/x86_64-linux-gnu/libz.so.1.2.13": elf_header(),
        },
    )
    (root / "lib").symlink_to("usr/lib")
    found = attributed(scan(root))
    assert found["NativeLib usr/lib/x86_64-linux-gnu/libz.so.1.2.13"] == (
        "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12"
    )


# -- docker save images: the databases inside layers ------------------------------------------------


def al2023_base() -> dict[str, bytes | None]:
    return {
        "etc": DIR,
        "etc/os-release": AL2023_RELEASE,
        "var": DIR,
        "var/lib": DIR,
        "var/lib/rpm": DIR,
        "var/lib/rpm/rpmdb.sqlite": RPMDB,
        "usr": DIR,
        "usr/lib64": DIR,
        "usr/lib64/libssl.so.3.0.8": elf_header(padding=b"ssl" * 30),
    }


@pytest.mark.parametrize("outer", ["", "gzip"])
def test_image_layer_database_attributes_a_later_layers_view(tmp_path: Path, outer: str) -> None:
    app = tar_bytes({"var/task": DIR, "var/task/app.py": b"print('hi')\n"})
    members, diff_ids = docker_legacy([tar_bytes(al2023_base()), app])
    image = write_tar_file(tmp_path / f"image.tar{'.gz' if outer else ''}", members, outer)
    result = scan(image)
    assert not result.unknowns
    libs = {c.name: c for c in result.components if isinstance(c, OsPackage)}["openssl-libs"]
    assert libs.location == Location("var/lib/rpm/rpmdb.sqlite", diff_ids[0])
    assert attributed(result)["NativeLib usr/lib64/libssl.so.3.0.8"] == OPENSSL_LIBS


@pytest.mark.parametrize(
    "whiteout",
    [
        "var/lib/rpm/.wh.rpmdb.sqlite",  # the file deleted (rm /var/lib/rpm/rpmdb.sqlite)
        "var/lib/.wh.rpm",  # its directory deleted (rm -rf /var/lib/rpm, a "distroless-ish" slimming step)
        "var/lib/rpm/.wh..wh..opq",  # the directory emptied and re-created
    ],
)
def test_whiteout_deleting_the_database_in_a_later_layer(tmp_path: Path, whiteout: str) -> None:
    slim = tar_bytes({"var/lib/rpm" if "opq" in whiteout else "var/lib": DIR, whiteout: b""})
    members, _ = docker_legacy([tar_bytes(al2023_base()), slim])
    result = scan(write_tar_file(tmp_path / "image.tar", members))
    assert not [c for c in result.components if isinstance(c, OsPackage)]
    assert not result.unknowns
    # The library is still in the image; nothing lists it any more.
    assert attributed(result)["NativeLib usr/lib64/libssl.so.3.0.8"] is None


def test_a_later_layer_upgrades_a_package(tmp_path: Path) -> None:
    base = tar_bytes(
        {
            "etc/os-release": DEBIAN_RELEASE,
            "var/lib/dpkg/status": DPKG_STATUS,
            "var/lib/dpkg/info/libssl3:amd64.list": b"/.\n/usr/lib/x86_64-linux-gnu/libssl.so.3\n",
            "usr/lib/x86_64-linux-gnu/libssl.so.3": elf_header(padding=b"old" * 30),
        }
    )
    upgraded = DPKG_STATUS.replace(b"3.0.19-1~deb12u2", b"3.0.20-1~deb12u1")
    assert upgraded != DPKG_STATUS
    upgrade = tar_bytes(
        {"var/lib/dpkg/status": upgraded, "usr/lib/x86_64-linux-gnu/libssl.so.3": elf_header(padding=b"new" * 30)}
    )
    members, diff_ids = docker_legacy([base, upgrade])
    result = scan(write_tar_file(tmp_path / "image.tar", members))
    ssl = {c.name: c for c in result.components if isinstance(c, OsPackage)}["libssl3"]
    assert (ssl.version, ssl.location.layer) == ("3.0.20-1~deb12u1", diff_ids[1])
    assert ssl.files == ("usr/lib/x86_64-linux-gnu/libssl.so.3",)  # the list from the lower layer
    assert attributed(result)["NativeLib usr/lib/x86_64-linux-gnu/libssl.so.3"] == ssl.purl
