"""What git tracks below a directory: the one ``git ls-files`` call of ``depscan check`` and of the
committed-dependency rules (``committed.py``). Kept apart from both so that a pre-commit run on files, which
needs neither git nor the catalogers, imports nothing of it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

GIT_TIMEOUT = 60.0  # seconds for git ls-files


def tracked_files(root: Path) -> tuple[list[str] | None, str | None]:
    """The files git tracks below ``root``, relative to it (``git ls-files -z --cached``: the index, so
    staged files count, untracked and ignored ones do not), or None and why git could not list them."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "--cached"],
            capture_output=True, timeout=GIT_TIMEOUT, check=False,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        )
    except FileNotFoundError:
        return None, "git is not installed"
    except subprocess.TimeoutExpired:
        return None, f"git ls-files gave no answer within {GIT_TIMEOUT:.0f} s"
    except OSError as e:
        return None, f"git could not be run ({e.strerror or e})"
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
        return None, lines[0] if lines else f"git ls-files exited with {done.returncode}"
    # unmerged paths are listed once per stage
    return list(dict.fromkeys(os.fsdecode(p) for p in done.stdout.split(b"\0") if p)), None
