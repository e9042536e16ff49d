"""Redaction of volatile fields before golden comparison: serial numbers, timestamps, tool
versions, temporary paths and timings. Everything else must match byte for byte."""

from __future__ import annotations

import dataclasses
import re
from enum import Enum
from typing import Any

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


def redact_result(value: Any, pairs: list[tuple[str, str]]) -> Any:
    """``value`` (a ScanResult, or anything inside one) with every string's ``old`` parts replaced by
    ``new``, before rendering: a reporter that pads or wraps (rich tables centre their titles) then
    lays out the redacted text, so the output does not depend on how long the real paths were."""
    if isinstance(value, Enum):
        return value
    if isinstance(value, str):
        for old, new in pairs:
            value = value.replace(old, new)
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: redact_result(getattr(value, f.name), pairs) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes)
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # NamedTuple
        return type(value)(*(redact_result(v, pairs) for v in value))
    if isinstance(value, (tuple, list, set, frozenset)):
        return type(value)(redact_result(v, pairs) for v in value)
    if isinstance(value, dict):
        return {redact_result(k, pairs): redact_result(v, pairs) for k, v in value.items()}
    return value
