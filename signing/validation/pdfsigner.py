"""The facts of one PDF signature's CMS: the digest over its /ByteRange and the signature value.

Shared by the two readings of a PDF (through the parser, and from the bytes alone) so that both
judge a signature by exactly the same checks.
"""

from __future__ import annotations

from asn1crypto import cms as asn1_cms

from signing.validation.cms import (
    PrefixHashes,
    SignerFacts,
    certificates,
    check_signer,
    find_signer_cert,
    hash_ranges,
    new_hasher,
)
from signing.validation.report import Level

PKCS7_SUBFILTERS = {"adbe.pkcs7.detached", "adbe.pkcs7.sha1"}


def signer_facts(
    sd: asn1_cms.SignedData, hashes: PrefixHashes, br: list[int], ranges_ok: bool
) -> SignerFacts:
    """``hashes``: the file's bytes, with the range digests its signatures share."""
    data = hashes.data
    if not ranges_ok:
        facts = SignerFacts()
        facts.problems.append("ByteRange points outside the file: nothing to hash")
        try:
            si = sd["signer_infos"][0]
            facts.certs = certificates(sd)
            facts.signer_cert = find_signer_cert(si["sid"], facts.certs)
        except Exception:
            pass
        return facts
    ranges = [(br[i], br[i + 1]) for i in range(0, len(br) - 1, 2)]
    cache: dict[str, bytes] = {}

    def digest_of(algo: str) -> bytes:
        if algo not in cache:
            cache[algo] = hashes.digest(ranges, algo)
        return cache[algo]

    def content() -> bytes:
        return b"".join(data[s : s + n] for s, n in ranges)

    encapsulated = _encapsulated(sd)
    if encapsulated is not None:
        # adbe.pkcs7.sha1: the signed content is the SHA-1 digest of the byte ranges
        matches = encapsulated == hash_ranges(data, ranges, "sha1")

        def digest_of(algo: str) -> bytes:  # noqa: F811
            h = new_hasher(algo)
            h.update(encapsulated)
            return h.digest()

        facts = check_signer(
            sd, sd["signer_infos"][0], digest_of, content_for_unsigned=lambda: encapsulated
        )
        facts.intact = facts.intact and matches
        facts.weak_algorithm = facts.weak_algorithm or "digest sha1 (adbe.pkcs7.sha1)"
        return facts
    return check_signer(sd, sd["signer_infos"][0], digest_of, content_for_unsigned=content)


def _encapsulated(sd: asn1_cms.SignedData) -> bytes | None:
    """The eContent of the SignedData, if any (only legacy adbe.pkcs7.sha1 PDFs carry one)."""
    try:
        eci = sd["encap_content_info"]
        if eci["content_type"].native != "data" or not eci["content"]:
            return None
        value = eci["content"].native
        return value if isinstance(value, bytes) and value else None
    except Exception:
        return None


def level_of(subfilter: str | None, facts: SignerFacts, dss_revinfo: bool) -> Level:
    ts_ok = facts.timestamp is not None and facts.timestamp.intact
    if subfilter in PKCS7_SUBFILTERS:
        return Level.PKCS7_T if ts_ok else Level.PKCS7
    if not ts_ok:
        return Level.B_B
    if dss_revinfo or facts.embedded_ocsp or facts.embedded_crls:
        return Level.B_LT
    return Level.B_T
