"""Deferred (two-step) signing end to end: the server prepares the PDF and the digest without
any key, the official's key signs only the digest, the server embeds it; the result verifies
with pdfsig and pyHanko. A mismatching value is refused before anything is published."""

from __future__ import annotations

import json

import pytest

from signing.appearances import PersonalAppearance
from signing.deferred import PendingSignature, complete_deferred, prepare_deferred
from signing.errors import CertificateError, SigningError
from tests.sign_helpers import assert_pdfsig_valid, signer_for, validate_all


def test_two_step_signing(pki_server, directive, nss_db, tmp_path):
    token = signer_for(pki_server, "official-h41")  # stands for the USB token on the desk
    e = pki_server.entity("official-h41")
    pending = prepare_deferred(directive, token.certificate, token.chain,
                               appearance=PersonalAppearance(e.image))
    # the pending state survives storage as JSON between two HTTP requests
    stored = json.loads(json.dumps(pending.to_json()))
    restored = PendingSignature.from_json(stored)
    assert restored.digest_to_sign == pending.digest_to_sign and len(pending.digest_to_sign) == 32
    value = token.sign_digest(restored.digest_to_sign, restored.md)
    pdf = complete_deferred(restored, value)
    assert_pdfsig_valid(pdf, nss_db, tmp_path, count=1)
    (name, st), = validate_all(pdf, pki_server)
    assert name == "EdocPersonal1" and st.intact and st.valid and st.trusted


def test_pss_and_sha512(pki_server, directive):
    token = signer_for(pki_server, "official-h41", prefer_pss=True)
    pending = prepare_deferred(directive, token.certificate, token.chain, md="sha512",
                               prefer_pss=True)
    pdf = complete_deferred(pending, token.sign_digest(pending.digest_to_sign, "sha512"))
    (_n, st), = validate_all(pdf, pki_server)
    assert st.intact and st.valid and st.trusted


def test_wrong_value_refused(pki_server, directive):
    token = signer_for(pki_server, "official-h41")
    other = signer_for(pki_server, "official-c1")
    pending = prepare_deferred(directive, token.certificate, token.chain)
    with pytest.raises(SigningError) as ei:
        complete_deferred(pending, other.sign_digest(pending.digest_to_sign, "sha256"))
    assert ei.value.code == "deferred_signature_mismatch"


def test_revoked_refused_at_prepare(pki_server, directive):
    r = signer_for(pki_server, "revoked")
    with pytest.raises(CertificateError) as ei:
        prepare_deferred(directive, r.certificate, r.chain)
    assert ei.value.code == "cert_revoked"
