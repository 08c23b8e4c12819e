"""Vietnamese text in signature appearances and form fields: an embedded, subsetted Liberation
Serif (Times New Roman metrics), shaped by HarfBuzz with a ToUnicode map so that ``pdftotext``
gives back the exact string.

WHY our own helpers: pyHanko's default stamp font is non-embedded Courier without Vietnamese
glyphs; the decree asks for Times New Roman 10 pt black, and every diacritic must render.
"""

from __future__ import annotations

import logging
import unicodedata
from functools import lru_cache
from pathlib import Path

from pyhanko.pdf_utils import layout
from pyhanko.pdf_utils.content import AppearanceContent
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory
from pyhanko.pdf_utils.text import TextBox, TextBoxStyle

from signing import fonts

# fontTools reports tables it drops from the subset (FFTM...): expected, not a problem
logging.getLogger("fontTools.subset").setLevel(logging.ERROR)

def font_path(style: str = "serif") -> Path:
    """The shipped font file (``signing.fonts``): never a system font."""
    return fonts.path(style)


class _PerMilleGlyphAccumulator(GlyphAccumulator):
    """pyHanko 0.38 writes glyph widths (/W) and TJ adjustments in font units, which PDF reads
    as thousandths of an em: right only for 1000-unit fonts. Liberation has 2048 units per em,
    so viewers spread the glyphs apart. We shape at a 1000-unit scale and report widths per
    mille, making /W, TJ and positioning agree."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._font_upem = self.units_per_em
        self.units_per_em = 1000
        self.hb_font.scale = (1000, 1000)

    def _get_cid_and_width(self, glyph_id: int) -> tuple[int, int]:
        cached = self._glyphs.get(glyph_id)
        if cached is not None:
            return cached
        cid, width = super()._get_cid_and_width(glyph_id)
        result = cid, round(width * 1000 / self._font_upem)
        self._glyphs[glyph_id] = result
        return result


class _PerMilleFactory(GlyphAccumulatorFactory):
    def create_font_engine(self, writer, obj_stream=None) -> GlyphAccumulator:
        with open(self.font_file, "rb") as fh:
            return _PerMilleGlyphAccumulator(
                writer=writer,
                font_handle=fh,
                font_size=self.font_size,
                obj_stream=obj_stream,
            )


@lru_cache(maxsize=16)
def font_factory(style: str = "serif", size: int = 10) -> GlyphAccumulatorFactory:
    # No object stream: the fill revision must stay a plain incremental update that every
    # validator's difference analysis reads the same way.
    return _PerMilleFactory(str(font_path(style)), font_size=size, create_objstream_if_needed=False)


@lru_cache(maxsize=16)
def _pil_font(style: str):
    from PIL import ImageFont

    return ImageFont.truetype(str(font_path(style)), 1000)


def text_width(text: str, size: float, style: str = "serif") -> float:
    """Advance width in points (for sizing widgets before pyHanko lays the text out)."""
    return _pil_font(style).getlength(nfc(text)) * size / 1000


def nfc(text: str) -> str:
    """Precomposed Vietnamese: one glyph per letter, so extraction returns the same string."""
    return unicodedata.normalize("NFC", text)


def text_style(
    style: str = "serif", size: float = 10, leading: float | None = None, *, centred: bool = True
):
    # pyHanko's layout uses Fraction(width, height): sizes must be integers
    size = int(round(size))
    leading = int(round(leading)) if leading else round(size * 1.2)
    """A black text style in our embedded font; ``centred`` fits the text inside a fixed box
    (form fields), otherwise the box takes the text's natural size (stamps)."""
    rule = (
        layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MID,
            y_align=layout.AxisAlignment.ALIGN_MID,
            margins=layout.Margins.uniform(0),
            inner_content_scaling=layout.InnerScaling.SHRINK_TO_FIT,
        )
        if centred
        else layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MIN,
            y_align=layout.AxisAlignment.ALIGN_MIN,
            margins=layout.Margins.uniform(0),
            inner_content_scaling=layout.InnerScaling.NO_SCALING,
        )
    )
    return TextBoxStyle(
        font=font_factory(style, size),
        font_size=size,
        leading=leading,
        border_width=0,
        text_color=(0, 0, 0),
        box_layout_rule=rule,
    )


class TextOnWhite(AppearanceContent):
    """Centred text over an opaque white box: used to fill the number/date lines, hiding the
    blanks of the word-processor original underneath.

    WHY the baseline offset: the field box spans the original line from its descent to its
    ascent. pyHanko's text box puts the baseline at the bottom of its block, which would clip
    descenders and the dot below (``ệ`` would read ``ê``), so the text is laid out in a
    one-line block of height ``size`` lifted by ``baseline`` — the original line's baseline."""

    def __init__(
        self,
        writer,
        text: str,
        style: str,
        size: float,
        width: float,
        height: float,
        baseline: float = 0.0,
    ):
        box = layout.BoxConstraints(width=int(round(width)), height=int(round(height)))
        super().__init__(writer=writer, box=box)
        self._text = nfc(text)
        self._baseline = baseline
        line = layout.BoxConstraints(
            width=int(round(width)), height=max(1, int(round(min(size, height - baseline))))
        )
        self._tb = TextBox(
            text_style(style, size, leading=size, centred=True),
            writer=writer,
            resources=self.resources,
            box=line,
        )

    def render(self) -> bytes:
        self._tb.content = self._text
        w, h = self.box.width, self.box.height
        return b"q 1 1 1 rg 0 0 %g %g re f Q q 1 0 0 1 0 %g cm %s Q" % (
            w, h, self._baseline, self._tb.render()
        )
