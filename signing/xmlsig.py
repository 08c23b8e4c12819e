"""Envelope signatures of edXML packages: the SDK form and standard XML-DSig.

The national axis SDK writes an XML-DSig-shaped ``Signature`` element **without** the W3C
namespace (it inherits the edXML default namespace): enveloped, ``URI=""``, SignedInfo
canonicalised with C14N 1.0, the document digested after the enveloped-signature and exclusive
C14N transforms, rsa-sha1. A standard verifier does not see it, so we read and check it
ourselves. We also write and read standard XML-DSig (``ds:`` namespace), which ``xmlsec1`` and
signxml verify independently.

We sign with SHA-256 (SHA-1 only when a caller explicitly asks for a legacy interoperability
test); we read SHA-1 and report it as legacy. The signature is spliced into the original bytes
at the end of ``edXMLHeader`` (where the SDK puts it), leaving every other byte of the package
unchanged.

This module stands alone (no ``edoc`` import): bytes and lxml trees in, bytes and a report out.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from lxml import etree

from signing.errors import InputError, SigningError

DSIG = "http://www.w3.org/2000/09/xmldsig#"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
C14N_COMMENTS = C14N + "#WithComments"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
EXC_C14N_COMMENTS = EXC_C14N + "WithComments"
EXC_C14N_SDK = "http://www.w3.org/TR/xml-exc-c14n#"  # what the SDK writes (sic)
ENVELOPED = DSIG + "enveloped-signature"
_CANON = {  # algorithm → (exclusive, with_comments)
    C14N: (False, False), C14N_COMMENTS: (False, True),
    EXC_C14N: (True, False), EXC_C14N_COMMENTS: (True, True), EXC_C14N_SDK: (True, False),
}
DIGESTS = {
    DSIG + "sha1": "sha1",
    "http://www.w3.org/2001/04/xmlenc#sha256": "sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384": "sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512": "sha512",
}
SIGNATURES = {
    DSIG + "rsa-sha1": ("rsa", "sha1"),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": ("rsa", "sha256"),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": ("rsa", "sha384"),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": ("rsa", "sha512"),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1": ("ecdsa", "sha1"),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256": ("ecdsa", "sha256"),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384": ("ecdsa", "sha384"),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512": ("ecdsa", "sha512"),
}
_HASH = {"sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384,
         "sha512": hashes.SHA512}
FORMS = ("sdk", "xmldsig")


class XmlSignatureError(SigningError):
    """The envelope cannot be signed (bad input, unusable key)."""

    code = "xml_signature"


# --------------------------------------------------------------------------- reading XML ---
MAX_BYTES = 256 * 1024 * 1024


def _parse(xml: bytes) -> etree._Element:
    """Hardened parse: no DTD, no entities, no network (the package comes from outside)."""
    if not isinstance(xml, bytes | bytearray) or len(xml) > MAX_BYTES:
        raise InputError("Tài liệu XML phải là bytes, tối đa 256 MiB",
                         "the XML document must be bytes, at most 256 MiB", code="xml_size")
    head = xml[:8192]
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise InputError("Tài liệu XML chứa DOCTYPE/ENTITY, không được phép",
                         "the XML document contains a DOCTYPE/ENTITY, which is not allowed",
                         code="xml_dtd")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=True, remove_blank_text=False)
    try:
        root = etree.fromstring(xml, parser)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise InputError(f"Tài liệu XML không hợp lệ: {exc}",
                         f"the XML document is not well-formed: {exc}", code="xml_syntax") from None
    if root.getroottree().docinfo.doctype:
        raise InputError("Tài liệu XML chứa DOCTYPE", "the XML document has a DOCTYPE",
                         code="xml_dtd")
    return root


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _child(element: etree._Element, name: str) -> etree._Element | None:
    for child in element:
        if _local(child) == name:
            return child
    return None


def find_signatures(root: etree._Element) -> list[tuple[str, etree._Element]]:
    """Every envelope signature: ``("xmldsig", el)`` for ds:Signature, ``("sdk", el)`` for a
    ``Signature`` in any other namespace that has a ``SignedInfo`` child."""
    found = []
    for element in root.iter("{*}Signature"):
        ns = etree.QName(element).namespace
        if ns == DSIG:
            found.append(("xmldsig", element))
        elif _child(element, "SignedInfo") is not None:
            found.append(("sdk", element))
    return found


def _canon(element: etree._Element, algorithm: str) -> bytes:
    exclusive, comments = _CANON[algorithm]
    return etree.tostring(element, method="c14n", exclusive=exclusive, with_comments=comments)


def _without(root: etree._Element, signature: etree._Element) -> etree._Element:
    """A copy of the document with ``signature`` removed as the enveloped transform does: the
    element goes, the whitespace around it stays (lxml keeps it in the element's tail)."""
    steps = []
    node = signature
    while node.getparent() is not None:
        steps.append(node.getparent().index(node))
        node = node.getparent()
    clone = copy.deepcopy(root)
    target = clone
    for step in reversed(steps):
        target = target[step]
    parent = target.getparent()
    tail = target.tail or ""
    previous = target.getprevious()
    if previous is not None:
        previous.tail = (previous.tail or "") + tail
    else:
        parent.text = (parent.text or "") + tail
    parent.remove(target)
    return clone


# --------------------------------------------------------------------------- signing -------
@dataclass
class _Key:
    """Either a cryptography private key or a ``signing.signers.Signer`` (token, remote)."""

    certificate: x509.Certificate
    chain: list[x509.Certificate]
    private_key: Any = None
    signer: Any = None

    @property
    def kind(self) -> str:
        return "ecdsa" if isinstance(self.certificate.public_key(), ec.EllipticCurvePublicKey) \
            else "rsa"

    def sign(self, data: bytes, md: str) -> bytes:
        if self.signer is not None:
            value = self.signer.sign_digest(hashlib.new(md, data).digest(), md)
            return _der_to_raw(value, self.certificate) if self.kind == "ecdsa" else value
        key = self.private_key
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, padding.PKCS1v15(), _HASH[md]())
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return _der_to_raw(key.sign(data, ec.ECDSA(_HASH[md]())), self.certificate)
        raise XmlSignatureError("Loại khóa không được hỗ trợ (chỉ RSA, ECDSA)",
                                "unsupported key type (RSA and ECDSA only)")


