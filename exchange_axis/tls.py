"""Node certificates in TLS: pins, SSL contexts, and revocation of node certificates.

TLS chain validation (against the node CA bundle) proves a certificate comes from our PKI; the
SHA-256 fingerprint pinned in node.toml proves it is *that* peer. Both sides check both: the
server through the client certificate uvicorn hands to the app (see ``api.node_app``), the client
(``exchange_axis.transport.PeerClient``) after the handshake, before it trusts the answer.

A pin cannot tell that the node CA has revoked a certificate (a stolen key), nor does it expire.
OpenSSL refuses an expired certificate in the handshake by itself; for revocation, ``CrlKeeper``
holds the node CA's CRLs (fetched from the certificate's CRL distribution point or read from
files, refreshed periodically) and the SSL contexts built on them with ``VERIFY_CRL_CHECK_LEAF``.
The contexts handed to uvicorn and httpx are ``_LatestContext``s, which wrap each new connection
with the newest of those contexts: a new CRL applies to the next handshake without a restart.
Refusals are written to the log, and to the outbox's error, saying what was wrong and what to do.
"""


from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import ssl
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from exchange_axis.config import NodeConfig, Peer, TlsFiles
from exchange_axis.errors import TransportError

log = logging.getLogger("edoc.node.tls")


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


# -- node certificate revocation (CRLs) and expiry ------------------------------------------------

#: OpenSSL's X509_V_ERR_* codes a refusal is explained by
_EXPIRED, _REVOKED, _NO_CRL, _CRL_EXPIRED, _NOT_YET_VALID = 10, 23, 3, 12, 9
#: while a CRL source fails (or none was ever obtained), try again this often at most
_RETRY_SECONDS = 10.0
_FETCH_TIMEOUT = 10.0
_MAX_CRL_BYTES = 16 * 1024 * 1024


def _now() -> datetime:
    return datetime.now(UTC)


def _load_crls(data: bytes) -> list[x509.CertificateRevocationList]:
    """The CRLs in a DER file or a PEM file (which may hold several)."""
    if b"-----BEGIN X509 CRL-----" not in data:
        return [x509.load_der_x509_crl(data)]
    out = []
    for block in data.split(b"-----END X509 CRL-----")[:-1]:
        start = block.find(b"-----BEGIN X509 CRL-----")
        out.append(x509.load_pem_x509_crl(block[start:] + b"-----END X509 CRL-----\n"))
    return out


def _crl_number(crl: x509.CertificateRevocationList) -> int:
    try:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        return -1


def cdp_urls(cert_file: Path) -> list[str]:
    """The HTTP(S) CRL distribution points of the first certificate in a PEM file: where the
    CA that issued this node's certificate (and, in one PKI, its peers') publishes its CRL."""
    cert = x509.load_pem_x509_certificates(Path(cert_file).read_bytes())[0]
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    return [name.value for point in points for name in (point.full_name or [])
            if isinstance(name, x509.UniformResourceIdentifier)
            and name.value.lower().startswith(("http://", "https://"))]


class _LatestContext(ssl.SSLContext):
    """The context uvicorn and httpx hold for the node's whole life; each connection they wrap
    is handed to the newest context the ``CrlKeeper`` built (``latest``), so a new CRL applies
    to the next handshake. uvicorn builds its SSLContext once and asyncio binds it to the
    listening socket, so replacing the context object itself would not reach new connections."""

    latest: ssl.SSLContext
    _alpn: list[str] | None = None

    def wrap_bio(self, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO,  # type: ignore[override]
                 server_side: bool = False, server_hostname: str | None = None,
                 session: ssl.SSLSession | None = None) -> ssl.SSLObject:
        return self.latest.wrap_bio(incoming, outgoing, server_side=server_side,
                                    server_hostname=server_hostname, session=session)

    def wrap_socket(self, sock, server_side: bool = False,  # type: ignore[override]
                    do_handshake_on_connect: bool = True, suppress_ragged_eofs: bool = True,
                    server_hostname: str | None = None,
                    session: ssl.SSLSession | None = None) -> ssl.SSLSocket:
        return self.latest.wrap_socket(
            sock, server_side=server_side, do_handshake_on_connect=do_handshake_on_connect,
            suppress_ragged_eofs=suppress_ragged_eofs, server_hostname=server_hostname,
            session=session)

    def set_alpn_protocols(self, alpn_protocols) -> None:  # type: ignore[override]
        """httpcore sets ALPN on the context before each connection: pass it on."""
        self._alpn = list(alpn_protocols)
        super().set_alpn_protocols(self._alpn)
        self.latest.set_alpn_protocols(self._alpn)


