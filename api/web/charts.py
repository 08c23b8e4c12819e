"""The leaders' dashboard charts as inline SVG, drawn on the server.

Why SVG strings: the page is server-rendered (Jinja2) and must work without JavaScript or any
external asset, on a 1366×768 office screen as on a phone. So every chart is one ``<svg>`` with
a ``viewBox`` and ``width="100%"`` (it scales with its container, no fixed pixel width),
``role="img"`` and a ``<title>`` and ``<desc>`` that say the figures in words (the page also
shows them in a table). Every label the caller gives is escaped here; the result is a
``markupsafe.Markup`` (a ``str``), so a template can insert it as it is.

Colours come from one restrained palette that colour-blind readers can tell apart (blue,
orange, green, red, grey), and no chart relies on colour alone: values are written on or next
to the bars, lines differ by dash and marker, legends name each colour. Numbers are written the
reader's way: ``lang="vi"`` gives "1.234,5" and "87,5 %", ``lang="en"`` gives "1,234.5" and
"87.5%". A chart with nothing to show says so ("Chưa có số liệu" / "No data yet") instead of
dividing by zero.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import Literal

from markupsafe import Markup

Lang = Literal["vi", "en"]
Day = dt.date | str

BLUE, ORANGE, GREEN, RED, GREY = "#1f5fa8", "#d9822b", "#2e7d32", "#c62828", "#757575"
INK, MUTED, RULE, TRACK = "#212121", "#555555", "#bdbdbd", "#e6e6e6"
FONT = "'Liberation Sans', Arial, Helvetica, sans-serif"
#: the width of every chart's drawing space; the page scales it (viewBox + width="100%")
WIDTH = 640
#: at most this many day labels under a time axis, however many days
MAX_X_LABELS = 10
#: day series up to this long get their value written above each bar
LABELLED_BARS = 31

WORDS: dict[str, dict[str, str]] = {
    "vi": {"no_data": "Chưa có số liệu", "total": "Tổng", "max": "cao nhất", "days": "ngày",
           "on": "ngày", "zero_days": "ngày không có", "seconds": "giây", "minutes": "phút",
           "hours": "giờ", "p50": "trung vị (p50)", "p95": "p95", "others": "và {n} cơ quan khác",
           "from_to": "từ {a} đến {b}", "measured": "có số liệu {n}/{m} ngày"},
    "en": {"no_data": "No data yet", "total": "Total", "max": "highest", "days": "days",
           "on": "on", "zero_days": "days with none", "seconds": "seconds",
           "minutes": "minutes", "hours": "hours", "p50": "median (p50)", "p95": "p95",
           "others": "and {n} other agencies", "from_to": "from {a} to {b}",
           "measured": "measured on {n} of {m} days"},
}
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
#: characters XML 1.0 does not allow in text (a label pasted from elsewhere may carry them)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# -- words and numbers ---------------------------------------------------------------------------
def _word(lang: Lang, key: str, **values: object) -> str:
    return WORDS.get(lang, WORDS["en"])[key].format(**values)


def _esc(text: object) -> str:
    """Text safe in an SVG element or attribute: escaped, and without what XML forbids."""
    return html.escape(_NOT_XML.sub("", unicodedata.normalize("NFC", str(text))), quote=True)


def format_number(value: float, lang: Lang = "vi", decimals: int = 1) -> str:
    """Grouped thousands and at most ``decimals`` decimals, trailing zeros dropped:
    vi "1.234,5", en "1,234.5"."""
    text = f"{value:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    if lang == "vi":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


def format_percent(share: float, lang: Lang = "vi") -> str:
    """A share 0..1 as people write it: vi "87,5 %" (a space before %), en "87.5%"."""
    number = format_number(share * 100, lang)
    return f"{number} %" if lang == "vi" else f"{number}%"


def _unit(seconds: float) -> tuple[float, str]:
    """The divisor and unit word key a duration of this size reads best in."""
    if seconds < 120:
        return 1.0, "seconds"
    if seconds < 2 * 3600:
        return 60.0, "minutes"
    return 3600.0, "hours"


def format_duration(seconds: float, lang: Lang = "vi") -> str:
    """Seconds in the unit that suits them: "45 giây", "3,5 phút", "2 giờ"."""
    divisor, unit = _unit(seconds)
    return f"{format_number(seconds / divisor, lang)} {_word(lang, unit)}"


def _day(value: Day) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def _day_label(day: dt.date, lang: Lang) -> str:
    """Short axis label: vi "05/03", en "5 Mar"."""
    return f"{day:%d/%m}" if lang == "vi" else f"{day.day} {_MONTHS_EN[day.month - 1]}"


def _day_words(day: dt.date, lang: Lang) -> str:
    return f"{day:%d/%m/%Y}" if lang == "vi" else day.isoformat()


# -- drawing pieces ------------------------------------------------------------------------------
def _text(x: float, y: float, text: str, *, size: float = 12, anchor: str = "start",
          fill: str = INK, weight: str = "normal", halo: bool = False) -> str:
    """A label; ``halo`` outlines it in white so it stays legible over a line it crosses."""
    bold = ' font-weight="bold"' if weight == "bold" else ""
    outline = ' stroke="#ffffff" stroke-width="3" paint-order="stroke"' if halo else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size:g}" text-anchor="{anchor}" '
            f'fill="{fill}"{bold}{outline}>{_esc(text)}</text>')


def _rect(x: float, y: float, w: float, h: float, fill: str, extra: str = "") -> str:
    return (f'<rect x="{x:.2f}" y="{y:.2f}" width="{max(w, 0):.2f}" height="{max(h, 0):.2f}" '
            f'fill="{fill}"{extra}/>')


def _ink_on(color: str) -> str:
    """White or dark text on a fill, whichever reads (WCAG contrast of white at least 4.5)."""
    channels = [int(color[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "#ffffff" if 1.05 / (luminance + 0.05) >= 4.5 else INK


def _svg(height: float, title: str, desc: str, body: Sequence[str]) -> Markup:
    """The chart's root: scalable, an image to assistive technology, named by its title and
    described by its figures. Ids come from the content, so two charts of a page differ."""
    inner = "".join(body)
    ident = "c" + hashlib.sha1(f"{title}\0{desc}\0{inner}".encode()).hexdigest()[:10]
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:g}" '
        f'width="100%" role="img" aria-labelledby="{ident}-t {ident}-d" '
        f'font-family="{_esc(FONT)}" style="height:auto;max-width:100%">'
        f'<title id="{ident}-t">{_esc(title)}</title><desc id="{ident}-d">{_esc(desc)}</desc>'
        f'{inner}</svg>')


def _heading(title: str) -> str:
    return _text(0, 18, title, size=15, weight="bold")


def _no_data(title: str, lang: Lang, height: float = 120) -> Markup:
    """A chart with nothing to draw: its title and the words saying there is no data yet."""
    message = _word(lang, "no_data")
    return _svg(height, title, f"{title}: {message}.", [
        _heading(title),
        _rect(0.5, 30.5, WIDTH - 1, height - 31, "#fafafa", f' stroke="{RULE}"'),
        _text(WIDTH / 2, 30 + (height - 30) / 2 + 5, message, size=14, anchor="middle",
              fill=MUTED)])


def _nice_step(top: float, count: int = 4) -> float:
    """A round tick step (1, 2, 2.5 or 5 × 10ⁿ) giving about ``count`` ticks up to ``top``."""
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    return next(s * power for s in (1, 2, 2.5, 5, 10) if s * power >= raw)


def _ticks(top: float, *, whole: bool) -> list[float]:
    step = _nice_step(top)
    if whole:
        step = max(1.0, math.ceil(step))
    return [i * step for i in range(math.ceil(top / step - 1e-9) + 1)]


# -- time axes (daily bars, latency lines) -----------------------------------------------------
class _TimeFrame:
    """The plot area of a day series: one slot per day, a y scale from 0 to the top tick."""

    left, right, top, bottom = 48.0, 12.0, 40.0, 34.0
    height = 260.0

    def __init__(self, days: Sequence[dt.date], top_value: float, *, whole: bool,
                 top: float = 40.0) -> None:
        self.top = top
        self.height = _TimeFrame.height + top - _TimeFrame.top
        self.days = list(days)
        self.ticks = _ticks(top_value, whole=whole)
        self.y_max = self.ticks[-1]
        self.plot_w = WIDTH - self.left - self.right
        self.plot_h = self.height - self.top - self.bottom
        self.slot = self.plot_w / len(self.days)

    def x(self, index: int) -> float:
        """The centre of a day's slot."""
        return self.left + (index + 0.5) * self.slot

    def y(self, value: float) -> float:
        return self.top + self.plot_h * (1 - value / self.y_max)

    def grid(self, lang: Lang, scale: float = 1.0) -> list[str]:
        """Horizontal rules with their values (divided by ``scale``) and the baseline."""
        out = []
        for tick in self.ticks:
            y = self.y(tick)
            out.append(f'<line x1="{self.left:.1f}" x2="{WIDTH - self.right:.1f}" '
                       f'y1="{y:.1f}" y2="{y:.1f}" stroke="{RULE if tick else MUTED}" '
                       f'stroke-width="{0.6 if tick else 1}"/>')
            out.append(_text(self.left - 6, y + 4, format_number(tick / scale, lang, 2),
                             size=11, anchor="end", fill=MUTED))
        return out

    def x_labels(self, lang: Lang) -> list[str]:
        """At most ``MAX_X_LABELS`` day labels, evenly thinned, each under its own slot."""
        step = max(1, math.ceil(len(self.days) / MAX_X_LABELS))
        baseline = self.height - self.bottom
        return [_text(self.x(i), baseline + 16, _day_label(day, lang), size=11,
                      anchor="middle", fill=MUTED)
                for i, day in enumerate(self.days) if i % step == 0]


