"""The HTTP face of an exchange node: FastAPI app, mutual TLS, and the outbox worker's lifetime.

Peers are authenticated twice: the TLS handshake requires a client certificate chaining to the
node CA, unexpired and not on the CA's CRL (``CERT_REQUIRED`` + ``VERIFY_CRL_CHECK_LEAF``, see
``exchange_axis.tls.CrlKeeper``), and the app maps that certificate's fingerprint to a
declared peer. uvicorn does not hand the client certificate to the app, so ``PeerCertProtocol``
copies it into the per-connection request state (``request.state.peer_cert``).

Routes:
- ``POST /exchange/v1/packages`` — peers deliver edXML packages; the answer is a signed receipt.
- ``GET  /exchange/v1/health`` — who we are.
- ``/admin/v1/...`` — for the node's own operators (client certificate = the node's own): issue a
  signed document, send a clerk's status, tracking, queues, operator retry.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gc
import json
import ssl
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.body_guard import BodyGuard, guarded_body
from api.node_bodies import (
    BadBody,
    IssueBody,
    NumberBody,
    RetryBody,
    StatusBody,
    TakeBackBody,
    read,
)
from edoc.errors import EdocError
from exchange_axis.config import NodeConfig
from exchange_axis.errors import ExchangeError
from exchange_axis.node import Node
from exchange_axis.receiver import MAX_PACKAGE_BYTES
from exchange_axis.tls import crl_keeper, fingerprint, uvicorn_tls_kwargs
from exchange_axis.transport import BUNDLE_PATH, PACKAGE_PATH, TO_HEADER
from storage.db import UNAVAILABLE_MESSAGE, database_unavailable


class PeerCertProtocol(HttpToolsProtocol):
    """HTTP/1.1 protocol that exposes the TLS client certificate (DER) as
    ``request.state.peer_cert``. httptools (llhttp, in C) rather than h11: a hub takes packages
    of megabytes, and h11's pure-Python body handling was a visible share of its CPU."""

    #: a connection that has not begun a request by then is closed (``[transport]``)
    request_start_seconds: float = 30.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        # app_state is copied into every request's scope["state"]; give this connection its own.
        self.app_state = {**self.app_state, "peer_cert": der}
        # uvicorn times out idle keep-alive connections only after a response: a connection
        # that never sends a request would be held forever
        self._idle = self.loop.call_later(self.request_start_seconds, self._close_idle)

    def _close_idle(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    def on_message_begin(self) -> None:
        self._idle.cancel()
        super().on_message_begin()

    def connection_lost(self, exc: Exception | None) -> None:
        self._idle.cancel()
        super().connection_lost(exc)


def _peer_cert(request: Request) -> bytes:
    der = getattr(request.state, "peer_cert", None)
    if not der:
        raise HTTPException(401, "client certificate required / cần chứng thư máy khách")
    return der


def create_app(node: Node) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await node.start()
        # What the started node holds (modules, validator, trust store, routing, pools) lives
        # as long as the process: frozen out of the cycle collector's full passes, which would
        # otherwise walk it again and again while arrivals wait on the GIL
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await node.stop()

    app = FastAPI(title=f"edoc node {node.cfg.name}", lifespan=lifespan)

    @app.exception_handler(ExchangeError)
    async def _bad_request(_request: Request, exc: ExchangeError) -> JSONResponse:
        return JSONResponse({"error": exc.code, "message_vi": exc.message_vi,
                             "message_en": exc.message_en}, status_code=400)

    @app.exception_handler(EdocError)
    async def _refused(_request: Request, exc: EdocError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=422 if isinstance(exc, BadBody) else 400)

    @app.exception_handler(DBAPIError)
    async def _database_down(_request: Request, exc: DBAPIError) -> JSONResponse:
        """The database cannot be reached (restarting, failing over): nothing was recorded, so
        the sender's retry is safe and 503 tells it (and its outbox) to come back later. Any
        other database error stays a 500."""
        if not database_unavailable(exc):
            raise exc
        vi, en = UNAVAILABLE_MESSAGE
        return JSONResponse({"error": "database_unavailable", "message_vi": vi, "message_en": en},
                            status_code=503, headers={"Retry-After": "5"})

    def operator(request: Request) -> None:
        if fingerprint(_peer_cert(request)) != node.own_fingerprint:
            raise HTTPException(403, "operator endpoints need the node's own certificate / "
                                     "chỉ dành cho người vận hành nút")

    @app.post(PACKAGE_PATH)
    async def receive(request: Request) -> Response:
        der = _peer_cert(request)
        body = guarded_body(request.scope)
        if body is None:
            body = await request.body()
        to = [c for c in request.headers.get(TO_HEADER, "").split(",") if c]
        status, answer = await asyncio.to_thread(node.receive, body, der, to)
        return Response(answer, status_code=status, media_type="application/json")

    @app.post(BUNDLE_PATH)
    async def receive_bundle(request: Request) -> dict[str, Any]:
        peer = node.identify(_peer_cert(request))
        try:
            packages = [(base64.b64decode(p["package"]), list(p.get("to", [])))
                        for p in json.loads(await request.body())["packages"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise HTTPException(400, f"bad bundle / gói gộp sai: {exc}") from exc
        results = await asyncio.to_thread(node.receiver.handle_bundle, packages, peer)
        return {"answers": [{"status": status, "body": base64.b64encode(answer).decode("ascii")}
                            for status, answer in results]}

    @app.get("/exchange/v1/health")
    async def health() -> dict[str, Any]:
        return {"node": node.cfg.name, "hosted": len(node.hosted),
                "verifications": node.verifier.count}

    @app.post("/admin/v1/issue")
    async def issue(request: Request) -> dict[str, Any]:
        operator(request)
        body = read(IssueBody, await request.body())
        return await asyncio.to_thread(node.issue_request, body.as_request())

    @app.post("/admin/v1/number")
    async def number(request: Request) -> dict[str, Any]:
        operator(request)
        body = read(NumberBody, await request.body())
        return await asyncio.to_thread(node.allocate_number, **body.model_dump())

    @app.post("/admin/v1/takeback")
    async def takeback(request: Request) -> dict[str, Any]:
        operator(request)
        body = read(TakeBackBody, await request.body())
        return await asyncio.to_thread(node.take_back, **body.model_dump())

    @app.post("/admin/v1/status")
    async def status(request: Request) -> dict[str, Any]:
        operator(request)
        body = read(StatusBody, await request.body())
        return await asyncio.to_thread(node.clerk_status, **body.model_dump())

    @app.get("/admin/v1/tracking")
    async def tracking(request: Request, document_id: str) -> dict[str, Any]:
        operator(request)
        return await asyncio.to_thread(node.tracking_report, document_id)

    @app.get("/admin/v1/packages")
    async def packages(request: Request, document_id: str) -> list[dict[str, Any]]:
        operator(request)
        return await asyncio.to_thread(node.state.packages_of, document_id)

    @app.get("/admin/v1/inbox")
    async def inbox(request: Request) -> list[dict[str, Any]]:
        operator(request)
        return await asyncio.to_thread(node.inbox_report)

    @app.get("/admin/v1/queue")
    async def queue(request: Request) -> dict[str, Any]:
        operator(request)
        return await asyncio.to_thread(node.queue_report)

    @app.post("/admin/v1/retry")
    async def retry(request: Request) -> dict[str, Any]:
        operator(request)
        body = read(RetryBody, await request.body())
        return await asyncio.to_thread(node.retry_failed, body.id)

    return app


def _server_tls(cfg: NodeConfig) -> dict[str, Any]:
    """uvicorn's TLS settings. With revocation checking (the default) the node builds the
    SSLContext itself: the first CRL is fetched before the port opens, and a refreshed one
    applies to the next handshakes without a restart (``exchange_axis.tls.CrlKeeper``)."""
    keeper = crl_keeper(cfg)
    if keeper is None:
        return uvicorn_tls_kwargs(cfg.tls)

    def context(_config: uvicorn.Config, _default: Any) -> ssl.SSLContext:
        # uvicorn calls this as it starts serving, before it binds the port
        keeper.refresh()
        keeper.start()
        return keeper.server_context()

    return {"ssl_context_factory": context}


def serve(cfg: NodeConfig, office: Any = None) -> None:
    """Run a node until SIGINT/SIGTERM (blocking). With ``office`` (the ``[office]`` settings)
    the e-office app for the node's people is served too, in the same process and event loop,
    on its own port: it shares the node's database, store and outbox worker."""
    node = Node(cfg)
    t = cfg.transport
    peer_app = BodyGuard(create_app(node), max_bytes=2 * MAX_PACKAGE_BYTES,
                         grace=t.body_grace_seconds, min_rate=t.min_body_bytes_per_s)
    protocol = type("PeerCertProtocol", (PeerCertProtocol,),
                    {"request_start_seconds": t.request_start_seconds})
    config = uvicorn.Config(
        peer_app, host=cfg.host, port=cfg.port, http=protocol,
        log_level="warning", timeout_keep_alive=30, timeout_graceful_shutdown=1,
        proxy_headers=False,  # peers are who their certificates say, not what headers claim
        **_server_tls(cfg),
    )
    if office is None:
        print(f"edoc node {cfg.name}: listening on https://{cfg.listen}, hosting "
              f"{len(node.hosted)} agencies", flush=True)
        uvicorn.Server(config).run()
        return
    from api.office.app import create_office_app  # noqa: PLC0415

    office_config = uvicorn.Config(
        create_office_app(node, office), host=office.host, port=office.port,
        log_level="warning", timeout_keep_alive=30, timeout_graceful_shutdown=1,
        lifespan="off", proxy_headers=False)
    asyncio.run(_serve_both(uvicorn.Server(config), uvicorn.Server(office_config), cfg, office,
                            len(node.hosted)))


async def _serve_both(peers: uvicorn.Server, office_server: uvicorn.Server, cfg: NodeConfig,
                      office: Any, hosted: int) -> None:
    """Both servers in one loop; when one stops (signal, error) the other is told to stop."""
    print(f"edoc node {cfg.name}: listening on https://{cfg.listen} (peers) and "
          f"{office.base_url} (e-office), hosting {hosted} agencies", flush=True)
    tasks = [asyncio.create_task(peers.serve()), asyncio.create_task(office_server.serve())]
    done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    peers.should_exit = office_server.should_exit = True
    await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        if task.exception() is not None:
            raise task.exception()
