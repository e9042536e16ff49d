"""What an exported version accessor returns, read from its machine code (x86_64 and aarch64).

A library's version function is usually a leaf that returns a constant: ``WebPGetDecoderVersion`` in
Pillow 10.0.0's libwebp is ``b8 01 03 01 00 c3`` (``mov eax, 0x10301; ret``). A small table of instruction
shapes covers what GCC and Clang emit for such functions, optimized or not, with or without control-flow
protection prefixes; anything else is "not decoded" (None), never a guess:

x86_64 (optional ``endbr64``; optional ``push rbp; mov rbp, rsp`` ... ``pop rbp`` or ``leave``, the -O0 frame):
  ``mov eax, imm32`` / ``mov rax, simm32`` then ``ret`` (or ``repz ret``): an integer;
  ``lea rax, [rip + disp32]`` then ``ret``: the address of a string.
aarch64 (optional ``bti c`` / ``paciasp``; ``autiasp`` before ``ret``):
  ``movz w0|x0, #imm16 {, lsl #16*n}`` then any ``movk w0|x0`` then ``ret``: an integer;
  ``adrp x0, page; add x0, x0, #imm12`` (or ``adr x0, label``) then ``ret``: the address of a string.

The disassembler capstone would cover more shapes, but these are all that real version accessors use
(``bench/bench_native_ids.py``), and it would cost an import of a few megabytes in every scan.

Exported data is read as it is: a 32-bit integer object (``xsltLibxsltVersion``), or a pointer object
(``xmlParserVersion``) whose target is the relocation's addend (R_*_RELATIVE in ``.rela.dyn``; GNU ld on
x86_64 also writes it in place).
"""

from __future__ import annotations

import struct
from typing import NamedTuple

MAX_CODE = 32  # bytes read from a function's start: the longest shape is 4 + 4 + 10 + 1 + 1
MAX_STRING = 256  # bytes read for a returned string (up to its NUL)


class Returned(NamedTuple):
    """What a function returns: an integer constant, or the virtual address of data (``is_address``)."""

    value: int
    is_address: bool


# -- x86_64 ----------------------------------------------------------------------------------------------------

_ENDBR64 = b"\xf3\x0f\x1e\xfa"
_FRAME = b"\x55\x48\x89\xe5"  # push rbp; mov rbp, rsp


def decode_x86_64(code: bytes, address: int) -> Returned | None:
    """The constant a function starting at virtual ``address`` with bytes ``code`` returns, or None."""
    pos = 4 if code.startswith(_ENDBR64) else 0
    framed = code.startswith(_FRAME, pos)
    if framed:
        pos += len(_FRAME)
    returned: Returned | None = None
    if code[pos : pos + 1] == b"\xb8" and len(code) >= pos + 5:  # mov eax, imm32 (zero-extended)
        returned = Returned(int.from_bytes(code[pos + 1 : pos + 5], "little"), False)
        pos += 5
    elif code.startswith(b"\x48\xc7\xc0", pos) and len(code) >= pos + 7:  # mov rax, simm32
        value = int.from_bytes(code[pos + 3 : pos + 7], "little", signed=True)
        returned = Returned(value & 0xFFFFFFFFFFFFFFFF, False)
        pos += 7
    elif code.startswith(b"\x48\x8d\x05", pos) and len(code) >= pos + 7:  # lea rax, [rip + disp32]
        disp = int.from_bytes(code[pos + 3 : pos + 7], "little", signed=True)
        pos += 7
        returned = Returned((address + pos + disp) & 0xFFFFFFFFFFFFFFFF, True)
    if returned is None:
        return None
    if framed:
        if code[pos : pos + 1] not in (b"\x5d", b"\xc9"):  # pop rbp | leave
            return None
        pos += 1
    if code[pos : pos + 1] == b"\xc3" or code.startswith(b"\xf3\xc3", pos):  # ret | repz ret
        return returned
    return None


# -- aarch64 ---------------------------------------------------------------------------------------------------

_BTI_C, _PACIASP, _AUTIASP, _NOP = 0xD503245F, 0xD503233F, 0xD50323BF, 0xD503201F
_RET = 0xD65F03C0  # ret (x30)


