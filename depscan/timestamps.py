"""RFC 3339 timestamps (OSV ``modified`` / ``published``), parsed and compared one way everywhere.

OSV writes ``2024-06-24T19:26:28.537871Z``, but records also carry nanoseconds, offsets
(``+02:00``) and fractions of any length; compared as strings, ``...00Z`` sorts after
``...00.5Z`` and an offset breaks the order altogether. ``datetime.fromisoformat`` only reads
``Z`` and 1-6 fraction digits from Python 3.11 on, so the grammar is read here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?)?"
    r"\s*(?:([Zz])|([+-])(\d{2}):?(\d{2}))?"
)
_NEVER = datetime.min.replace(tzinfo=timezone.utc)


def parse_timestamp(text: str) -> datetime | None:
    """An aware UTC ``datetime``, or None when ``text`` is not an RFC 3339 date-time (or date).

    Without an offset the time is read as UTC; digits beyond microseconds are dropped; a leap
    second (``:60``) counts as ``:59``.
    """
    match = _RFC3339.fullmatch(text.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, _zulu, sign, off_h, off_m = match.groups()
    try:
        when = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), min(int(second or 0), 59),
            int((fraction or "0")[:6].ljust(6, "0")), tzinfo=timezone.utc,
        )
        if sign is not None:
            offset = timedelta(hours=int(off_h), minutes=int(off_m))
            when = when - offset if sign == "+" else when + offset
    except (ValueError, OverflowError):
        return None
    return when


def timestamp_key(text: str | None) -> tuple[int, datetime, str]:
    """Sort key: times in time order; text that is not a time sorts before every time (by text)."""
    parsed = parse_timestamp(text) if text is not None else None
    return (1, parsed, "") if parsed is not None else (0, _NEVER, text or "")


def is_newer(text: str, than: str) -> bool:
    """Whether ``text`` is a later time than ``than`` (see ``timestamp_key`` for text that is not one)."""
    return timestamp_key(text) > timestamp_key(than)


def latest(values: Iterable[str | None]) -> str | None:
    """The latest of ``values`` as written (None when there is none)."""
    present = [v for v in values if v is not None]
    return max(present, key=timestamp_key) if present else None
