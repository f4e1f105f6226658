"""What residents and staff meet on first use, in real Chromium on a desktop and on a phone (issue 15).

Every page is checked with axe-core; where the layout is the point it is checked at 1280 and 390 px wide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from tests.billing.pages import load_demo
from tests.browser.test_accounts_link import link
from tests.support.browser import assert_accessible, sign_in_dev

pytestmark = pytest.mark.browser

WIDTHS = [1280, 390]


@pytest.fixture(params=WIDTHS, ids=lambda width: f"{width}px")
def sized_page(request: pytest.FixtureRequest, browser: Any) -> Iterator[Any]:
    """A page in a browser window ``request.param`` CSS pixels wide."""
    context = browser.new_context(viewport={"width": request.param, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.fixture
def demo_portal(live_portal: str, make_app: Callable[..., Flask]) -> str:
    """The live portal with a small demo dataset in its database."""
    load_demo(make_app(), accounts=10)
    return live_portal


def assert_fits_the_window(page: Any) -> None:
    """Nothing makes the page wider than the window: wide tables scroll inside their own container."""
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{page.url}: page is {widths[0]} px wide in a {widths[1]} px window"


@pytest.mark.clock("2026-11-27")  # two days after the due date of 100001's October bill
def test_account_summary_fits_and_past_due_says_whom_to_call(sized_page: Any, demo_portal: str) -> None:
    page = sized_page
    sign_in_dev(page, demo_portal)
    link(page, demo_portal, "100001", "2000001")
    page.wait_for_url(f"{demo_portal}/accounts/100001")
    assert_fits_the_window(page)
    for name in ("Payments", "Services"):
        expect(page.get_by_role("region", name=name).get_by_role("table")).to_have_count(1)
    expect(page.get_by_text("Past due", exact=True)).to_be_visible()
    expect(page.get_by_text("To pay or set up a payment plan, call Utility Billing at (555) 010-0100.")).to_be_visible()
    assert_accessible(page)

    page.goto(f"{demo_portal}/accounts/100001/bills")
    assert_fits_the_window(page)
    assert_accessible(page)


def test_consumption_chart_scale_and_labels(sized_page: Any, demo_portal: str) -> None:
    page = sized_page
    sign_in_dev(page, demo_portal)
    link(page, demo_portal, "100001", "2000001")
    page.goto(f"{demo_portal}/accounts/100001/consumption")
    uses = [int(text.replace(",", "")) for text in page.locator("#reads-heading + div td").all_inner_texts()]
    ticks = [int(t.replace(",", "")) for t in page.locator(".portal-chart__axis--y").all_text_contents()]
    assert max(ticks) >= max(uses) and max(ticks) - max(uses) < ticks[1] - ticks[0]  # the next step up, no more
    for label in page.locator(".portal-chart__axis").all():
        if label.is_visible():
            box = label.bounding_box()
            assert box is not None and box.get("height", 0) >= 11, "axis labels too small to read"
    assert_fits_the_window(page)
    assert_accessible(page)


def test_new_occupant_sees_no_months_before_moving_in(page: Any, demo_portal: str) -> None:
    sign_in_dev(page, demo_portal)
    link(page, demo_portal, "100004", "2000400")
    page.goto(f"{demo_portal}/accounts/100004/consumption")
    rows = page.locator("#reads-heading + div tbody tr")
    expect(rows).to_have_count(12)
    expect(page.get_by_text("No read")).to_have_count(0)
    assert_accessible(page)


def test_help_and_delivery_headings_are_in_order(sized_page: Any, demo_portal: str) -> None:
    page = sized_page
    sign_in_dev(page, demo_portal)
    link(page, demo_portal, "100001", "2000001")
    sizes = "sel => Array.from(document.querySelectorAll(sel)).map(e => parseFloat(getComputedStyle(e).fontSize))"
    for path, smaller in (("/help", "main h2"), ("/accounts/100001/delivery", "main legend")):
        page.goto(demo_portal + path)
        h1 = page.evaluate(sizes, "main h1")
        assert len(h1) == 1 and all(size <= h1[0] for size in page.evaluate(sizes, smaller)), path
        assert_fits_the_window(page)
        assert_accessible(page)


def test_unactivated_resident_is_told_how_to_activate(sized_page: Any, live_portal: str) -> None:
    page = sized_page
    sign_in_dev(page, live_portal, "unverified@example.org")
    page.goto(f"{live_portal}/accounts/link")
    expect(page.get_by_role("heading", name="Activate your email address first")).to_be_visible()
    expect(page.get_by_role("button", name="Link account")).to_have_count(0)
    expect(page.get_by_label("What is the account number?")).to_have_count(0)
    expect(page.get_by_role("link", name="Sign in again")).to_have_attribute("href", "/login?next=/accounts/link")
    expect(page.get_by_role("link", name="More help with activating your account")).to_be_visible()
    assert_fits_the_window(page)
    assert_accessible(page)


def test_staff_search_outcomes_and_confirmed_sign_out(sized_page: Any, demo_portal: str, browser: Any) -> None:
    resident = browser.new_context().new_page()
    sign_in_dev(resident, demo_portal)
    resident.goto(f"{demo_portal}/accounts/link")
    resident.get_by_label("What is the account number?").fill("100001")
    resident.get_by_label("What is the customer ID?").fill("2999999")
    resident.get_by_role("button", name="Link account").click()
    expect(resident.get_by_role("alert")).to_be_visible()

    page = sized_page
    sign_in_dev(page, demo_portal, "staff@example.org")
    page.goto(f"{demo_portal}/staff/")
    expect(page.get_by_text("Not linked: the numbers didn't match").first).to_be_visible()
    expect(page.get_by_text("failed_not_found")).to_have_count(0)
    assert_fits_the_window(page)
    assert_accessible(page)

    page.goto(f"{demo_portal}/staff/residents")
    search = page.get_by_role("button", name="Search")
    expect(search).to_have_text("Search")
    expect(search).to_be_visible()
    page.get_by_label("Email, name or account number").fill("example.org")
    search.click()
    expect(page.get_by_role("link", name="resident@example.org")).to_be_visible()
    assert_fits_the_window(page)
    assert_accessible(page)

    page.get_by_role("link", name="resident@example.org").click()
    page.get_by_role("link", name="Sign this resident out everywhere").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign Pat Resident out everywhere?")
    assert_fits_the_window(page)
    assert_accessible(page)
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Pat Resident")
    resident.goto(f"{demo_portal}/account")
    expect(resident.get_by_role("heading", level=1)).to_have_text("Account Settings")  # still signed in

    page.get_by_role("link", name="Sign this resident out everywhere").click()
    page.get_by_role("button", name="Sign out everywhere").click()
    expect(page.get_by_text("Ended 1 portal session(s) for this resident.")).to_be_visible()
    resident.goto(f"{demo_portal}/account")
    assert resident.url.startswith(f"{demo_portal}/sign-in")
    resident.context.close()


def test_spanish_pages_translate_data_labels(browser: Any, demo_portal: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 800}, locale="es-US")
    page = context.new_page()
    page.goto(f"{demo_portal}/sign-in")
    expect(page.get_by_role("heading", level=1)).to_have_text("Iniciar sesión en Autoservicio Ciudadano")
    page.get_by_role("link", name="Iniciar sesión con correo electrónico").click()
    page.get_by_role("button", name="resident@example.org").click()
    page.wait_for_url(f"{demo_portal}/")
    page.goto(f"{demo_portal}/accounts/link")
    page.locator("#account_no").fill("100001")
    page.locator("#customer_id").fill("2000001")
    page.locator("form.usa-form button[type=submit]").click()
    page.wait_for_url(f"{demo_portal}/accounts/100001")
    page.goto(f"{demo_portal}/accounts/100001/bills")
    methods = set(page.locator("#payments-heading + div tbody td:nth-child(3)").all_inner_texts())
    assert methods and not methods & {"Online", "Bank draft", "Check", "Card by phone", "Cash"}, methods
    assert_fits_the_window(page)
    assert_accessible(page)
    context.close()
