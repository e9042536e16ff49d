"""DATA: the upstream repository of each native library, as OSV records name it.

OSV describes vulnerabilities of C libraries (the records converted from NVD CVEs, OSS-Fuzz's,
curl's own) with ``GIT`` ranges on the upstream repository (``ranges[].repo``) and the affected
tags in ``affected[].versions``; a record of the ``GIT`` ecosystem names the repository as the
package name. A native component is matched against the records of the repositories listed
here for its library (the classifier table's names, ``depscan/native/classifiers.py``).

``tags`` are how the project spells a release tag, ``{v}`` the dotted version and ``{u}`` it with
``_`` for ``.``: the online backend asks the OSV API by tag (the API matches the version of a GIT
query against tags as written), and the normalizer (``git_tags.normalize_tag``) strips the same
prefixes. Each URL is commented with the OSV records that name it (osv.dev's CVE records,
OSS-Fuzz's, the projects' own feeds); the spellings were taken from those records as published,
not re-fetched when this table was written (no network), so a record naming a mirror the table
lacks is not matched: add the URL here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class Upstream:
    repos: tuple[str, ...]  # as OSV records write them (first: the one queried online)
    tags: tuple[str, ...]  # tag spellings, {v} = "1.3.1", {u} = "1_3_1"


UPSTREAMS: dict[str, Upstream] = {
    # CVE-2022-0778, CVE-2023-0286 (osv.dev CVE records): repo "https://github.com/openssl/openssl",
    # versions "OpenSSL_1_1_1k", ... and "openssl-3.0.7" from 3.0 on.
    "openssl": Upstream(("https://github.com/openssl/openssl",), ("OpenSSL_{u}", "openssl-{v}")),
    # CVE-2023-4863: repo "https://chromium.googlesource.com/webm/libwebp", versions "v1.3.1", ...;
    # OSS-Fuzz records for libwebp use the GitHub mirror "https://github.com/webmproject/libwebp".
    "libwebp": Upstream(
        ("https://chromium.googlesource.com/webm/libwebp", "https://github.com/webmproject/libwebp"), ("v{v}",)
    ),
    # CVE-2022-37434 (inflateGetHeader): repo "https://github.com/madler/zlib", versions "v1.2.12", ...
    "zlib": Upstream(("https://github.com/madler/zlib",), ("v{v}",)),
    # CVE-2022-46908, OSS-Fuzz sqlite3 records: repo "https://github.com/sqlite/sqlite" (the official
    # mirror), versions "version-3.39.4", ...
    "sqlite": Upstream(("https://github.com/sqlite/sqlite",), ("version-{v}",)),
    # CVE-2023-38545 and curl's own OSV feed (curl.se/docs/vuln.json, CURL-CVE-...): repo
    # "https://github.com/curl/curl" (curl's feed writes ".git"), versions "curl-8_3_0" / "8.3.0", ...
    "curl": Upstream(("https://github.com/curl/curl", "https://github.com/curl/curl.git"), ("curl-{u}",)),
    # CVE-2019-7317: repo "https://github.com/glennrp/libpng" (the official GitHub mirror),
    # OSS-Fuzz libpng records: "https://github.com/pnggroup/libpng"; versions "v1.6.36", ...
    "libpng": Upstream(("https://github.com/glennrp/libpng", "https://github.com/pnggroup/libpng"), ("v{v}",)),
    # CVE-2021-46822: repo "https://github.com/libjpeg-turbo/libjpeg-turbo", versions "2.1.0", ...
    "libjpeg-turbo": Upstream(("https://github.com/libjpeg-turbo/libjpeg-turbo",), ("{v}",)),
    # CVE-2022-40674: repo "https://github.com/libexpat/libexpat", versions "R_2_4_8", ...
    "expat": Upstream(("https://github.com/libexpat/libexpat",), ("R_{u}",)),
    # CVE-2023-0795 and OSS-Fuzz libtiff records: repo "https://gitlab.com/libtiff/libtiff", versions "v4.4.0", ...
    "libtiff": Upstream(("https://gitlab.com/libtiff/libtiff",), ("v{v}",)),
    # CVE-2022-40303 and OSS-Fuzz libxml2 records: repo "https://gitlab.gnome.org/GNOME/libxml2",
    # versions "v2.10.2", ...
    "libxml2": Upstream(("https://gitlab.gnome.org/GNOME/libxml2",), ("v{v}",)),
    # CVE-2022-27404 and OSS-Fuzz freetype2 records: repo "https://gitlab.freedesktop.org/freetype/freetype"
    # (and the savannah original), versions "VER-2-12-0", ...
    "freetype": Upstream(
        ("https://gitlab.freedesktop.org/freetype/freetype", "https://git.savannah.gnu.org/git/freetype/freetype2"),
        ("VER-{h}",),
    ),
    # OSS-Fuzz zstd records: repo "https://github.com/facebook/zstd", versions "v1.5.2", ...
    "zstd": Upstream(("https://github.com/facebook/zstd",), ("v{v}",)),
    # CVE-2024-3094 (the xz backdoor): repo "https://github.com/tukaani-project/xz", versions "v5.6.0", ...
    "xz": Upstream(("https://github.com/tukaani-project/xz",), ("v{v}",)),
    # The entries below were read in google/oss-fuzz-vulns (vulns/<project>/OSV-*.yaml, the OSS-Fuzz records
    # osv.dev publishes) unless said otherwise; "versions: []" in a record there means its affected tags were
    # not listed in that copy (osv.dev computes them from the repository), so the tag spelling is the project's.
    # OSV-2023-137 (harfbuzz): repo "https://github.com/harfbuzz/harfbuzz.git", versions "7.1.0", "7.3.0", "8.0.0"...
    # CVE-2024-56732 (hb_cairo_glyphs_from_buffer) references the fix commit
    # "https://github.com/harfbuzz/harfbuzz/commit/1767f99e..." (copied by JLSEC-2026-776): the spelling without
    # ".git" that a record converted from it writes, listed for the online API (which compares URLs as written).
    "harfbuzz": Upstream(
        ("https://github.com/harfbuzz/harfbuzz.git", "https://github.com/harfbuzz/harfbuzz"), ("{v}",)
    ),
    # OSV-2022-955 (project "lcms"): repo "https://github.com/mm2/Little-CMS.git", versions "lcms2.13",
    # "lcms2.13.1", "lcms2.13rc1", "lcms2.14"; OSV-2024-655: "lcms2.16", "lcms2.17rc0" (and the upstream typo
    # tag "lcm2.16rc1", a release candidate, left unnormalized). The classifier says "2.15" for lcms2.15.
    # CVE-2018-16435 references "https://github.com/mm2/Little-CMS/commit/768f70ca..." (JLSEC-2026-490 copies it).
    "lcms2": Upstream(("https://github.com/mm2/Little-CMS.git", "https://github.com/mm2/Little-CMS"), ("lcms{v}",)),
    # OSV-2022-416 and OSV-2025-219 (openjpeg): repo "https://github.com/uclouvain/openjpeg" (no ".git"),
    # versions "v2.5.0" / "v2.5.3", "v2.5.4".
    "openjpeg": Upstream(("https://github.com/uclouvain/openjpeg",), ("v{v}",)),
    # OSV-2020-1065, OSV-2023-181 (libxslt): repo "https://gitlab.gnome.org/GNOME/libxslt.git", versions [];
    # release tags "v1.1.37", "v1.1.45" (gitlab.gnome.org/GNOME/libxslt/-/tags/v1.1.37). CVE-2024-55549's fix
    # "https://gitlab.gnome.org/GNOME/libxslt/-/commit/c7c7f1f7..." is in "v1.1.43" (Debian's tracker).
    "libxslt": Upstream(
        ("https://gitlab.gnome.org/GNOME/libxslt.git", "https://gitlab.gnome.org/GNOME/libxslt"), ("v{v}",)
    ),
    # OSV-2022-674 (dav1d): repo "https://code.videolan.org/videolan/dav1d.git", versions "1.0.0". CVE-2023-32570
    # (before 1.2.0) references "https://code.videolan.org/videolan/dav1d/-/commit/cf617fda..." and the tag page
    # ".../dav1d/-/tags/1.2.0"; CVE-2024-1580 the commit 2b475307.
    "dav1d": Upstream(
        ("https://code.videolan.org/videolan/dav1d.git", "https://code.videolan.org/videolan/dav1d"), ("{v}",)
    ),
    # OSV-2024-151, OSV-2024-517 (libaom): repo "https://aomedia.googlesource.com/aom", versions "v3.8.2",
    # "v3.8.2-rc1", "v3.9.0".
    "libaom": Upstream(("https://aomedia.googlesource.com/aom",), ("v{v}",)),
    # OSV-2020-1066 (libavif): repo "https://github.com/AOMediaCodec/libavif.git", versions "v0.5.5" ... "v0.7.2";
    # OSV-2025-4 the same repo. CVE-2025-48174 / CVE-2025-48175 reference fix commits
    # "https://github.com/AOMediaCodec/libavif/commit/64d956ed..." (JLSEC records copy them).
    "libavif": Upstream(
        ("https://github.com/AOMediaCodec/libavif.git", "https://github.com/AOMediaCodec/libavif"), ("v{v}",)
    ),
    # OSV-2024-1293 (krb5): repo "https://github.com/krb5/krb5.git", versions []; MIT's release tags are
    # "krb5-1.21.3-final" (KRB5_RELTAG in its generated patchlevel header; "krb5-1.20-beta1" for a beta).
    # CVE-2023-36054 references "https://github.com/krb5/krb5/commit/ef08b09c..." and the compare URLs
    # "krb5-1.20.1-final...krb5-1.20.2-final", "krb5-1.21-final...krb5-1.21.1-final" (JLSEC-2026-92 copies them).
    "krb5": Upstream(("https://github.com/krb5/krb5.git", "https://github.com/krb5/krb5"), ("krb5-{v}-final",)),
    # OSV-2020-1611 (libyaml): repo "https://github.com/yaml/libyaml" (no ".git"), versions []; release tags
    # are the bare version ("0.2.5": github.com/yaml/libyaml/archive/refs/tags/0.2.5.tar.gz).
    "libyaml": Upstream(("https://github.com/yaml/libyaml",), ("{v}",)),
    # No OSS-Fuzz records; CVE-2020-8927's references (NVD, copied by GHSA-5v8v-66v8-mwm7 and PYSEC-2020-29)
    # name the fix commit "https://github.com/google/brotli/commit/223d80cf...", from which osv.dev's CVE
    # conversion takes its GIT range repo ("https://github.com/google/brotli"); the osv.dev record itself was not
    # seen here. Release tags "v1.0.8", "v1.0.9" (github.com/google/brotli/releases/tag/v1.0.9).
    "brotli": Upstream(("https://github.com/google/brotli",), ("v{v}",)),
    # CVE-2021-4048 (LAPACK's xLARRV, in OpenBLAS before 0.3.18): its references (copied by JLSEC-2025-6) name
    # fix commits "https://github.com/xianyi/OpenBLAS/commit/2be5ee3c..." (the project's old home; it moved to
    # github.com/OpenMathLib/OpenBLAS, which later records may name: add it when seen). Release tags "v0.3.21".
    # The osv.dev record itself was not seen here. "0.3.23.dev" builds are not releases (``git_tags``).
    "openblas": Upstream(("https://github.com/xianyi/OpenBLAS",), ("v{v}",)),
}

# Libraries the classifier table names but for which no OSV source with GIT ranges was found: each says what
# was looked for, and a component of them is "not verifiable" with that reason (never called clean).
NO_GIT_SOURCE: dict[str, str] = {
    "bzip2": "no OSS-Fuzz records; CVE-2019-12900 names its fix commit in a personal fork "
             "(gitlab.com/federicomenaquintero/bzip2), not the upstream sourceware.org/git/bzip2.git",
    "libffi": "no OSS-Fuzz records and no OSV record with a GIT range on github.com/libffi/libffi was found",
    "libiconv": "GNU libiconv (git.savannah.gnu.org) has no OSS-Fuzz records and no OSV GIT-range record was found",
    "libpq": "PostgreSQL's CVEs point at postgresql.org announcements, not fix commits: no OSV record carries a "
             "GIT range on its repository",
    "libgfortran": "part of GCC: no OSV record carries a GIT range for GCC's runtime libraries",
    "libquadmath": "part of GCC: no OSV record carries a GIT range for GCC's runtime libraries",
    "libsharpyuv": "built from libwebp's repository but versioned on its own (0.2.1 in libwebp 1.3.1): "
                   "libwebp's tags do not name its releases",
    "pcre": "PCRE1 (8.x) is no longer developed; OSV's GIT records (OSS-Fuzz's pcre2, "
            "github.com/PCRE2Project/pcre2) cover PCRE2, a different library",
}


def no_repository_reason(library: str) -> str:
    """Why a library has no repository to match against: the table's own reason, else the generic one."""
    known = NO_GIT_SOURCE.get(library)
    if known is not None:
        return f"no GIT-range advisory source for {library} ({known}), so no advisory data covers it"
    return f"no upstream repository known for {library}, so no advisory data covers it"


