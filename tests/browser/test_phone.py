"""Phone first (issue 22): every resident and staff page in real Chromium at 390 and 1280 px, English and
Spanish. At 390 px no element is wider than the window and every table cell with an amount or a link is on
screen (tables stack into cards); axe-core checks every page at both widths."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from app.database.db import db
from app.payments.models import Payment
from tests.billing.pages import add_links, load_demo, resident_id
from tests.support.browser import assert_accessible, sign_in_dev
from tests.support.layout import assert_phone_fit

pytestmark = pytest.mark.browser

LANGUAGES = ["en", "es"]
WIDTHS = [1280, 390]


@pytest.fixture(params=WIDTHS, ids=lambda width: f"{width}px")
def width(request: pytest.FixtureRequest) -> int:
    """The window's width in CSS pixels."""
    return int(request.param)


@pytest.fixture(params=LANGUAGES)
def language(request: pytest.FixtureRequest) -> str:
    """The page language the resident picks."""
    return str(request.param)


@pytest.fixture
def demo_app(live_portal: str, make_app: Callable[..., Flask]) -> Flask:
    """The live portal's app (same database) with a small demo dataset."""
    app = make_app()
    load_demo(app, accounts=10)
    return app


@pytest.fixture
def open_page(browser: Any, width: int, language: str, live_portal: str) -> Iterator[Callable[[str], Any]]:
    """A function that signs a demo user in, in a window ``width`` px wide, in ``language``, and returns the page."""
    contexts: list[Any] = []

    def open_page(user: str) -> Any:
        context = browser.new_context(viewport={"width": width, "height": 844 if width < 640 else 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15000)
        sign_in_dev(page, live_portal, user)
        page.goto(f"{live_portal}/language/{language}?next=/")
        return page

    yield open_page
    for context in contexts:
        context.close()


def add_payment(app: Flask, rid: int) -> None:
    """A card payment of the resident on 100001 with a processor reference as long as real ones are."""
    with app.app_context():
        db.session.add(
            Payment(
                public_id="phone-1",
                idempotency_key="phone-1",
                receipt_no="P0000000001",
                source="resident",
                resident_id=rid,
                account_no="100001",
                customer_id="2000001",
                method="card",
                amount_cents=12345,
                fee_cents=0,
                status="succeeded",
                processor="dev",
                checkout_id="devcs_phone_1",
                reference="ch_3PqRsTuVwXyZ0123456789abcdefGHIJ",
                method_label="Visa ending in 4242",
            )
        )
        db.session.commit()


def check(page: Any, width: int) -> None:
    """The page fits a phone (at 390 px) and axe finds no WCAG 2.1 AA violation."""
    if width < 640:
        assert_phone_fit(page)
    assert_accessible(page)


def test_every_resident_page_fits_a_phone(
    open_page: Callable[[str], Any], live_portal: str, demo_app: Flask, width: int
) -> None:
    page = open_page("resident@example.org")
    portal = live_portal
    for path in ("/", "/help", "/account", "/accounts/link"):
        page.goto(portal + path)
        check(page, width)
    add_links(demo_app, resident_id(demo_app, "resident@example.org"), [("100001", "2000001"), ("100004", "2000004")])
    account = f"{portal}/accounts/100001"
    for path in ("/", "/account", "/accounts/100001", "/accounts/100004"):
        page.goto(portal + path)
        check(page, width)
    page.goto(f"{account}/bills")
    check(page, width)
    page.locator("#bills-heading ~ * tbody a").first.click()
    page.wait_for_url(f"{account}/bills/*")
    expect(page.locator("tfoot")).to_have_count(1)
    check(page, width)
    for path in ("/consumption", "/delivery", "/pay", "/autopay"):
        page.goto(account + path)
        check(page, width)


def test_pay_now_fits_a_phone(open_page: Callable[[str], Any], live_portal: str, demo_app: Flask, width: int) -> None:
    page = open_page("resident@example.org")
    page.goto(f"{live_portal}/pay")
    check(page, width)
    page.locator("input[name=account_no]").fill("100001")
    page.locator("input[name=customer_id]").fill("2000001")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"{live_portal}/pay/amount")
    check(page, width)