def daily_bars(days: Sequence[tuple[Day, int]], title: str, *, color: str = BLUE,
               lang: Lang = "vi") -> Markup:
    """Documents per day (received or sent): one bar per day of the period, zeros included.

    Up to ``LABELLED_BARS`` days each bar carries its value; beyond, only the highest does and
    the axis gives the scale. Every bar has a tooltip with its day and value."""
    series = [(_day(d), max(0, int(v))) for d, v in days]
    if not series or not any(v for _d, v in series):
        return _no_data(title, lang)
    frame = _TimeFrame([d for d, _v in series], max(v for _d, v in series), whole=True)
    body = [_heading(title), *frame.grid(lang)]
    peak = max(range(len(series)), key=lambda i: series[i][1])
    bar_w = min(max(frame.slot * 0.78, 0.6), 40.0)  # one day is a bar, not a wall
    size = 11 if len(series) <= 16 else 9
    for i, (day, value) in enumerate(series):
        if not value:
            continue
        y = frame.y(value)
        tip = f"{_day_words(day, lang)}: {format_number(value, lang)}"
        body.append(f"<g>{_rect(frame.x(i) - bar_w / 2, y, bar_w, frame.y(0) - y, color)}"
                    f"<title>{_esc(tip)}</title></g>")
        if len(series) <= LABELLED_BARS or i == peak:
            body.append(_text(frame.x(i), y - 4, format_number(value, lang), size=size,
                              anchor="middle"))
    body += frame.x_labels(lang)
    return _svg(frame.height, title, _daily_desc(title, series, lang), body)