def _der_to_raw(der: bytes, cert: x509.Certificate) -> bytes:
    r, s = decode_dss_signature(der)
    size = (cert.public_key().curve.key_size + 7) // 8  # type: ignore[attr-defined]
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def _raw_to_der(raw: bytes) -> bytes:
    half = len(raw) // 2
    return encode_dss_signature(int.from_bytes(raw[:half], "big"),
                                int.from_bytes(raw[half:], "big"))


def _as_crypto_cert(cert: Any) -> x509.Certificate:
    if isinstance(cert, x509.Certificate):
        return cert
    if isinstance(cert, bytes | bytearray):
        data = bytes(cert)
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    dump = getattr(cert, "dump", None)  # asn1crypto (the Signer interface)
    if dump is not None:
        return x509.load_der_x509_certificate(dump())
    raise XmlSignatureError("Chứng thư số không đọc được", f"unreadable certificate {cert!r}")


def _make_key(key: Any, certificate: Any, chain: Iterable[Any]) -> _Key:
    if hasattr(key, "sign_digest") and hasattr(key, "certificate"):  # a signing Signer
        cert = _as_crypto_cert(certificate or key.certificate)
        extra = list(chain) or list(getattr(key, "chain", []))
        return _Key(cert, [_as_crypto_cert(c) for c in extra], signer=key)
    if isinstance(key, bytes | bytearray):
        key = serialization.load_pem_private_key(bytes(key), password=None)
    if certificate is None:
        raise XmlSignatureError("Thiếu chứng thư số của người ký",
                                "the signer's certificate is required")
    return _Key(_as_crypto_cert(certificate), [_as_crypto_cert(c) for c in chain],
                private_key=key)


def _algorithm_uri(kind: str, md: str) -> str:
    for uri, value in SIGNATURES.items():
        if value == (kind, md):
            return uri
    raise XmlSignatureError(f"Không hỗ trợ {kind}-{md}", f"{kind}-{md} is not supported")


def _digest_uri(md: str) -> str:
    return next(uri for uri, name in DIGESTS.items() if name == md)


