"""The incoming and outgoing registers (sổ văn bản đến / đi), year by year."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from api.office import incoming as inc
from api.office.authz import Action
from api.office.context import Office, office
from api.web.gate import page_require
from api.web.render import page
from storage.accounts import Principal
from storage.db import models as m

router = APIRouter(include_in_schema=False)

PER_PAGE = 50


@router.get("/registers")
def registers(request: Request, direction: str = Query("incoming",
                                                 pattern="^(incoming|outgoing)$"),
              year: int | None = Query(None, ge=2000, le=2100),
              page_no: int = Query(1, alias="page", ge=1, le=100_000),
              who: Principal = Depends(page_require(Action.REGISTER_READ)),
              ctx: Office = Depends(office)) -> Response:
    this_year = ctx.now().year
    found = inc.register(ctx, who, year or this_year, direction, page_no, PER_PAGE)
    with ctx.session() as s:
        years = sorted({y for (y,) in s.execute(
            select(m.RegisterCounter.year).where(m.RegisterCounter.agency_id == who.agency_id))}
            | {this_year}, reverse=True)
    return page(request, ctx, "registers.html", who,
                title="Incoming register" if direction == "incoming" else "Outgoing register",
                found=found, direction=direction, years=years,
                pages=max(1, -(-found["total"] // PER_PAGE)))
