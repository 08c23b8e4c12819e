"""Faster readers for PDF hex and literal strings, installed into pyHanko's parser.

WHY: a signature's /Contents is a hex string of 16-64 KB. pyHanko reads hex strings one byte
at a time through ``read_non_whitespace`` (about 1 µs per byte), which made parsing the two
signature dictionaries of a signed directive cost more than everything else in validation put
together. This reader finds the closing ``>`` with one ``find`` and decodes with ``unhexlify``;
anything unusual (a comment, a stray character, the end of the stream) falls back to pyHanko's
own reader, so results and errors are the same as before, only faster.

Literal strings ``(...)`` were read the same way, a byte at a time into a BytesIO: the few
hundred bytes of a signed directive's literals cost ~0.5 ms per validation. A literal with no
escape and no nested parenthesis is exactly the bytes up to the first ``)``; any other goes to
pyHanko's reader.
"""

from __future__ import annotations

import binascii
import re

from pyhanko.pdf_utils import generic

_original = generic.read_hex_string_from_stream
_original_literal = generic._read_string_literal_bytes
_PLAIN = re.compile(rb"[0-9A-Fa-f \n\r\t\x00\x0c]*")
_WHITESPACE = b" \n\r\t\x00\x0c"
_CHUNK = 1 << 16
_LITERAL_PEEK = 1 << 12


def read_hex_string_from_stream(stream):
    start = stream.tell()
    stream.read(1)  # the opening '<'
    parts: list[bytes] = []
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            stream.seek(start)
            return _original(stream)
        end = chunk.find(b">")
        if end == -1:
            parts.append(chunk)
            continue
        parts.append(chunk[:end])
        break
    body = b"".join(parts)
    if not _PLAIN.fullmatch(body):
        stream.seek(start)
        return _original(stream)  # comments or bad characters: let pyHanko decide
    stream.seek(start + 1 + len(body) + 1)
    digits = body.translate(None, _WHITESPACE)
    if len(digits) % 2:
        digits += b"0"
    return generic.pdf_string(binascii.unhexlify(digits))


def read_string_literal_bytes(stream) -> bytes:
    """The bytes of the literal string starting at ``stream``'s ``(``, the stream left after
    its closing ``)``: what pyHanko's ``_read_string_literal_bytes`` returns."""
    start = stream.tell()
    head = stream.read(_LITERAL_PEEK)
    end = head.find(b")", 1)
    if end != -1:
        body = head[1:end]
        if b"(" not in body and b"\\" not in body:
            stream.seek(start + end + 1)
            return body
    stream.seek(start)
    return _original_literal(stream)


def install() -> None:
    """Idempotent: replace pyHanko's hex- and literal-string readers by ours."""
    if generic.read_hex_string_from_stream is not read_hex_string_from_stream:
        generic.read_hex_string_from_stream = read_hex_string_from_stream
    if generic._read_string_literal_bytes is not read_string_literal_bytes:
        generic._read_string_literal_bytes = read_string_literal_bytes
