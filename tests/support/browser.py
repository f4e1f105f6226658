"""Helpers for the Chromium tests: where Debian's Chromium is, an axe-core WCAG check, the development sign-in.

The ``browser``, ``page`` and ``live_portal`` fixtures stay in ``tests/browser/conftest.py``.
"""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe

CHROMIUM = "/usr/bin/chromium"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def assert_accessible(page: Any) -> None:
    """axe-core finds no WCAG 2.1 A/AA violation on the page as it is now."""
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}})
    assert results.violations_count == 0, f"{page.url}\n{results.generate_report()}"


def sign_in_dev(page: Any, portal: str, user: str = "resident@example.org") -> None:
    """Sign in through the development provider's page by clicking a demo user."""
    page.goto(f"{portal}/sign-in")
    page.get_by_role("link", name="Sign in with email").click()
    page.get_by_role("button", name=user).click()
    page.wait_for_url(f"{portal}/")
