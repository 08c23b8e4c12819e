"""Byte-level facts about PDF signatures, found without trusting the PDF parser.

The attacks in the DSS corpus (spoofing, shadow attacks, byte-range tricks) work by making the
parsed view of a file differ from the bytes that were signed. So, beside pyHanko's parser, we
read the signature dictionaries straight from the bytes and check what a parser would take on
faith: the /ByteRange starts at 0 and stays in the file, the hole it leaves is exactly this
dictionary's own /Contents string, and the signed bytes end at the end of a revision (%%EOF).
When the parser gives up on a file, these facts alone still let us report each signature.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_BYTERANGE = re.compile(rb"/ByteRange\s*\[\s*([^\]]{0,200})\]")
_OBJ_HEADER = re.compile(rb"(\d{1,10})\s+(\d{1,5})\s+obj\b")
_CONTENTS = re.compile(rb"/Contents\s*<([0-9A-Fa-f\s]*)>")
_SUBFILTER = re.compile(rb"/SubFilter\s*/([A-Za-z0-9.#_\-]+)")
_TYPE = re.compile(rb"/Type\s*/([A-Za-z]+)")
_EOF_TAIL = re.compile(rb"%%EOF[\r\n\x00\x20\t\x0c]*$")


@dataclass
class RawSignature:
    """A signature dictionary as it sits in the bytes."""

    offset: int  # where the object header (or /ByteRange) starts
    obj_num: int | None
    byte_range: list[int]
    contents_start: int | None  # offset of '<' of this dictionary's own /Contents
    contents_end: int | None  # offset just past '>'
    contents: bytes  # DER bytes (hex decoded, padding kept)
    subfilter: str | None
    sig_type: str | None
    problems: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple:
        return (tuple(self.byte_range), self.contents.rstrip(b"\x00"))

    @property
    def signed_end(self) -> int:
        if len(self.byte_range) == 4:
            return self.byte_range[2] + self.byte_range[3]
        return 0

    def ranges(self) -> list[tuple[int, int]]:
        br = self.byte_range
        return [(br[i], br[i + 1]) for i in range(0, len(br) - 1, 2)]


def _parse_ints(raw: bytes) -> list[int] | None:
    try:
        return [int(x) for x in raw.split()]
    except ValueError:
        return None


def _last_header_before(data: bytes, pos: int):
    """The last ``N G obj`` header before ``pos`` (searching backwards, not scanning forward)."""
    limit = max(0, pos - 200_000)
    end = pos
    while end > limit:
        at = data.rfind(b"obj", limit, end)
        if at == -1:
            return None
        h = _OBJ_HEADER.match(data, max(limit, at - 20), at + 3)
        if h is None:
            for start in range(max(limit, at - 20), at):
                h = _OBJ_HEADER.match(data, start, at + 3)
                if h is not None and h.end() == at + 3:
                    break
                h = None
        if h is not None:
            return h
        end = at
    return None


def scan(data: bytes) -> list[RawSignature]:
    """Every dictionary in the bytes that carries a /ByteRange, in file order."""
    found: list[RawSignature] = []
    for m in _BYTERANGE.finditer(data):
        br = _parse_ints(m.group(1))
        if br is None:
            continue
        header = _last_header_before(data, m.start())
        obj_start = header.start() if header else m.start()
        if header is not None and data.find(b"endobj", header.end(), m.start()) != -1:
            header, obj_start = None, m.start()
        obj_end = data.find(b"endobj", m.end())
        if obj_end == -1:
            obj_end = len(data)
        contents_m = None
        for cm in _CONTENTS.finditer(data, obj_start, obj_end):
            contents_m = cm
            break
        contents = b""
        cstart = cend = None
        if contents_m:
            cstart, cend = contents_m.start(1) - 1, contents_m.end(1) + 1
            hexstr = re.sub(rb"\s", b"", contents_m.group(1))
            if len(hexstr) % 2:
                hexstr += b"0"
            try:
                contents = bytes.fromhex(hexstr.decode("ascii"))
            except ValueError:
                contents = b""
        dict_bytes = data[obj_start:obj_end]
        if b"/MACLocation" in dict_bytes:
            continue  # an ISO 32004 MAC token (PDF 2.0 encryption), not a signature
        sf = _SUBFILTER.search(dict_bytes)
        tp = _TYPE.search(dict_bytes)
        found.append(
            RawSignature(
                offset=obj_start,
                obj_num=int(header.group(1)) if header else None,
                byte_range=br,
                contents_start=cstart,
                contents_end=cend,
                contents=contents,
                subfilter=sf.group(1).decode("latin-1") if sf else None,
                sig_type=tp.group(1).decode("latin-1") if tp else None,
            )
        )
    return found


def check_byte_range(data: bytes, sig: RawSignature) -> list[str]:
    """Structural problems of one signature's byte range (empty list when sound)."""
    problems: list[str] = []
    br = sig.byte_range
    n = len(data)
    if len(br) != 4 or any(x < 0 for x in br):
        return ["ByteRange is not four non-negative integers"]
    a, b, c, d = br
    if a != 0:
        problems.append("ByteRange does not start at the beginning of the file")
    if not (0 < b < c) or c + d > n:
        problems.append("ByteRange points outside the file or its ranges overlap")
        return problems
    if sig.contents_start != b or sig.contents_end != c:
        problems.append("the gap left by ByteRange is not this signature's own /Contents value")
    if not _EOF_TAIL.search(data[max(0, c + d - 64) : c + d]):
        problems.append("the signed bytes do not end at the end of a revision (%%EOF)")
    return problems


def revision_ends(data: bytes) -> list[int]:
    """Offsets just past each %%EOF marker (and its end-of-line), i.e. where revisions end."""
    ends = []
    for m in re.finditer(rb"%%EOF(\r\n|\r|\n)?", data):
        ends.append(m.end())
    return ends


def looks_like_pdf(data: bytes) -> bool:
    return b"%PDF-" in data[:1024]
