"""Deferred (two-step) PAdES signing: how USB tokens work with web e-office systems.

Step 1, on the server (no key): :func:`prepare_deferred` builds the final pre-signing PDF (the
appearance, the signature dictionary with a reserved /Contents hole) and the CMS signed
attributes, and returns the digest the token must sign. Step 2, on the official's machine: the
token signs that digest (any :class:`signing.signers.Signer` ``sign_digest``, or a browser
plug-in). Step 3, on the server: :func:`complete_deferred` checks the signature value against
the certificate and embeds the CMS. The pending state is plain data (JSON-ready) so it can wait
in a database between two HTTP requests.

Levels B-B and B-T. For B-T the signature time-stamp (RFC 3161, over the signature value) can
only be requested once the token has signed, so it is fetched at completion, from the TSA
chosen at preparation; the hole reserved in step 1 leaves room for it.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import io
from dataclasses import dataclass

from asn1crypto import cms, x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509 import load_der_x509_certificate
from pyhanko.sign import signers as ph_signers
from pyhanko.sign.fields import SigFieldSpec
from pyhanko.sign.general import SigningError as PhSigningError
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.signers.pdf_signer import PdfTBSDocument
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.appearances.base import Appearance, FieldPlan, SigningJob, next_field_name
from signing.errors import SigningError
from signing.pades import _reserve, build_pdf_signer, open_pdf
from signing.precheck import check_signer
from signing.signers.base import Signer, check_digest

DEFERRED_LEVELS = ("B-B", "B-T")
_H = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}


class _CertOnlySigner(Signer):
    """The server side knows the certificate, never the key."""

    def sign_digest(self, digest: bytes, md: str) -> bytes:  # pragma: no cover - guard
        raise SigningError(
            "Máy chủ không giữ khóa; chữ ký do token của người ký tạo.",
            "the server holds no key; the signer's token makes the signature",
            code="no_key_on_server",
        )


@dataclass
class PendingSignature:
    """Everything needed to finish the signature later; :meth:`to_json` for storage."""

    document: bytes  # the PDF in its final pre-signing state (with the /Contents hole)
    md: str
    digest_to_sign: bytes  # hash of the DER signed attributes: what the token signs
    signed_attrs: bytes
    document_digest: bytes
    region: tuple[int, int]
    certificate: bytes
    chain: list[bytes]
    prefer_pss: bool
    field_name: str
    level: str = "B-B"
    tsa_url: str | None = None

    def to_json(self) -> dict:
        b = lambda v: base64.b64encode(v).decode()  # noqa: E731
        return {
            "document": b(self.document), "md": self.md, "digest_to_sign": b(self.digest_to_sign),
            "signed_attrs": b(self.signed_attrs), "document_digest": b(self.document_digest),
            "region": list(self.region), "certificate": b(self.certificate),
            "chain": [b(c) for c in self.chain], "prefer_pss": self.prefer_pss,
            "field_name": self.field_name, "level": self.level, "tsa_url": self.tsa_url,
        }

    @classmethod
    def from_json(cls, d: dict) -> PendingSignature:
        u = base64.b64decode
        return cls(u(d["document"]), d["md"], u(d["digest_to_sign"]), u(d["signed_attrs"]),
                   u(d["document_digest"]), tuple(d["region"]), u(d["certificate"]),
                   [u(c) for c in d["chain"]], d["prefer_pss"], d["field_name"],
                   d.get("level", "B-B"), d.get("tsa_url"))

    def _signer(self, signature: bytes | None = None):
        cert = x509.Certificate.load(self.certificate)
        chain = [x509.Certificate.load(c) for c in self.chain]
        if signature is None:
            return _CertOnlySigner(cert, chain, prefer_pss=self.prefer_pss)
        return ph_signers.ExternalSigner(
            cert, SimpleCertificateStore.from_certs([cert, *chain]), signature_value=signature,
            prefer_pss=self.prefer_pss,
        )


def prepare_deferred(
    data: bytes,
    certificate: x509.Certificate,
    chain: list[x509.Certificate],
    *,
    appearance: Appearance | None = None,
    md: str = "sha256",
    prefer_pss: bool = False,
    check_revocation: bool = True,
    signing_time: dt.datetime | None = None,
    level: str = "B-B",
    tsa_url: str | None = None,
) -> PendingSignature:
    """Step 1 (server): prepare ``data`` for a signature by ``certificate``'s holder.
    ``level`` "B-B" or "B-T" (then ``tsa_url`` is required; the time-stamp is added by
    :func:`complete_deferred`)."""
    md = check_digest(md)
    if level not in DEFERRED_LEVELS:
        raise SigningError(
            f"Ký hai bước hỗ trợ mức B-B và B-T, không hỗ trợ {level}; ký B-T rồi bổ sung dữ "
            "liệu kiểm tra (B-LT) sau, hoặc ký trực tiếp bằng token.",
            f"deferred signing supports levels B-B and B-T, not {level}; sign at B-T, or sign "
            "directly with the token",
            code="bad_level",
        )
    signer = _CertOnlySigner(certificate, chain, prefer_pss=prefer_pss)
    check_signer(signer, check_revocation=check_revocation)
    src = io.BytesIO(data)
    writer = open_pdf(src)
    t = (signing_time or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    job = SigningJob(data=src, writer=writer, signer=signer, signing_time=t)
    if appearance is not None:
        plan = appearance.plan(job)
    else:
        name = next_field_name(job, "EdocSignature")
        plan = FieldPlan(name, None, SigFieldSpec(sig_field_name=name), {})
    src.seek(0)
    # level and TSA checked here (a B-T without TSA is refused before the token is asked)
    pdf_signer = build_pdf_signer(signer, plan, level=level, md=md, tsa_url=tsa_url)

    async def run():
        session = pdf_signer.init_signing_session(writer)
        session.system_time = t
        tbs = session.prepare_tbs_document(validation_info=None,
                                           bytes_reserved=_reserve(signer, level))
        prepared, output = tbs.digest_tbs_document()
        attrs = await signer.signed_attrs(
            prepared.document_digest, md, attr_settings=PdfCMSSignedAttributes(signing_time=t),
            use_pades=True,
        )
        return prepared, output, attrs

    prepared, output, attrs = asyncio.run(run())
    der_attrs = attrs.dump()
    return PendingSignature(
        document=output.getvalue(), md=md, digest_to_sign=hashlib.new(md, der_attrs).digest(),
        signed_attrs=der_attrs, document_digest=prepared.document_digest,
        region=(prepared.reserved_region_start, prepared.reserved_region_end),
        certificate=certificate.dump(), chain=[c.dump() for c in chain],
        prefer_pss=prefer_pss, field_name=plan.field_name, level=level,
        tsa_url=tsa_url if level == "B-T" else None,
    )


def _check_value(pending: PendingSignature, signature: bytes) -> None:
    """Refuse a signature value that does not match (wrong token, wrong document) before it
    is embedded: a broken signature must never be published."""
    signer = pending._signer()
    pub = load_der_x509_certificate(pending.certificate).public_key()
    algo = Prehashed(_H[pending.md]())
    try:
        if isinstance(pub, rsa.RSAPublicKey):
            if signer.mechanism(pending.md) == "rsassa_pss":
                pad = padding.PSS(mgf=padding.MGF1(_H[pending.md]()),
                                  salt_length=signer.pss_salt_length(pending.md))
            else:
                pad = padding.PKCS1v15()
            pub.verify(signature, pending.digest_to_sign, pad, algo)
        elif isinstance(pub, ec.EllipticCurvePublicKey):
            pub.verify(signature, pending.digest_to_sign, ec.ECDSA(algo))
        else:
            raise InvalidSignature
    except (InvalidSignature, ValueError) as e:
        raise SigningError(
            "Giá trị chữ ký từ token không khớp với chứng thư số hoặc văn bản; ký lại bằng "
            "đúng token.",
            "the signature value from the token does not match the certificate or the "
            "document; sign again with the right token",
            code="deferred_signature_mismatch",
        ) from e


def complete_deferred(pending: PendingSignature, signature: bytes) -> bytes:
    """Step 3 (server): embed the token's ``signature`` (raw value over
    ``pending.digest_to_sign``); returns the signed PDF."""
    _check_value(pending, signature)
    ext = pending._signer(signature)
    attrs = cms.CMSAttributes.load(pending.signed_attrs)
    timestamper = HTTPTimeStamper(pending.tsa_url) if pending.level == "B-T" else None
    try:
        signed = asyncio.run(ext.async_sign_prescribed_attributes(
            pending.md, signed_attrs=attrs, timestamper=timestamper))
    except (TimestampRequestError, PhSigningError, OSError) as e:
        if timestamper is None:
            raise
        raise SigningError(
            f"Không lấy được dấu thời gian từ {pending.tsa_url}; chữ ký chưa được nhúng. Kiểm "
            "tra dịch vụ cấp dấu thời gian rồi hoàn tất lại (không cần ký lại bằng token).",
            f"no time-stamp from {pending.tsa_url} ({e}); nothing was embedded. Check the TSA "
            "and complete again (the token need not sign again)",
            code="tsa_failed",
        ) from e
    out = io.BytesIO(pending.document)
    prepared = PreparedByteRangeDigest(
        document_digest=pending.document_digest,
        reserved_region_start=pending.region[0],
        reserved_region_end=pending.region[1],
    )
    PdfTBSDocument.finish_signing(out, prepared, signed)
    return out.getvalue()
