"""Decree 30/2020's rule for a main document: the competent person signs, then the agency.

Personal and agency signatures are told apart by the certificate's identifier
(:mod:`signing.validation.identity`), not by how the appearance looks.
"""

from __future__ import annotations

from signing.validation.report import Decree30Check, Indication, SignatureReport


def decree30(sigs: list[SignatureReport]) -> Decree30Check:
    """Is there a personal signature followed (covered) by an agency signature, both unbroken?
    Informative: it does not change the indications, a document may not be a main document."""
    personal = [i for i, s in enumerate(sigs) if s.signer and s.signer.kind == "personal"]
    agency = [i for i, s in enumerate(sigs) if s.signer and s.signer.kind == "agency"]
    if not sigs:
        return Decree30Check(False, False, "Không có chữ ký.", "No signatures.")
    if not personal or not agency:
        missing_vi = "chữ ký cá nhân" if not personal else "chữ ký của cơ quan"
        missing_en = "personal signature" if not personal else "agency signature"
        return Decree30Check(
            True,
            False,
            f"Văn bản chính thiếu {missing_vi} (Nghị định 30/2020: người có thẩm quyền ký, "
            "sau đó cơ quan ký số).",
            f"Main document lacks a {missing_en} (Decree 30/2020: the competent person signs, "
            "then the agency).",
        )
    first_personal = personal[0]
    later_agency = [i for i in agency if i > first_personal]
    valid = lambda i: sigs[i].indication is not Indication.TOTAL_FAILED  # noqa: E731
    if later_agency and valid(first_personal) and valid(later_agency[0]):
        return Decree30Check(
            True,
            True,
            "Đúng trình tự Nghị định 30/2020: chữ ký cá nhân, sau đó chữ ký cơ quan.",
            "Decree 30/2020 order respected: personal signature, then the agency's.",
        )
    return Decree30Check(
        True,
        False,
        "Sai trình tự Nghị định 30/2020: chữ ký cơ quan phải đặt sau chữ ký cá nhân "
        "và cả hai phải còn nguyên vẹn.",
        "Decree 30/2020 order not respected: the agency signature must follow the personal one "
        "and both must be intact.",
    )