def _daily_desc(title: str, series: list[tuple[dt.date, int]], lang: Lang) -> str:
    total = sum(v for _d, v in series)
    day, top = max(series, key=lambda s: s[1])
    zeros = sum(1 for _d, v in series if not v)
    span = _word(lang, "from_to", a=_day_words(series[0][0], lang),
                 b=_day_words(series[-1][0], lang))
    return (f"{title}: {_word(lang, 'total')} {format_number(total, lang)} / {len(series)} "
            f"{_word(lang, 'days')} ({span}); {_word(lang, 'max')} {format_number(top, lang)} "
            f"{_word(lang, 'on')} {_day_words(day, lang)}; {zeros} {_word(lang, 'zero_days')}.")


def latency_lines(days: Sequence[tuple[Day, float | None, float | None]], title: str, *,
                  lang: Lang = "vi") -> Markup:
    """Delivery latency per day: p50 (solid blue, round markers) and p95 (dashed orange, square
    markers), broken where a day has no figure; the y axis in seconds, minutes or hours,
    whichever the largest value reads best in, with the unit written in words."""
    series = [(_day(d), _seconds(p50), _seconds(p95)) for d, p50, p95 in days]
    values = [v for _d, *pair in series for v in pair if v is not None]
    if not values:
        return _no_data(title, lang)
    divisor, unit = _unit(max(values))
    # at least one unit high: latencies of 0 s (same second) still get a readable axis
    frame = _TimeFrame([d for d, *_p in series], max(max(values) / divisor, 1.0),
                       whole=False, top=60.0)
    scaled = [[None if v is None else v / divisor for v in (p50, p95)]
              for _d, p50, p95 in series]
    body = [_heading(title), *frame.grid(lang),
            _text(0, frame.top - 12, f"({_word(lang, unit)})", size=11, fill=MUTED)]
    styles = [("p50", BLUE, "", "circle"), ("p95", ORANGE, ' stroke-dasharray="6 3"', "square")]
    label_ys: list[float] = []
    for k, (name, color, dash, marker) in enumerate(styles):
        points = [(frame.x(i), frame.y(pair[k])) if pair[k] is not None else None
                  for i, pair in enumerate(scaled)]
        body += _polyline_runs(points, color, dash, marker, markers=len(series) <= 62)
        body += _end_label(points, [p[k] for p in scaled], _word(lang, name), color, lang,
                           _word(lang, unit), taken=label_ys)
    body += _line_legend(lang, styles)
    body += frame.x_labels(lang)
    desc = _latency_desc(title, series, lang)
    return _svg(frame.height, title, desc, body)


