"""Expired and revoked *node* certificates at the TLS layer (issue 14), with real nodes.

A pinned fingerprint names a peer; it cannot say the node CA has revoked that certificate, or
that it has expired. The node refuses both in the handshake, as a server (a client presenting
one) and as a client (a peer's server presenting one): the outbox then records what was wrong and
what to do, and retries. A certificate revoked while the node runs is refused after the next CRL
refresh, without a restart, while good peers are served throughout.

The module has its own development PKI (a revocation here must not touch the session's), with
three node certificates added by ``signing.devpki.issue_node``: one expired, one revoked before
the nodes start, one revoked by the test while they run. openssl checks the same files
independently.
"""

from __future__ import annotations

import http.server
import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from sqlalchemy import create_engine, func, select

from api.cluster import (
    DISTRICT,
    LEGACY_COMMUNE,
    NAMED_COMMUNES,
    PROVINCE,
    NodeProcess,
    NodeSpec,
    ca_bundle,
    layout,
)
from api.directive import sign_directive
from exchange_axis.config import NodeConfig, TlsFiles, WorkerSettings
from exchange_axis.tls import CrlKeeper, client_context
from signing.devpki import Manifest, create, issue_node, revoke
from signing.devpki.crl import Revocation, build_crl
from signing.devpki.issue import Issuer
from tests.devpki_helpers import openssl
from tests.exchange_helpers import issue, statuses, wait_for
from tests.fixtures.pki import free_port, serve_pki

C1, C2 = NAMED_COMMUNES
#: a refused handshake must not hold the client longer than this
BOUNDED = 5.0


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Manifest]:
    directory = tmp_path_factory.mktemp("nodepki")
    create(directory, port=free_port())
    issue_node(directory, "node-expired", expired=True)
    issue_node(directory, "node-revoked")
    issue_node(directory, "node-late")
    revoke(directory, "node-revoked")
    with serve_pki(Manifest.load(directory)) as running:
        yield running


def _tls(pki: Manifest, entity_id: str, ca: Path) -> TlsFiles:
    e = Manifest.load(pki.directory).entity(entity_id)
    return TlsFiles(cert=e.chain, key=e.key, ca=ca)


def _wait_listening(node: NodeProcess, timeout: float = 60.0) -> NodeProcess:
    """A node whose own certificate is bad cannot be asked for its health with that
    certificate (it refuses it too): wait for the line it prints once the port is open."""
    wait_for(lambda: node.log.exists() and "listening on" in node.log.read_text(errors="replace"),
             timeout, f"{node.cfg.name} listening")
    assert node.alive
    return node