@dataclass(frozen=True)
class _Refusal:
    """What a certificate verification failure means for an operator, in both languages."""

    what_vi: str
    what_en: str
    todo_vi: str
    todo_en: str


def _client_refusal(code: int, message: str) -> _Refusal:
    """Why the server side refused a client's certificate, and what the peer must do."""
    if code == _EXPIRED:
        return _Refusal("chứng chỉ nút của máy khách đã hết hạn",
                        "the client's node certificate has expired",
                        "bên vận hành nút đó phải cấp lại chứng chỉ nút và báo fingerprint mới để "
                        "cập nhật [[peers]]",
                        "its operator must renew the node certificate and send the new "
                        "fingerprint for [[peers]]")
    if code == _REVOKED:
        return _Refusal("chứng chỉ nút của máy khách đã bị CA thu hồi",
                        "the client's node certificate is revoked by its CA",
                        "nút đó cần chứng chỉ mới; nếu khóa bị lộ, gỡ nó khỏi [[peers]]",
                        "that node needs a new certificate; if its key leaked, remove it from "
                        "[[peers]]")
    return _Refusal(*_crl_problem(code, message))


def _crl_problem(code: int, message: str) -> tuple[str, str, str, str]:
    if code == _NO_CRL:
        return ("không có CRL của CA cấp chứng chỉ nút", "no CRL of the node CA is held",
                "kiểm tra tls.crl_urls / tls.crl_files và máy chủ CRL (edoc pki serve)",
                "check tls.crl_urls / tls.crl_files and that the CRL server answers "
                "(development: edoc pki serve)")
    if code == _CRL_EXPIRED:
        return ("CRL của CA cấp chứng chỉ nút đã quá hạn (nextUpdate)",
                "the node CA's CRL is past its nextUpdate",
                "nút từ chối cho tới khi lấy được CRL mới: kiểm tra máy chủ CRL",
                "peers are refused until a fresh CRL is fetched: check the CRL server")
    if code == _NOT_YET_VALID:
        return ("chứng chỉ nút chưa tới ngày hiệu lực", "the node certificate is not yet valid",
                "kiểm tra đồng hồ của hai máy", "check both machines' clocks")
    return (f"chứng chỉ không hợp lệ: {message}", f"certificate not accepted: {message}",
            "kiểm tra chuỗi chứng chỉ và tls.ca", "check the certificate chain and tls.ca")


class _RateLimit:
    """At most one log line per reason every ``every`` seconds (a flood of bad handshakes must
    not flood the log), with the number left out."""

    def __init__(self, every: float = 10.0) -> None:
        self.every = every
        self._last: dict[object, float] = {}
        self._skipped: dict[object, int] = {}
        self._lock = threading.Lock()

    def allow(self, key: object) -> int | None:
        """None to stay silent, else how many were left out since the last line."""
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(key, -1e9) < self.every:
                self._skipped[key] = self._skipped.get(key, 0) + 1
                return None
            self._last[key] = now
            return self._skipped.pop(key, 0)


_refusals = _RateLimit()


class _RefusalLoggingSSLObject(ssl.SSLObject):
    """Server side: a client refused in the handshake never reaches the app (asyncio logs it
    only in debug mode), so the node says here why it refused and what to do about it."""

    def do_handshake(self) -> None:
        try:
            super().do_handshake()
        except ssl.SSLCertVerificationError as exc:
            skipped = _refusals.allow(exc.verify_code)
            if skipped is not None:
                r = _client_refusal(exc.verify_code, exc.verify_message)
                more = f" (+{skipped})" if skipped else ""
                log.warning("Từ chối kết nối TLS: %s; %s (refused a TLS connection: %s; %s)%s",
                            r.what_vi, r.todo_vi, r.what_en, r.todo_en, more)
            raise


