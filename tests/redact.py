"""Redaction of volatile fields before golden comparison: serial numbers, timestamps, tool
versions, temporary paths and timings. Everything else must match byte for byte."""

from __future__ import annotations

import re

_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"urn:uuid:[0-9a-fA-F-]{36}"), "urn:uuid:REDACTED"),
    (re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})"), "TIMESTAMP"),
]


def redact(text: str, *, extra: list[tuple[str, str]] | None = None) -> str:
    """Replace serial numbers and timestamps; ``extra`` are literal (old, new) pairs applied first:
    the test's tmp_path, ``depscan.__version__`` in its context, and the like."""
    for old, new in extra or []:
        text = text.replace(old, new)
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text
