"""The web page's Vietnamese (api/web/i18n.py): every English source string the templates and the
page modules pass through ``_`` has a Vietnamese line in ``VI``; no line is left untranslated
(identical to its English) unless it is a proper name; and rendering every template, in both
languages, through the page's own ``render.page`` (the menu, the unread badge, the CSRF token,
the macros) never asks ``_`` for a string ``VI`` lacks (``i18n._MISSING`` stays empty).

Fast, no browser, no node: the templates are rendered in this process with sample data shaped
like the API's answers (the browser tests render them on real nodes, in another process).
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.requests import Request

from api.office.settings import OfficeSettings
from api.web import i18n, render
from api.web.pages import dashboard, incoming, outgoing
from storage.accounts import Principal

WEB = Path(render.__file__).parent
TEMPLATES = sorted((WEB / "templates").glob("*.html"))
PY_SOURCES = [*sorted((WEB / "pages").glob("*.py")), WEB / "render.py"]
_CALL = re.compile(r"""_\(\s*["']([^"']+)["']\s*\)""")

#: VI lines that may equal their English: names, not words to translate
PROPER_NAMES: frozenset[str] = frozenset()


# --- the strings the code asks for ----------------------------------------------------------------


def template_strings() -> dict[str, set[str]]:
    """Each ``_("…")`` literal of the templates, with the templates using it."""
    found: dict[str, set[str]] = {}
    for path in TEMPLATES:
        for text in _CALL.findall(path.read_text(encoding="utf-8")):
            found.setdefault(text, set()).add(path.name)
    return found


def _literals(node: ast.AST) -> list[str]:
    """The strings an expression can evaluate to: ``"a"``, ``x or "a"``, ``"a" if c else "b"``,
    ``{403: "a"}.get(code, "b")`` -- not dict keys or subscripts (``doc["subject"]``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.BoolOp):
        return [s for v in node.values for s in _literals(v)]
    if isinstance(node, ast.IfExp):
        return _literals(node.body) + _literals(node.orelse)
    if isinstance(node, ast.Dict):
        return [s for v in node.values if v is not None for s in _literals(v)]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
            and node.func.attr == "get":
        return _literals(node.func.value) + [s for a in node.args[1:] for s in _literals(a)]
    return []


def python_strings() -> dict[str, set[str]]:
    """The English the page modules hand to ``_``: ``_("…")`` calls, and the page titles
    (``title=…`` of ``page(…)``, and ``title = …`` in ``render.page_error``), which
    base.html translates."""
    found: dict[str, set[str]] = {}
    for path in PY_SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            texts: list[str] = []
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id == "_" and node.args:
                texts = _literals(node.args[0])
            elif isinstance(node, ast.Call):
                texts = [s for k in node.keywords if k.arg == "title" for s in _literals(k.value)]
            elif isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "title" for t in node.targets):
                texts = _literals(node.value)
            for text in texts:
                if text:
                    found.setdefault(text, set()).add(path.name)
    return found


def constant_strings() -> dict[str, set[str]]:
    """The strings translated through variables (``_(s)``, ``_(label)``, ``_(flash)``), from the
    modules' own constants."""
    groups = {
        "incoming.STATES": incoming.STATES,
        "outgoing.STATES": outgoing.STATES,
        "render.PRIORITIES": render.PRIORITIES,
        "render.STEP_LABELS": list(render.STEP_LABELS.values()),
        "render.VERDICTS": [label for _cls, label in render.VERDICTS.values()],
        "render.MENU": [label for _path, label, _action in render.MENU],
        "incoming.DONE_MESSAGES": incoming.DONE_MESSAGES.values(),
        "outgoing.DONE_MESSAGES": outgoing.DONE_MESSAGES.values(),
        "dashboard.DONE_PARTS": [label for _key, label, _color in dashboard.DONE_PARTS],
    }
    found: dict[str, set[str]] = {}
    for name, texts in groups.items():
        for text in texts:
            found.setdefault(text, set()).add(name)
    return found


def test_the_parsers_find_what_is_there() -> None:
    """The collectors are not empty-handed (a broken regex would make the next test vacuous)."""
    assert {"Incoming documents", "Reason for rejecting", "Page image"} <= set(template_strings())
    py = python_strings()
    assert {"Incoming documents", "Log in", "Not allowed", "Something went wrong", "Document",
            "Incoming register", "Outgoing register",
            "share digitally signed (sent)"} <= set(py)
    assert "subject" not in py  # doc["subject"] is data, not a word to translate
    assert {"arrived", "issued", "Express", "Inbox", "Marked as done.",
            "open, overdue"} <= set(constant_strings())


