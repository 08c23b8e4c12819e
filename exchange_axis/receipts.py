"""Signed receipts: the receiver's answer to a transfer, evidence that it took the package.

A receipt is canonical JSON (sorted keys, UTF-8) plus a detached CMS signature made with the
receiving node's key — the key of its TLS certificate, so the certificate the sender pinned for the
connection is the one that must have signed the receipt. The sender keeps both as proof of delivery
(X-Road keeps signed message logs for the same reason). A duplicate transfer is answered with the
very same bytes as the first answer.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from exchange_axis.errors import TransportError
from exchange_axis.transport import fingerprint

RECEIPT_VERSION = "edoc-receipt/1"


@dataclass
class RecipientOutcome:
    """What happened to one recipient of a transfer at the receiving node.

    ``status`` is an axis status code ("01" arrived, "02" rejected) or "relayed" when the node
    forwarded the package towards the recipient's own node (its 01 comes later as a status
    package)."""

    agency_code: str
    status: str
    reason_vi: str = ""
    reason_en: str = ""
    incoming_number: int | None = None

    def to_dict(self) -> dict:
        return {"agency_code": self.agency_code, "status": self.status,
                "reason_vi": self.reason_vi, "reason_en": self.reason_en,
                "incoming_number": self.incoming_number}


@dataclass
class Receipt:
    node: str
    sender: str
    document_id: str
    package_sha256: str
    received_at: datetime
    kind: str  # "document" | "status"
    recipients: list[RecipientOutcome] = field(default_factory=list)
    verdicts: dict[str, str] = field(default_factory=dict)  # file sha256 → indication

    def to_bytes(self) -> bytes:
        body = {
            "version": RECEIPT_VERSION, "node": self.node, "sender": self.sender,
            "document_id": self.document_id, "package_sha256": self.package_sha256,
            "received_at": self.received_at.isoformat(), "kind": self.kind,
            "recipients": [r.to_dict() for r in self.recipients], "verdicts": self.verdicts,
        }
        return json.dumps(body, ensure_ascii=False, sort_keys=True,
                          separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> Receipt:
        """The receipt in ``data``; anything else (not JSON, another version, a missing or
        mistyped field) is one ``TransportError``: a sender must never crash on a peer's
        answer, even a signed one."""
        try:
            body = json.loads(data)
            if body.get("version") != RECEIPT_VERSION:
                raise ValueError(f"unknown receipt version {body.get('version')!r}")
            receipt = cls(
                node=body["node"], sender=body["sender"], document_id=body["document_id"],
                package_sha256=body["package_sha256"],
                received_at=datetime.fromisoformat(body["received_at"]), kind=body["kind"],
                recipients=[RecipientOutcome(**r) for r in body["recipients"]],
                verdicts=dict(body.get("verdicts", {})),
            )
            for field_ in ("node", "sender", "document_id", "package_sha256", "kind"):
                if not isinstance(getattr(receipt, field_), str):
                    raise TypeError(f"{field_} is not text")
            for outcome in receipt.recipients:
                if not isinstance(outcome.agency_code, str) or not isinstance(outcome.status,
                                                                              str):
                    raise TypeError("a recipient outcome is not text")
            return receipt
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise TransportError("Biên nhận sai cấu trúc", f"malformed receipt: {exc!r}"[:500],
                                 retryable=False) from None


class ReceiptSigner:
    """Signs receipts with the node key (PEM files of the node's TLS identity).

    A receipt signature is a plain detached CMS (cryptography's PKCS#7 builder, SHA-256): it
    needs no time-stamp or appearance, and it is made for every transfer, so it must be cheap."""

    def __init__(self, cert: Path, key: Path, password: str | None = None) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        certs = x509.load_pem_x509_certificates(Path(cert).read_bytes())
        self._cert = certs[0]
        self._key = load_pem_private_key(Path(key).read_bytes(),
                                         password.encode() if password else None)

    def sign(self, content: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.serialization import pkcs7

        return (pkcs7.PKCS7SignatureBuilder().set_data(content)
                .add_signer(self._cert, self._key, hashes.SHA256())
                .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature]))

    def seal(self, receipt: Receipt) -> bytes:
        """The HTTP answer: JSON with the receipt bytes and its detached CMS, both base64."""
        content = receipt.to_bytes()
        return json.dumps({
            "receipt": base64.b64encode(content).decode("ascii"),
            "cms": base64.b64encode(self.sign(content)).decode("ascii"),
        }).encode("ascii")


def check_detached_cms(cms_der: bytes, content: bytes) -> bytes:
    """Verify a detached CMS over ``content``; return the signer's DER certificate.

    Integrity and signer only: who the signer must be is decided by the caller (a pinned peer),
    so no chain building or revocation here."""
    import hashlib

    from asn1crypto import cms

    from signing.validation.cms import certificates, find_signer_cert, verify_raw_signature

    sd = cms.ContentInfo.load(cms_der)["content"]
    info = sd["signer_infos"][0]
    cert = find_signer_cert(info["sid"], certificates(sd))
    if cert is None:
        raise ValueError("signer certificate not in the CMS")
    md = info["digest_algorithm"]["algorithm"].native
    attrs = info["signed_attrs"]
    if attrs:
        digest = next(a["values"][0].native for a in attrs if a["type"].native == "message_digest")
        if digest != hashlib.new(md, content).digest():
            raise ValueError("content digest mismatch")
        signed = attrs.untag().dump()
    else:
        signed = content
    verify_raw_signature(cert, info["signature"].native, signed, info["signature_algorithm"], md)
    return cert.dump()


def open_sealed(answer: bytes, *, expected_fingerprint: str) -> tuple[Receipt, bytes]:
    """Check a sealed receipt was signed by the pinned peer; return it and its raw content.

    Raises TransportError (not retryable) when the answer is not a receipt from that peer."""
    try:
        outer = json.loads(answer)
        content = base64.b64decode(outer["receipt"])
        cms = base64.b64decode(outer["cms"])
    except (ValueError, KeyError, TypeError) as exc:
        raise TransportError("Câu trả lời không phải biên nhận", f"answer is not a receipt: {exc}",
                             retryable=False) from exc
    try:
        signer_der = check_detached_cms(cms, content)
    except Exception as exc:  # noqa: BLE001 - any failure means: not a valid receipt
        raise TransportError("Chữ ký biên nhận không hợp lệ",
                             f"receipt signature does not verify: {exc}",
                             retryable=False) from exc
    if fingerprint(signer_der) != expected_fingerprint:
        raise TransportError("Biên nhận không do nút ngang hàng ký",
                             "receipt not signed by the pinned peer certificate", retryable=False)
    return Receipt.from_bytes(content), content
