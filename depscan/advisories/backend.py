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
    """One package version to check (name PEP 503 normalized for PyPI)."""

    ecosystem: str
    name: str
    version: str


@dataclass
class LookupResult:
    """Advisories affecting each query, and the queries that could not be checked (with why)."""

    affected: dict[PackageQuery, list[Advisory]] = field(default_factory=dict)
    failed: dict[PackageQuery, str] = field(default_factory=dict)
    data: AdvisoryData | None = None


class AdvisoryBackend(ABC):
    """Finds the advisories that affect given package versions."""

    name: str

    @abstractmethod
    def lookup(self, queries: Sequence[PackageQuery]) -> LookupResult:
        """Check every query. A query that could not be checked goes to ``failed``, never to 'clean'."""
