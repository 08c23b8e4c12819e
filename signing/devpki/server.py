"""``edoc pki serve``: the TSA, the OCSP responder, the CRLs and the CA certificates over HTTP.

Routes (the URLs baked into the certificates and the manifest):

- ``POST /tsa`` — RFC 3161 (``application/timestamp-query`` → ``application/timestamp-reply``)
- ``POST /ocsp`` and ``GET /ocsp/<base64>`` — RFC 6960 (``application/ocsp-response``)
- ``GET /crl/root.crl``, ``GET /crl/subca.crl`` — DER CRLs (``application/pkix-crl``)
- ``GET /ca/root.crt``, ``GET /ca/subca.crt`` — DER certificates for AIA caIssuers
- ``GET /health`` — a JSON line saying what is served (used by fixtures and scripts to wait)

The standard library's threading HTTP server is enough for a development service and keeps
``signing`` free of a web framework. CRLs are re-signed when they get close to nextUpdate, so a
long-running server never hands out a stale CRL.
"""

from __future__ import annotations

import base64
import binascii
import json
import sys
import threading
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from certomancer.crypto_utils import load_private_key
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from signing.devpki.crl import Revocation, build_crl, needs_refresh, next_number
from signing.devpki.errors import DevPkiError
from signing.devpki.issue import Issuer
from signing.devpki.manifest import MANIFEST_NAME, Authority, Manifest
from signing.devpki.ocsp import OcspResponder
from signing.devpki.tsa import TimeStampAuthority

MAX_BODY = 64 * 1024  # TSA and OCSP requests are a few hundred bytes


def _asn1_cert(path: Path) -> asn1_x509.Certificate:
    data = path.read_bytes()
    if asn1_pem.detect(data):
        _, _, data = asn1_pem.unarmor(data)
    return asn1_x509.Certificate.load(data)


class PkiServices:
    """Everything the HTTP handler answers with, loaded once from the manifest."""

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        root, subca = manifest.authority("root"), manifest.authority("subca")
        root_cert, subca_cert = _asn1_cert(root.cert), _asn1_cert(subca.cert)
        tsa, responder = manifest.entity("tsa"), manifest.entity("ocsp")
        self.tsa = TimeStampAuthority(
            _asn1_cert(tsa.cert), load_private_key(tsa.key.read_bytes(), None)[0],
            [subca_cert, root_cert],
        )
        issued = {int(e.serial, 16) for e in manifest.entities}
        self.revoked = {int(e.serial, 16): e.revoked_at for e in manifest.entities
                        if e.revoked_at is not None}
        self.ocsp = OcspResponder(
            _asn1_cert(responder.cert), load_private_key(responder.key.read_bytes(), None)[0],
            subca_cert, issued, self.revoked,
        )
        self.ca_der = {a.id: x509.load_pem_x509_certificate(a.cert.read_bytes())
                       .public_bytes(serialization.Encoding.DER) for a in manifest.authorities}
        self._crl_lock = threading.Lock()
        self._manifest_path = manifest.directory / MANIFEST_NAME
        self._manifest_mtime = self._manifest_path.stat().st_mtime_ns

    def reload_revocations(self) -> None:
        """Pick up entities issued or revoked since start (``signing.devpki.nodes``): a
        revocation must reach the OCSP answers and every later re-signing of the CRL, not only
        the CRL file written when it was made."""
        try:
            mtime = self._manifest_path.stat().st_mtime_ns
        except OSError:
            return
        if mtime == self._manifest_mtime:
            return
        with self._crl_lock:
            manifest = Manifest.load(self.manifest.directory)
            self.manifest = manifest
            self._manifest_mtime = mtime
            # the OCSP responder holds these very objects: update them in place
            self.ocsp.status.issued |= {int(e.serial, 16) for e in manifest.entities}
            self.revoked.update({int(e.serial, 16): e.revoked_at for e in manifest.entities
                                 if e.revoked_at is not None})

    def crl(self, authority_id: str) -> bytes:
        """Current DER CRL of a CA, re-signed (and rewritten on disk) if about to expire."""
        self.reload_revocations()
        authority: Authority = self.manifest.authority(authority_id)
        with self._crl_lock:
            der = authority.crl.read_bytes()
            now = datetime.now(UTC).replace(microsecond=0)
            if needs_refresh(der, now):
                issuer = Issuer(
                    authority.id,
                    x509.load_pem_x509_certificate(authority.cert.read_bytes()),
                    serialization.load_pem_private_key(authority.key.read_bytes(), None),
                )
                revoked = [Revocation(s, t) for s, t in self.revoked.items()] \
                    if authority_id == "subca" else []
                der = build_crl(issuer, revoked, now, next_number(der))
                authority.crl.write_bytes(der)
            return der


