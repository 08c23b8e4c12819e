"""Complete a signer's certificate chain up to its root, fetching missing CA certificates from
the AIA caIssuers URLs the certificates name.

WHY: USB tokens, HSMs, remote (CSC) signers and many .p12 files carry the signer's certificate
and its issuing CA but not the root. Signing-time checks then stop at the sub-CA and treat it as
a trust anchor, so its own revocation status (the root's CRL) is never checked before signing
and never embedded in a B-LT document, which then cannot be validated offline. The CA
certificates are public and every CA publishes them at the caIssuers URL (RFC 5280 4.2.2.1), so
we fetch what is missing instead of asking officials for files. Nothing fetched here is
*trusted*: trust is decided by the validator against its own trust store.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from asn1crypto import cms, pem, x509

from signing.netclient import client

FETCH_TIMEOUT_S = 5.0
MAX_DEPTH = 8  # longer chains do not occur in practice; stops loops on broken AIA data

_fetched: dict[str, list[x509.Certificate]] = {}  # caIssuers URL -> certificates it served
_lock = threading.Lock()


def is_self_signed(cert: x509.Certificate) -> bool:
    return cert.self_signed in ("maybe", "yes")


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    if cert.issuer != ca.subject or not (ca.ca or is_self_signed(ca)):
        return False
    aki, ski = cert.authority_key_identifier, ca.key_identifier
    return aki is None or ski is None or aki == ski


def _parse(data: bytes) -> list[x509.Certificate]:
    """DER or PEM certificate(s), or a PKCS#7 certs-only bundle (.p7c), as CAs publish them."""
    if pem.detect(data):
        return [x509.Certificate.load(der) for _t, _h, der in pem.unarmor(data, multiple=True)]
    try:
        cert = x509.Certificate.load(data)
        cert.native  # noqa: B018  (fail now on bad DER)
        return [cert]
    except ValueError:
        info = cms.ContentInfo.load(data)
        return [c.chosen for c in info["content"]["certificates"]]


def _fetch(url: str, timeout: float) -> list[x509.Certificate]:
    with _lock:
        hit = _fetched.get(url)
    if hit is not None:
        return hit
    try:
        resp = client().get(url, timeout=timeout, follow_redirects=True)
        resp.raise_for_status()
        certs = _parse(resp.content)
    except Exception:  # unreachable or garbage: the caller reports what stays missing
        return []
    with _lock:
        if len(_fetched) > 1000:
            _fetched.clear()
        _fetched[url] = certs
    return certs


def _ca_issuer_urls(cert: x509.Certificate) -> list[str]:
    aia = cert.authority_information_access_value
    if aia is None:
        return []
    return [
        d["access_location"].native
        for d in aia
        if d["access_method"].native == "ca_issuers"
        and d["access_location"].name == "uniform_resource_identifier"
        and str(d["access_location"].native).lower().startswith(("http://", "https://"))
    ]


def issuer_path(
    cert: x509.Certificate,
    chain: Iterable[x509.Certificate] = (),
    *,
    fetch: bool = True,
    timeout: float = FETCH_TIMEOUT_S,
) -> list[x509.Certificate]:
    """The CA certificates above ``cert``, issuer first, ending with a self-signed root when
    one could be found (check with :func:`reaches_root`). ``chain`` certificates are used
    first, in any order; missing issuers are fetched from caIssuers URLs when ``fetch``."""
    pool = [c for c in chain if c.sha256 != cert.sha256]
    path: list[x509.Certificate] = []
    current = cert
    for _ in range(MAX_DEPTH):
        if is_self_signed(current):
            break
        issuer = next((c for c in pool if _issued_by(current, c)), None)
        if issuer is None and fetch:
            for url in _ca_issuer_urls(current):
                issuer = next((c for c in _fetch(url, timeout) if _issued_by(current, c)), None)
                if issuer is not None:
                    break
        if issuer is None or any(c.sha256 == issuer.sha256 for c in path):
            break
        path.append(issuer)
        current = issuer
    return path


def reaches_root(cert: x509.Certificate, path: list[x509.Certificate]) -> bool:
    return is_self_signed(path[-1] if path else cert)


def clear_cache() -> None:
    with _lock:
        _fetched.clear()
