"""The few DER values a certificate's ``otherName`` carries (X.690), read strictly and written
— pure, no I/O. ``cryptography`` hands an ``otherName``'s value over as DER; a UZI card's is an
IA5String and its ``permanentIdentifier`` (RFC 4043) a SEQUENCE of a UTF8String and an OBJECT
IDENTIFIER. Anything else, or anything not in DER's one form, is :class:`DerError`."""

from __future__ import annotations

from dataclasses import dataclass

IA5_STRING = 0x16
UTF8_STRING = 0x0C
PRINTABLE_STRING = 0x13
OBJECT_IDENTIFIER = 0x06
SEQUENCE = 0x30
#: A value this long is no identifier: refused before it is read.
MAX_LENGTH = 4096


class DerError(ValueError):
    """Not the DER value expected."""


@dataclass(frozen=True)
class Tlv:
    tag: int
    content: bytes


def read(data: bytes, at: int = 0) -> tuple[Tlv, int]:
    """The value at ``at`` (single-byte tags only) and where the next one starts."""
    if at + 2 > len(data):
        raise DerError("truncated")
    tag, first = data[at], data[at + 1]
    if tag & 0x1F == 0x1F:
        raise DerError("multi-byte tags are not used here")
    start = at + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 2 or start + count > len(data):
            raise DerError("bad length")
        length = int.from_bytes(data[start : start + count], "big")
        if length < 0x80 or (count == 2 and length < 0x100):
            raise DerError("length not in its shortest form")
        start += count
    if length > MAX_LENGTH or start + length > len(data):
        raise DerError("truncated or too long")
    return Tlv(tag, data[start : start + length]), start + length


def read_one(data: bytes) -> Tlv:
    """The single value ``data`` is, nothing after it."""
    value, end = read(data)
    if end != len(data):
        raise DerError("trailing bytes")
    return value


def read_all(content: bytes) -> list[Tlv]:
    """The values one after another in a constructed value's content."""
    values: list[Tlv] = []
    at = 0
    while at < len(content):
        value, at = read(content, at)
        values.append(value)
    return values


def text(value: Tlv) -> str:
    """A string value: IA5 and Printable are ASCII, UTF8 is UTF-8."""
    try:
        if value.tag in (IA5_STRING, PRINTABLE_STRING):
            return value.content.decode("ascii")
        if value.tag == UTF8_STRING:
            return value.content.decode("utf-8")
    except UnicodeDecodeError:
        raise DerError("not a valid string") from None
    raise DerError(f"not a string (tag {value.tag:#x})")


def oid(value: Tlv) -> str:
    """An OBJECT IDENTIFIER in dotted form."""
    if value.tag != OBJECT_IDENTIFIER or not value.content or value.content[-1] & 0x80:
        raise DerError("not an object identifier")
    arcs: list[int] = []
    current = 0
    for index, byte in enumerate(value.content):
        if current == 0 and byte == 0x80 and (index == 0 or value.content[index - 1] < 0x80):
            raise DerError("object identifier arc not in its shortest form")
        current = (current << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(current)
            current = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in [first, arcs[0] - 40 * first, *arcs[1:]])


def encode(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + content


def encode_oid(dotted: str) -> bytes:
    arcs = [int(part) for part in dotted.split(".")]
    body = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return encode(OBJECT_IDENTIFIER, bytes(body))
