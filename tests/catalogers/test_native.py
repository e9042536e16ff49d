"""Native ELF libraries: found by name, confirmed by the ELF magic, header read from 64 bytes, owner and
SHA-256 from RECORD; in zips, plain and compressed tars (streaming), nested wheels and directories."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import pytest
from builders import (
    EM_386,
    EM_AARCH64,
    EM_ARM,
    EM_X86_64,
    ET_EXEC,
    dist,
    elf_header,
    write_tar,
    write_zip,
    write_zst_tar,
    zip_bytes,
)

from depscan.advisories.backend import AdvisoryBackend, LookupResult, PackageQuery
from depscan.artifacts.detect import open_artifact
from depscan.artifacts.limits import Limits
from depscan.artifacts.view import ArtifactView, OpenContext
from depscan.catalogers import Cataloger, CatalogResult, check_order
from depscan.catalogers.native import (
    PREFIX_BYTES,
    NativeLibCataloger,
    is_candidate,
    machine_name,
    parse_header,
    parse_name,
)
from depscan.catalogers.python_dists import PythonDistCataloger
from depscan.errors import MemberError
from depscan.match import match
from depscan.models import NativeLib, PythonDist
from depscan.scan import default_catalogers
from tests.helpers import dists, natives, scan, view_of

GFORTRAN = "numpy.libs/libgfortran-040039e1.so.5.0.0"
EXTENSION = "numpy/core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so"
UNOWNED = "lib/libcustom.so.1"
AARCH64 = "lib/libarm64.so"
NOT_ELF = "lib/notes.so"
TRUNCATED = "lib/libshort.so.2"

# A grafted library large enough that reading all of it would show in the budget (bytes_read): 1 MiB
# that does not compress (the zip bomb guard refuses whole reads of members over 200:1).
BIG_PADDING = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(32 * 1024))


def _numpy() -> dict[str, bytes]:
    modules = {
        "numpy/__init__.py": b'__version__ = "1.26.4"\n',
        EXTENSION: elf_header(padding=b"umath" * 40),
        GFORTRAN: elf_header(padding=BIG_PADDING),
    }
    return dist("numpy", "1.26.4", modules=modules, tags=("cp311-cp311-manylinux_2_17_x86_64",))


def _files() -> dict[str, bytes]:
    return _numpy() | {
        UNOWNED: elf_header(padding=b"custom" * 30),
        AARCH64: elf_header(EM_AARCH64, padding=b"arm" * 30),
        NOT_ELF: b"this is not a shared object, whatever its name says\n",
        TRUNCATED: elf_header()[:40],  # the magic, then the header cut short
    }


def _check(result_natives: dict[str, NativeLib], files: dict[str, bytes], numpy: PythonDist, prefix: str = "") -> None:
    """The libraries of ``_files()`` as every kind of source must report them (paths under ``prefix``)."""
    assert sorted(result_natives) == sorted(prefix + p for p in (AARCH64, UNOWNED, GFORTRAN, EXTENSION))

    gfortran = result_natives[prefix + GFORTRAN]
    assert (gfortran.name, gfortran.version, gfortran.bundled_hash) == ("libgfortran", "5.0.0", "040039e1")
    assert (gfortran.kind, gfortran.purl) == ("shared-library", "pkg:generic/libgfortran@5.0.0")
    assert (gfortran.owner, gfortran.owner_location) == ("pkg:pypi/numpy@1.26.4", numpy.metadata_location)
    assert gfortran.sha256 == hashlib.sha256(files[GFORTRAN]).hexdigest()  # from RECORD, not from the file
    assert gfortran.size == len(files[GFORTRAN])
    assert (gfortran.arch, gfortran.elf_class, gfortran.endianness, gfortran.elf_type) == (
        "x86_64", 64, "little", "shared-object")
    assert gfortran.found_by == "elf" and gfortran.locations == (gfortran.location,)

    extension = result_natives[prefix + EXTENSION]
    assert (extension.name, extension.kind, extension.abi_tag) == (
        "_multiarray_umath", "python-extension", "cpython-311-x86_64-linux-gnu")
    assert (extension.version, extension.purl, extension.owner) == (None, None, "pkg:pypi/numpy@1.26.4")
    assert extension.sha256 == hashlib.sha256(files[EXTENSION]).hexdigest()

    unowned = result_natives[prefix + UNOWNED]
    assert (unowned.name, unowned.version, unowned.purl) == ("libcustom", "1", "pkg:generic/libcustom@1")
    assert (unowned.owner, unowned.owner_location, unowned.sha256) == (None, None, None)

    arm = result_natives[prefix + AARCH64]
    assert (arm.name, arm.version, arm.arch, arm.purl) == ("libarm64", None, "aarch64", "pkg:generic/libarm64")


def _only_truncated_unknown(unknowns: list[tuple[str, str]], path: str) -> None:
    assert unknowns == [(path, "truncated ELF header (40 bytes; an ELFCLASS64 header is 64)")]


# -- every kind of source ------------------------------------------------------------------------


def test_zip(tmp_path: Path) -> None:
    files = _files()
    result = scan(write_zip(tmp_path / "function.zip", files))
    numpy = dists(result)["numpy==1.26.4"]
    _check(natives(result), files, numpy)
    _only_truncated_unknown([(u.location.path, u.reason) for u in result.unknowns], TRUNCATED)
    # Every ELF file is read whole (its structure is parsed): the 1 MiB library costs a megabyte.
    assert result.stats["bytes_read"] >= len(files[GFORTRAN])


@pytest.mark.parametrize("mode", ["w:gz", "w:xz", "w:bz2", "zst"])
def test_compressed_tar_keeps_only_the_header_during_its_single_pass(tmp_path: Path, mode: str) -> None:
    files = _files()
    path = tmp_path / "site.tar"
    if mode == "zst":
        write_zst_tar(path, files)
    else:
        write_tar(path, files, mode=mode)
    result = scan(path)
    _check(natives(result), files, dists(result)["numpy==1.26.4"])
    _only_truncated_unknown([(u.location.path, u.reason) for u in result.unknowns], TRUNCATED)


class _HeaderOnly(NativeLibCataloger):
    """A cataloger that wants only the ELF header of a member, never the whole file."""

    def wants(self, path: str) -> bool:
        return False


def test_compressed_tar_keeps_elf_files_whole_for_their_structure(tmp_path: Path) -> None:
    files = _files()
    path = write_tar(tmp_path / "site.tar.gz", files, mode="w:gz")
    with _view_for(path, PythonDistCataloger(), NativeLibCataloger()) as view:
        assert view.read(GFORTRAN) == files[GFORTRAN]
    assert natives(scan(path))[GFORTRAN].found_by == "elf"


def test_streamed_prefix_only_members_refuse_a_whole_read(tmp_path: Path) -> None:
    path = write_tar(tmp_path / "site.tar.gz", _files(), mode="w:gz")
    with _view_for(path, PythonDistCataloger(), _HeaderOnly()) as view:
        assert view.read_prefix(GFORTRAN, PREFIX_BYTES) == _files()[GFORTRAN][:PREFIX_BYTES]
        with pytest.raises(MemberError, match="only the first 64 bytes were kept during the streaming pass"):
            view.read(GFORTRAN)
        with pytest.raises(MemberError, match="only the first 64 bytes"):
            view.read_prefix(GFORTRAN, 65)
        # A member shorter than the prefix is kept whole, so it reads whole.
        assert view.read(TRUNCATED) == _files()[TRUNCATED]
        # A name no cataloger wants is not kept at all.
        with pytest.raises(MemberError, match="not kept"):
            view.read("numpy/__init__.py")


def _view_for(path: Path, *catalogers: Cataloger) -> ArtifactView:
    """A view opened with what the catalogers want kept (as ``scan.run`` opens it)."""
    ctx = OpenContext(
        Limits(),
        wants=lambda p: any(c.wants(p) for c in catalogers),
        wants_prefix=lambda p: max(c.wants_prefix(p) for c in catalogers),
    )
    return open_artifact(str(path), ctx)


def test_plain_tar_reads_members_at_random(tmp_path: Path) -> None:
    files = _files()
    result = scan(write_tar(tmp_path / "site.tar", files))
    _check(natives(result), files, dists(result)["numpy==1.26.4"])


def test_nested_wheel(tmp_path: Path) -> None:
    wheel = _numpy()
    bundle = {"numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl": zip_bytes(wheel)} | {
        k: v for k, v in _files().items() if k not in wheel
    }
    result = scan(write_zip(tmp_path / "bundle.zip", bundle))
    numpy = dists(result)["numpy==1.26.4"]
    assert numpy.metadata_location.path.startswith("numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl!/")
    found = natives(result)
    whl = "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl!/"
    assert found[whl + GFORTRAN].owner_location == numpy.metadata_location
    assert found[whl + GFORTRAN].sha256 == hashlib.sha256(wheel[GFORTRAN]).hexdigest()
    assert found[whl + EXTENSION].owner == "pkg:pypi/numpy@1.26.4"
    assert found[UNOWNED].owner is None
    _only_truncated_unknown([(u.location.path, u.reason) for u in result.unknowns], TRUNCATED)


def test_directory(tmp_path: Path) -> None:
    files = _files()
    root = tmp_path / "site"
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "lib" / "libcustom.so").symlink_to("libcustom.so.1")  # a link is not a second library
    result = scan(root)
    _check(natives(result), files, dists(result)["numpy==1.26.4"])
    _only_truncated_unknown([(u.location.path, u.reason) for u in result.unknowns], TRUNCATED)


def test_lambda_layers_carry_their_layer(tmp_path: Path) -> None:
    function = write_zip(tmp_path / "function.zip", {"lib/libpq.so.5": elf_header()})
    layer = write_zip(tmp_path / "layer.zip", dist("numpy", "1.26.4", root="python", modules={
        "numpy/__init__.py": b"", GFORTRAN: elf_header()}))
    found = natives(scan(function, layer))
    libpq = found["function.zip:var/task/lib/libpq.so.5"]
    assert (libpq.name, libpq.version, libpq.owner) == ("libpq", "5", None)
    gfortran = found[f"layer.zip:opt/python/{GFORTRAN}"]
    assert gfortran.owner == "pkg:pypi/numpy@1.26.4"
    assert gfortran.owner_location is not None and gfortran.owner_location.layer == "layer.zip"


@pytest.mark.parametrize(("fmt", "outer"), [("docker", ""), ("docker", "gzip"), ("oci-gzip-layers", "")])
def test_container_image_libraries_carry_their_layer(tmp_path: Path, fmt: str, outer: str) -> None:
    """Layers streamed inside a compressed outer tar, gzip layers in a plain one, plain layers: all keep
    64 bytes of each candidate and report the library with the layer it came from."""
    from tests.artifacts.test_image import docker_legacy, oci_single, tar_bytes, write_tar_file

    site = "usr/local/lib/python3.12/site-packages"
    base = tar_bytes({"usr/lib/x86_64-linux-gnu/libssl.so.3": elf_header(padding=BIG_PADDING)})
    app = tar_bytes({f"{site}/{k}": v for k, v in _numpy().items()})
    if fmt == "docker":
        members, diff_ids = docker_legacy([base, app])
        path = write_tar_file(tmp_path / "image.tar", dict(members), outer)
    else:
        files, diff_ids = oci_single([base, app], "gzip")
        path = write_tar_file(tmp_path / "image.tar", dict(files))
    result = scan(path)
    found = natives(result)
    libssl = found[f"{diff_ids[0]}:usr/lib/x86_64-linux-gnu/libssl.so.3"]
    assert (libssl.name, libssl.version, libssl.owner, libssl.size) == ("libssl", "3", None, 64 + len(BIG_PADDING))
    gfortran = found[f"{diff_ids[1]}:{site}/{GFORTRAN}"]
    assert gfortran.owner == "pkg:pypi/numpy@1.26.4" and gfortran.sha256 is not None
    assert not result.unknowns


# -- header and name parsing ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (elf_header(EM_X86_64), ("x86_64", 64, "little", "shared-object")),
        (elf_header(EM_AARCH64), ("aarch64", 64, "little", "shared-object")),
        (elf_header(EM_386, elf_class=1), ("i386", 32, "little", "shared-object")),
        (elf_header(EM_ARM, elf_class=1), ("arm", 32, "little", "shared-object")),
        (elf_header(21), ("ppc64le", 64, "little", "shared-object")),  # EM_PPC64
        (elf_header(21, little=False), ("ppc64", 64, "big", "shared-object")),
        (elf_header(22, little=False), ("s390x", 64, "big", "shared-object")),  # EM_S390
        (elf_header(243), ("riscv64", 64, "little", "shared-object")),  # EM_RISCV
        (elf_header(EM_X86_64, etype=ET_EXEC), ("x86_64", 64, "little", "executable")),
        (elf_header(0xBEEF), ("unknown", 64, "little", "shared-object")),
        (elf_header(EM_X86_64, etype=0xFE00), ("x86_64", 64, "little", "unknown (0xfe00)")),
    ],
)
def test_parse_header(header: bytes, expected: tuple[str, int, str, str]) -> None:
    parsed = parse_header(header[:PREFIX_BYTES])
    assert not isinstance(parsed, str)
    assert (parsed.arch, parsed.elf_class, parsed.endianness, parsed.elf_type) == expected


def test_a_32_bit_header_needs_only_52_bytes() -> None:
    assert not isinstance(parse_header(elf_header(EM_386, elf_class=1, padding=b"")), str)
    assert parse_header(elf_header(EM_386, elf_class=1)[:51]) == (
        "truncated ELF header (51 bytes; an ELFCLASS32 header is 52)")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x7fELF", "truncated ELF header (4 bytes)"),
        (b"\x7fELF\x03\x01\x01" + b"\x00" * 57, "invalid ELF class 3 (EI_CLASS must be 1 or 2)"),
        (b"\x7fELF\x02\x00\x01" + b"\x00" * 57, "invalid ELF data encoding 0 (EI_DATA must be 1 or 2)"),
        (b"\x7fELF\x02\x01\x02" + b"\x00" * 57, "unsupported ELF version 2 (EI_VERSION must be 1)"),
    ],
)
def test_broken_headers_say_why(data: bytes, reason: str) -> None:
    assert parse_header(data) == reason


def test_machine_names_follow_class_and_byte_order() -> None:
    assert machine_name(8, 32, little=True) == "mipsel"
    assert machine_name(8, 64, little=False) == "mips64"
    assert machine_name(22, 32, little=False) == "s390"
    assert machine_name(EM_X86_64, 32, little=True) == "x32"
    assert machine_name(EM_AARCH64, 64, little=False) == "aarch64_be"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # auditwheel's grafted copies, in *.libs only
        (GFORTRAN, ("libgfortran", "shared-library", "5.0.0", "040039e1", None)),
        ("numpy.libs/libgfortran-040039e1-0352e75f.so.5.0.0", ("libgfortran", "shared-library", "5.0.0",
                                                               "0352e75f", None)),  # grafted twice (numpy 2.2)
        ("numpy.libs/libscipy_openblas64_-56d6093b.so", ("libscipy_openblas64_", "shared-library", None,
                                                         "56d6093b", None)),
        ("psycopg2_binary.libs/libpq-a17e3caa.so.5.17", ("libpq", "shared-library", "5.17", "a17e3caa", None)),
        ("pkg/libfoo-deadbeef.so.1", ("libfoo-deadbeef", "shared-library", "1", None, None)),  # not in *.libs
        # plain libraries: the version is the numeric suffix after .so, or nothing
        ("lib/libfoo.so.1.2", ("libfoo", "shared-library", "1.2", None, None)),
        ("lib/libfoo.so", ("libfoo", "shared-library", None, None, None)),
        ("lib/libpython3.11.so.1.0", ("libpython3.11", "shared-library", "1.0", None, None)),
        ("lib/libfoo.so.1.2.debug", ("libfoo", "shared-library", None, None, None)),
        ("lib/libstdc++.so.6.0.30", ("libstdc++", "shared-library", "6.0.30", None, None)),
        # extension modules
        (EXTENSION, ("_multiarray_umath", "python-extension", None, None, "cpython-311-x86_64-linux-gnu")),
        ("cryptography/hazmat/bindings/_rust.abi3.so", ("_rust", "python-extension", None, None, "abi3")),
        ("650fdafa2468af73c11f__mypyc.cpython-311-x86_64-linux-gnu.so",
         ("650fdafa2468af73c11f__mypyc", "python-extension", None, None, "cpython-311-x86_64-linux-gnu")),
        ("_cffi_backend.pypy310-pp73-x86_64-linux-gnu.so",
         ("_cffi_backend", "python-extension", None, None, "pypy310-pp73-x86_64-linux-gnu")),
    ],
)
def test_parse_name(path: str, expected: tuple[str, str, str | None, str | None, str | None]) -> None:
    assert tuple(parse_name(path)) == expected


@pytest.mark.parametrize(
    ("path", "candidate"),
    [
        ("a/libfoo.so", True),
        ("a/libfoo.so.1", True),
        ("numpy.libs/libgfortran-040039e1.so.5.0.0", True),
        ("pkg.libs/anything", True),  # auditwheel's directory: confirmed by magic
        ("a.whl!/pkg.libs/x", True),
        ("a/libfoo.sop", False),
        ("a/so/readme.txt", False),
        ("pkg/__init__.py", False),
    ],
)
def test_candidates_by_name(path: str, candidate: bool) -> None:
    assert is_candidate(path) is candidate


# -- the seams -----------------------------------------------------------------------------------


def test_a_record_row_whose_size_disagrees_names_the_owner_but_gives_no_hash(tmp_path: Path) -> None:
    files = _numpy()
    # Patched after installation: RECORD still names the owner, but its hash is not this file's.
    files[GFORTRAN] = files[GFORTRAN] + b"patched"
    found = natives(scan(write_zip(tmp_path / "a.zip", files)))
    assert found[GFORTRAN].owner == "pkg:pypi/numpy@1.26.4" and found[GFORTRAN].sha256 is None
    assert found[EXTENSION].sha256 == hashlib.sha256(files[EXTENSION]).hexdigest()


def test_a_record_with_another_algorithm_names_the_owner_only(tmp_path: Path) -> None:
    files = _numpy()
    record = "numpy-1.26.4.dist-info/RECORD"
    files[record] = files[record].replace(b"sha256=", b"sha512=")  # PEP 376 allows any hashlib algorithm
    found = natives(scan(write_zip(tmp_path / "a.zip", files)))
    assert found[GFORTRAN].owner == "pkg:pypi/numpy@1.26.4" and found[GFORTRAN].sha256 is None


def test_without_the_python_cataloger_nothing_is_owned(tmp_path: Path) -> None:
    view = view_of(write_zip(tmp_path / "a.zip", _files()))
    with view:
        result: CatalogResult = NativeLibCataloger().catalog(view)
    libs = [c for c in result.components if isinstance(c, NativeLib)]
    assert len(libs) == 4 and all(lib.owner is None and lib.sha256 is None for lib in libs)


def test_catalogers_run_in_an_order_that_honours_needs() -> None:
    check_order(default_catalogers())
    assert [c.name for c in default_catalogers()] == ["python-dists", "os-packages", "vendored-code", "native-libs",
                                                         "wheel-sboms"]
    with pytest.raises(ValueError, match="cataloger 'native-libs' needs python-dists to run before it"):
        check_order([NativeLibCataloger(), PythonDistCataloger()])


class _Recording(AdvisoryBackend):
    """Answers "nothing affects it" and remembers what it was asked."""

    name = "recording"

    def __init__(self) -> None:
        self.asked: list[PackageQuery] = []

    def lookup(self, queries: Sequence[PackageQuery]) -> LookupResult:
        self.asked.extend(queries)
        return LookupResult(affected={q: [] for q in queries})


def test_native_libraries_are_never_matched_against_advisories(tmp_path: Path) -> None:
    result = scan(write_zip(tmp_path / "a.zip", _files()))
    backend = _Recording()
    matched = match(result.components, backend)
    assert backend.asked == [PackageQuery("PyPI", "numpy", "1.26.4")]
    assert matched.unchecked == {} and matched.findings == []  # the libraries are neither checked nor unchecked


def test_prefix_reads_decompress_only_the_prefix(tmp_path: Path) -> None:
    """A zip member of a megabyte: ``read_prefix`` charges the budget with 64 bytes, ``read`` with all."""
    path = write_zip(tmp_path / "a.zip", {"big.so": elf_header(padding=BIG_PADDING)})
    ctx = OpenContext(Limits())
    with open_artifact(str(path), ctx) as view:
        assert view.read_prefix("big.so", 64) == elf_header()[:64]
        assert ctx.charge.bytes_read == 64
        assert len(view.read("big.so")) == 64 + len(BIG_PADDING)



def test_a_highly_compressed_library_is_still_inventoried_from_its_header(tmp_path: Path) -> None:
    """Deflate: the prefix read inflates 64 bytes whatever the ratio; a whole read is refused as a zip bomb,
    so the library is reported from its header, with an Unknown saying why its structure is missing."""
    path = write_zip(tmp_path / "a.zip", {"lib/libzeros.so.1": elf_header(padding=b"\x00" * (8 * 1024 * 1024))})
    result = scan(path)
    lib = natives(result)["lib/libzeros.so.1"]
    assert lib.size == 64 + 8 * 1024 * 1024 and (lib.found_by, lib.elf) == ("elf-header", None)
    (unknown,) = result.unknowns
    assert unknown.location.path == "lib/libzeros.so.1"
    assert unknown.reason.startswith("ELF structure not read:") and "zip bomb" in unknown.reason
    with view_of(path) as view, pytest.raises(MemberError, match="zip bomb"):
        view.read("lib/libzeros.so.1")


def test_bzip2_members_keep_the_ratio_guard_for_prefix_reads(tmp_path: Path) -> None:
    """zipfile inflates a bzip2 chunk whole, so a prefix read of one is guarded like a whole read."""
    import zipfile

    path = write_zip(tmp_path / "a.zip", {"lib/libzeros.so.1": elf_header(padding=b"\x00" * (8 * 1024 * 1024)),
                                          "lib/libok.so.1": elf_header(padding=b"ok")},
                     compression=zipfile.ZIP_BZIP2)
    result = scan(path)
    assert list(natives(result)) == ["lib/libok.so.1"]
    (unknown,) = result.unknowns
    assert unknown.location.path == "lib/libzeros.so.1" and "zip bomb" in unknown.reason


def test_a_file_two_records_list_gets_one_owner_deterministically(tmp_path: Path) -> None:
    shared = {"common.libs/libz-1a2b3c4d.so.1.3": elf_header(padding=b"zlib" * 10)}
    files = dist("beta", "2.0", modules=shared) | dist("alpha", "1.0", modules=shared)
    (lib,) = natives(scan(write_zip(tmp_path / "a.zip", files))).values()
    assert (lib.name, lib.version, lib.bundled_hash) == ("libz", "1.3", "1a2b3c4d")
    assert lib.owner == "pkg:pypi/alpha@1.0"  # the same layer and status: the first METADATA path wins
