"""What is due and the payment pages on a phone and a desktop, in English and Spanish (issue 22, items 2, 4-7).

Each test runs at 1280 and 390 px wide (``sized_page``) in both languages, through the development processor's
hosted page, with axe-core on every portal page it meets.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect
from sqlalchemy import select

from app.auth.models import PortalSession
from app.core.money import Money
from app.database.db import db
from tests.billing.pages import add_links, resident_id
from tests.browser.test_first_use import assert_fits_the_window, sized_page
from tests.browser.test_payments import fill_card, pay_portal
from tests.support.browser import assert_accessible, sign_in_dev
from tests.support.payments import DECLINE

__all__ = ["pay_portal", "sized_page"]  # fixtures these tests use

pytestmark = pytest.mark.browser

LANGUAGES = ["en", "es"]
PHONE = "(555) 010-0100"
TEXTS = {
    "en": {
        "continue": "Continue to payment",
        "not_made": "Payment not made",
        "received": "Payment received",
        "retry": "Try another card or bank account",
        "posting": "is still being posted",
        "pay_ahead": "You can still pay ahead",
        "autopay_off": "Auto Pay Off",
        "example": "for example 42.50",
        "turn_on": "Turn on Auto Pay",
        "again": "You signed in again because changing Auto Pay needs a recent sign-in.",
        "bank": "Bank account (ACH)",
        "call": f"Questions? Call Utility Billing at {PHONE}.",
    },
    "es": {
        "continue": "Continuar al pago",
        "not_made": "Pago no realizado",
        "received": "Pago recibido",
        "retry": "Intentar con otra tarjeta o cuenta bancaria",
        "posting": "todavía está registrando su pago en línea",
        "pay_ahead": "Aun así puede pagar por adelantado",
        "autopay_off": "Pago automático Desactivado",
        "example": "por ejemplo 42,50",
        "turn_on": "Activar el Pago automático",
        "again": "Volvió a iniciar sesión porque para cambiar el Pago automático se necesita un inicio de sesión",
        "bank": "Cuenta bancaria (ACH)",
        "call": f"Llame a Facturación de Servicios Públicos al {PHONE}.",
    },
}


def resident_on(page: Any, portal: str, app: Flask, language: str, pairs: list[tuple[str, str]]) -> None:
    """Sign in as the demo resident, link ``pairs`` and choose ``language``."""
    sign_in_dev(page, portal)
    add_links(app, resident_id(app, "resident@example.org"), pairs)
    page.goto(f"{portal}/language/{language}?next=/")


def figure(page: Any) -> str:
    """The one figure of what is due on the page."""
    return str(page.locator(".portal-due__figure").first.inner_text()).strip()


def checked(page: Any) -> None:
    """The page fits the window and axe finds no WCAG 2.1 AA violation."""
    assert_fits_the_window(page)
    assert_accessible(page)


@pytest.mark.parametrize("language", LANGUAGES)
def test_what_is_due_reads_the_same_on_every_page(
    sized_page: Any, pay_portal: tuple[str, Flask], language: str
) -> None:
    page, (portal, app), text = sized_page, pay_portal, TEXTS[language]
    resident_on(page, portal, app, language, [("100001", "2000001")])
    due = figure(page)  # the home card
    assert re.search(r"\d", due) and "2026" in due, due  # an amount and its date, in one figure
    checked(page)
    page.goto(f"{portal}/accounts/100001")
    assert figure(page) == due
    expect(page.locator("dl.portal-facts").first).to_contain_text(text["autopay_off"].split()[-1])
    checked(page)
    page.goto(f"{portal}/accounts/100001/pay")
    assert figure(page) == due
    checked(page)

    page.locator("input[name=amount]").fill("10,00" if language == "es" else "10.00")
    page.get_by_role("button", name=text["continue"]).click()
    page.wait_for_url(re.compile(r".*/pay/devcs_"))
    fill_card(page)
    page.get_by_role("button", name=re.compile(r"^Pay \$")).click()
    expect(page.get_by_role("heading", name=text["received"], level=1)).to_be_visible()
    after = []
    for path in ("/", "/accounts/100001", "/accounts/100001/pay"):
        page.goto(portal + path)
        after.append(figure(page))
        expect(page.get_by_text(re.compile(text["posting"])).first).to_be_visible()
        checked(page)
    assert len(set(after)) == 1 and after[0] != due  # $10.00 less, the same on the three pages


@pytest.mark.parametrize("language", LANGUAGES)
def test_amounts_are_typed_as_the_page_shows_them(
    sized_page: Any, pay_portal: tuple[str, Flask], language: str
) -> None:
    page, (portal, app), text = sized_page, pay_portal, TEXTS[language]
    resident_on(page, portal, app, language, [("100001", "2000001")])
    page.goto(f"{portal}/accounts/100001/pay")
    field = page.locator("input[name=amount]")
    prefilled = field.input_value()
    decimal = "," if language == "es" else "."
    assert re.fullmatch(rf"\d+\{decimal}\d\d", prefilled), prefilled
    assert Money.parse(prefilled) is not None and prefilled in figure(page)  # the amount due, as it is shown
    hint = page.locator("#amount-hint, .usa-hint").first.inner_text()
    shown = re.findall(r"[\d.]+,\d\d\s*US\$|\$[\d,]+\.\d\d", hint)
    assert len(shown) == 2 and all(Money.parse(amount) for amount in shown), hint  # the limits, typeable as shown
    checked(page)

    field.fill("1.000")  # never one dollar, nor a thousand
    page.get_by_role("button", name=text["continue"]).click()
    expect(page.get_by_text(text["example"]).first).to_be_visible()
    checked(page)
    field = page.locator("input[name=amount]")
    field.fill(shown[0])  # the smallest payment, exactly as the hint writes it
    page.get_by_role("button", name=text["continue"]).click()
    page.wait_for_url(re.compile(r".*/pay/devcs_"))
    expect(page.get_by_role("button", name=re.compile(r"^Pay \$1\.00"))).to_be_visible()


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_declined_payment_offers_another_card_and_nothing_due_offers_to_pay_ahead(
    sized_page: Any, pay_portal: tuple[str, Flask], language: str
) -> None:
    page, (portal, app), text = sized_page, pay_portal, TEXTS[language]
    resident_on(page, portal, app, language, [("100001", "2000001")])
    page.goto(f"{portal}/accounts/100001/pay")
    page.get_by_role("button", name=text["continue"]).click()
    page.wait_for_url(re.compile(r".*/pay/devcs_"))
    fill_card(page)
    page.get_by_label("Card number").fill(DECLINE)
    page.get_by_role("button", name=re.compile(r"^Pay \$")).click()
    expect(page.get_by_role("heading", name=text["not_made"], level=1)).to_be_visible()
    checked(page)
    page.get_by_role("link", name=text["retry"]).click()
    page.wait_for_url(f"{portal}/accounts/100001/pay")
    page.get_by_role("button", name=text["continue"]).click()  # the whole amount due, with another card
    page.wait_for_url(re.compile(r".*/pay/devcs_"))
    fill_card(page)
    page.get_by_role("button", name=re.compile(r"^Pay \$")).click()
    expect(page.get_by_role("heading", name=text["received"], level=1)).to_be_visible()

    page.goto(f"{portal}/accounts/100001/pay")
    assert page.locator("input[name=amount]").input_value() == ""  # not "0.00", under the $1 minimum
    expect(page.get_by_text(text["pay_ahead"])).to_be_visible()
    checked(page)


def age_the_sign_in(app: Flask) -> None:
    """Make every session's sign-in an hour old, so that Auto Pay asks for a new one."""
    with app.app_context():
        for row in db.session.scalars(select(PortalSession)):
            data = dict(row.data or {})
            if "auth_time" in data:
                data["auth_time"] = data["login_at"] = int(data["auth_time"]) - 3600
                row.data = data
        db.session.commit()


