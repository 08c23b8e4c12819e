"""A small Cloud Signature Consortium API v2 remote signing service, for development and tests.

WHY: officials away from their token sign through a remote signing service (ETSI TS 119 431/432
style). edoc talks to such services through :class:`signing.csc.client.CscRemoteSigner`; this
service lets tests run that path for real over HTTP, with keys from the development PKI.

Implemented (POST, JSON, ``/csc/v2/...``): ``info``, ``credentials/list``, ``credentials/info``,
``credentials/authorize`` (PIN → SAD, explicit authorisation mode) and ``signatures/signHash``.
Every call except ``info`` needs ``Authorization: Bearer <api token>``. Never for production: keys
are held in memory, PINs compared in plain text.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import time
from dataclasses import dataclass, field

from asn1crypto import algos
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse

from signing.signers.pkcs12 import Pkcs12Signer

HASH_OIDS = {
    "2.16.840.1.101.3.4.2.1": ("sha256", hashes.SHA256),
    "2.16.840.1.101.3.4.2.2": ("sha384", hashes.SHA384),
    "2.16.840.1.101.3.4.2.3": ("sha512", hashes.SHA512),
}
RSA_OID = "1.2.840.113549.1.1.1"
PSS_OID = "1.2.840.113549.1.1.10"
ECDSA_OIDS = {"1.2.840.10045.4.3.2", "1.2.840.10045.4.3.3", "1.2.840.10045.4.3.4",
              "1.2.840.10045.2.1"}
SAD_TTL_S = 300


@dataclass
class Credential:
    """One signing key of a user, unlocked by ``pin``."""

    credential_id: str
    user_id: str
    signer: Pkcs12Signer
    pin: str
    description: str = ""


@dataclass
class _Sad:
    credential_id: str
    remaining: int
    expires: float


@dataclass
class CscState:
    api_token: str
    credentials: dict[str, Credential]
    sads: dict[str, _Sad] = field(default_factory=dict)
    signatures_made: int = 0


def state_from_manifest(manifest, api_token: str) -> CscState:
    """Every official and agency seal of a development PKI as a credential: its id is the
    entity id, its user the agency code, its PIN the entity's PKCS#12 password."""
    creds = {}
    for e in manifest.entities:
        if e.role in ("official", "agency", "revoked", "expired"):
            signer = Pkcs12Signer.load(e.p12, e.password)
            creds[e.id] = Credential(e.id, e.agency_code or e.id, signer, e.password, e.name)
    return CscState(api_token, creds)


class CscError(Exception):
    def __init__(self, status: int, error: str, description: str):
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _cert_info(cred: Credential, certificates: str) -> dict:
    cert = cred.signer.certificate
    chain = [cert, *cred.signer.chain]
    certs = {"none": [], "single": chain[:1], "chain": chain}.get(certificates, chain[:1])
    key = cert.public_key
    algo = [RSA_OID, PSS_OID] if key.algorithm == "rsa" else ["1.2.840.10045.4.3.2"]
    return {
        "description": cred.description,
        "key": {"status": "enabled", "algo": algo, "len": key.bit_size},
        "cert": {
            "status": "valid",
            "certificates": [_b64(c.dump()) for c in certs],
            "issuerDN": cert.issuer.human_friendly,
            "serialNumber": format(cert.serial_number, "x"),
            "subjectDN": cert.subject.human_friendly,
            "validFrom": cert.not_valid_before.strftime("%Y%m%d%H%M%SZ"),
            "validTo": cert.not_valid_after.strftime("%Y%m%d%H%M%SZ"),
        },
        "authMode": "explicit",
        "PIN": {"presence": "true", "format": "N", "label": "PIN"},
        "multisign": 100,
    }


def _sign(cred: Credential, digest: bytes, hash_oid: str, sign_algo: str,
          params_b64: str | None) -> bytes:
    if hash_oid not in HASH_OIDS:
        raise CscError(400, "invalid_request", f"unsupported hashAlgorithmOID {hash_oid}")
    md, h = HASH_OIDS[hash_oid]
    if len(digest) != h.digest_size:
        raise CscError(400, "invalid_request", "hash length does not match hashAlgorithmOID")
    key = cred.signer._key  # dev service: the key lives in this process
    if isinstance(key, rsa.RSAPrivateKey):
        if sign_algo == RSA_OID:
            return key.sign(digest, padding.PKCS1v15(), Prehashed(h()))
        if sign_algo == PSS_OID:
            salt = h.digest_size
            if params_b64:
                p = algos.RSASSAPSSParams.load(base64.b64decode(params_b64))
                salt = int(p["salt_length"].native)
            return key.sign(digest, padding.PSS(padding.MGF1(h()), salt), Prehashed(h()))
    if isinstance(key, ec.EllipticCurvePrivateKey) and sign_algo in ECDSA_OIDS:
        return key.sign(digest, ec.ECDSA(Prehashed(h())))
    raise CscError(400, "invalid_request", f"signAlgo {sign_algo} not supported by this key")