@pytest.mark.parametrize("source", ["templates", "pages", "constants"])
def test_every_string_has_vietnamese(source: str) -> None:
    wanted = {"templates": template_strings, "pages": python_strings,
              "constants": constant_strings}[source]()
    missing = {text: sorted(where) for text, where in wanted.items() if text not in i18n.VI}
    assert not missing, "no Vietnamese in api/web/i18n.py VI for:\n" + "\n".join(
        f"  {text!r}  ({', '.join(where)})" for text, where in sorted(missing.items()))


def test_no_line_is_left_in_english() -> None:
    same = sorted(k for k, v in i18n.VI.items() if k == v and k not in PROPER_NAMES)
    assert not same, f"VI lines identical to their English (untranslated): {same}"
    blank = sorted(k for k, v in i18n.VI.items() if not v.strip())
    assert not blank, f"empty VI lines: {blank}"


def test_the_english_translator_is_the_identity_and_records_nothing() -> None:
    i18n._MISSING.clear()
    assert i18n.translator("en")("Not in VI at all") == "Not in VI at all"
    assert i18n.translator("vi")("Inbox") == "Văn bản đến"
    assert not i18n._MISSING
    assert i18n.translator("vi")("Not in VI at all") == "Not in VI at all"
    assert "Not in VI at all" in i18n._MISSING  # the check below would see the gap
    i18n._MISSING.clear()


# --- rendering every template, in both languages ---------------------------------------------

AGENCY = ("000.00.01.H41", "Ủy ban nhân dân phường Trường Vinh")
SENDER = {"code": "000.00.00.H41", "name": "Ủy ban nhân dân tỉnh Nghệ An"}
TODAY = dt.date.today()


def _who(*roles: str) -> Principal:
    return Principal(user_id=7, username="vanthu.c1", full_name="Ngô Thị Giang",
                     position="Văn thư", agency_id=2, agency_code=AGENCY[0],
                     agency_name=AGENCY[1], roles=frozenset(roles), session_id=1,
                     session_kind="cookie", profile={})


def _request(path: str, lang: str) -> Request:
    headers = [(b"cookie", f"edoc_lang={lang}; edoc_session=phien-thu".encode())]
    return Request({"type": "http", "method": "GET", "path": path, "raw_path": path.encode(),
                    "query_string": b"", "headers": headers, "root_path": "",
                    "scheme": "http", "server": ("127.0.0.1", 8080),
                    "client": ("127.0.0.1", 5000)})


def _ctx() -> Any:
    return SimpleNamespace(settings=OfficeSettings(lang="vi"))


def _inbox_item(i: int, state: str, priority: int, verdict: str | None,
                due: dt.date | None, read: bool) -> dict[str, Any]:
    return {"id": i, "state": state, "subject": f"Chỉ thị số {i} về công tác văn thư",
            "code": f"{i}/CT-UBND", "number": i, "notation": "CT-UBND", "type_name": "Chỉ thị",
            "priority": priority, "due_date": due.isoformat() if due else None,
            "sender": SENDER, "arrival_number": i, "arrived_at": "2026-03-02T01:02:03+00:00",
            "verdict": verdict, "assigned_to": None, "read": read}


def _inbox_items() -> list[dict[str, Any]]:
    verdicts = [*render.VERDICTS, None]
    dues = [TODAY - dt.timedelta(days=2), TODAY, TODAY + dt.timedelta(days=1),
            TODAY + dt.timedelta(days=30), None]
    return [_inbox_item(i + 1, state, i % len(render.PRIORITIES), verdicts[i % len(verdicts)],
                        dues[i % len(dues)], read=bool(i % 2))
            for i, state in enumerate(incoming.STATES)]


def _signature(indication: str) -> dict[str, Any]:
    return {"indication": indication,
            "signer": {"name": "Nguyễn Văn An", "agency": SENDER["name"]},
            "summary_vi": "Chữ ký hợp lệ", "summary_en": "The signature is valid",
            "signing_time": "2026-03-02T01:00:00+00:00",
            "timestamp_time": "2026-03-02T01:00:05+00:00", "issuer": "CA phục vụ các cơ quan",
            "changes": [{"allowed": True, "description_vi": "Điền số", "description_en": "Number"}],
            "warnings": ["Cảnh báo mẫu"]}


def _incoming_doc(state: str, verdict: str | None) -> dict[str, Any]:
    doc = _inbox_item(11, state, 3, verdict, TODAY, read=True)
    doc.update(files=[{"id": 1, "name": "chi-thi.pdf", "role": "main", "sha256": "ab" * 32,
                       "size": 1000, "indication": verdict}],
               history=[{"code": "01", "description": None, "at": "2026-03-02T01:02:03+00:00",
                         "staff": {}},
                        {"code": "02", "description": "Sai nơi nhận",
                         "at": "2026-03-02T02:02:03+00:00", "staff": {"name": "Ngô Thị Giang"}}],
               signer={"name": "Nguyễn Văn An", "position": "Chủ tịch"},
               assignee={"id": 9, "full_name": "Vũ Văn Hải"})
    return doc


