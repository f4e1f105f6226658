"""Staff console in real Chromium: axe-core finds no WCAG 2.1 A/AA violations."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.browser import assert_accessible, sign_in_dev

pytestmark = pytest.mark.browser


def test_staff_console_pages_are_accessible(page: Any, live_portal: str) -> None:
    sign_in_dev(page, live_portal, "staff@example.org")
    page.get_by_role("link", name="Staff console").click()
    page.wait_for_url(f"{live_portal}/staff/")
    assert_accessible(page)
    page.get_by_role("link", name="Find a resident").click()
    page.get_by_label("Email, name or account number").fill("staff@")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="staff@example.org").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sam Staff")
    assert_accessible(page)
    page.goto(f"{live_portal}/staff/residents?q=nobody")
    expect(page.get_by_text("No resident matches")).to_be_visible()
    assert_accessible(page)