@lru_cache(maxsize=8192)
def normalize_repo_url(url: str) -> str:
    """One spelling per repository: scheme dropped (``http``/``https``/``git``), host in lower case,
    a trailing ``/`` and ``.git`` dropped (``https://GitHub.com/openssl/openssl.git/`` ->
    ``github.com/openssl/openssl``). The path keeps its case (GitLab paths are case sensitive)."""
    text = url.strip()
    parts = urlsplit(text if "://" in text else f"https://{text}")
    host = (parts.hostname or "").lower()
    if parts.port and parts.port not in (80, 443):
        host = f"{host}:{parts.port}"
    path = parts.path.rstrip("/")
    if path.endswith(".git"):
        path = path[:-4]
    return f"{host}{path.rstrip('/')}"


@lru_cache(maxsize=64)
def repos_for(library: str) -> tuple[str, ...]:
    """The normalized repository URLs of a library (each once), () when the table has none."""
    upstream = UPSTREAMS.get(library)
    return tuple(dict.fromkeys(normalize_repo_url(u) for u in upstream.repos)) if upstream else ()


@lru_cache(maxsize=64)
def _by_repo() -> dict[str, tuple[str, Upstream]]:
    return {normalize_repo_url(u): (name, up) for name, up in UPSTREAMS.items() for u in up.repos}


def upstream_of(repo: str) -> tuple[str, Upstream] | None:
    """The library (name, entry) whose repository ``repo`` (normalized) is, or None."""
    return _by_repo().get(repo)


def tag_spellings(library: str, version: str) -> tuple[str, ...]:
    """The tags a release of ``library`` may carry upstream (``openssl`` 1.1.1k -> ``OpenSSL_1_1_1k``,
    ``openssl-1.1.1k``), for an API that matches tags as written."""
    upstream = UPSTREAMS.get(library)
    if upstream is None:
        return ()
    return tuple(
        dict.fromkeys(
            t.format(v=version, u=version.replace(".", "_"), h=version.replace(".", "-")) for t in upstream.tags
        )
    )
