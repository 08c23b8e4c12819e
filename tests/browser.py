"""The toolkit of the web page tests: a real Chromium driven by Playwright, offline, with the checks
a page of an e-office for Vietnamese agencies must pass.

- ``chromium(tmp)`` starts Debian's Chromium (never a downloaded browser) and yields a Playwright
  ``Browser``. One browser serves a whole module; each test opens its own ``BrowserContext``
  (``new_page``), which is a fresh, incognito-like profile, so tests cannot leak cookies or
  storage into each other and each can choose its screen (``OFFICE`` 1366×768, ``PHONE``).
  Playwright refuses ``--user-data-dir`` in ``launch()`` and makes its own throwaway profile in
  the driver's temporary directory; we point that directory at ``tmp`` so the profile lives under
  the test's tmp path too.
- Every context blocks and records each request that is not to 127.0.0.1/localhost:
  ``assert_no_external_requests(page)`` proves a page loads nothing from the internet (agencies'
  networks are often closed, and a page must not leak who reads which document).
- ``screenshot`` keeps a full-page PNG under ``test-artifacts/screenshots/``;
  ``assert_vietnamese_renders`` OCRs it with Tesseract (``-l vie``) to prove the diacritics were
  drawn as glyphs, not as boxes (tofu) -- the DOM text is right even when the screen is not.
- ``axe_violations`` / ``assert_no_critical_axe`` run the vendored axe-core, offline, even on
  pages whose Content-Security-Policy forbids inline scripts.
- ``tab_until`` / ``focused_description`` / ``tab_order`` check that a clerk can work with the
  keyboard alone.

Use the ``browser`` and ``open_page`` fixtures below: with ``"tests.browser"`` in
``pytest_plugins`` of ``tests/conftest.py``, or by importing them into the test module.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import re
import shutil
import subprocess
import tempfile
import threading
import unicodedata
import weakref
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from PIL import Image, ImageChops, ImageOps
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    Route,
    WebSocketRoute,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError

from tests.paths import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
AXE_JS = Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
SETUP_HINT = "run `bash scripts/setup.sh`, which installs it"

#: The office screen the agencies' desktops have, and a phone (a leader approving on the go).
#: Both speak Vietnamese and live in Vietnam's time zone, as the app's users do.
OFFICE: dict[str, Any] = {
    "viewport": {"width": 1366, "height": 768},
    "locale": "vi-VN",
    "timezone_id": "Asia/Ho_Chi_Minh",
}
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
    "locale": "vi-VN",
    "timezone_id": "Asia/Ho_Chi_Minh",
}
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


# --- tools ------------------------------------------------------------------------------------


def require_tool(tool: str | Path) -> str:
    """The path of a command the tests need, or a test FAILURE naming how to get it: the setup
    script installs Chromium and Tesseract, so their absence is a broken machine, not a reason to
    skip (a skipped browser test would let a broken page land)."""
    found = shutil.which(str(tool))
    if not found:
        pytest.fail(f"{tool} is missing: {SETUP_HINT}", pytrace=False)
    return found


# --- the browser ------------------------------------------------------------------------------


@contextlib.contextmanager
def _driver_tmpdir(path: Path) -> Iterator[None]:
    """Start the Playwright driver with TMPDIR=path: it makes the browser's fresh profile
    (``--user-data-dir``) there, so the profile lives under the test's tmp path."""
    old = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = old


@contextlib.contextmanager
def chromium(tmp_path: Path) -> Iterator[Browser]:
    """Debian's headless Chromium (never a downloaded one), its profile and downloads under
    ``tmp_path``; closed on exit. Open pages with ``new_page``/``open_page``, not the Browser's
    own ``new_page``, so that the internet stays blocked."""
    require_tool(CHROMIUM)
    tmp_path.mkdir(parents=True, exist_ok=True)
    with _driver_tmpdir(tmp_path):
        manager = sync_playwright()
        playwright = manager.start()
    try:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            downloads_path=tmp_path / "downloads",
        )
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


# --- no internet --------------------------------------------------------------------------------

_BLOCKED: weakref.WeakKeyDictionary[BrowserContext, list[str]] = weakref.WeakKeyDictionary()


def is_local(url: str) -> bool:
    """Whether a URL stays on this machine (the app under test is served on loopback)."""
    return urlsplit(url).hostname in LOCAL_HOSTS


