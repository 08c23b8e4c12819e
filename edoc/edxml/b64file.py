"""A base64 text read as the file it encodes, decoded on demand.

The attachment ZIP of a received package is only ever read through ``zipfile``: the end
record, the directory and the local header in small reads, then the entry's data in one. Over
this file nothing but the entry's data is ever held in full, and it is decoded chunk by chunk
into its final buffer: no decoded copy of the whole ZIP next to the file it contains (two
megabyte-sized buffers instead of one, and page faults for each).
"""

from __future__ import annotations

import io

import pybase64

_GROUPS = 1 << 14  # 4-character groups decoded at a time: 48 KiB out, well under mmap sizes


class Base64File:
    """Read-only, seekable, with ``io.BytesIO``'s seek and read semantics (so ``zipfile``
    behaves, and words its errors, exactly as over the decoded bytes). ``text`` must be
    strict base64 (alphabet only, length a multiple of 4, padding at the end)."""

    def __init__(self, text: bytes | memoryview) -> None:
        self._text = memoryview(text)
        padding = bytes(self._text[-2:]).count(b"=")
        self._size = len(self._text) // 4 * 3 - padding
        self._pos = 0

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            if offset < 0:
                raise ValueError(f"negative seek value {offset}")
        elif whence == io.SEEK_CUR:
            offset += self._pos
        elif whence == io.SEEK_END:
            offset += self._size
        else:
            raise ValueError(f"invalid whence ({whence}, should be 0, 1 or 2)")
        self._pos = max(offset, 0)
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        start = self._pos
        end = self._size if size is None or size < 0 else min(self._size, start + size)
        if end <= start:
            return b""
        self._pos = end
        return _decode_range(self._text, start, end)


def _decode_range(text: memoryview, start: int, end: int) -> bytes:
    """Bytes ``start:end`` of what ``text`` decodes to."""
    first, last = start // 3, (end + 2) // 3  # the 4-character groups covering the range
    skip, length = start % 3, end - start
    if last - first <= _GROUPS:
        decoded = pybase64.b64decode(text[4 * first:4 * last], validate=True)
        return decoded[skip:skip + length]
    out = io.BytesIO()
    out.seek(length - 1)  # the final size, allocated once; getvalue() hands it over
    out.write(b"\0")
    out.seek(0)
    left = length
    for group in range(first, last, _GROUPS):
        piece = pybase64.b64decode(text[4 * group:4 * min(group + _GROUPS, last)],
                                   validate=True)
        if group == first:
            piece = piece[skip:]
        out.write(piece[:left])
        left -= min(len(piece), left)
    return out.getvalue()