def _template(form: str, key: _Key, md: str, digest: str, value: str, indent: str,
              eol: str) -> str:
    p = "ds:" if form == "xmldsig" else ""
    declare = f' xmlns:ds="{DSIG}"' if form == "xmldsig" else ""
    transform_exc = EXC_C14N if form == "xmldsig" else EXC_C14N_SDK
    certs = "".join(
        f"{indent}      <{p}X509Certificate>"
        f"{base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()}"
        f"</{p}X509Certificate>{eol}" for c in [key.certificate, *key.chain])
    subject = key.certificate.subject.rfc4514_string().replace("&", "&amp;").replace("<", "&lt;")
    lines = [
        f"<{p}Signature{declare}>",
        f"  <{p}SignedInfo>",
        f'    <{p}CanonicalizationMethod Algorithm="{C14N}" />',
        f'    <{p}SignatureMethod Algorithm="{_algorithm_uri(key.kind, md)}" />',
        f'    <{p}Reference URI="">',
        f"      <{p}Transforms>",
        f'        <{p}Transform Algorithm="{ENVELOPED}" />',
        f'        <{p}Transform Algorithm="{transform_exc}" />',
        f"      </{p}Transforms>",
        f'      <{p}DigestMethod Algorithm="{_digest_uri(md)}" />',
        f"      <{p}DigestValue>{digest}</{p}DigestValue>",
        f"    </{p}Reference>",
        f"  </{p}SignedInfo>",
        f"  <{p}SignatureValue>{value}</{p}SignatureValue>",
        f"  <{p}KeyInfo>",
        f"    <{p}X509Data>",
        f"      <{p}X509SubjectName>{subject}</{p}X509SubjectName>",
    ]
    text = eol.join(indent + line for line in lines) + eol + certs
    tail = [f"    </{p}X509Data>", f"  </{p}KeyInfo>", f"</{p}Signature>"]
    return text + eol.join(indent + line for line in tail)


_HEADER_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?edXMLHeader\s*>")
_ROOT_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?[A-Za-z_][\w.-]*\s*>\s*$")


def sign_envelope(xml: bytes, key: Any, certificate: Any = None, chain: Sequence[Any] = (), *,
                  form: str = "sdk", digest: str = "sha256",
                  allow_legacy_sha1: bool = False) -> bytes:
    """Sign an edXML package (enveloped, ``URI=""``) and return the signed bytes.

    ``key``: a cryptography private key, PEM bytes, or a ``signing.signers.Signer``;
    ``certificate`` (and ``chain``) as cryptography or asn1crypto objects, PEM or DER.
    ``form``: ``"sdk"`` (the SDK's namespace-less Signature) or ``"xmldsig"``."""
    if form not in FORMS:
        raise XmlSignatureError(f"Dạng chữ ký {form!r} không hỗ trợ (sdk, xmldsig)",
                                f"unknown signature form {form!r} (sdk, xmldsig)")
    if digest not in ("sha256", "sha384", "sha512") and not (digest == "sha1"
                                                            and allow_legacy_sha1):
        raise XmlSignatureError(f"Không ký bằng {digest}; dùng sha256",
                                f"refusing to sign with {digest}; use sha256")
    root = _parse(xml)
    if find_signatures(root):
        raise XmlSignatureError("Gói tin đã có chữ ký phong bì", "the envelope is already signed")
    signing_key = _make_key(key, certificate, chain)
    eol = "\r\n" if b"\r\n" in xml[:4096] else "\n"
    position, outer = _insert_point(xml)
    md = digest

    def splice(digest_value: str, signature_value: str) -> bytes:
        text = _template(form, signing_key, md, digest_value, signature_value,
                         outer + "  ", eol)
        # we stand after ``outer`` on the closing tag's line: finish the block at that indent
        return xml[:position] + (text[len(outer):] + eol + outer).encode("utf-8") + xml[position:]

    draft = splice("", "")
    tree = _parse(draft)
    (_, signature) = find_signatures(tree)[0]
    digest_value = base64.b64encode(
        hashlib.new(md, _canon(_without(tree, signature), EXC_C14N)).digest()).decode()
    signed_info = _child(signature, "SignedInfo")
    reference = _child(signed_info, "Reference")
    _child(reference, "DigestValue").text = digest_value
    value = signing_key.sign(_canon(signed_info, C14N), md)
    return splice(digest_value, base64.b64encode(value).decode())


