"""Advisory coverage of identified libraries: the upstream repositories of ``native_repos.UPSTREAMS``
added from OSS-Fuzz and CVE records, their tag spellings, development builds, and the libraries with
no GIT-range advisory source. Records: fixtures/advisories/native-repos (shaped like the real ones)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from depscan.advisories.backend import PackageQuery
from depscan.advisories.git_tags import development_build, normalize_tag
from depscan.advisories.native_repos import (
    NO_GIT_SOURCE,
    UPSTREAMS,
    normalize_repo_url,
    repos_for,
    tag_spellings,
)
from depscan.advisories.osv_db import OfflineDatabase, import_sources
from depscan.match import MatchResult, match
from depscan.models import Evidence, Location, NativeComponent
from depscan.native.classifiers import BY_NAME

RECORDS = Path(__file__).resolve().parent.parent / "fixtures" / "advisories" / "native-repos"


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("native repos db") / "osv.sqlite"
    (report,) = import_sources(db, [RECORDS])
    assert report.skipped == 0, report.problems
    assert report.records == len(list(RECORDS.glob("*.json")))
    return db


def native(name: str, version: str | None, path: str | None = None) -> NativeComponent:
    where = path or f"pkg.libs/{name}-0123abcd.so"
    return NativeComponent(
        name=name, version=version, purl=f"pkg:generic/{name}" + (f"@{version}" if version else ""), cpe=None,
        location=Location(where), evidence=(Evidence("accessor", "high", "test"),),
    )


def _match(database: Path, components: list[NativeComponent]) -> MatchResult:
    backend = OfflineDatabase(database)
    try:
        return match(components, backend)
    finally:
        backend.close()


def _found(result: MatchResult) -> set[tuple[str, str | None, str]]:
    return {(f.component.name, f.component.version, f.id) for f in result.findings}


# -- the table ----------------------------------------------------------------------------------------------


def test_every_classified_library_has_a_repository_or_a_reason() -> None:
    named = set(BY_NAME)
    assert named == set(UPSTREAMS) | set(NO_GIT_SOURCE), "a classifier without an advisory decision"
    assert not set(UPSTREAMS) & set(NO_GIT_SOURCE)


def test_no_two_libraries_share_a_repository() -> None:
    owners: dict[str, str] = {}
    for name in UPSTREAMS:
        for repo in repos_for(name):
            assert owners.setdefault(repo, name) == name, repo


@pytest.mark.parametrize(
    ("record", "library"),
    [
        ("OSV-2023-137", "harfbuzz"), ("OSV-2022-955", "lcms2"), ("OSV-2024-655", "lcms2"),
        ("OSV-2022-416", "openjpeg"), ("OSV-2023-181", "libxslt"), ("OSV-2022-674", "dav1d"),
        ("OSV-2024-151", "libaom"), ("OSV-2020-1066", "libavif"), ("OSV-2024-1293", "krb5"),
        ("OSV-2020-1611", "libyaml"), ("CVE-2020-8927", "brotli"), ("CVE-2021-4048", "openblas"),
        ("CVE-2023-36054", "krb5"),
    ],
)
def test_each_record_names_a_repository_of_its_library(record: str, library: str) -> None:
    data = json.loads((RECORDS / f"{record}.json").read_text(encoding="utf-8"))
    repos = {normalize_repo_url(r["repo"]) for a in data["affected"] for r in a["ranges"] if r["type"] == "GIT"}
    assert repos and repos <= set(repos_for(library))
    # the spelling as written is one the online API is asked with (it compares URLs as written)
    written = {r["repo"] for a in data["affected"] for r in a["ranges"] if r["type"] == "GIT"}
    assert written <= set(UPSTREAMS[library].repos)


def test_online_queries_ask_every_spelling_with_the_project_tag() -> None:
    from depscan.advisories.osv_api import _git_queries

    asked = [PackageQuery("GIT", repos_for("krb5")[0], "1.21.3"), PackageQuery("GIT", repos_for("lcms2")[0], "2.15")]
    sent, _origin, failed = _git_queries(asked)
    assert failed == {}
    assert {(q.name, q.version) for q in sent} == {
        *((url, v) for url in ("https://github.com/krb5/krb5.git", "https://github.com/krb5/krb5")
          for v in ("krb5-1.21.3-final", "1.21.3")),
        *((url, v) for url in ("https://github.com/mm2/Little-CMS.git", "https://github.com/mm2/Little-CMS")
          for v in ("lcms2.15", "2.15")),
    }


# -- tag spellings ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "release"),
    [
        ("7.3.0", "7.3.0"),  # harfbuzz
        ("lcms2.15", "2.15"), ("lcms2.13.1", "2.13.1"), ("LCMS2.14", "2.14"),  # Little-CMS
        ("lcms2.13rc1", "2.13rc1"),  # a release candidate stays one
        ("lcm2.16rc1", None),  # the upstream typo tag: names no release
        ("v2.5.0", "2.5.0"),  # openjpeg
        ("v1.1.38", "1.1.38"),  # libxslt
        ("1.2.1", "1.2.1"),  # dav1d
        ("v3.8.2", "3.8.2"), ("v3.8.2-rc1", "3.8.2-rc1"),  # libaom
        ("krb5-1.21.3-final", "1.21.3"), ("krb5-1.21-final", "1.21"),  # MIT krb5
        ("krb5-1.20-beta1", "1.20-beta1"),  # a beta is not the release
        ("0.2.5", "0.2.5"),  # libyaml
        ("v1.0.9", "1.0.9"),  # brotli
        ("v0.3.23", "0.3.23"),  # OpenBLAS
        ("1.21.3-final", "1.21.3-final"),  # "-final" is dropped only after the krb5- prefix
    ],
)
def test_tag_normalizer_for_the_added_projects(tag: str, release: str | None) -> None:
    assert normalize_tag(tag) == release


def test_release_candidates_and_betas_never_equal_the_release() -> None:
    assert normalize_tag("lcms2.13rc1") != normalize_tag("lcms2.13")
    assert normalize_tag("v3.8.2-rc1") != normalize_tag("v3.8.2")
    assert normalize_tag("krb5-1.20-beta1") != normalize_tag("krb5-1.20-final")
    assert normalize_tag("lcms2.13.1") != normalize_tag("lcms2.13")


@pytest.mark.parametrize(
    ("library", "version", "tags"),
    [
        ("harfbuzz", "7.3.0", ("7.3.0",)),
        ("lcms2", "2.15", ("lcms2.15",)),
        ("openjpeg", "2.5.0", ("v2.5.0",)),
        ("libxslt", "1.1.38", ("v1.1.38",)),
        ("dav1d", "1.2.1", ("1.2.1",)),
        ("libaom", "3.6.1", ("v3.6.1",)),
        ("libavif", "1.0.0", ("v1.0.0",)),
        ("krb5", "1.21.3", ("krb5-1.21.3-final",)),
        ("libyaml", "0.2.5", ("0.2.5",)),
        ("brotli", "1.0.9", ("v1.0.9",)),
        ("openblas", "0.3.23", ("v0.3.23",)),
    ],
)
def test_tag_spellings_round_trip(library: str, version: str, tags: tuple[str, ...]) -> None:
    assert tag_spellings(library, version) == tags
    assert all(normalize_tag(t) == version for t in tags)


def test_development_builds_are_recognized() -> None:
    assert development_build("0.3.23.dev") and development_build("8.4.0-DEV") and development_build("1.0_dev2")
    assert not development_build("0.3.23") and not development_build("1.1.1k") and not development_build("1.0.0-devel")


# -- matching against the records ----------------------------------------------------------------------------


def test_listed_tags_decide_for_the_oss_fuzz_records(database: Path) -> None:
    result = _match(database, [
        native("harfbuzz", "7.3.0"), native("harfbuzz", "7.0.0"),
        native("lcms2", "2.14"), native("lcms2", "2.15"), native("lcms2", "2.16"),
        native("openjpeg", "2.5.0"), native("openjpeg", "2.5.2"),
        native("dav1d", "1.0.0"), native("dav1d", "1.2.1"),
        native("libaom", "3.8.2"), native("libaom", "3.8.1"), native("libaom", "3.13.2"),
        native("libavif", "0.7.2"), native("libavif", "1.0.0"),
    ])
    assert _found(result) == {
        ("harfbuzz", "7.3.0", "OSV-2023-137"),
        ("lcms2", "2.14", "OSV-2022-955"), ("lcms2", "2.16", "OSV-2024-655"),
        ("openjpeg", "2.5.0", "OSV-2022-416"),
        ("dav1d", "1.0.0", "OSV-2022-674"),
        ("libaom", "3.8.2", "OSV-2024-151"),
        ("libavif", "0.7.2", "OSV-2020-1066"),
    }
    assert result.not_verifiable == [] and result.unchecked == {}


def test_cve_records_by_tag_list_and_fix_commit(database: Path) -> None:
    result = _match(database, [
        native("brotli", "1.0.7"), native("brotli", "1.0.9"),
        native("openblas", "0.3.17"), native("openblas", "0.3.21"),
    ])
    assert _found(result) == {("brotli", "1.0.7", "CVE-2020-8927"), ("openblas", "0.3.17", "CVE-2021-4048")}
    assert all(f.fix is None for f in result.findings)  # fixed by a commit: no tag to advise
    assert result.not_verifiable == []


def test_records_without_tags_leave_the_library_not_verifiable(database: Path) -> None:
    # libxslt and libyaml: OSS-Fuzz records whose copy lists no affected tags, given by commits
    result = _match(database, [
        native("libxslt", "1.1.38", "lxml/etree.so"), native("libyaml", "0.2.5", "yaml/_yaml.so"),
    ])
    assert result.findings == []
    reasons = dict(result.not_verifiable)
    assert "OSV-2023-181" in reasons["pkg:generic/libxslt@1.1.38"] and "lxml/etree.so" in reasons[
        "pkg:generic/libxslt@1.1.38"]
    assert "OSV-2020-1611" in reasons["pkg:generic/libyaml@0.2.5"]
    assert all("commits only" in why for why in reasons.values())


def test_krb5_final_tags_and_a_commit_only_record(database: Path) -> None:
    # psycopg2-binary 2.9.7's libkrb5 says "krb5-1.15.1-final 1.15.1": CVE-2023-36054 lists that tag;
    # 1.21.1 (the fix's release) and 1.20.2 are not listed; a beta tag never stands for the release.
    result = _match(database, [
        native("krb5", "1.15.1", "p.libs/libkrb5-fcafa220.so.3.3"), native("krb5", "1.20.1", "b.so"),
        native("krb5", "1.20.2", "c.so"), native("krb5", "1.21.1", "d.so"),
    ])
    assert _found(result) == {("krb5", "1.15.1", "CVE-2023-36054"), ("krb5", "1.20.1", "CVE-2023-36054")}
    # OSS-Fuzz's OSV-2024-1293 (commits, no tags) cannot say anything about any of them
    reasons = dict(result.not_verifiable)
    assert len(reasons) == 4 and all("OSV-2024-1293" in why and "commits only" in why for why in reasons.values())


def test_a_development_build_is_not_verifiable_and_never_clean(database: Path) -> None:
    # numpy 1.25.2's libopenblas64_p-r0-5007b62f.3.23.dev.so says "OpenBLAS 0.3.23.dev"
    result = _match(database, [native("openblas", "0.3.23.dev", "numpy.libs/libopenblas64_p-r0-5007b62f.3.23.dev.so"),
                               native("curl", "8.4.0-DEV")])
    assert result.findings == []
    reasons = dict(result.not_verifiable)
    assert set(reasons) == {"pkg:generic/openblas@0.3.23.dev", "pkg:generic/curl@8.4.0-DEV"}
    why = reasons["pkg:generic/openblas@0.3.23.dev"]
    assert "development build" in why and "numpy.libs/libopenblas64_p-r0-5007b62f.3.23.dev.so" in why


@pytest.mark.parametrize("library", sorted(NO_GIT_SOURCE))
def test_libraries_without_a_git_source_say_so(database: Path, library: str) -> None:
    result = _match(database, [native(library, "1.0")])
    ((purl, why),) = result.not_verifiable
    assert purl == f"pkg:generic/{library}@1.0"
    assert f"no GIT-range advisory source for {library} (" in why and NO_GIT_SOURCE[library] in why


def test_an_unknown_library_keeps_the_generic_reason(database: Path) -> None:
    result = _match(database, [native("libfrobnicate", "1.0")])
    ((_purl, why),) = result.not_verifiable
    assert "no upstream repository known for libfrobnicate" in why