def test_every_staff_page_fits_a_phone(
    open_page: Callable[[str], Any], live_portal: str, demo_app: Flask, width: int
) -> None:
    resident = open_page("resident@example.org")
    rid = resident_id(demo_app, "resident@example.org")
    add_links(demo_app, rid, [("100001", "2000001")])
    add_payment(demo_app, rid)
    resident.goto(f"{live_portal}/account")
    page = open_page("staff@example.org")
    for path in (
        "/staff/",
        "/staff/residents?q=example.org",
        f"/staff/residents/{rid}",
        "/staff/reconciliation",
        "/staff/accounts/100001/payments",
    ):
        page.goto(live_portal + path)
        if "/residents/" in path or "/payments" in path:
            expect(page.get_by_text("ch_3PqRsTuVwXyZ0123456789abcdefGHIJ")).to_be_visible()
        check(page, width)


#: The Services table's status of a service that no longer runs for the customer, in each language.
INACTIVE = {"en": "Inactive", "es": "No vigente"}


def test_previous_occupant_sees_services_stopped_when_they_left(
    open_page: Callable[[str], Any], live_portal: str, demo_app: Flask, width: int, language: str
) -> None:
    page = open_page("resident@example.org")
    add_links(demo_app, resident_id(demo_app, "resident@example.org"), [("100004", "2000004")])
    page.goto(f"{live_portal}/accounts/100004")
    services = page.locator("#services-heading ~ * tbody tr")
    expect(services.first).to_be_visible()
    for row in services.all():
        cells = row.locator("td").all_inner_texts()
        assert INACTIVE[language] in cells, cells
        stop = row.locator("td").nth(2)
        expect(stop).to_have_text(re.compile(r"\d{4}"))  # a stop date, the day they moved out
        expect(stop).to_be_visible()
    check(page, width)


def test_chart_names_each_labelled_month_with_its_year(
    open_page: Callable[[str], Any], live_portal: str, demo_app: Flask, width: int
) -> None:
    page = open_page("resident@example.org")
    add_links(demo_app, resident_id(demo_app, "resident@example.org"), [("100001", "2000001")])
    page.goto(f"{live_portal}/accounts/100001/consumption")
    chart = page.locator(".portal-chart__svg").bounding_box()
    assert chart is not None
    labels = [label for label in page.locator(".portal-chart__axis--x").all() if label.is_visible()]
    assert len(labels) == (4 if width < 640 else 8)
    right = chart["x"]
    for label in labels:
        text = label.text_content() or ""
        assert re.fullmatch(r"\w+\.? 20\d\d", text), text  # "Feb 2025", not "Feb 25"
        box = label.bounding_box()
        assert box is not None and box["x"] >= right, "labels overlap"
        right = box["x"] + box["width"]
    assert right <= chart["x"] + chart["width"], "the last label is cut off"
    check(page, width)


#: What the demo's mapping and announcements say in each language (issue 22 item 10).
WORDS = {
    "en": {"service": "WATER", "line": "Water base charge and usage (", "notice": "Hydrant flushing this month"},
    "es": {"service": "Agua", "line": "Cargo base y consumo de agua (", "notice": "Limpieza de hidrantes este mes"},
}


def test_bill_lines_and_announcements_in_the_page_language(
    open_page: Callable[[str], Any], live_portal: str, demo_app: Flask, width: int, language: str
) -> None:
    page = open_page("resident@example.org")
    words = WORDS[language]
    expect(page.get_by_role("heading", name=words["notice"])).to_be_visible()
    expect(page.locator(".usa-summary-box__body[lang]")).to_have_count(0)  # the demo wrote both languages
    check(page, width)
    add_links(demo_app, resident_id(demo_app, "resident@example.org"), [("100001", "2000001")])
    page.goto(f"{live_portal}/accounts/100001/bills")
    page.locator("#bills-heading ~ * tbody a").first.click()
    page.wait_for_url(f"{live_portal}/accounts/100001/bills/*")
    water = page.locator("#charges-heading ~ * tbody tr").first
    expect(water.locator("th")).to_have_text(words["service"])
    expect(water.locator("td").first).to_contain_text(words["line"])
    expect(water.locator("td").first).to_be_visible()
    check(page, width)
