"""RFC 3161 time-stamping authority of the development PKI.

Built from certomancer's pieces (CMS attribute helper, signer, algorithm choice) rather than
certomancer's own ``TimeStamper``, because that one identifies its certificate with the SHA-1
ESSCertID (signing-certificate v1) and Circular 15/2025 lists no SHA-1: we emit
signing-certificate-v2 with SHA-256 (RFC 5816), which OpenSSL and pyHanko verify.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime

from asn1crypto import algos, cms, core, keys, tsp, x509
from certomancer.crypto_utils import generic_sign
from certomancer.services import choose_signed_digest, get_nonce, simple_cms_attribute
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from signing.devpki.marker import DEV_POLICY_OID

TSA_POLICY_OID = f"{DEV_POLICY_OID}.1"
ACCEPTED_IMPRINTS = ("sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512")


class _Rejection(core.Sequence):
    """TimeStampResp without a token (asn1crypto's class insists on one, RFC 3161 does not)."""

    _fields = [("status", tsp.PKIStatusInfo)]


def _rejection(fail_info: str, text: str) -> _Rejection:
    return _Rejection({
        "status": tsp.PKIStatusInfo({
            "status": "rejection",
            "status_string": [text],
            "fail_info": tsp.PKIFailureInfo({fail_info}),
        })
    })


def _signer(key: keys.PrivateKeyInfo, algo: algos.SignedDigestAlgorithm
            ) -> Callable[[bytes], bytes]:
    """Sign with ``key`` loaded once. certomancer's ``generic_sign`` loads the key from DER on
    every call, and OpenSSL 3 checks an RSA key as it loads it (~90 ms here): that made the TSA
    the bottleneck of anything signing in bulk (the hub bench's corpus). RSA PKCS#1 v1.5 keys
    (what the development PKI issues) are signed here; anything else goes to certomancer."""
    if algo.signature_algo != "rsassa_pkcs1v15":
        return lambda data: generic_sign(key, data, algo)
    loaded = serialization.load_der_private_key(key.dump(), password=None)
    assert isinstance(loaded, rsa.RSAPrivateKey)
    digest = getattr(hashes, algo.hash_algo.upper())()
    return lambda data: loaded.sign(data, padding.PKCS1v15(), digest)


class TimeStampAuthority:
    """Answers TimeStampReq with a token signed by the TSA key, SHA-256 / RSA PKCS#1 v1.5."""

    def __init__(self, cert: x509.Certificate, key: keys.PrivateKeyInfo,
                 chain: list[x509.Certificate]) -> None:
        self.cert = cert
        self.key = key
        self.chain = chain  # issuers of cert, embedded when the client asks for certificates
        self.signature_algo = choose_signed_digest("sha256", cert.public_key)
        self._sign = _signer(key, self.signature_algo)

    def respond(self, request_der: bytes, now: datetime | None = None) -> bytes:
        """DER TimeStampResp for a DER TimeStampReq (a rejection status if it is unusable)."""
        try:
            req = tsp.TimeStampReq.load(request_der)
            imprint = req["message_imprint"]
            algorithm = imprint["hash_algorithm"]["algorithm"].native
            imprint["hashed_message"].native  # noqa: B018 - forces parsing
            policy = req["req_policy"].native
        except (ValueError, TypeError, KeyError):
            return _rejection("bad_data_format", "malformed TimeStampReq").dump()
        if algorithm not in ACCEPTED_IMPRINTS:
            return _rejection("bad_alg", f"hash algorithm {algorithm} not accepted").dump()
        if policy is not None and policy != TSA_POLICY_OID:
            return _rejection("unaccepted_policy", f"only policy {TSA_POLICY_OID}").dump()
        return self._grant(req, now or datetime.now(UTC)).dump()

    def _grant(self, req: tsp.TimeStampReq, now: datetime) -> tsp.TimeStampResp:
        tst_info = {
            "version": "v1",
            "policy": TSA_POLICY_OID,
            "message_imprint": req["message_imprint"],
            "serial_number": get_nonce(),
            "gen_time": now,
            "accuracy": {"seconds": 1},
            "tsa": x509.GeneralName(name="directory_name", value=self.cert.subject),
        }
        if isinstance(req["nonce"], core.Integer):
            tst_info["nonce"] = req["nonce"]
        tst_der = tsp.TSTInfo(tst_info).dump()
        cert_id = tsp.ESSCertIDv2({
            "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
            "cert_hash": hashlib.sha256(self.cert.dump()).digest(),
            "issuer_serial": {
                "issuer": [x509.GeneralName(name="directory_name", value=self.cert.issuer)],
                "serial_number": self.cert.serial_number,
            },
        })
        signed_attrs = cms.CMSAttributes([
            simple_cms_attribute("content_type", "tst_info"),
            simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(now)})),
            simple_cms_attribute("signing_certificate_v2",
                                 tsp.SigningCertificateV2({"certs": [cert_id]})),
            simple_cms_attribute("message_digest", hashlib.sha256(tst_der).digest()),
        ])
        digest = algos.DigestAlgorithm({"algorithm": "sha256"})
        signer_info = cms.SignerInfo({
            "version": "v1",
            "sid": cms.SignerIdentifier({
                "issuer_and_serial_number": cms.IssuerAndSerialNumber({
                    "issuer": self.cert.issuer, "serial_number": self.cert.serial_number,
                })
            }),
            "digest_algorithm": digest,
            "signature_algorithm": self.signature_algo,
            "signed_attrs": signed_attrs,
            "signature": self._sign(signed_attrs.dump()),
        })
        signed_data = {
            "version": "v3",
            "digest_algorithms": [digest],
            "encap_content_info": {
                "content_type": "tst_info",
                "content": cms.ParsableOctetString(tst_der),
            },
            "signer_infos": [signer_info],
        }
        if req["cert_req"].native:
            signed_data["certificates"] = [self.cert, *self.chain]
        token = cms.ContentInfo({"content_type": "signed_data",
                                 "content": cms.SignedData(signed_data)})
        return tsp.TimeStampResp({
            "status": tsp.PKIStatusInfo({"status": "granted"}),
            "time_stamp_token": token,
        })
