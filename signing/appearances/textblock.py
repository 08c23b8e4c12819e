"""Agency signatures without image: separate attachments and electronic copies (Decree 30
Annex I). A text block at the top right of page 1, Times-metric serif, 10 pt, black, upright."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyhanko.pdf_utils import layout
from pyhanko.stamp import TextStampStyle

from signing.appearances.base import (
    ATTACHMENT_PREFIX,
    COPY_PREFIX,
    MM,
    Appearance,
    FieldPlan,
    SigningJob,
    iso_vn,
    new_spec,
    next_field_name,
)
from signing.appearances.text import nfc, text_style, text_width
from signing.errors import AppearanceError

SIZE = 10
LEADING = 11
RIGHT_MARGIN = 15 * MM
TOP_MARGIN = 4 * MM
PAD = 2.0
COPY_FORMS = ("SAO Y", "SAO LỤC", "TRÍCH SAO")


def _plan_text(job: SigningJob, prefix: str, lines: list[str], kind: str) -> FieldPlan:
    lines = [nfc(x) for x in lines]
    w = max(text_width(x, SIZE) for x in lines) + 2 * PAD + 8
    h = LEADING * len(lines) + 2 * PAD + 4
    px1, _py1, px2, py2 = job.page_box(0)
    x2 = px2 - RIGHT_MARGIN
    y2 = py2 - TOP_MARGIN
    box = (max(px1, x2 - w), y2 - h, x2, y2)
    style = TextStampStyle(
        stamp_text="\n".join(lines).replace("%", "%%"),
        text_box_style=text_style("serif", SIZE, LEADING, centred=False),
        border_width=0,
        inner_content_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MAX,
            y_align=layout.AxisAlignment.ALIGN_MAX,
            margins=layout.Margins.uniform(PAD),
            inner_content_scaling=layout.InnerScaling.SHRINK_TO_FIT,
        ),
    )
    name = next_field_name(job, prefix)
    return FieldPlan(name, style, new_spec(name, 0, box), {"appearance": kind, "text": lines})


@dataclass(frozen=True)
class AttachmentAppearance(Appearance):
    """A separate attachment file: the main document's ``number`` (số/ký hiệu) and the signing
    time ``YYYY-MM-DDThh:mm:ss+07:00``. The decree's "lower case" means upright ordinary
    letters (not set in capitals): the notation keeps its own capitals, which are part of the
    identifier."""

    number: str
    signing_time: dt.datetime | None = None

    kind = "attachment"

    def plan(self, job: SigningJob) -> FieldPlan:
        if not self.number.strip():
            raise AppearanceError(
                "Thiếu số, ký hiệu của văn bản chính (--number).",
                "the main document's number/notation is missing (--number)",
                code="number_missing",
            )
        return _plan_text(
            job, ATTACHMENT_PREFIX, [self.number.strip(), iso_vn(job.signing_time)], self.kind
        )


@dataclass(frozen=True)
class CopyAppearance(Appearance):
    """An electronic copy: ``form`` ("SAO Y", "SAO LỤC", "TRÍCH SAO"), the copying agency's
    name and the signing time."""

    form: str
    agency_name: str
    signing_time: dt.datetime | None = None

    kind = "copy"

    def plan(self, job: SigningJob) -> FieldPlan:
        form = nfc(self.form).strip().upper()
        if form not in COPY_FORMS:
            raise AppearanceError(
                f"Hình thức sao '{self.form}' không hợp lệ; dùng SAO Y, SAO LỤC hoặc TRÍCH SAO.",
                f"copy form '{self.form}' is invalid; use SAO Y, SAO LỤC or TRÍCH SAO",
                code="bad_copy_form",
            )
        return _plan_text(
            job, COPY_PREFIX, [form, self.agency_name.strip(), iso_vn(job.signing_time)], self.kind
        )
