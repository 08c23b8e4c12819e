"""Helpers and fixtures shared by the signing tests: signers from the dev PKI, independent
verifiers (poppler ``pdfsig`` with an NSS database, pyHanko validation), page rendering with
``pdftoppm`` and colour counting in page regions, certificates issued by the dev sub-CA for keys
made elsewhere (ECDSA, PKCS#11 tokens)."""

from __future__ import annotations

import datetime as dt
import io
import re
import subprocess
from pathlib import Path

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from PIL import Image

from signing.signers.pkcs12 import Pkcs12Signer

_SIGNERS: dict[tuple[str, str], Pkcs12Signer] = {}


def signer_for(manifest, entity_id: str, **kw) -> Pkcs12Signer:
    key = (str(manifest.directory), entity_id + repr(sorted(kw.items())))
    if key not in _SIGNERS:
        e = manifest.entity(entity_id)
        _SIGNERS[key] = Pkcs12Signer.load(e.p12, e.password, **kw)
    return _SIGNERS[key]


def sign_personal(manifest, pdf: bytes, entity_id: str = "official-h41") -> bytes:
    """The leader's personal signature (his signature image) on ``pdf``."""
    from signing import sign_pdf
    from signing.appearances import PersonalAppearance

    return sign_pdf(pdf, signer_for(manifest, entity_id),
                    appearance=PersonalAppearance(manifest.entity(entity_id).image))


def seal(manifest, pdf: bytes, number: str, issue_date: dt.date,
         entity_id: str = "agency-h41") -> bytes:
    """The clerk's seal on ``pdf``, writing the number and the date into the draft's fields."""
    from signing import sign_pdf
    from signing.appearances import SealAppearance

    return sign_pdf(pdf, signer_for(manifest, entity_id),
                    appearance=SealAppearance(manifest.entity(entity_id).image, number=number,
                                              issue_date=issue_date))


def pdfsig(pdf: Path | bytes, nss: Path, tmp: Path | None = None) -> list[dict[str, str]]:
    """Run poppler's pdfsig and parse each signature's fields. pdfsig exits 0 even when a
    signature is broken, so callers must read ``validation``/``certificate``."""
    if isinstance(pdf, bytes):
        assert tmp is not None
        path = tmp / "pdfsig-input.pdf"
        path.write_bytes(pdf)
        pdf = path
    r = subprocess.run(
        ["pdfsig", "-nssdir", f"sql:{nss}", str(pdf)], capture_output=True, text=True,
        timeout=60,
    )
    sigs: list[dict[str, str]] = []
    for line in r.stdout.splitlines():
        if re.match(r"^Signature #\d+:", line):
            sigs.append({})
        m = re.match(r"^\s+- (.+?): (.*)$", line)
        if m and sigs:
            sigs[-1][m.group(1)] = m.group(2)
        elif line.strip() == "- Total document signed" and sigs:
            sigs[-1]["total"] = "yes"
    return sigs


def assert_pdfsig_valid(
    pdf, nss, tmp=None, count: int | None = None, doc_timestamps: int = 0
) -> list[dict[str, str]]:
    """Every signature valid and trusted per pdfsig. pdfsig does not verify RFC 3161 document
    time-stamps (type "unknown"): exactly ``doc_timestamps`` of them are set aside (the caller
    checks them with pyHanko)."""
    sigs = pdfsig(pdf, nss, tmp)
    ts = [s for s in sigs if s.get("Signature Type") == "unknown"]
    assert len(ts) == doc_timestamps, sigs
    sigs = [s for s in sigs if s not in ts]
    assert sigs, "pdfsig found no signature"
    if count is not None:
        assert len(sigs) == count, sigs
    for s in sigs:
        assert s.get("Signature Validation") == "Signature is Valid.", s
        assert s.get("Certificate Validation") == "Certificate is Trusted.", s
        assert s.get("Signature Type") == "ETSI.CAdES.detached", s
        assert s.get("Signing Hash Algorithm", "").startswith("SHA-"), s
        assert s.get("Signing Hash Algorithm") != "SHA1", s
    return sigs


