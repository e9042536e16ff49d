"""depscan: a dependency supply-chain scanner for Python deployment artifacts."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
