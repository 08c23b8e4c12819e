"""Signature and seal images for the development PKI, drawn by our own code.

Decree 30/2020 documents show the signer's handwritten signature (blue ink) and the agency's
round seal (red ink). Real images cannot be shipped, so we draw look-alikes: a cursive-like
signature seeded by the signer's name (same name, same signature) and a seal with two rings,
the agency name set around the ring in Vietnamese and a star in the middle.

Both are drawn as a coverage mask at several times the final size, scaled down (anti-aliasing) and
used as the alpha channel of a solid ink colour, so edges blend cleanly on any page and the
background is fully transparent.
"""

from __future__ import annotations

import hashlib
import math
import random
import unicodedata
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from signing import fonts

BLUE_INK = (22, 44, 160)
RED_INK = (206, 22, 32)
SIGNATURE_SIZE = (600, 240)
SEAL_SIZE = 500
_SUPERSAMPLE = 3


def _rng(text: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big"))


def _ink(mask: Image.Image, size: tuple[int, int], colour: tuple[int, int, int]) -> Image.Image:
    """Scale the coverage mask down and use it as alpha of a solid ``colour`` image."""
    alpha = mask.resize(size, Image.Resampling.LANCZOS)
    image = Image.new("RGB", size, colour)
    image.putalpha(alpha)
    return image


def _stroke(draw: ImageDraw.ImageDraw, points: list[tuple[float, float]], width: float,
            rng: random.Random) -> None:
    """Draw a pen stroke whose width swells and thins like pressure on a nib."""
    n = len(points)
    phase = rng.uniform(0, math.tau)
    for i in range(n - 1):
        t = i / max(n - 1, 1)
        # thinner at both ends (pen landing and lifting), gentle swelling in between
        taper = min(1.0, 6 * t, 6 * (1 - t)) * 0.7 + 0.3
        w = width * taper * (0.8 + 0.2 * math.sin(phase + 9 * t))
        (x0, y0), (x1, y1) = points[i], points[i + 1]
        draw.line((x0, y0, x1, y1), fill=255, width=max(1, round(w)))
        r = w / 2
        draw.ellipse((x1 - r, y1 - r, x1 + r, y1 + r), fill=255)


def _bezier(p0, p1, p2, p3, steps: int) -> list[tuple[float, float]]:
    out = []
    for i in range(steps + 1):
        t = i / steps
        a, b, c, d = (1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t ** 3
        out.append((a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0],
                    a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1]))
    return out


