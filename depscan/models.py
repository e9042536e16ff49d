"""Frozen data crossing the seams. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Literal, NamedTuple, NoReturn

from packaging.utils import NormalizedName


@dataclass(frozen=True, slots=True)
class Location:
    """A path inside the artifact (POSIX, no leading slash) and the layer it came from.

    ``layer`` is None for flat artifacts; for container images it is the layer digest, for a
    Lambda function scanned with its layers it is the name of the zip the file came from.
    """

    path: str
    layer: str | None = None

    def __str__(self) -> str:
        return self.path if self.layer is None else f"{self.path} [{self.layer}]"


@dataclass(frozen=True, slots=True)
class Unknown:
    """Something that could not be read or parsed. Data, reported; never a crash."""

    location: Location
    reason: str


class RecordEntry(NamedTuple):
    """One row of a RECORD file (PEP 376, PEP 627), or a line of a legacy ``installed-files.txt``.

    ``path`` is resolved inside the artifact (relative to the artifact root, not to the
    site-packages root). ``encoded_digest`` is as RECORD stores it (urlsafe base64, no padding);
    ``digest`` decodes it to hex when asked.
    """

    path: str
    algorithm: str | None
    encoded_digest: str | None
    size: int | None

    @property
    def digest(self) -> str | None:
        """The hash as hex."""
        if self.encoded_digest is None:
            return None
        import base64

        encoded = self.encoded_digest
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).hex()


@dataclass(frozen=True, slots=True)
class WheelInfo:
    """The ``WHEEL`` file of a dist-info directory."""

    generator: str | None
    root_is_purelib: bool | None
    tags: tuple[str, ...]


class Status(str, Enum):
    """Whether the runtime imports this copy of a distribution."""

    USED = "used"
    SHADOWED = "shadowed"
    # A copy inside another distribution's tree (pip/_vendor/urllib3) or Python code no RECORD lists,
    # identified by catalogers/vendored.py: advisories apply, the runtime's import of the name does not.
    VENDORED = "vendored"


@dataclass(frozen=True, slots=True)
class PythonDist:
    """An installed Python distribution found through its ``.dist-info`` or ``.egg-info``."""

    name: str  # as spelled in METADATA
    normalized_name: NormalizedName  # PEP 503
    version: str  # as spelled in METADATA
    purl: str
    # "declared": an exact pin of a requirements or lock file (``depscan check --audit``), not an installed copy
    found_by: Literal["python-dist-info", "python-egg-info", "sbom", "vendored-code", "declared"]
    metadata_location: Location  # the METADATA / PKG-INFO file
    metadata_sha256: str | None  # hex SHA-256 of that file's bytes (None when read back from an SBOM)
    metadata_dir: str  # the .dist-info / .egg-info directory (or the egg-info file)
    site_root: str  # the directory holding it: the sys.path entry
    summary: str | None = None
    home_page: str | None = None
    project_urls: tuple[tuple[str, str], ...] = ()  # (label, URL) as METADATA's Project-URL entries give them
    license: str | None = None
    license_expression: str | None = None
    requires_python: str | None = None
    requires_dist: tuple[str, ...] = ()
    classifiers: tuple[str, ...] = ()
    installer: str | None = None
    wheel: WheelInfo | None = None
    direct_url: dict[str, object] | None = None
    record: tuple[RecordEntry, ...] = ()
    record_outside: int = 0  # RECORD rows naming files outside the artifact (e.g. ../../bin/x)
    status: Status = Status.USED
    shadowed_by: Location | None = None
    # Status.VENDORED: the METADATA location of the distribution whose tree holds the copy (None: the
    # copy lies at an import root, with no distribution around it), and how the copy was identified.
    vendored_by: Location | None = None
    evidence: tuple[Evidence, ...] = ()
    declared_line: int | None = None  # found_by "declared": the 1-based line of the pin in its file

    @property
    def locations(self) -> tuple[Location, ...]:
        """Where the distribution was seen (its metadata file)."""
        return (self.metadata_location,)


NativeKind = Literal["shared-library", "python-extension"]


@dataclass(frozen=True, slots=True)
class NativeLib:
    """An ELF file (a shared library or a CPython extension module) found by its header.

    Everything here comes from the file name, the first 64 bytes of the file (the ELF header,
    System V ABI / ``elf.h``) and the RECORD of the distribution that lists it; nothing is guessed.

    * ``name``: the library name without ``.so`` and its version suffix (``libgfortran`` for
      ``libgfortran-040039e1.so.5.0.0``, ``libfoo`` for ``libfoo.so.1.2``), or, for an extension
      module (``_cffi_backend.cpython-311-x86_64-linux-gnu.so``), the module name.
    * ``version``: the numeric suffix after ``.so`` in the file name (``5.0.0``), None without one.
      For most libraries that is the SONAME's ABI version, not necessarily the release number.
    * ``bundled_hash``: the 8 hex digits auditwheel inserts when it grafts a library into a wheel
      (``<stem>-<hash>.<suffix>``; the first 8 hex digits of the original file's SHA-256).
    * ``abi_tag``: an extension module's tag (``cpython-311-x86_64-linux-gnu``, ``abi3``).
    * ``sha256``: hex, from the owner's RECORD row (only when the RECORD size agrees with the
      file's); the file itself is never hashed by the default scan.
    * ``owner`` / ``owner_location``: the purl and METADATA location of the distribution whose
      RECORD lists the file (the location tells two copies of one distribution apart); None when
      no distribution claims it: the "native library no package owns" signal.
    * ``purl``: ``pkg:generic/<name>[@<version>]`` for a shared library. None for an extension
      module: it is a part of whichever distribution ships it (``owner``), and a module name is not
      a package name, so no purl would be honest.
    """

    name: str
    kind: NativeKind
    version: str | None
    location: Location
    size: int
    arch: str  # from e_machine: x86_64, aarch64, i386, arm, ppc64le, s390x, ...; "unknown" otherwise
    elf_class: int  # 32 or 64 (EI_CLASS)
    endianness: Literal["little", "big"]  # EI_DATA
    elf_type: str  # e_type: shared-object, executable, relocatable, core, none, or "unknown (0x....)"
    purl: str | None
    sha256: str | None = None
    bundled_hash: str | None = None
    abi_tag: str | None = None
    owner: str | None = None
    owner_location: Location | None = None
    found_by: Literal["elf-header", "elf"] = "elf-header"
    # The ELF structure (``found_by == "elf"``: the whole file was parsed); None from the header alone.
    elf: ElfFacts | None = None
    os_package: str | None = None  # purl of the OS package (dpkg/apk/rpm database) that lists the file
    elf_sha256_source: HashSource | None = None  # where elf.sha256 comes from (HashSource); None without elf

    @property
    def locations(self) -> tuple[Location, ...]:
        """Where the file was seen."""
        return (self.location,)


Confidence = Literal["high", "medium", "low"]
# How a native library's identity or version was established, strongest first.
EvidenceMethod = Literal["accessor", "banner", "soname", "file-name", "wheel-sbom", "os-package",
                         # vendored Python code (catalogers/vendored.py)
                         "vendor-list", "dist-info", "module-version", "import-name"]


@dataclass(frozen=True, slots=True)
class Evidence:
    """One piece of evidence for a native component: how, how sure, and what exactly was seen
    (``WebPGetDecoderVersion returns 0x010301``, ``string "OpenSSL 1.1.1k  25 Mar 2021"``)."""

    method: EvidenceMethod
    confidence: Confidence
    detail: str


# Where a native file's sha256 comes from: "bytes", this scan hashed the file's bytes; "record", it is the
# owner's RECORD hash, not recomputed (a zip member whose CRC-32 and size agree with the bytes the cached
# facts were made from; docs/native.md, "The cache"): ``depscan scan --verify-record`` checks the file against it.
HashSource = Literal["bytes", "record"]


@dataclass(frozen=True, slots=True)
class ElfFacts:
    """What the ELF structure of a file says (pyelftools over the whole file)."""

    sha256: str  # of the file's bytes as read, or the owner's RECORD hash (NativeLib.elf_sha256_source)
    soname: str | None = None  # DT_SONAME
    needed: tuple[str, ...] = ()  # DT_NEEDED, in order
    rpath: tuple[str, ...] = ()  # DT_RPATH, split at ":"
    runpath: tuple[str, ...] = ()  # DT_RUNPATH, split at ":"
    build_id: str | None = None  # NT_GNU_BUILD_ID, hex
    version_definitions: tuple[str, ...] = ()  # .gnu.version_d names (the file's own symbol versions)
    # .gnu.version_r: (needed file, (version names...)), e.g. ("libc.so.6", ("GLIBC_2.2.5", "GLIBC_2.14"))
    version_needs: tuple[tuple[str, tuple[str, ...]], ...] = ()
    min_glibc: str | None = None  # the highest GLIBC_x.y needed: the oldest glibc that can load the file
    stripped: bool = False  # no .symtab
    interpreter: str | None = None  # PT_INTERP (executables)


@dataclass(frozen=True, slots=True)
class NativeComponent:
    """An upstream native library identified in an ELF file: the file itself (``libwebp`` in
    ``Pillow.libs/libwebp-74f033ac.so.7.1.7``) or a library linked statically into it (OpenSSL inside
    ``_rust.abi3.so``, ``embedded`` True). One file can hold several."""

    name: str  # the upstream library as the classifier table names it: "openssl", "libwebp", "zlib"
    version: str | None  # None: identified, version unknown (never matched, "not verifiable")
    purl: str  # pkg:generic/<name>@<version>, or the OS package's purl
    cpe: str | None  # cpe:2.3:a:<vendor>:<product>:<version>:*:*:*:*:*:*:*
    location: Location  # the ELF file
    evidence: tuple[Evidence, ...]  # strongest first; evidence[0].confidence is the component's
    embedded: bool = False
    file_sha256: str | None = None
    file_sha256_source: HashSource | None = None  # where file_sha256 comes from; None: not said (a wheel SBOM)
    owner: str | None = None  # purl of the Python distribution whose RECORD lists the file
    owner_location: Location | None = None
    os_package: str | None = None  # purl of the OS package that lists the file
    disagreements: tuple[str, ...] = ()  # what a wheel-embedded SBOM (PEP 770) says otherwise
    status: Status = Status.USED  # shadowed when the owning distribution is

    @property
    def normalized_name(self) -> str:
        return self.name

    @property
    def confidence(self) -> Confidence | None:
        return self.evidence[0].confidence if self.evidence else None

    @property
    def locations(self) -> tuple[Location, ...]:
        return (self.location,)


@dataclass(frozen=True, slots=True)
class OsPackage:
    """A package an OS package database (dpkg ``status``, apk ``installed``, rpm ``rpmdb.sqlite``) lists."""

    name: str  # binary package name
    version: str  # as the package manager writes it, epoch and release included ("1:3.0.11-1~deb12u2")
    purl: str  # pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12
    package_manager: Literal["dpkg", "apk", "rpm"]
    location: Location  # the database file
    ecosystem: str | None = None  # OSV ecosystem ("Debian:12", "Alpine:v3.19"); None: release unknown
    arch: str | None = None
    source_name: str | None = None  # the source package (OSV Debian and Alpine records name those)
    source_version: str | None = None
    files: tuple[str, ...] = ()  # paths it owns, relative to the artifact root
    status: Status = Status.USED

    @property
    def normalized_name(self) -> str:
        return self.name

    @property
    def locations(self) -> tuple[Location, ...]:
        return (self.location,)


# The closed union of components. Later catalogers (vendored trees, declared requirements) add
# their types here; consumers match on the type and end with assert_never.
Component = PythonDist | NativeLib | NativeComponent | OsPackage
# What advisories are matched against (a NativeLib is the file; what it is, is a NativeComponent).
Matchable = PythonDist | NativeComponent | OsPackage


def component_location(component: Component) -> Location:
    """The one location that tells two copies of a component apart (a distribution's METADATA file,
    a library's file, a package database)."""
    if isinstance(component, PythonDist):
        return component.metadata_location
    return component.location


def assert_never(value: NoReturn) -> NoReturn:
    """Exhaustiveness check for matches on ``Component`` (``typing.assert_never`` is 3.11+)."""
    raise AssertionError(f"unhandled component type {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class AdvisoryData:
    """Which advisory data a scan was matched against (so an audit can be reproduced)."""

    source: str
    records: int
    newest_modified: str | None
    inputs: tuple[str, ...] = ()  # offline: every imported source as "<location> sha256:<hex>"


@dataclass(frozen=True, slots=True)
class InputFile:
    """A file given on the command line that the scanned view is made of (a Lambda layer zip)."""

    path: str
    sha256: str | None
    size: int | None


@dataclass(frozen=True, slots=True)
class ArtifactInfo:
    """What was scanned."""

    path: str
    kind: str
    size: int | None
    layers: tuple[str, ...] = ()
    sha256: str | None = None  # of the input file; computed only when a report needs it (SBOMs)
    # The other files the view was made of (Lambda layer zips, in the order applied), hashed like ``sha256``.
    inputs: tuple[InputFile, ...] = ()
    describes: str | None = None  # rescan: the artifact the SBOM (``path``) describes, as the SBOM names it

    @property
    def label(self) -> str:
        """How reports name what was scanned: the path, or for a rescan
        ``function.zip (described by sbom.cdx.json)`` when the SBOM names its artifact."""
        if self.describes is None:
            return self.path
        sbom = self.path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or self.path
        return f"{self.describes} (described by {sbom})"


# -- advisories (OSV schema 1.6, https://ossf.github.io/osv-schema/) ---------------------------


@dataclass(frozen=True, slots=True)
class RangeEvent:
    """One event of an OSV range: ``introduced``, ``fixed``, ``last_affected`` or ``limit``."""

    kind: Literal["introduced", "fixed", "last_affected", "limit"]
    value: str


@dataclass(frozen=True, slots=True)
class AffectedRange:
    """An OSV ``affected[].ranges[]`` entry."""

    type: str  # ECOSYSTEM, SEMVER, GIT
    events: tuple[RangeEvent, ...]
    repo: str | None = None  # a GIT range's repository URL, as written


@dataclass(frozen=True, slots=True)
class AffectedPackage:
    """An OSV ``affected[]`` entry for one package."""

    ecosystem: str
    name: str  # as written in the record
    normalized_name: str  # PEP 503 for PyPI, as written otherwise
    ranges: tuple[AffectedRange, ...]
    versions: tuple[str, ...]
    # The PEP 440 canonical forms of ``versions`` when a store precomputed them (the offline
    # database does, at import), so matching never parses the list again; None: computed on use.
    canonical: frozenset[str] | None = field(default=None, compare=False, repr=False)
    # The ecosystem's suffix ("12" of "Debian:12", "v3.19" of "Alpine:v3.19"); ``ecosystem`` is the base.
    release: str | None = None

    @property
    def full_ecosystem(self) -> str:
        """The ecosystem as the record writes it ("Debian:12")."""
        return self.ecosystem if self.release is None else f"{self.ecosystem}:{self.release}"


@dataclass(frozen=True, slots=True)
class Severity:
    """An OSV ``severity[]`` entry: a CVSS vector (``score`` in the OSV schema's words) and its
    base score, computed by the parser (``osv_schema.cvss_score``); None when it cannot be scored."""

    type: str  # CVSS_V2, CVSS_V3, CVSS_V4, Ubuntu
    vector: str
    score: float | None = None


@dataclass(frozen=True, slots=True)
class Advisory:
    """One OSV record."""

    id: str
    aliases: tuple[str, ...]
    summary: str | None
    details: str | None
    modified: str
    published: str | None
    withdrawn: str | None
    affected: tuple[AffectedPackage, ...]
    severity: tuple[Severity, ...]
    references: tuple[str, ...]
    source: str  # where the record came from: an export zip, a directory, the API URL


class Level(str, Enum):
    """Finding severity, ordered; ``unknown`` when the advisory carries no usable score."""

    UNKNOWN = "unknown"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _LEVEL_RANK[self]

    @classmethod
    def from_score(cls, score: float | None) -> Level:
        """CVSS v3/v4 qualitative rating scale (CVSS 3.1 specification, section 5)."""
        if score is None:
            return cls.UNKNOWN
        if score >= 9.0:
            return cls.CRITICAL
        if score >= 7.0:
            return cls.HIGH
        if score >= 4.0:
            return cls.MEDIUM
        return cls.LOW


_LEVEL_RANK = {Level.UNKNOWN: 0, Level.LOW: 1, Level.MEDIUM: 2, Level.HIGH: 3, Level.CRITICAL: 4}


@dataclass(frozen=True, slots=True)
class Suppression:
    """Why a finding is ignored (from ``.depscan.toml``)."""

    id: str
    reason: str
    expires: str | None


@dataclass(frozen=True, slots=True)
class Finding:
    """One vulnerability group (an advisory and its aliases) affecting one component copy."""

    rule: str  # "vulnerability"
    ids: tuple[str, ...]  # every id and alias of the group, the primary (OSV) id first
    component: Matchable
    level: Level
    score: float | None
    vector: str | None
    summary: str
    # PEP 440 versions no advisory of the group affects (from the advisories' ``fixed`` events)
    fixed_versions: tuple[str, ...]
    advisories: tuple[Advisory, ...]
    suppressed: Suppression | None = None
    fix: str | None = None  # the smallest of fixed_versions above the installed version: the upgrade to advise
    malformed_ranges: tuple[str, ...] = ()  # ids of advisories whose range bounds are not PEP 440 versions
    range_note: str | None = None  # what that means for this finding, for people
    # A native library's finding whose vulnerability the owning distribution's own finding already
    # reports (Pillow's advisory for the libwebp it bundles): that finding's primary id. The two are
    # one vulnerability; counts and exit codes count it once (docs/advisories.md, "Linking").
    covered_by: str | None = None
    # A known-malicious package: an OSV ``MAL-`` record (OpenSSF malicious-packages) is in the group.
    # The whole project is malicious, so any installed version matches; level critical; it fails the
    # run at any --fail-on (docs/advisories.md, "Known-malicious packages").
    malicious: bool = False

    @property
    def id(self) -> str:
        return self.ids[0]

    @property
    def fingerprint(self) -> str:
        """Stable across runs: the rule, the group's primary id, the component's purl and path.

        Not the layer: image layer digests and layer zip names change with every rebuild, and the
        path alone already tells two copies apart (a merged view has one file per path). A requirements
        file's pin (``found_by`` ``declared``) is located at its file, its line kept apart
        (``declared_line``): a line inserted above must not make the finding new (as
        ``PolicyFinding.fingerprint``).
        """
        import hashlib

        c = self.component
        path = component_location(c).path
        key = f"{self.rule}|{self.id}|{c.purl}|{path}"
        # surrogatepass: tar member names that are not UTF-8 arrive as lone surrogates
        return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class PolicyFinding:
    """A finding that is not an advisory: a rule the artifact breaks (a native library no package owns,
    a module built for another machine or a newer glibc than the runtime's, ...)."""

    rule: str  # kebab-case rule id, documented in README ("native-unowned", "native-wrong-machine", ...)
    level: Level
    location: Location
    message: str  # one sentence: what is wrong and what to do
    component: str | None = None  # purl (or the file's component key) the rule is about
    # What in that component the finding is about, when one rule can fire several times on it (the
    # required distribution's name, for requirement rules); part of the fingerprint when set.
    about: str | None = None
    # Where in a text file (a requirements line of a repository check): the 1-based line, the offending
    # text as written, and the fix in one sentence. None for findings about an artifact's members.
    line: int | None = None
    text: str | None = None
    fix: str | None = None

    @property
    def fingerprint(self) -> str:
        import hashlib

        # the line is left out on purpose: inserting a line above must not make a finding "new"
        key = f"{self.rule}|{self.component or ''}|{self.location.path}"
        if self.about is not None:
            key += f"|{self.about}"
        return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class TargetRuntime:
    """The runtime a scan's native code and wheels are judged against (``runtimes.infer_target``):
    from ``--runtime`` / ``--arch``, or inferred from the artifact. A part left None is unknown, and the
    checks that need it are skipped (with a note)."""

    runtime: str | None = None  # AWS Lambda runtime identifier ("python3.12"), when one applies
    python: str | None = None  # "3.12"
    machine: str | None = None  # ELF machine name, as ``NativeLib.arch``: "x86_64", "aarch64"
    glibc: str | None = None  # "2.34"
    basis: tuple[str, ...] = ()  # how each part was learned, one phrase each
    libc: str | None = None  # "glibc" or "musl" (None: unknown)

    def describe(self) -> str:
        parts = [f"runtime {self.runtime}" if self.runtime else None,
                 f"Python {self.python}" if self.python else None,
                 f"glibc {self.glibc}" if self.glibc else ("musl libc" if self.libc == "musl" else None),
                 f"machine {self.machine}" if self.machine else None]
        known = ", ".join(p for p in parts if p) or "unknown"
        return known + (f" ({'; '.join(self.basis)})" if self.basis else "")


@dataclass(frozen=True, slots=True)
class PreviousFinding:
    """A finding of a previous run, as its JSON report recorded it."""

    fingerprint: str
    id: str
    purl: str
    path: str
    layer: str | None


@dataclass(frozen=True, slots=True)
class BaselineDiff:
    """Findings compared with a previous run's (``--baseline``)."""

    path: str
    new: frozenset[str]  # fingerprints of current findings the previous run did not have
    unchanged: frozenset[str]
    fixed: tuple[PreviousFinding, ...]  # previous findings that are gone


@dataclass(frozen=True, slots=True)
class ScanResult:
    """Everything a scan produced. Reporters turn this into bytes."""

    artifact: ArtifactInfo
    components: tuple[Component, ...]
    unknowns: tuple[Unknown, ...]
    warnings: tuple[str, ...] = ()
    tool_version: str = ""
    stats: dict[str, int | float] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()
    advisory_data: AdvisoryData | None = None  # None: advisories were not checked
    unchecked: tuple[tuple[str, str], ...] = ()  # (purl, why) of components whose lookup failed
    notes: tuple[str, ...] = ()  # advisory notes: stale data, expired ignores, --only-fixed drops
    baseline: BaselineDiff | None = None
    source_kind: str = "artifact"  # "artifact" (scan) or "sbom" (rescan)
    policy_findings: tuple[PolicyFinding, ...] = ()
    # (purl, why) of components advisories cannot vouch for: a native library without a version, or a
    # kind no advisory data covers. Counted in the summary and never called clean.
    not_verifiable: tuple[tuple[str, str], ...] = ()
    target: TargetRuntime | None = None  # what policy checks judged against (None: no policy checks ran)
    # Upgrade advice per vulnerable distribution copy checked against the package index (--check-index);
    # None: not asked, and ``fixes.advice`` derives it from the advisory data alone.
    fixes: tuple[FixAdvice, ...] | None = None


@dataclass(frozen=True, slots=True)
class DeclaredRequirement:
    """One requirement a project declares (a requirements file, pyproject.toml, a lock file), where it is
    written. Made by the parsers of ``depscan/declared/``; judged by the repository rules (DS0xx)."""

    file: str  # path of the declaring file, relative to the checked root (POSIX)
    line: int  # 1-based line where the requirement starts (0 when the format gives no line)
    text: str  # the requirement as written (continuation lines joined, comment removed)
    name: str | None  # canonical (PEP 503) name; None when it cannot be known (a bare URL)
    specifier: str = ""  # the version specifier as packaging prints it ("" when none)
    extras: tuple[str, ...] = ()
    marker: str | None = None
    url: str | None = None  # URL or VCS requirement (``name @ url``, ``git+https://...``, a local path)
    editable: bool = False  # ``-e`` / ``--editable`` / an editable lock entry
    hashes: tuple[str, ...] = ()  # ``--hash`` values / lock hashes as "algorithm:hexdigest"
    pinned: str | None = None  # the version when the requirement pins exactly one (``==1.2.3``, ``===x``, a lock entry)
    source: str = "requirements"  # requirements | constraints | pyproject | lock | pipfile | setup.cfg
    group: str | None = None  # extra / dependency group / Pipfile section the requirement belongs to
    ignored: tuple[str, ...] = ()  # rule ids silenced on this line (``# depscan: ignore[DS001]``; "*" = all)


@dataclass(frozen=True, slots=True)
class DeclaredOption:
    """A global option of a requirements file (``--index-url``, ``--extra-index-url``, ``--trusted-host``,
    ``--find-links``, ``--require-hashes`` ...), where it is written."""

    file: str
    line: int
    name: str  # the long option name, normalized: "--extra-index-url"
    value: str | None
    text: str  # the line as written
    ignored: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DeclaredFile:
    """What one declared-dependency file says, and what in it could not be read (line + reason)."""

    path: str  # relative to the checked root (POSIX)
    # requirements | pyproject | poetry.lock | Pipfile | Pipfile.lock | uv.lock | pdm.lock | pylock | setup.cfg
    kind: str
    is_lock: bool  # a lock file: every entry should be an exact pin with hashes
    requirements: tuple[DeclaredRequirement, ...] = ()
    options: tuple[DeclaredOption, ...] = ()
    errors: tuple[tuple[int, str], ...] = ()  # (line or 0, one-line reason); the rest of the file is still read
    includes: tuple[str, ...] = ()  # files this one includes (``-r``/``-c``), resolved, relative to the root
    # PEP 735 dependency groups of a pyproject.toml: each group and the groups its requirements come from,
    # itself first, ``{include-group = ...}`` followed transitively (a requirement is listed once, in the
    # group that writes it)
    group_includes: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True, slots=True)
class FixAdvice:
    """What to upgrade one vulnerable distribution copy to (``depscan/fixes.py``), stated by every report.

    ``recommended`` is the smallest version above ``current`` that no advisory of the package known to the
    scan affects (every copy's findings, and what the source reports for the candidate; every range of every
    record, ``versions`` lists included); ``newest_in_major`` the newest
    such version in the installed major line (``release[0]``; for 0.x the line is ``0.<minor>``). Offline
    the candidates are the advisories' own versions (``fixed`` events, ``limit`` events, ``versions`` lists)
    and ``checked`` is False: nobody asked the package index whether they exist. With the index
    (``checked`` True) only a release that exists, is not yanked and has a file that installs on the
    target is recommended; ``why_not`` says why none is.
    """

    component_key: str  # facts.component_key of the copy
    name: str  # as spelled in METADATA
    normalized_name: str
    purl: str
    path: str  # the copy's METADATA path
    current: str
    recommended: str | None
    newest_in_major: str | None = None
    advisories: tuple[str, ...] = ()  # primary ids of the (active) findings the recommended version clears
    breaking: bool | None = None  # the recommended version leaves the installed major line; None: no recommendation
    checked: bool = False  # availability checked against the package index
    why_not: str | None = None  # why nothing is recommended (or why the recommendation is limited)
    conflicts: tuple[str, ...] = ()  # requirements of the installed set the recommended version breaks, as written
    notes: tuple[str, ...] = ()  # vendored copies, shadowed copies, what the index said
    status: Status = Status.USED
    hashes: tuple[str, ...] = ()  # "sha256:<hex>" of the recommended release's installable files (index only)
    index_url: str | None = None  # the index asked (checked only)
