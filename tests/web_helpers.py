"""Helpers of the web page's browser tests: the page as a person uses it (log in through the form,
open, click), on the e-office nodes of ``tests.office_helpers`` (real processes, real HTTP).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.office_helpers import PASSWORD


def log_in(page: Any, base_url: str, username: str, password: str = PASSWORD) -> None:
    """Log in through the login form, as a person does; the start page must open."""
    page.goto(f"{base_url}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/login" not in page.url, page.inner_text("main")


def log_out(page: Any) -> None:
    page.click("form[action='/logout'] button")
    page.wait_for_url("**/login?bye=1")


def reload_until(page: Any, check: Callable[[], bool], *, timeout: float = 90.0,
                 what: str = "the page to show it") -> None:
    """Reload until ``check()`` holds (a delivery between nodes takes a moment)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.5)
        page.reload()
        page.wait_for_load_state("networkidle")
