"""PKCS#11 token/HSM signer (USB tokens of officials, agency HSMs) via python-pkcs11.

WHY: the private key never leaves the token; we send it a digest (DigestInfo for RSA PKCS#1
v1.5, the raw digest for PSS and ECDSA). One login per signer object, reused for a whole batch.
A wrong PIN is reported once and never retried: tokens lock after a few wrong attempts.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import pkcs11
from asn1crypto import pem, x509
from pkcs11 import MGF, Attribute, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as p11e

from signing.errors import KeyAccessError
from signing.signers.base import Signer, check_digest, digest_info, raw_ecdsa_to_der

_PSS = {
    "sha256": (Mechanism.SHA256, MGF.SHA256),
    "sha384": (Mechanism.SHA384, MGF.SHA384),
    "sha512": (Mechanism.SHA512, MGF.SHA512),
}


def _err(code: str, vi: str, en: str, exc: Exception | None = None) -> KeyAccessError:
    e = KeyAccessError(vi, en, code=code)
    if exc is not None:
        e.__cause__ = exc
    return e


def _load_certs(path: str | Path) -> list[x509.Certificate]:
    data = Path(path).read_bytes()
    if pem.detect(data):
        return [x509.Certificate.load(der) for _t, _h, der in pem.unarmor(data, multiple=True)]
    return [x509.Certificate.load(data)]


class Pkcs11Signer(Signer):
    """A key on a PKCS#11 token. Open with :meth:`open`; close with :meth:`close` (or use as a
    context manager)."""

    def __init__(self, session, key, certificate, chain, *, prefer_pss=False):
        super().__init__(certificate, chain, prefer_pss=prefer_pss)
        self._session = session
        self._key = key
        self._lock = threading.Lock()  # one PKCS#11 session: serialise operations

    @classmethod
    def open(
        cls,
        lib: str | Path,
        token_label: str,
        pin: str,
        key_label: str | None = None,
        *,
        cert: str | Path | None = None,
        chain: str | Path | None = None,
        prefer_pss: bool = False,
    ) -> Pkcs11Signer:
        """Log into ``token_label`` once with ``pin``; the certificate comes from ``cert`` or
        from the token (object with ``key_label``); ``chain`` is a PEM bundle of CA certs (or
        the other certificates on the token)."""
        try:
            library = pkcs11.lib(str(lib))
        except (RuntimeError, OSError) as e:
            raise _err(
                "pkcs11_library",
                f"Không nạp được thư viện PKCS#11 {lib}; kiểm tra đã cài phần mềm token.",
                f"cannot load PKCS#11 library {lib}; check the token middleware",
                e,
            ) from e
        try:
            token = library.get_token(token_label=token_label)
        except (p11e.NoSuchToken, p11e.TokenNotPresent) as e:
            raise _err(
                "token_absent",
                f"Không thấy token '{token_label}'; cắm token vào máy rồi thử lại.",
                f"token '{token_label}' not found; plug the token in and retry",
                e,
            ) from e
        try:
            session = token.open(user_pin=pin)
        except p11e.PinIncorrect as e:
            raise _err(
                "wrong_pin",
                "Mã PIN không đúng. Không thử lại tự động để tránh khóa token; kiểm tra PIN "
                "rồi chạy lại lệnh.",
                "wrong PIN. Not retried automatically, to avoid locking the token; check the "
                "PIN and run the command again",
                e,
            ) from e
        except p11e.PinLocked as e:
            raise _err(
                "pin_locked",
                "Token đã bị khóa do nhập sai PIN nhiều lần; liên hệ quản trị để mở khóa.",
                "the token is locked after too many wrong PINs; ask the administrator to "
                "unlock it",
                e,
            ) from e
        except (p11e.PinExpired, p11e.PinInvalid, p11e.PinLenRange) as e:
            raise _err(
                "pin_invalid",
                "PIN không hợp lệ hoặc đã hết hạn; đổi PIN bằng phần mềm token.",
                "PIN invalid or expired; change it with the token software",
                e,
            ) from e
        except (p11e.TokenNotPresent, p11e.DeviceRemoved, p11e.TokenNotRecognised) as e:
            raise _err(
                "token_absent",
                "Token đã bị rút ra hoặc không nhận; cắm lại token.",
                "token removed or not recognised; plug it in again",
                e,
            ) from e
        try:
            attrs = {Attribute.LABEL: key_label} if key_label else {}
            key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=key_label)
            if cert is not None:
                certificate = _load_certs(cert)[0]
            else:
                objs = list(
                    session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE, **attrs})
                )
                if not objs:
                    raise p11e.NoSuchKey("no certificate object")
                certificate = x509.Certificate.load(objs[0][Attribute.VALUE])
            if chain is not None:
                ca = _load_certs(chain)
            else:
                on_token = [
                    x509.Certificate.load(o[Attribute.VALUE])
                    for o in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE})
                ]
                ca = [c for c in on_token if c.ca]  # other people's/keys' leaves stay out
        except (p11e.NoSuchKey, p11e.MultipleObjectsReturned) as e:
            session.close()
            raise _err(
                "key_not_found",
                f"Không tìm thấy đúng một khóa/chứng thư '{key_label}' trên token; chỉ rõ "
                "--key-label.",
                f"no unique key/certificate '{key_label}' on the token; give --key-label",
                e,
            ) from e
        return cls(session, key, certificate, ca, prefer_pss=prefer_pss)

    def sign_digest(self, digest: bytes, md: str) -> bytes:
        md = check_digest(md)
        mech = self.mechanism(md)
        try:
            with self._lock:
                if self._key.key_type == KeyType.EC:
                    return raw_ecdsa_to_der(self._key.sign(digest, mechanism=Mechanism.ECDSA))
                if mech == "rsassa_pss":
                    h, mgf = _PSS[md]
                    return self._key.sign(
                        digest,
                        mechanism=Mechanism.RSA_PKCS_PSS,
                        mechanism_param=(h, mgf, self.pss_salt_length(md)),
                    )
                return self._key.sign(digest_info(md, digest), mechanism=Mechanism.RSA_PKCS)
        except (p11e.TokenNotPresent, p11e.DeviceRemoved, p11e.SessionClosed) as e:
            raise _err(
                "token_absent",
                "Token đã bị rút ra trong khi ký; cắm lại token và ký lại.",
                "token removed while signing; plug it in and sign again",
                e,
            ) from e
        except p11e.UserNotLoggedIn as e:
            raise _err(
                "not_logged_in", "Phiên token đã hết; đăng nhập lại.",
                "the token session ended; log in again", e,
            ) from e

    def close(self) -> None:
        with contextlib.suppress(p11e.PKCS11Error):
            self._session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
