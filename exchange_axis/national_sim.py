"""A simulator of the national axis, as a real HTTP server (FastAPI), for tests and demos.

It speaks the operations of ``exchange_axis.national`` with the same JSON replies and checks the
default HMAC scheme, so the adapter is exercised over a real socket. State lives in the process
(a simulator of someone else's system, not one of our stores): packages by DocId, who each is for,
and whether each recipient fetched and acknowledged it.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from edoc.edxml import StatusMessage, parse
from exchange_axis.national import AxisError, verify_hmac


@dataclass
class _Delivery:
    to: str
    received: bool = False
    status: str = "initial"
    received_time: str | None = None


@dataclass
class _Package:
    doc_id: str
    sender: str
    messagetype: str
    content: bytes
    created: str
    deliveries: dict[str, _Delivery] = field(default_factory=dict)


def _ok(data: Any) -> JSONResponse:
    return JSONResponse({"status": "OK", "ErrorCode": "0", "ErrorDesc": "", "data": data})


def _fail(code: str, desc: str, http: int = 200) -> JSONResponse:
    return JSONResponse({"status": "FAIL", "ErrorCode": code, "ErrorDesc": desc, "data": None},
                        status_code=http)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def create_app(secrets: dict[str, str], agencies: list[dict] | None = None) -> FastAPI:
    """``secrets``: systemid → shared secret. ``agencies``: the initial directory."""
    app = FastAPI(title="national axis simulator")
    lock = threading.Lock()
    packages: dict[str, _Package] = {}
    directory: list[dict] = list(agencies or [])
    ids = itertools.count(1)

    async def authenticated(request: Request, operation: str) -> bytes:
        body = await request.body()
        verify_hmac(secrets, operation, body, request.headers)
        return body

    @app.exception_handler(AxisError)
    async def _axis_error(_request: Request, exc: AxisError) -> JSONResponse:
        return _fail(exc.error_code, exc.desc, 401 if exc.error_code == "401" else 200)

    @app.post("/sendEdoc")
    async def send_edoc(request: Request) -> JSONResponse:
        await authenticated(request, "sendEdoc")
        form = await request.form()
        upload = form.get("file_doc")
        if upload is None or isinstance(upload, str):
            return _fail("1", "missing file_doc")
        content = await upload.read()
        try:
            package = parse(content)
        except Exception as exc:  # noqa: BLE001 - any codec error is the sender's fault
            return _fail("2", f"invalid edXML: {exc}")
        sender = request.headers.get("from", "")
        messagetype = request.headers.get("messagetype", "edoc")
        if isinstance(package, StatusMessage):
            origin, targets = package.sender.organ_id, [package.response_for.organ_id]
            messagetype = "status"
        else:
            origin = package.document.sender.organ_id
            targets = [t.organ_id for t in package.document.recipients]
        if origin != sender:
            return _fail("3", "header 'from' does not match the package's From")
        with lock:
            doc_id = str(next(ids))
            packages[doc_id] = _Package(doc_id, sender, messagetype, content, _now(),
                                        {t: _Delivery(t) for t in targets})
        return _ok({"docId": doc_id})

    @app.post("/getReceivedEdocList")
    async def received(request: Request) -> JSONResponse:
        await authenticated(request, "getReceivedEdocList")
        me = request.headers.get("from", "")
        messagetype = request.headers.get("messagetype", "edoc")
        with lock:
            rows = [
                {"docId": p.doc_id, "serviceType": "eDoc", "messageType": p.messagetype,
                 "created_time": p.created, "updated_time": p.created, "from": p.sender,
                 "to": me, "status": d.status, "status_desc": d.status}
                for p in packages.values()
                for d in [p.deliveries.get(me)]
                if d is not None and not d.received and p.messagetype == messagetype
            ]
        return _ok(rows)

    @app.post("/getEdoc")
    async def get_edoc(request: Request) -> JSONResponse:
        await authenticated(request, "getEdoc")
        me = request.headers.get("from", "")
        with lock:
            package = packages.get(request.headers.get("docId", ""))
            if package is None or me not in package.deliveries:
                return _fail("4", "no such document for this agency")
            return _ok({"content": base64.b64encode(package.content).decode("ascii")})

    @app.post("/updateStatus")
    async def update_status(request: Request) -> JSONResponse:
        body = await authenticated(request, "updateStatus")
        status = json.loads(body or b"{}").get("status")
        me = request.headers.get("from", "")
        with lock:
            package = packages.get(request.headers.get("docid", ""))
            if package is None or me not in package.deliveries:
                return _fail("4", "no such document for this agency")
            if status not in ("done", "fail", "processing"):
                return _fail("5", "status must be done, fail or processing")
            d = package.deliveries[me]
            d.status = status
            d.received = status == "done"
            d.received_time = _now() if d.received else None
        return _ok(None)

    @app.post("/getSentEdocList")
    async def sent(request: Request) -> JSONResponse:
        await authenticated(request, "getSentEdocList")
        me = request.headers.get("from", "")
        with lock:
            package = packages.get(request.headers.get("docId", ""))
            if package is None or package.sender != me:
                return _fail("4", "no such document sent by this agency")
            rows = [{"to": d.to, "sendStatus": "sent", "receiveStatus": d.status,
                     "sentTime": package.created, "receivedTime": d.received_time}
                    for d in package.deliveries.values()]
        return _ok(rows)

    @app.post("/getAgenciesList")
    async def agencies_list(request: Request) -> JSONResponse:
        await authenticated(request, "getAgenciesList")
        with lock:
            return _ok(list(directory))

    @app.post("/registerAgency")
    async def register(request: Request) -> JSONResponse:
        body = await authenticated(request, "registerAgency")
        data = json.loads(body or b"{}")
        if not data.get("code") or not data.get("name"):
            return _fail("6", "code and name are required")
        with lock:
            if any(a["code"] == data["code"] for a in directory):
                return _fail("7", "agency already registered")
            parent = next((a for a in directory if a["code"] == data.get("pcode")), None)
            directory.append({"id": str(len(directory) + 1), "pid": parent["id"] if parent else "",
                              "code": data["code"], "code102": data["code"],
                              "name": data["name"], "mail": data.get("mail", "")})
        return _ok(None)

    return app
