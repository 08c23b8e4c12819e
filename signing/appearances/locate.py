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

import contextlib
import re
import struct
import unicodedata
from dataclasses import dataclass, field
from itertools import repeat

from pyhanko.pdf_utils import generic

# One C-level pass splits a content stream into tokens: literal strings (escapes allowed, nested
# parentheses must be escaped, as every generator we met does), hex strings, dict brackets,
# array brackets, names, numbers, operators. Whitespace and comments are not matched.
_TOKEN = re.compile(
    rb"\((?:[^()\\]|\\.)*\)|<[0-9A-Fa-f\s]*>|<<|>>|[\[\]]|/[^\s()<>\[\]{}/%]*"
    rb"|[+-]?(?:\d+\.?\d*|\.\d+)|[^\s()<>\[\]{}/%]+",
    re.S,
)
_ESCAPE = re.compile(rb"\\([0-7]{1,3}|\r\n|[\s\S])")
_ESC = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f", b"\r\n": b"",
        b"\n": b"", b"\r": b""}


# Times-like descent and ascent per unit of font size: the box a reader sees around a line
DESCENT = 0.216
ASCENT = 0.891

def _unescape(m: re.Match) -> bytes:
    e = m.group(1)
    if e[:1].isdigit():
        return bytes((int(e, 8) & 0xFF,))
    return _ESC.get(e, e)


def _tokens(data: bytes, positions: bool = False):
    """Yield ('op', name) or operand values (float, str name, bytes, list). With ``positions``,
    operators come as ('op', name, start, end): the byte span from the operator's first operand
    to its end, so that the operator can be cut out of, or copied from, the stream."""
    stack: list[list] = []
    skip_to_ei = False
    first = -1  # start of the current operator's first operand
    found = (
        ((m.group(), m.start()) for m in _TOKEN.finditer(data))
        if positions
        else zip(_TOKEN.findall(data), repeat(0))
    )
    for t, at in found:
        c = t[0]
        if skip_to_ei:  # inline image data: skip up to EI
            if t == b"EI":
                skip_to_ei = False
                first = -1
            continue
        if first < 0:
            first = at
        if c == 0x28:  # (
            val = t[1:-1]
            if b"\\" in val:
                val = _ESCAPE.sub(_unescape, val)
        elif c == 0x2F:  # /
            val = t.decode("latin-1")
        elif c == 0x5B:  # [
            stack.append([])
            continue
        elif c == 0x5D:  # ]
            val = stack.pop() if stack else []
        elif c == 0x3C:  # < or <<
            if t == b"<<":
                continue
            h = re.sub(rb"\s", b"", t[1:-1])
            val = bytes.fromhex((h + b"0" * (len(h) % 2)).decode())
        elif c == 0x3E:  # >>
            continue
        elif c in b"0123456789+-.":
            try:
                val = float(t)
            except ValueError:
                continue
        else:
            if stack:  # true/false/null inside arrays
                continue
            if t == b"BI":
                skip_to_ei = True
                continue
            if positions:
                yield ("op", t.decode("latin-1"), first, at + len(t))
            else:
                yield ("op", t.decode("latin-1"))
            first = -1
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

    def decode(self, s: bytes) -> tuple[str, float, int, int]:
        """(text, sum of glyph widths, glyph count, single-byte spaces) of a string operand.
        Done with C-level map/unpack: a page has thousands of glyphs."""
        if self.two_byte:
            n = len(s) // 2
            codes = struct.unpack(f">{n}H", s[: 2 * n])
        else:
            codes = tuple(s)
            n = len(codes)
        uni = self.to_unicode
        fallback = repeat("\ufffd") if self.two_byte else map(chr, codes)
        text = "".join(map(uni.get, codes, fallback)) if uni else "".join(map(chr, codes))
        w = self.widths
        total = sum(map(w.get, codes, (self.default_width,) * n))
        spaces = 0 if self.two_byte else codes.count(32)
        return text, total, n, spaces


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
_FILL = {"g": 1, "rg": 3, "k": 4}  # fill colour operators and their operand counts


def _num(v: float) -> bytes:
    """A number as content-stream bytes: no exponent, no needless digits."""
    out = f"{v:.5f}".rstrip("0").rstrip(".")
    return b"0" if out in ("", "-0") else out.encode()


