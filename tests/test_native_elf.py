"""ELF structure (depscan.native.elf) and the native cataloger's use of it, on tiny libraries compiled with ``cc``."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from depscan.models import NativeComponent
from depscan.native import elf
from fixtures.builders import dist, write_zip
from tests.helpers import natives, scan

CC = shutil.which("cc") or shutil.which("gcc")
needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler (cc/gcc) to build the test libraries")

SOURCE = r"""
#include <string.h>
int foo_version(void) { return 1; }
void *foo_copy(void *d, const void *s, size_t n) { return memcpy(d, s, n); }
"""
VERSION_SCRIPT = "FOO_1.0 { global: foo_version; local: *; };\nFOO_2.0 { global: foo_copy; } FOO_1.0;\n"


def _compile(tmp_path: Path, *extra: str, soname: str = "libfoo.so.1") -> bytes:
    assert CC is not None
    (tmp_path / "foo.c").write_text(SOURCE)
    (tmp_path / "foo.map").write_text(VERSION_SCRIPT)
    out = tmp_path / "libfoo.so.1.2"
    cmd = [CC, "-shared", "-fPIC", "-o", str(out), str(tmp_path / "foo.c"), f"-Wl,-soname,{soname}",
           "-Wl,--build-id=sha1", f"-Wl,--version-script={tmp_path / 'foo.map'}", *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cc could not build the test library: {proc.stderr.strip()[:200]}")
    return out.read_bytes()


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    if CC is None:
        pytest.skip("no C compiler (cc/gcc) to build the test libraries")
    tmp = tmp_path_factory.mktemp("elf lib")  # a space in the path on purpose
    return _compile(tmp, "-Wl,-rpath,$ORIGIN/../lib:/opt/foo", "-Wl,--enable-new-dtags",
                    "-Wl,--no-as-needed", "-lm")


@needs_cc
def test_facts_of_a_compiled_library(library: bytes) -> None:
    _, facts = elf.parse(library)
    assert facts.sha256 == hashlib.sha256(library).hexdigest()
    assert facts.soname == "libfoo.so.1"
    assert "libm.so.6" in facts.needed and "libc.so.6" in facts.needed
    assert facts.runpath == ("$ORIGIN/../lib", "/opt/foo") and facts.rpath == ()
    assert facts.build_id is not None and len(facts.build_id) == 40  # sha1, hex
    int(facts.build_id, 16)
    assert facts.version_definitions == ("FOO_1.0", "FOO_2.0")
    needs = dict(facts.version_needs)
    assert "GLIBC_2.2.5" in needs["libc.so.6"] or "GLIBC_2.17" in needs["libc.so.6"]
    # memcpy is versioned GLIBC_2.14 on x86_64; min_glibc is the numerically highest need of any file.
    glibc = [n.removeprefix("GLIBC_") for names in needs.values() for n in names if n.startswith("GLIBC_")]
    assert facts.min_glibc == max(glibc, key=elf.glibc_key)
    assert facts.stripped is False and facts.interpreter is None


@needs_cc
def test_rpath_without_new_dtags_and_a_stripped_file(tmp_path: Path) -> None:
    assert CC is not None
    data = _compile(tmp_path, "-Wl,-rpath,/a:/b", "-Wl,--disable-new-dtags", "-s")
    _, facts = elf.parse(data)
    assert facts.rpath == ("/a", "/b") and facts.runpath == ()
    assert facts.stripped is True


def test_min_glibc_compares_numerically() -> None:
    needs = (("libc.so.6", ("GLIBC_2.2.5", "GLIBC_2.17", "GLIBC_PRIVATE")), ("libm.so.6", ("GLIBC_2.9",)))
    assert elf.min_glibc(needs) == "2.17"
    assert elf.min_glibc((("libc.so.6", ("GLIBC_2.3.4", "GLIBC_2.3")),)) == "2.3.4"
    assert elf.min_glibc((("libz.so.1", ("ZLIB_1.2.9",)),)) is None


@needs_cc
@pytest.mark.parametrize("cut", [100, 2000, -40])
def test_a_truncated_library_is_a_reason_not_a_crash(library: bytes, cut: int) -> None:
    with pytest.raises(elf.ElfParseError, match="corrupt ELF file"):
        elf.parse(library[:cut])


@needs_cc
def test_a_forged_section_count_is_refused(library: bytes) -> None:
    data = bytearray(library)
    data[0x3C:0x3E] = (60000).to_bytes(2, "little")  # e_shnum of an Elf64_Ehdr
    with pytest.raises(elf.ElfParseError):
        elf.parse(bytes(data))


@needs_cc
def test_the_cataloger_parses_whole_files_and_identifies_them(library: bytes, tmp_path: Path) -> None:
    grafted = "foo.libs/libfoo-0a1b2c3d.so.1.2"
    corrupt = "foo.libs/libbar-11223344.so.3"
    files = dist("foo", "1.0", modules={grafted: library, corrupt: library[:3000], "foo/__init__.py": b""})
    files["lib/mystery"] = library  # no library name: found by its magic
    files["lib/not-elf.py"] = library  # a deny-listed name: never checked
    files["other.libs/renamed.bin"] = library  # a candidate whose file name is not a library name
    result = scan(write_zip(tmp_path / "function.zip", files))

    libs = natives(result)
    assert libs["lib/mystery"].found_by == "elf" and libs["lib/mystery"].owner is None
    assert "lib/not-elf.py" not in libs
    lib = libs[grafted]
    assert lib.found_by == "elf" and lib.elf is not None
    assert lib.elf.soname == "libfoo.so.1" and lib.elf.sha256 == hashlib.sha256(library).hexdigest()
    assert libs[corrupt].found_by == "elf-header" and libs[corrupt].elf is None
    (unknown,) = [u for u in result.unknowns if u.location.path == corrupt]
    assert unknown.reason.startswith(f"{corrupt}: corrupt ELF file") and "\n" not in unknown.reason

    components = {(c.location.path, c.name): c for c in result.components if isinstance(c, NativeComponent)}
    foo = components[(grafted, "libfoo")]  # auditwheel's renaming undone
    assert foo.owner == "pkg:pypi/foo@1.0" and foo.owner_location == lib.owner_location
    assert foo.file_sha256 == lib.elf.sha256 and foo.status is lib_status(result, "foo")
    # The file name says nothing; the SONAME gives the name.
    assert (("other.libs/renamed.bin", "libfoo")) in components
    assert not any(path == corrupt for path, _ in components)


def lib_status(result: object, name: str) -> object:
    from depscan.models import PythonDist, ScanResult

    assert isinstance(result, ScanResult)
    (owner,) = [c for c in result.components if isinstance(c, PythonDist) and c.name == name]
    return owner.status


@needs_cc
def test_elf_files_are_found_by_magic_in_a_streamed_tar(library: bytes, tmp_path: Path) -> None:
    """A compressed tar is read in one pass: a member named like nothing is kept whole once its first
    bytes show the ELF magic (and a text file with a library's name is still not an ELF file)."""
    from fixtures.builders import write_tar

    files = {
        "usr/bin/tool": library,
        "opt/app/plugin.bin": library,
        "usr/lib/libfake.so.1": b"INPUT(-lfoo)\n",  # a linker script named like a library
        "usr/share/doc/readme.txt": b"\x7fELF but deny-listed by its suffix",
        "etc/data": b"plain data",
    }
    result = scan(write_tar(tmp_path / "root fs.tar.gz", files, mode="w:gz"))
    libs = natives(result)
    assert set(libs) == {"usr/bin/tool", "opt/app/plugin.bin"}
    for lib in libs.values():
        assert lib.found_by == "elf" and lib.elf is not None and lib.elf.soname == "libfoo.so.1"
        assert lib.elf.sha256 == hashlib.sha256(library).hexdigest()
    assert not result.unknowns


def test_the_deny_list() -> None:
    from depscan.catalogers.native import may_be_elf

    for name in ("pkg/mod.py", "pkg/mod.cpython-311.pyc", "a/b.PYI", "x.dist-info/RECORD", "x.dist-info/METADATA",
                 "pkg/LICENSE.txt", "pkg/LICENSE", "include/foo.h", "data/archive.tar.gz", "README.md",
                 "tzdata/zoneinfo/Europe/Paris", "pytz/zoneinfo/GMT+0"):
        assert not may_be_elf(name), name
    for name in ("pkg/_x.cpython-311-x86_64-linux-gnu.so", "usr/bin/python3.11", "lib/libz.so.1.2.13",
                 "pkg/helper.exe", "pkg/data.bin", "noext", "pkg/mod.py.so", "tool.PY2", "zoneinfo_x/lib.bin"):
        assert may_be_elf(name), name