DPI = 72


def render(pdf: bytes, page: int, tmp: Path, dpi: int = DPI) -> Image.Image:
    """Page ``page`` (1-based) rendered by poppler at ``dpi`` (72 dpi: 1 px = 1 pt)."""
    src = tmp / "render.pdf"
    src.write_bytes(pdf)
    out = tmp / f"render-{page}"
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-png", "-singlefile", "-f", str(page), "-l", str(page),
         str(src), str(out)],
        check=True, timeout=60,
    )
    return Image.open(f"{out}.png").convert("RGB")


def region(img: Image.Image, box_pt, page_h_pt: float, dpi: int = DPI) -> Image.Image:
    """Crop the PDF-space rectangle (x1, y1, x2, y2 in points, origin bottom-left)."""
    s = dpi / 72
    x1, y1, x2, y2 = box_pt
    top, bottom = int((page_h_pt - y2) * s), int((page_h_pt - y1) * s)
    return img.crop((int(x1 * s), top, int(x2 * s), bottom))


def is_blue(p) -> bool:
    r, g, b = p[:3]
    return b > 110 and b > r + 60 and b > g + 40


def is_red(p) -> bool:
    r, g, b = p[:3]
    return r > 140 and r > g + 70 and r > b + 60


def count(img: Image.Image, pred) -> int:
    data = img.get_flattened_data() if hasattr(img, "get_flattened_data") else img.getdata()
    return sum(1 for p in data if pred(p))


def text_of(pdf: bytes, tmp: Path, page: int | None = None) -> str:
    src = tmp / "text.pdf"
    src.write_bytes(pdf)
    args = ["pdftotext", "-layout"]
    if page:
        args += ["-f", str(page), "-l", str(page)]
    r = subprocess.run([*args, str(src), "-"], capture_output=True, text=True, check=True)
    return r.stdout


def fonts_of(pdf: bytes, tmp: Path) -> str:
    src = tmp / "fonts.pdf"
    src.write_bytes(pdf)
    return subprocess.run(["pdffonts", str(src)], capture_output=True, text=True, check=True).stdout


def field_rects(pdf: bytes) -> dict[str, tuple[float, float, float, float]]:
    from pyhanko.pdf_utils.reader import PdfFileReader

    r = PdfFileReader(io.BytesIO(pdf))
    out = {}
    for ref in r.root["/AcroForm"]["/Fields"]:
        f = ref.get_object()
        x1, y1, x2, y2 = (float(v) for v in f["/Rect"])
        out[str(f["/T"])] = (x1, y1, x2, y2)
    return out


def validate_all(pdf: bytes, manifest):
    """pyHanko's own validation of every signature (trust: the dev root)."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    root = asn1_x509.Certificate.load(pem.unarmor(manifest.root.read_bytes())[2])
    r = PdfFileReader(io.BytesIO(pdf))
    out = []
    for s in r.embedded_regular_signatures:
        st = validate_pdf_signature(s, ValidationContext(trust_roots=[root]))
        out.append((s.field_name, st))
    return out


def issue_cert(manifest, public_key, common_name: str, *, days: int = 365) -> asn1_x509.Certificate:
    """A personal signing certificate for ``public_key`` from the dev sub-CA (as a CA would for
    a CSR made on a token), with the sub-CA's CRL distribution point so status can be checked."""
    sub = manifest.authority("subca")
    ca_cert = x509.load_pem_x509_certificate(sub.cert.read_bytes())
    ca_key = serialization.load_pem_private_key(sub.key.read_bytes(), None)
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ủy ban nhân dân tỉnh Nghệ An"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])
    policies = ca_cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(policies, critical=False)
        .add_extension(
            x509.CRLDistributionPoints([x509.DistributionPoint(
                [x509.UniformResourceIdentifier(sub.crl_url)], None, None, None)]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def chain_of(manifest) -> list[asn1_x509.Certificate]:
    return [
        asn1_x509.Certificate.load(pem.unarmor(p.read_bytes())[2])
        for p in [*manifest.intermediates, manifest.root]
    ]