@dataclass(frozen=True)
class TextShow:
    """One text-showing operator of a page's own content stream (not of a form XObject), with
    the state it draws in: enough to draw it again in another stream (a form field's
    appearance), or to take it out of the page while the text after it stays in place.

    WHY: a line that becomes a form field (the clerk's number and date) must exist once — in
    the field — or text extraction, search and copy return the blank under the filled value."""

    start: int  # byte span, operands through operator, in :func:`page_content`
    end: int
    operator: str
    operands: bytes
    font: str  # resource name, e.g. "/F1"
    state: bytes  # font, text state and fill colour, as operators to replay
    matrix: tuple[float, ...]  # Tm to set before the operator (the line matrix for ' and ")
    ctm: tuple[float, ...]
    blank: bytes  # what replaces the operator: moves as it did, draws nothing

    def replay(self, dx: float = 0.0, dy: float = 0.0) -> bytes:
        """The operator in a stream of its own, its user space shifted by (-dx, -dy) (a form
        XObject whose bounding box starts at (dx, dy) on the page)."""
        a, b, c, d, e, f = self.ctm
        cm = b" ".join(_num(v) for v in (a, b, c, d, e - dx, f - dy))
        tm = b" ".join(_num(v) for v in self.matrix)
        op = self.operator.encode("latin-1")
        return b"q %s cm BT %s %s Tm %s %s ET Q" % (cm, self.state, tm, self.operands, op)


def without_shows(data: bytes, shows) -> bytes:
    """``data`` (a page's content) with each of ``shows`` replaced by its ``blank``."""
    out, at = [], 0
    for s in sorted(set(shows), key=lambda s: s.start):
        if s.start < at:
            raise ValueError("overlapping text operators")
        out += [data[at:s.start], s.blank]
        at = s.end
    out.append(data[at:])
    return b"".join(out)


@dataclass
class _Run:
    text: str
    x0: float
    x1: float
    y: float
    size: float
    show: TextShow | None = None


@dataclass(frozen=True)
class TextLine:
    """A line of text on a page; ``bbox`` is (x1, y1, x2, y2) in PDF user space (points),
    ``size`` the font size (points) of its text. ``shows``: the operators that draw it, when
    they were recorded (``page_lines(record=True)``) and all are in the page's own content."""

    text: str
    bbox: tuple[float, float, float, float]
    size: float = 0.0
    shows: tuple[TextShow, ...] = field(default=(), compare=False, repr=False)

    @property
    def x_center(self) -> float:
        return (self.bbox[0] + self.bbox[2]) / 2

    @property
    def height(self) -> float:
        return self.bbox[3] - self.bbox[1]


class _Stop(Exception):
    """Raised to end interpretation early once the region of interest has been read."""


