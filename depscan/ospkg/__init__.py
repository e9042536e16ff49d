"""OS package databases (dpkg, apk) and the distribution release they belong to (os-release).

Parsers only: each takes the bytes of one database and returns plain records, raising
``DatabaseError`` (one line, naming the problem) for a database it cannot read. The cataloger
``depscan.catalogers.os_packages`` turns the records into ``OsPackage`` components.
"""

from __future__ import annotations


class DatabaseError(ValueError):
    """A package database that cannot be read; the message is one line."""
