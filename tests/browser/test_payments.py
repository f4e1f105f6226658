"""Paying a bill and turning on Auto Pay in real Chromium, through the development processor's hosted page,
in English and in Spanish; axe checks every portal page for WCAG 2.1 A/AA violations."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from app.dev import provider as devprovider
from tests.billing.pages import add_links, load_demo, resident_id
from tests.support.browser import assert_accessible, sign_in_dev
from tests.support.payments import APPROVE, Processor
from tests.support.ports import free_port
from tests.support.threads import serve

pytestmark = pytest.mark.browser

TEXTS = {
    "en": {
        "pay": "Pay your bill",
        "continue": "Continue to payment",
        "received": "Payment received",
        "autopay": "Auto Pay",
        "turn_on": "Turn on Auto Pay",
        "on": "Auto Pay is on",
        "pending": "Pending payments",
    },
    "es": {
        "pay": "Pagar su factura",
        "continue": "Continuar al pago",
        "received": "Pago recibido",
        "autopay": "Pago automático",
        "turn_on": "Activar el Pago automático",
        "on": "El Pago automático está activado",
        "pending": "Pagos pendientes",
    },
}


@pytest.fixture
def pay_portal(make_app: Callable[..., Flask], processor: Processor) -> Iterator[tuple[str, Flask]]:
    """The portal with its development provider and the development processor, served on a known port."""
    port, provider_port = free_port(), free_port()
    app = make_app(
        OIDC_ISSUER=None,
        OIDC_CLIENT_SECRET=None,
        DEV_OIDC_PORT=provider_port,
        DEV_PAYMENTS_PORT=processor.port,
        PORTAL_BASE_URL=f"http://localhost:{port}",
    )
    load_demo(app, accounts=10)
    provider = devprovider.start(provider_port, production=False)
    try:
        with serve(app, port) as url:
            yield url, app
    finally:
        provider.shutdown()
        provider.server_close()


def fill_card(page: Any) -> None:
    page.get_by_label("Card number").fill(APPROVE)
    page.get_by_label("Expiry (MM/YY)").fill("12/99")
    page.get_by_label("Security code").fill("123")


@pytest.mark.parametrize("language", ["en", "es"])
def test_pay_a_bill_and_turn_on_auto_pay(page: Any, pay_portal: tuple[str, Flask], language: str) -> None:
    portal, app = pay_portal
    text = TEXTS[language]
    sign_in_dev(page, portal)
    add_links(app, resident_id(app, "resident@example.org"), [("100001", "2000001")])
    if language == "es":
        page.goto(f"{portal}/language/es?next=/")
    page.goto(f"{portal}/accounts/100001")
    page.get_by_role("link", name=text["pay"]).click()
    page.wait_for_url(f"{portal}/accounts/100001/pay")
    expect(page.get_by_role("heading", name=text["pay"], level=1)).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name=text["continue"]).click()
    page.wait_for_url(re.compile(r".*/pay/devcs_"))
    fill_card(page)
    page.get_by_role("button", name=re.compile(r"^Pay \$")).click()
    page.wait_for_url(re.compile(r".*/payments/[^/]+$"))
    expect(page.get_by_role("heading", name=text["received"], level=1)).to_be_visible()
    assert_accessible(page)
    page.goto(f"{portal}/accounts/100001")
    expect(page.get_by_role("table", name=re.compile("^" + text["pending"]))).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name=text["autopay"], exact=True).click()
    page.wait_for_url(f"{portal}/accounts/100001/autopay")
    assert_accessible(page)
    page.get_by_role("button", name=text["turn_on"]).click()
    page.wait_for_url(re.compile(r".*/pay/devcs_"))
    fill_card(page)
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{portal}/accounts/100001/autopay")
    expect(page.get_by_text(text["on"]).first).to_be_visible()
    assert_accessible(page)


def test_pay_now_without_signing_in(page: Any, pay_portal: tuple[str, Flask]) -> None:
    portal, _ = pay_portal
    page.goto(f"{portal}/pay")
    assert_accessible(page)
    page.get_by_role("button", name="Continue", exact=True).click()  # empty form
    expect(page.get_by_role("alert")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("What is the account number?").fill("100001")
    page.get_by_label("What is the customer ID?").fill("2000001")
    page.get_by_role("button", name="Continue", exact=True).click()
    page.wait_for_url(f"{portal}/pay/amount")
    assert_accessible(page)
    page.get_by_label("Email address for the receipt").fill("guest@example.net")
    page.get_by_role("button", name="Continue to payment").click()
    page.wait_for_url(re.compile(r".*/pay/devcs_"))
    fill_card(page)
    page.get_by_role("button", name=re.compile(r"^Pay \$")).click()
    expect(page.get_by_role("heading", name="Payment received", level=1)).to_be_visible()
    assert_accessible(page)
