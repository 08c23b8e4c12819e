"""Peer transport: HTTPS with mutual TLS, edXML bodies, a peer known by its certificate.

TLS chain validation (against the node CA bundle) proves a certificate comes from our PKI; the
SHA-256 fingerprint pinned in node.toml proves it is *that* peer. Both sides check both: the
server through the client certificate uvicorn hands to the app (see ``api.node_app``), the client
here, after the handshake, before it trusts the answer.
"""

from __future__ import annotations

import hashlib
import ssl
from dataclasses import dataclass
from pathlib import Path

import httpx

from exchange_axis.config import NodeConfig, Peer, TlsFiles
from exchange_axis.errors import TransportError

PACKAGE_PATH = "/exchange/v1/packages"
#: Many small packages (statuses) in one request; each still gets its own signed receipt.
BUNDLE_PATH = "/exchange/v1/bundle"
#: The recipients a transfer is for (transport addressing, beside the package): needed for
#: status 13, which the sender addresses to recipients while its ResponseFor names the sender.
TO_HEADER = "x-edoc-to"
EDXML_CONTENT_TYPE = "application/edxml+xml"


def fingerprint(der: bytes) -> str:
    """SHA-256 of a DER certificate, lowercase hex: how node.toml names a peer."""
    return hashlib.sha256(der).hexdigest()


def subject_of(der: bytes) -> str:
    """RFC 4514 subject of a DER certificate (as node.toml's optional ``subject`` spells it)."""
    from cryptography import x509

    return x509.load_der_x509_certificate(der).subject.rfc4514_string()


def matches(peer: Peer, der: bytes) -> bool:
    """The pinned fingerprint, and the subject too when node.toml gives one."""
    return fingerprint(der) == peer.fingerprint and (
        peer.subject is None or subject_of(der) == peer.subject)


def cert_fingerprint_file(path: Path) -> str:
    """Fingerprint of a PEM (or DER) certificate file."""
    data = Path(path).read_bytes()
    if b"-----BEGIN" in data:
        data = ssl.PEM_cert_to_DER_cert(data.decode("ascii"))
    return fingerprint(data)


def client_context(tls: TlsFiles) -> ssl.SSLContext:
    """Client side: present our node certificate, trust only the node CA bundle."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(tls.ca))
    ctx.load_cert_chain(str(tls.cert), str(tls.key), password=tls.key_password)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def uvicorn_tls_kwargs(tls: TlsFiles) -> dict:
    """Server side: require a client certificate chaining to the node CA bundle."""
    return {
        "ssl_certfile": str(tls.cert),
        "ssl_keyfile": str(tls.key),
        "ssl_keyfile_password": tls.key_password,
        "ssl_ca_certs": str(tls.ca),
        "ssl_cert_reqs": ssl.CERT_REQUIRED,
    }


@dataclass
class PeerAnswer:
    status_code: int
    body: bytes
    peer_fingerprint: str


def _peer_der(response: httpx.Response) -> bytes | None:
    stream = response.extensions.get("network_stream")
    if stream is None:
        return None
    obj = stream.get_extra_info("ssl_object")
    return obj.getpeercert(binary_form=True) if obj is not None else None


class PeerClient:
    """One pooled async HTTPS client for all peers of a node."""

    def __init__(self, cfg: NodeConfig, *, timeout: float = 30.0) -> None:
        self.cfg = cfg
        self._client = httpx.AsyncClient(
            verify=client_context(cfg.tls),
            timeout=httpx.Timeout(timeout, connect=5.0),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def post(self, peer: Peer, path: str, body: bytes, headers: dict | None = None
                   ) -> PeerAnswer:
        """POST to a peer and check it is the peer we meant before returning its answer."""
        url = peer.url.rstrip("/") + path
        try:
            response = await self._client.post(
                url, content=body,
                headers={"content-type": EDXML_CONTENT_TYPE, **(headers or {})},
            )
        except httpx.HTTPError as exc:  # refused, reset, TLS failure, timeout
            raise TransportError(
                f"Không gửi được tới nút {peer.name} ({url}): {exc!r}",
                f"cannot reach peer {peer.name} ({url}): {exc!r}",
            ) from exc
        der = _peer_der(response)
        fp = fingerprint(der) if der else ""
        if not der or not matches(peer, der):
            raise TransportError(
                f"Nút {peer.name} trình chứng thư khác với chứng thư đã khai báo",
                f"peer {peer.name} presented a certificate other than the pinned one "
                f"(got {fp[:16]}…, expected {peer.fingerprint[:16]}…)",
                retryable=False,
            )
        return PeerAnswer(response.status_code, response.content, fp)
