"""CMS/PKCS#7 signatures over any file (docx, xlsx, zip, edXML): detached ``.p7s`` or attached.

WHY: attachments that are not PDFs still need the agency's signature, and receivers verify them
with whatever tool they have (``openssl cms -verify -binary``). The content is hashed as raw
bytes — never text-mode, so no line-ending conversion can break a signature. Signed attributes:
content type, message digest, signing time, signing-certificate-v2 (RFC 5035) and CMS algorithm
protection; optionally a signature time-stamp token (RFC 3161) as unsigned attribute.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from typing import BinaryIO

from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.timestamps import HTTPTimeStamper

from signing.errors import InputError
from signing.precheck import check_signer
from signing.signers.base import check_digest


def sign_cms(
    data: bytes | BinaryIO,
    signer,
    *,
    attached: bool = False,
    tsa_url: str | None = None,
    md: str = "sha256",
    check_revocation: bool = True,
    signing_time: dt.datetime | None = None,
) -> bytes:
    """Return the DER CMS SignedData over ``data`` (bytes or a binary stream, read as is)."""
    md = check_digest(md)
    if isinstance(data, str):
        raise InputError(
            "Nội dung cần ký phải là dữ liệu nhị phân (bytes), không phải văn bản.",
            "content to sign must be bytes, not text (binary-exact signing)",
            code="text_input",
        )
    check_signer(signer, check_revocation=check_revocation)
    if isinstance(data, bytes | bytearray | memoryview):
        data = io.BytesIO(bytes(data))
    t = (signing_time or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    coro = signer.async_sign_general_data(
        data,
        md,
        detached=not attached,
        timestamper=HTTPTimeStamper(tsa_url) if tsa_url else None,
        signed_attr_settings=PdfCMSSignedAttributes(signing_time=t),
    )
    return asyncio.run(coro).dump()