def _outgoing_doc(state: str, *, tracking: bool = False) -> dict[str, Any]:
    steps = ["draft", "sign_prepared", "signed", "numbered", "sealed", "issued"]
    reached = steps[:steps.index(state) + 1] if state in steps else steps
    doc = {"id": 5, "state": state, "subject": "Kế hoạch của phường", "number": 3,
           "notation": "KH-UBND", "code": "3/KH-UBND", "type_name": "Kế hoạch", "priority": 2,
           "due_date": (TODAY + dt.timedelta(days=1)).isoformat(), "issue_date": None,
           "document_id": None, "signer_name": "Đặng Văn Phúc",
           "created_at": "2026-03-02T01:02:03+00:00", "recipients_count": 1,
           "steps": [{"step": s, "at": "2026-03-02T01:02:03+00:00", "by": "lanhdao.c1",
                      "by_name": "Đặng Văn Phúc"} for s in reached],
           "recipients": [{"code": "000.00.02.H41", "name": "Ủy ban nhân dân xã Diễn Châu"}],
           "file": {"sha256": "cd" * 32},
           "next": {"draft": "the leader signs it", "signed": "the clerk numbers it",
                    "numbered": "the clerk seals it", "sealed": "the clerk issues it"}.get(state)}
    if tracking:
        doc["tracking"] = {"recipients": [
            {"agency_code": "000.00.02.H41", "name": "Xã Diễn Châu", "status": "02",
             "status_at": "2026-03-02T03:00:00+00:00", "reason": "Sai nơi nhận",
             "indication": "TOTAL_PASSED"},
            {"agency_code": "000.00.03.H41", "name": None, "status": "01",
             "status_at": None, "reason": None, "indication": None}]}
    return doc


def _done(early: int = 1) -> dict[str, int]:
    return {"early": early, "on_time": 2, "late": 1, "open_overdue": 1, "open": 3}


def _figures(name: str, code: str) -> dict[str, Any]:
    return {"name": name, "code": code, "sent": 4, "received": 7, "signed_share_sent": 0.75,
            "signed_share_received": 1.0, "sent_done": _done(), "received_done": _done(2),
            "delivery_latency_s": {"p50": 42.0, "p95": 300.0},
            "rejections": [{"document_id": "abc", "recipient": "000.00.02.H41",
                            "reason": "Sai nơi nhận", "at": "2026-03-02T03:00:00+00:00"}],
            "rejected_received": []}


def _report() -> dict[str, Any]:
    days = [{"day": (TODAY - dt.timedelta(days=n)).isoformat(), "received": n % 3,
             "sent": n % 2, "delivery_p50_s": 30.0 + n, "delivery_p95_s": 90.0 + n}
            for n in range(6, -1, -1)]
    total = {**_figures("", ""), "per_day": days}
    return {"total": total, "agencies": [_figures(AGENCY[1], AGENCY[0]),
                                         _figures("Xã Diễn Châu", "000.00.02.H41")]}


def _error() -> Any:
    from api.office.errors import ApiError  # noqa: PLC0415

    return ApiError(400, "reason_required", "Cần nêu lý do từ chối",
                    "give the reason for rejecting")


