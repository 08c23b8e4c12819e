"""OCSP responder of the development PKI (RFC 6960), on certomancer's ``SimpleOCSPResponder``.

The responder is delegated by the sub-CA (its certificate carries OCSPSigning and
id-pkix-ocsp-nocheck) and knows the status of every certificate the sub-CA issued from the
manifest: ``revoked`` with time and reason for the revoked signer, ``good`` for the others, and
``unknown`` for serials the sub-CA never issued.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from asn1crypto import core, keys, ocsp, x509
from certomancer.services import (
    RevocationInfoInterface,
    SimpleOCSPResponder,
    choose_signed_digest,
)

RESPONSE_VALIDITY = timedelta(minutes=30)


class _Status(RevocationInfoInterface):
    def __init__(self, issuer: x509.Certificate, issued: set[int],
                 revoked: dict[int, datetime]) -> None:
        self.issuer = issuer
        self.issued = issued
        self.revoked = revoked

    def get_issuer_cert(self) -> x509.Certificate:
        return self.issuer

    def check_revocation_status(self, cid: ocsp.CertId, at_time: datetime):
        serial = cid["serial_number"].native
        when = self.revoked.get(serial)
        if when is not None and when <= at_time:
            return ocsp.CertStatus(name="revoked", value={
                "revocation_time": when, "revocation_reason": "key_compromise",
            }), []
        if serial in self.issued:
            return ocsp.CertStatus(name="good", value=None), []
        return ocsp.CertStatus(name="unknown", value=None), []


class OcspResponder:
    """Signs OCSP responses for certificates of one issuer (the sub-CA)."""

    def __init__(self, responder_cert: x509.Certificate, responder_key: keys.PrivateKeyInfo,
                 issuer: x509.Certificate, issued: set[int],
                 revoked: dict[int, datetime]) -> None:
        self.responder_cert = responder_cert
        self.responder_key = responder_key
        self.issuer = issuer
        self.status = _Status(issuer, issued, revoked)
        self.signature_algo = choose_signed_digest("sha256", responder_cert.public_key)

    def respond(self, request_der: bytes, now: datetime | None = None) -> bytes:
        """DER OCSPResponse for a DER OCSPRequest (an error status if it is unusable)."""
        try:
            request = ocsp.OCSPRequest.load(request_der)
            request["tbs_request"]["request_list"].native  # noqa: B018 - forces parsing
        except (ValueError, TypeError, KeyError):
            return SimpleOCSPResponder.build_error_response("malformed_request").dump()
        responder = SimpleOCSPResponder(
            responder_cert=self.responder_cert,
            responder_key=self.responder_key,
            signature_algo=self.signature_algo,
            at_time=(now or datetime.now(UTC)).replace(microsecond=0),
            revinfo_interface=self.status,
            validity=RESPONSE_VALIDITY,
        )
        response = responder.build_ocsp_response(request)
        if response["response_status"].native != "successful":
            return response.dump()
        # certomancer embeds only the responder's certificate; add its issuer so clients can
        # build the responder's chain without fetching it (the certs field is not signed).
        signed = response["response_bytes"]["response"].parsed
        basic = ocsp.BasicOCSPResponse({
            "tbs_response_data": signed["tbs_response_data"],
            "signature_algorithm": signed["signature_algorithm"],
            "signature": signed["signature"],
            "certs": [self.responder_cert, self.issuer],
        })
        return ocsp.OCSPResponse({
            "response_status": "successful",
            "response_bytes": {
                "response_type": "basic_ocsp_response",
                "response": core.ParsableOctetString(basic.dump()),
            },
        }).dump()