def _server_context(tls: TlsFiles, cls: type[ssl.SSLContext] = ssl.SSLContext
                    ) -> ssl.SSLContext:
    ctx = cls(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(tls.cert), str(tls.key), password=tls.key_password)
    ctx.load_verify_locations(cafile=str(tls.ca))
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.sslobject_class = _RefusalLoggingSSLObject
    return ctx


def _client_context(tls: TlsFiles, cls: type[ssl.SSLContext] = ssl.SSLContext
                    ) -> ssl.SSLContext:
    ctx = cls(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_verify_locations(cafile=str(tls.ca))
    ctx.load_cert_chain(str(tls.cert), str(tls.key), password=tls.key_password)
    return ctx


class CrlKeeper:
    """The node CA's CRLs for one node, and the server and client SSL contexts that check peers'
    certificates against them (``VERIFY_CRL_CHECK_LEAF``).

    Policy (docs/trust.md): a CRL is accepted only if a CA of ``tls.ca`` signed it and it is not
    older (CRL number) than the one held from the same source. When a source fails, the last good
    CRL is kept, and the failure logged; OpenSSL then refuses the peers of a CA whose CRL is past
    its nextUpdate ("CRL has expired"): fail closed. Before any CRL was obtained the contexts
    refuse every peer when ``required``, else they skip the check and the node says so."""

    def __init__(self, tls: TlsFiles, *, required: bool) -> None:
        self.tls = tls
        self.required = required
        self.urls = list(tls.crl_urls) or cdp_urls(tls.cert)
        self.files = list(tls.crl_files)
        self.issuers = x509.load_pem_x509_certificates(Path(tls.ca).read_bytes())
        self._own = x509.load_pem_x509_certificates(Path(tls.cert).read_bytes())[0]
        self._held: dict[str, x509.CertificateRevocationList] = {}  # source → last good
        self.errors: dict[str, str] = {}  # source → why its last refresh failed
        self._applied: tuple[bytes, ...] | None = None
        self._said: set[str] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.refreshed = 0
        self._server = _server_context(tls, _LatestContext)
        self._client = _client_context(tls, _LatestContext)
        self._build([])

    # the contexts handed out once, for the node's whole life
    def server_context(self) -> ssl.SSLContext:
        return self._server

    def client_context(self) -> ssl.SSLContext:
        return self._client

    def crls(self) -> list[x509.CertificateRevocationList]:
        """The CRLs in force: per issuing CA, the newest held."""
        best: dict[bytes, x509.CertificateRevocationList] = {}
        for crl in self._held.values():
            key = crl.issuer.public_bytes()
            old = best.get(key)
            if old is None or (_crl_number(crl), crl.last_update_utc) > (
                    _crl_number(old), old.last_update_utc):
                best[key] = crl
        return list(best.values())

    def _read(self, source: str) -> bytes:
        if source in self.urls:
            request = urllib.request.Request(source, headers={"User-Agent": "edoc-node"})
            with urllib.request.urlopen(request, timeout=_FETCH_TIMEOUT) as answer:  # noqa: S310
                return answer.read(_MAX_CRL_BYTES)
        return Path(source).read_bytes()

    def _check(self, crl: x509.CertificateRevocationList) -> None:
        for ca in self.issuers:
            if ca.subject == crl.issuer and crl.is_signature_valid(ca.public_key()):
                return
        raise ValueError(f"not signed by a CA of tls.ca ({crl.issuer.rfc4514_string()})")

    def refresh(self) -> bool:
        """Fetch or re-read every source once; rebuild the contexts if the CRLs in force
        changed. Returns whether they did. Never raises: failures are logged and kept in
        ``errors``, and the last good CRL of the source stays."""
        with self._lock:
            for source in [*self.urls, *map(str, self.files)]:
                try:
                    for crl in _load_crls(self._read(source)):
                        self._check(crl)
                        held = self._held.get(source)
                        if held is None or _crl_number(crl) >= _crl_number(held):
                            self._held[source] = crl
                    if self.errors.pop(source, None):
                        log.warning("Đã lấy lại được CRL từ %s (CRL from %s fetched again)",
                                    source, source)
                except Exception as exc:  # noqa: BLE001 - any failure keeps the last good CRL
                    first = source not in self.errors
                    self.errors[source] = f"{type(exc).__name__}: {exc}"
                    if first and source in self._held:
                        log.warning(
                            "Không lấy được CRL từ %s: %s; giữ CRL đang có tới nextUpdate của nó "
                            "(cannot fetch the CRL from %s: %s; the CRL held is kept until its "
                            "nextUpdate)", source, exc, source, exc)
                    elif first:
                        log.warning("Không lấy được CRL từ %s: %s (cannot fetch the CRL from "
                                    "%s: %s)", source, exc, source, exc)
            self.refreshed += 1
            crls = self.crls()
            self._report(crls)
            key = tuple(sorted(c.public_bytes(serialization.Encoding.DER) for c in crls))
            if key == self._applied:
                return False
            self._build(crls)
            return True

    def _say_once(self, key: str, message: str, *args: object) -> None:
        if key not in self._said:
            self._said.add(key)
            log.warning(message, *args)

    def _report(self, crls: list[x509.CertificateRevocationList]) -> None:
        """Say what the operator must know: no CRL, a CRL past nextUpdate, our own certificate
        expired or revoked (every peer will refuse it)."""
        now = _now()
        if not crls:
            if self.required:
                self._say_once("none", "Chưa có CRL nào của CA cấp chứng chỉ nút (%s): từ chối "
                               "mọi peer cho tới khi lấy được (no CRL of the node CA yet from "
                               "%s: every peer is refused until one is fetched)",
                               self._sources(), self._sources())
            else:
                self._say_once("none", "Chưa có CRL nào của CA cấp chứng chỉ nút (%s): CHƯA "
                               "kiểm tra thu hồi chứng chỉ của peer cho tới khi lấy được (no "
                               "CRL of the node CA yet from %s: peers' certificates are NOT "
                               "checked for revocation until one is fetched)",
                               self._sources(), self._sources())
        for crl in crls:
            if crl.next_update_utc is not None and crl.next_update_utc < now:
                self._say_once(f"stale:{_crl_number(crl)}:{crl.issuer.rfc4514_string()}",
                               "CRL của %s đã quá hạn từ %s và chưa lấy được CRL mới: từ chối "
                               "mọi peer do CA này cấp chứng chỉ; kiểm tra máy chủ CRL (%s) "
                               "(the CRL of %s is past its nextUpdate %s and no fresh one was "
                               "fetched: every peer that CA certified is refused; check the CRL "
                               "server: %s)", crl.issuer.rfc4514_string(),
                               crl.next_update_utc.isoformat(), self._sources(),
                               crl.issuer.rfc4514_string(), crl.next_update_utc.isoformat(),
                               self._sources())
            own = crl.get_revoked_certificate_by_serial_number(self._own.serial_number)
            if own is not None and crl.issuer == self._own.issuer:
                self._say_once("own-revoked", "Chứng chỉ nút của chính nút này (%s) đã bị thu "
                               "hồi: mọi peer sẽ từ chối nó; xin cấp chứng chỉ mới (tls.cert) "
                               "(this node's own certificate %s is revoked: every peer will "
                               "refuse it; get a new one for tls.cert)", self.tls.cert,
                               self.tls.cert)
        if self._own.not_valid_after_utc < now:
            self._say_once("own-expired", "Chứng chỉ nút của chính nút này (%s) đã hết hạn ngày "
                           "%s: mọi peer sẽ từ chối nó; xin cấp lại (tls.cert) (this node's own "
                           "certificate %s expired on %s: every peer will refuse it; renew "
                           "tls.cert)", self.tls.cert, self._own.not_valid_after_utc.date(),
                           self.tls.cert, self._own.not_valid_after_utc.date())

    def _sources(self) -> str:
        return ", ".join([*self.urls, *map(str, self.files)]) or "—"

    def _build(self, crls: list[x509.CertificateRevocationList]) -> None:
        """New server and client contexts with ``crls``; new connections use them from now."""
        server, client = _server_context(self.tls), _client_context(self.tls)
        if crls or self.required:  # no CRL and required: OpenSSL refuses every peer
            for ctx in (server, client):
                ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
        if crls:
            # CPython loads CRLs only from a file (cadata takes certificates alone)
            fd, name = tempfile.mkstemp(prefix="edoc-crl-", suffix=".pem")
            try:
                with os.fdopen(fd, "wb") as out:
                    for crl in crls:
                        out.write(crl.public_bytes(serialization.Encoding.PEM))
                for ctx in (server, client):
                    ctx.load_verify_locations(cafile=name)
            finally:
                os.unlink(name)
        if self._client._alpn:
            client.set_alpn_protocols(self._client._alpn)
        self._server.latest, self._client.latest = server, client
        self._applied = tuple(sorted(c.public_bytes(serialization.Encoding.DER) for c in crls))

    def start(self) -> None:
        """Refresh in a daemon thread every ``crl_refresh_seconds`` (sooner while a source
        fails), for the life of the process. Idempotent."""
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="edoc-crl", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        if not self.refreshed:
            self.refresh()
        while True:
            wait = self.tls.crl_refresh_seconds
            if self.errors or not self._held:
                wait = min(wait, _RETRY_SECONDS)
            soonest = [c.next_update_utc for c in self.crls() if c.next_update_utc]
            if soonest:  # do not sleep past a CRL's nextUpdate
                wait = min(wait, max(1.0, (min(soonest) - _now()).total_seconds() + 1))
            if self._stop.wait(wait):
                return
            self.refresh()


_keepers: dict[str, CrlKeeper] = {}
_keepers_lock = threading.Lock()


def crl_keeper(cfg: NodeConfig) -> CrlKeeper | None:
    """The node's one ``CrlKeeper`` (shared by its server and its outbox's client in one
    process), or None when ``tls.check_revocation`` is off."""
    tls = cfg.tls
    if not tls.check_revocation:
        return None
    required = tls.crl_required if tls.crl_required is not None else not cfg.development
    key = f"{required}:{tls.model_dump_json()}"
    with _keepers_lock:
        keeper = _keepers.get(key)
        if keeper is None:
            keeper = _keepers[key] = CrlKeeper(tls, required=required)
    return keeper


def peer_client_context(cfg: NodeConfig) -> ssl.SSLContext:
    """The outbox's client context: the keeper's (checked against the CRLs, kept fresh) unless
    revocation checking is off."""
    keeper = crl_keeper(cfg)
    if keeper is None:
        return client_context(cfg.tls)
    keeper.start()
    return keeper.client_context()


def _verify_error(exc: BaseException) -> BaseException | None:
    """The ssl error under an httpx/httpcore error, if a TLS failure caused it."""
    seen = 0
    cur: BaseException | None = exc
    while cur is not None and seen < 10:
        if isinstance(cur, ssl.SSLError):
            return cur
        cur = cur.__cause__ or cur.__context__
        seen += 1
    return None


async def _peer_certificate(url: str, tls: TlsFiles) -> bytes | None:
    """The certificate a peer's server presents, read without verifying it (to say what is
    wrong with it: when, which serial, whether it is the pinned one)."""
    parsed = httpx.URL(url)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with contextlib.suppress(ssl.SSLError, OSError):
        ctx.load_cert_chain(str(tls.cert), str(tls.key), password=tls.key_password)
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(
            parsed.host, parsed.port or 443, ssl=ctx), timeout=5.0)
    except (OSError, TimeoutError, ssl.SSLError):
        return None
    try:
        obj = writer.get_extra_info("ssl_object")
        return obj.getpeercert(binary_form=True) if obj is not None else None
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.wait_closed(), timeout=2.0)


