"""Find text lines and their positions on a PDF page.

WHY: officials' PDFs come from word processors and carry no signature field. The decree puts
the signature image between the signer's title and full name, and the clerk's number and date
on fixed lines of page 1, so we locate those lines by their text.

WHY our own interpreter: a general layout engine (pdfminer.six) spends ~100 ms per page on
glyph objects and layout analysis, more than the whole signature. We only need "which text is
on which baseline, from where to where": a regex tokenizer over the page's content stream, the
text and graphics matrices, font widths (/W, /Widths) and ToUnicode maps — a few ms per page.
Form XObjects are followed; text in images (scans) is, of course, not found.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from pyhanko.pdf_utils import generic

_TOKEN = re.compile(
    rb"""
    (?P<ws>[\x00\t\n\x0c\r ]+|%[^\r\n]*)
  | (?P<str>\()
  | (?P<hex><[0-9A-Fa-f\s]*>)
  | (?P<dict><<|>>)
  | (?P<arr>[\[\]])
  | (?P<name>/[^\x00\t\n\x0c\r ()<>\[\]{}/%]*)
  | (?P<num>[+-]?(?:\d+\.?\d*|\.\d+))
  | (?P<op>[^\x00\t\n\x0c\r ()<>\[\]{}/%]+)
  """,
    re.VERBOSE,
)
_ESC = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _literal(data: bytes, i: int) -> tuple[bytes, int]:
    """Parse a literal string starting after '(' at ``i``; return (bytes, index after ')')."""
    out = bytearray()
    depth = 1
    n = len(data)
    while i < n:
        c = data[i]
        if c == 0x5C:  # backslash
            i += 1
            e = data[i : i + 1]
            if e in _ESC:
                out += _ESC[e]
                i += 1
            elif e.isdigit():
                m = re.match(rb"[0-7]{1,3}", data[i : i + 3])
                out.append(int(m.group(), 8) & 0xFF)
                i += len(m.group())
            elif e in (b"\r", b"\n"):
                i += 1
                if e == b"\r" and data[i : i + 1] == b"\n":
                    i += 1
            else:
                out += e
                i += 1
            continue
        if c == 0x28:
            depth += 1
        elif c == 0x29:
            depth -= 1
            if depth == 0:
                return bytes(out), i + 1
        out.append(c)
        i += 1
    return bytes(out), i


def _tokens(data: bytes):
    """Yield ('op', name) or operand values (float, str name, bytes, list)."""
    i, n = 0, len(data)
    stack: list[list] = []
    while i < n:
        m = _TOKEN.match(data, i)
        if m is None:
            i += 1
            continue
        kind = m.lastgroup
        i = m.end()
        if kind == "ws":
            continue
        if kind == "str":
            val, i = _literal(data, i)
        elif kind == "hex":
            h = re.sub(rb"\s", b"", m.group()[1:-1])
            val = bytes.fromhex((h + b"0" * (len(h) % 2)).decode())
        elif kind == "num":
            val = float(m.group())
        elif kind == "name":
            val = m.group().decode("latin-1")
        elif kind == "arr":
            if m.group() == b"[":
                stack.append([])
                continue
            val = stack.pop() if stack else []
        elif kind == "dict":
            continue  # dictionaries only appear as operands we ignore (BDC, BI)
        else:
            op = m.group()
            if op == b"BI":  # skip inline image data up to EI
                j = data.find(b"EI", i)
                i = n if j < 0 else j + 2
                continue
            if stack:  # true/false/null inside arrays
                continue
            yield ("op", op.decode("latin-1"))
            continue
        if stack:
            stack[-1].append(val)
        else:
            yield val


@dataclass
class _Font:
    two_byte: bool
    widths: dict[int, float]
    default_width: float
    to_unicode: dict[int, str]
    first_char: int = 0

    def decode(self, s: bytes):
        if self.two_byte:
            codes = [int.from_bytes(s[i : i + 2], "big") for i in range(0, len(s) - 1, 2)]
        else:
            codes = list(s)
        for c in codes:
            text = self.to_unicode.get(c)
            if text is None:
                text = chr(c) if not self.two_byte else "\ufffd"
            yield c, text, self.widths.get(c, self.default_width)


def _cmap(stream) -> dict[int, str]:
    out: dict[int, str] = {}
    try:
        data = stream.get_object().data
    except Exception:  # noqa: BLE001 - a broken map only loses text
        return out

    def u(h: bytes) -> str:
        b = bytes.fromhex(h.decode())
        return b.decode("utf-16-be", errors="replace")

    for block in re.findall(rb"beginbfchar(.*?)endbfchar", data, re.S):
        for src, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]*)>", block):
            out[int(src, 16)] = u(dst)
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", data, re.S):
        for a, b, rest in re.findall(
            rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*(<[0-9A-Fa-f]*>|\[[^\]]*\])", block
        ):
            lo, hi = int(a, 16), int(b, 16)
            if rest.startswith(b"["):
                for k, d in enumerate(re.findall(rb"<([0-9A-Fa-f]*)>", rest)):
                    out[lo + k] = u(d)
            else:
                base = bytes.fromhex(rest[1:-1].decode())
                start = int.from_bytes(base, "big")
                width = len(base)
                for k in range(hi - lo + 1):
                    out[lo + k] = (start + k).to_bytes(width, "big").decode(
                        "utf-16-be", errors="replace"
                    )
    return out


def _font(obj) -> _Font:
    f = obj.get_object()
    to_uni = _cmap(f["/ToUnicode"]) if "/ToUnicode" in f else {}
    if f.get("/Subtype") == "/Type0":
        d = f["/DescendantFonts"][0].get_object()
        widths: dict[int, float] = {}
        w = d.get("/W")
        if w is not None:
            arr = list(w)
            i = 0
            while i < len(arr):
                first = int(arr[i])
                nxt = arr[i + 1]
                if isinstance(nxt, generic.ArrayObject | list):
                    for k, v in enumerate(nxt):
                        widths[first + k] = float(v)
                    i += 2
                else:
                    for c in range(first, int(nxt) + 1):
                        widths[c] = float(arr[i + 2])
                    i += 3
        return _Font(True, widths, float(d.get("/DW", 1000)), to_uni)
    first = int(f.get("/FirstChar", 0))
    ws = {first + k: float(v) for k, v in enumerate(f.get("/Widths", []))}
    return _Font(False, ws, 500.0, to_uni, first)


def _mul(a, b):
    return (
        a[0] * b[0] + a[1] * b[2], a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2], a[2] * b[1] + a[3] * b[3],
        a[4] * b[0] + a[5] * b[2] + b[4], a[4] * b[1] + a[5] * b[3] + b[5],
    )


_ID = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


@dataclass
class _Run:
    text: str
    x0: float
    x1: float
    y: float
    size: float


@dataclass(frozen=True)
class TextLine:
    """A line of text on a page; ``bbox`` is (x1, y1, x2, y2) in PDF user space (points),
    ``size`` the font size (points) of its text."""

    text: str
    bbox: tuple[float, float, float, float]
    size: float = 0.0

    @property
    def x_center(self) -> float:
        return (self.bbox[0] + self.bbox[2]) / 2

    @property
    def height(self) -> float:
        return self.bbox[3] - self.bbox[1]


@dataclass
class _Interp:
    runs: list[_Run] = field(default_factory=list)
    fonts: dict[int, _Font] = field(default_factory=dict)
    depth: int = 0

    def font(self, resources, name: str) -> _Font | None:
        try:
            ref = resources["/Font"].raw_get(name)
        except (KeyError, TypeError, AttributeError):
            return None
        key = ref.idnum if isinstance(ref, generic.IndirectObject) else id(ref)
        if key not in self.fonts:
            try:
                self.fonts[key] = _font(ref)
            except Exception:  # noqa: BLE001 - an unreadable font only hides its text
                return None
        return self.fonts[key]

    def run(self, data: bytes, resources, ctm=_ID) -> None:
        gs = [ctm]
        tm = tlm = _ID
        font: _Font | None = None
        fs = tc = tw = 0.0
        th, tl = 1.0, 0.0
        operands: list = []
        for tok in _tokens(data):
            if not (isinstance(tok, tuple) and tok[0] == "op"):
                operands.append(tok)
                continue
            op = tok[1]
            a = operands
            operands = []
            try:
                if op == "q":
                    gs.append(gs[-1])
                elif op == "Q":
                    if len(gs) > 1:
                        gs.pop()
                elif op == "cm" and len(a) >= 6:
                    gs[-1] = _mul(tuple(a[-6:]), gs[-1])
                elif op == "BT":
                    tm = tlm = _ID
                elif op == "Tf" and len(a) >= 2:
                    font, fs = self.font(resources, a[-2]), a[-1]
                elif op == "Tc":
                    tc = a[-1]
                elif op == "Tw":
                    tw = a[-1]
                elif op == "Tz":
                    th = a[-1] / 100
                elif op == "TL":
                    tl = a[-1]
                elif op in ("Td", "TD") and len(a) >= 2:
                    if op == "TD":
                        tl = -a[-1]
                    tm = tlm = _mul((1, 0, 0, 1, a[-2], a[-1]), tlm)
                elif op == "Tm" and len(a) >= 6:
                    tm = tlm = tuple(a[-6:])
                elif op == "T*":
                    tm = tlm = _mul((1, 0, 0, 1, 0, -tl), tlm)
                elif op in ("Tj", "'", '"', "TJ"):
                    if op in ("'", '"'):
                        if op == '"' and len(a) >= 3:
                            tw, tc = a[-3], a[-2]
                        tm = tlm = _mul((1, 0, 0, 1, 0, -tl), tlm)
                    items = a[-1] if op == "TJ" else [a[-1]] if a else []
                    tm = self._show(items, tm, gs[-1], font, fs, tc, tw, th)
                elif op == "Do" and a and self.depth < 8:
                    self._xobject(resources, a[-1], gs[-1])
            except (TypeError, IndexError, ValueError):
                continue

    def _show(self, items, tm, ctm, font, fs, tc, tw, th):
        """One run per string operand (not per glyph): enough to find lines and columns."""
        if font is None or not isinstance(items, list):
            return tm
        for it in items:
            if isinstance(it, float):
                tm = (tm[0], tm[1], tm[2], tm[3], tm[4] - it / 1000 * fs * th * tm[0],
                      tm[5] - it / 1000 * fs * th * tm[1])
                continue
            if not isinstance(it, bytes) or not it:
                continue
            texts, total_w, n, spaces = [], 0.0, 0, 0
            for code, text, w in font.decode(it):
                texts.append(text)
                total_w += w
                n += 1
                if code == 32 and not font.two_byte:
                    spaces += 1
            adv = (total_w / 1000 * fs + tc * n + tw * spaces) * th
            m = _mul(tm, ctm)
            x1 = m[4] + adv * m[0]
            scale = (m[2] ** 2 + m[3] ** 2) ** 0.5 or 1.0
            self.runs.append(_Run("".join(texts), m[4], x1, m[5], fs * scale))
            tm = (tm[0], tm[1], tm[2], tm[3], tm[4] + adv * tm[0], tm[5] + adv * tm[1])
        return tm

    def _xobject(self, resources, name, ctm) -> None:
        try:
            xo = resources["/XObject"][name].get_object()
        except (KeyError, TypeError, AttributeError):
            return
        if xo.get("/Subtype") != "/Form":
            return
        mat = tuple(float(v) for v in xo.get("/Matrix", [1, 0, 0, 1, 0, 0]))
        self.depth += 1
        self.run(xo.data, xo.get("/Resources", resources), _mul(mat, ctm))
        self.depth -= 1


def _lines(runs: list[_Run]) -> list[TextLine]:
    """Group glyph runs into lines: same baseline, horizontally close (columns stay apart)."""
    out: list[TextLine] = []
    rows: dict[int, list[_Run]] = {}
    for r in runs:
        rows.setdefault(round(r.y), []).append(r)
    for _y, row in rows.items():
        row.sort(key=lambda r: r.x0)
        cur: list[_Run] = []
        for r in row:
            if cur and r.x0 - cur[-1].x1 > 2.5 * max(r.size, 1):
                out.append(_line(cur))
                cur = []
            cur.append(r)
        if cur:
            out.append(_line(cur))
    out = [ln for ln in out if ln.text]
    out.sort(key=lambda ln: (-ln.bbox[3], ln.bbox[0]))
    return out


def _line(runs: list[_Run]) -> TextLine:
    parts = []
    prev = None
    for r in runs:
        if prev is not None and r.x0 - prev.x1 > 0.2 * r.size and not parts[-1].endswith(" "):
            parts.append(" ")
        parts.append(r.text)
        prev = r
    text = re.sub(r"\s+", " ", "".join(parts)).strip()
    size = max(r.size for r in runs)
    y = min(r.y for r in runs)
    visible = [r for r in runs if r.text.strip()] or runs
    x1 = min(r.x0 for r in visible)
    x2 = max(r.x1 for r in visible)
    # Times-like ascent/descent: the box a reader sees around the glyphs
    return TextLine(unicodedata.normalize("NFC", text), (x1, y - 0.216 * size, x2,
                                                          y + 0.891 * size), size)


def page_lines(reader, page_index: int) -> list[TextLine]:
    """All text lines of page ``page_index`` (0-based) of a pyHanko reader, top to bottom."""
    page_ref, resources = reader.find_page_for_modification(page_index)
    page = page_ref.get_object()
    contents = page.get("/Contents")
    if contents is None:
        return []
    contents = contents.get_object()
    streams = contents if isinstance(contents, generic.ArrayObject) else [contents]
    data = b"\n".join(s.get_object().data for s in streams)
    interp = _Interp()
    interp.run(data, resources.get_object() if resources is not None else {})
    return _lines(interp.runs)


def normalise(text: str) -> str:
    """NFC, collapsed whitespace, case-folded: how names are compared."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip().casefold()


def find_line(lines: list[TextLine], wanted: str) -> TextLine | None:
    """The lowest line whose normalised text equals ``wanted`` (signer names appear once, at the
    bottom of the signer block; a name repeated in the body must not win)."""
    key = normalise(wanted)
    hits = [ln for ln in lines if normalise(ln.text) == key]
    return min(hits, key=lambda ln: ln.bbox[1]) if hits else None
