"""Adapter for the national document exchange axis (Trục liên thông văn bản quốc gia).

The axis API is HTTP POST of JSON or multipart to ``<endpoint>/<operation>`` answering
``{status, ErrorCode, ErrorDesc, data}`` with ``ErrorCode == "0"`` for success. Requests are
authenticated with a system id, a timestamp and an HMAC-SHA256 carried in ``XroadVnpt-`` headers.
The vendor never published the exact MAC input, so the scheme is pluggable (``RequestSigner``);
``HmacSha256Signer`` is the default and is what our simulator (``exchange_axis.national_sim``)
checks.

Business statuses 01–16 travel as edXML status packages through ``send_edoc(messagetype="status")``;
``update_status`` only acknowledges that a fetched package was stored ("done") or not ("fail").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from exchange_axis.errors import ExchangeError

HEADER_SYSTEM = "XroadVnpt-SystemId"
HEADER_TIME = "XroadVnpt-Timestamp"
HEADER_SIGNED = "XroadVnpt-SignedHeaders"
HEADER_MAC = "XroadVnpt-Signature"


class AxisError(ExchangeError):
    """The axis answered with a non-zero ErrorCode, or not at all."""

    def __init__(self, operation: str, code: str, desc: str) -> None:
        super().__init__(
            f"Trục liên thông từ chối {operation}: mã {code} — {desc}",
            f"national axis refused {operation}: code {code} — {desc}",
            code="axis",
        )
        self.operation = operation
        self.error_code = code
        self.desc = desc


class RequestSigner(Protocol):
    """Adds authentication headers to a request; ``verify`` is the server's side of it."""

    def headers(self, operation: str, body: bytes, extra: dict[str, str]) -> dict[str, str]: ...


def mac_input(system_id: str, timestamp: str, operation: str, body: bytes,
              signed: dict[str, str]) -> bytes:
    """What the default scheme MACs: the system id, time, operation, body hash and each signed
    header as ``name:value`` (names lowercase, sorted), one per line."""
    lines = [system_id, timestamp, operation, hashlib.sha256(body).hexdigest()]
    lines += [f"{k.lower()}:{signed[k]}" for k in sorted(signed, key=str.lower)]
    return "\n".join(lines).encode("utf-8")


@dataclass
class HmacSha256Signer:
    """Default scheme: HMAC-SHA256 with the system's secret, base64 in XroadVnpt-Signature."""

    system_id: str
    secret: str

    def headers(self, operation: str, body: bytes, extra: dict[str, str]) -> dict[str, str]:
        ts = str(int(time.time()))
        mac = hmac.new(self.secret.encode(), mac_input(self.system_id, ts, operation, body, extra),
                       hashlib.sha256).digest()
        return {
            HEADER_SYSTEM: self.system_id,
            HEADER_TIME: ts,
            HEADER_SIGNED: ";".join(sorted(k.lower() for k in extra)),
            HEADER_MAC: base64.b64encode(mac).decode("ascii"),
        }


def verify_hmac(secrets: dict[str, str], operation: str, body: bytes, headers: Any, *,
                max_skew: int = 300, now: float | None = None) -> str:
    """Server side of the default scheme; returns the system id or raises AxisError."""
    system_id = headers.get(HEADER_SYSTEM, "")
    ts = headers.get(HEADER_TIME, "")
    given = headers.get(HEADER_MAC, "")
    names = [n for n in headers.get(HEADER_SIGNED, "").split(";") if n]
    if system_id not in secrets:
        raise AxisError(operation, "401", "unknown systemid")
    try:
        skew = abs((now or time.time()) - int(ts))
    except ValueError:
        raise AxisError(operation, "401", "bad timestamp") from None
    if skew > max_skew:
        raise AxisError(operation, "401", "stale timestamp")
    signed = {n: headers.get(n, "") for n in names}
    want = hmac.new(secrets[system_id].encode(), mac_input(system_id, ts, operation, body, signed),
                    hashlib.sha256).digest()
    try:
        ok = hmac.compare_digest(base64.b64decode(given), want)
    except ValueError:
        ok = False
    if not ok:
        raise AxisError(operation, "401", "bad signature")
    return system_id


class NationalAxisClient:
    """Synchronous client of the axis operations, one method per operation."""

    def __init__(self, endpoint: str, signer: RequestSigner, *, organ_id: str,
                 client: httpx.Client | None = None, timeout: float = 30.0) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.signer = signer
        self.organ_id = organ_id
        self._http = client or httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def _call(self, operation: str, *, json_body: Any = None, headers: dict | None = None,
              files: dict | None = None) -> Any:
        extra = {"from": self.organ_id, **(headers or {})}
        if files is not None:
            request = self._http.build_request("POST", f"{self.endpoint}/{operation}",
                                               files=files, headers=extra)
            body = request.read()
        else:
            body = httpx.Request("POST", "http://x", json=json_body or {}).read()
            request = self._http.build_request(
                "POST", f"{self.endpoint}/{operation}", content=body,
                headers={"content-type": "application/json", **extra})
        request.headers.update(self.signer.headers(operation, body, extra))
        try:
            response = self._http.send(request)
        except httpx.HTTPError as exc:
            raise AxisError(operation, "transport", repr(exc)) from exc
        try:
            reply = response.json()
        except ValueError:
            raise AxisError(operation, str(response.status_code), response.text[:200]) from None
        if str(reply.get("ErrorCode")) != "0":
            raise AxisError(operation, str(reply.get("ErrorCode")), str(reply.get("ErrorDesc")))
        return reply.get("data")

    def send_edoc(self, package: bytes, *, messagetype: str = "edoc") -> str:
        """Send an edXML package (document or status); returns the axis DocId."""
        data = self._call("sendEdoc", headers={"servicetype": "eDoc", "messagetype": messagetype},
                          files={"file_doc": ("package.edxml", package, "application/xml")})
        return str(data["docId"])

    def get_received_edoc_list(self, *, messagetype: str = "edoc") -> list[dict]:
        return self._call("getReceivedEdocList",
                          headers={"servicetype": "eDoc", "messagetype": messagetype})

    def get_edoc(self, doc_id: str) -> bytes:
        data = self._call("getEdoc", headers={"docId": doc_id})
        return base64.b64decode(data["content"])

    def update_status(self, doc_id: str, status: str) -> None:
        if status not in ("done", "fail", "processing"):
            raise ValueError("status must be done, fail or processing")
        self._call("updateStatus", headers={"docid": doc_id}, json_body={"status": status})

    def get_sent_edoc_list(self, doc_id: str) -> list[dict]:
        return self._call("getSentEdocList", headers={"docId": doc_id})

    def get_agencies_list(self) -> list[dict]:
        return self._call("getAgenciesList", json_body={})

    def register_agency(self, *, code: str, pcode: str, name: str, mail: str = "",
                        mobile: str = "", fax: str = "") -> None:
        self._call("registerAgency", json_body={"code": code, "pcode": pcode, "name": name,
                                                "mail": mail, "mobile": mobile, "fax": fax})
