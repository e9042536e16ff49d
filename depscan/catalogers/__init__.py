"""Catalogers turn an artifact view into components (and unknowns).

Catalogers run in the order ``scan.default_catalogers`` lists them, each over the same view. A
cataloger that builds on what another found (native libraries take their owner from the Python
distributions' RECORDs) names it in ``needs`` and receives every component found before it as
``catalog(view, earlier)``; ``check_order`` refuses an order in which a need would run later.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from depscan.artifacts.view import ArtifactView
from depscan.models import Component, Unknown


@dataclass(frozen=True, slots=True)
class CatalogResult:
    """What one cataloger found."""

    components: tuple[Component, ...]
    unknowns: tuple[Unknown, ...]


class Cataloger(ABC):
    """Finds one kind of component in a view."""

    name: str
    # Names of the catalogers whose components this one reads from ``earlier``: they run first.
    needs: tuple[str, ...] = ()

    @abstractmethod
    def wants(self, path: str) -> bool:
        """Whether this cataloger will read the whole member at ``path`` (kept during streaming passes)."""

    def wants_prefix(self, path: str) -> int:
        """How many leading bytes of the member at ``path`` this cataloger reads with
        ``ArtifactView.read_prefix`` (0: none). Streaming passes keep only that many bytes of a
        member no cataloger ``wants`` whole."""
        return 0

    def keep_whole(self, path: str, head: bytes) -> bool:
        """Whether a member this cataloger asked a prefix of (``wants_prefix``) is read whole after all,
        given those first bytes (an ELF file found by its magic): streaming passes then keep it whole."""
        return False

    def read_limit(self, path: str) -> int | None:
        """The most bytes this cataloger reads of the member at ``path`` when it ``wants`` it whole
        (None: up to ``Limits.max_member_bytes``). Streaming passes keep no larger member."""
        return None

    @abstractmethod
    def catalog(self, view: ArtifactView, earlier: Sequence[Component] = ()) -> CatalogResult:
        """Find components in ``view``; ``earlier`` holds what the catalogers before this one found."""


def check_order(catalogers: Sequence[Cataloger]) -> None:
    """Raise ``ValueError`` when a cataloger runs before (or without) a cataloger it ``needs``."""
    seen: set[str] = set()
    for cataloger in catalogers:
        missing = [name for name in cataloger.needs if name not in seen]
        if missing:
            raise ValueError(f"cataloger {cataloger.name!r} needs {', '.join(missing)} to run before it")
        seen.add(cataloger.name)
