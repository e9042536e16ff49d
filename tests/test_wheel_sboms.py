"""PEP 770 wheel-embedded SBOMs: read (auditwheel's CycloneDX shape) and merged with what the bytes say."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from builders import EM_X86_64, dist, elf_header, write_zip

from depscan.catalogers.wheel_sboms import (
    WheelSbom,
    WheelSbomCataloger,
    merge,
    parse_wheel_sbom,
    upstream_version,
)
from depscan.models import Evidence, Level, Location, NativeComponent, NativeLib, Status
from depscan.native.policy import RULES
from tests.helpers import make_dist, scan

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "wheel_sboms" / "auditwheel.cdx.json"
SITE = "python/lib/python3.12/site-packages"
PILLOW = make_dist("pillow", "10.0.0", f"{SITE}/pillow-10.0.0.dist-info/METADATA", site_root=SITE)
HOME = PILLOW.metadata_location
SBOM_AT = Location(f"{SITE}/pillow-10.0.0.dist-info/sboms/auditwheel.cdx.json")


def native(name: str, version: str | None, path: str, method: str = "banner", confidence: str = "high",
           owner_location: Location | None = HOME) -> NativeComponent:
    return NativeComponent(
        name=name, version=version, purl=f"pkg:generic/{name}" + (f"@{version}" if version else ""), cpe=None,
        location=Location(path), evidence=(Evidence(method, confidence, "seen"),),  # type: ignore[arg-type]
        owner=PILLOW.purl, owner_location=owner_location,
    )


def file(path: str) -> NativeLib:
    return NativeLib(name=path.rsplit("/", 1)[-1].split("-", 1)[0], kind="shared-library", version=None,
                     location=Location(path), size=10, arch="x86_64", elf_class=64, endianness="little",
                     elf_type="shared-object", purl=None, sha256="ef" * 32, owner=PILLOW.purl, owner_location=HOME)


def test_upstream_version() -> None:
    assert upstream_version("1:1.1.1k-12.el8_9") == "1.1.1k"
    assert upstream_version("3.0.11-1~deb12u2") == "3.0.11"
    assert upstream_version("1.3.1-r0") == "1.3.1"
    assert upstream_version("1:1.2.13.dfsg-1") == "1.2.13"
    assert upstream_version("1.6.40") == "1.6.40" and upstream_version(None) is None


def test_parse_the_auditwheel_shape() -> None:
    libraries = parse_wheel_sbom(FIXTURE.read_bytes())
    assert not isinstance(libraries, str)
    # the wheel itself (pkg:pypi) is not a library
    assert [(x.package, x.library, x.upstream_version) for x in libraries] == [
        ("libwebp", "libwebp", "1.0.0"),
        ("zlib", "zlib", "1.2.11"),
        ("libjpeg-turbo", "libjpeg-turbo", "1.5.3"),
        ("libtiff", "libtiff", "4.0.9"),
        ("libXdmcp", "libXdmcp", "1.1.3"),
    ]
    assert libraries[0].purl == "pkg:rpm/almalinux/libwebp@1.0.0-9.el8_9.1"


def test_parse_refuses_what_it_cannot_read() -> None:
    assert parse_wheel_sbom(b'{"spdxVersion": "SPDX-2.3"}') == "not CycloneDX JSON (no bomFormat CycloneDX)"
    assert parse_wheel_sbom(b"<bom/>").startswith("not CycloneDX JSON")
    assert str(parse_wheel_sbom(b"{nope")).startswith("not valid JSON")
    assert parse_wheel_sbom(b"[" * 100_000 + b"]" * 100_000).startswith("not CycloneDX JSON")
    assert parse_wheel_sbom(b'{"a":' * 100_000 + b"1" + b"}" * 100_000) == "JSON nested too deeply"
    crates = json.dumps({"bomFormat": "CycloneDX", "components": [
        {"name": "serde", "version": "1.0", "purl": "pkg:cargo/serde@1.0"}, "junk", {"version": "1"}]}).encode()
    assert parse_wheel_sbom(crates) == ()


def test_merge_agreements_disagreements_and_additions() -> None:
    libraries = parse_wheel_sbom(FIXTURE.read_bytes())
    assert not isinstance(libraries, str)
    sbom = WheelSbom(SBOM_AT, f"{SITE}/pillow-10.0.0.dist-info", libraries)
    webp = native("libwebp", "1.3.1", f"{SITE}/Pillow.libs/libwebp-74f033ac.so.7.1.7")
    zlib = native("zlib", "1.2.11", f"{SITE}/Pillow.libs/libz-5f6d4a2b.so.1.2.11")
    jpeg = native("libjpeg-turbo", None, f"{SITE}/Pillow.libs/libjpeg-2f7e3c1a.so.62.2.0", "file-name", "low")
    other_owner = native("zlib", "1.2.13", "elsewhere/libz.so.1", owner_location=Location("x/METADATA"))
    tiff_file = file(f"{SITE}/Pillow.libs/libtiff-0a1b2c3d.so.5.3.0")
    merged, findings = merge([PILLOW, webp, zlib, jpeg, other_owner, tiff_file], [sbom])
    by_name = {(c.name, c.location.path): c for c in merged if isinstance(c, NativeComponent)}

    # agreement: evidence added after the stronger banner
    z = by_name[("zlib", zlib.location.path)]
    assert [e.method for e in z.evidence] == ["banner", "wheel-sbom"] and z.disagreements == ()
    assert "lists pkg:rpm/almalinux/zlib@1.2.11-25.el8" in z.evidence[1].detail
    # the bytes gave no version: the SBOM's is taken, its evidence first
    j = by_name[("libjpeg-turbo", jpeg.location.path)]
    assert j.version == "1.5.3" and j.purl == "pkg:rpm/almalinux/libjpeg-turbo@1.5.3-12.el8"  # the package it is
    assert j.cpe == "cpe:2.3:a:libjpeg-turbo:libjpeg-turbo:1.5.3:*:*:*:*:*:*:*"
    assert [(e.method, e.confidence) for e in j.evidence] == [("wheel-sbom", "medium"), ("file-name", "low")]
    # disagreement: kept on the component, and a finding
    w = by_name[("libwebp", webp.location.path)]
    assert w.version == "1.3.1" and len(w.disagreements) == 1
    assert "lists libwebp 1.0.0-9.el8_9.1 (1.0.0 upstream); the bytes say 1.3.1 (banner)" in w.disagreements[0]
    # a library the bytes did not identify, in a file of that name: a component at that file, no finding
    t = by_name[("libtiff", tiff_file.location.path)]
    assert (t.version, t.purl, t.file_sha256) == ("4.0.9", "pkg:rpm/almalinux/libtiff@4.0.9-32.el8_10", "ef" * 32)
    assert [(e.method, e.confidence) for e in t.evidence] == [("wheel-sbom", "medium")] and t.disagreements == ()
    assert (t.owner, t.owner_location, t.status) == (PILLOW.purl, HOME, Status.USED)
    # a library no file holds: a component at the SBOM, with a disagreement and a finding
    x = by_name[("libXdmcp", SBOM_AT.path)]
    assert x.disagreements and "no file of pillow 10.0.0 is that library" in x.disagreements[0]
    # another distribution's zlib is left alone
    assert by_name[("zlib", "elsewhere/libz.so.1")] == other_owner
    assert sorted((f.rule, f.location.path, f.level) for f in findings) == [
        ("sbom-disagreement", webp.location.path, Level.LOW),  # "Pillow.libs" sorts before "pillow-"
        ("sbom-disagreement", SBOM_AT.path, Level.LOW),
    ]
    assert RULES["sbom-disagreement"] is Level.LOW


def test_merge_without_a_matching_distribution_changes_nothing() -> None:
    sbom = WheelSbom(Location("other-1.0.dist-info/sboms/a.cdx.json"), "other-1.0.dist-info", ())
    comps = [PILLOW, native("zlib", "1.2.11", "a/libz.so")]
    assert merge(comps, [sbom]) == (comps, [])


def test_cataloger_wants_only_dist_info_sboms() -> None:
    cataloger = WheelSbomCataloger()
    assert cataloger.wants("x-1.0.dist-info/sboms/auditwheel.cdx.json")
    assert cataloger.wants("opt/python/x-1.0.dist-info/sboms/rust.cyclonedx.json")
    assert not cataloger.wants("x-1.0.dist-info/sboms/deeper/a.json")
    assert not cataloger.wants("project/sboms/a.cdx.json")


def test_scan_merges_a_wheel_sbom(tmp_path: Path) -> None:
    files = dist("pillow", "10.0.0", root=SITE, tags=("cp312-cp312-manylinux_2_28_x86_64",), modules={
        "PIL/__init__.py": b"",
        "pillow.libs/libwebp-74f033ac.so.7.1.7": elf_header(EM_X86_64),
    })
    files[f"{SITE}/pillow-10.0.0.dist-info/sboms/auditwheel.cdx.json"] = FIXTURE.read_bytes()
    files[f"{SITE}/pillow-10.0.0.dist-info/sboms/notes.spdx"] = b"SPDXVersion: SPDX-2.3\n"
    files[f"{SITE}/pillow-10.0.0.dist-info/sboms/broken.cdx.json"] = b"{broken"
    result = scan(write_zip(tmp_path / "layer.zip", files))
    natives = {c.name: c for c in result.components if isinstance(c, NativeComponent)}
    webp = natives["libwebp"]
    assert webp.location.path == f"{SITE}/pillow.libs/libwebp-74f033ac.so.7.1.7"
    # upstream's real-name table says libwebp.so.7.1.7 is 1.3.1 (low confidence); the SBOM's rpm says 1.0.0:
    # the bytes' answer is kept, the SBOM's is a disagreement
    assert webp.version == "1.3.1" and webp.evidence[0].method == "soname"
    assert len(webp.disagreements) == 1 and "the bytes say 1.3.1" in webp.disagreements[0]
    assert "libXdmcp" in natives and natives["libXdmcp"].location.path.endswith("auditwheel.cdx.json")
    assert [u.reason for u in result.unknowns if "broken" in u.location.path] == [
        "wheel SBOM: not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"
    ]
    assert any("notes.spdx: not CycloneDX JSON" in n for n in result.notes)
    assert {f.rule for f in result.policy_findings} == {"sbom-disagreement"}


def test_bom_ref_path_hash_finds_the_exact_file() -> None:
    """auditwheel's bom-ref ends with the SHA-256 of the path the library was copied from
    (``/usr/lib64/libXdmcp.so.6.0.0`` in the fixture): the grafted copy is found by it, whatever the
    package is called, and a package listed once per file is merged once per file."""
    libraries = parse_wheel_sbom(FIXTURE.read_bytes())
    assert not isinstance(libraries, str)
    assert libraries[4].path_sha256 == "9ff39f57ea0ac7bb04bd9800e08992559e6b7e2f7b715df69bacf5c8cf7068ae"
    twice = (*libraries, libraries[4])
    sbom = WheelSbom(SBOM_AT, f"{SITE}/pillow-10.0.0.dist-info", twice)
    xdmcp = file(f"{SITE}/pillow.libs/libXdmcp-aabbccdd.so.6.0.0")
    jpeg_file = file(f"{SITE}/pillow.libs/libjpeg-2f7e3c1a.so.62.2.0")
    # the bytes named this file "libjpeg" (no classifier calls a package "libjpeg"): matched by the path hash
    jpeg = native("libjpeg", None, jpeg_file.location.path, "file-name", "low")
    embedded = native("zlib", "1.2.13", jpeg_file.location.path)
    embedded = replace(embedded, embedded=True)
    merged, findings = merge([PILLOW, xdmcp, jpeg_file, jpeg, embedded], [sbom])
    at = {(c.name, c.location.path): c for c in merged if isinstance(c, NativeComponent)}
    x = at[("libXdmcp", xdmcp.location.path)]
    assert x.version == "1.1.3" and x.disagreements == () and x.purl == "pkg:rpm/almalinux/libXdmcp@1.1.3-1.el8"
    j = at[("libjpeg", jpeg_file.location.path)]
    assert j.version == "1.5.3" and [e.method for e in j.evidence] == ["wheel-sbom", "file-name"]
    assert at[("zlib", jpeg_file.location.path)] == embedded  # what is linked into the file is not the package
    assert [c.name for c in merged if isinstance(c, NativeComponent)].count("libXdmcp") == 1
    assert {f.location.path for f in findings} == {SBOM_AT.path}  # libwebp, libtiff: no file in this distribution


def test_a_generic_entry_matches_a_library_linked_into_a_file() -> None:
    """cryptography 50's sbom.json lists ``pkg:generic/openssl@4.0.3``: OpenSSL linked into _rust.abi3.so."""
    doc = {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [
        {"type": "library", "name": "openssl", "version": "4.0.3",
         "purl": "pkg:generic/openssl@4.0.3?download_url=https://github.com/openssl/openssl/releases/download/"
                 "openssl-4.0.3/openssl-4.0.3.tar.gz"},
        {"type": "library", "name": "libfoo", "version": "1.0", "purl": "pkg:generic/libfoo@1.0"}]}
    libraries = parse_wheel_sbom(json.dumps(doc).encode())
    assert not isinstance(libraries, str) and not libraries[0].provides_a_file
    rust = f"{SITE}/cryptography/hazmat/bindings/_rust.abi3.so"
    linked = replace(native("openssl", "4.0.3", rust), embedded=True)
    merged, findings = merge([PILLOW, linked], [WheelSbom(SBOM_AT, f"{SITE}/pillow-10.0.0.dist-info", libraries)])
    assert findings == []  # agreement; libfoo is not seen in the bytes, which is no contradiction
    (openssl,) = [c for c in merged if isinstance(c, NativeComponent) and c.name == "openssl"]
    assert [e.method for e in openssl.evidence] == ["banner", "wheel-sbom"]
    (foo,) = [c for c in merged if isinstance(c, NativeComponent) and c.name == "libfoo"]
    assert foo.location == SBOM_AT and foo.disagreements == () and foo.version == "1.0"
