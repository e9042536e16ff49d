"""Text that came from an artifact, made writable: undecodable bytes are written escaped.

A tar member name or a METADATA field that is not UTF-8 is carried through depscan as Python
carries file names: each undecodable byte as a lone surrogate (``surrogateescape``: byte 0xE9 is
U+DCE9), so paths, fingerprints and lookups keep the exact bytes. No output encoding can write a
lone surrogate, so every report writes it escaped, as the byte it stands for: ``caf\\xe9``. A
surrogate that stands for no byte (a JSON ``"\\ud800"`` in a hostile SBOM) is written ``\\ud800``.
One rule for every format, applied to the finished text (one scan for a surrogate; nothing to do
in the usual case).
"""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")


def _escaped(char: str, backslash: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the byte code - 0xDC00
        return f"{backslash}x{code - 0xDC00:02x}"
    return f"{backslash}u{code:04x}"


def escape_surrogates(text: str) -> str:
    """``text`` with every lone surrogate written as ``\\xNN`` (an undecodable byte) or ``\\uNNNN``."""
    if _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub(lambda m: _escaped(m[0], "\\"), text)


def encode_text(text: str) -> bytes:
    """A finished plain-text report (table, Markdown) as UTF-8, surrogates escaped."""
    return escape_surrogates(text).encode("utf-8")


def escape_json_surrogates(text: str) -> str:
    """JSON text (a whole document or any piece of one) with surrogates escaped. They only occur
    inside string literals, where the escape's backslash must itself be escaped: the value read
    back is ``caf\\xe9``."""
    if _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub(lambda m: _escaped(m[0], "\\\\"), text)


def encode_json(text: str) -> bytes:
    """A finished JSON document as UTF-8, surrogates escaped."""
    return escape_json_surrogates(text).encode("utf-8")
