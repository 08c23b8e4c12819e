"""PAdES signatures (ETSI EN 319 142) on PDFs: levels B-B, B-T, B-LT, B-LTA via pyHanko.

WHY a thin layer over pyHanko: it does the hard parts (CMS with signing-certificate-v2, byte
ranges, DSS, document time-stamps). We add what Vietnamese official documents need: the signer
certificate check before signing, the Decree 30 appearances, clear bilingual errors, no output
unless everything succeeded, SHA-2 only, and the speed to sign batches (known reserved size,
precomputed images, cached key, single pass over the bytes). B-LT/B-LTA embed the status of
every certificate a validator meets, checked complete before signing (:mod:`signing.ltv`), so
the document validates offline.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError, PdfReadError
from pyhanko.sign import fields as ph_fields
from pyhanko.sign import signers as ph_signers
from pyhanko.sign._session_scope import run_and_release
from pyhanko.sign.fields import SigFieldSpec
from pyhanko.sign.general import SigningError as PhSigningError
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.timestamps import HTTPTimeStamper

from signing.appearances.base import Appearance, FieldPlan, SigningJob, next_field_name
from signing.errors import InputError, SigningError
from signing.ltv import check_complete, explain, lt_validation_context
from signing.precheck import check_signer
from signing.signers.base import check_digest

LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")
_UTC = dt.UTC


@dataclass
class SignResult:
    """What was done (for ``--json`` and audit logs)."""

    field_name: str
    level: str
    md: str
    signing_time: str
    appearance: str
    info: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _not_pdf() -> InputError:
    return InputError(
        "Tệp không phải là PDF; chỉ ký được văn bản PDF (dùng 'edoc cms sign' cho tệp khác).",
        "the file is not a PDF; only PDFs can be signed this way (use 'edoc cms sign' for "
        "other files)",
        code="not_pdf",
    )


def open_pdf(stream: BinaryIO) -> IncrementalPdfFileWriter:
    """An incremental writer over ``stream``, or a clear :class:`InputError`."""
    stream.seek(0)
    head = stream.read(1024)
    if b"%PDF-" not in head:
        raise _not_pdf()
    stream.seek(-min(1024, stream.seek(0, os.SEEK_END)), os.SEEK_END)
    tail = stream.read()
    stream.seek(0)
    if b"%%EOF" not in tail:
        raise InputError(
            "Tệp PDF bị cắt cụt (thiếu phần cuối tệp); lấy lại bản đầy đủ rồi ký.",
            "the PDF is truncated (its end is missing); get the complete file and sign again",
            code="truncated_pdf",
        )
    try:
        writer = IncrementalPdfFileWriter(stream, strict=False)
        root = writer.prev.root
        pages = int(root["/Pages"]["/Count"])
    except (PdfError, PdfReadError, KeyError, ValueError, TypeError, IndexError) as e:
        raise InputError(
            "Tệp PDF bị hỏng, không đọc được; xuất lại PDF từ phần mềm soạn thảo.",
            f"the PDF is damaged and cannot be read ({e}); export it again",
            code="damaged_pdf",
        ) from e
    if writer.prev.encrypted:
        raise InputError(
            "Tệp PDF được mã hóa/đặt mật khẩu; bỏ mật khẩu trước khi ký.",
            "the PDF is encrypted/password-protected; remove the protection before signing",
            code="encrypted_pdf",
        )
    if pages < 1:
        raise InputError("Tệp PDF không có trang nào.", "the PDF has no pages", code="empty_pdf")
    return writer


def _reserve(signer, level: str) -> int:
    """Bytes to reserve for the CMS: exact-enough from the certificates, so pyHanko need not
    sign a dummy document to estimate it (which a token would have to do twice)."""
    certs = sum(len(c.dump()) for c in signer.cert_registry)
    size = certs + 2 * 1024 + len(signer.placeholder_signature())
    if level != "B-B":
        size += 12 * 1024
    return 2 * size  # hex digits in the /Contents placeholder


def build_pdf_signer(
    signer,
    plan: FieldPlan | None,
    *,
    level: str,
    md: str,
    tsa_url: str | None,
    reason: str | None = None,
    location: str | None = None,
) -> ph_signers.PdfSigner:
    if level not in LEVELS:
        raise SigningError(
            f"Mức chữ ký {level} không hỗ trợ; dùng B-B, B-T, B-LT hoặc B-LTA.",
            f"signature level {level} unsupported; use B-B, B-T, B-LT or B-LTA",
            code="bad_level",
        )
    timestamper = None
    if level != "B-B":
        if not tsa_url:
            raise SigningError(
                f"Mức {level} cần dịch vụ cấp dấu thời gian (--tsa URL).",
                f"level {level} needs a time-stamp authority (--tsa URL)",
                code="tsa_missing",
            )
        timestamper = HTTPTimeStamper(tsa_url)
    lt = level in ("B-LT", "B-LTA")
    meta = ph_signers.PdfSignatureMetadata(
        field_name=plan.field_name if plan else None,
        md_algorithm=md,
        subfilter=ph_fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
        embed_validation_info=lt,
        use_pades_lta=level == "B-LTA",
        validation_context=lt_validation_context(signer) if lt else None,
    )
    return ph_signers.PdfSigner(
        meta,
        signer,
        timestamper=timestamper,
        stamp_style=plan.stamp_style if plan else None,
        new_field_spec=plan.spec if plan else None,
    )


async def _run(pdf_signer, writer, signing_time, reserve, output):
    session = pdf_signer.init_signing_session(writer)
    session.system_time = signing_time
    validation_info = await session.perform_presign_validation(writer)
    if validation_info is not None:  # B-LT/B-LTA: everything for offline validation, or stop
        check_complete(validation_info)
    tbs = session.prepare_tbs_document(validation_info=validation_info, bytes_reserved=reserve)
    prepared, res_output = tbs.digest_tbs_document(output=output)
    post = await tbs.perform_signature(
        document_digest=prepared.document_digest,
        pdf_cms_signed_attrs=PdfCMSSignedAttributes(
            signing_time=signing_time,
            adobe_revinfo_attr=None,
            cades_signed_attrs=pdf_signer.signature_meta.cades_signed_attr_spec,
        ),
    )
    await post.post_signature_processing(res_output)
    return res_output


def sign_stream(
    source: BinaryIO,
    output: BinaryIO,
    signer,
    *,
    appearance: Appearance | None = None,
    level: str = "B-B",
    tsa_url: str | None = None,
    md: str = "sha256",
    check_revocation: bool = True,
    reason: str | None = None,
    location: str | None = None,
    signing_time: dt.datetime | None = None,
) -> SignResult:
    """Sign the PDF in ``source`` (seekable), writing the signed PDF to ``output``.
    ``source`` is only read."""
    md = check_digest(md)
    writer = open_pdf(source)
    check_signer(signer, check_revocation=check_revocation)
    t = signing_time or getattr(appearance, "signing_time", None) or dt.datetime.now(_UTC)
    t = t.replace(microsecond=0)
    if t.tzinfo is None:
        raise SigningError(
            "Thời điểm ký phải có múi giờ.", "signing time must be timezone-aware",
            code="naive_time",
        )
    job = SigningJob(data=source, writer=writer, signer=signer, signing_time=t)
    if appearance is not None:
        plan = appearance.plan(job)
    else:  # invisible signature in a new field
        name = next_field_name(job, "EdocSignature")
        plan = FieldPlan(name, None, SigFieldSpec(sig_field_name=name), {"appearance": "none"})
    source.seek(0)
    pdf_signer = build_pdf_signer(
        signer, plan, level=level, md=md, tsa_url=tsa_url, reason=reason, location=location
    )
    try:
        coro = _run(pdf_signer, writer, t, _reserve(signer, level), output)
        # release the HTTP sessions of the validation context inside the loop that made them
        asyncio.run(run_and_release(coro, pdf_signer.signature_meta.validation_context))
    except SigningError:
        raise
    except PhSigningError as e:
        clear = explain(e)
        if clear is not None:
            raise clear from e
        raise SigningError(
            f"Ký số thất bại: {e}", f"signing failed: {e}", code="signing_failed"
        ) from e
    return SignResult(
        field_name=plan.field_name if plan else "",
        level=level,
        md=md,
        signing_time=t.astimezone(dt.timezone(dt.timedelta(hours=7))).isoformat(),
        appearance=appearance.kind if appearance is not None else "none",
        info=plan.info if plan else {},
    )


def sign_pdf(data: bytes, signer, **kwargs) -> bytes:
    """Sign PDF ``data`` and return the signed PDF (an incremental update of ``data``).

    Keyword arguments: ``appearance`` (one of :mod:`signing.appearances`), ``level``
    ("B-B", "B-T", "B-LT", "B-LTA"), ``tsa_url``, ``md`` ("sha256"/"sha384"/"sha512"),
    ``check_revocation`` (default True: refuse an expired/revoked/wrong-purpose certificate),
    ``reason``, ``location``, ``signing_time``.

    Synchronous (like pyHanko's own ``sign_pdf``): from async code, call it in a worker thread.
    """
    out = io.BytesIO()
    sign_stream(io.BytesIO(data), out, signer, **kwargs)
    return out.getvalue()


IN_MEMORY_LIMIT = 64 * 1024 * 1024


def sign_file(src: str | Path, dst: str | Path, signer, *, durable: bool = True,
              **kwargs) -> SignResult:
    """Sign ``src`` into ``dst``; ``dst`` appears only when complete (temporary file + atomic
    rename), ``src`` is never modified. Files up to 64 MB are processed in memory (fewer system
    calls: batches of small documents); larger ones are streamed from disk to disk so memory
    stays far below the file size. ``durable`` fsyncs before the rename."""
    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        raise SigningError(
            "Tệp kết quả phải khác tệp gốc (giữ nguyên bản gốc).",
            "the output file must differ from the input (the original is kept)",
            code="same_file",
        )
    try:
        fin = src.open("rb")
    except OSError as e:
        raise InputError(
            f"Không đọc được tệp {src}.", f"cannot read {src} ({e})", code="input_missing"
        ) from e
    fd, tmp = tempfile.mkstemp(prefix=".edoc-", suffix=".pdf.part", dir=dst.parent or ".")
    try:
        with fin, os.fdopen(fd, "w+b") as fout:
            if os.fstat(fin.fileno()).st_size <= IN_MEMORY_LIMIT:
                out = io.BytesIO()
                result = sign_stream(io.BytesIO(fin.read()), out, signer, **kwargs)
                fout.write(out.getbuffer())
            else:
                result = sign_stream(fin, fout, signer, **kwargs)
            fout.flush()
            if durable:
                os.fsync(fout.fileno())
        os.replace(tmp, dst)
        return result
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