def _renders(lang: str) -> list[tuple[str, str, Any, dict[str, Any]]]:
    """(template, path, who, values): every template, in the states that show most of it."""
    clerk, leader = _who("clerk"), _who("leader")
    specialist = _who("specialist")
    found = {"total": 60, "page": 2, "items": _inbox_items()}
    out_found = {"total": 60, "page": 2, "items": [
        {**_outgoing_doc(s), "code": None if s == "draft" else "3/KH-UBND"}
        for s in outgoing.STATES]}
    assignees = [{"id": 9, "full_name": "Vũ Văn Hải", "position": "Chuyên viên"}]
    report = _report()
    regs = {"year": TODAY.year, "total": 1, "page": 1}
    done_in, done_out = list(incoming.DONE_MESSAGES.values()), list(outgoing.DONE_MESSAGES)
    renders: list[tuple[str, str, Any, dict[str, Any]]] = [
        ("login.html", "/login", None, {"title": "Log in", "next_path": "/", "login_token": "t",
                                        "error": _error(), "username": "", "oidc": True,
                                        "logged_out": True}),
        ("account.html", "/account", leader, {"title": "My account", "me": {
            "username": "lanhdao.c1", "position": "Chủ tịch", "roles": ["leader"],
            "agency": {"code": AGENCY[0], "name": AGENCY[1]},
            "signing": {"server_key": True, "csc": False}}}),
        ("error.html", "/incoming/999", clerk, {"title": "Not found"}),
        ("error.html", "/outgoing/1/seal", specialist, {"title": "Not allowed"}),
        ("error.html", "/dashboard", leader, {"title": "Something went wrong",
                                              "error": _error()}),
        ("dashboard.html", "/dashboard", leader, {
            "title": "Dashboard", "report": report, "charts": dashboard._charts(report, lang),
            "start": TODAY - dt.timedelta(days=6), "end": TODAY, "rollup": True}),
    ]
    for template in ("inbox.html", "_inbox_table.html"):
        renders.append((template, "/inbox", clerk, {
            "title": "Incoming documents", "found": found, "pages": 3,
            "filters": {"q": "văn thư", "state": "arrived", "mine": "true"},
            "states": incoming.STATES}))
    renders.append(("inbox.html", "/inbox", clerk, {
        "title": "Incoming documents", "found": {"total": 0, "page": 1, "items": []},
        "pages": 1, "filters": {}, "states": incoming.STATES}))
    for template in ("outgoing.html", "_outgoing_table.html"):
        renders.append((template, "/outgoing", clerk, {
            "title": "Outgoing documents", "found": out_found, "pages": 3,
            "states": outgoing.STATES, "filters": {"state": "draft", "q": "kế hoạch"}}))
    renders.append(("outgoing_new.html", "/outgoing/new", specialist, {
        "title": "New draft", "agencies": [{"code": "000.00.02.H41", "name": "Xã Diễn Châu"}],
        "more": False, "q": "", "error": _error(),
        "values": {"priority": 3, "type_name": "Chỉ thị", "recipients": ["000.00.02.H41"],
                   "subject": "Kế hoạch", "notation": "KH-UBND", "due_date": None}}))
    for n, state in enumerate(("arrived", "accepted", "assigned", "processing", "rejected")):
        for who in (clerk, leader, specialist):
            doc = _incoming_doc(state, [*render.VERDICTS, None][n % 4])
            renders.append(("incoming.html", f"/incoming/{n}", who, {
                "title": doc["subject"] or "Document", "doc": doc,  # as the page does
                "reports": {"ab" * 32: {"name": "chi-thi.pdf", "report": {"signatures": [
                    _signature("TOTAL_PASSED"), _signature("TOTAL_FAILED")]}}},
                "pages": 2, "assignees": assignees, "error": _error() if n == 0 else None,
                "flash": done_in[n % len(done_in)], "may_process": True}))
    for n, state in enumerate((*outgoing.STATES, "updated")):
        for who in (clerk, leader):
            doc = _outgoing_doc(state, tracking=state == "issued")
            renders.append(("outgoing_doc.html", f"/outgoing/{n}", who, {
                "title": doc["subject"] or "Document", "doc": doc,  # as the page does
                "pages": 1, "states": outgoing.STATES, "server_key": True,
                "flash": outgoing.DONE_MESSAGES[done_out[n % len(done_out)]],
                "error": _error() if n == 1 else None}))
    for direction, title in (("incoming", "Incoming register"),
                             ("outgoing", "Outgoing register")):
        item = {"seq": 1, "arrived_at": "2026-03-02T01:02:03+00:00", "sender_name": "Tỉnh",
                "sender_code": SENDER["code"], "original_number": "1/CT-UBND",
                "subject": "Chỉ thị", "document": 1, "code": "1/CT-UBND",
                "issued_at": "2026-03-02T01:02:03+00:00"}
        for items, total in (([item], 80), ([], 0)):
            renders.append(("registers.html", "/registers", clerk, {
                "title": title, "direction": direction, "years": [TODAY.year],
                "found": {**regs, "items": items, "total": total},
                "pages": 2 if items else 1}))
    return renders


def test_every_template_is_rendered_below() -> None:
    rendered = {template for template, *_rest in _renders("vi")}
    assert rendered == {p.name for p in TEMPLATES} - {"base.html", "_macros.html"}


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_rendering_every_template_misses_no_string(lang: str, monkeypatch) -> None:
    monkeypatch.setattr(render, "unread_count", lambda ctx, who: 3)  # no database here
    i18n._MISSING.clear()
    for template, path, who, values in _renders(lang):
        response = render.page(_request(path, lang), _ctx(), template, who, **values)
        html = response.body.decode("utf-8")
        assert response.status_code == 200
        assert f'lang="{lang}"' in html or template.startswith("_"), template
        if lang == "vi" and not template.startswith("_"):
            assert "Văn phòng điện tử" in html, template
        if lang == "en":
            assert "Văn phòng điện tử" not in html, template
        if "doc" in values:  # a document's tab is named by its subject, as written
            assert f"<title>{values['doc']['subject']} · " in html, template
    assert not i18n._MISSING, (
        f"rendering the templates in {lang!r} asked for strings without Vietnamese: "
        f"{sorted(i18n._MISSING)}")
