"""The e-office FastAPI app: officials', clerks' and leaders' API on a running exchange node.

``create_office_app(node, settings)`` composes the routes (one module per part of the work), the
one error shape, the body limit, metrics and OpenAPI (``/docs``, ``/openapi.json``). The node's
lifetime (outbox worker) belongs to whoever runs the node; this app only uses it.
"""

from __future__ import annotations

import gc
from typing import Any

from fastapi import FastAPI

from api.office import auth as authn
from api.office import errors, metrics
from api.office.context import Office
from api.office.routes import auth, incoming, oidc, operations, outgoing, users
from api.office.settings import OfficeSettings
from api.office.uploads import BodyLimit

DESCRIPTION = """
API văn phòng điện tử của edoc: đăng nhập, văn bản đi (soạn, ký số, cấp số, đóng dấu, ban hành),
văn bản đến (kết quả kiểm tra chữ ký, tiếp nhận, từ chối, giao xử lý), sổ văn bản, báo cáo.

The e-office API of edoc. Log in with `POST /api/v1/auth/login` (cookie + `X-CSRF-Token` on
every change) or get a bearer token with `POST /api/v1/auth/token`. Errors have one shape:
`{"error", "message_vi", "message_en"}`. Every query is scoped to the caller's agency.
"""


def create_office_app(node: Any, settings: OfficeSettings) -> FastAPI:
    app = FastAPI(title=f"edoc e-office ({node.cfg.name})", version="1",
                  description=DESCRIPTION, docs_url="/docs", redoc_url=None)
    ctx = Office(node=node, settings=settings)
    ctx.metrics = metrics.Metrics()
    ctx.principals = authn.PrincipalCache()
    metrics.install(ctx.metrics, ctx)
    app.state.office = ctx
    errors.install(app)
    for module in (auth, oidc, users, outgoing, incoming, operations):
        app.include_router(module.router)
    from api.office.routes import reports  # noqa: PLC0415

    app.include_router(reports.router)
    from api.web.app import install as install_pages  # noqa: PLC0415

    install_pages(app)
    app.add_middleware(BodyLimit, limit=int(settings.max_upload_mb * 1024 * 1024) + 1024 * 1024)
    app.add_middleware(metrics.MetricsMiddleware, metrics=ctx.metrics)
    # What exists now (modules, the node, the routes) lives as long as the process: out of the
    # cycle collector's full passes, which would otherwise stop every request for ~100 ms.
    gc.collect()
    gc.freeze()
    return app
