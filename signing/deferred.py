"""Deferred (two-step) PAdES signing: how USB tokens work with web e-office systems.

Step 1, on the server (no key): :func:`prepare_deferred` builds the final pre-signing PDF (the
appearance, the signature dictionary with a reserved /Contents hole) and the CMS signed
attributes, and returns the digest the token must sign. Step 2, on the official's machine: the
token signs that digest (any :class:`signing.signers.Signer` ``sign_digest``, or a browser
plug-in). Step 3, on the server: :func:`complete_deferred` checks the signature value against
the certificate and embeds the CMS. The pending state is plain data (JSON-ready) so it can wait
in a database between two HTTP requests.

Levels B-B, B-T, B-LT and B-LTA. The signature time-stamp (RFC 3161, over the signature value)
can only be requested once the token has signed, so it is fetched at completion, from the TSA
chosen at preparation; the hole reserved in step 1 leaves room for it. For B-LT the completion
then collects OCSP/CRL data for every certificate of the signer's and the TSA's chains, refuses
unless the set is complete (the same check as direct signing, :func:`signing.ltv.check_complete`),
and adds it to the DSS in an incremental update; B-LTA adds a document time-stamp on top. The
chain is checked for a reachable root at preparation, before the token is asked.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import io
from dataclasses import dataclass
from types import SimpleNamespace

from asn1crypto import cms, x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509 import load_der_x509_certificate
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers as ph_signers
from pyhanko.sign._session_scope import run_and_release
from pyhanko.sign.fields import SigFieldSpec
from pyhanko.sign.general import SigningError as PhSigningError
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.signers.pdf_signer import PdfTBSDocument
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.sign.validation import async_add_validation_info
from pyhanko.sign.validation.dss import collect_validation_info
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.appearances.base import Appearance, FieldPlan, SigningJob, next_field_name
from signing.errors import SigningError
from signing.ltv import check_complete, explain, lt_validation_context
from signing.pades import _reserve, build_pdf_signer, open_pdf
from signing.precheck import check_signer
from signing.signers.base import Signer, check_digest

DEFERRED_LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")
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
    ``level`` "B-B", "B-T", "B-LT" or "B-LTA" (all but B-B need ``tsa_url``; the time-stamp and
    the validation data are added by :func:`complete_deferred`)."""
    md = check_digest(md)
    if level not in DEFERRED_LEVELS:
        raise SigningError(
            f"Ký hai bước hỗ trợ các mức B-B, B-T, B-LT, B-LTA, không hỗ trợ {level}.",
            f"deferred signing supports levels B-B, B-T, B-LT and B-LTA, not {level}",
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
    # level and TSA checked here (a B-T without TSA is refused before the token is asked); the
    # signature itself is a B-T: validation data and archive time-stamp come after it
    signed_level = "B-B" if level == "B-B" else "B-T"
    pdf_signer = build_pdf_signer(signer, plan, level=signed_level, md=md,
                                  tsa_url=tsa_url if level != "B-B" else None)
    if level in ("B-LT", "B-LTA"):
        lt_validation_context(signer)  # the whole chain up to its root, or a clear refusal now

    async def run():
        session = pdf_signer.init_signing_session(writer)
        session.system_time = t
        tbs = session.prepare_tbs_document(validation_info=None,
                                           bytes_reserved=_reserve(signer, signed_level))
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
        tsa_url=tsa_url if level != "B-B" else None,
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
    timestamper = HTTPTimeStamper(pending.tsa_url) if pending.level != "B-B" else None
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
    if pending.level in ("B-LT", "B-LTA"):
        return _long_term(out.getvalue(), pending)
    return out.getvalue()


def _long_term(signed: bytes, pending: PendingSignature) -> bytes:
    """B-LT: the revocation data of every certificate a validator will meet (signer chain, TSA
    chain, OCSP responders), checked complete, in the DSS; B-LTA: a document time-stamp over it.
    On failure nothing is returned: completing again later fetches everything again (the
    token need not sign again)."""
    vc = lt_validation_context(pending._signer())
    es = next(e for e in PdfFileReader(io.BytesIO(signed)).embedded_signatures
              if e.field_name == pending.field_name)

    async def run() -> io.BytesIO:
        paths = await collect_validation_info(es, vc, skip_timestamp=False)
        check_complete(SimpleNamespace(validation_paths=paths, ocsps_to_embed=vc.ocsps,
                                       crls_to_embed=vc.crls))
        out = await async_add_validation_info(es, vc, output=io.BytesIO())
        if pending.level == "B-LTA":
            final = io.BytesIO()
            await ph_signers.PdfTimeStamper(HTTPTimeStamper(pending.tsa_url)).async_timestamp_pdf(
                IncrementalPdfFileWriter(out), pending.md, validation_context=vc, output=final)
            return final
        return out

    try:
        return asyncio.run(run_and_release(run(), vc)).getvalue()
    except SigningError:
        raise
    except Exception as e:  # noqa: BLE001 - network, TSA or revocation service failure
        clear = explain(e)
        if clear is not None:
            raise clear from e
        raise SigningError(
            f"Không bổ sung được dữ liệu kiểm tra dài hạn ({pending.level}): {e}. Chữ ký chưa "
            "được công bố; kiểm tra OCSP/CRL và dịch vụ dấu thời gian rồi hoàn tất lại (không "
            "cần ký lại bằng token).",
            f"the long-term validation data ({pending.level}) could not be added: {e}; nothing "
            "was published. Check the OCSP/CRL and time-stamp services and complete again (the "
            "token need not sign again)",
            code="ltv_failed",
        ) from e