def _seconds(value: float | None) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return max(0.0, float(value))


def _polyline_runs(points: list[tuple[float, float] | None], color: str, dash: str,
                   marker: str, *, markers: bool) -> list[str]:
    """One polyline per run of days with a figure (a gap where a day has none); a lone day
    between gaps is a marker, since a one-point line draws nothing."""
    runs: list[list[tuple[float, float]]] = [[]]
    for point in points:
        if point is None:
            runs.append([])
        else:
            runs[-1].append(point)
    out = []
    for run in (r for r in runs if r):
        if len(run) > 1:
            coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
            out.append(f'<polyline points="{coords}" fill="none" stroke="{color}" '
                       f'stroke-width="2" stroke-linejoin="round"{dash}/>')
        if markers or len(run) == 1:
            out += [_marker(x, y, color, marker) for x, y in run]
    return out


def _marker(x: float, y: float, color: str, shape: str) -> str:
    if shape == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"/>'
    return _rect(x - 3, y - 3, 6, 6, color)


def _end_label(points: list[tuple[float, float] | None], values: list[float | None],
               name: str, color: str, lang: Lang, unit: str, *,
               taken: list[float]) -> list[str]:
    """The last figure of a line written beside its last point (the line named by words),
    moved up when another line's label (``taken``, their baselines) already sits there."""
    last = max((i for i, p in enumerate(points) if p is not None), default=None)
    if last is None:
        return []
    x, y = points[last]
    anchor, dx = ("end", -6) if x > WIDTH * 0.7 else ("start", 6)
    y -= 6
    while any(abs(y - other) < 13 for other in taken):
        y -= 13
    taken.append(y)
    return [_text(x + dx, y, f"{name}: {format_number(values[last], lang)} {unit}", size=10,
                  anchor=anchor, fill=color if color != ORANGE else "#8a4a0f", halo=True)]