@pytest.fixture(scope="module")
def nodes(pki: Manifest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """province → hub (good), → gone (its server certificate revoked), → old (expired); the
    hub pins province, old, gone and late, and refreshes its CRL every second."""
    tmp = tmp_path_factory.mktemp("revocation")
    specs = [
        NodeSpec("province", "node-province", agencies=[PROVINCE],
                 routes=[("000.0[12].00.H41", "hub"), (DISTRICT[0], "gone"),
                         (LEGACY_COMMUNE[0], "old")], peers=["hub", "gone", "old"]),
        NodeSpec("hub", "node-hub", agencies=[C1, C2], upstream="province",
                 peers=["province", "old", "gone", "late"]),
        NodeSpec("gone", "node-revoked", agencies=[DISTRICT], upstream="province",
                 peers=["province"]),
        NodeSpec("old", "node-expired", agencies=[LEGACY_COMMUNE], upstream="province",
                 peers=["province"]),
        NodeSpec("late", "node-late", agencies=[], upstream="hub", peers=["hub"]),
    ]

    def tune(cfg: NodeConfig) -> None:
        cfg.tls.crl_refresh_seconds = 1.0

    paths = layout(tmp, pki, specs, extra=tune,
                   worker=WorkerSettings(base_delay=0.5, max_delay=2.0, max_attempts=1000,
                                         poll_interval=0.2))
    procs = {name: NodeProcess(paths[name]) for name in ("province", "hub", "gone", "old")}
    try:
        for p in procs.values():
            p.start(wait=False)
        procs["province"].wait_ready()
        procs["hub"].wait_ready()
        _wait_listening(procs["gone"])
        _wait_listening(procs["old"])
        yield {**procs, "late": NodeProcess(paths["late"]).cfg, "dir": tmp}
    finally:
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            p.stop()


def _handshake(node: NodeProcess, tls: TlsFiles) -> tuple[bool, float]:
    """(answered?, seconds): a TLS connection presenting ``tls``'s certificate, one request.
    With TLS 1.3 the server's refusal of a client certificate arrives at the first read."""
    started = time.monotonic()
    ctx = client_context(tls)
    try:
        with socket.create_connection((node.cfg.host, node.cfg.port), timeout=BOUNDED) as raw, \
                ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(b"GET /exchange/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            answered = s.recv(4096).startswith(b"HTTP/1.1 200")
    except (ssl.SSLError, OSError):
        answered = False
    return answered, time.monotonic() - started


def _crl_pem(pki: Manifest, out: Path) -> Path:
    openssl("crl", "-inform", "DER", "-in", pki.authority("subca").crl, "-out", out)
    return out


def _openssl_verdict(pki: Manifest, cert: Path, crl_pem: Path) -> str:
    done = openssl("verify", "-crl_check", "-CRLfile", crl_pem, "-CAfile", pki.root,
                   "-untrusted", pki.intermediates[0], cert, check=False)
    return done.stdout + done.stderr


def _log(node: NodeProcess) -> str:
    return node.log.read_text(errors="replace")


def test_an_expired_client_certificate_is_refused_in_the_handshake(pki, nodes, tmp_path) -> None:
    hub = nodes["hub"]
    ca = hub.cfg.tls.ca
    expired = Manifest.load(pki.directory).entity("node-expired")
    assert expired.not_after < datetime.now(UTC)
    assert "certificate has expired" in _openssl_verdict(pki, expired.cert,
                                                         _crl_pem(pki, tmp_path / "crl.pem"))
    answered, took = _handshake(hub, _tls(pki, "node-expired", ca))
    assert not answered and took < BOUNDED
    wait_for(lambda: "has expired" in _log(hub), 10, "the hub's log line")
    line = next(x for x in _log(hub).splitlines() if "has expired" in x)
    assert "đã hết hạn" in line and "renew" in line, line
    # the same hub still answers a good peer
    assert _handshake(hub, _tls(pki, "node-province", ca))[0]


def test_a_revoked_client_certificate_is_refused_in_the_handshake(pki, nodes, tmp_path) -> None:
    hub = nodes["hub"]
    revoked = Manifest.load(pki.directory).entity("node-revoked")
    crl = _crl_pem(pki, tmp_path / "crl.pem")
    listed = openssl("crl", "-in", crl, "-noout", "-text").stdout
    serial = format(int(revoked.serial, 16), "X")
    assert f"Serial Number: {serial.zfill(len(serial) + len(serial) % 2)}" in listed, listed
    assert "certificate revoked" in _openssl_verdict(pki, revoked.cert, crl)
    assert "OK" in _openssl_verdict(pki, Manifest.load(pki.directory).entity("node-late").cert,
                                    crl)
    answered, took = _handshake(hub, _tls(pki, "node-revoked", hub.cfg.tls.ca))
    assert not answered and took < BOUNDED
    wait_for(lambda: "revoked by its CA" in _log(hub), 10, "the hub's log line")
    line = next(x for x in _log(hub).splitlines() if "revoked by its CA" in x)
    assert "bị CA thu hồi" in line, line


def _inbox_rows(node: NodeProcess) -> int:
    from storage.db import models as m

    engine = create_engine(node.cfg.database_url)
    try:
        with engine.connect() as c:
            return c.execute(select(func.count()).select_from(m.InboxItem)).scalar()
    finally:
        engine.dispose()


def test_peers_with_a_revoked_or_expired_server_certificate_get_nothing_and_are_retried(
        pki, nodes) -> None:
    """The province's outbox refuses gone's revoked and old's expired server certificates: a
    clear error on each row, retried with back-off, nothing delivered to them, nothing lost;
    the hub, a good peer, gets its copy meanwhile."""
    province, gone, old = nodes["province"], nodes["gone"], nodes["old"]
    with province.admin() as admin:
        directive = sign_directive(pki, lambda notation: admin.call(
            "POST", "/admin/v1/number", json={"agency": PROVINCE[0], "notation": notation}
        )["number"])
    document_id = issue(province, directive, [C1, DISTRICT, LEGACY_COMMUNE])
    wait_for(lambda: statuses(province, document_id).get(C1[0]) == "01", 60, "the hub's 01")

    def failures() -> dict[str, dict]:
        with province.admin() as admin:
            rows = admin.call("GET", "/admin/v1/queue")["failures"]
        return {r["next_hop"]: r for r in rows if r["attempts"] >= 3}

    rows = wait_for(lambda: (f := failures()) and {"gone", "old"} <= set(f) and f, 60,
                    "three refused attempts to gone and to old")
    revoked, expired = rows["gone"]["error"], rows["old"]["error"]
    assert "revoked by its CA" in revoked and "đã bị CA thu hồi" in revoked, revoked
    assert "serial" in revoked and "pinned" in revoked and "[[peers]]" in revoked, revoked
    assert "expired on" in expired and "đã hết hạn" in expired and "renew" in expired, expired
    assert {rows[h]["state"] for h in ("gone", "old")} != {"failed"}  # still to be retried
    assert _inbox_rows(gone) == 0 and _inbox_rows(old) == 0
    assert statuses(province, document_id).get(DISTRICT[0]) != "01"
    # gone and old, whose own certificates are bad, said so when they started
    assert "this node's own certificate" in _log(gone) and "is revoked" in _log(gone)
    assert "this node's own certificate" in _log(old) and "expired on" in _log(old)


def test_a_certificate_revoked_while_the_node_runs_is_refused_after_the_crl_refresh(
        pki, nodes) -> None:
    hub, province = nodes["hub"], nodes["province"]
    late = _tls(pki, "node-late", hub.cfg.tls.ca)
    pid = hub.proc.pid
    assert _handshake(hub, late)[0], "node-late is good before it is revoked"
    revoke(pki.directory, "node-late")
    revoked_at = time.monotonic()
    wait_for(lambda: not _handshake(hub, late)[0], 30, "node-late refused after the refresh")
    took = time.monotonic() - revoked_at
    assert hub.alive and hub.proc.pid == pid  # no restart
    assert took < 15, took  # refresh every second, plus the fetch
    # a good peer is served meanwhile, and its delivery completes
    assert _handshake(hub, _tls(pki, "node-province", hub.cfg.tls.ca))[0]
    with province.admin() as admin:
        directive = sign_directive(pki, lambda notation: admin.call(
            "POST", "/admin/v1/number", json={"agency": PROVINCE[0], "notation": notation}
        )["number"])
    document_id = issue(province, directive, [C2])
    wait_for(lambda: statuses(province, document_id).get(C2[0]) == "01", 60, "the hub's 01")


def test_a_node_whose_own_certificate_expired_is_told_so_by_the_peer(pki, nodes) -> None:
    """The outbox of a node presenting an expired certificate: the hub refuses it in the
    handshake (asyncio drops the TLS alert: the client sees a disconnect), and the error says it
    is *this* node's certificate that must be renewed."""
    import asyncio

    from exchange_axis.config import Peer
    from exchange_axis.errors import TransportError
    from exchange_axis.transport import PeerClient, cert_fingerprint_file

    hub = nodes["hub"]
    cfg = NodeConfig(name="old", database_url="sqlite://", store_url="unused",
                     tls=_tls(pki, "node-expired", hub.cfg.tls.ca))
    peer = Peer(name="hub", url=f"https://{hub.cfg.listen}",
                fingerprint=cert_fingerprint_file(hub.cfg.tls.cert))

    async def post() -> TransportError:
        client = PeerClient(cfg)
        try:
            with pytest.raises(TransportError) as refused:
                await client.post(peer, "/exchange/v1/packages", b"<edXML/>")
            return refused.value
        finally:
            await client.aclose()

    err = asyncio.run(post())
    assert "this node's own certificate" in err.message_en, err
    assert "expired on" in err.message_en and "get a new one for tls.cert" in err.message_en
    assert "chứng chỉ nút của chính nút này" in err.message_vi and err.retryable


# -- the CRL policy, in process: sources, last good, nextUpdate, before the first CRL ---------

def _server(ctx: ssl.SSLContext) -> tuple[socket.socket, threading.Thread]:
    """A TLS server on a free port answering b"ok" to each connection it accepts."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"ok")
            except (ssl.SSLError, OSError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, thread


def _accepted(listener: socket.socket, tls: TlsFiles) -> bool:
    port = listener.getsockname()[1]
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=BOUNDED) as raw, \
                client_context(tls).wrap_socket(raw, server_hostname="127.0.0.1") as s:
            return s.recv(2) == b"ok"
    except (ssl.SSLError, OSError):
        return False


@pytest.fixture
def keeper_setup(pki: Manifest, tmp_path: Path):
    ca = ca_bundle(pki, tmp_path)
    return ca, {name: _tls(pki, name, ca) for name in ("node-hub", "node-province",
                                                          "node-revoked")}


class _CrlHttp:
    """A CRL server the test can take down: the last good CRL must outlive it."""

    def __init__(self, body: bytes) -> None:
        body_ = body

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Length", str(len(body_)))
                self.end_headers()
                self.wfile.write(body_)

            def log_message(self, *_args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/subca.crl"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_last_good_crl_is_kept_while_its_server_is_down(pki, keeper_setup, caplog) -> None:
    _ca, tls = keeper_setup
    source = _CrlHttp(pki.authority("subca").crl.read_bytes())
    keeper = CrlKeeper(tls["node-hub"].model_copy(update={"crl_urls": [source.url]}),
                       required=True)
    assert keeper.refresh() and not keeper.errors
    listener, _ = _server(keeper.server_context())
    try:
        assert _accepted(listener, tls["node-province"])
        assert not _accepted(listener, tls["node-revoked"])
        source.stop()
        with caplog.at_level(logging.WARNING, logger="edoc.node.tls"):
            assert keeper.refresh() is False  # nothing changed: the last good CRL stays
        assert source.url in keeper.errors and len(keeper.crls()) == 1
        assert "the CRL held is kept" in caplog.text and "giữ CRL đang có" in caplog.text
        assert _accepted(listener, tls["node-province"])
        assert not _accepted(listener, tls["node-revoked"])
    finally:
        listener.close()


def test_a_crl_past_its_next_update_refuses_every_peer(pki, keeper_setup, tmp_path,
                                                        caplog) -> None:
    """Fail closed: the only CRL held is stale and no fresh one comes."""
    from cryptography.hazmat.primitives import serialization

    _ca, tls = keeper_setup
    authority = pki.authority("subca")
    issuer = Issuer("subca", x509.load_pem_x509_certificate(authority.cert.read_bytes()),
                    serialization.load_pem_private_key(authority.key.read_bytes(), None))
    stale = tmp_path / "stale.crl"
    stale.write_bytes(build_crl(issuer, [Revocation(1, datetime.now(UTC))],
                                datetime.now(UTC) - timedelta(days=10), number=1))
    keeper = CrlKeeper(tls["node-hub"].model_copy(update={"crl_files": [stale],
                                                          "crl_urls": ["http://127.0.0.1:9/x"]}),
                       required=False)
    with caplog.at_level(logging.WARNING, logger="edoc.node.tls"):
        keeper.refresh()
    assert "past its nextUpdate" in caplog.text and "đã quá hạn" in caplog.text
    listener, _ = _server(keeper.server_context())
    try:
        assert not _accepted(listener, tls["node-province"])
        # a fresh CRL arrives in the same file: the next handshakes are accepted again
        stale.write_bytes(authority.crl.read_bytes())
        assert keeper.refresh() is True
        assert _accepted(listener, tls["node-province"])
    finally:
        listener.close()


@pytest.mark.parametrize("required", [True, False])
def test_before_any_crl_peers_are_refused_only_when_a_crl_is_required(
        keeper_setup, required: bool, caplog) -> None:
    _ca, tls = keeper_setup
    keeper = CrlKeeper(tls["node-hub"].model_copy(update={"crl_urls": ["http://127.0.0.1:9/x"]}),
                       required=required)
    with caplog.at_level(logging.WARNING, logger="edoc.node.tls"):
        keeper.refresh()
    assert not keeper.crls()
    listener, _ = _server(keeper.server_context())
    try:
        assert _accepted(listener, tls["node-province"]) is not required
    finally:
        listener.close()
    assert ("every peer is refused" if required else "NOT checked") in caplog.text


def test_a_crl_from_outside_the_node_ca_is_not_taken(pki, keeper_setup, tmp_path) -> None:
    """A CRL the node CA did not sign (here, a foreign PKI's) is refused as a source; it could
    otherwise hide a revocation."""
    _ca, tls = keeper_setup
    foreign = create(tmp_path / "foreign", port=1)
    keeper = CrlKeeper(tls["node-hub"].model_copy(update={
        "crl_files": [foreign.authority("subca").crl], "crl_urls": ["http://127.0.0.1:9/x"]}),
        required=True)
    keeper.refresh()
    assert not keeper.crls()
    assert "not signed by a CA of tls.ca" in keeper.errors[str(foreign.authority("subca").crl)]


def test_the_dev_pki_server_publishes_a_revocation_made_after_it_started(pki) -> None:
    """``signing.devpki.revoke`` on a running ``pki serve``: the served CRL and OCSP agree."""
    entity = issue_node(pki.directory, "node-ocsp-check")
    serial = int(entity.serial, 16)
    crl_before = x509.load_der_x509_crl(httpx.get(pki.crl_url, timeout=10).content)
    assert crl_before.get_revoked_certificate_by_serial_number(serial) is None
    revoke(pki.directory, "node-ocsp-check")
    crl_after = x509.load_der_x509_crl(httpx.get(pki.crl_url, timeout=10).content)
    assert crl_after.get_revoked_certificate_by_serial_number(serial) is not None
    manifest = Manifest.load(pki.directory)
    done = openssl("ocsp", "-issuer", manifest.intermediates[0], "-cert",
                   manifest.entity("node-ocsp-check").cert, "-url", manifest.ocsp_url,
                   "-CAfile", manifest.root)
    assert ": revoked" in done.stdout, done.stdout