def _handler(services: PkiServices, quiet: bool) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "edoc-devpki"

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
            if not quiet or format.startswith("internal error"):
                sys.stderr.write(f"{self.address_string()} {format % args}\n")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, vi: str, en: str) -> None:
            self._send(status, f"{vi} ({en})\n".encode(), "text/plain; charset=utf-8")

        def _body(self) -> bytes | None:
            length = int(self.headers.get("Content-Length") or 0)
            if length <= 0 or length > MAX_BODY:
                self._error(HTTPStatus.BAD_REQUEST, "Thân yêu cầu rỗng hoặc quá lớn",
                            f"request body empty or over {MAX_BODY} bytes")
                return None
            return self.rfile.read(length)

        def do_POST(self) -> None:  # noqa: N802 - stdlib naming
            self._guarded(self._post)

        def do_GET(self) -> None:  # noqa: N802 - stdlib naming
            self._guarded(self._get)

        def _guarded(self, method) -> None:
            """A bug answers 500 with a message instead of a dropped connection."""
            try:
                method()
            except Exception as exc:  # noqa: BLE001 - report every failure to the client
                self.log_error("internal error: %r", exc)
                self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"Lỗi máy chủ: {exc!r}",
                            f"server error: {exc!r}")

        def _post(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/")
            if path == "/tsa":
                body = self._body()
                if body is not None:
                    self._send(200, services.tsa.respond(body), "application/timestamp-reply")
            elif path == "/ocsp":
                services.reload_revocations()
                body = self._body()
                if body is not None:
                    self._send(200, services.ocsp.respond(body), "application/ocsp-response")
            else:
                self._error(HTTPStatus.NOT_FOUND, "Không có dịch vụ này", "no such service")

        def _get(self) -> None:
            path = self.path.split("?", 1)[0]
            parts = [p for p in path.split("/") if p]
            if parts == ["health"]:
                body = {"service": "edoc development PKI", "development": True,
                        "tsa": services.manifest.tsa_url, "ocsp": services.manifest.ocsp_url,
                        "crl": services.manifest.crl_url}
                self._send(200, json.dumps(body).encode(), "application/json")
            elif len(parts) == 2 and parts[0] == "crl" and parts[1].endswith(".crl") \
                    and parts[1][:-4] in services.ca_der:
                self._send(200, services.crl(parts[1][:-4]), "application/pkix-crl")
            elif len(parts) == 2 and parts[0] == "ca" and parts[1].endswith(".crt") \
                    and parts[1][:-4] in services.ca_der:
                self._send(200, services.ca_der[parts[1][:-4]], "application/pkix-cert")
            elif len(parts) >= 2 and parts[0] == "ocsp":
                encoded = urllib.parse.unquote("/".join(parts[1:]))
                try:
                    request = base64.b64decode(encoded, validate=True)
                except (binascii.Error, ValueError):
                    self._error(HTTPStatus.BAD_REQUEST, "Yêu cầu OCSP không phải base64",
                                "OCSP GET request is not base64")
                    return
                services.reload_revocations()
                self._send(200, services.ocsp.respond(request), "application/ocsp-response")
            else:
                self._error(HTTPStatus.NOT_FOUND, "Không có tài nguyên này", "no such resource")

    return Handler


def make_server(directory: Path | str, host: str | None = None, port: int | None = None,
                *, quiet: bool = True) -> ThreadingHTTPServer:
    """A bound, not yet running server for the PKI in ``directory`` (call ``serve_forever``).

    ``host``/``port`` default to those baked into the certificates; serving elsewhere works
    but certificates will point validators to the manifest's address.
    """
    manifest = Manifest.load(directory)
    host = host or manifest.host
    port = manifest.port if port is None else port
    services = PkiServices(manifest)
    try:
        server = ThreadingHTTPServer((host, port), _handler(services, quiet))
    except OSError as exc:
        raise DevPkiError(
            f"Không mở được cổng {host}:{port} ({exc.strerror}); cổng đang bận? "
            "Dừng tiến trình đang dùng nó hoặc tạo lại PKI với cổng khác (edoc pki init --port)",
            f"cannot listen on {host}:{port} ({exc.strerror}); port busy? Stop whatever uses "
            "it or recreate the PKI with another port (edoc pki init --port)",
        ) from None
    server.daemon_threads = True
    return server


def serve(directory: Path | str, host: str | None = None, port: int | None = None,
          *, quiet: bool = False,
          on_ready: Callable[[ThreadingHTTPServer], None] | None = None) -> None:
    """Serve until interrupted (Ctrl-C). ``on_ready`` is called once the port is bound (the CLI
    announces the address there)."""
    server = make_server(directory, host, port, quiet=quiet)
    if on_ready is not None:
        on_ready(server)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
