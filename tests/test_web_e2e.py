"""The web page end to end, in a real Chromium, as the people of the seeds use it:

a province specialist drafts a directive on the page → the leader signs it with his USB token (a
SoftHSM2 token) through a running ``edoc agent``: the page reads the token's certificate from the
agent, the server prepares the signature, the agent asks the PIN itself and signs the digest, the
server completes it → the clerk numbers, seals and issues it → at the commune (another node) the
clerk sees the directive in her inbox with its green verdict, opens it and accepts it → the
province leader's dashboard counts it and the document's tracking shows the commune's 03.

Every page is screenshotted (``test-artifacts/screenshots/e2e-*.png``), checked for critical
accessibility violations (axe-core) and for requests leaving the machine; the Vietnamese text of
two screenshots is read back by OCR to prove it renders as glyphs, not boxes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edoc.document import VIETNAM
from tests import browser as tb
from tests.agent_helpers import Agent, run_agent
from tests.office_helpers import C1, C2, OfficeNodes, office_nodes
from tests.token_helpers import LABEL, LIB, SoftToken, softhsm_token
from tests.web_helpers import log_in, log_out, reload_until

SUBJECT = "Về việc tăng cường ký số và gửi nhận văn bản điện tử cấp xã"


@pytest.fixture(scope="module")
def token(pki_server, tmp_path_factory) -> Iterator[SoftToken]:
    """The province leader's USB token (his name on the certificate); ``SOFTHSM2_CONF`` stays set
    while it lives, so the agent started below finds it."""
    with softhsm_token(tmp_path_factory.mktemp("leader-token"), pki_server) as tok:
        yield tok


@pytest.fixture(scope="module")
def nodes(pki_server, tmp_path_factory) -> Iterator[OfficeNodes]:
    with office_nodes(tmp_path_factory.mktemp("web-e2e"), pki_server) as running:
        yield running


@pytest.fixture(scope="module")
def agent(nodes: OfficeNodes, token: SoftToken, tmp_path_factory) -> Iterator[Agent]:
    """``edoc agent`` on the leader's computer, answering the province's e-office page only."""
    with run_agent(tmp_path_factory.mktemp("agent"), "--pkcs11-lib", LIB, "--token", token.label,
                   "--key-label", LABEL, pin=token.pin, origin=nodes.urls["province"]) as running:
        yield running


def checked(page: Any, name: str) -> Path:
    """The page's screenshot, after the checks every page passes."""
    tb.assert_no_critical_axe(page)
    tb.assert_no_external_requests(page)
    return tb.screenshot(page, f"e2e-{name}")


