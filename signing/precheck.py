"""Check the signer's own certificate before signing (Circular 15/2025: sign only with a
certificate that is within validity, fit for signing and not revoked).

WHY here and not in validation: this is a refusal *before* any signature exists, with a reason
the official can act on (renew, ask the CA, use the right token). The result is cached on the
signer for a few minutes so a batch of hundreds of documents asks the OCSP responder once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import time
from urllib.parse import urlsplit

from asn1crypto import x509
from pyhanko.sign._session_scope import run_and_release
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    ExpiredError,
    NotYetValidError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
    ValidationError,
)

from signing.errors import CertificateError
from signing.issuers import issuer_path

PRECHECK_TTL_S = 300.0
_VN = dt.timezone(dt.timedelta(hours=7))
_WRONG_EKU = {"server_auth", "time_stamping", "ocsp_signing", "code_signing"}


def _fmt(t: dt.datetime) -> str:
    return t.astimezone(_VN).isoformat(timespec="seconds")


def check_validity(cert: x509.Certificate, at: dt.datetime) -> None:
    nb, na = cert.not_valid_before, cert.not_valid_after
    if at < nb:
        raise CertificateError(
            f"Chứng thư số chưa đến thời hạn hiệu lực (từ {_fmt(nb)}); chờ đến ngày hiệu lực.",
            f"certificate not yet valid (valid from {_fmt(nb)}); wait until then",
            code="cert_not_yet_valid",
        )
    if at > na:
        raise CertificateError(
            f"Chứng thư số đã hết hạn ngày {_fmt(na)}; đề nghị gia hạn hoặc cấp mới "
            "chứng thư số trước khi ký.",
            f"certificate expired on {_fmt(na)}; renew it before signing",
            code="cert_expired",
        )


def check_purpose(cert: x509.Certificate) -> None:
    """A signing certificate: end entity, key usage digitalSignature or nonRepudiation, and no
    extended key usage that pins it to TLS servers, time-stamping, OCSP or code signing."""
    wrong = None
    if cert.ca:
        wrong = "là chứng thư của CA", "it is a CA certificate"
    ku = set(cert.key_usage_value.native) if cert.key_usage_value else None
    if ku is not None and not ku & {"digital_signature", "non_repudiation"}:
        wrong = "không có mục đích ký số (key usage)", "its key usage does not allow signing"
    eku = set(cert.extended_key_usage_value.native) if cert.extended_key_usage_value else set()
    if eku & _WRONG_EKU:
        wrong = (
            "dành cho mục đích khác (" + ", ".join(sorted(eku & _WRONG_EKU)) + ")",
            "it is issued for another purpose (" + ", ".join(sorted(eku & _WRONG_EKU)) + ")",
        )
    if wrong:
        raise CertificateError(
            f"Chứng thư số không dùng để ký văn bản được: {wrong[0]}; dùng chứng thư số ký "
            "của cá nhân hoặc cơ quan.",
            f"certificate cannot sign documents: {wrong[1]}; use a personal or agency signing "
            "certificate",
            code="cert_wrong_purpose",
        )


async def _check_revocation(cert, chain, at) -> None:
    anchors = [c for c in chain if c.self_signed != "no"] or chain[-1:]
    if not anchors:
        raise CertificateError(
            "Thiếu chứng thư CA cấp trên để kiểm tra trạng thái thu hồi; kèm chuỗi chứng thư.",
            "issuer certificates missing, cannot check revocation; supply the chain",
            code="cert_chain_missing",
        )
    vc = ValidationContext(
        trust_roots=anchors,
        other_certs=chain,
        allow_fetching=True,
        revocation_mode="hard-fail",
        moment=at,  # None = now, which keeps pyhanko-certvalidator's "live" freshness rules
    )
    v = CertificateValidator(cert, intermediate_certs=chain, validation_context=vc)
    try:
        await run_and_release(v.async_validate_usage(set()), vc)
    except RevokedError as e:
        raise CertificateError(
            "Chứng thư số đã bị thu hồi; không được ký. Liên hệ tổ chức cấp chứng thư.",
            f"certificate is revoked; signing refused. Contact the CA ({e})",
            code="cert_revoked",
        ) from e
    except (ExpiredError, NotYetValidError) as e:
        raise CertificateError(
            "Một chứng thư trong chuỗi đã hết hạn hoặc chưa có hiệu lực.",
            f"a certificate in the chain is out of validity ({e})",
            code="cert_chain_expired",
        ) from e
    except (PathBuildingError, PathValidationError, ValidationError) as e:
        down = unreachable(revocation_urls([cert, *chain]))
        if down:
            listed = ", ".join(down)
            dev = any(urlsplit(u).hostname in _LOOPBACK for u in down)
            raise CertificateError(
                f"Không xác định được trạng thái chứng thư số: dịch vụ OCSP/CRL {listed} không "
                "trả lời. "
                + ("Đây là PKI phát triển: chạy `edoc pki serve` rồi ký lại." if dev else
                   "Kiểm tra kết nối tới địa chỉ đó (mạng, tường lửa, proxy) rồi ký lại."),
                f"certificate status cannot be determined: the OCSP/CRL service(s) {listed} did "
                "not answer. "
                + ("This is the development PKI: start `edoc pki serve`, then sign again." if dev
                   else "Check the connection to that address (network, firewall, proxy), "
                        "then sign again."),
                code="cert_status_unknown",
            ) from e
        raise CertificateError(
            "Không xác định được trạng thái chứng thư số: các dịch vụ OCSP/CRL trả lời nhưng "
            "chuỗi chứng thư không kiểm tra được; kèm đủ chuỗi chứng thư (CA cấp trên) rồi ký lại.",
            f"certificate status cannot be determined although the OCSP/CRL services answer "
            f"({e}); supply the full certificate chain, then sign again",
            code="cert_status_unknown",
        ) from e


_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def revocation_urls(certs: list[x509.Certificate]) -> list[str]:
    """The OCSP and CRL addresses the certificates name, in order, once each."""
    urls: list[str] = []
    for c in certs:
        urls += list(c.ocsp_urls or [])
        urls += [dp.url for dp in (c.crl_distribution_points or []) if dp.url]
    return list(dict.fromkeys(u for u in urls if u.startswith(("http://", "https://"))))


def unreachable(urls: list[str], timeout: float = 2.0) -> list[str]:
    """Which of ``urls`` refuse or time out a TCP connection: said by name in the refusal, so
    the official (or the operator) knows which service to look at."""
    down = []
    for url in urls:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            socket.create_connection((parts.hostname or "", port), timeout=timeout).close()
        except OSError:
            down.append(url)
    return down


def check_signer(signer, *, at: dt.datetime | None = None, check_revocation: bool = True) -> None:
    """Raise :class:`CertificateError` unless ``signer``'s certificate may sign at ``at``."""
    now = at or dt.datetime.now(dt.UTC)
    cache = getattr(signer, "precheck_cache", None)
    key = ("ok", check_revocation)
    if at is None and cache is not None:
        t = cache.get(key)
        if t is not None and time.monotonic() - t < PRECHECK_TTL_S:
            return
    cert = signer.signing_cert
    check_validity(cert, now)
    check_purpose(cert)
    if check_revocation:
        chain = list(getattr(signer, "chain", None) or signer.cert_registry)
        chain = [c for c in chain if c.sha256 != cert.sha256]
        # a token often carries no root: fetch the missing CAs so the sub-CA's own status is
        # checked too, instead of trusting it as an anchor
        given = {c.sha256 for c in chain}
        chain += [c for c in issuer_path(cert, chain) if c.sha256 not in given]
        asyncio.run(_check_revocation(cert, chain, at))
    if at is None and cache is not None:
        cache[key] = time.monotonic()