def _line_legend(lang: Lang, styles: list[tuple[str, str, str, str]]) -> list[str]:
    out, x = [], WIDTH - 12.0
    for name, color, dash, marker in reversed(styles):
        label = _word(lang, name)
        x -= 7 * len(label) + 6
        out.append(_text(x, 40, label, size=11, fill=INK))
        out.append(f'<line x1="{x - 30:.1f}" x2="{x - 6:.1f}" y1="36" y2="36" stroke="{color}" '
                   f'stroke-width="2"{dash}/>')
        out.append(_marker(x - 18, 36, color, marker))
        x -= 44
    return out


def _latency_desc(title: str, series: list[tuple[dt.date, float | None, float | None]],
                  lang: Lang) -> str:
    parts = [f"{title}:"]
    for k, key in ((1, "p50"), (2, "p95")):
        values = [s[k] for s in series if s[k] is not None]
        if values:
            span = _word(lang, "from_to", a=format_duration(min(values), lang),
                         b=format_duration(max(values), lang))
            parts.append(f"{_word(lang, key)} {span};")
    measured = sum(1 for s in series if s[1] is not None or s[2] is not None)
    parts.append(_word(lang, "measured", n=measured, m=len(series)) + ".")
    return " ".join(parts)


# -- shares and parts ----------------------------------------------------------------------------
def share_donut(share: float | None, label: str, *, lang: Lang = "vi",
                color: str = BLUE) -> Markup:
    """A share 0..1 (e.g. of documents digitally signed) as a ring with the percentage written
    in its middle and the label beside it; ``None`` (nothing to count) says "no data"."""
    if share is None or math.isnan(share):
        return _no_data(label, lang, height=140)
    share = min(1.0, max(0.0, share))
    percent = format_percent(share, lang)
    radius, cx, cy = 46.0, 70.0, 70.0
    circumference = 2 * math.pi * radius
    ring = (f'<circle cx="{cx}" cy="{cy}" r="{radius}" fill="none" stroke="{TRACK}" '
            f'stroke-width="18"/>'
            f'<circle cx="{cx}" cy="{cy}" r="{radius}" fill="none" stroke="{color}" '
            f'stroke-width="18" stroke-dasharray="{circumference * share:.2f} '
            f'{circumference:.2f}" transform="rotate(-90 {cx} {cy})"/>')
    body = [ring, _text(cx, cy + 7, percent, size=20 if len(percent) < 7 else 17,
                        anchor="middle", weight="bold")]
    lines = _wrap(label, 34, 4)
    first = cy + 6 - 11 * (len(lines) - 1)
    body += [_text(140, first + 22 * n, line, size=16) for n, line in enumerate(lines)]
    return _svg(140, label, f"{label}: {percent}.", body)


def _wrap(text: str, width: int, most: int) -> list[str]:
    """Words into lines of about ``width`` characters, at most ``most`` lines (the last one
    ends with an ellipsis when the text is longer)."""
    lines: list[str] = []
    for word in str(text).split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    if len(lines) > most:
        lines = lines[:most]
        lines[-1] = _truncate(lines[-1] + " …", width)
    return [_truncate(line, width) for line in lines] or [""]


def _truncate(text: str, most: int) -> str:
    text = unicodedata.normalize("NFC", text)
    return text if len(text) <= most else text[:most - 1].rstrip() + "…"


