"""The node's queues and retries for operators, and Prometheus metrics (``/metrics``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from api.office.auth import require
from api.office.authz import Action
from api.office.context import Office, office
from api.office.errors import MAX_ID
from storage.accounts import Principal

router = APIRouter(tags=["operations"])


class Retry(BaseModel):
    id: int | None = Field(default=None, ge=1, le=MAX_ID,
                           description="one failed transfer; none: all")


@router.get("/api/v1/queue", summary="Hàng đợi gửi của nút (the node's outbox)")
def queue(who: Principal = Depends(require(Action.QUEUE_MANAGE)),
          ctx: Office = Depends(office)) -> dict[str, Any]:
    return ctx.node.queue_report()


@router.post("/api/v1/queue/retry", summary="Gửi lại các gói lỗi (retry failed transfers)")
def retry(body: Retry, who: Principal = Depends(require(Action.QUEUE_MANAGE)),
          ctx: Office = Depends(office)) -> dict[str, Any]:
    result = ctx.node.retry_failed(body.id)
    with ctx.transaction() as s:
        ctx.audit(s, who, "retry", f"outbox:{body.id or 'all'}", result)
    return result


@router.get("/metrics", summary="Prometheus metrics (operators' bearer token)",
            response_class=Response)
def metrics(who: Principal = Depends(require(Action.METRICS_READ)),
            ctx: Office = Depends(office)) -> Response:
    from api.office.metrics import render  # noqa: PLC0415

    body, content_type = render(ctx)
    return Response(body, media_type=content_type)