def test_directive_from_draft_to_commune_on_the_page(nodes, agent, token, open_page):
    province, hub = nodes.urls["province"], nodes.urls["hub"]
    due = (dt.datetime.now(VIETNAM) + dt.timedelta(days=5)).date()

    # 1. the specialist drafts the directive on the page (from the template: no file chosen)
    page = open_page()
    log_in(page, province, "chuyenvien.h41")
    page.goto(f"{province}/outgoing/new")
    page.fill("#subject", SUBJECT)
    page.fill("#type_name", "Chỉ thị")
    page.fill("#notation", "CT-UBND")
    page.select_option("#priority", "1")
    page.fill("#due_date", due.isoformat())
    page.fill("#recipient-filter", "Diễn Châu")  # the list filter keeps what is checked
    page.check(f"input[name=recipients][value='{C2[0]}']")
    page.fill("#recipient-filter", "")
    page.check(f"input[name=recipients][value='{C1[0]}']")
    checked(page, "1-new-draft")
    page.click("#save-draft")
    page.wait_for_url("**/outgoing/*?done=draft")
    doc_url = page.url.split("?")[0]
    doc_id = int(doc_url.rsplit("/", 1)[1])
    assert "Đã lưu dự thảo" in page.inner_text("main")
    assert page.locator("img[alt^='Ảnh trang 1/']").is_visible()
    checked(page, "2-draft")
    log_out(page)

    # 2. the leader signs with his USB token through edoc agent (pairing once, PIN by the agent)
    log_in(page, province, "lanhdao.h41")
    page.goto(doc_url)
    page.click("#sign-token")  # not paired yet: the page asks for the agent's pairing code
    assert page.locator("#agent-settings").get_attribute("open") is not None
    page.fill("#agent-url", agent.url)
    page.fill("#agent-code", agent.code)
    page.click("#agent-save")
    checked(page, "3-sign")
    page.click("#sign-token")
    page.wait_for_url("**/outgoing/*?done=signed", timeout=120_000)
    assert agent.prompts == 1, "the agent asked the PIN once"
    assert "ký số và gửi nhận" in agent.last_prompt  # the leader sees what he signs
    leader = nodes.client("lanhdao.h41")
    signed = leader.ok("GET", f"/api/v1/outgoing/{doc_id}")
    assert signed["state"] == "signed"
    step = signed["steps"][-1]
    assert step["how"] == "deferred"
    assert step["certificate_serial"] == str(token.certificate.serial_number)
    checked(page, "4-signed")
    log_out(page)

    # 3. the clerk numbers, seals and issues it
    log_in(page, province, "vanthu.h41")
    page.goto(doc_url)
    for button, state in (("#number", "numbered"), ("#seal", "sealed"), ("#issue", "issued")):
        page.click(button)
        page.wait_for_url(f"**/outgoing/{doc_id}?done={state}")
        checked(page, f"5-{state}")
    issued = leader.ok("GET", f"/api/v1/outgoing/{doc_id}")
    assert issued["state"] == "issued" and issued["code"].endswith("/CT-UBND")
    log_out(page)

    # 4. at the commune: the directive in the clerk's inbox, green, read and accepted
    commune = open_page()
    log_in(commune, hub, "vanthu.c1")
    row = commune.locator("table.docs tbody tr", has_text=SUBJECT)
    reload_until(commune, lambda: row.count() == 1, what="the directive in the commune's inbox")
    assert "Chữ ký hợp lệ" in row.inner_text()
    assert "unread" in (row.get_attribute("class") or "")
    inbox_png = checked(commune, "6-commune-inbox")
    tb.assert_vietnamese_renders(inbox_png, f"Văn bản đến {SUBJECT} Chữ ký hợp lệ")
    row.locator("a").click()
    commune.wait_for_load_state("networkidle")
    panel = commune.locator(".verdict-card")
    assert "Chữ ký hợp lệ" in panel.inner_text() and "Nguyễn Văn An" in panel.inner_text()
    doc_png = checked(commune, "7-commune-document")
    tb.assert_vietnamese_renders(doc_png, "Chữ ký số và kết quả kiểm tra Chữ ký hợp lệ",
                                 clip=tb.element_clip(commune, ".verdict-card h2"))
    commune.click("#accept")
    commune.wait_for_url("**?done=accepted")
    assert "Đã tiếp nhận" in commune.inner_text("main")
    checked(commune, "8-commune-accepted")

    # 5. the province: the dashboard counts it, the tracking shows the commune's 03
    log_in(page, province, "lanhdao.h41")
    reload_until(page, lambda: "03" in _tracking(page, doc_url, C1[0]),
                 what="the commune's 03 in the province's tracking")
    checked(page, "9-tracking")
    page.goto(f"{province}/dashboard")
    sent = page.locator(".kpi", has_text="Đã gửi").locator(".n").inner_text()
    assert sent == "1"
    total = page.locator("tr.total").inner_text().split("\t")
    assert total[:3] == ["Tổng cộng", "1", "100 %"], total  # sent, all of it digitally signed
    checked(page, "10-dashboard")


def _tracking(page: Any, doc_url: str, code: str) -> str:
    page.goto(doc_url)
    rows = page.locator("section[aria-labelledby=track-h] tbody tr")
    return " ".join(rows.nth(i).inner_text() for i in range(rows.count())
                    if code in rows.nth(i).inner_text() or "phường" in rows.nth(i).inner_text())
