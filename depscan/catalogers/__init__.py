"""Catalogers turn an artifact view into components (and unknowns)."""

from __future__ import annotations

from abc import ABC, abstractmethod
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

    @abstractmethod
    def wants(self, path: str) -> bool:
        """Whether this cataloger will read the member at ``path`` (kept during streaming passes)."""

    @abstractmethod
    def catalog(self, view: ArtifactView) -> CatalogResult:
        """Find components in ``view``."""
