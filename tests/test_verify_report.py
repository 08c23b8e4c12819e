"""Report pieces: identity parsing (UID prefixes), Decree 30 order, summaries, HTML, JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from asn1crypto import x509

from signing.validation.decree30 import decree30
from signing.validation.html import render_html
from signing.validation.identity import classify, parse_ids
from signing.validation.report import (
    Indication,
    Party,
    PdfReport,
    SignatureReport,
    SubIndication,
)
from signing.validation.summary import summarise

pytestmark = pytest.mark.timeout(30)


def name(uid: str, cn: str = "X") -> x509.Name:
    return x509.Name.build({"user_id": uid, "common_name": cn, "country_name": "VN"})


@pytest.mark.parametrize(
    "uid,ids,kind",
    [
        ("CCCD:040075001234", {"CCCD": "040075001234"}, "personal"),
        ("CMND:186123456", {"CMND": "186123456"}, "personal"),
        ("HC:B1234567", {"HC": "B1234567"}, "personal"),
        ("MST:0101234567-001", {"MST": "0101234567-001"}, "agency"),
        ("MNS:1047665", {"MNS": "1047665"}, "agency"),
        (
            "MST:0101234567, CCCD:040075001234",
            {"MST": "0101234567", "CCCD": "040075001234"},
            "personal",
        ),
        ("something else", {}, "unknown"),
    ],
)
def test_uid_identifiers(uid, ids, kind):
    parsed = parse_ids(name(uid))
    assert parsed == ids
    assert classify(parsed) == kind


def sig(kind: str | None, ind=Indication.TOTAL_PASSED, **kw) -> SignatureReport:
    signer = (
        Party(
            name="Nguyễn Văn An",
            organization="UBND tỉnh Nghệ An",
            ids={"CCCD": "1"} if kind == "personal" else {"MNS": "2"},
            kind=kind or "unknown",
        )
        if kind
        else None
    )
    return SignatureReport(field="f", indication=ind, sub_indication=None, signer=signer, **kw)


def test_decree30_order():
    assert decree30([sig("personal"), sig("agency")]).passed
    assert not decree30([sig("agency"), sig("personal")]).passed
    only = decree30([sig("personal")])
    assert only.applicable and not only.passed and "cơ quan" in only.message_vi
    broken = decree30([sig("personal", Indication.TOTAL_FAILED), sig("agency")])
    assert not broken.passed


def test_summary_names_every_required_item():
    s = sig(
        "personal",
        issuer="CA phục vụ các cơ quan Nhà nước G2",
        signing_time=datetime(2026, 3, 2, 2, 30, tzinfo=UTC),
    )
    s.signer = Party(
        name="Nguyễn Văn An",
        organization="UBND tỉnh Nghệ An",
        ids={"CCCD": "1"},
        kind="personal",
        not_before=datetime(2025, 1, 1, tzinfo=UTC),
        not_after=datetime(2028, 1, 1, tzinfo=UTC),
    )
    s.facts.intact = True
    vi, en = summarise(s)
    for needle in (
        "Chữ ký hợp lệ",
        "Người ký: Nguyễn Văn An",
        "Tổ chức cấp chứng thư: CA phục vụ",
        "Thời gian ký: 09:30:00 02/03/2026 (UTC+7)",
        "Tính toàn vẹn: toàn vẹn",
        "Thời hạn chứng thư: từ",
    ):
        assert needle in vi, needle
    assert "Signature valid" in en and "Signer: Nguyễn Văn An" in en
    s.indication, s.sub_indication = Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE
    s.facts.intact = False
    vi, _ = summarise(s)
    assert vi.startswith("Chữ ký không hợp lệ") and "KHÔNG toàn vẹn" in vi


def test_html_escapes_and_json_roundtrip():
    s = sig("personal")
    s.signer = Party(name="<script>alert(1)</script>", kind="personal")
    s.summary_vi = "<b>x</b>"
    report = PdfReport(
        indication=Indication.TOTAL_PASSED,
        sub_indication=None,
        signatures=[s],
        decree30=decree30([s]),
    )
    page = render_html(report)
    assert "<script>" not in page and "&lt;script&gt;" in page
    data = json.loads(json.dumps(report.to_dict(), ensure_ascii=False))
    assert data["signatures"][0]["signer"]["name"] == "<script>alert(1)</script>"
    assert set(data["signatures"][0]["trust_independent"]) >= {"intact", "changes", "coverage"}
    assert set(data["signatures"][0]["trust_dependent"]) >= {"trusted", "chain", "revocation"}


def test_fast_hex_reader_matches_pyhanko():
    """The hex-string speedup returns what pyHanko's own reader returns, or the same error."""
    import io as _io

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from signing.validation import speedups

    alphabet = st.sampled_from(list("0123456789abcdefABCDEF \n\r\t%xZ"))

    @settings(max_examples=300, deadline=None)
    @given(st.text(alphabet, max_size=80), st.booleans())
    def check(body, closed):
        raw = b"<" + body.encode() + (b">rest" if closed else b"")

        def run(reader):
            stream = _io.BytesIO(raw)
            try:
                value = reader(stream)
                return ("ok", bytes(value.original_bytes), stream.tell())
            except Exception as exc:  # both must fail alike
                return ("error", type(exc).__name__)

        assert run(speedups.read_hex_string_from_stream) == run(speedups._original)

    check()


def test_fast_literal_reader_matches_pyhanko():
    """The literal-string speedup returns what pyHanko's own reader returns (value and where
    the stream is left), or the same error: escapes, nesting, line ends, unclosed strings."""
    import io as _io

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from signing.validation import speedups

    alphabet = st.sampled_from([b"a", b"(", b")", b"\\", b"n", b"0", b"7", b"\r", b"\n", b" ",
                                b"\xe1", b"\x00"])

    @settings(max_examples=500, deadline=None)
    @given(st.lists(alphabet, max_size=60), st.integers(0, 5000))
    def check(parts, long_tail):
        raw = b"(" + b"".join(parts) + b"a" * (long_tail if long_tail > 4500 else 0) + b") rest"

        def run(reader):
            stream = _io.BytesIO(raw)
            try:
                return ("ok", bytes(reader(stream)), stream.tell())
            except Exception as exc:  # both must fail alike
                return ("error", type(exc).__name__)

        assert run(speedups.read_string_literal_bytes) == run(speedups._original_literal)

    check()
