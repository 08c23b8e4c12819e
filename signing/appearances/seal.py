"""Agency ("seal") signature on the main document (Decree 30 Art. 32.2, Annex I): the red seal
image at real size, overlapping the left third of the personal signature image; only on a PDF
that already carries an intact personal signature, and never twice."""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from pyhanko.pdf_utils.form_tools import get_single_field_annot
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko_certvalidator import ValidationContext

from signing.appearances.base import (
    ATTACHMENT_PREFIX,
    COPY_PREFIX,
    MM,
    SEAL_PREFIX,
    VN_TZ,
    Appearance,
    FieldPlan,
    ImageStampStyle,
    SigningJob,
    new_spec,
    next_field_name,
    widget_rect,
)
from signing.appearances.formfields import fill_issue_fields
from signing.appearances.images import load_image
from signing.appearances.personal import Box
from signing.errors import AppearanceError, SignatureOrderError

_AGENCY_PREFIXES = (SEAL_PREFIX, ATTACHMENT_PREFIX, COPY_PREFIX)


def _page_index_of(reader, annot_ref, annot) -> int | None:
    p = annot.get_value_as_reference("/P", optional=True) if hasattr(
        annot, "get_value_as_reference"
    ) else None
    count = int(reader.root["/Pages"]["/Count"])
    for i in range(count):
        page_ref, _ = reader.find_page_for_modification(i)
        if p is not None and page_ref.reference == p:
            return i
        annots = page_ref.get_object().get("/Annots")
        if annots is not None and any(
            getattr(a, "reference", None) == annot_ref for a in annots
        ):
            return i
    return None


def find_personal_signature(reader):
    """The most recent non-agency signature, after checking the Decree 30 order."""
    sigs = list(reader.embedded_regular_signatures)
    if not sigs:
        raise SignatureOrderError(
            "Văn bản chưa có chữ ký số của người có thẩm quyền; chỉ ký số của cơ quan sau khi "
            "người có thẩm quyền đã ký (Điều 32 Nghị định 30/2020/NĐ-CP).",
            "the document has no personal signature of the competent person; the agency signs "
            "only after it (Decree 30/2020 Art. 32)",
            code="seal_without_personal",
        )
    if any(str(s.field_name).startswith(SEAL_PREFIX) for s in sigs):
        raise SignatureOrderError(
            "Văn bản đã được ký số của cơ quan (đóng dấu) rồi; không ký lần nữa.",
            "the document already carries the agency (seal) signature; it is not sealed twice",
            code="already_sealed",
        )
    personal = [s for s in sigs if not str(s.field_name).startswith(_AGENCY_PREFIXES)]
    if not personal:
        raise SignatureOrderError(
            "Văn bản chỉ có chữ ký của cơ quan, không có chữ ký cá nhân.",
            "the document carries only agency signatures, no personal one",
            code="seal_without_personal",
        )
    return personal[-1]


def check_intact(sig) -> None:
    """The personal signature must verify and later changes must be form filling at most."""
    vc = ValidationContext(
        trust_roots=list(sig.other_embedded_certs) + [sig.signer_cert],
        allow_fetching=False,
        revocation_mode="soft-fail",
    )
    try:
        st = validate_pdf_signature(sig, signer_validation_context=vc)
        ok = st.intact and st.valid
        mod = st.modification_level
    except (SignatureValidationError, ValueError) as e:
        ok, mod = False, None
        reason = str(e)
    else:
        reason = f"intact={st.intact} valid={st.valid} changes={mod}"
    if not ok or (mod is not None and mod > ModificationLevel.FORM_FILLING):
        raise SignatureOrderError(
            "Chữ ký số cá nhân trên văn bản không còn hợp lệ (văn bản đã bị thay đổi sau khi "
            "ký); không ký số của cơ quan. Yêu cầu người có thẩm quyền ký lại.",
            f"the personal signature no longer verifies ({reason}); the agency does not sign. "
            "Have the competent person sign again",
            code="personal_signature_invalid",
        )


@dataclass(frozen=True)
class SealAppearance(Appearance):
    """``image``: the agency's red seal PNG; ``diameter_mm``: the seal's real diameter.
    ``number`` ("123/CT-UBND") and ``issue_date`` (default: signing date, Vietnam time) are
    written into the fields prepared at personal signing, before the seal signature."""

    image: str | Path | bytes
    diameter_mm: float = 36.0
    number: str | None = None
    issue_date: dt.date | None = None
    box: Box | tuple | str | None = None

    kind = "agency"

    def plan(self, job: SigningJob) -> FieldPlan:
        img = load_image(self.image)
        if not 10 <= self.diameter_mm <= 80:
            raise AppearanceError(
                f"Đường kính con dấu {self.diameter_mm} mm không hợp lý (10–80 mm).",
                f"seal diameter {self.diameter_mm} mm is implausible (10–80 mm)",
                code="bad_seal_size",
            )
        personal = find_personal_signature(job.reader)
        check_intact(personal)
        date = self.issue_date or job.signing_time.astimezone(VN_TZ).date()
        filled = fill_issue_fields(job.writer, self.number, date if self.number else None)
        if not self.number:
            # no prepared date field: nothing to fill, nothing required
            with contextlib.suppress(AppearanceError):
                filled += fill_issue_fields(job.writer, None, date)
        name = next_field_name(job, SEAL_PREFIX)
        info = {"appearance": self.kind, "filled": filled, "personal_field": personal.field_name}
        d = self.diameter_mm * MM
        box = Box.of(self.box)
        if box is not None:
            idx = box.page_index(job.page_count)
            cx, cy = (box.x1 + box.x2) / 2, (box.y1 + box.y2) / 2
        else:
            field = personal.sig_field
            annot = get_single_field_annot(field)
            x1, y1, x2, y2 = widget_rect(annot)
            idx = _page_index_of(job.reader, getattr(annot, "container_ref", None), annot)
            if x2 - x1 < 1 or idx is None:
                raise AppearanceError(
                    "Chữ ký cá nhân không có hình ảnh để đặt con dấu chồng lên; dùng --box.",
                    "the personal signature has no visible image to overlap; use --box",
                    code="personal_invisible",
                )
            # right edge of the seal one third into the personal image, same vertical centre
            cx, cy = x1 + (x2 - x1) / 3 - d / 2, (y1 + y2) / 2
        px1, py1, px2, py2 = job.page_box(idx)
        cx = min(max(cx, px1 + d / 2), px2 - d / 2)
        cy = min(max(cy, py1 + d / 2), py2 - d / 2)
        box = (cx - d / 2, cy - d / 2, cx + d / 2, cy + d / 2)
        return FieldPlan(name, ImageStampStyle(image=img), new_spec(name, idx, box), info)
