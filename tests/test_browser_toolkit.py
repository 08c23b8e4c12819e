"""The browser toolkit (tests/browser.py) against small pages it serves itself: each check is shown
to pass on a good page AND to fail on a bad one, or it would prove nothing about the app's pages."""

from __future__ import annotations

import shutil
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fontTools import subset
from fontTools.ttLib import TTFont
from PIL import Image
from playwright.sync_api import Page

import tests.browser as tb
from tests.paths import ROOT

# The toolkit's fixtures (redundant once tests/conftest.py lists "tests.browser" in pytest_plugins).
browser = tb.browser
open_page = tb.open_page

LIBERATION = ROOT / "signing" / "fonts" / "LiberationSans-Regular.ttf"
DIRECTIVE = ("Ủy ban nhân dân tỉnh Nghệ An — Chỉ thị về việc tăng cường công tác văn thư, "
             "lưu trữ")
OpenPage = Callable[..., Page]


# --- the small pages ----------------------------------------------------------------------------


def _page(title: str, body: str, head: str = "") -> str:
    """A page as the app's are: Vietnamese, UTF-8, with the viewport meta a phone needs (without
    it a phone lays the page out 980 px wide)."""
    return (f'<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>{title}</title>'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"{head}</head><body>{body}</body></html>")


def _font_page(family: str, font_file: str, text: str) -> str:
    """The directive's heading drawn in one web font, at the 18 px of the app's body text."""
    style = (f'<style>@font-face {{font-family: "{family}"; src: url("{font_file}");}}'
             f' body {{font: 18px "{family}"; margin: 24px; background: #fff; color: #000}}'
             "</style>")
    return _page("Văn bản", f'<main><p id="text">{text}</p></main>', style)


def _vietnamese_code_points() -> list[int]:
    """Every code point Vietnamese text may use beyond ASCII (letters with marks, đ, ơ, ư, the
    combining marks, the Latin Extended Additional block, dashes and quotes)."""
    ranges = [(0xA0, 0x250), (0x300, 0x370), (0x1EA0, 0x1F00), (0x2000, 0x2070)]
    return [cp for start, end in ranges for cp in range(start, end)]


def _make_tofu_font(dest: Path) -> None:
    """Liberation Sans cut to ASCII, with every Vietnamese code point mapped to its white square
    glyph (□). Chromium finds each character in the font, so it never falls back to a system font
    that has the letter: the page shows what a machine without Vietnamese glyphs shows, boxes."""
    font = TTFont(LIBERATION)
    options = subset.Options()
    options.drop_tables.append("FFTM")  # a FontForge timestamp the subsetter cannot cut
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[*range(0x20, 0x7F), 0x25A1])
    subsetter.subset(font)
    for table in font["cmap"].tables:
        if table.isUnicode():
            table.cmap.update(dict.fromkeys(_vietnamese_code_points(), "uni25A1"))
    font.save(dest)


def _private_use(text: str) -> str:
    """The text with every non-ASCII character replaced by a private-use code point: no font has
    a glyph for them, the other classic way a page ends up showing boxes."""
    return "".join(c if ord(c) < 0x80 else chr(0xE000 + ord(c) % 0x1000) for c in text)


