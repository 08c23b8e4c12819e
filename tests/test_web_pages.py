"""The web page's pages in a real Chromium, on one world of real nodes: the province issues a few
directives to commune C1 (one express with its due date past, one due today, others later), and
C1's clerk, specialist and leader use the page.

Each test proves one thing a clerk relies on: working with the keyboard alone (log in, search,
open, reject through the dialog, accept); a rejection without a reason stopped by the browser and
refused by the server; no critical accessibility violation; nothing loaded from the internet;
Vietnamese drawn as glyphs (OCR) and English on request; unread marks per person; urgency and due
colours; the phone layout. Screenshots land in ``test-artifacts/screenshots/web-*.png``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from edoc.document import VIETNAM
from tests import browser as tb
from tests.exchange_helpers import wait_for
from tests.office_helpers import C1, C2, OfficeNodes, issue_over_api, office_nodes
from tests.web_helpers import log_in

TODAY = dt.datetime.now(VIETNAM).date()
#: name → (subject, priority, due date); each test works on its own documents
DIRECTIVES = {
    "reject": ("Chỉ thị về phòng chống lụt bão mùa mưa năm nay", 0, TODAY + dt.timedelta(days=9)),
    "accept": ("Chỉ thị về tiêm chủng mở rộng cho trẻ em", 0, TODAY + dt.timedelta(days=12)),
    "urgent": ("Công điện về phòng cháy chữa cháy rừng", 3, TODAY - dt.timedelta(days=2)),
    "today": ("Chỉ thị về an toàn giao thông dịp lễ", 0, TODAY),
    "unread": ("Chỉ thị về chuyển đổi số trong cơ quan", 1, TODAY + dt.timedelta(days=2)),
    "required": ("Chỉ thị về vệ sinh môi trường khu dân cư", 0, None),
}
REASON = "Văn bản gửi nhầm nơi nhận, đề nghị gửi lại cho xã Diễn Châu"
NO_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth + 1"


@dataclass
class World:
    nodes: OfficeNodes
    hub: str
    province: str
    incoming: dict[str, int]  # name → id of C1's copy
    outgoing: dict[str, int]  # name → id of the province's document
    draft: int  # a draft of C1 (outgoing), for the outgoing pages
    leader: Any  # the province leader (API), to read the tracking

    def doc_url(self, name: str) -> str:
        return f"{self.hub}/incoming/{self.incoming[name]}"


@pytest.fixture(scope="module")
def world(pki_server, tmp_path_factory) -> Iterator[World]:
    with office_nodes(tmp_path_factory.mktemp("web-pages"), pki_server) as nodes:
        leader = nodes.client("lanhdao.h41", bearer=True)
        clerk = nodes.client("vanthu.h41", bearer=True)
        password = pki_server.entity("official-h41").password
        with ThreadPoolExecutor(3) as pool:
            futures = {name: pool.submit(
                issue_over_api, leader, clerk, password, subject, [C1[0]], priority=priority,
                due_date=due.isoformat() if due else None)
                for name, (subject, priority, due) in DIRECTIVES.items()}
            outgoing = {name: f.result()[0] for name, f in futures.items()}
        c1_clerk = nodes.client("vanthu.c1")  # the inbox listing marks nothing read

        def arrived() -> dict[str, int] | None:
            items = c1_clerk.ok("GET", "/api/v1/inbox")["items"]
            ids = {d["subject"]: d["id"] for d in items}
            return ids if len(ids) == len(DIRECTIVES) else None

        ids = wait_for(arrived, 90, "every directive at C1")
        draft = nodes.client("chuyenvien.c1").ok("POST", "/api/v1/outgoing/from-template", json={
            "subject": "Báo cáo kết quả phòng chống lụt bão của phường", "notation": "BC-UBND",
            "type_name": "Báo cáo", "recipients": [C2[0]], "priority": 1,
            "signer_name": "Đặng Văn Phúc"})["id"]
        yield World(nodes=nodes, hub=nodes.urls["hub"], province=nodes.urls["province"],
                    incoming={n: ids[s] for n, (s, _p, _d) in DIRECTIVES.items()},
                    outgoing=outgoing, draft=draft, leader=leader)


def subject(name: str) -> str:
    return DIRECTIVES[name][0]


def row(page: Page, name: str) -> Any:
    return page.locator("#inbox-table tbody tr", has_text=subject(name))


def inbox_state(world: World, name: str) -> dict[str, Any]:
    """C1's copy as the inbox lists it (through the API of another session of the clerk; the
    listing marks nothing read)."""
    items = world.nodes.client("vanthu.c1").ok("GET", "/api/v1/inbox",
                                               params={"q": subject(name)})["items"]
    assert len(items) == 1, items
    return items[0]


def tab_across_dates(page: Page, target: Any, max_tabs: int = 40) -> int:
    """``tb.tab_until`` for a stretch with ``<input type=date>``: Chromium's date field has a
    calendar button inside its own (closed) shadow root that takes a Tab stop, and there the
    toolkit's ``focused_description`` waits for a ``:focus`` element that no selector can see.
    Same contract: Tab until ``target`` has focus, fail with the path focus took."""
    path = []
    for presses in range(1, max_tabs + 1):
        page.keyboard.press("Tab")
        if target.evaluate_all("els => els.includes(document.activeElement)"):
            return presses
        path.append(page.evaluate("() => { const e = document.activeElement;"
                                  " return e ? e.tagName + '#' + e.id : '(nothing)'; }"))
    raise AssertionError(f"{target} never got focus; focus went: {path}")


# --- the keyboard alone --------------------------------------------------------------------------


def test_clerk_works_with_the_keyboard_alone(world: World, open_page) -> None:
    page = open_page(f"{world.hub}/login")
    expect(page.locator("#username")).to_be_focused()  # autofocus: typing can start at once
    page.keyboard.type("vanthu.c1")
    page.keyboard.press("Tab")
    expect(page.locator("#password")).to_be_focused()
    page.keyboard.type("mat-khau-2026")
    page.keyboard.press("Enter")
    page.wait_for_url("**/inbox")

    # search: typed, submitted with Enter, the table alone is replaced (htmx, no page load)
    tb.tab_until(page, page.get_by_role("searchbox", name="Trích yếu"))
    page.evaluate("window.__samePage = true")
    page.keyboard.type("lụt bão mùa mưa")
    page.keyboard.press("Enter")
    rows = page.locator("#inbox-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(subject("reject"))
    assert page.evaluate("window.__samePage === true"), "the search reloaded the whole page"
    assert "q=" in page.url  # the search is in the address (back, bookmark)
    expect(page.get_by_role("searchbox", name="Trích yếu")).to_be_focused()

    # open it (past the filters' date fields: see tab_across_dates)
    tab_across_dates(page, page.get_by_role("link", name=subject("reject")))
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/incoming/{world.incoming['reject']}")

    # the dialog: focus in the reason; Escape closes it and gives focus back
    reject = page.get_by_role("button", name="Từ chối", exact=True)
    tb.tab_until(page, reject)
    page.keyboard.press("Enter")
    dialog = page.locator("#reject-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#reason")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.locator("#reject-open")).to_be_focused()

    # again, with a reason, submitted from the keyboard
    page.keyboard.press("Enter")
    expect(page.locator("#reason")).to_be_focused()
    page.keyboard.type(REASON)
    tb.tab_until(page, dialog.get_by_role("button", name="Từ chối", exact=True), max_tabs=5)
    page.keyboard.press("Enter")
    page.wait_for_url("**?done=rejected")
    expect(page.get_by_role("status").filter(has_text="Đã từ chối")).to_be_visible()
    expect(page.locator(".doc-meta .state")).to_have_text("Đã từ chối")
    assert inbox_state(world, "reject")["state"] == "rejected"

    # another document: accepted with Tab and Enter
    page.goto(world.doc_url("accept"))
    tb.tab_until(page, page.get_by_role("button", name="Tiếp nhận", exact=True))
    page.keyboard.press("Enter")
    page.wait_for_url("**?done=accepted")
    expect(page.get_by_role("status").filter(has_text="Đã tiếp nhận")).to_be_visible()
    accepted = inbox_state(world, "accept")
    assert accepted["state"] == "accepted" and accepted["arrival_number"]
    tb.assert_no_external_requests(page)

    # the province sees the rejection and its reason
    def tracked() -> dict[str, Any] | None:
        doc = world.leader.ok("GET", f"/api/v1/outgoing/{world.outgoing['reject']}")
        found = [r for r in doc["tracking"]["recipients"] if r["agency_code"] == C1[0]]
        return found[0] if found and found[0]["status"] == "02" else None

    assert wait_for(tracked, 60, "the province's tracking to show 02")["reason"] == REASON


def test_reject_without_a_reason_is_stopped(world: World, open_page) -> None:
    page = open_page()
    log_in(page, world.hub, "vanthu.c1")
    url = world.doc_url("required")
    page.goto(url)
    page.click("#reject-open")
    page.click("#reject-confirm")  # empty: the browser does not send it
    expect(page.locator("#reject-dialog")).to_be_visible()
    assert page.evaluate("document.getElementById('reason').validity.valueMissing")
    assert page.url == url

    # sent anyway, as a forged form without the field (the session and CSRF token are right)
    csrf = page.locator("#reject-dialog input[name=csrf]").input_value()
    cookies = {c["name"]: c["value"] for c in page.context.cookies(world.hub)}
    with httpx.Client(base_url=world.hub, cookies=cookies, timeout=30) as http:
        for data in ({"csrf": csrf}, {"csrf": csrf, "reason": "  x "}):
            refused = http.post(f"/incoming/{world.incoming['required']}/reject", data=data)
            assert refused.status_code == 400, refused.text
            assert "Cần nêu lý do từ chối" in refused.text  # the reader's language…
            assert "give the reason for rejecting" in refused.text  # …and the other one
        control = http.post(f"/incoming/{world.incoming['required']}/reject", data={})
        assert control.status_code == 403  # without the token it is the CSRF refusal
    item = inbox_state(world, "required")
    assert item["state"] == "arrived"
    history = world.nodes.client("vanthu.c1").ok(
        "GET", f"/api/v1/incoming/{world.incoming['required']}")["history"]
    assert "02" not in [h["code"] for h in history]


# --- accessibility, no internet, screenshots -----------------------------------------------------


def _pages(world: World) -> list[tuple[str, str, str | None]]:
    """(name, URL, who) of every kind of page; ``None``: not logged in."""
    hub = world.hub
    return [("login", f"{hub}/login", None),
            ("inbox", f"{hub}/inbox", "vanthu.c1"),
            ("document", world.doc_url("today"), "vanthu.c1"),
            ("outgoing", f"{hub}/outgoing", "vanthu.c1"),
            ("new-draft", f"{hub}/outgoing/new", "vanthu.c1"),
            ("outgoing-document-clerk", f"{hub}/outgoing/{world.draft}", "vanthu.c1"),
            ("registers", f"{hub}/registers", "vanthu.c1"),
            ("account-clerk", f"{hub}/account", "vanthu.c1"),
            ("outgoing-document-leader", f"{hub}/outgoing/{world.draft}", "lanhdao.c1"),
            ("dashboard", f"{hub}/dashboard", "lanhdao.c1"),
            ("account-leader", f"{hub}/account", "lanhdao.c1"),
            ("document-leader", world.doc_url("urgent"), "lanhdao.c1")]


def test_pages_pass_axe_load_nothing_from_elsewhere(world: World, open_page) -> None:
    pages: dict[str | None, Page] = {}
    serious: list[str] = []
    for name, url, who in _pages(world):
        if who not in pages:
            pages[who] = open_page()
            if who is not None:
                log_in(pages[who], world.hub, who)
        page = pages[who]
        page.goto(url)
        page.wait_for_load_state("networkidle")
        assert page.url.split("?")[0] == url, f"{name}: went to {page.url}"
        tb.assert_no_critical_axe(page)
        found = tb.axe_violations(page, impact=("serious",))
        if found:
            serious.append(f"{name}:\n{tb.format_violations(found)}")
        tb.assert_no_external_requests(page)
        path = tb.screenshot(page, f"web-{name}-office")
        assert path.stat().st_size > 10_000
    print("serious axe violations:", "\n".join(serious) or "none")


@pytest.mark.parametrize("device", ["office", "phone"])
def test_inbox_and_document_on_office_and_phone(world: World, open_page, device: str) -> None:
    page = open_page(device=tb.OFFICE if device == "office" else tb.PHONE)
    log_in(page, world.hub, "vanthu.c1")
    page.goto(f"{world.hub}/inbox")
    expect(row(page, "urgent")).to_be_visible()
    assert page.evaluate(NO_SCROLL), "the inbox scrolls sideways"
    if device == "phone":  # each row a card: its cells stacked, each with its label
        cells = row(page, "urgent").locator("td")
        first, second = cells.nth(0).bounding_box(), cells.nth(1).bounding_box()
        assert second["y"] >= first["y"] + first["height"] - 1, "the cells are not stacked"
        assert cells.nth(2).evaluate("td => getComputedStyle(td, '::before').content") \
            == '"Nơi gửi: "'
        expect(page.locator("#inbox-table thead")).not_to_be_in_viewport()
        assert page.locator("#f-mine").bounding_box()["width"] < 40  # a box, not a bar
    tb.assert_no_external_requests(page)
    tb.screenshot(page, f"web-inbox-{device}")

    page.goto(world.doc_url("urgent"))
    page.wait_for_load_state("networkidle")
    assert page.evaluate(NO_SCROLL), "the document page scrolls sideways"
    images = page.locator(".pdf img")
    expect(images.first).to_be_visible()
    panel = page.locator(".verdict-card").bounding_box()
    last = images.last.bounding_box()
    if device == "phone":  # one column: the PDF first, then the verdicts
        assert panel["y"] >= last["y"] + last["height"], (panel, last)
    else:  # side by side
        assert panel["x"] >= last["x"] + last["width"], (panel, last)
        assert panel["y"] < last["y"] + 200
    tb.assert_no_external_requests(page)
    tb.screenshot(page, f"web-document-{device}")


# --- languages -----------------------------------------------------------------------------------


def test_vietnamese_renders_and_english_on_request(world: World, open_page) -> None:
    page = open_page()
    log_in(page, world.hub, "vanthu.c1")
    page.goto(f"{world.hub}/inbox")
    shot = tb.screenshot(page, "web-inbox-ocr")
    x, y, w, h = tb.element_clip(page, "main h1")
    hx, hy, hw, hh = tb.element_clip(page, "header.top")
    tb.assert_vietnamese_renders(shot, "Văn phòng điện tử Văn bản đến Văn bản đi Sổ văn bản "
                                       "Bảng theo dõi Tài khoản Đăng xuất Văn bản đến chưa đọc",
                                 clip=(hx, hy, hw, y + h - hy))
    page.goto(world.doc_url("urgent"))
    shot = tb.screenshot(page, "web-document-ocr")
    cx, cy, cw, _ch = tb.element_clip(page, ".verdict-card")  # its heading, badge and words
    _px, py, _pw, ph = tb.element_clip(page, ".verdict-card > p:nth-of-type(2)")
    tb.assert_vietnamese_renders(
        shot, "Chữ ký số và kết quả kiểm tra Chữ ký hợp lệ Mọi chữ ký đều hợp lệ: văn bản còn "
              "nguyên vẹn và do đúng người, đúng cơ quan ký.",
        clip=(cx, cy, cw, py + ph - cy))

    # English, then back to Vietnamese, from the links in the header
    page.goto(f"{world.hub}/inbox")
    page.get_by_role("link", name="English").click()
    page.wait_for_url("**/inbox")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Incoming documents")
    expect(page.get_by_role("navigation", name="Main menu")).to_contain_text("Outgoing")
    page.get_by_role("link", name=subject("urgent")).click()
    expect(page.get_by_role("button", name="Accept", exact=True)).to_be_visible()
    expect(page.locator(".verdict-card")).to_contain_text("Valid signatures")
    expect(page.locator(".prio")).to_have_text("Express")
    page.get_by_role("link", name="Tiếng Việt").click()
    page.wait_for_url(f"**/incoming/{world.incoming['urgent']}")
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.get_by_role("button", name="Tiếp nhận", exact=True)).to_be_visible()
    assert "Accept" not in page.inner_text("main")
    tb.assert_no_external_requests(page)


# --- unread, urgency and due dates ---------------------------------------------------------------


def _badge(page: Page) -> int:
    badge = page.locator(".menu a[href='/inbox'] .badge")
    return int(badge.inner_text()) if badge.count() else 0


def test_unread_marks_are_per_person(world: World, open_page) -> None:
    page = open_page()
    log_in(page, world.hub, "vanthu.c1")
    page.goto(f"{world.hub}/inbox")
    before = _badge(page)
    api_unread = world.nodes.client("vanthu.c1").ok("GET", "/api/v1/inbox")["unread"]
    assert before == api_unread >= 1
    expect(page.locator("h1 .badge")).to_have_text(f"{before} chưa đọc")
    expect(row(page, "unread")).to_contain_class("unread")
    expect(row(page, "unread").locator(".sr")).to_have_text("Chưa đọc:")

    row(page, "unread").get_by_role("link").click()
    page.wait_for_url(f"**/incoming/{world.incoming['unread']}")
    assert _badge(page) == before - 1  # the menu counts it read at once
    page.get_by_role("link", name="Văn bản đến").first.click()
    page.wait_for_url("**/inbox")
    expect(row(page, "unread")).not_to_contain_class("unread")
    expect(row(page, "unread").locator(".dot")).to_have_count(0)
    assert _badge(page) == before - 1

    # the specialist has not read it: his own mark is still there
    other = open_page()
    log_in(other, world.hub, "chuyenvien.c1")
    other.goto(f"{world.hub}/inbox")
    expect(row(other, "unread")).to_contain_class("unread")
    assert _badge(other) == len(DIRECTIVES)  # he has opened none
    tb.assert_no_external_requests(page)
    tb.assert_no_external_requests(other)


def test_urgency_and_due_colours(world: World, open_page) -> None:
    page = open_page()
    log_in(page, world.hub, "vanthu.c1")
    page.goto(f"{world.hub}/inbox")
    urgent = row(page, "urgent")
    expect(urgent).to_contain_class("urgent")
    expect(urgent.locator(".prio")).to_have_text("Hỏa tốc")
    expect(urgent.locator(".due")).to_contain_class("overdue")
    expect(urgent.locator(".due")).to_contain_text("quá hạn")
    colour = urgent.locator(".due").evaluate("e => getComputedStyle(e).color")
    assert colour == "rgb(179, 38, 30)", colour  # --bad
    # due "today" when the world was made; after a midnight (in Vietnam) since, it is overdue
    late = dt.datetime.now(VIETNAM).date() > DIRECTIVES["today"][2]
    expect(row(page, "today").locator(".due")).to_contain_class("overdue" if late else "today")
    expect(row(page, "today").locator(".due")).to_contain_text("quá hạn" if late
                                                               else "hạn hôm nay")
    expect(row(page, "unread").locator(".due")).to_contain_class("soon")
    expect(row(page, "unread")).to_contain_class("urgent")  # priority 1 (Khẩn) is urgent too
    expect(row(page, "unread").locator(".prio")).to_have_text("Khẩn")
    normal = row(page, "required")
    expect(normal).not_to_contain_class("urgent")
    expect(normal.locator(".prio")).to_have_text("Thường")
    expect(normal.locator("td").nth(4)).to_have_text("—")  # no due date
    far = row(page, "accept").locator(".due")  # twelve days ahead: no colour
    assert far.get_attribute("class").split() == ["due"]
    tb.assert_no_external_requests(page)
