"""What a sign request may carry: a digest of exactly the right length, its algorithm and a
short description — nothing else gets near the token.

WHY: a page (or a script in it) could try to have the token sign a whole document, a login
challenge of another system, or a hash of the wrong algorithm. Only a value that is exactly a
SHA-256/384/512 digest, for the algorithm named, is passed on; the PIN is not even asked
otherwise.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass

from api.agent.errors import AgentError
from signing.signers.base import ALLOWED_DIGESTS

#: The largest body a sign request may have (a SHA-512 digest in base64 is 88 bytes).
MAX_BODY = 4096
#: The longest description (trích yếu) shown in the PIN prompt.
MAX_DESCRIPTION = 300


@dataclass(frozen=True)
class SignRequest:
    digest: bytes
    md: str
    description: str | None


def not_a_digest(why_vi: str, why_en: str) -> AgentError:
    return AgentError(400, "not_a_digest",
                      f"Chỉ ký giá trị băm (sha256, sha384, sha512) của văn bản: {why_vi}.",
                      f"only a document digest (sha256, sha384, sha512) is signed: {why_en}")


def parse_sign_request(body: bytes) -> SignRequest:
    """Check ``body`` (JSON ``{"digest", "md", "description"?}``); 400 for anything else."""
    if len(body) > MAX_BODY:
        raise not_a_digest(f"yêu cầu dài hơn {MAX_BODY} byte",
                           f"the request is over {MAX_BODY} bytes")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        raise not_a_digest("yêu cầu không phải JSON", "the request is not a JSON object")
    md = data.get("md")
    if md not in ALLOWED_DIGESTS:
        raise not_a_digest("thuật toán băm không được hỗ trợ", "unknown digest algorithm")
    try:
        digest = base64.b64decode(data.get("digest"), validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise not_a_digest("digest không phải base64", "the digest is not base64") from None
    size = hashlib.new(md).digest_size
    if len(digest) != size:
        raise not_a_digest(f"{md} phải dài đúng {size} byte, nhận {len(digest)} byte",
                           f"a {md} digest is exactly {size} bytes, got {len(digest)}")
    description = data.get("description")
    if description is not None and (not isinstance(description, str)
                                    or len(description) > MAX_DESCRIPTION):
        raise AgentError(400, "bad_description",
                         f"Mô tả văn bản phải là chuỗi tối đa {MAX_DESCRIPTION} ký tự.",
                         f"the description must be text of at most {MAX_DESCRIPTION} characters")
    return SignRequest(digest, md, description or None)
