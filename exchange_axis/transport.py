"""Peer transport: HTTPS with mutual TLS, edXML bodies, a peer known by its certificate.

What a certificate must be to be trusted (chain, pin, expiry, revocation) is ``exchange_axis.tls``;
this module is the HTTP side: the paths and headers of the exchange, and the pooled client that
posts to peers, checks the answering peer's pin and turns TLS refusals into errors that say what to
do. The certificate helpers are re-exported here for the modules that have always imported them
from the transport.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

import httpx

from exchange_axis.config import NodeConfig, Peer
from exchange_axis.errors import TransportError
from exchange_axis.tls import (
    cert_fingerprint_file,
    client_context,
    explain_tls_failure,
    fingerprint,
    matches,
    peer_client_context,
    subject_of,
    uvicorn_tls_kwargs,
)

__all__ = [
    "BUNDLE_PATH", "EDXML_CONTENT_TYPE", "PACKAGE_PATH", "TO_HEADER", "PeerAnswer",
    "PeerClient", "cert_fingerprint_file", "client_context", "fingerprint", "matches",
    "subject_of", "uvicorn_tls_kwargs",
]


PACKAGE_PATH = "/exchange/v1/packages"
#: Many small packages (statuses) in one request; each still gets its own signed receipt.
BUNDLE_PATH = "/exchange/v1/bundle"
#: The recipients a transfer is for (transport addressing, beside the package): needed for
#: status 13, which the sender addresses to recipients while its ResponseFor names the sender.
TO_HEADER = "x-edoc-to"
EDXML_CONTENT_TYPE = "application/edxml+xml"


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
    """One pooled async HTTPS client for all peers of a node.

    Its timeouts (``[transport]``) are sized for weak links: a delivery may take
    ``answer_seconds`` plus its size at ``min_body_bytes_per_s`` (a fixed 30 s cut every 5 MB
    directive to a 256 kbit/s commune), and a dead link is the kernel's to tell: bytes left
    unacknowledged for ``stall_seconds`` end the connection (TCP_USER_TIMEOUT)."""

    def __init__(self, cfg: NodeConfig, *, timeout: float | None = None) -> None:
        self.cfg = cfg
        t = cfg.transport
        self._answer = t.answer_seconds if timeout is None else timeout
        stall = ([(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(t.stall_seconds * 1000))]
                 if hasattr(socket, "TCP_USER_TIMEOUT") else [])
        self._client = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(
                verify=peer_client_context(cfg), socket_options=stall,
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=32)),
            timeout=httpx.Timeout(self._answer, connect=t.connect_seconds),
        )

    def _timeout(self, size: int) -> httpx.Timeout:
        """Sending ``size`` bytes and reading the answer: the answer time plus the body's time
        at the slowest pace the exchange accepts."""
        t = self.cfg.transport
        slow = self._answer + size / t.min_body_bytes_per_s
        return httpx.Timeout(slow, connect=t.connect_seconds, pool=self._answer)

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
                timeout=self._timeout(len(body)),
            )
        except httpx.HTTPError as exc:  # refused, reset, TLS failure, timeout
            refused = await explain_tls_failure(exc, peer, self.cfg)
            if refused is not None:
                raise refused from exc
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