def _insert_point(xml: bytes) -> tuple[int, str]:
    """Where the signature goes (just before ``</edXMLHeader>``, or before the root's closing
    tag) and the indentation of that closing tag."""
    matches = list(_HEADER_END.finditer(xml))
    if len(matches) > 1:
        raise XmlSignatureError("Gói tin có nhiều edXMLHeader", "more than one edXMLHeader")
    match = matches[0] if matches else _ROOT_END.search(xml)
    if match is None:
        raise XmlSignatureError("Không tìm thấy chỗ đặt chữ ký", "no place for the signature")
    start = match.start()
    line_start = xml.rfind(b"\n", 0, start) + 1
    spaces = xml[line_start:start]
    return start, spaces.decode() if spaces and not spaces.strip(b" \t") else ""


# --------------------------------------------------------------------------- verifying -----
@dataclass
class XmlSignatureReport:
    """What was found and whether it holds; ``reasons`` say why not, in both languages."""

    found: bool
    form: str | None = None
    signature_algorithm: str | None = None
    digest_algorithm: str | None = None
    legacy: bool = False
    certificate_subject: str | None = None
    certificate_issuer: str | None = None
    subject_name: str | None = None
    digest_ok: bool | None = None
    signature_ok: bool | None = None
    trusted: bool | None = None
    reasons_vi: list[str] = field(default_factory=list)
    reasons_en: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return bool(self.found and self.digest_ok and self.signature_ok
                    and self.trusted is not False)

    def why(self, vi: str, en: str) -> None:
        self.reasons_vi.append(vi)
        self.reasons_en.append(en)

    @property
    def summary_en(self) -> str:
        if not self.found:
            return "no envelope signature" + "".join(f"; {r}" for r in self.reasons_en)
        state = "valid" if self.valid else "NOT valid: " + "; ".join(self.reasons_en)
        return f"{self.form} envelope signature ({self.signature_algorithm}) {state}"

    @property
    def summary_vi(self) -> str:
        if not self.found:
            return "không có chữ ký phong bì" + "".join(f"; {r}" for r in self.reasons_vi)
        state = "hợp lệ" if self.valid else "KHÔNG hợp lệ: " + "; ".join(self.reasons_vi)
        return f"chữ ký phong bì dạng {self.form} ({self.signature_algorithm}) {state}"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(valid=self.valid, summary_vi=self.summary_vi, summary_en=self.summary_en)
        return out


def verify_envelope(xml: bytes, trust: Any = None) -> XmlSignatureReport:
    """Find and check the envelope signature (either form). Never raises on a bad signature:
    the report says what is wrong. ``trust``: a ``signing.trust.TrustStore`` or a list of root
    certificates; without it the certificate is not judged (``trusted`` is None)."""
    try:
        root = _parse(xml)
    except InputError as exc:
        report = XmlSignatureReport(found=False)
        report.why(exc.message_vi, exc.message_en)
        return report
    found = find_signatures(root)
    if not found:
        return XmlSignatureReport(found=False)
    form, signature = found[0]
    report = XmlSignatureReport(found=True, form=form)
    if len(found) > 1:
        report.why("Có nhiều hơn một chữ ký phong bì; chỉ kiểm tra chữ ký đầu",
                   "more than one envelope signature; only the first is checked")
    try:
        _check(root, signature, report, trust)
    except Exception as exc:  # a hostile or broken signature must give a report, not a crash
        report.signature_ok = False if report.signature_ok is None else report.signature_ok
        report.why(f"Chữ ký không đọc được: {exc}", f"the signature cannot be read: {exc}")
    return report