def _own_certificate_problem(cfg: NodeConfig) -> tuple[str, str] | None:
    """(vi, en) when this node's own certificate has expired or is on a CRL the node holds.
    asyncio closes a refused handshake without flushing the TLS alert, so a client whose
    certificate the peer refused sees only a disconnect: it finds the reason in itself."""
    tls = cfg.tls
    own = x509.load_pem_x509_certificates(Path(tls.cert).read_bytes())[0]
    if own.not_valid_after_utc < _now():
        ended = own.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC")
        return f"đã hết hạn ngày {ended}", f"expired on {ended}"
    keeper = crl_keeper(cfg)
    for crl in keeper.crls() if keeper else []:
        if crl.issuer == own.issuer and \
                crl.get_revoked_certificate_by_serial_number(own.serial_number) is not None:
            return "đã bị CA thu hồi", "is revoked by its CA"
    return None


async def explain_tls_failure(exc: httpx.HTTPError, peer: Peer, cfg: NodeConfig
                               ) -> TransportError | None:
    """A TransportError saying what was wrong with a certificate and what to do, when a TLS
    verification failure (ours of the peer's certificate, or the peer's of ours) caused ``exc``.
    Retryable: the package stays in the outbox until the certificate is renewed or re-pinned."""
    tls = cfg.tls
    where = f"{peer.name} ({peer.url})"
    err = _verify_error(exc)
    own = None if isinstance(err, ssl.SSLCertVerificationError) else _own_certificate_problem(cfg)
    if own is not None:
        return TransportError(
            f"Peer {where} không nhận kết nối: chứng chỉ nút của chính nút này ({tls.cert}) "
            f"{own[0]}; xin cấp chứng chỉ mới cho tls.cert và gửi fingerprint mới cho các peer",
            f"peer {where} refused the connection: this node's own certificate ({tls.cert}) "
            f"{own[1]}; get a new one for tls.cert and send its fingerprint to the peers")
    if err is None:
        return None
    if isinstance(err, ssl.SSLCertVerificationError):
        code = err.verify_code
        der = await _peer_certificate(peer.url, tls)
        cert = x509.load_der_x509_certificate(der) if der else None
        about = ""
        if cert is not None:
            about = (f"serial {cert.serial_number:x}, "
                     f"{'pinned' if matches(peer, der) else 'NOT the pinned one'}")
        if code == _EXPIRED:
            ended = cert.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC") if cert else "?"
            return TransportError(
                f"Chứng chỉ nút của peer {where} đã hết hạn ngày {ended} ({about}): bên vận "
                f"hành nút {peer.name} phải cấp lại chứng chỉ, rồi cập nhật fingerprint mới "
                "trong [[peers]]; gói tin vẫn trong hàng đợi và sẽ được gửi lại",
                f"peer {where}'s node certificate expired on {ended} ({about}): its operator "
                "must renew it, then update its fingerprint in [[peers]]; the package stays "
                "queued and is retried")
        if code == _REVOKED:
            return TransportError(
                f"Chứng chỉ nút của peer {where} đã bị CA thu hồi ({about}): không gửi gì "
                f"cho nút này; bên vận hành nút {peer.name} phải xin chứng chỉ mới, rồi cập nhật "
                "fingerprint trong [[peers]] (nếu khóa bị lộ, gỡ nút khỏi [[peers]]); gói tin "
                "vẫn trong hàng đợi và sẽ được gửi lại",
                f"peer {where}'s node certificate is revoked by its CA ({about}): nothing is "
                f"sent to it; {peer.name}'s operator must get a new certificate, then update its "
                "fingerprint in [[peers]] (if its key leaked, remove it from [[peers]]); the "
                "package stays queued and is retried")
        vi, en, todo_vi, todo_en = _crl_problem(code, err.verify_message)
        return TransportError(
            f"Không tin được chứng chỉ nút của peer {where}: {vi}; {todo_vi}",
            f"cannot trust peer {where}'s node certificate: {en}; {todo_en}")
    text = str(err).lower()
    for alert, vi, en in (("certificate expired", "đã hết hạn", "has expired"),
                          ("certificate revoked", "đã bị thu hồi", "is revoked")):
        if alert in text:
            return TransportError(
                f"Peer {where} từ chối chứng chỉ nút của nút này: chứng chỉ {vi}; xin cấp "
                f"chứng chỉ mới cho tls.cert ({tls.cert}) và gửi fingerprint mới cho các peer",
                f"peer {where} refused this node's certificate: it {en}; get a new one for "
                f"tls.cert ({tls.cert}) and send its fingerprint to the peers")
    return None
