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
}


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
