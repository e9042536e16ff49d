"""``python -m depscan``."""

from __future__ import annotations

from depscan.cli import main

if __name__ == "__main__":
    main()
