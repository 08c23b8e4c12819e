"""Personal signature of the competent person (Decree 30 Annex I, box 7c): the blue signature
image centred between the title line and the full name, on the last page."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from signing.appearances.base import (
    MM,
    PERSONAL_PREFIX,
    Appearance,
    FieldPlan,
    ImageStampStyle,
    SigningJob,
    clamp_to_page,
    fit_box,
    new_spec,
    next_field_name,
)
from signing.appearances.formfields import create_issue_fields
from signing.appearances.images import load_image
from signing.appearances.locate import TextLine, find_line, page_lines
from signing.errors import AppearanceError

MAX_IMAGE_H = 30 * MM
MAX_IMAGE_W = 55 * MM
MARGIN = 2.0


@dataclass(frozen=True)
class Box:
    """An explicit rectangle in points, PDF user space; ``page`` is 1-based, -1 = last page."""

    x1: float
    y1: float
    x2: float
    y2: float
    page: int = -1

    @classmethod
    def parse(cls, spec: str) -> Box:
        """``"x1,y1,x2,y2,page"`` (page optional, default last) as given on the CLI."""
        parts = [p.strip() for p in spec.split(",")]
        try:
            nums = [float(p) for p in parts[:4]]
            page = int(parts[4]) if len(parts) > 4 else -1
        except ValueError as e:
            raise AppearanceError(
                f"--box '{spec}' sai định dạng; dùng x1,y1,x2,y2,trang (đơn vị point).",
                f"--box '{spec}' is malformed; use x1,y1,x2,y2,page (points)",
                code="bad_box",
            ) from e
        if len(parts) not in (4, 5) or nums[0] >= nums[2] or nums[1] >= nums[3] or page == 0:
            raise AppearanceError(
                f"--box '{spec}' không hợp lệ (cần x1<x2, y1<y2, trang ≥ 1 hoặc -1).",
                f"--box '{spec}' is invalid (need x1<x2, y1<y2, page ≥ 1 or -1)",
                code="bad_box",
            )
        return cls(*nums, page=page)

    @classmethod
    def of(cls, value) -> Box | None:
        """Accept a :class:`Box`, ``(x1, y1, x2, y2[, page])`` or the CLI string form."""
        if value is None or isinstance(value, Box):
            return value
        if isinstance(value, str):
            return cls.parse(value)
        return cls.parse(",".join(str(v) for v in value))

    def page_index(self, page_count: int) -> int:
        idx = page_count + self.page if self.page < 0 else self.page - 1
        if not 0 <= idx < page_count:
            raise AppearanceError(
                f"Trang {self.page} không có trong văn bản ({page_count} trang).",
                f"page {self.page} is not in the document ({page_count} pages)",
                code="bad_box",
            )
        return idx


def signer_block_box(lines: list[TextLine], name: str, image) -> tuple[float, ...] | None:
    """Image box centred between the name line and the title line above it (box 7c)."""
    name_line = find_line(lines, name)
    if name_line is None:
        return None
    top_of_name = name_line.bbox[3]
    above = [
        ln
        for ln in lines
        if ln.bbox[1] > top_of_name + 1
        and ln.bbox[0] < name_line.bbox[2]
        and ln.bbox[2] > name_line.bbox[0]
    ]
    title = min(above, key=lambda ln: ln.bbox[1], default=None)
    if title is not None and title.bbox[1] - top_of_name < 150:
        gap_bottom, gap_top = top_of_name + MARGIN, title.bbox[1] - MARGIN
    else:
        gap_bottom, gap_top = top_of_name + MARGIN, top_of_name + MARGIN + MAX_IMAGE_H
    max_h = min(MAX_IMAGE_H, gap_top - gap_bottom)
    if max_h < 8:
        return None
    cy = (gap_bottom + gap_top) / 2
    return fit_box(image, name_line.x_center, cy, MAX_IMAGE_W, max_h)


@dataclass(frozen=True)
class PersonalAppearance(Appearance):
    """``image``: the official's blue signature PNG (transparent background).
    Placement: ``field`` (existing empty signature field) or ``box`` or, by default, above the
    line holding ``signer_name`` (default: the certificate's common name) on the last page.
    ``prepare_issue_fields`` adds the empty number/date fields the clerk fills before sealing."""

    image: str | Path | bytes
    field: str | None = None
    box: Box | tuple | str | None = None
    signer_name: str | None = None
    prepare_issue_fields: bool = True

    kind = "personal"

    def plan(self, job: SigningJob) -> FieldPlan:
        img = load_image(self.image)
        style = ImageStampStyle(image=img)
        info: dict = {"appearance": self.kind}
        if self.prepare_issue_fields:
            info["issue_fields"] = create_issue_fields(job)
        if self.field:
            return FieldPlan(self.field, style, None, info)
        name = next_field_name(job, PERSONAL_PREFIX)
        box = Box.of(self.box)
        if box is not None:
            idx = box.page_index(job.page_count)
            b = clamp_to_page((box.x1, box.y1, box.x2, box.y2), job.page_box(idx), "chữ ký")
            return FieldPlan(name, style, new_spec(name, idx, b), info)
        who = self.signer_name or job.signer.subject_name
        last = job.page_count - 1
        box = signer_block_box(page_lines(job.reader, last), who, img)
        if box is None:
            raise AppearanceError(
                f"Không tìm thấy họ tên người ký '{who}' ở trang cuối để đặt chữ ký; dùng "
                "--signer-name với họ tên đúng như trên văn bản, hoặc --field/--box.",
                f"signer name '{who}' not found on the last page to place the signature; use "
                "--signer-name with the name exactly as printed, or --field/--box",
                code="signer_block_not_found",
            )
        info["signer_name"] = who
        return FieldPlan(name, style, new_spec(name, last, box), info)
