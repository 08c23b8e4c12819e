"""What every Decree 30 appearance provides to the PAdES signer, and the image stamp they share.

WHY: ``signing.pades`` should not know about title lines, seals or copy labels. Each appearance
turns "this document, this signer" into a :class:`FieldPlan` (which field, where, drawn how) and
may prepare the document first (e.g. fill the number and date before the seal).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from pyhanko.pdf_utils import generic, layout
from pyhanko.pdf_utils.content import ResourceType
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.fields import SigFieldSpec
from pyhanko.stamp import BaseStamp, BaseStampStyle

from signing.appearances.images import EncodedImage
from signing.errors import AppearanceError

MM = 72.0 / 25.4
VN_TZ = dt.timezone(dt.timedelta(hours=7))

# Field names we create: no dots (a dot means hierarchy in PDF field names).
PERSONAL_PREFIX = "EdocPersonal"
SEAL_PREFIX = "EdocSeal"
ATTACHMENT_PREFIX = "EdocAttachment"
COPY_PREFIX = "EdocCopy"


def iso_vn(t: dt.datetime) -> str:
    """``2025-03-05T14:30:15+07:00``: the decree's signing-time rendering."""
    return t.astimezone(VN_TZ).replace(microsecond=0).isoformat()


@dataclass
class SigningJob:
    """Everything an appearance may look at while planning."""

    data: Any  # bytes or a seekable binary stream holding the input PDF
    writer: IncrementalPdfFileWriter
    signer: Any
    signing_time: dt.datetime

    @property
    def reader(self):
        return self.writer.prev

    @property
    def page_count(self) -> int:
        return int(self.reader.root["/Pages"]["/Count"])

    def page_box(self, page_index: int) -> tuple[float, float, float, float]:
        node = self.reader.find_page_for_modification(page_index)[0].get_object()
        while node is not None:  # /MediaBox is inheritable from the page tree
            if "/MediaBox" in node:
                x1, y1, x2, y2 = (float(v) for v in node["/MediaBox"])
                return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)
            node = node.get("/Parent")
            node = node.get_object() if node is not None else None
        return 0.0, 0.0, 595.28, 841.89


@dataclass
class FieldPlan:
    """Where and how the signature goes: an existing field (``spec`` None) or a new one."""

    field_name: str
    stamp_style: BaseStampStyle
    spec: SigFieldSpec | None = None
    info: dict = field(default_factory=dict)


class Appearance:
    """Base of the four Decree 30 appearances."""

    kind = "none"

    def plan(self, job: SigningJob) -> FieldPlan:  # pragma: no cover - abstract
        raise NotImplementedError


def form_fields(document) -> dict[str, generic.IndirectObject]:
    """The top-level AcroForm fields of a pyHanko reader or writer, by name (``/T``)."""
    out: dict[str, generic.IndirectObject] = {}
    try:
        fields = document.root["/AcroForm"]["/Fields"]
    except KeyError:
        return out
    for ref in fields:
        name = ref.get_object().get("/T")
        if name is not None:
            out[str(name)] = ref
    return out


def next_field_name(job: SigningJob, prefix: str) -> str:
    """``prefix`` + the first free number, so re-signing never collides with a field."""
    existing = form_fields(job.reader)
    n = 1
    while f"{prefix}{n}" in existing:
        n += 1
    return f"{prefix}{n}"


def fit_box(
    image: EncodedImage, cx: float, cy: float, max_w: float, max_h: float
) -> tuple[float, float, float, float]:
    """Largest box of the image's aspect ratio centred on (cx, cy) within max_w × max_h."""
    w = min(max_w, max_h * image.aspect)
    h = w / image.aspect
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


def clamp_to_page(box, page_box, what: str):
    x1, y1, x2, y2 = box
    px1, py1, px2, py2 = page_box
    if x1 < px1 - 0.5 or y1 < py1 - 0.5 or x2 > px2 + 0.5 or y2 > py2 + 0.5:
        raise AppearanceError(
            f"Vị trí {what} nằm ngoài trang; chỉnh lại --box.",
            f"the {what} position lies outside the page; adjust --box",
            code="box_outside_page",
        )
    return box


@dataclass(frozen=True)
class ImageStampStyle(BaseStampStyle):
    """Draw one image filling the widget (no border, no text, fully opaque)."""

    image: EncodedImage | None = None
    border_width: int = 0

    def create_stamp(self, writer, box: layout.BoxConstraints, text_params: dict) -> BaseStamp:
        return _ImageStamp(writer, self, box)


class _ImageStamp(BaseStamp):
    def __init__(self, writer, style: ImageStampStyle, box):
        super().__init__(writer=writer, style=style, box=box)

    def _render_inner_content(self):
        img = self.style.image
        ref = img.add_to(self.writer)
        self.set_resource(ResourceType.XOBJECT, pdf_name("/Im0"), ref)
        w, h = self.box.width, self.box.height
        # keep the aspect ratio, centred in the widget
        sw = min(w, h * img.aspect)
        sh = sw / img.aspect
        return [b"q %g 0 0 %g %g %g cm /Im0 Do Q" % (sw, sh, (w - sw) / 2, (h - sh) / 2)]


def new_spec(name: str, page_index: int, box) -> SigFieldSpec:
    return SigFieldSpec(
        sig_field_name=name,
        on_page=page_index,
        box=tuple(round(v, 2) for v in box),
    )


def widget_rect(obj: generic.DictionaryObject) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in obj["/Rect"])
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)
