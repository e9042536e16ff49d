"""The interface both advisory backends (offline database, online OSV API) implement."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

from depscan.errors import DepscanError, ExitCode
from depscan.models import Advisory, AdvisoryData


class AdvisoryError(DepscanError):
    """Advisory data could not be obtained: the scan must not claim 'no vulnerabilities'."""

    exit_code = ExitCode.LOOKUP_FAILED


@dataclass(frozen=True, slots=True)
class PackageQuery:
    """One package version to check (name PEP 503 normalized for PyPI).

    Besides ``PyPI``: an OSV distribution ecosystem with its release (``Debian:12``) and the package
    name its records use; or ``GIT`` with the normalized repository URL as the name
    (``native_repos.normalize_repo_url``) and the library's version as it spells it (``1.1.1k``).
    """

    ecosystem: str
    name: str
    version: str


@dataclass
class LookupResult:
    """Advisories affecting each query, and the queries that could not be checked (with why)."""

    affected: dict[PackageQuery, list[Advisory]] = field(default_factory=dict)
    failed: dict[PackageQuery, str] = field(default_factory=dict)
    data: AdvisoryData | None = None
    # Records that name the queried package but cannot say whether its version is affected (a GIT
    # range given by commits only): (advisory id, why), per query. Never read as "not affected".
    unverifiable: dict[PackageQuery, list[tuple[str, str]]] = field(default_factory=dict)
    # Queries the source holds no data for at all (an offline database without the ecosystem's
    # export): an empty answer there means nothing, so the component is not verifiable (why).
    uncovered: dict[PackageQuery, str] = field(default_factory=dict)


class AdvisoryBackend(ABC):
    """Finds the advisories that affect given package versions."""

    name: str

    @abstractmethod
    def lookup(self, queries: Sequence[PackageQuery]) -> LookupResult:
        """Check every query. A query that could not be checked goes to ``failed``, never to 'clean'."""