def create_app(state: CscState) -> FastAPI:
    """The CSC v2 service over ``state`` (credentials and the API token)."""
    app = FastAPI(title="edoc CSC v2 development signing service")

    @app.exception_handler(CscError)
    async def _csc_error(_req: Request, exc: CscError):
        return JSONResponse({"error": exc.error, "error_description": exc.description},
                            status_code=exc.status)

    def auth(authorization: str | None) -> None:
        expected = f"Bearer {state.api_token}"
        if not authorization or not hmac.compare_digest(authorization, expected):
            raise CscError(401, "invalid_token", "missing or invalid access token")

    def credential(body: dict) -> Credential:
        cred = state.credentials.get(str(body.get("credentialID", "")))
        if cred is None:
            raise CscError(400, "invalid_request", "invalid parameter credentialID")
        return cred

    @app.post("/csc/v2/info")
    async def info() -> dict:
        return {
            "specs": "2.0.0.2", "name": "edoc dev CSC", "logo": "", "region": "VN",
            "lang": "vi-VN", "description": "Dịch vụ ký số từ xa thử nghiệm (development only)",
            "authType": ["external"], "methods": [
                "credentials/list", "credentials/info", "credentials/authorize",
                "signatures/signHash"],
        }

    @app.post("/csc/v2/credentials/list")
    async def credentials_list(request: Request, authorization: str | None = Header(None)):
        auth(authorization)
        body = await request.json()
        user = body.get("userID")
        ids = [c.credential_id for c in state.credentials.values()
               if user is None or c.user_id == user]
        out: dict = {"credentialIDs": ids}
        if body.get("credentialInfo"):
            out["credentialInfos"] = [
                {"credentialID": i, **_cert_info(state.credentials[i],
                                                 body.get("certificates", "single"))}
                for i in ids
            ]
        return out

    @app.post("/csc/v2/credentials/info")
    async def credentials_info(request: Request, authorization: str | None = Header(None)):
        auth(authorization)
        body = await request.json()
        return _cert_info(credential(body), body.get("certificates", "single"))

    @app.post("/csc/v2/credentials/authorize")
    async def authorize(request: Request, authorization: str | None = Header(None)):
        auth(authorization)
        body = await request.json()
        cred = credential(body)
        if not hmac.compare_digest(str(body.get("PIN", "")), cred.pin):
            raise CscError(400, "invalid_pin", "The PIN is invalid")
        n = int(body.get("numSignatures", 1))
        if not 1 <= n <= 100:
            raise CscError(400, "invalid_request", "numSignatures out of range")
        sad = secrets.token_urlsafe(24)
        state.sads[sad] = _Sad(cred.credential_id, n, time.monotonic() + SAD_TTL_S)
        return {"SAD": sad, "expiresIn": SAD_TTL_S}

    @app.post("/csc/v2/signatures/signHash")
    async def sign_hash(request: Request, authorization: str | None = Header(None)):
        auth(authorization)
        body = await request.json()
        cred = credential(body)
        sad = state.sads.get(str(body.get("SAD", "")))
        hashes_b64 = body.get("hashes") or []
        if sad is None or sad.credential_id != cred.credential_id \
                or sad.expires < time.monotonic():
            raise CscError(400, "invalid_request", "invalid or expired SAD")
        if not hashes_b64 or len(hashes_b64) > sad.remaining:
            raise CscError(400, "invalid_request", "SAD does not cover that many hashes")
        sad.remaining -= len(hashes_b64)
        if sad.remaining == 0:
            state.sads.pop(str(body["SAD"]), None)
        sigs = [
            _sign(cred, base64.b64decode(h), str(body.get("hashAlgorithmOID", "")),
                  str(body.get("signAlgo", "")), body.get("signAlgoParams"))
            for h in hashes_b64
        ]
        state.signatures_made += len(sigs)
        return {"signatures": [_b64(s) for s in sigs]}

    return app
