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
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from edoc.errors import EdocError
from exchange_axis.errors import ExchangeError
from signing.errors import SigningError

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


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(_r: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(body(exc.code, exc.message_vi, exc.message_en, exc.details),
                            status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_r: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [{"where": ".".join(str(p) for p in e.get("loc", ())),
                     "problem": e.get("msg", "")} for e in exc.errors()]
        where = ", ".join(p["where"] for p in problems[:5])
        return JSONResponse(body("invalid_request", f"Dữ liệu gửi lên không hợp lệ: {where}",
                                 f"invalid request: {where}", {"problems": problems}),
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_r: Request, exc: StarletteHTTPException) -> JSONResponse:
        vi, en = _HTTP_MESSAGES.get(exc.status_code, (str(exc.detail), str(exc.detail)))
        return JSONResponse(body(f"http_{exc.status_code}", vi, en), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(EdocError)
    async def _domain(_r: Request, exc: EdocError) -> JSONResponse:
        name = type(exc).__name__
        return JSONResponse(body(name, exc.message_vi, exc.message_en),
                            status_code=_STATUS_BY_CODE.get(name, 400))

    @app.exception_handler(SigningError)
    async def _signing(_r: Request, exc: SigningError) -> JSONResponse:
        return JSONResponse(body(exc.code, exc.message_vi, exc.message_en), status_code=400)

    @app.exception_handler(ExchangeError)
    async def _exchange(_r: Request, exc: ExchangeError) -> JSONResponse:
        return JSONResponse(body(exc.code, exc.message_vi, exc.message_en), status_code=400)

    @app.exception_handler(Exception)
    async def _unforeseen(_r: Request, exc: Exception) -> JSONResponse:
        log.exception("unforeseen error in the e-office API")
        return JSONResponse(body("internal", "Lỗi hệ thống; thao tác chưa được thực hiện, hãy "
                                 "thử lại hoặc báo người quản trị",
                                 "internal error; nothing was done: try again or tell the "
                                 "operator"), status_code=500)