@pytest.mark.parametrize("language", LANGUAGES)
def test_auto_pay_keeps_the_choices_over_signing_in_again(
    sized_page: Any, pay_portal: tuple[str, Flask], language: str
) -> None:
    page, (portal, app), text = sized_page, pay_portal, TEXTS[language]
    resident_on(page, portal, app, language, [("100001", "2000001")])
    age_the_sign_in(app)
    page.goto(f"{portal}/accounts/100001/autopay")
    page.get_by_text(text["bank"]).click()
    page.locator("input[name=max_amount]").fill("150,00" if language == "es" else "150.00")
    page.get_by_role("button", name=text["turn_on"]).click()
    if page.get_by_role("button", name="resident@example.org").count():  # the provider asks again
        page.get_by_role("button", name="resident@example.org").click()
    page.wait_for_url(f"{portal}/accounts/100001/autopay")
    expect(page.get_by_text(text["again"])).to_be_visible()
    assert page.locator("#method-ach").is_checked()
    assert page.locator("input[name=max_amount]").input_value() == ("150,00" if language == "es" else "150.00")
    checked(page)
    page.get_by_role("button", name=text["turn_on"]).click()  # now recent: straight to the processor
    page.wait_for_url(re.compile(r".*/pay/devcs_"))


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_phone_number_is_on_every_page_that_cannot_take_a_payment(
    sized_page: Any, pay_portal: tuple[str, Flask], language: str, browser: Any
) -> None:
    page, (portal, app), text = sized_page, pay_portal, TEXTS[language]
    resident_on(page, portal, app, language, [("100004", "2000004")])  # the previous occupant
    for path in ("/accounts/100004/pay", "/accounts/100004/autopay"):
        page.goto(portal + path)
        expect(page.locator("#not-allowed")).to_contain_text(text["call"])
        checked(page)

    guest = page.context.browser.new_context(viewport=page.viewport_size)
    try:
        pay_now: Any = guest.new_page()
        pay_now.goto(f"{portal}/language/{language}?next=/pay")
        pay_now.locator("input[name=account_no]").fill("100003")  # a closed account
        pay_now.locator("input[name=customer_id]").fill("2000003")
        pay_now.locator("form button[type=submit]").click()
        pay_now.wait_for_url(f"{portal}/pay/amount")
        expect(pay_now.locator("#not-allowed")).to_contain_text(text["call"])
        checked(pay_now)
    finally:
        guest.close()
