"""Deferred (two-step) signing at level B-T: the time-stamp over the token's signature value is
fetched from the real dev TSA when the signature is completed; the result is a PAdES B-T that
pdfsig, pyHanko and our validator accept. A TSA outage at completion publishes nothing and the
same token value can be completed again later."""

from __future__ import annotations

import io
import json

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from signing.appearances import PersonalAppearance
from signing.deferred import PendingSignature, complete_deferred, prepare_deferred
from signing.errors import SigningError
from signing.trust import TrustStore
from signing.validation import Indication, Level, clear_caches, verify_pdf
from tests.fixtures.pki import free_port
from tests.sign_helpers import assert_pdfsig_valid, signer_for, validate_all


def test_two_step_b_t(pki_server, directive, nss_db, tmp_path):
    token = signer_for(pki_server, "official-h41")
    e = pki_server.entity("official-h41")
    pending = prepare_deferred(directive, token.certificate, token.chain, level="B-T",
                               tsa_url=pki_server.tsa_url, appearance=PersonalAppearance(e.image))
    restored = PendingSignature.from_json(json.loads(json.dumps(pending.to_json())))
    assert (restored.level, restored.tsa_url) == ("B-T", pki_server.tsa_url)
    pdf = complete_deferred(restored, token.sign_digest(restored.digest_to_sign, restored.md))

    assert_pdfsig_valid(pdf, nss_db, tmp_path, count=1)
    (name, st), = validate_all(pdf, pki_server)
    assert name == "EdocPersonal1" and st.intact and st.valid and st.trusted
    assert st.timestamp_validity is not None
    assert st.timestamp_validity.intact and st.timestamp_validity.valid
    assert st.timestamp_validity.trusted
    si = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0].signer_info
    unsigned = {a["type"].native for a in si["unsigned_attrs"]}
    assert "signature_time_stamp_token" in unsigned

    clear_caches()
    trust = TrustStore.from_dirs([pki_server.root.parent], development=True)
    sig = verify_pdf(pdf, trust=trust).signatures[0]
    assert sig.indication is Indication.TOTAL_PASSED, sig.summary_en
    assert sig.level is Level.B_T and sig.timestamp_time is not None
    assert sig.timestamp_time >= sig.signing_time


def test_b_t_needs_a_tsa(pki_server, directive):
    token = signer_for(pki_server, "official-h41")
    for level in ("B-T", "B-LT", "B-LTA"):
        with pytest.raises(SigningError) as ei:
            prepare_deferred(directive, token.certificate, token.chain, level=level)
        assert ei.value.code == "tsa_missing"
    with pytest.raises(SigningError) as ei:
        prepare_deferred(directive, token.certificate, token.chain, level="B-XL",
                         tsa_url=pki_server.tsa_url)
    assert ei.value.code == "bad_level"


@pytest.mark.parametrize("level,expected", [("B-LT", Level.B_LT), ("B-LTA", Level.B_LTA)])
def test_two_step_long_term_validates_offline(pki_server, directive, nss_db, tmp_path, level,
                                              expected):
    """Deferred signing at B-LT/B-LTA: completion adds the revocation data of the signer's and
    the TSA's chains (and, for B-LTA, a document time-stamp); the result validates offline."""
    token = signer_for(pki_server, "official-h41")
    e = pki_server.entity("official-h41")
    pending = prepare_deferred(directive, token.certificate, token.chain, level=level,
                               tsa_url=pki_server.tsa_url, appearance=PersonalAppearance(e.image))
    restored = PendingSignature.from_json(json.loads(json.dumps(pending.to_json())))
    pdf = complete_deferred(restored, token.sign_digest(restored.digest_to_sign, restored.md))
    assert_pdfsig_valid(pdf, nss_db, tmp_path, count=1,
                        doc_timestamps=1 if level == "B-LTA" else 0)
    clear_caches()
    trust = TrustStore.from_dirs([pki_server.root.parent], development=True)
    [sig] = verify_pdf(pdf, trust=trust, revocation="offline").signatures
    assert sig.indication is Indication.TOTAL_PASSED, sig.summary_en
    assert sig.level is expected and sig.revocation.source.startswith("embedded")
    assert not any("time-stamp" in w for w in sig.warnings), sig.warnings
    assert ("validation_data", True) in {(c.kind, c.allowed) for c in sig.changes}


def test_two_step_b_lt_with_revocation_service_down_publishes_nothing(tmp_path_factory, directive):
    """No OCSP/CRL answer at completion: a clear error (nothing published), as direct B-LT."""
    from signing.devpki import create
    from tests.fixtures.pki import serve_pki

    pki = create(tmp_path_factory.mktemp("pki-lt"), port=free_port())
    token = signer_for(pki, "official-h41")
    with serve_pki(pki):
        pending = prepare_deferred(directive, token.certificate, token.chain, level="B-LT",
                                   tsa_url=pki.tsa_url, check_revocation=False)
        value = token.sign_digest(pending.digest_to_sign, pending.md)
    with pytest.raises(SigningError) as ei:  # TSA, OCSP and CRLs are all gone now
        complete_deferred(pending, value)
    assert ei.value.code in ("tsa_failed", "ltv_failed", "revinfo_missing")
    with serve_pki(pki):  # back: the same token value completes
        pdf = complete_deferred(pending, value)
    assert b"/DSS" in pdf


def test_tsa_down_at_completion_then_retry(pki_server, directive):
    """The TSA fails when the token's value comes back: a clear error and no PDF; completing
    the same pending signature later with a working TSA succeeds without a new token signature."""
    token = signer_for(pki_server, "official-h41")
    dead = f"http://127.0.0.1:{free_port()}/tsa"  # nothing listens there
    pending = prepare_deferred(directive, token.certificate, token.chain, level="B-T",
                               tsa_url=dead)
    value = token.sign_digest(pending.digest_to_sign, pending.md)
    with pytest.raises(SigningError) as ei:
        complete_deferred(pending, value)
    assert ei.value.code == "tsa_failed" and dead in str(ei.value)
    pending.tsa_url = pki_server.tsa_url  # the operator fixes the TSA address
    pdf = complete_deferred(pending, value)
    (_n, st), = validate_all(pdf, pki_server)
    assert st.intact and st.valid and st.timestamp_validity.valid
