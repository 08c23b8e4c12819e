"""Wiring the web page into the e-office app: its routes, its static files (CSS, scripts, the
vendored htmx, the fonts edoc ships) and the HTML answer to a refused page."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from api.office.errors import ApiError
from api.web.pages import auth, incoming, outgoing, registers
from api.web.render import page_error
from signing import fonts

STATIC = Path(__file__).parent / "static"
#: the fonts served to the page, by the name the stylesheet uses
FONTS = ("sans", "sans-bold")


def install(app: FastAPI) -> None:
    """Add the page's routes and files to ``app`` (after the API's routes)."""
    from api.web.pages import dashboard  # noqa: PLC0415

    for module in (auth, incoming, outgoing, registers, dashboard):
        app.include_router(module.router)

    @app.get("/static/fonts/{name}.ttf", include_in_schema=False)
    def font(name: str) -> Response:
        if name not in FONTS:
            return Response(status_code=404)
        return FileResponse(fonts.path(name), media_type="font/ttf",
                            headers={"Cache-Control": "public, max-age=86400"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def render(request: Request, err: ApiError) -> Response:
        return page_error(request, request.app.state.office, err)

    app.state.page_errors = render
