"""Attachment payloads lifted out of the XML before libxml2 parses it.

An attachment travels as one text node of megabytes of base64. Left in the document, libxml2
copies it into the tree (growing a buffer as it reads), lxml copies it out again and only then
is it decoded: several megabyte-sized temporaries per package, each a fresh run of page faults
that cost more than the parsing. Instead we find each ``ContentTransferEncoded`` text in the
raw bytes, check it is strict base64 (pybase64, SIMD), and hand libxml2 the document with a
short placeholder in its stead; the reader takes the payload by placeholder, as a view of the
input that ``b64file.Base64File`` decodes on demand.

Why the tree is still exactly the original's:

* a region is lifted only if it lies between a ``>`` and the next ``<`` and decodes as strict
  base64 (``A-Z a-z 0-9 + / =`` only: no whitespace, ``&``, ``]]>``, control or non-ASCII
  characters). Such a run is inert wherever it sits: swapping it for another alphanumeric run
  cannot change well-formedness, the structure or any line number;
* after parsing, every placeholder must be the whole text of a childless
  ``ContentTransferEncoded`` element. The placeholder carries a random token, so a sender
  cannot forge it: finding it there proves the region was exactly that element's text (and not
  inside a comment, a processing instruction or another element's mixed content).

If the lifted document is malformed or a placeholder is not found where it must be, the caller
parses the original bytes instead, so error messages (line, column) are always the original's.
"""

from __future__ import annotations

import secrets

from lxml import etree

from edoc.edxml.attachments import decode_strict

#: Payloads smaller than this are left to libxml2 (nothing to gain from lifting them).
LIFT_FLOOR = 4096
_TAG = b"ContentTransferEncoded"


def lift(data: bytes, max_regions: int) -> tuple[bytes, dict[str, memoryview]]:
    """(document with placeholders, {placeholder: base64 payload, a view of ``data``}); the
    document itself and an empty dict when there is nothing to lift. At most ``max_regions``
    candidate tags are examined, so a flood of them costs no more than the parser's own
    limits allow."""
    pieces: list[bytes] = []
    lifted: dict[str, memoryview] = {}
    token = ""
    copied = search = 0
    view = memoryview(data)
    for _ in range(max_regions):
        found = data.find(_TAG, search)
        if found < 0:
            break
        text_start = data.find(b">", found) + 1
        text_end = data.find(b"<", text_start) if text_start else -1
        if text_end < 0:
            break  # malformed; libxml2 will say where
        search = text_end
        if text_end - text_start < LIFT_FLOOR:
            continue
        text = view[text_start:text_end]
        if decode_strict(text) is None:  # decoded to check only: freed before it is read
            continue  # wrapped lines or stray characters: libxml2 and the lenient decoder
        token = token or "edocLifted" + secrets.token_hex(16)
        placeholder = f"{token}n{len(lifted)}"
        pieces += (view[copied:text_start], placeholder.encode("ascii"))
        copied = text_end
        lifted[placeholder] = text
    if not lifted:
        return data, lifted
    pieces.append(view[copied:])
    return b"".join(pieces), lifted


def verify(root: etree._Element, lifted: dict[str, memoryview]) -> bool:
    """Whether each placeholder is the whole text of its own childless
    ``ContentTransferEncoded`` element (see the module docstring for why this suffices)."""
    if not lifted:
        return True
    found = 0
    for element in root.iter("{*}ContentTransferEncoded"):
        if element.text in lifted:
            if len(element):
                return False
            found += 1
    return found == len(lifted)