def _sign_extend(value: int, bits: int) -> int:
    return value - (1 << bits) if value & (1 << (bits - 1)) else value


def decode_aarch64(code: bytes, address: int) -> Returned | None:
    """The constant an aarch64 function at virtual ``address`` (bytes ``code``, little-endian) returns."""
    words = [w for (w,) in struct.iter_unpack("<I", code[: len(code) // 4 * 4])]
    i = 0
    while i < len(words) and words[i] in (_BTI_C, _PACIASP):
        i += 1
    if i >= len(words):
        return None
    insn = words[i]
    returned: Returned | None = None
    if insn & 0x7F80001F == 0x52800000:  # movz w0|x0, #imm16, lsl #16*hw
        value = ((insn >> 5) & 0xFFFF) << (16 * ((insn >> 21) & 3))
        i += 1
        while i < len(words) and words[i] & 0x7F80001F == 0x72800000:  # movk w0|x0, #imm16, lsl #16*hw
            shift = 16 * ((words[i] >> 21) & 3)
            value = (value & ~(0xFFFF << shift)) | (((words[i] >> 5) & 0xFFFF) << shift)
            i += 1
        if not insn >> 31:  # w0: 32 bits
            value &= 0xFFFFFFFF
        returned = Returned(value, False)
    elif insn & 0x9F00001F == 0x90000000:  # adrp x0, page
        imm = _sign_extend((((insn >> 5) & 0x7FFFF) << 2) | ((insn >> 29) & 3), 21) << 12
        target = ((address + 4 * i) & ~0xFFF) + imm
        i += 1
        if i >= len(words) or words[i] & 0xFF8003FF != 0x91000000:  # add x0, x0, #imm12{, lsl #12}
            return None
        target += ((words[i] >> 10) & 0xFFF) << (12 * ((words[i] >> 22) & 1))
        i += 1
        returned = Returned(target & 0xFFFFFFFFFFFFFFFF, True)
    elif insn & 0x9F00001F == 0x10000000:  # adr x0, label
        imm = _sign_extend((((insn >> 5) & 0x7FFFF) << 2) | ((insn >> 29) & 3), 21)
        returned = Returned((address + 4 * i + imm) & 0xFFFFFFFFFFFFFFFF, True)
        i += 1
    if returned is None:
        return None
    if i < len(words) and words[i] == _AUTIASP:
        i += 1
    return returned if i < len(words) and words[i] == _RET else None


DECODERS = {"EM_X86_64": decode_x86_64, "EM_AARCH64": decode_aarch64}


# -- addresses -------------------------------------------------------------------------------------------------

class AddressMap:
    """Virtual address -> file offset through the PT_LOAD segments (sections when there are none)."""

    def __init__(self, ranges: list[tuple[int, int, int]], size: int) -> None:
        self._ranges = ranges  # (vaddr, filesz, offset)
        self._size = size

    def offset(self, address: int, length: int = 1) -> int | None:
        for vaddr, filesz, offset in self._ranges:
            if vaddr <= address and address + length <= vaddr + filesz:
                result = address - vaddr + offset
                return result if result + length <= self._size else None
        return None


def read_string(data: bytes, addresses: AddressMap, address: int) -> bytes | None:
    """The NUL-terminated string at virtual ``address`` (at most MAX_STRING bytes), or None."""
    start = addresses.offset(address)
    if start is None:
        return None
    end = data.find(b"\x00", start, start + MAX_STRING)
    return data[start:end] if end > start else None


def relocated_pointer(relocations: bytes, address: int, little: bool) -> int | None:
    """The addend of the R_X86_64_RELATIVE / R_AARCH64_RELATIVE relocation at ``address`` in ``.rela.dyn``'s
    bytes (ELF64 Rela: offset, info, addend), or None."""
    fmt = "<QQq" if little else ">QQq"
    for offset, info, addend in struct.iter_unpack(fmt, relocations[: len(relocations) // 24 * 24]):
        if offset == address and (info & 0xFFFFFFFF) in (8, 1027):  # R_X86_64_RELATIVE, R_AARCH64_RELATIVE
            return int(addend)
    return None
