"""One error shape for every answer that is not a success::

    {"error": "code", "message_vi": "…", "message_en": "…", "details": {...}?}

Every foreseen refusal of the layers below (domain, storage, signing, exchange) keeps its
bilingual message; validation errors of FastAPI are rewritten into the same shape; an unforeseen
exception is logged and answered 500 without its internals.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from edoc.errors import EdocError
from exchange_axis.errors import ExchangeError
from signing.errors import SigningError
from storage.db import UNAVAILABLE_MESSAGE, database_unavailable

log = logging.getLogger("edoc.office")


class ApiError(Exception):
    """A refusal of the e-office API: HTTP status, a stable code, the two messages."""

    def __init__(self, status: int, code: str, message_vi: str, message_en: str, *,
                 details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{message_vi} ({message_en})")
        self.status, self.code = status, code
        self.message_vi, self.message_en = message_vi, message_en
        self.details, self.headers = details, headers


def body(code: str, vi: str, en: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"error": code, "message_vi": vi, "message_en": en}
    if details:
        out["details"] = details
    return out


#: The largest id a row can have (SQL BIGINT). An id beyond it, in a path or a body, is refused by
#: validation (422) before it reaches the database (SQLite cannot even bind it: that was a 500).
MAX_ID = 2**63 - 1
#: A path parameter naming a row (document, user): a positive BIGINT.
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]


def not_found(what_vi: str, what_en: str) -> ApiError:
    return ApiError(404, "not_found", f"Không tìm thấy {what_vi}", f"{what_en} not found")


def forbidden(action: str) -> ApiError:
    return ApiError(403, "forbidden",
                    f"Vai trò của bạn không được phép thực hiện thao tác này ({action})",
                    f"your roles do not allow this action ({action})")


_HTTP_MESSAGES = {
    404: ("Không có đường dẫn này", "no such path"),
    405: ("Phương thức không được hỗ trợ ở đường dẫn này", "method not allowed on this path"),
    413: ("Dữ liệu gửi lên quá lớn", "request body too large"),
}

#: HTTP status for the foreseen refusals of the layers below, by exception class name.
_STATUS_BY_CODE = {"AccountError": 400, "StatusError": 409, "RegisterError": 409}


def describe(exc: Exception) -> ApiError:
    """Any refusal as an ``ApiError`` (status, code, both messages): the one mapping that the
    JSON handlers below and the web pages (``api.web``) both answer with."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, RequestValidationError):
        problems = [{"where": ".".join(str(p) for p in e.get("loc", ())),
                     "problem": e.get("msg", "")} for e in exc.errors()]
        where = ", ".join(p["where"] for p in problems[:5])
        return ApiError(422, "invalid_request", f"Dữ liệu gửi lên không hợp lệ: {where}",
                        f"invalid request: {where}", details={"problems": problems})
    if isinstance(exc, StarletteHTTPException):
        vi, en = _HTTP_MESSAGES.get(exc.status_code, (str(exc.detail), str(exc.detail)))
        return ApiError(exc.status_code, f"http_{exc.status_code}", vi, en,
                        headers=getattr(exc, "headers", None))
    if isinstance(exc, EdocError):
        name = type(exc).__name__
        return ApiError(_STATUS_BY_CODE.get(name, 400), name, exc.message_vi, exc.message_en)
    if isinstance(exc, SigningError | ExchangeError):
        return ApiError(400, exc.code, exc.message_vi, exc.message_en)
    if database_unavailable(exc):  # restarting, failing over: the same request may work soon
        return ApiError(503, "database_unavailable", *UNAVAILABLE_MESSAGE,
                        headers={"Retry-After": "5"})
    log.error("unforeseen error in the e-office app", exc_info=exc)
    return ApiError(500, "internal", "Lỗi hệ thống; thao tác chưa được thực hiện, hãy thử lại "
                    "hoặc báo người quản trị",
                    "internal error; nothing was done: try again or tell the operator")


#: the paths of the JSON API: their refusals are JSON; any other path is a page of the web app
API_PATHS = ("/api/", "/metrics", "/openapi.json", "/docs")


def install(app: FastAPI) -> None:
    async def _answer(request: Request, exc: Exception) -> Response:
        err = describe(exc)
        pages = getattr(request.app.state, "page_errors", None)
        if pages is not None and not request.url.path.startswith(API_PATHS):
            return pages(request, err)  # a page of the web app: an HTML answer
        return JSONResponse(body(err.code, err.message_vi, err.message_en, err.details),
                            status_code=err.status, headers=err.headers)

    for kind in (ApiError, RequestValidationError, StarletteHTTPException, EdocError,
                 SigningError, ExchangeError, Exception):
        app.add_exception_handler(kind, _answer)