def draw_signature(name: str, size: tuple[int, int] = SIGNATURE_SIZE) -> Image.Image:
    """A blue handwritten-style signature for ``name`` on a transparent background."""
    rng = _rng(unicodedata.normalize("NFC", name))
    k = _SUPERSAMPLE
    w, h = size[0] * k, size[1] * k
    mask = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(mask)
    pen = 5.0 * k

    # 1. a tall swooping capital
    x0, base = w * rng.uniform(0.08, 0.14), h * rng.uniform(0.58, 0.66)
    top = h * rng.uniform(0.08, 0.18)
    capital = _bezier((x0, base), (x0 - w * 0.05, top), (x0 + w * 0.12, top - h * 0.05),
                      (x0 + w * 0.08, base + h * 0.05), 160)
    _stroke(draw, capital, pen, rng)

    # 2. cursive loops (a prolate trochoid) with irregular height, like running handwriting
    loops = rng.randint(5, 8)
    start, end = x0 + w * 0.07, w * rng.uniform(0.78, 0.88)
    drift = (end - start) / (loops * math.tau)
    points = []
    heights = [rng.uniform(0.10, 0.30) * h for _ in range(loops + 2)]
    tight = [rng.uniform(1.1, 2.2) for _ in range(loops + 2)]
    for i in range(loops * 90 + 1):
        t = i / 90 * math.tau
        j = int(t // math.tau)
        frac = (t % math.tau) / math.tau
        amp = heights[j] * (1 - frac) + heights[j + 1] * frac
        # loops close at the top like a running "l"; slant the whole line to the right
        x = start + drift * t + drift * tight[j] * math.sin(t)
        y = base - amp * (1 - math.cos(t)) / 2 + h * 0.03 * math.sin(t * 0.37)
        points.append((x + (base - y) * 0.35, y))
    _stroke(draw, points, pen * 0.8, rng)

    # 3. an underline flourish sweeping back to the left
    ex, ey = points[-1]
    flourish = _bezier((ex, ey), (ex + w * 0.1, ey + h * 0.25),
                       (w * 0.35, base + h * rng.uniform(0.22, 0.3)),
                       (w * rng.uniform(0.1, 0.2), base + h * rng.uniform(0.12, 0.2)), 220)
    _stroke(draw, flourish, pen * 0.9, rng)
    return _ink(mask, size, BLUE_INK)


def _fit_font(text: str, arc_length: float, max_size: int) -> tuple[ImageFont.FreeTypeFont, float]:
    """Largest font (≤ max_size) whose text fits ``arc_length``; returns it and the tracking."""
    font_file = str(fonts.path("sans-bold"))
    size = max_size
    while True:
        font = ImageFont.truetype(font_file, size)
        tracking = size * 0.12
        length = sum(font.getlength(ch) for ch in text) + tracking * (len(text) - 1)
        if length <= arc_length or size <= 12:
            return font, tracking
        size -= 2


def draw_seal(agency_name: str, size: int = SEAL_SIZE) -> Image.Image:
    """A red round seal: two rings, ``agency_name`` set around them, a star in the centre."""
    text = unicodedata.normalize("NFC", agency_name.upper())
    k = _SUPERSAMPLE
    s = size * k
    c = s / 2
    mask = Image.new("L", (s, s), 0)
    draw = ImageDraw.Draw(mask)

    outer, outer_w = s * 0.475, s * 0.028
    inner, inner_w = s * 0.33, s * 0.009
    draw.ellipse((c - outer, c - outer, c + outer, c + outer), outline=255, width=round(outer_w))
    draw.ellipse((c - inner, c - inner, c + inner, c + inner), outline=255, width=round(inner_w))

    # letters stand on a baseline circle just outside the inner ring, reading clockwise
    baseline = inner + s * 0.03
    room = outer - outer_w - baseline  # height available for capitals with stacked diacritics
    font, tracking = _fit_font(text, baseline * math.radians(320), int(room * 0.95))
    advances = [font.getlength(ch) for ch in text]
    total = sum(advances) + tracking * (len(text) - 1)
    angle = -total / baseline / 2  # radians from the top; start so the text is centred
    tile = int(font.size * 2.4)
    for ch, adv in zip(text, advances, strict=True):
        mid = angle + adv / 2 / baseline
        if not ch.isspace():
            glyph = Image.new("L", (tile, tile), 0)
            ImageDraw.Draw(glyph).text((tile / 2, tile / 2), ch, font=font, fill=255, anchor="ms")
            glyph = glyph.rotate(-math.degrees(mid), resample=Image.Resampling.BICUBIC)
            x = c + baseline * math.sin(mid) - tile / 2
            y = c - baseline * math.cos(mid) - tile / 2
            mask.paste(glyph, (round(x), round(y)), glyph)
        angle += (adv + tracking) / baseline

    # five-pointed star
    r_out, r_in = s * 0.16, s * 0.16 * 0.382
    star = []
    for i in range(10):
        r = r_out if i % 2 == 0 else r_in
        a = -math.pi / 2 + i * math.pi / 5
        star.append((c + r * math.cos(a), c + r * math.sin(a)))
    draw.polygon(star, fill=255)
    return _ink(mask, (size, size), RED_INK)


def save_png(image: Image.Image, path: Path) -> None:
    image.save(path, format="PNG", optimize=False)
