"""Turning a page's data into HTML: the templates, what every page shows (menu, language,
unread count, CSRF token), the formats people read (dates in Vietnam time, urgency, states,
verdicts), and the HTML answer for a refusal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api.office.auth import COOKIE, csrf_token
from api.office.authz import Action, Role, allowed
from api.office.context import Office
from api.office.errors import ApiError
from api.office.incoming import unread_count
from api.web import i18n
from api.web.charts import format_duration, format_percent
from edoc.document import VIETNAM
from edoc.status import StatusCode

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

#: Content-Security-Policy of every page: nothing from elsewhere; scripts and styles from edoc;
#: the signing agent on the leader's own computer is the one other place a page may call.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'; "
       "connect-src 'self' http://127.0.0.1:* http://localhost:*")

#: the outgoing workflow's recorded steps, as people read them
STEP_LABELS = {"sign_prepared": "Prepared for the USB token", "signed": "signed",
               "numbered": "numbered", "sealed": "sealed", "issued": "issued", "draft": "draft"}
PRIORITIES = ("Normal", "Urgent", "Very urgent", "Express", "Express, timed")
VERDICTS = {"TOTAL_PASSED": ("ok", "Valid signatures"),
            "TOTAL_FAILED": ("bad", "Invalid signature"),
            "INDETERMINATE": ("warn", "Could not be confirmed")}

#: the menu: (path, label, the action that shows it)
MENU = (("/inbox", "Inbox", Action.INBOX_READ), ("/outgoing", "Outgoing", Action.OUTGOING_READ),
        ("/registers", "Registers", Action.REGISTER_READ),
        ("/dashboard", "Dashboard", Action.REPORT_READ), ("/account", "My account", Action.SELF))


def lang_of(request: Request, ctx: Office) -> str:
    return i18n.pick(request.cookies.get(i18n.COOKIE), ctx.settings.lang)


def local_time(value: str | dt.datetime | None, with_time: bool = True) -> str:
    """A moment as people in Vietnam read it: dd/mm/yyyy hh:mm, +07:00."""
    if not value:
        return "—"
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    moment = moment.astimezone(VIETNAM)
    return moment.strftime("%d/%m/%Y %H:%M" if with_time else "%d/%m/%Y")


def local_date(value: str | dt.date | None) -> str:
    if not value:
        return "—"
    day = dt.date.fromisoformat(value) if isinstance(value, str) else value
    return day.strftime("%d/%m/%Y")


def due_class(due: str | None, state: str | None = None, today: dt.date | None = None) -> str:
    """How a due date is coloured: ``overdue`` (past), ``today``, ``soon`` (within 2 days),
    or nothing; a document already handled has no urgency left."""
    if not due or state in ("done", "rejected", "withdrawn"):
        return ""
    today = today or dt.datetime.now(VIETNAM).date()
    days = (dt.date.fromisoformat(due) - today).days
    return "overdue" if days < 0 else "today" if days == 0 else "soon" if days <= 2 else ""


def page(request: Request, ctx: Office, template: str, who: Any, *, status: int = 200,
         title: str = "", **values: Any) -> HTMLResponse:
    """A whole page (or, for an htmx request with ``partial``, only that fragment)."""
    lang = lang_of(request, ctx)
    _ = i18n.translator(lang)
    token = request.cookies.get(COOKIE)
    unread = values.pop("unread", None)  # the inbox has counted already: no second query
    if unread is None and who is not None and allowed(who.roles, Action.INBOX_READ):
        unread = unread_count(ctx, who)
    menu = [(path, _(label), request.url.path.startswith(path))
            for path, label, action in MENU if who is not None and allowed(who.roles, action)]
    context = {"_": _, "lang": lang, "who": who, "csrf": csrf_token(token) if token else "",
               "menu": menu, "unread": unread, "title": title, "here": request.url.path,
               "here_full": str(request.url.path) + (f"?{request.url.query}"
                                                     if request.url.query else ""),
               "local_time": local_time, "local_date": local_date, "due_class": due_class,
               "priorities": PRIORITIES, "verdicts": VERDICTS, "roles": who.roles if who else (),
               "can": (lambda action: who is not None and allowed(who.roles, Action(action))),
               "agent_url": ctx.settings.agent_url,
               "status_meaning": lambda code: status_meaning(code, lang),
               "role_labels": lambda names: role_labels(names, lang),
               "duration": lambda seconds: duration(seconds, lang),
               "percent": lambda share: percent(share, lang), "step_labels": STEP_LABELS,
               **values}
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status,
                                      headers=security_headers())


def duration(seconds: float | None, lang: str) -> str:
    if seconds is None:
        return "—"
    return format_duration(seconds, lang)


def percent(share: float, lang: str) -> str:
    return format_percent(share, lang)


def status_meaning(code: str | None, lang: str) -> str:
    """What a QCVN 102 status code means, in the reader's language ("03" → "Đã tiếp nhận")."""
    try:
        status = StatusCode(code)
    except ValueError:
        return ""
    return status.meaning_vi if lang == "vi" else status.meaning_en


def role_labels(names: list[str] | frozenset[str], lang: str) -> str:
    out = []
    for name in sorted(names):
        try:
            role = Role(name)
        except ValueError:
            continue
        out.append(role.label_vi if lang == "vi" else role.value)
    return ", ".join(out)


def security_headers() -> dict[str, str]:
    return {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin", "Cache-Control": "no-store"}


def act(run: Callable[[], object], *, done: str,
        show: Callable[[ApiError], Response]) -> Response:
    """A form's change, made by the API's own function: on success a 303 to ``done`` (a reload
    does not post again); a refusal shows the page again with what was wrong ("no seal before
    the personal signature"). No session and not-found go to the one error answer instead."""
    try:
        run()
    except ApiError as err:
        if err.status in (401, 404):
            raise
        return show(err)
    return RedirectResponse(done, status_code=303)


def safe_next(value: str | None) -> str:
    """Where to go after logging in: a path of this site only (no open redirect)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def page_error(request: Request, ctx: Office, err: ApiError) -> Response:
    """The HTML answer to a refused page: the login page for no session, else a page that says
    what was wrong and what to do, in the reader's language with the other one beside it."""
    if err.status == 401:
        # after logging in, a GET comes back where it was; a refused POST is not replayed
        target = (request.url.path + (f"?{request.url.query}" if request.url.query else "")
                  if request.method == "GET" else "/")
        return RedirectResponse(f"/login?next={quote(safe_next(target))}", status_code=303,
                                headers=security_headers())
    who = getattr(request.state, "principal", None)
    title = {403: "Not allowed", 404: "Not found"}.get(err.status, "Something went wrong")
    return page(request, ctx, "error.html", who, status=err.status, title=title, error=err)
