"""The trust store: which roots (and helper intermediates) a deployment trusts.

A deployment points edoc at one or more directories of certificates (PEM or DER, any of .pem
.crt .cer .der). Self-signed CA certificates become trust anchors; other CA certificates are
kept as intermediates for chain building, because some issued PDFs embed only the signer's leaf.
Development roots (made by ``signing.devpki``) are refused unless ``development=True``, so a
production installation can never be fooled by a certificate minted on a laptop.
See docs/trust.md for adding the Government Cipher Committee (Ban Cơ yếu Chính phủ) and NEAC
roots.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import pem, x509

from signing.devpki.marker import is_dev_cert

CERT_SUFFIXES = {".pem", ".crt", ".cer", ".der", ".cert"}


class TrustStoreError(ValueError):
    """A trust store directory or certificate is unusable; the message says which and why."""

    def __init__(self, message_vi: str, message_en: str):
        self.message_vi = message_vi
        self.message_en = message_en
        super().__init__(f"{message_vi} ({message_en})")


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """All certificates in PEM (one or many) or DER bytes."""
    if pem.detect(data):
        out = []
        for type_name, _headers, der in pem.unarmor(data, multiple=True):
            if type_name in ("CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CERTIFICATE"):
                out.append(x509.Certificate.load(der))
        return out
    cert = x509.Certificate.load(data)
    cert.native  # noqa: B018  (fail now on bad DER)
    return [cert]


def _self_signed(cert: x509.Certificate) -> bool:
    return cert.self_signed in ("maybe", "yes")


@dataclass
class TrustStore:
    roots: list[x509.Certificate] = field(default_factory=list)
    intermediates: list[x509.Certificate] = field(default_factory=list)
    development: bool = False
    refused: list[str] = field(default_factory=list)  # why certificates were left out
    _fingerprint: str | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_certs(
        cls,
        roots: Iterable,
        intermediates: Iterable = (),
        *,
        development: bool = False,
    ) -> TrustStore:
        store = cls(development=development)
        for c in roots:
            store._add(_as_cert(c), anchor=True)
        for c in intermediates:
            store._add(_as_cert(c), anchor=False)
        return store

    @classmethod
    def from_dirs(cls, paths: Iterable[Path | str], *, development: bool = False) -> TrustStore:
        store = cls(development=development)
        for p in paths:
            path = Path(p)
            if not path.exists():
                raise TrustStoreError(
                    f"Không tìm thấy thư mục tin cậy {path}: hãy kiểm tra cấu hình EDOC_TRUST",
                    f"trust directory {path} not found: check EDOC_TRUST",
                )
            files = (
                [path]
                if path.is_file()
                else sorted(f for f in path.rglob("*") if f.suffix.lower() in CERT_SUFFIXES)
            )
            for f in files:
                try:
                    certs = load_certificates(f.read_bytes())
                except Exception as exc:
                    raise TrustStoreError(
                        f"Tệp chứng thư {f} không đọc được ({exc}); hãy xóa hoặc thay tệp này",
                        f"certificate file {f} is unreadable ({exc}); remove or replace it",
                    ) from exc
                for c in certs:
                    store._add(c, anchor=_self_signed(c))
        return store

    def _add(self, cert: x509.Certificate, *, anchor: bool) -> None:
        if is_dev_cert(cert) and not self.development:
            self.refused.append(
                f"{cert.subject.human_friendly}: development certificate, refused outside "
                "development mode"
            )
            return
        target = self.roots if anchor else self.intermediates
        if all(c.sha256 != cert.sha256 for c in target):
            target.append(cert)
            self._fingerprint = None

    @property
    def empty(self) -> bool:
        return not self.roots

    def fingerprint(self) -> str:
        """Stable digest of the configuration: part of every cache key (memoised; certificates
        are only added through the constructors)."""
        if self._fingerprint is None:
            h = hashlib.sha256(b"dev" if self.development else b"prod")
            for tag, certs in ((b"R", self.roots), (b"I", self.intermediates)):
                for fp in sorted(c.sha256 for c in certs):
                    h.update(tag + fp)
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def __len__(self) -> int:
        return len(self.roots)


def _as_cert(c) -> x509.Certificate:
    if isinstance(c, x509.Certificate):
        return c
    if isinstance(c, bytes | bytearray):
        certs = load_certificates(bytes(c))
        if len(certs) != 1:
            raise TrustStoreError("Cần đúng một chứng thư", "exactly one certificate expected")
        return certs[0]
    if isinstance(c, Path | str):
        certs = load_certificates(Path(c).read_bytes())
        return certs[0]
    public_bytes = getattr(c, "public_bytes", None)
    if public_bytes is not None:
        from cryptography.hazmat.primitives.serialization import Encoding

        return x509.Certificate.load(public_bytes(Encoding.DER))
    raise TypeError(f"not a certificate: {type(c).__name__}")