def _guard(context: BrowserContext) -> None:
    """Abort every HTTP(S) and WebSocket request of ``context`` that leaves loopback, and record
    its URL, so a page that would fetch a font, a script or a tracker from the internet shows it.
    Service workers are blocked, because their requests would bypass the route."""
    blocked: list[str] = []
    _BLOCKED[context] = blocked

    def block(route: Route) -> None:
        blocked.append(route.request.url)
        route.abort("blockedbyclient")

    def block_socket(ws: WebSocketRoute) -> None:
        blocked.append(ws.url)
        ws.close()

    context.route(lambda url: not is_local(url), block)
    context.route_web_socket(lambda url: not is_local(url), block_socket)


def new_context(browser: Browser, device: dict[str, Any] = OFFICE,
                **options: Any) -> BrowserContext:
    """A fresh context (its own cookies and storage) on ``device`` (``OFFICE`` or ``PHONE``),
    with the internet blocked and recorded. Close it when done."""
    context = browser.new_context(**{**device, "service_workers": "block", **options})
    _guard(context)
    return context


def new_page(browser: Browser, device: dict[str, Any] = OFFICE, **options: Any) -> Page:
    """A page in its own fresh guarded context; close ``page.context`` when done."""
    return new_context(browser, device, **options).new_page()


def external_requests(page: Page | BrowserContext) -> list[str]:
    """The URLs (off loopback) the page's context tried to load and that were blocked."""
    context = page.context if isinstance(page, Page) else page
    if context not in _BLOCKED:
        raise ValueError("this context was not opened with tests.browser.new_context/new_page")
    return list(_BLOCKED[context])


def assert_no_external_requests(page: Page | BrowserContext) -> None:
    """Fail listing every request the page tried to send off this machine."""
    urls = external_requests(page)
    assert not urls, "the page tried to load from the internet:\n  " + "\n  ".join(urls)


# --- a static server for small pages ------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files without writing a log line per request into the test output."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        pass


@contextlib.contextmanager
def serve_directory(root: Path) -> Iterator[str]:
    """Serve ``root`` over HTTP on 127.0.0.1 on a free port, in a thread; yield the base URL
    (``http://127.0.0.1:PORT``) and stop the server on exit."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# --- screenshots and fonts ----------------------------------------------------------------------


def wait_for_fonts(page: Page) -> None:
    """Wait until the page's web fonts have loaded (or failed): a screenshot taken earlier would
    show a fallback font and prove nothing about the page's own."""
    page.evaluate("document.fonts.ready.then(() => undefined)")


def loaded_fonts(page: Page) -> set[str]:
    """The families of the page's ``@font-face`` fonts that did load (not fell back)."""
    families = page.evaluate(
        "[...document.fonts].filter(f => f.status === 'loaded')"
        ".map(f => f.family.replace(/^[\"']|[\"']$/g, ''))"
    )
    return set(families)


def screenshot(page: Page, name: str) -> Path:
    """A full-page PNG kept as a test artefact at ``test-artifacts/screenshots/<name>.png`` (for
    OCR, and for a person to look at when a test fails)."""
    safe = re.sub(r"[^\w.-]+", "_", name).strip("._") or "page"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{safe}.png"
    wait_for_fonts(page)
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    return path


def element_clip(page: Page, selector: str) -> tuple[int, int, int, int]:
    """The box of ``selector`` in screenshot pixels (CSS pixels × device pixel ratio, page
    coordinates), to OCR just that part of a full-page screenshot."""
    box = page.locator(selector).first.evaluate(
        "el => { const r = el.getBoundingClientRect();"
        " return [r.x + scrollX, r.y + scrollY, r.width, r.height, devicePixelRatio]; }"
    )
    x, y, w, h, ratio = box
    return round(x * ratio), round(y * ratio), round(w * ratio), round(h * ratio)


# --- OCR: are the Vietnamese letters drawn? -----------------------------------------------------

#: The five tone marks (huyền, sắc, hỏi, ngã, nặng) as combining characters.
TONE_MARKS = frozenset("\u0300\u0301\u0309\u0303\u0323")
_WORD = re.compile(r"\w+")