def stacked_bar(segments: Sequence[tuple[str, float, str]], title: str, *,
                lang: Lang = "vi") -> Markup:
    """Parts of a whole (early / on time / late / overdue / open) as one bar, each part with
    its value written on it when it is wide enough, and a legend giving every part's label,
    value and share, so no part is told by its colour alone."""
    parts = [(label, max(0.0, float(value)), color) for label, value, color in segments]
    total = sum(v for _l, v, _c in parts)
    if not total:
        return _no_data(title, lang)
    left, bar_w, y, bar_h = 0.0, float(WIDTH), 32.0, 34.0
    body = [_heading(title)]
    x = left
    for label, value, color in parts:
        width = bar_w * value / total
        if not width:
            continue
        tip = f"{label}: {format_number(value, lang)} ({format_percent(value / total, lang)})"
        body.append(f"<g>{_rect(x, y, width, bar_h, color)}<title>{_esc(tip)}</title></g>")
        text = format_number(value, lang)
        if width >= 8 * len(text) + 8:
            body.append(_text(x + width / 2, y + bar_h / 2 + 5, text, size=13,
                              anchor="middle", fill=_ink_on(color), weight="bold"))
        x += width
    legend, height = _legend(parts, total, lang, top=y + bar_h + 22)
    desc = f"{title}: " + "; ".join(
        f"{label} {format_number(value, lang)} ({format_percent(value / total, lang)})"
        for label, value, _c in parts) + f". {_word(lang, 'total')} {format_number(total, lang)}."
    return _svg(height, title, desc, body + legend)


def _legend(parts: list[tuple[str, float, str]], total: float, lang: Lang,
            top: float) -> tuple[list[str], float]:
    """Swatches with "label: value (share)", flowing into as many rows as they need."""
    out, x, y = [], 0.0, top
    for label, value, color in parts:
        text = (f"{_truncate(label, 30)}: {format_number(value, lang)} "
                f"({format_percent(value / total, lang)})")
        width = 20 + 6.6 * len(text) + 18
        if x and x + width > WIDTH:
            x, y = 0.0, y + 22
        out.append(_rect(x, y - 11, 13, 13, color))
        out.append(_text(x + 19, y, text, size=12))
        x += width
    return out, y + 12


# -- agencies ------------------------------------------------------------------------------------
Formatter = Callable[[float], str]


def agency_bars(rows: Sequence[tuple[str, float]], title: str, *,
                fmt: Literal["count", "percent", "duration"] | Formatter = "count",
                lang: Lang = "vi", color: str = BLUE, limit: int = 15,
                name_width: int = 30) -> Markup:
    """One horizontal bar per agency of the roll-up, in the caller's order, its value written
    at its end; long names are cut with "…" (the full name in the row's tooltip), and past
    ``limit`` rows one line says how many agencies are left out ("và X cơ quan khác")."""
    shown = [(name, max(0.0, float(value))) for name, value in rows[:limit]]
    if not shown or not any(v for _n, v in shown):
        return _no_data(title, lang)
    write = _formatter(fmt, lang)
    top = max(v for _n, v in shown)
    label_w, row_h, y0 = 230.0, 26.0, 34.0
    bar_space = WIDTH - label_w - 80
    body = [_heading(title)]
    for n, (name, value) in enumerate(shown):
        y = y0 + n * row_h
        width = bar_space * value / top
        body.append(
            f"<g><title>{_esc(f'{name}: {write(value)}')}</title>"
            f"{_text(label_w - 8, y + 16, _truncate(name, name_width), size=12, anchor='end')}"
            f"{_rect(label_w, y + 4, width, row_h - 8, color)}"
            f"{_text(label_w + width + 6, y + 17, write(value), size=12, weight='bold')}</g>")
    hidden = len(rows) - len(shown)
    height = y0 + len(shown) * row_h + 8
    if hidden > 0:
        body.append(_text(label_w, height + 8, _word(lang, "others", n=hidden), size=12,
                          fill=MUTED))
        height += 22
    desc = f"{title}: " + "; ".join(f"{name}: {write(v)}" for name, v in shown)
    if hidden > 0:
        desc += f"; {_word(lang, 'others', n=hidden)}"
    return _svg(height, title, desc + ".", body)


def _formatter(fmt: str | Formatter, lang: Lang) -> Formatter:
    if callable(fmt):
        return fmt
    return {"count": lambda v: format_number(v, lang),
            "percent": lambda v: format_percent(v, lang),
            "duration": lambda v: format_duration(v, lang)}[fmt]
