"""verify_pdf: every signature of a PDF, judged, with the document's overall verdict.

Facts come from two independent readings — the bytes (:mod:`structure`) and pyHanko's parser —
and a file the parser cannot read is still reported signature by signature from the bytes. Any
unexpected exception becomes a TOTAL_FAILED / FORMAT_FAILURE report carrying the reason: a
validator that crashes on a hostile file is itself an attack surface.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from collections import OrderedDict
from datetime import datetime

from asn1crypto import x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

from signing.trust import TrustStore
from signing.validation import chain, speedups, structure
from signing.validation import changes as changes_mod
from signing.validation import revocation as revocation_mod
from signing.validation.cms import (
    PrefixHashes,
    check_signer,
    new_hasher,
)
from signing.validation.decree30 import decree30
from signing.validation.judge import Options, fill_identity, judge, tsa_purpose_problem
from signing.validation.overlays import covered_text
from signing.validation.pdfsigner import level_of, signer_facts
from signing.validation.rawpdf import from_bytes
from signing.validation.report import (
    Facts,
    Indication,
    Level,
    PdfReport,
    SignatureReport,
    SubIndication,
    overall,
)
from signing.validation.summary import summarise

log = logging.getLogger(__name__)
speedups.install()
_CACHE: OrderedDict[tuple, PdfReport] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_MAX = 512
# pyHanko logs a traceback for every suspicious file; our report says it once, in words.
for _name in ("pyhanko", "pyhanko_certvalidator"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)


def clear_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()


def verify_pdf(
    data: bytes,
    *,
    trust: TrustStore | None = None,
    at: datetime | None = None,
    revocation: str = "online",
    timeout: float = revocation_mod.DEFAULT_TIMEOUT,
    use_cache: bool = True,
    sha256: str | None = None,
) -> PdfReport:
    """Validate every signature in ``data``. Never raises for bad input: the report says why.

    ``at`` validates as of that time (default: now). ``revocation`` is ``online`` (OCSP, then
    CRL, then embedded data), ``offline`` (embedded DSS/adbe data only) or ``off``.
    Reports are cached by content hash, trust configuration, moment and revocation freshness;
    treat returned reports as read-only. ``sha256``: the file's hash (hex) when the caller has
    it already, so 2 MB are not hashed again. Without it and without the cache (a node's
    verification worker, whose node keeps the verdicts), the file's hash is continued from its
    last signature's /ByteRange prefix once the signatures are checked (``PrefixHashes.
    file_digest``): the file is named at the cost of its last kilobytes.
    """
    if revocation not in ("online", "offline", "off"):
        raise ValueError("revocation must be online, offline or off")
    trust = trust or TrustStore()
    data = bytes(data)
    digest = sha256 or (hashlib.sha256(data).hexdigest() if use_cache else None)
    key = (
        digest,
        trust.fingerprint(),
        at.isoformat() if at else None,
        revocation,
        revocation_bucket(),
        timeout,
    )
    if use_cache:
        with _CACHE_LOCK:
            hit = _CACHE.get(key)
            if hit is not None:
                _CACHE.move_to_end(key)
                return hit
    opts = Options(trust=trust, at=at, revocation=revocation, timeout=timeout)
    hashes = PrefixHashes(data)  # the signatures' ranges share their prefixes: hashed once
    try:
        report = _verify(data, opts, hashes)
    except Exception as exc:  # last line of defence: never crash on hostile input
        log.debug("verification failed", exc_info=True)
        report = _unreadable(f"{UNEXPECTED}: {type(exc).__name__}: {exc}")
    report.sha256 = digest or hashes.file_digest("sha256").hex()
    report.size = len(data)
    report.validation_time = opts.moment()
    # a report left TRY_LATER (a revocation service did not answer), or cut short by an
    # unexpected error, is not a judgement of the file: the next question verifies afresh
    if use_cache and settled(report.sub_indication, report.errors):
        with _CACHE_LOCK:
            _CACHE[key] = report
            if len(_CACHE) > _CACHE_MAX:
                _CACHE.popitem(last=False)
    return report


def revocation_bucket() -> int:
    return revocation_mod.freshness_bucket()


_REASONS_VI = {
    "the file is empty": "tệp rỗng (0 byte); hãy gửi lại tệp",
    "not a PDF file": "tệp không phải PDF; hãy kiểm tra lại tệp đính kèm",
    "the PDF is encrypted": "PDF được mã hóa bằng mật khẩu; hãy đề nghị bên gửi cung cấp bản "
    "không mã hóa",
    "PDF structure unreadable": "cấu trúc PDF bị hỏng, không đọc được",
    "unexpected error": "lỗi không lường trước khi kiểm tra",
}


#: how a report cut short by an exception in the validator begins its error
UNEXPECTED = "unexpected error while validating"

#: exceptions no bytes can cause (a module half-imported by another thread, memory running
#: out): never "the PDF structure is unreadable", which is a verdict kept and answered 02 to
#: every later arrival of the file, but a fault of the moment (``UNEXPECTED``, not kept)
OURS = (ImportError, MemoryError)


def settled(sub_indication: str | None, errors: list[str] | None) -> bool:
    """Whether a report (its sub-indication and errors) judges the file, so it may be kept and
    reused: not when a revocation service did not answer (TRY_LATER), nor when the validator
    itself failed midway (a fault of ours or of the moment, not a verdict on the bytes)."""
    return (sub_indication != SubIndication.TRY_LATER
            and not any(str(e).startswith(UNEXPECTED) for e in errors or []))


def _unreadable(reason: str, signatures: list[SignatureReport] | None = None) -> PdfReport:
    r = PdfReport(
        indication=Indication.TOTAL_FAILED,
        sub_indication=SubIndication.FORMAT_FAILURE,
        signatures=signatures or [],
        errors=[reason],
    )
    vi = next((v for k, v in _REASONS_VI.items() if reason.startswith(k)), None)
    r.summary_vi = (
        f"Không đọc được tài liệu: {vi} ({reason})"
        if vi
        else (f"Không đọc được tài liệu: {reason}")
    )
    r.summary_en = f"The document could not be read: {reason}"
    return r


def _verify(data: bytes, opts: Options, hashes: PrefixHashes) -> PdfReport:
    if not data:
        return _unreadable("the file is empty (0 bytes)")
    if not structure.looks_like_pdf(data):
        return _unreadable("not a PDF file (no %PDF- header)")
    raw = structure.scan(data)
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        if reader.encrypted:
            result = reader.decrypt(b"")
            if not getattr(result, "status", None) or result.status.name == "FAILED":
                return _unreadable(
                    "the PDF is encrypted with a password; signatures cannot be read — "
                    "ask the sender for an unencrypted copy"
                )
        embedded, unusable = _embedded_signatures(reader)
    except OURS:
        raise  # not the file's fault: the last line of defence reports it unsettled
    except Exception as exc:
        reason = f"PDF structure unreadable: {type(exc).__name__}: {exc}"
        if not raw:
            return _unreadable(reason)
        return _finish(from_bytes(data, raw, reason, opts), data, extra_errors=[reason])
    if not embedded and not unusable:
        if raw:
            reason = "signature dictionaries are present but not attached to any signature field"
            return _finish(from_bytes(data, raw, reason, opts), data, extra_errors=[reason])
        report = PdfReport(
            indication=Indication.INDETERMINATE,
            sub_indication=SubIndication.SIG_CONSTRAINTS_FAILURE,
            signatures=[],
            errors=["the document has no signature"],
        )
        report.summary_vi = "Tài liệu không có chữ ký số."
        report.summary_en = "The document carries no digital signature."
        return report
    reports = _from_reader(reader, embedded, raw, opts, hashes) + [
        _unusable_report(name, subfilter, reason, opts) for name, subfilter, reason in unusable
    ]
    return _finish(reports, data)


def _embedded_signatures(reader: PdfFileReader):
    """Every filled signature field, whatever its /SubFilter.

    pyHanko's ``embedded_signatures`` silently skips SubFilters it does not sign with (such as
    the legacy adbe.pkcs7.sha1), which would make a signed file look unsigned; here they are
    read, and fields that cannot be read at all are returned with the reason.
    """
    found, unusable = [], []
    for fq_name, sig_obj, sig_field in enumerate_sig_fields(reader, filled_status=True):
        try:
            found.append(EmbeddedPdfSignature(reader, sig_field, fq_name))
        except OURS:
            raise
        except Exception as exc:
            try:
                subfilter = str(sig_obj.get_object().get("/SubFilter", ""))[1:] or None
            except Exception:
                subfilter = None
            unusable.append((str(fq_name), subfilter, f"{type(exc).__name__}: {exc}"))
    found.sort(key=lambda e: e.signed_revision)
    return found, unusable


def _unusable_report(field: str, subfilter: str | None, reason: str, opts) -> SignatureReport:
    sig = SignatureReport(
        field=field, indication=Indication.TOTAL_FAILED, sub_indication=SubIndication.FORMAT_FAILURE
    )
    sig.facts.subfilter = subfilter
    sig.facts.format_problems.append(
        f"signature value unreadable (SubFilter {subfilter or 'missing'}): {reason}"
    )
    sig.errors.append(reason)
    sig.summary_vi, sig.summary_en = summarise(sig)
    return sig


def _finish(sigs: list[SignatureReport], data: bytes, extra_errors=()) -> PdfReport:
    ind, sub = overall([(s.indication, s.sub_indication) for s in sigs])
    report = PdfReport(
        indication=ind, sub_indication=sub, signatures=sigs, errors=list(extra_errors)
    )
    report.decree30 = decree30(sigs)
    for s in sigs:
        report.warnings.extend(f"{s.field}: {w}" for w in s.warnings)
    n_ok = sum(1 for s in sigs if s.indication is Indication.TOTAL_PASSED)
    verdict_vi = {
        Indication.TOTAL_PASSED: "Tài liệu hợp lệ",
        Indication.TOTAL_FAILED: "Tài liệu KHÔNG hợp lệ",
        Indication.INDETERMINATE: "Chưa xác định được tính hợp lệ của tài liệu",
    }[ind]
    verdict_en = {
        Indication.TOTAL_PASSED: "Document valid",
        Indication.TOTAL_FAILED: "Document NOT valid",
        Indication.INDETERMINATE: "Document validity could not be established",
    }[ind]
    report.summary_vi = f"{verdict_vi}: {n_ok}/{len(sigs)} chữ ký hợp lệ."
    report.summary_en = f"{verdict_en}: {n_ok}/{len(sigs)} signatures valid."
    return report


# ---------------------------------------------------------------------------------------------
# Reading through the parser


def _dss(reader: PdfFileReader) -> tuple[list[x509.Certificate], list[bytes], list[bytes]]:
    certs: list[x509.Certificate] = []
    ocsps: list[bytes] = []
    crls: list[bytes] = []
    try:
        if "/DSS" not in reader.root:
            return certs, ocsps, crls
        dss = reader.root["/DSS"]
        for key, out in (("/Certs", None), ("/OCSPs", ocsps), ("/CRLs", crls)):
            if key not in dss:
                continue
            for item in dss[key]:
                blob = item.get_object().data if hasattr(item, "get_object") else item.data
                if out is None:
                    certs.append(x509.Certificate.load(blob))
                else:
                    out.append(blob)
    except Exception as exc:
        log.debug("unreadable DSS: %s", exc)
    return certs, ocsps, crls


def _signed_revision(reader: PdfFileReader, signed_end: int) -> int | None:
    found = None
    for rev in range(reader.xrefs.total_revisions):
        try:
            if reader.xrefs.get_xref_container_info(rev).end_location <= signed_end:
                found = rev
        except Exception:
            continue
    return found


def _match_raw(raw: list[structure.RawSignature], br: list[int], contents: bytes):
    """The dictionary in the bytes carrying this /ByteRange and /Contents; the one whose
    /Contents sits in the gap wins over copies elsewhere (spoofing)."""
    same = [
        r
        for r in raw
        if r.byte_range == br and r.contents.rstrip(b"\x00") == contents.rstrip(b"\x00")
    ]
    in_gap = [r for r in same if len(br) > 1 and r.contents_start == br[1]]
    return (in_gap or same or [None])[0]


def _from_reader(reader, embedded, raw, opts: Options, hashes: PrefixHashes
                 ) -> list[SignatureReport]:
    dss_certs, dss_ocsps, dss_crls = _dss(reader)
    total = reader.xrefs.total_revisions
    reports: list[SignatureReport] = []
    doc_ts_revisions: list[int] = []
    broken_ts: list[str] = []
    for es in embedded:
        try:
            if es.sig_object_type == "/DocTimeStamp":
                rev, why = _check_doc_timestamp(hashes, es, reader, opts)
                if rev is None:
                    broken_ts.append(f"{es.field_name} {why}")
                else:
                    doc_ts_revisions.append(rev)
                continue
        except Exception:
            broken_ts.append(f"{es.field_name} does not verify")
            continue
        reports.append(
            _one_parsed(hashes, reader, es, raw, opts, total, dss_certs, dss_ocsps, dss_crls)
        )
    for sig in reports:
        if sig.level is Level.B_LT and any(
            sig.revision is not None and r > sig.revision for r in doc_ts_revisions
        ):
            sig.level = Level.B_LTA
        for what in broken_ts:
            sig.warnings.append(f"document time-stamp {what}; ignored")
    return reports


def _check_doc_timestamp(hashes: PrefixHashes, es, reader, opts: Options
                         ) -> tuple[int | None, str]:
    """Revision covered by a valid document time-stamp (PAdES-LTA) from a trusted
    time-stamping authority, or (None, why not)."""
    br = [int(x) for x in es.byte_range]
    sd = es.signed_data
    tst = sd["encap_content_info"]["content"].parsed
    imprint = tst["message_imprint"]
    algo = imprint["hash_algorithm"]["algorithm"].native
    if hashes.digest([(br[0], br[1]), (br[2], br[3])], algo) != imprint["hashed_message"].native:
        return None, "does not cover the document's bytes"
    tst_der = sd["encap_content_info"]["content"].contents

    def digest_of(name: str) -> bytes:
        h = new_hasher(name)
        h.update(tst_der)
        return h.digest()

    facts = check_signer(
        sd,
        sd["signer_infos"][0],
        digest_of,
        with_timestamp=False,
        content_for_unsigned=lambda: tst_der,
    )
    if not (facts.intact and facts.crypto_valid):
        return None, "does not verify"
    if facts.signer_cert is None:
        return None, "has no signer certificate"
    purpose = tsa_purpose_problem(facts.signer_cert)
    if purpose:
        return None, f"is not from a time-stamping authority ({purpose})"
    path = chain.validate_path(facts.signer_cert, list(facts.certs), opts.trust,
                               tst["gen_time"].native)
    if not path.ok or path.problems:
        why = path.message or path.sub_indication or "; ".join(path.problems)
        return None, f"is from an untrusted authority ({why})"
    return _signed_revision(reader, br[2] + br[3]), ""


def _one_parsed(hashes: PrefixHashes, reader, es, raw, opts, total, dss_certs, dss_ocsps,
                dss_crls):
    data = hashes.data
    sig = SignatureReport(
        field=str(es.field_name),
        indication=Indication.INDETERMINATE,
        sub_indication=None,
        facts=Facts(),
    )
    try:
        br = [int(x) for x in es.byte_range]
    except Exception:
        br = []
    sig.facts.byte_range = br
    subfilter = es.sig_object.get("/SubFilter")
    sig.facts.subfilter = str(subfilter)[1:] if subfilter else None
    match = _match_raw(raw, br, es.pkcs7_content)
    if match is None:
        sig.facts.format_problems.append(
            "the signature dictionary is not where its /ByteRange says (not found in the bytes)"
        )
    else:
        sig.facts.format_problems.extend(structure.check_byte_range(data, match))
    signed_end = br[2] + br[3] if len(br) == 4 else 0
    ranges_ok = (
        len(br) == 4 and br[0] >= 0 and br[0] + br[1] <= len(data) and signed_end <= len(data)
    )
    sr = _signed_revision(reader, signed_end) if ranges_ok else None
    sig.revision = sr
    sig.facts.coverage = _coverage(data, br, sig.facts.format_problems, sr)
    facts = signer_facts(es.signed_data, hashes, br, ranges_ok)
    if facts.signing_time is None:  # PAdES puts the claimed time in /M, not in the CMS
        try:
            facts.signing_time = es.self_reported_timestamp
        except Exception:
            sig.facts.problems.append("unreadable /M (signing time) entry")
    fill_identity(sig, facts)
    sig_ref = es.sig_field.raw_get("/V")
    sig_ref = getattr(sig_ref, "reference", None)
    if sr is not None and sig_ref is not None:
        intro = reader.xrefs.get_introducing_revision(sig_ref)
        last = reader.xrefs.get_last_change(sig_ref)
        if intro > sr:
            sig.facts.changes.append(
                changes_mod.make_change("signature_dictionary_copied", [sig_ref.idnum], intro)
            )
        elif last > sr:
            sig.facts.changes.append(
                changes_mod.make_change("signature_dictionary_edited", [sig_ref.idnum], last)
            )
        try:
            docmdp = es.docmdp_level
            level = int(docmdp.value) if docmdp is not None else None
            lock = es.fieldmdp
            found = changes_mod.analyse(
                reader, sr, {sig_ref}, docmdp=level, is_locked=lock.is_locked if lock else None
            )
        except Exception as exc:
            found = [changes_mod.make_change("unreadable_update", revision=sr + 1)]
            sig.facts.problems.append(f"changes after signing could not be analysed: {exc}")
        known = {c.kind for c in sig.facts.changes}
        sig.facts.changes.extend(c for c in found if c.kind not in known)
        if any(c.kind == "annotations" for c in found):
            sig.warnings += [f"check visually: {line}" for line in covered_text(reader, sr)]
    elif ranges_ok and sr is None:
        sig.facts.format_problems.append("the signed bytes do not contain a complete revision")
    sig.level = level_of(sig.facts.subfilter, facts, bool(dss_ocsps or dss_crls))
    judge(sig, facts, opts, extra_certs=dss_certs, embedded_ocsp=dss_ocsps, embedded_crls=dss_crls)
    return sig


def _coverage(data: bytes, br: list[int], problems: list[str], sr) -> str:
    if problems or len(br) != 4:
        return "unclear"
    if br[2] + br[3] == len(data):
        return "entire_file"
    return "entire_revision" if sr is not None else "partial"


__all__ = ["clear_cache", "verify_pdf"]