def _strip_diacritics(text: str) -> str:
    """The text as bare letters ("Uy ban nhan dan"): readable, yet not Vietnamese."""
    decomposed = unicodedata.normalize("NFD", text.replace("Đ", "D").replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


PAGES = {
    "vietnamese.html": _font_page("LiberationLocal", "LiberationSans-Regular.ttf", DIRECTIVE),
    "tofu.html": _font_page("Tofu", "tofu.ttf", DIRECTIVE),
    "private-use.html": _font_page("LiberationLocal", "LiberationSans-Regular.ttf",
                                   _private_use(DIRECTIVE)),
    "stripped.html": _font_page("LiberationLocal", "LiberationSans-Regular.ttf",
                                _strip_diacritics(DIRECTIVE)),
    "local.html": _page(
        "Cục bộ",
        '<main><h1>Trang cục bộ</h1><img src="pixel.svg" alt="điểm ảnh"></main>'
        '<script src="local.js"></script>',
        '<link rel="stylesheet" href="local.css">'),
    "external.html": _page(
        "Ngoài",
        '<img src="https://cdn.example.org/logo.png" alt="logo">'
        '<script src="https://cdn.example.org/tracker.js"></script>'
        "<script>window.done = Promise.allSettled(["
        "fetch('http://example.org/api').catch(() => null),"
        "new Promise(r => { const ws = new WebSocket('wss://example.org/socket');"
        " ws.onerror = ws.onclose = r; })]);</script>",
        '<link rel="stylesheet" href="https://fonts.example.org/css?family=Roboto">'),
    "axe-bad.html": _page(
        "Lỗi truy cập",
        '<main><h1>Tìm văn bản</h1><button id="iconic"><img src="pixel.svg"></button>'
        '<input id="nameless" type="text"></main>'),
    "axe-clean.html": _page(
        "Tìm văn bản",
        '<main><h1>Tìm văn bản</h1><form><label for="q">Số, ký hiệu</label>'
        '<input id="q" type="text"><button type="submit">Tìm</button></form></main>'),
    "axe-csp.html": _page(
        "CSP",
        '<main><h1>Văn bản đến</h1><input id="nameless" type="text"></main>'
        "<script>window.inlineRan = true;</script>",
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'\">"),
    "form.html": _page(
        "Đăng nhập",
        '<main><h1>Đăng nhập</h1><form>'
        '<label for="user">Tên đăng nhập</label><input id="user" name="user">'
        '<label for="password">Mật khẩu</label><input id="password" type="password">'
        '<a href="#help" id="help">Quên mật khẩu?</a>'
        '<button type="button" disabled id="sso">Đăng nhập bằng VNeID</button>'
        '<div id="hidden-target" tabindex="-1">Không với tới bằng Tab</div>'
        '<button type="submit" id="send">Gửi</button></form></main>'),
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The small pages, served on 127.0.0.1 from a temporary directory for this module."""
    root = tmp_path_factory.mktemp("site")
    for name, html in PAGES.items():
        (root / name).write_text(html, encoding="utf-8")
    shutil.copy(LIBERATION, root / LIBERATION.name)
    _make_tofu_font(root / "tofu.ttf")
    (root / "pixel.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="1" '
                                    'height="1"><rect width="1" height="1"/></svg>')
    (root / "local.css").write_text("h1 { color: #123456 }")
    (root / "local.js").write_text("window.localRan = true;")
    with tb.serve_directory(root) as base:
        yield base


# --- the browser ----------------------------------------------------------------------------


def test_chromium_is_debians_with_a_fresh_profile_under_tmp_path(tmp_path: Path) -> None:
    with tb.chromium(tmp_path) as started:
        assert started.version
        profiles = list(tmp_path.glob("playwright_chromiumdev_profile-*"))
        assert len(profiles) == 1, list(tmp_path.iterdir())
    assert not profiles[0].exists(), "the throwaway profile is removed with the browser"


def test_a_missing_chromium_fails_rather_than_skips(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tb, "CHROMIUM", tmp_path / "no-chromium")
    with pytest.raises(pytest.fail.Exception, match="setup.sh"), tb.chromium(tmp_path):
        pass


def test_office_screen_and_phone(site: str, open_page: OpenPage) -> None:
    probe = ("() => [innerWidth, innerHeight, devicePixelRatio, matchMedia('(pointer: coarse)')"
             ".matches, navigator.maxTouchPoints > 0, navigator.language]")
    office = open_page(f"{site}/form.html")
    assert office.evaluate(probe) == [1366, 768, 1, False, False, "vi-VN"]
    phone = open_page(f"{site}/form.html", tb.PHONE)
    assert phone.evaluate(probe) == [390, 844, 3, True, True, "vi-VN"]


# --- no internet ------------------------------------------------------------------------------


def test_requests_off_loopback_are_blocked_and_recorded(site: str,
                                                        open_page: OpenPage) -> None:
    page = open_page(f"{site}/external.html")
    page.evaluate("window.done")
    blocked = tb.external_requests(page)
    for url in ("https://cdn.example.org/logo.png", "https://cdn.example.org/tracker.js",
                "https://fonts.example.org/css?family=Roboto", "http://example.org/api",
                "wss://example.org/socket"):
        assert url in blocked, blocked
    with pytest.raises(AssertionError, match="cdn.example.org/tracker.js"):
        tb.assert_no_external_requests(page)


def test_a_local_page_loads_fully_and_passes(site: str, open_page: OpenPage) -> None:
    page = open_page(f"{site}/local.html")
    assert page.evaluate("window.localRan") is True
    assert page.evaluate("getComputedStyle(document.querySelector('h1')).color") == \
        "rgb(18, 52, 86)"
    assert page.evaluate("document.querySelector('img').naturalWidth") == 1
    tb.assert_no_external_requests(page)


# --- screenshots and OCR --------------------------------------------------------------------


def test_screenshot_is_a_full_page_png_artefact(site: str, open_page: OpenPage) -> None:
    page = open_page(f"{site}/form.html")
    page.set_viewport_size({"width": 1366, "height": 300})
    page.evaluate("document.body.style.height = '2000px'")
    path = tb.screenshot(page, "toolkit/office form")
    assert path == ROOT / "test-artifacts" / "screenshots" / "toolkit_office_form.png"
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size[0] == 1366 and image.size[1] >= 2000, "full page, not the viewport"


def test_vietnamese_renders_in_a_locally_served_font(site: str,
                                                     open_page: OpenPage) -> None:
    page = open_page(f"{site}/vietnamese.html")
    path = tb.screenshot(page, "toolkit-vietnamese")
    assert "LiberationLocal" in tb.loaded_fonts(page)
    tb.assert_vietnamese_renders(path, DIRECTIVE)
    tb.assert_no_external_requests(page)


def test_vietnamese_renders_on_a_phone_in_a_clip(site: str,
                                                 open_page: OpenPage) -> None:
    page = open_page(f"{site}/vietnamese.html", tb.PHONE)
    path = tb.screenshot(page, "toolkit-vietnamese-phone")
    clip = tb.element_clip(page, "#text")
    assert clip[2] > 390 * 2, "the clip is in screenshot pixels (3 per CSS pixel)"
    tb.assert_vietnamese_renders(path, DIRECTIVE, clip=clip)


@pytest.mark.parametrize("page_name", ["tofu", "private-use", "stripped"])
def test_vietnamese_check_fails_on_boxes_or_bare_letters(site: str, open_page: OpenPage,
                                                          page_name: str) -> None:
    page = open_page(f"{site}/{page_name}.html")
    path = tb.screenshot(page, f"toolkit-{page_name}")
    if page_name == "tofu":
        assert "Tofu" in tb.loaded_fonts(page), "the box font must be the one drawing"
        assert page.locator("#text").inner_text() == DIRECTIVE, "the DOM text is right"
    with pytest.raises(AssertionError, match="Vietnamese did not render"):
        tb.assert_vietnamese_renders(path, DIRECTIVE)


def test_word_matching_accepts_both_tone_placements_only() -> None:
    assert tb.word_key("Ủy") == tb.word_key("uỷ")
    assert tb.word_key("Hòa") == tb.word_key("hoà")
    assert tb.word_key("Ủy") != tb.word_key("Uy")
    assert tb.word_key("tỉnh") != tb.word_key("tinh")
    assert tb.diacritic_words(DIRECTIVE) == [
        "Ủy", "nhân", "dân", "tỉnh", "Nghệ", "Chỉ", "thị", "về", "việc", "tăng", "cường", "công",
        "tác", "văn", "thư", "lưu", "trữ"]
    assert tb.diacritic_words("Đi đến") == ["Đi", "đến"]


# --- accessibility --------------------------------------------------------------------------


def test_axe_catches_critical_violations(site: str, open_page: OpenPage) -> None:
    page = open_page(f"{site}/axe-bad.html")
    violations = tb.axe_violations(page)
    by_id = {v["id"]: v for v in violations}
    assert {"button-name", "image-alt", "label"} <= set(by_id), violations
    assert by_id["label"]["nodes"][0]["target"] == ["#nameless"]
    assert all(v["impact"] == "critical" and v["help"] for v in violations)
    with pytest.raises(AssertionError) as failure:
        tb.assert_no_critical_axe(page)
    message = str(failure.value)
    assert "label (critical): Form elements must have labels" in message
    assert "#nameless: <input id=\"nameless\" type=\"text\">" in message
    tb.assert_no_external_requests(page)


def test_axe_passes_a_clean_page(site: str, open_page: OpenPage) -> None:
    page = open_page(f"{site}/axe-clean.html")
    tb.assert_no_critical_axe(page)
    assert tb.axe_violations(page, impact=("critical", "serious", "moderate", "minor")) == []


def test_axe_runs_under_a_strict_csp_which_stays_in_force(site: str,
                                                          open_page: OpenPage) -> None:
    page = open_page(f"{site}/axe-csp.html")
    assert [v["id"] for v in tb.axe_violations(page)] == ["label"]
    assert page.evaluate("window.inlineRan") is None, "the page's own inline script was blocked"


# --- keyboard -------------------------------------------------------------------------------


def test_tab_until_by_selector_name_or_predicate(site: str, open_page: OpenPage) -> None:
    page = open_page(f"{site}/form.html")
    assert tb.tab_until(page, "#password") == 2
    assert tb.focused_description(page) == 'textbox "Mật khẩu" <input#password>'
    assert tb.tab_until(page, page.get_by_role("button", name="Gửi")) == 2
    assert tb.focused_description(page) == 'button "Gửi" <button#send>'
    assert tb.tab_until(page, lambda p: p.evaluate("document.activeElement.id") == "user",
                        backwards=True) == 3


def test_tab_until_fails_on_an_unreachable_element(site: str,
                                                   open_page: OpenPage) -> None:
    page = open_page(f"{site}/form.html")
    with pytest.raises(AssertionError, match=r"(?s)never got focus.*link \"Quên mật khẩu\?\""):
        tb.tab_until(page, "#sso", max_tabs=6)
    with pytest.raises(AssertionError, match="never got focus"):
        tb.tab_until(page, "#hidden-target", max_tabs=6)


def test_tab_order_and_nothing_focused(site: str, open_page: OpenPage) -> None:
    page = open_page(f"{site}/form.html")
    assert tb.focused_description(page) == "(nothing)"
    assert tb.tab_order(page) == [
        'textbox "Tên đăng nhập" <input#user>',
        'textbox "Mật khẩu" <input#password>',
        'link "Quên mật khẩu?" <a#help>',
        'button "Gửi" <button#send>',
    ]
