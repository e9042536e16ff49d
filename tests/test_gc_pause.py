from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import pytest

from depscan.gc_pause import paused_gc


def test_paused_gc_restores_the_collector_as_it_was() -> None:
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block leaves the outer pause alone
    assert gc.isenabled()
    with pytest.raises(ValueError), paused_gc():
        raise ValueError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()  # off before, off after
    finally:
        gc.enable()


def test_a_one_shot_process_freezes_what_a_pause_built(tmp_path: Path) -> None:
    # In a process that asked for it (the CLI), the objects alive when a pause ends go to the
    # permanent generation: later collections, and the last one at exit, do not walk them again.
    code = (
        "import gc\n"
        "from depscan.artifacts.view import gc_paused\n"
        "from depscan.gc_pause import freeze_after_pauses, paused_gc\n"
        "with paused_gc():\n"
        "    built = [{'row': i} for i in range(1000)]\n"
        "assert gc.get_freeze_count() == 0, 'no freeze unless asked'\n"
        "freeze_after_pauses()\n"
        "with gc_paused():\n"
        "    more = [{'row': i} for i in range(1000)]\n"
        "assert gc.isenabled() and gc.get_freeze_count() > 2000, gc.get_freeze_count()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
