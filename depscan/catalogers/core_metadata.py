"""The header fields of a METADATA / PKG-INFO file that the inventory uses, split without the email parser.

``packaging.metadata.parse_email`` is the semantic parser of core metadata, and it runs every file
through ``email.parser`` (a feed parser, a policy, a message object per file): most of the
Python cataloger's time on a zip of many small distributions. ``parse_headers`` splits the header
block exactly as that parser does (the same header-line pattern, the same line breaks, the same
folding and stripping of values) and applies ``parse_email``'s rules to the fields the inventory
reads: a single-use field given once is a string, given twice it is dropped (``parse_email``
moves it to "unparsed"), and a multiple-use field is a list. Non-ASCII bytes are handled as the
email parser and ``parse_email`` handle them together: the block is decoded as ASCII with
``surrogateescape`` (so no byte but CR and LF breaks a line and no non-ASCII byte belongs to a
field name), a value holding non-ASCII bytes is their UTF-8 decoding, and a field any of whose
values is not valid UTF-8 is dropped (``parse_email`` moves it to "unparsed").
``tests/catalogers/test_core_metadata.py`` compares both on real and edge-case files.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:  # packaging.metadata imports the email package: kept off the scan path
    from packaging.metadata import RawMetadata

# email.feedparser.headerRE: what the email parser accepts as a header line (an mbox "From " line,
# a field name of printable ASCII other than ":" followed by ":", or a continuation line).
_HEADER_LINE = re.compile(r"From |[\041-\071\073-\176]*:|[\t ]")
# email.feedparser splits on "\r\n", "\r" and "\n" only (str.splitlines knows more breaks).
_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
# The breaks str.splitlines knows besides "\n" that can appear in a block decoded as ASCII with
# surrogateescape (bytes from 0x80 up are surrogates there, so never "\x85" or "\u2028").
_OTHER_BREAKS = "\r\x0b\x0c\x1c\x1d\x1e"
_SMALL_BLOCK = 64 * 1024  # a list of its lines is at most this many strings

# The fields the inventory reads: email field name -> RawMetadata key.
SINGLE_FIELDS = {
    "name": "name",
    "version": "version",
    "summary": "summary",
    "home-page": "home_page",
    "license": "license",
    "license-expression": "license_expression",
    "requires-python": "requires_python",
}
MULTIPLE_FIELDS = {
    "requires-dist": "requires_dist",
    "classifier": "classifiers",
}
# Multiple-use fields that parse_email turns into a mapping: "label, URL" lines, labels unique.
MAPPING_FIELDS = {
    "project-url": "project_urls",
}


_READ_FIELDS = frozenset(SINGLE_FIELDS) | frozenset(MULTIPLE_FIELDS) | frozenset(MAPPING_FIELDS)


def parse_headers(block: bytes) -> RawMetadata:
    """The inventory's fields of a core metadata header block, as ``parse_email(block)[0]`` has them."""
    values: dict[str, list[list[str]]] = {}  # field name (lower case) -> the lines of each occurrence
    current: list[str] | None = None
    text = block.decode("ascii", "surrogateescape")
    lines: Iterable[str]
    if len(text) <= _SMALL_BLOCK and not any(character in text for character in _OTHER_BREAKS):
        # A usual block (a few KB, "\n" breaks only): str.splitlines breaks it exactly where email
        # does, and faster than the pattern.
        lines = text.splitlines(keepends=True)
    else:
        # Lines are taken one at a time and only the fields read below are kept: a header block of a
        # million distinct fields costs time in proportion and no memory.
        lines = (found.group() for found in _LINES.finditer(text))
    header_line = _HEADER_LINE.match
    for line in lines:
        first = line[0]
        if first == " " or first == "\t":  # what _HEADER_LINE's last branch accepts
            if current is not None:  # a continuation before any field is dropped, as email does
                current.append(line)
            continue
        # A field the inventory reads (most lines): its name is ASCII letters and "-" (the block is
        # decoded as ASCII, other bytes are surrogates that lower() keeps), so _HEADER_LINE accepts the
        # line and it is no "From " line; the pattern is asked about the other lines only.
        cut = line.find(":")
        if cut > 0:
            name = line[:cut].lower()
            if name in _READ_FIELDS:
                current = [line[cut + 1 :]]
                values.setdefault(name, []).append(current)
                continue
        if header_line(line) is None:
            break  # the empty line closing the headers, or a line that starts the body early
        if line.startswith("From "):
            current = None  # an mbox envelope line: email keeps it out of the headers
            continue
        cut = line.find(":")
        if cut == 0:
            current = None  # no field name: email records a defect and skips the line
            continue
        name = line[:cut].lower()
        if name not in _READ_FIELDS:
            current = None  # a field nobody reads: its continuation lines are dropped too
            continue
        current = [line[cut + 1 :]]
        values.setdefault(name, []).append(current)
    return _raw(values)


class _NotUTF8(Exception):
    """A value with bytes that are not UTF-8."""


def _value(lines: list[str]) -> str:
    # email.policy.compat32.header_source_parse: strip blanks after the colon, keep folded lines
    # as they are, strip the final line break.
    value = (lines[0].lstrip(" \t") + "".join(lines[1:])).rstrip("\r\n")
    if value.isascii():
        return value
    # Non-ASCII bytes (surrogate escapes here): email wraps the value in a Header, and
    # parse_email turns it back into bytes and decodes them as UTF-8, or gives up on the field.
    try:
        return value.encode("ascii", "surrogateescape").decode("utf-8")
    except UnicodeDecodeError as e:
        raise _NotUTF8 from e


def _raw(values: dict[str, list[list[str]]]) -> RawMetadata:
    found: dict[str, str | list[str]] = {}
    for field, key in SINGLE_FIELDS.items():
        occurrences = values.get(field)
        if occurrences is not None and len(occurrences) == 1:
            with contextlib.suppress(_NotUTF8):
                found[key] = _value(occurrences[0])
    for field, key in MULTIPLE_FIELDS.items():
        occurrences = values.get(field)
        if occurrences is not None:
            with contextlib.suppress(_NotUTF8):
                found[key] = [_value(lines) for lines in occurrences]
    for field, key in MAPPING_FIELDS.items():
        occurrences = values.get(field)
        if occurrences is not None:
            with contextlib.suppress(_NotUTF8, KeyError):
                found[key] = _labelled([_value(lines) for lines in occurrences])  # type: ignore[assignment]
    return cast("RawMetadata", found)


def _labelled(pairs: list[str]) -> dict[str, str]:
    """``Project-URL`` values as packaging reads them: split at the first comma, both sides stripped;
    a label given twice drops the field (``KeyError``), as parse_email moves it to "unparsed"."""
    urls: dict[str, str] = {}
    for pair in pairs:
        label, _, url = (part.strip() for part in pair.partition(","))
        if label in urls:
            raise KeyError(label)
        urls[label] = url
    return urls
