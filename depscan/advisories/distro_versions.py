"""Distribution package version ordering: dpkg, apk and rpm, and OSV ECOSYSTEM ranges evaluated with them.

Implemented from the documented algorithms (no well-kept small library covers all three: python-debian
is dpkg only, ``rpm-vercmp`` was last released in 2018, ``univers`` pulls in a dozen packages):

* dpkg, ``deb-version(7)`` / Debian Policy 5.6.12: ``[epoch:]upstream[-revision]``; epochs compare
  as integers, then upstream, then revision, each by alternating non-digit and digit runs: non-digit
  runs character by character where ``~`` sorts before everything (even the end of the string),
  letters before non-letters; digit runs as integers (missing = 0).
* rpm, ``rpmvercmp`` (rpm's ``lib/rpmvercmp.c``) over ``[epoch:]version[-release]``: epoch, then
  version, then release; each split into alphanumeric segments (separators ignored), a numeric
  segment is newer than an alphabetic one, numbers compare as integers, letters with ``strcmp``;
  ``~`` sorts before anything (pre-releases) and ``^`` after the base but before any other
  addition (snapshots); when one side runs out of segments the longer is newer.
* apk, apk-tools' ``version.c`` (``apk version -t``): ``digits{.digits}[letter]{_suffix[digits]}[-r#]``;
  numeric parts compare as integers (a part after the first with a leading zero compares as a
  string, as apk does), one optional letter, suffixes ``_alpha _beta _pre _rc`` sort before the
  release and ``_cvs _svn _git _hg _p`` after it, then the ``-rN`` package release.

A version the grammar does not accept still compares (dpkg and rpm accept anything; apk falls back
to rpm-like segment order), so a malformed record never raises.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cmp_to_key, lru_cache

from depscan.models import AffectedRange

Compare = Callable[[str, str], int]


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


# -- dpkg -------------------------------------------------------------------------------------------


def _dpkg_order(ch: str) -> int:
    """dpkg's ``order()``: ``~`` lowest, then end of string, then letters, then everything else."""
    if ch == "~":
        return -1
    if ch.isdigit():
        return 0
    if ch.isalpha() and ch.isascii():
        return ord(ch)
    return ord(ch) + 256


def _dpkg_part(a: str, b: str) -> int:
    i = j = 0
    while i < len(a) or j < len(b):
        first_diff = 0
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = _dpkg_order(a[i]) if i < len(a) else 0
            bc = _dpkg_order(b[j]) if j < len(b) else 0
            if ac != bc:
                return _sign(ac - bc)
            i += 1
            j += 1
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        while i < len(a) and a[i].isdigit() and j < len(b) and b[j].isdigit():
            if not first_diff:
                first_diff = ord(a[i]) - ord(b[j])
            i += 1
            j += 1
        if i < len(a) and a[i].isdigit():
            return 1
        if j < len(b) and b[j].isdigit():
            return -1
        if first_diff:
            return _sign(first_diff)
    return 0


def _split_evr(version: str) -> tuple[int, str, str]:
    """``[epoch:]version[-release]`` (dpkg: upstream and Debian revision; rpm: version and release) split
    the same way by both: the epoch before the first ``:`` when numeric, the release after the last ``-``."""
    version = version.strip()
    epoch = 0
    if ":" in version:
        head, rest = version.split(":", 1)
        if head.isdigit():
            epoch, version = int(head), rest
    upstream, _, revision = version.rpartition("-")
    if not upstream:  # no hyphen: all upstream
        upstream, revision = version, ""
    return epoch, upstream, revision


def dpkg_compare(a: str, b: str) -> int:
    """-1, 0 or 1 as dpkg orders versions ``a`` and ``b`` (``dpkg --compare-versions``)."""
    ea, ua, ra = _split_evr(a)
    eb, ub, rb = _split_evr(b)
    if ea != eb:
        return _sign(ea - eb)
    return _dpkg_part(ua, ub) or _dpkg_part(ra, rb)


# -- rpm --------------------------------------------------------------------------------------------

_RPM_SEGMENT = re.compile(r"([0-9]+)|([A-Za-z]+)|([~^])")


def rpmvercmp(a: str, b: str) -> int:
    """rpm's ``rpmvercmp`` for one field (version or release)."""
    if a == b:
        return 0
    sa = list(_RPM_SEGMENT.finditer(a))
    sb = list(_RPM_SEGMENT.finditer(b))
    i = 0
    while True:
        ma = sa[i] if i < len(sa) else None
        mb = sb[i] if i < len(sb) else None
        ta = ma.group(0) if ma else None
        tb = mb.group(0) if mb else None
        # tilde: before anything, even the end
        if ta == "~" or tb == "~":
            if ta != "~":
                return 1
            if tb != "~":
                return -1
            i += 1
            continue
        # caret: after the end, before anything else
        if ta == "^" or tb == "^":
            if ta is None:
                return -1
            if tb is None:
                return 1
            if ta != "^":
                return 1
            if tb != "^":
                return -1
            i += 1
            continue
        if ta is None or tb is None:
            if ta is None and tb is None:
                return 0
            return -1 if ta is None else 1
        a_num, b_num = ta.isdigit(), tb.isdigit()
        if a_num != b_num:
            return 1 if a_num else -1  # numeric segments are newer than alphabetic ones
        diff = _sign(int(ta) - int(tb)) if a_num else (ta > tb) - (ta < tb)
        if diff:
            return diff
        i += 1