def _check(root: etree._Element, signature: etree._Element, report: XmlSignatureReport,
           trust: Any) -> None:
    signed_info = _child(signature, "SignedInfo")
    if signed_info is None:
        raise ValueError("no SignedInfo")
    canon = _child(signed_info, "CanonicalizationMethod")
    method = _child(signed_info, "SignatureMethod")
    references = [c for c in signed_info if _local(c) == "Reference"]
    report.signature_algorithm = method.get("Algorithm") if method is not None else None
    algo = SIGNATURES.get(report.signature_algorithm or "")
    if len(references) != 1:
        raise ValueError(f"{len(references)} references; exactly one (URI=\"\") is supported")
    reference = references[0]
    digest_method = _child(reference, "DigestMethod")
    report.digest_algorithm = digest_method.get("Algorithm") if digest_method is not None \
        else None
    md = DIGESTS.get(report.digest_algorithm or "")
    report.legacy = md == "sha1" or (algo is not None and algo[1] == "sha1")
    if report.legacy:
        report.why("Dùng SHA-1 (thuật toán cũ, không còn được chấp nhận cho chữ ký mới)",
                   "uses SHA-1 (legacy, no longer acceptable for new signatures)")
    cert = _certificate(signature, report)
    if trust is not None and cert is not None:
        report.trusted = _trusted(cert, _embedded(signature)[1:], trust)
        if not report.trusted:
            report.why("Chứng thư số không thuộc chuỗi tin cậy",
                       "the certificate does not chain to a trusted root")
    # digest over the document without the signature
    if reference.get("URI") not in ("", None):
        raise ValueError(f"Reference URI {reference.get('URI')!r} is not supported (only \"\")")
    if md is None:
        raise ValueError(f"unsupported digest {report.digest_algorithm}")
    transforms = _child(reference, "Transforms")
    algorithms = [t.get("Algorithm") for t in (transforms if transforms is not None else [])
                  if _local(t) == "Transform"]
    if ENVELOPED not in algorithms:
        raise ValueError("the reference lacks the enveloped-signature transform")
    canon_algos = [a for a in algorithms if a in _CANON]
    content = _canon(_without(root, signature), canon_algos[-1] if canon_algos else C14N)
    expected = (_text(_child(reference, "DigestValue")))
    report.digest_ok = base64.b64encode(hashlib.new(md, content).digest()).decode() == expected
    if not report.digest_ok:
        report.why("Nội dung gói tin đã thay đổi sau khi ký (sai giá trị băm)",
                   "the package changed after signing (digest mismatch)")
    # the signature over SignedInfo
    if algo is None:
        raise ValueError(f"unsupported signature method {report.signature_algorithm}")
    canon_uri = canon.get("Algorithm") if canon is not None else C14N
    if canon_uri not in _CANON:
        raise ValueError(f"unsupported canonicalization {canon_uri}")
    if cert is None:
        report.signature_ok = None
        return
    value = base64.b64decode(_text(_child(signature, "SignatureValue")))
    data = _canon(signed_info, canon_uri)
    public = cert.public_key()
    try:
        if algo[0] == "rsa" and isinstance(public, rsa.RSAPublicKey):
            public.verify(value, data, padding.PKCS1v15(), _HASH[algo[1]]())
        elif algo[0] == "ecdsa" and isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(_raw_to_der(value), data, ec.ECDSA(_HASH[algo[1]]()))
        else:
            raise InvalidSignature
        report.signature_ok = True
    except (InvalidSignature, ValueError):
        report.signature_ok = False
        report.why("Giá trị chữ ký không khớp với khóa công khai của chứng thư",
                   "the signature value does not verify with the certificate's key")


def _text(element: etree._Element | None) -> str:
    return "".join((element.text or "").split()) if element is not None else ""


def _embedded(signature: etree._Element) -> list[str]:
    return [_text(e) for e in signature.iter("{*}X509Certificate")]


def _certificate(signature: etree._Element, report: XmlSignatureReport) -> x509.Certificate | None:
    names = [(e.text or "").strip() for e in signature.iter("{*}X509SubjectName")]
    report.subject_name = names[0] if names else None
    embedded = _embedded(signature)
    if not embedded:
        report.why("Chữ ký không kèm chứng thư số", "no certificate in the signature")
        return None
    try:
        cert = x509.load_der_x509_certificate(base64.b64decode(embedded[0]))
    except ValueError as exc:
        report.why(f"Chứng thư số kèm chữ ký hỏng hoặc bị cắt ({len(embedded[0])} ký tự base64)",
                   f"the embedded certificate is damaged or truncated "
                   f"({len(embedded[0])} base64 characters): {exc}")
        return None
    report.certificate_subject = cert.subject.rfc4514_string()
    report.certificate_issuer = cert.issuer.rfc4514_string()
    return cert


def _trusted(cert: x509.Certificate, extra_b64: list[str], trust: Any) -> bool:
    roots = [_as_crypto_cert(c) for c in getattr(trust, "roots", trust)]
    pool = [_as_crypto_cert(c) for c in getattr(trust, "intermediates", [])]
    for text in extra_b64:
        try:
            pool.append(x509.load_der_x509_certificate(base64.b64decode(text)))
        except ValueError:
            continue
    current = cert
    for _ in range(6):
        for root in roots:
            if _issued_by(current, root):
                return True
        parent = next((c for c in pool if c != current and _issued_by(current, c)), None)
        if parent is None:
            return False
        current = parent
    return False


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