@dataclass
class _Interp:
    runs: list[_Run] = field(default_factory=list)
    fonts: dict[int, _Font] = field(default_factory=dict)
    depth: int = 0
    stop_below: float | None = None
    seen_above: bool = False

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

    def run(self, data: bytes, resources, ctm=_ID, *, record: bool = False) -> None:
        """Interpret ``data``; ``record``: keep, with each run, how its operator can be redrawn
        or removed (:class:`TextShow`)."""
        gs = [ctm]
        saved: list[tuple] = []  # text state and fill colour, saved by q like the CTM
        tm = tlm = _ID
        font: _Font | None = None
        fname = ""
        fs = tc = tw = ts = 0.0
        th, tl, tr = 1.0, 0.0, 0.0
        fill: bytes | None = b"0 g"
        operands: list = []
        for tok in _tokens(data, record):
            if not (isinstance(tok, tuple) and tok[0] == "op"):
                operands.append(tok)
                continue
            op = tok[1]
            a = operands
            operands = []
            try:
                if op == "q":
                    gs.append(gs[-1])
                    saved.append((font, fname, fs, tc, tw, ts, th, tl, tr, fill))
                elif op == "Q":
                    if len(gs) > 1:
                        gs.pop()
                    if saved:
                        font, fname, fs, tc, tw, ts, th, tl, tr, fill = saved.pop()
                elif op == "cm" and len(a) >= 6:
                    gs[-1] = _mul(tuple(a[-6:]), gs[-1])
                elif op == "BT":
                    tm = tlm = _ID
                elif op == "Tf" and len(a) >= 2:
                    font, fs = self.font(resources, a[-2]), a[-1]
                    fname = a[-2]
                elif op == "Tc":
                    tc = a[-1]
                elif op == "Tw":
                    tw = a[-1]
                elif op == "Tz":
                    th = a[-1] / 100
                elif op == "TL":
                    tl = a[-1]
                elif op == "Tr":
                    tr = a[-1]
                elif op == "Ts":
                    ts = a[-1]
                elif op in _FILL:
                    n = _FILL[op]
                    fill = b" ".join(_num(v) for v in a[-n:]) + b" " + op.encode()
                elif op in ("cs", "sc", "scn"):
                    fill = None  # a colour space we do not replay: black
                elif op in ("Td", "TD") and len(a) >= 2:
                    if op == "TD":
                        tl = -a[-1]
                    tm = tlm = _mul((1, 0, 0, 1, a[-2], a[-1]), tlm)
                elif op == "Tm" and len(a) >= 6:
                    tm = tlm = tuple(a[-6:])
                elif op == "T*":
                    tm = tlm = _mul((1, 0, 0, 1, 0, -tl), tlm)
                elif op in ("Tj", "'", '"', "TJ"):
                    line_matrix = tlm
                    if op in ("'", '"'):
                        if op == '"' and len(a) >= 3:
                            tw, tc = a[-3], a[-2]
                        tm = tlm = _mul((1, 0, 0, 1, 0, -tl), tlm)
                    items = a[-1] if op == "TJ" else [a[-1]] if a else []
                    before, n_runs = tm, len(self.runs)
                    tm, adv = self._show(items, tm, gs[-1], font, fs, tc, tw, th)
                    if record and len(self.runs) > n_runs and fs * th and tr < 4:
                        self.runs[-1].show = self._record(
                            data, tok, (fname, fs, tc, tw, th, tl, tr, ts, fill),
                            line_matrix if op in ("'", '"') else before, gs[-1], adv,
                        )
                elif op == "Do" and a and self.depth < 8:
                    self._xobject(resources, a[-1], gs[-1])
            except (TypeError, IndexError, ValueError):
                continue

    @staticmethod
    def _record(data: bytes, tok, state, matrix, ctm, adv) -> TextShow:
        """The :class:`TextShow` of operator ``tok`` (with positions) drawn in ``state``."""
        _op, op, start, end = tok
        fname, fs, tc, tw, th, tl, tr, ts, fill = state
        # a TJ holding only a displacement moves the text position as the glyphs did
        blank = b"[%s] TJ" % _num(-adv * 1000 / (fs * th))
        if op == "'":
            blank = b"T* " + blank
        elif op == '"':
            blank = b"%s Tw %s Tc T* %s" % (_num(tw), _num(tc), blank)
        replay_state = b"%s %s Tf %s Tc %s Tw %s Tz %s TL %s Tr %s Ts %s" % (
            fname.encode("latin-1"), _num(fs), _num(tc), _num(tw), _num(th * 100), _num(tl),
            _num(tr), _num(ts), fill or b"0 g",
        )
        operands = data[start:end - len(op)].strip()
        return TextShow(start, end, op, operands, fname, replay_state, matrix, ctm, blank)

    def _show(self, items, tm, ctm, font, fs, tc, tw, th):
        """One run per text-showing operator (a TJ array is one run): enough to find lines
        and columns, and cheap. Returns the new text matrix and the advance (text space)."""
        if font is None or not isinstance(items, list):
            return tm, 0.0
        texts: list[str] = []
        adv = 0.0  # along the baseline, in text space
        for it in items:
            if isinstance(it, float):
                adv -= it / 1000 * fs * th
                if it < -250 and texts and not texts[-1].endswith(" "):
                    texts.append(" ")  # a kerning gap wide enough to be a word space
                continue
            if not isinstance(it, bytes) or not it:
                continue
            text, total_w, n, spaces = font.decode(it)
            texts.append(text)
            adv += (total_w / 1000 * fs + tc * n + tw * spaces) * th
        if texts:
            m = _mul(tm, ctm)
            scale = (m[2] ** 2 + m[3] ** 2) ** 0.5 or 1.0
            self.runs.append(_Run("".join(texts), m[4], m[4] + adv * m[0], m[5], fs * scale))
            if self.stop_below is not None:
                if m[5] >= self.stop_below:
                    self.seen_above = True
                elif self.seen_above:
                    raise _Stop
        return (tm[0], tm[1], tm[2], tm[3], tm[4] + adv * tm[0], tm[5] + adv * tm[1]), adv

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
    shows = tuple(r.show for r in runs) if all(r.show for r in runs) else ()
    # Times-like ascent/descent: the box a reader sees around the glyphs
    return TextLine(unicodedata.normalize("NFC", text), (x1, y - DESCENT * size, x2,
                                                          y + ASCENT * size), size, shows)


def page_content(reader, page_index: int) -> bytes:
    """The decoded content of page ``page_index`` (0-based), its streams joined by newlines."""
    return _content(reader.find_page_for_modification(page_index)[0].get_object())


def _content(page) -> bytes:
    contents = page.get("/Contents")
    if contents is None:
        return b""
    contents = contents.get_object()
    streams = contents if isinstance(contents, generic.ArrayObject) else [contents]
    return b"\n".join(s.get_object().data for s in streams)


def page_lines(
    reader, page_index: int, *, stop_below: float | None = None, record: bool = False
) -> list[TextLine]:
    """Text lines of page ``page_index`` (0-based) of a pyHanko reader, top to bottom.

    ``stop_below``: stop reading the content once text below that height follows text above
    it — word processors write pages top-down, so the header region costs a fraction of the
    page. Lines found this way exist; a caller missing one should read the whole page.
    ``record``: fill each line's ``shows`` (byte offsets into :func:`page_content`)."""
    page_ref, resources = reader.find_page_for_modification(page_index)
    data = _content(page_ref.get_object())
    if not data:
        return []
    cache = getattr(reader, "_edoc_font_cache", None)
    if cache is None:
        cache = {}
        with contextlib.suppress(AttributeError):  # fonts are shared by a document's pages
            reader._edoc_font_cache = cache
    interp = _Interp(fonts=cache, stop_below=stop_below)
    with contextlib.suppress(_Stop):
        interp.run(data, resources.get_object() if resources is not None else {}, record=record)
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
