"""Advisory matching for native libraries (GIT ranges and tags) and OS packages (distribution
ecosystems), not-verifiable components, and the link between a PyPI advisory and the bundled
library it covers. Records: fixtures/advisories/native (hand-written, shaped like real ones)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from depscan.advisories.backend import PackageQuery
from depscan.advisories.distro_versions import apk_compare, dpkg_compare, rpm_compare, rpmvercmp
from depscan.advisories.git_tags import normalize_tag, release_key
from depscan.advisories.native_repos import normalize_repo_url, tag_spellings
from depscan.advisories.osv_db import OfflineDatabase, import_sources
from depscan.match import match
from depscan.models import Evidence, Location, NativeComponent, OsPackage, PythonDist

RECORDS = Path(__file__).resolve().parent.parent / "fixtures" / "advisories" / "native"


# -- distribution version order -------------------------------------------------------------------


def _sorted_by(compare, versions):  # type: ignore[no-untyped-def]
    from functools import cmp_to_key

    return sorted(versions, key=cmp_to_key(compare))


def test_dpkg_order_follows_deb_version_examples() -> None:
    # deb-version(7): "~" sorts before everything, even the end of the part.
    assert dpkg_compare("1.0~rc1", "1.0") < 0
    assert dpkg_compare("1.0~~", "1.0~") < 0
    assert dpkg_compare("1.0~", "1.0") < 0
    assert dpkg_compare("1.0", "1.0+b1") < 0
    # the epoch first (deb-version-compare's documented examples)
    assert dpkg_compare("2:1.0.0", "1:2.0.0") > 0
    assert dpkg_compare("1.0.0", "1.0.1") < 0
    assert dpkg_compare("0:1.0", "1.0") == 0
    # letters before non-letters; digit runs as numbers
    assert dpkg_compare("1.0a", "1.0+") < 0
    assert dpkg_compare("1.10", "1.9") > 0
    assert dpkg_compare("3.0.11-1~deb12u1", "3.0.11-1~deb12u2") < 0
    assert dpkg_compare("3.0.11-1~deb12u2", "3.0.11-1") < 0
    # dpkg-sort-versions' README: its example input as dpkg --compare-versions sorts it
    order = ["0:0", "0.1.1-2022", "1.0", "2.1~bugfix-foo", "2.1", "2.1-bugfix-foo", "2.2~pre01", "2.2", "3",
             "2022-01~foo", "2022-01.1~pre03", "2024-1.0", "1:0.0.1-2022", "1:2.0"]
    assert _sorted_by(dpkg_compare, list(reversed(order))) == order


def test_rpmvercmp_follows_rpm_examples() -> None:
    # rpm's tests/rpmvercmp.at
    assert rpmvercmp("1.0", "1.0") == 0
    assert rpmvercmp("1.0", "2.0") == -1
    assert rpmvercmp("2.0.1", "2.0") == 1
    assert rpmvercmp("2.0.1a", "2.0.1") == 1
    assert rpmvercmp("5.5p1", "5.5p10") == -1
    assert rpmvercmp("10xyz", "10.1xyz") == -1
    assert rpmvercmp("xyz10.1", "xyz10") == 1
    assert rpmvercmp("2_0", "2.0") == 0  # separators do not matter
    assert rpmvercmp("1.0~rc1", "1.0") == -1
    assert rpmvercmp("1.0~rc1~git123", "1.0~rc1") == -1
    assert rpmvercmp("1.0^", "1.0") == 1
    assert rpmvercmp("1.0^git1", "1.0^git2") == -1
    assert rpmvercmp("1.0^git1", "1.01") == -1
    assert rpmvercmp("1.0^20160101", "1.0.1") == -1
    assert rpmvercmp("1.0~rc1^git1", "1.0~rc1") == 1
    # epoch and release
    assert rpm_compare("1:3.0.8-1.amzn2023.0.1", "1:3.0.8-1.amzn2023.0.2") < 0
    assert rpm_compare("3.0.9-1", "1:3.0.8-1") < 0
    assert rpm_compare("1.1.1k-7.el8_6", "1.1.1k-12.el8_9") < 0


def test_apk_order_follows_apk_version_rules() -> None:
    order = ["1.0_alpha1", "1.0_beta1", "1.0_pre1", "1.0_rc1", "1.0", "1.0-r1", "1.0_p1", "1.0a", "1.0.1", "1.2",
             "1.10"]
    assert _sorted_by(apk_compare, list(reversed(order))) == order
    assert apk_compare("3.1.4-r0", "3.1.4-r1") < 0
    assert apk_compare("3.1.4-r1", "3.1.4-r1") == 0


# -- tags and repositories ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "release"),
    [
        ("OpenSSL_1_1_1k", "1.1.1k"),
        ("openssl-3.0.7", "3.0.7"),
        ("OpenSSL_1_0_2zc", "1.0.2zc"),
        ("v1.3.1", "1.3.1"),
        ("curl-7_88_1", "7.88.1"),
        ("version-3.39.4", "3.39.4"),
        ("R_2_4_8", "2.4.8"),
        ("VER-2-12-0", "2.12.0"),
        ("2.1.0", "2.1.0"),
        ("refs/tags/v1.2.11", "1.2.11"),
        ("v1.3.1-rc1", "1.3.1-rc1"),
        ("OpenSSL-fips-2_0_16", None),
        ("master", None),
        ("OpenSSL_1_1_1-pre1", "1.1.1-pre1"),
    ],
)
def test_tag_normalizer(tag: str, release: str | None) -> None:
    assert normalize_tag(tag) == release


def test_letter_suffixes_are_kept_and_ordered() -> None:
    assert normalize_tag("OpenSSL_1_1_1k") != normalize_tag("OpenSSL_1_1_1w")
    k, w, plain, za = (release_key(v) for v in ("1.1.1k", "1.1.1w", "1.1.1", "1.0.2za"))
    assert plain is not None and k is not None and w is not None and za is not None
    assert plain < k < w
    assert za < plain
    assert release_key("1.3.1-rc1") is None


def test_repository_urls_are_normalized() -> None:
    same = {
        normalize_repo_url(u)
        for u in ("https://github.com/openssl/openssl", "http://GitHub.com/openssl/openssl.git",
                  "https://github.com/openssl/openssl/", "git://github.com/openssl/openssl.git/")
    }
    assert same == {"github.com/openssl/openssl"}
    assert normalize_repo_url("https://gitlab.gnome.org/GNOME/libxml2") == "gitlab.gnome.org/GNOME/libxml2"
    assert tag_spellings("openssl", "1.1.1k") == ("OpenSSL_1_1_1k", "openssl-1.1.1k")
    assert tag_spellings("freetype", "2.12.0") == ("VER-2-12-0",)


# -- matching through the offline database -------------------------------------------------------


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("db with space") / "osv.sqlite"
    (report,) = import_sources(db, [RECORDS])
    assert report.skipped == 0, report.problems
    return db


def native(name: str, version: str | None, path: str = "x/lib.so", **kw: object) -> NativeComponent:
    purl = f"pkg:generic/{name}" + (f"@{version}" if version else "")
    return NativeComponent(
        name=name, version=version, purl=purl, cpe=None, location=Location(path),
        evidence=(Evidence("banner", "high", "test"),), **kw,  # type: ignore[arg-type]
    )


def ospkg(name: str, version: str, ecosystem: str | None, manager: str = "dpkg", **kw: object) -> OsPackage:
    return OsPackage(
        name=name, version=version, purl=f"pkg:x/{name}@{version}", package_manager=manager,  # type: ignore[arg-type]
        location=Location("var/lib/dpkg/status"), ecosystem=ecosystem, **kw,  # type: ignore[arg-type]
    )


def test_import_indexes_every_ecosystem_by_release_and_repository(database: Path) -> None:
    with sqlite3.connect(database) as conn:
        keys = set(conn.execute("SELECT ecosystem, name FROM packages").fetchall())
    assert ("GIT", "chromium.googlesource.com/webm/libwebp") in keys
    assert ("GIT", "github.com/openssl/openssl") in keys
    assert ("GIT", "github.com/curl/curl") in keys
    assert ("GIT", "github.com/madler/zlib") in keys  # trailing "/" normalized
    assert ("Debian:12", "openssl") in keys and ("Debian:10", "openssl") in keys
    assert ("Alpine:v3.19", "openssl") in keys
    assert ("Amazon Linux:2023", "openssl-libs") in keys
    assert ("PyPI", "pillow") in keys


def _match(database: Path, components: list[object]):  # type: ignore[no-untyped-def]
    backend = OfflineDatabase(database)
    try:
        return match(components, backend)  # type: ignore[arg-type]
    finally:
        backend.close()


def test_libwebp_131_is_affected_by_cve_2023_4863_and_132_is_not(database: Path) -> None:
    result = _match(database, [native("libwebp", "1.3.1"), native("libwebp", "1.3.2", "y/libwebp.so")])
    assert [(f.component.version, f.id) for f in result.findings] == [("1.3.1", "CVE-2023-4863")]
    finding = result.findings[0]
    assert finding.level.value == "high" and finding.score == 8.8
    assert finding.fix is None  # fixed by a commit: no tag to advise
    assert result.not_verifiable == [] and result.unchecked == {}


def test_openssl_letter_versions_match_exactly(database: Path) -> None:
    result = _match(database, [native("openssl", "1.1.1k"), native("openssl", "1.1.1n", "b.so"),
                               native("openssl", "3.0.1", "c.so")])
    found = {(f.component.version, f.id) for f in result.findings}
    # 1.1.1k: CVE-2022-0778 (listed tag) and OSV-TAGS-1 (tag range OpenSSL_1_1_1 .. OpenSSL_1_1_1l)
    assert found == {("1.1.1k", "CVE-2022-0778"), ("1.1.1k", "OSV-TAGS-1"), ("3.0.1", "CVE-2022-0778")}
    tags_finding = next(f for f in result.findings if f.id == "OSV-TAGS-1")
    assert tags_finding.fix == "1.1.1l" and tags_finding.fixed_versions == ("1.1.1l",)


def test_curl_semver_range_and_plain_versions(database: Path) -> None:
    result = _match(database, [native("curl", "8.3.0"), native("curl", "7.75.0", "b.so"),
                               native("curl", "8.4.0", "c.so")])
    found = {(f.component.version, f.id, f.fix) for f in result.findings}
    assert found == {("8.3.0", "CURL-CVE-2023-38545", "8.4.0"), ("7.75.0", "CURL-CVE-2023-38545", "8.4.0")}


def test_commit_only_ranges_are_not_verifiable(database: Path) -> None:
    result = _match(database, [native("zlib", "1.2.11", "z/libz.so.1")])
    assert result.findings == []
    ((purl, why),) = result.not_verifiable
    assert purl == "pkg:generic/zlib@1.2.11"
    assert "OSV-2022-0001" in why and "commits only" in why and "z/libz.so.1" in why


def test_components_that_cannot_be_matched_say_why(database: Path) -> None:
    result = _match(database, [
        native("libwebp", None, "p/libwebp.so"),
        native("libffi", "3.4.4", "n/libffi.so.8"),
        ospkg("openssl", "3.0.11-1~deb12u1", None),
    ])
    reasons = dict(result.not_verifiable)
    assert "version unknown" in reasons["pkg:generic/libwebp"]
    assert "no GIT-range advisory source for libffi" in reasons["pkg:generic/libffi@3.4.4"]
    assert "release is unknown" in reasons["pkg:x/openssl@3.0.11-1~deb12u1"]
    assert result.findings == []


def test_debian_packages_match_their_release_by_dpkg_order(database: Path) -> None:
    result = _match(database, [
        ospkg("libssl3", "3.0.11-1~deb12u1", "Debian:12", source_name="openssl"),
        ospkg("openssl", "3.0.11-1~deb12u2", "Debian:12"),
        ospkg("openssl", "3.0.9-1", "Debian:11"),  # no Debian:11 record: the Debian:12 one does not apply
    ])
    assert [(f.component.name, f.id, f.fix) for f in result.findings] == [("libssl3", "DSA-5532-1", "3.0.11-1~deb12u2")]
    assert "CVE-2023-5363" in result.findings[0].ids


def test_alpine_and_amazon_linux_records(database: Path) -> None:
    result = _match(database, [
        ospkg("libcrypto3", "3.1.4-r0", "Alpine:v3.19", "apk", source_name="openssl"),
        ospkg("libssl3", "3.1.4-r1", "Alpine:v3.19", "apk", source_name="openssl"),
        ospkg("openssl-libs", "1:3.0.8-1.amzn2023.0.1", "Amazon Linux:2023", "rpm"),
        ospkg("openssl-libs", "1:3.0.8-1.amzn2023.0.2", "Amazon Linux:2023", "rpm"),
    ])
    found = {(f.component.name, f.component.version, f.id, f.fix) for f in result.findings}
    assert found == {
        ("libcrypto3", "3.1.4-r0", "ALPINE-CVE-2023-5678", "3.1.4-r1"),
        ("openssl-libs", "1:3.0.8-1.amzn2023.0.1", "ALAS2023-2023-181", "1:3.0.8-1.amzn2023.0.2"),
    }


def _pillow(version: str = "10.0.0") -> PythonDist:
    from packaging.utils import canonicalize_name

    root = "site-packages"
    return PythonDist(
        name="Pillow", normalized_name=canonicalize_name("Pillow"), version=version,
        purl=f"pkg:pypi/pillow@{version}", found_by="python-dist-info",
        metadata_location=Location(f"{root}/Pillow-{version}.dist-info/METADATA"), metadata_sha256=None,
        metadata_dir=f"{root}/Pillow-{version}.dist-info", site_root=root,
    )


def test_pypi_advisory_covering_the_bundled_library_is_linked(database: Path) -> None:
    pillow = _pillow()
    webp = native("libwebp", "1.3.1", "site-packages/Pillow.libs/libwebp-74f033ac.so.7.1.7",
                  owner=pillow.purl, owner_location=pillow.metadata_location)
    stray = native("libwebp", "1.3.1", "lib/libwebp.so.7")  # owned by no distribution: its own finding
    result = _match(database, [pillow, webp, stray])
    by_path = {(f.component.purl, getattr(f.component, "location", None)): f for f in result.findings}
    pillow_finding = next(f for f in result.findings if f.component is pillow)
    assert pillow_finding.id == "GHSA-j7hp-h8jx-5ppr" and "CVE-2023-4863" in pillow_finding.ids
    linked = by_path[(webp.purl, webp.location)]
    assert linked.covered_by == "GHSA-j7hp-h8jx-5ppr"
    assert by_path[(stray.purl, stray.location)].covered_by is None
    assert pillow_finding.covered_by is None


def test_a_fixed_pillow_does_not_cover_an_affected_library(database: Path) -> None:
    pillow = _pillow("10.0.1")
    webp = native("libwebp", "1.3.1", "site-packages/Pillow.libs/libwebp.so", owner=pillow.purl)
    result = _match(database, [pillow, webp])
    assert [(f.component.name, f.covered_by) for f in result.findings] == [("libwebp", None)]


def test_lookup_answers_git_queries_by_normalized_repository(database: Path) -> None:
    backend = OfflineDatabase(database)
    try:
        q = PackageQuery("GIT", "chromium.googlesource.com/webm/libwebp", "1.3.1-rc2")
        assert [a.id for a in backend.lookup([q]).affected[q]] == ["CVE-2023-4863"]
        q2 = PackageQuery("GIT", "github.com/madler/zlib", "1.2.11")
        looked = backend.lookup([q2])
        assert looked.affected[q2] == [] and [i for i, _ in looked.unverifiable[q2]] == ["OSV-2022-0001"]
    finally:
        backend.close()


# -- online: the OSV API ---------------------------------------------------------------------------

BASE = "https://osv.test.example"


def test_online_git_queries_ask_by_tag_and_distro_queries_by_release() -> None:
    import json

    import requests
    import responses

    from depscan.advisories.osv_api import OnlineOSV, OSVClient

    webp = json.loads((RECORDS / "CVE-2023-4863.json").read_text())
    dsa = json.loads((RECORDS / "DSA-5532-1.json").read_text())
    answers = {
        ("GIT", "https://github.com/openssl/openssl", "OpenSSL_1_1_1k"): [],
        ("GIT", "https://github.com/openssl/openssl", "openssl-1.1.1k"): [],
        ("GIT", "https://github.com/openssl/openssl", "1.1.1k"): [],
        ("GIT", "https://chromium.googlesource.com/webm/libwebp", "1.3.1"): [webp],
        ("GIT", "https://github.com/webmproject/libwebp", "1.3.1"): [],
        ("GIT", "https://chromium.googlesource.com/webm/libwebp", "v1.3.1"): [webp],
        ("GIT", "https://github.com/webmproject/libwebp", "v1.3.1"): [webp],
        ("Debian:12", "openssl", "3.0.11-1~deb12u1"): [dsa],
        ("Debian:12", "libssl3", "3.0.11-1~deb12u1"): [],
    }
    sent: list[tuple[str, str, str]] = []

    def batch(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        assert request.body is not None
        results = []
        for item in json.loads(request.body)["queries"]:
            key = (item["package"]["ecosystem"], item["package"]["name"], item["version"])
            sent.append(key)
            results.append({"vulns": [{"id": r["id"], "modified": r["modified"]} for r in answers[key]]})
        return 200, {}, json.dumps({"results": results})

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.POST, f"{BASE}/v1/querybatch", callback=batch)
        for rec in (webp, dsa):
            mock.get(f"{BASE}/v1/vulns/{rec['id']}", json=rec)
        backend = OnlineOSV(OSVClient(requests.Session(), base_url=BASE, sleep=lambda _s: None))
        result = match([
            native("openssl", "1.1.1k"), native("libwebp", "1.3.1", "w.so"),
            ospkg("libssl3", "3.0.11-1~deb12u1", "Debian:12", source_name="openssl"),
        ], backend)
    assert set(sent) == set(answers)
    assert sorted((f.component.name, f.id) for f in result.findings) == [
        ("libssl3", "DSA-5532-1"), ("libwebp", "CVE-2023-4863")
    ]
    assert result.unchecked == {} and result.not_verifiable == []


def test_online_failure_of_one_tag_query_leaves_the_library_unchecked() -> None:
    import requests
    import responses

    from depscan.advisories.osv_api import OnlineOSV, OSVClient

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(f"{BASE}/v1/querybatch", status=400)
        backend = OnlineOSV(OSVClient(requests.Session(), base_url=BASE, sleep=lambda _s: None))
        result = match([native("openssl", "1.1.1k")], backend)
    assert result.findings == []
    assert "HTTP 400" in result.unchecked["pkg:generic/openssl@1.1.1k"]


def test_a_scanned_debian_root_meets_its_release_records(database: Path, tmp_path: Path) -> None:
    """End to end: dpkg status + os-release -> OsPackages with Debian:12 -> DSA finding with its fix."""
    from depscan.advisories.osv_db import OfflineDatabase
    from depscan.config import AdvisorySettings
    from depscan.scan import with_advisories
    from tests.helpers import scan

    fixtures = RECORDS.parent.parent / "ospkg"
    root = tmp_path / "root fs"
    (root / "etc").mkdir(parents=True)
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "etc/os-release").write_bytes((fixtures / "os-release-debian").read_bytes())
    status = (fixtures / "dpkg-status").read_text().replace("3.0.19-1~deb12u2", "3.0.11-1~deb12u1")
    (root / "var/lib/dpkg/status").write_text(status)
    inventory = scan(root)
    result = with_advisories(inventory, AdvisorySettings(mode="offline"), OfflineDatabase(database))
    hits = sorted((f.component.name, f.id, f.fix) for f in result.findings)
    assert hits == [("libssl3", "DSA-5532-1", "3.0.11-1~deb12u2"), ("openssl", "DSA-5532-1", "3.0.11-1~deb12u2")]
    assert result.unchecked == ()


def test_a_library_an_os_package_owns_is_matched_through_the_package(database: Path) -> None:
    # Debian's libwebp7 1.2.4-0.2+deb12u1 carries the fix of CVE-2023-4863 in a "1.2.4" library:
    # the upstream tags would call it affected; the package's own records decide.
    owned = native("libwebp", "1.2.4", "usr/lib/x86_64-linux-gnu/libwebp.so.7.1.5",
                   os_package="pkg:deb/debian/libwebp7@1.2.4-0.2%2Bdeb12u1?arch=amd64&distro=debian-12")
    result = _match(database, [owned])
    assert result.findings == [] and result.not_verifiable == [] and result.unchecked == {}


# -- odd data, ignores, the exit code --------------------------------------------------------------


def test_odd_records_and_versions_never_raise() -> None:
    from depscan.advisories.distro_versions import in_distro_range
    from depscan.advisories.native_match import evaluate
    from depscan.advisories.osv_schema import parse_osv
    from depscan.models import AffectedRange, RangeEvent

    odd = parse_osv({
        "id": "ODD-1", "modified": "2024-01-01T00:00:00Z",
        "affected": [
            {"ranges": [{"type": "GIT", "repo": 42, "events": [{"fixed": "x"}]}]},  # repo not a string: ignored
            {"ranges": [{"type": "GIT", "repo": "https://github.com/openssl/openssl",
                         "events": [{"introduced": "OpenSSL-engine-0_1"}, {"fixed": "not a tag"}]}],
             "versions": ["", "v", "OpenSSL_", "1_", "_1"]},
            {"package": {"ecosystem": "Debian:12", "name": "openssl"},
             "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": ":::"}, {"fixed": "~~~-"}]}]},
        ],
    }, "odd")
    for version in ("1.1.1k", "", "~", "1:", "-", "::", "a" * 500):
        evaluate(odd, PackageQuery("GIT", "github.com/openssl/openssl", version))
        evaluate(odd, PackageQuery("Debian:12", "openssl", version))
        for compare in (dpkg_compare, rpm_compare, apk_compare):
            compare(version, "1.0-r1")
            in_distro_range(version, AffectedRange("ECOSYSTEM", (RangeEvent("fixed", version),)), compare)
    assert evaluate(odd, PackageQuery("GIT", "github.com/openssl/openssl", "1.1.1k")) == (False, None)


def test_ignores_apply_to_native_findings(database: Path) -> None:
    from datetime import date

    from depscan.config import IgnoreRule

    backend = OfflineDatabase(database)
    try:
        result = match([native("libwebp", "1.3.1")], backend,
                       [IgnoreRule("CVE-2023-4863", "rebuilt with 1.3.2 next sprint", None)], date(2026, 1, 1))
    finally:
        backend.close()
    (finding,) = result.findings
    assert finding.suppressed is not None and finding.suppressed.id == "CVE-2023-4863"


def test_not_verifiable_components_do_not_change_the_exit_code() -> None:
    from depscan.models import AdvisoryData, ArtifactInfo, ScanResult
    from depscan.policy import verdict

    result = ScanResult(
        artifact=ArtifactInfo("a.zip", "zip", 1), components=(), unknowns=(),
        advisory_data=AdvisoryData("offline:x", 1, None),
        not_verifiable=(("pkg:generic/sqlite", "x.so: sqlite identified, version unknown"),),
    )
    assert verdict(result).code == 0
    assert verdict(result, strict=True).code == 0


def test_cli_scan_of_a_debian_root_with_an_offline_database_exits_1(database: Path, tmp_path: Path) -> None:
    from tests.helpers import cli

    fixtures = RECORDS.parent.parent / "ospkg"
    root = tmp_path / "root fs"
    (root / "etc").mkdir(parents=True)
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "etc/os-release").write_bytes((fixtures / "os-release-debian").read_bytes())
    status = (fixtures / "dpkg-status").read_text().replace("3.0.19-1~deb12u2", "3.0.11-1~deb12u1")
    (root / "var/lib/dpkg/status").write_text(status)
    done = cli("scan", root, "--db", database, "--max-db-age", "100000")
    assert done.returncode == 1, done.stderr
    assert "DSA-5532-1" in done.stdout
    (root / "var/lib/dpkg/status").write_text((fixtures / "dpkg-status").read_text())  # 3.0.19: fixed
    done = cli("scan", root, "--db", database, "--max-db-age", "100000")
    assert done.returncode == 0, done.stderr


VERSIONS = RECORDS.parent / "versions"


def _apk_cases() -> list[tuple[str, str, int]]:
    cases = []
    for line in (VERSIONS / "apk-version.data").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            a, op, b = line.split()
            cases.append((a, b, {"<": -1, "=": 0, ">": 1}[op]))
    return cases


def _rpm_cases() -> list[tuple[str, str, int]]:
    lines = (VERSIONS / "rpmvercmp.txt").read_text().splitlines()
    return [(a, b, int(w)) for a, b, w in (line.split() for line in lines)]


@pytest.mark.parametrize(("a", "b", "expected"), _apk_cases())
def test_apk_order_against_apk_tools_test_data(a: str, b: str, expected: int) -> None:
    assert apk_compare(a, b) == expected


@pytest.mark.parametrize(("a", "b", "expected"), _rpm_cases())
def test_rpmvercmp_against_rpm_test_suite(a: str, b: str, expected: int) -> None:
    assert rpmvercmp(a, b) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [  # dpkg's lib/dpkg/t/t-version.c: compare and parse cases, as version strings
        ("0-0", "0-00", 0), ("00-0", "0-0", 0), ("1:2-3", "1:2-3", 0), ("0:0-0", "1:0-0", -1), ("a-0", "b-0", -1),
        ("0-a", "0-b", -1), ("1-1", "2-1", -1), ("1-1", "1-2", -1), ("0", "0:0", 0), ("0:0-", "0", 0),
        ("0:0.0-0.0", "0.0-0.0", 0), ("5:1", "5:1", 0), ("0:0-0-0", "0-0-0", 0), ("0:0:0-0", "0:0:0-0", 0),
        ("  \t0:0-1", "0:0-1", 0), ("0:0-1\t  ", "0-1", 0),
    ],
)
def test_dpkg_order_against_dpkg_test_suite(a: str, b: str, expected: int) -> None:
    assert dpkg_compare(a, b) == expected
    assert dpkg_compare(b, a) == -expected


def test_online_git_queries_cover_every_spelling_of_the_repository() -> None:
    from depscan.advisories.osv_api import _git_queries

    asked = PackageQuery("GIT", "github.com/curl/curl", "8.3.0")
    sent, origin, failed = _git_queries([asked, PackageQuery("GIT", "example.org/unknown", "1.0")])
    assert {(q.name, q.version) for q in sent} == {
        (url, v) for url in ("https://github.com/curl/curl", "https://github.com/curl/curl.git")
        for v in ("curl-8_3_0", "8.3.0")
    }
    assert all(origin[q] == [asked] for q in sent)
    assert list(failed) == [PackageQuery("GIT", "example.org/unknown", "1.0")]


def test_a_database_without_the_ecosystem_cannot_call_anything_clean(database: Path, tmp_path: Path) -> None:
    pypi_only = tmp_path / "pypi only.sqlite"
    import_sources(pypi_only, [RECORDS.parent / "pypi-subset.zip"])
    components = [native("openssl", "3.0.1"), ospkg("openssl", "3.0.11-1~deb12u1", "Debian:12")]
    result = _match(pypi_only, components)
    reasons = dict(result.not_verifiable)
    assert result.findings == [] and result.unchecked == {}
    assert "no record for the repository of any native library" in reasons["pkg:generic/openssl@3.0.1"]
    assert "holds no Debian:12 records" in reasons["pkg:x/openssl@3.0.11-1~deb12u1"]
    # the fixture database has Debian:10 and Debian:12 records, none of Debian:11
    result = _match(database, [ospkg("openssl", "3.0.9-1", "Debian:11")])
    ((_purl, why),) = result.not_verifiable
    assert "holds no Debian:11 records" in why and result.findings == []


def test_online_an_ecosystem_the_api_refuses_leaves_only_its_own_packages_unchecked() -> None:
    import json

    import requests
    import responses

    from depscan.advisories.osv_api import OnlineOSV, OSVClient

    def batch(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        assert request.body is not None
        queries = json.loads(request.body)["queries"]
        if any(q["package"]["ecosystem"] == "Mageia:9" for q in queries):
            return 400, {}, json.dumps({"code": 3, "message": "Invalid ecosystem."})
        return 200, {}, json.dumps({"results": [{} for _ in queries]})

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.POST, f"{BASE}/v1/querybatch", callback=batch)
        backend = OnlineOSV(OSVClient(requests.Session(), base_url=BASE, sleep=lambda _s: None))
        result = match([_pillow("10.0.1"), ospkg("openssl", "3.0.7-1.mga9", "Mageia:9", "rpm")], backend)
    assert list(result.unchecked) == ["pkg:x/openssl@3.0.7-1.mga9"]
    assert "HTTP 400" in result.unchecked["pkg:x/openssl@3.0.7-1.mga9"]
    assert result.findings == []