def _crop_to_content(image: Image.Image) -> Image.Image:
    """The image cut to its non-background part (the background is the top-left pixel's colour),
    so Tesseract reads less white space."""
    background = Image.new(image.mode, image.size, image.getpixel((0, 0)))
    box = ImageChops.difference(image, background).getbbox()
    if box is None:
        return image
    left, top, right, bottom = box
    margin = 10
    return image.crop((max(0, left - margin), max(0, top - margin),
                       min(image.width, right + margin), min(image.height, bottom + margin)))


def ocr_text(png_path: Path, *, clip: tuple[int, int, int, int] | None = None,
             scale: int = 3) -> str:
    """The text Tesseract (Vietnamese model) reads on the image, or on its ``clip`` (x, y, width,
    height in image pixels). The image is scaled up ``scale`` times first: screen text is ~16 px
    high, and Tesseract reads small diacritics far better at 30+ px."""
    tesseract = require_tool("tesseract")
    with Image.open(png_path) as original:
        image = ImageOps.grayscale(original.convert("RGB"))
    if clip is not None:
        x, y, w, h = clip
        image = image.crop((x, y, x + w, y + h))
    image = _crop_to_content(image)
    image = image.resize((image.width * scale, image.height * scale), Image.Resampling.LANCZOS)
    with tempfile.TemporaryDirectory() as tmp:
        scaled = Path(tmp) / "ocr.png"
        image.save(scaled)
        done = subprocess.run([tesseract, str(scaled), "stdout", "-l", "vie"],
                              capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        pytest.fail(f"tesseract failed ({done.returncode}): {done.stderr.strip()}", pytrace=False)
    return done.stdout


def word_key(word: str) -> str:
    """A word, NFC and case-folded, with its tone mark moved to the end: "Ủy" and "Uỷ" (the new
    and the old tone placement, both correct Vietnamese) compare equal, while a word that lost
    any mark does not."""
    decomposed = unicodedata.normalize("NFD", unicodedata.normalize("NFC", word).casefold())
    tones = "".join(c for c in decomposed if c in TONE_MARKS)
    rest = "".join(c for c in decomposed if c not in TONE_MARKS)
    return unicodedata.normalize("NFC", rest + tones)


def has_diacritics(word: str) -> bool:
    """Whether a word carries a Vietnamese diacritic (a combining mark, or the letter đ)."""
    decomposed = unicodedata.normalize("NFD", word)
    return any(unicodedata.combining(c) for c in decomposed) or "đ" in word.casefold()


def diacritic_words(text: str) -> list[str]:
    """The words of ``text`` that carry diacritics: those a box-drawing font would ruin."""
    return [w for w in _WORD.findall(unicodedata.normalize("NFC", text)) if has_diacritics(w)]


def assert_vietnamese_renders(png_path: Path, expected_text: str, *,
                              clip: tuple[int, int, int, int] | None = None,
                              min_ratio: float = 0.7) -> None:
    """Fail unless at least ``min_ratio`` of the diacritic-bearing words of ``expected_text`` are
    read back by OCR from the screenshot: the proof that the page's fonts drew the Vietnamese
    letters, not boxes or bare letters. (A ratio, not all words: OCR misreads a few.)"""
    wanted = diacritic_words(expected_text)
    assert wanted, f"{expected_text!r} has no word with diacritics to look for"
    text = ocr_text(png_path, clip=clip)
    seen = {word_key(w) for w in _WORD.findall(unicodedata.normalize("NFC", text))}
    missing = [w for w in wanted if word_key(w) not in seen]
    ratio = 1 - len(missing) / len(wanted)
    assert ratio >= min_ratio, (
        f"Vietnamese did not render in {png_path}: OCR found {len(wanted) - len(missing)}"
        f"/{len(wanted)} words with diacritics ({ratio:.0%} < {min_ratio:.0%});\n"
        f"missing: {' '.join(missing)}\nOCR read: {text.strip()!r}"
    )


# --- accessibility (axe-core) -------------------------------------------------------------------

_AXE_RUN = """async () => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map(n => ({target: n.target, html: n.html, impact: n.impact,
                              summary: n.failureSummary})),
  }));
}"""


def _inject_axe(page: Page) -> None:
    """Put axe-core into the page from the vendored file, never from the network. A script tag
    first; a page whose CSP forbids inline scripts (as the app's do) gets it through the
    DevTools protocol instead, which CSP does not govern -- the policy stays in force."""
    if page.evaluate("typeof window.axe") == "object":
        return
    source = AXE_JS.read_text(encoding="utf-8")
    with contextlib.suppress(PlaywrightError):  # refused by the page's CSP
        page.add_script_tag(content=source)
    if page.evaluate("typeof window.axe") != "object":
        page.evaluate(source)


def axe_violations(page: Page, *, impact: Sequence[str] = ("critical",)) -> list[dict[str, Any]]:
    """The axe-core violations on the page whose impact is one of ``impact``, each as
    ``{id, impact, help, helpUrl, nodes: [{target, html, impact, summary}]}``."""
    _inject_axe(page)
    violations = page.evaluate(_AXE_RUN)
    return [v for v in violations if v["impact"] in impact]


def format_violations(violations: list[dict[str, Any]]) -> str:
    """The violations as lines a person can act on: rule, impact, help, then each element."""
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>")
        lines.extend(f"    {' '.join(map(str, n['target']))}: {n['html']}" for n in v["nodes"])
    return "\n".join(lines)


def assert_no_critical_axe(page: Page) -> None:
    """Fail listing every critical axe-core violation on the page."""
    violations = axe_violations(page, impact=("critical",))
    assert not violations, "critical accessibility violations:\n" + format_violations(violations)


# --- keyboard -----------------------------------------------------------------------------------

_FOCUSED_TAG = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  return el.tagName.toLowerCase() + (el.id ? "#" + el.id : "");
}"""


def focused_description(page: Page) -> str:
    """The focused element as a person would name it: role, accessible name (as Playwright
    computes it), tag and id, e.g. ``button "Gửi" <button#send>``; ``(nothing)`` when no element
    has focus."""
    tag = page.evaluate(_FOCUSED_TAG)
    if tag is None:
        return "(nothing)"
    snapshot = page.locator(":focus").first.aria_snapshot().splitlines()
    first = snapshot[0].removeprefix("- ").rstrip(":") if snapshot else ""
    return f"{first} <{tag}>".strip()


Target = str | Locator | Callable[[Page], bool]


def _is_focused(page: Page, target: Target) -> bool:
    """Whether ``target`` (a CSS selector such as ``#id``, a Locator such as
    ``page.get_by_role("button", name="Gửi")``, or a predicate) is the focused element."""
    if callable(target) and not isinstance(target, Locator):
        return bool(target(page))
    locator = page.locator(target) if isinstance(target, str) else target
    return bool(locator.evaluate_all("els => els.includes(document.activeElement)"))


def tab_until(page: Page, target: Target, *, max_tabs: int = 50, backwards: bool = False) -> int:
    """Press Tab (Shift+Tab with ``backwards``) until ``target`` has focus; return how many
    presses it took. Fail, listing the focus path, if it never does: an element the keyboard
    cannot reach is one a clerk without a mouse cannot use."""
    key = "Shift+Tab" if backwards else "Tab"
    path = []
    for presses in range(1, max_tabs + 1):
        page.keyboard.press(key)
        if _is_focused(page, target):
            return presses
        path.append(focused_description(page))
    raise AssertionError(f"{target} never got focus in {max_tabs} × {key}; focus went:\n  "
                         + "\n  ".join(path))


def tab_order(page: Page, *, max_tabs: int = 50) -> list[str]:
    """The descriptions of the elements Tab visits from the current focus, until focus comes back
    to the first one or leaves the page: to assert the whole order at once."""
    order: list[str] = []
    for _ in range(max_tabs):
        page.keyboard.press("Tab")
        here = focused_description(page)
        if here == "(nothing)" or (order and here == order[0]):
            break
        order.append(here)
    return order


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """One Chromium per test module (starting one takes about a second)."""
    with chromium(tmp_path_factory.mktemp("chromium")) as started:
        yield started


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """``open_page(url, device=OFFICE, **context_options) -> Page``: a page in a fresh guarded
    context, already at ``url``; every context is closed after the test."""
    contexts: list[BrowserContext] = []

    def open_(url: str | None = None, device: dict[str, Any] = OFFICE, **options: Any) -> Page:
        page = new_page(browser, device, **options)
        contexts.append(page.context)
        if url is not None:
            page.goto(url)
        return page

    yield open_
    for context in contexts:
        context.close()