def rpm_compare(a: str, b: str) -> int:
    """-1, 0 or 1 as rpm orders ``[epoch:]version[-release]`` strings (a missing epoch is 0; a
    missing release on either side is not compared, as ``rpmdev-vercmp`` does for EVRs)."""
    ea, va, ra = _split_evr(a)
    eb, vb, rb = _split_evr(b)
    if ea != eb:
        return _sign(ea - eb)
    diff = rpmvercmp(va, vb)
    if diff or not ra or not rb:
        return diff
    return rpmvercmp(ra, rb)


# -- apk --------------------------------------------------------------------------------------------

_APK = re.compile(
    r"^(?P<nums>[0-9]+(?:\.[0-9]+)*)(?P<letter>[a-z]?)(?P<suffixes>(?:_(?:alpha|beta|pre|rc|cvs|svn|git|hg|p)[0-9]*)*)"
    r"(?:~(?P<hash>[0-9a-f]+))?(?:-r(?P<release>[0-9]+))?$"
)
_APK_SUFFIX = re.compile(r"_(alpha|beta|pre|rc|cvs|svn|git|hg|p)([0-9]*)")
# Pre-release suffixes below the plain release (0), post-release ones above it.
_APK_SUFFIX_RANK = {"alpha": -4, "beta": -3, "pre": -2, "rc": -1, "cvs": 1, "svn": 2, "git": 3, "hg": 4, "p": 5}


def apk_compare(a: str, b: str) -> int:
    """-1, 0 or 1 as apk orders package versions (``apk version -t a b``)."""
    ma, mb = _APK.match(a.strip()), _APK.match(b.strip())
    if ma is None or mb is None:  # not apk grammar: segment order as rpm does it
        return rpmvercmp(a, b)
    na, nb = ma["nums"].split("."), mb["nums"].split(".")
    for i in range(min(len(na), len(nb))):
        x, y = na[i], nb[i]
        as_text = i and (x.startswith("0") or y.startswith("0"))  # apk: a leading zero compares as text
        diff = (x > y) - (x < y) if as_text else _sign(int(x) - int(y))
        if diff:
            return diff
    if len(na) != len(nb):
        return 1 if len(na) > len(nb) else -1
    if ma["letter"] != mb["letter"]:
        return 1 if ma["letter"] > mb["letter"] else -1
    sa = [(_APK_SUFFIX_RANK[s], int(n or 0)) for s, n in _APK_SUFFIX.findall(ma["suffixes"])]
    sb = [(_APK_SUFFIX_RANK[s], int(n or 0)) for s, n in _APK_SUFFIX.findall(mb["suffixes"])]
    for i in range(max(len(sa), len(sb))):
        x2 = sa[i] if i < len(sa) else (0, 0)
        y2 = sb[i] if i < len(sb) else (0, 0)
        if x2 != y2:
            return 1 if x2 > y2 else -1
    ra, rb = int(ma["release"] or 0), int(mb["release"] or 0)
    return _sign(ra - rb)


# -- ecosystems -------------------------------------------------------------------------------------

# OSV ecosystem (the part before ":") -> the package manager whose order its ECOSYSTEM ranges use
# (OSV schema, "Ecosystems": Debian and Ubuntu use dpkg order, Alpine/Wolfi/Chainguard apk's, the
# Red Hat family and SUSE rpm's).
ECOSYSTEM_ORDER: dict[str, Compare] = {
    "Debian": dpkg_compare,
    "Ubuntu": dpkg_compare,
    "Alpine": apk_compare,
    "Wolfi": apk_compare,
    "Chainguard": apk_compare,
    "AlmaLinux": rpm_compare,
    "Rocky Linux": rpm_compare,
    "Red Hat": rpm_compare,
    "Amazon Linux": rpm_compare,
    "openSUSE": rpm_compare,
    "SUSE": rpm_compare,
    "Mageia": rpm_compare,
    "openEuler": rpm_compare,
}


def order_for(ecosystem: str) -> Compare | None:
    """The version order of an OSV distribution ecosystem (``Debian:12`` -> dpkg), or None."""
    return ECOSYSTEM_ORDER.get(ecosystem.split(":", 1)[0])


_RANK = {"introduced": 0, "last_affected": 1, "fixed": 2, "limit": 3}


@lru_cache(maxsize=16384)
def _sorted_events(rng: AffectedRange, compare: Compare) -> tuple[tuple[str, str], ...]:
    key = cmp_to_key(compare)
    events = [(e.kind, e.value) for e in rng.events if not (e.kind == "introduced" and e.value == "0")]
    events.sort(key=lambda kv: (key(kv[1]), _RANK[kv[0]]))
    return tuple(events)


def in_distro_range(version: str, rng: AffectedRange, compare: Compare) -> bool:
    """Whether ``version`` lies in an ECOSYSTEM range, by the OSV schema's sorted walk with the
    distribution's order (``introduced`` "0" opens from the start; ``fixed`` exclusive,
    ``last_affected`` inclusive, ``limit`` an exclusive upper bound)."""
    if rng.type != "ECOSYSTEM":
        return False
    affected = any(e.kind == "introduced" and e.value == "0" for e in rng.events)
    limits = [e.value for e in rng.events if e.kind == "limit" and e.value != "*"]
    if limits and not any(compare(version, limit) < 0 for limit in limits):
        return False
    for kind, value in _sorted_events(rng, compare):
        diff = compare(version, value)
        if kind == "introduced":
            if diff >= 0:
                affected = True
        elif kind == "fixed":
            if diff >= 0:
                affected = False
        elif kind == "last_affected" and diff > 0:
            affected = False
    return affected
