"""Where the key is: a PKCS#11 token (the real case) or a PKCS#12 file (development fallback).

WHY: the page needs the certificate before anything is signed, and the leader must not be asked
his PIN just to read it: on a token the certificate is a public object, read without logging in.
Signing logs in with the PIN asked for that one signature, signs with
:meth:`Pkcs11Signer.sign_digest` (the project's one PKCS#11 signing path) and logs out, so no
session stays open between two signatures.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pkcs11
from asn1crypto import x509
from pkcs11 import Attribute, ObjectClass
from pkcs11 import exceptions as p11e

from api.agent.errors import AgentError, from_signing
from signing.errors import SigningError
from signing.signers.pkcs11 import Pkcs11Signer, _load_certs
from signing.signers.pkcs12 import Pkcs12Signer


@dataclass(frozen=True)
class Certificate:
    """The signer's certificate and the CA certificates above it."""

    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]

    @property
    def holder(self) -> str:
        return str(self.certificate.subject.native.get("common_name", ""))

    def to_json(self) -> dict[str, Any]:
        """The body of ``GET /v1/certificate``."""
        def b64(cert: x509.Certificate) -> str:
            return base64.b64encode(cert.dump()).decode()

        return {"certificate": b64(self.certificate),
                "chain": [b64(c) for c in self.chain],
                "subject": self.holder,
                "serial": str(self.certificate.serial_number),
                "key_type": self.certificate.public_key.algorithm}


def _certificate(cert: x509.Certificate, chain: list[x509.Certificate]) -> Certificate:
    """``cert`` with ``chain`` in path order (its issuer first, then that one's...): a token
    lists its objects in no particular order."""
    rest = [c for c in chain if c.sha256 != cert.sha256]
    ordered: list[x509.Certificate] = []
    current = cert
    while (issuer := next((c for c in rest if c.subject == current.issuer), None)) is not None:
        ordered.append(issuer)
        rest.remove(issuer)
        current = issuer
    return Certificate(cert, (*ordered, *rest))


class KeySource(Protocol):
    """What the routes need from a key: a name, the certificate, a signature."""

    label: str
    #: What is asked before each signature, Vietnamese then English ("mã PIN", "PIN").
    secret_name: tuple[str, str]

    def certificate(self) -> Certificate: ...

    def sign(self, digest: bytes, md: str, secret: str) -> bytes: ...


def _token_absent(label: str) -> AgentError:
    return AgentError(503, "token_absent",
                      f"Không thấy token '{label}'; cắm token vào máy rồi thử lại.",
                      f"token '{label}' not found; plug the token in and retry")


class TokenKeys:
    """A key on a PKCS#11 token; one token operation at a time (one library, one process)."""

    secret_name = ("mã PIN của token", "token PIN")

    def __init__(self, lib: Path, token: str, key_label: str | None = None, *,
                 cert: Path | None = None, chain: Path | None = None) -> None:
        try:
            self._library = pkcs11.lib(str(lib))
        except (RuntimeError, OSError) as exc:
            raise ValueError(f"Không nạp được thư viện PKCS#11 {lib}; kiểm tra đã cài phần mềm "
                             f"token (cannot load PKCS#11 library {lib})") from exc
        self.lib, self.label, self.key_label = lib, token, key_label
        self._cert, self._chain = cert, chain
        self._lock = threading.Lock()

    def certificate(self) -> Certificate:
        """From ``--cert``/``--chain`` or from the token's public objects (no PIN)."""
        cert = _load_certs(self._cert)[0] if self._cert else None
        chain = _load_certs(self._chain) if self._chain else None
        if cert is None or chain is None:
            on_token = self._certificates_on_token()
            cert = cert or self._mine(on_token)
            chain = chain if chain is not None else [c for _lab, c in on_token if c.ca]
        return _certificate(cert, chain)

    def _certificates_on_token(self) -> list[tuple[str, x509.Certificate]]:
        """(label, certificate) of every certificate object, read in a public session."""
        with self._lock:
            try:
                token = self._library.get_token(token_label=self.label)
                with token.open() as session:
                    return [(o[Attribute.LABEL], x509.Certificate.load(o[Attribute.VALUE]))
                            for o in session.get_objects(
                                {Attribute.CLASS: ObjectClass.CERTIFICATE})]
            except (p11e.NoSuchToken, p11e.TokenNotPresent, p11e.DeviceRemoved,
                    p11e.TokenNotRecognised) as exc:
                raise _token_absent(self.label) from exc

    def _mine(self, on_token: list[tuple[str, x509.Certificate]]) -> x509.Certificate:
        """The object labelled like the key, or the only end-entity certificate."""
        if self.key_label is not None:
            mine = [c for lab, c in on_token if lab == self.key_label]
        else:
            mine = [c for _lab, c in on_token if not c.ca]
        if len(mine) != 1:
            raise AgentError(503, "key_not_found",
                             f"Không tìm thấy đúng một chứng thư '{self.key_label}' trên token; "
                             "chạy lại edoc agent với --key-label.",
                             f"no unique certificate '{self.key_label}' on the token; restart "
                             "edoc agent with --key-label")
        return mine[0]

    def sign(self, digest: bytes, md: str, secret: str) -> bytes:
        """Log in with ``secret`` (once, never retried), sign, log out."""
        with self._lock:
            try:
                with Pkcs11Signer.open(self.lib, self.label, secret, self.key_label,
                                       cert=self._cert, chain=self._chain) as signer:
                    return signer.sign_digest(digest, md)
            except SigningError as exc:
                raise from_signing(exc) from exc


class FileKeys:
    """A PKCS#12 file (development, or a leader without a token): its password is asked for
    each signature, like a PIN, and the key is dropped right after."""

    secret_name = ("mật khẩu tệp khóa", "key file password")

    def __init__(self, p12: Path, certificate: Certificate) -> None:
        self.p12, self._certificate = p12, certificate
        self.label = p12.name

    @classmethod
    def open(cls, p12: Path, password: str | None, *, cert: Path | None = None,
             chain: Path | None = None) -> FileKeys:
        """Read the certificate from ``cert``/``chain`` or from the file itself (which needs
        its ``password`` once, at start; it is not kept)."""
        if cert is not None:
            leaf = _load_certs(cert)[0]
            return cls(p12, _certificate(leaf, _load_certs(chain) if chain else []))
        signer = Pkcs12Signer.load(p12, password)
        extra = _load_certs(chain) if chain else signer.chain
        return cls(p12, _certificate(signer.certificate, extra))

    def certificate(self) -> Certificate:
        return self._certificate

    def sign(self, digest: bytes, md: str, secret: str) -> bytes:
        try:
            signer = Pkcs12Signer.load(self.p12, secret)
            if signer.certificate.sha256 != self._certificate.certificate.sha256:
                raise AgentError(409, "key_changed",
                                 "Tệp khóa đã thay đổi; khởi động lại edoc agent.",
                                 "the key file changed; restart edoc agent")
            return signer.sign_digest(digest, md)
        except SigningError as exc:
            raise from_signing(exc) from exc
