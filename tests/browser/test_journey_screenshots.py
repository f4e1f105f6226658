"""The main journeys photographed in real Chromium at 1280 and 390 px, in English and Spanish, with axe on each.

The pictures go to ``SCREENSHOT_DIR`` (default ``build/screenshots/``, which CI keeps as the run's artifact and
git ignores), one folder per language and width, so a person can look at every page as a resident sees it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app.core.config import ROOT
from tests.billing.pages import load_demo
from tests.browser.test_accounts_link import link
from tests.support.browser import assert_accessible, sign_in_dev

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("SCREENSHOT_DIR") or ROOT / "build" / "screenshots")
#: The resident's journey after signing in and linking 100001, page by page (name, path).
RESIDENT_PAGES = [
    ("home", "/"),
    ("link", "/accounts/link"),
    ("summary", "/accounts/100001"),
    ("bills", "/accounts/100001/bills"),
    ("usage", "/accounts/100001/consumption"),
    ("pay", "/accounts/100001/pay"),
    ("autopay", "/accounts/100001/autopay"),
    ("settings", "/account"),
    ("help", "/help"),
]


@pytest.fixture(params=[(1280, "en"), (390, "en"), (1280, "es"), (390, "es")], ids=lambda p: f"{p[1]}-{p[0]}px")
def journey(request: pytest.FixtureRequest, browser: Any) -> Iterator[tuple[Callable[[], Any], int, str]]:
    """New pages of one width, in one language once it is chosen; closed afterwards."""
    width, language = request.param
    contexts: list[Any] = []

    def new_page() -> Any:
        context = browser.new_context(viewport={"width": width, "height": 844 if width < 600 else 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15000)
        return page

    yield new_page, width, language
    for context in contexts:
        context.close()


def snap(page: Any, folder: Path, name: str) -> None:
    """Check the page with axe, then keep a full-page picture of it."""
    assert_accessible(page)
    target = folder / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 1000, f"{target} is empty"


def choose(page: Any, portal: str, language: str) -> None:
    """Choose the page language as a visitor does, through the language link's route."""
    page.goto(f"{portal}/language/{language}?next=/")
    assert page.locator("html").get_attribute("lang") == language


def test_the_main_journeys_are_photographed(
    journey: tuple[Callable[[], Any], int, str], live_portal: str, make_app: Callable[..., Flask]
) -> None:
    new_page, width, language = journey
    load_demo(make_app(), accounts=10)
    folder = SHOTS / f"{language}-{width}px"
    folder.mkdir(parents=True, exist_ok=True)

    guest = new_page()
    choose(guest, live_portal, language)
    guest.goto(f"{live_portal}/sign-in")
    snap(guest, folder, "sign-in")
    guest.goto(f"{live_portal}/pay")
    snap(guest, folder, "pay-now")
    guest.fill("input[name=account_no]", "100001")
    guest.fill("input[name=customer_id]", "2000001")
    guest.locator("main form button[type=submit]").click()
    guest.wait_for_url(f"{live_portal}/pay/amount")
    snap(guest, folder, "pay-now-amount")

    resident = new_page()
    sign_in_dev(resident, live_portal)
    link(resident, live_portal, "100001", "2000001")
    resident.wait_for_url(f"{live_portal}/accounts/100001")
    choose(resident, live_portal, language)
    for name, path in RESIDENT_PAGES:
        resident.goto(f"{live_portal}{path}")
        assert resident.url.startswith(f"{live_portal}{path}"), f"{path} went to {resident.url}"
        snap(resident, folder, name)
    resident.goto(f"{live_portal}/accounts/100001/bills")
    resident.locator("main table a").first.click()
    snap(resident, folder, "one-bill")

    staff = new_page()
    sign_in_dev(staff, live_portal, "staff@example.org")
    choose(staff, live_portal, language)
    staff.goto(f"{live_portal}/staff/residents?q=resident%40example.org")
    snap(staff, folder, "staff-search")
    staff.locator("main table a").first.click()
    snap(staff, folder, "staff-resident")

    taken = sorted(p.stem for p in folder.glob("*.png"))
    expected = {"sign-in", "pay-now", "pay-now-amount", "one-bill", "staff-search", "staff-resident"}
    assert expected | {name for name, _ in RESIDENT_PAGES} <= set(taken)
