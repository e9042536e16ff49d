"""apk's database of installed packages: ``lib/apk/db/installed`` (Alpine, Wolfi).

Paragraphs of ``X:value`` lines separated by blank lines (apk-tools ``database.c``, the
"installed" format): ``P`` name, ``V`` version, ``A`` architecture, ``o`` origin (the source
package), ``F`` a directory, ``R`` a file in the last ``F`` directory. Other keys are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

from depscan.ospkg import DatabaseError

INSTALLED = "lib/apk/db/installed"


@dataclass(frozen=True, slots=True)
class ApkPackage:
    name: str
    version: str
    arch: str | None
    origin: str
    files: tuple[str, ...]


def parse_installed(data: bytes) -> list[ApkPackage]:
    """The packages an ``installed`` database lists, with the files each owns."""
    if b"\x00" in data:
        raise DatabaseError("binary data (NUL bytes), not an apk installed database")
    text = data.decode("utf-8", errors="replace")
    packages: list[ApkPackage] = []
    fields: dict[str, str] = {}
    files: list[str] = []
    directory = ""
    start = 0

    def finish() -> None:
        if not fields:
            return
        name, version = fields.get("P"), fields.get("V")
        if not name or not version:
            raise DatabaseError(f"line {start}: package without a P (name) or V (version) line")
        packages.append(ApkPackage(name, version, fields.get("A") or None, fields.get("o") or name, tuple(files)))

    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            finish()
            fields, files, directory = {}, [], ""
            continue
        if len(line) < 2 or line[1] != ":":
            raise DatabaseError(f"line {number}: not an 'X:value' line")
        if not fields and not files:
            start = number
        key, value = line[0], line[2:]
        if key == "F":
            directory = value.strip("/")
        elif key == "R":
            files.append(f"{directory}/{value}" if directory else value)
        fields.setdefault(key, value)
    finish()
    return packages
