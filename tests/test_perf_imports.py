"""A scan imports what it needs: pyelftools and the classifiers only once an ELF file is found."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from builders import dist, elf_header, write_zip

CODE = (
    "import sys\n"
    "from depscan.config import ScanConfig\n"
    "from depscan.scan import run\n"
    "result = run(ScanConfig(sys.argv[1]))\n"
    "assert result.components, result\n"
    "print(sorted(m for m in sys.modules if m.startswith(('elftools', 'depscan.native'))))\n"
)


def _imported(path: Path) -> str:
    proc = subprocess.run([sys.executable, "-c", CODE, str(path)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_a_scan_without_elf_files_does_not_import_pyelftools(tmp_path: Path) -> None:
    out = _imported(write_zip(tmp_path / "pure.zip", dist("six", "1.16.0")))
    assert "elftools" not in out and "depscan.native.identify" not in out and "depscan.native.elf" not in out, out


def test_a_scan_with_an_elf_file_does(tmp_path: Path) -> None:
    files = dist("six", "1.16.0") | {"six.libs/libz-0123abcd.so.1": elf_header() + b"\0" * 64}
    out = _imported(write_zip(tmp_path / "native.zip", files))
    assert "elftools" in out and "depscan.native.elf" in out, out
