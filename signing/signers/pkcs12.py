"""PKCS#12 (.p12/.pfx) file signer with the parsed private key kept in memory.

WHY: pyHanko's stock ``SimpleSigner`` re-parses the DER private key on every signature
(``load_der_private_key`` validates the RSA key, tens of milliseconds each time). A batch signs
hundreds of documents with one key, so we parse it once and reuse the key object.
"""

from __future__ import annotations

from pathlib import Path

from asn1crypto import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.serialization import pkcs12

from signing.errors import KeyAccessError
from signing.signers.base import Signer, check_digest

_HASHES = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}


def _asn1(cert) -> x509.Certificate:
    return x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


class Pkcs12Signer(Signer):
    """Signer over an in-memory private key loaded from a PKCS#12 file."""

    def __init__(self, key, certificate, chain=(), *, prefer_pss: bool = False):
        super().__init__(certificate, chain, prefer_pss=prefer_pss)
        self._key = key

    @classmethod
    def load(cls, path: str | Path, password: str | bytes | None, *, prefer_pss: bool = False):
        """Open ``path`` with ``password``; a clear error for a missing file or wrong password."""
        p = Path(path)
        try:
            data = p.read_bytes()
        except OSError as e:
            raise KeyAccessError(
                f"Không đọc được tệp khóa {p}; kiểm tra đường dẫn.",
                f"cannot read key file {p}; check the path",
                code="key_file_missing",
            ) from e
        return cls.from_bytes(data, password, prefer_pss=prefer_pss)

    @classmethod
    def from_bytes(cls, data: bytes, password, *, prefer_pss: bool = False):
        if isinstance(password, str):
            password = password.encode()
        try:
            key, cert, extra = pkcs12.load_key_and_certificates(data, password or None)
        except ValueError as e:
            raise KeyAccessError(
                "Mật khẩu tệp PKCS#12 không đúng hoặc tệp bị hỏng; nhập lại mật khẩu.",
                "wrong PKCS#12 password or damaged file; re-enter the password",
                code="wrong_password",
            ) from e
        if key is None or cert is None:
            raise KeyAccessError(
                "Tệp PKCS#12 không chứa khóa bí mật và chứng thư số.",
                "the PKCS#12 file holds no private key and certificate",
                code="key_file_incomplete",
            )
        return cls(key, _asn1(cert), [_asn1(c) for c in extra or ()], prefer_pss=prefer_pss)

    def sign_digest(self, digest: bytes, md: str) -> bytes:
        md = check_digest(md)
        algo = Prehashed(_HASHES[md]())
        key = self._key
        mech = self.mechanism(md)
        if isinstance(key, rsa.RSAPrivateKey):
            if mech == "rsassa_pss":
                pad = padding.PSS(
                    mgf=padding.MGF1(_HASHES[md]()), salt_length=self.pss_salt_length(md)
                )
            else:
                pad = padding.PKCS1v15()
            return key.sign(digest, pad, algo)
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(digest, ec.ECDSA(algo))
        raise KeyAccessError(
            "Loại khóa không được hỗ trợ (chỉ RSA, ECDSA).",
            "unsupported key type (RSA and ECDSA only)",
            code="key_type",
        )
