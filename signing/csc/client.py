"""Remote signer speaking the Cloud Signature Consortium API v2.

WHY: the key stays in the provider's HSM; we send only the digest of the CMS signed attributes
(``signatures/signHash``) after the official authorises with a PIN (``credentials/authorize``,
explicit mode). The certificate and chain come from ``credentials/info``.
"""

from __future__ import annotations

import base64

import httpx
from asn1crypto import x509

from signing.errors import KeyAccessError, RemoteSignerError
from signing.signers.base import Signer, check_digest

HASH_OID = {
    "sha256": "2.16.840.1.101.3.4.2.1",
    "sha384": "2.16.840.1.101.3.4.2.2",
    "sha512": "2.16.840.1.101.3.4.2.3",
}
ECDSA_OID = {
    "sha256": "1.2.840.10045.4.3.2",
    "sha384": "1.2.840.10045.4.3.3",
    "sha512": "1.2.840.10045.4.3.4",
}
RSA_OID = "1.2.840.113549.1.1.1"
PSS_OID = "1.2.840.113549.1.1.10"


class CscClient:
    """Minimal HTTP client for the CSC v2 endpoints we use."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0,
                 client: httpx.Client | None = None):
        self.base = base_url.rstrip("/") + "/csc/v2/"
        self.http = client or httpx.Client(timeout=timeout)
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, body: dict) -> dict:
        try:
            r = self.http.post(self.base + method, json=body, headers=self.headers)
        except httpx.HTTPError as e:
            raise RemoteSignerError(
                "Không kết nối được dịch vụ ký số từ xa; kiểm tra mạng rồi thử lại.",
                f"cannot reach the remote signing service ({e}); check the network and retry",
                code="remote_unreachable",
            ) from e
        try:
            data = r.json()
        except ValueError:
            data = {}
        if r.status_code != 200:
            err = data.get("error", f"http_{r.status_code}")
            desc = data.get("error_description", "")
            if err == "invalid_pin":
                raise KeyAccessError(
                    "Mã PIN ký số từ xa không đúng; không thử lại tự động. Kiểm tra PIN.",
                    f"wrong remote-signing PIN ({desc}); not retried automatically",
                    code="wrong_pin",
                )
            if err == "invalid_token":
                raise RemoteSignerError(
                    "Dịch vụ ký số từ xa từ chối truy cập (mã truy cập sai/hết hạn).",
                    f"the remote signing service refused access ({desc})",
                    code="remote_unauthorized",
                )
            raise RemoteSignerError(
                f"Dịch vụ ký số từ xa báo lỗi: {err} {desc}",
                f"the remote signing service returned an error: {err} {desc}",
                code="remote_error",
            )
        return data

    def list_credentials(self, user_id: str | None = None) -> list[str]:
        body = {"userID": user_id} if user_id else {}
        return list(self.call("credentials/list", body).get("credentialIDs", []))


class CscRemoteSigner(Signer):
    """Signer whose key is a CSC v2 credential. ``pin`` authorises each signature (SAD)."""

    def __init__(self, base_url: str, credential_id: str, *, token: str, pin: str | None = None,
                 prefer_pss: bool = False, client: httpx.Client | None = None):
        self.csc = CscClient(base_url, token, client=client)
        self.credential_id = credential_id
        self._pin = pin
        info = self.csc.call("credentials/info",
                             {"credentialID": credential_id, "certificates": "chain",
                              "certInfo": True})
        certs = [x509.Certificate.load(base64.b64decode(c))
                 for c in info.get("cert", {}).get("certificates", [])]
        if not certs:
            raise RemoteSignerError(
                "Dịch vụ ký số từ xa không trả về chứng thư số của khóa.",
                "the remote signing service returned no certificate for the credential",
                code="remote_no_certificate",
            )
        if info.get("key", {}).get("status", "enabled") != "enabled":
            raise KeyAccessError("Khóa ký số từ xa đang bị khóa.",
                                 "the remote signing key is disabled", code="key_disabled")
        super().__init__(certs[0], certs[1:], prefer_pss=prefer_pss)

    def _sign_algo(self, md: str) -> tuple[str, str | None]:
        if self.key_algorithm == "ec":
            return ECDSA_OID[md], None
        if self.mechanism(md) == "rsassa_pss":
            params = self.get_signature_mechanism_for_digest(md)["parameters"]
            return PSS_OID, base64.b64encode(params.dump()).decode()
        return RSA_OID, None

    def sign_digest(self, digest: bytes, md: str) -> bytes:
        md = check_digest(md)
        sad = self.csc.call("credentials/authorize", {
            "credentialID": self.credential_id, "numSignatures": 1, "PIN": self._pin or "",
        })["SAD"]
        algo, params = self._sign_algo(md)
        body = {"credentialID": self.credential_id, "SAD": sad,
                "hashes": [base64.b64encode(digest).decode()], "hashAlgorithmOID": HASH_OID[md],
                "signAlgo": algo}
        if params:
            body["signAlgoParams"] = params
        sigs = self.csc.call("signatures/signHash", body).get("signatures") or []
        if len(sigs) != 1:
            raise RemoteSignerError("Dịch vụ ký số từ xa không trả về chữ ký.",
                                    "the remote signing service returned no signature",
                                    code="remote_no_signature")
        return base64.b64decode(sigs[0])

    def close(self) -> None:
        self.csc.http.close()
