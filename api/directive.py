"""The outgoing workflow of an official directive, as the province's people do it:
draft (two-page Vietnamese directive) → the leader signs (personal, blue signature) → the system
gives the number from the outgoing register (at the node) → the clerk seals (red seal, filling the
number and date) → issued through the node to every recipient.

Used by ``edoc demo``, the exchange tests and the fan-out bench, so all three move the same kind
of real, Decree-30-shaped signed PDF.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from edoc.document import VIETNAM

SUBJECT = ("Về việc đẩy mạnh gửi, nhận văn bản điện tử và ký số văn bản trong cơ quan hành chính "
           "nhà nước trên địa bàn tỉnh")


@dataclass
class SignedDirective:
    pdf: bytes
    number: str
    notation: str
    issue_date: dt.date
    leader_signed: bytes

    @property
    def code(self) -> str:
        return f"{self.number}/{self.notation}"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.pdf).hexdigest()


def sign_directive(
    manifest: Any,
    allocate_number: Callable[[str], str],
    *,
    leader: str = "official-h41",
    seal: str = "agency-h41",
    notation: str = "CT-UBND",
    places: Sequence[str] = ("Như trên", "Lưu: VT"),
    pad_to_bytes: int = 0,
    level: str = "B-T",
) -> SignedDirective:
    """Draft, sign (leader), number (``allocate_number(notation) -> "01"``) and seal.

    ``pad_to_bytes`` grows the draft (an embedded attachment-like comment) for benches that need a
    document of a given size; the signatures still cover every byte."""
    from api.drafting import render_directive  # noqa: PLC0415
    from signing import sign_pdf  # noqa: PLC0415
    from signing.appearances import PersonalAppearance, SealAppearance  # noqa: PLC0415
    from signing.signers.pkcs12 import Pkcs12Signer  # noqa: PLC0415

    official = manifest.entity(leader)
    agency = manifest.entity(seal)
    draft = render_directive(signer_name=official.name, recipients=list(places), notation=notation)
    if pad_to_bytes > len(draft):
        draft = _pad(draft, pad_to_bytes - len(draft))
    person = Pkcs12Signer.load(official.p12, official.password)
    signed = sign_pdf(draft, person, appearance=PersonalAppearance(image=official.image),
                      level=level, tsa_url=manifest.tsa_url)
    number = allocate_number(notation)
    today = dt.datetime.now(VIETNAM).date()
    stamp = Pkcs12Signer.load(agency.p12, agency.password)
    sealed = sign_pdf(signed, stamp, appearance=SealAppearance(
        image=agency.image, number=f"{number}/{notation}", issue_date=today),
        level=level, tsa_url=manifest.tsa_url)
    return SignedDirective(sealed, number, notation, today, signed)


def _pad(pdf: bytes, extra: int) -> bytes:
    """Append an incremental update holding one unreferenced stream of ``extra`` bytes: a larger
    file with the same pages (pyHanko signs incremental updates on top of it)."""
    import io  # noqa: PLC0415

    from pyhanko.pdf_utils import generic  # noqa: PLC0415
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter  # noqa: PLC0415

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    stream = generic.StreamObject(stream_data=_noise(extra))
    ref = writer.add_object(stream)
    writer.root["/EdocPadding"] = ref
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _noise(n: int) -> bytes:
    seed = hashlib.sha256(b"edoc-bench").digest()
    blocks = []
    counter = 0
    while len(blocks) * 32 < n:
        blocks.append(hashlib.sha256(seed + counter.to_bytes(8, "big")).digest())
        counter += 1
    return b"".join(blocks)[:n]


def document_json(directive: SignedDirective, sender: tuple[str, str],
                  recipients: Sequence[tuple[str, str]], *, priority: int = 0,
                  due_in_days: int | None = 15, subject: str = SUBJECT) -> dict[str, Any]:
    """The operator API's issue body for a signed directive."""
    import base64  # noqa: PLC0415

    due = directive.issue_date + dt.timedelta(days=due_in_days) if due_in_days else None
    return {
        "document": {
            "sender": {"organ_id": sender[0], "name": sender[1]},
            "recipients": [{"organ_id": c, "name": n} for c, n in recipients],
            "subject": subject, "code": directive.code, "place": "Nghệ An",
            "date": directive.issue_date.isoformat(), "type": 3, "type_name": "Chỉ thị",
            "competence": "TM. ỦY BAN NHÂN DÂN", "position": "Chủ tịch",
            "signer": "Nguyễn Văn An", "priority": priority,
            "due_date": due.isoformat() if due else None,
            "to_places": ["Như trên", "Lưu: VT"],
        },
        "files": [{"name": f"{directive.number}-{directive.notation}.pdf",
                   "data": base64.b64encode(directive.pdf).decode("ascii")}],
    }
