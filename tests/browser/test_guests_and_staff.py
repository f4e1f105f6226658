"""Issue 22 (phone first and clear): Pay Now is found, its lockout warns in its own words, the staff console and
the development provider say what they mean; at 1280 and 390 px, in English and Spanish, with axe."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from tests.billing.pages import load_demo
from tests.support.browser import assert_accessible, sign_in_dev

pytestmark = pytest.mark.browser

SIZES = [(1280, "en"), (390, "en"), (1280, "es"), (390, "es")]
WORDS = {
    "en": {
        "pay": "Pay without signing in",
        "continue": "Continue",
        "two_left": "2 tries left",
        "paused": "Pay Now is paused",
        "zone": "Central Standard Time",
        "guest": "Pay Now guest (not signed in)",
        "guest_wrong": "Pay Now: the numbers didn't match",
        "search": "Email, name or account number",
        "card": "Card ending 4242",
        "none": "This resident is not signed in anywhere right now",
        "typed": "A typed identifier signs in as a user whose email is not verified",
    },
    "es": {
        "pay": "Pagar sin iniciar sesión",
        "continue": "Continuar",
        "two_left": "Le quedan 2 intentos",
        "paused": "Pagar ahora queda en pausa",
        "zone": "hora estándar central",
        "guest": "Invitado de Pagar ahora (sin sesión)",
        "guest_wrong": "Pagar ahora: los números no coincidieron",
        "search": "Correo electrónico, nombre o número de cuenta",
        "card": "Tarjeta terminada en 4242",
        "none": "Este residente no tiene ninguna sesión abierta ahora",
        "typed": "Un identificador escrito inicia sesión como un usuario con el correo electrónico sin verificar",
    },
}


@pytest.fixture(params=SIZES, ids=lambda size: f"{size[0]}px-{size[1]}")
def sized(request: pytest.FixtureRequest, browser: Any) -> Iterator[tuple[Any, dict[str, str], Any]]:
    """A page ``width`` px wide whose browser asks for ``language``, that language's words, and its context."""
    width, language = request.param
    context = browser.new_context(viewport={"width": width, "height": 844}, locale=f"{language}-US")
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page, WORDS[language], context
    context.close()


@pytest.fixture
def demo_portal(live_portal: str, make_app: Callable[..., Flask]) -> str:
    """The live portal with a small demo dataset."""
    load_demo(make_app(), accounts=10)
    return live_portal


def assert_fits(page: Any) -> None:
    """Nothing makes the page wider than the window."""
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{page.url}: page is {widths[0]} px wide in a {widths[1]} px window"


def open_menu(page: Any) -> None:
    """On a phone the header's links are behind the Menu button."""
    menu = page.locator(".usa-menu-btn")
    if menu.is_visible():
        menu.click()


def test_guests_find_pay_now_from_sign_in_header_and_help(sized: Any, demo_portal: str) -> None:
    page, words, _context = sized
    page.goto(f"{demo_portal}/sign-in")
    main_link = page.locator("main").get_by_role("link", name=words["pay"])
    expect(main_link).to_be_visible()
    assert_fits(page)
    assert_accessible(page)
    main_link.click()
    page.wait_for_url(f"{demo_portal}/pay")
    assert_accessible(page)

    page.goto(f"{demo_portal}/help")
    expect(page.locator("main").get_by_role("link", name=words["pay"])).to_be_visible()
    assert_fits(page)
    assert_accessible(page)
    open_menu(page)
    header_link = page.get_by_role("navigation", name="Primary navigation").get_by_role("link", name=words["pay"])
    if not header_link.count():  # the nav's name is translated too
        header_link = page.locator("nav.usa-nav").get_by_role("link", name=words["pay"])
    expect(header_link).to_be_visible()
    header_link.click()
    page.wait_for_url(f"{demo_portal}/pay")
    expect(page.locator(".usa-nav-link.usa-current")).to_have_count(1)


def test_pay_now_counts_down_then_pauses_in_its_own_words(sized: Any, demo_portal: str) -> None:
    page, words, _context = sized
    page.goto(f"{demo_portal}/pay")
    for n in range(5):
        page.locator("#account_no").fill("100001")
        page.locator("#customer_id").fill(f"299999{n}")
        page.locator("main form button[type=submit]").click()
        page.wait_for_load_state()
        if n == 2:
            expect(page.locator("main")).to_contain_text(words["two_left"])
            assert_fits(page)
            assert_accessible(page)
    expect(page.locator("main")).to_contain_text(words["zone"])
    page.locator("#account_no").fill("100001")
    page.locator("#customer_id").fill("2000001")
    page.locator("main form button[type=submit]").click()
    main = page.locator("main")
    expect(main).to_contain_text(words["paused"])
    expect(main).to_contain_text(words["zone"])
    text = main.inner_text().lower()
    assert "link" not in text and "vincul" not in text, text  # not linking's words
    assert_fits(page)
    assert_accessible(page)


def test_staff_console_names_guests_searches_accounts_and_says_no_sessions(
    sized: Any, demo_portal: str, browser: Any
) -> None:
    guest = browser.new_context().new_page()
    guest.goto(f"{demo_portal}/pay")
    guest.locator("#account_no").fill("100001")
    guest.locator("#customer_id").fill("2999999")
    guest.locator("main form button[type=submit]").click()
    expect(guest.get_by_role("alert").first).to_be_visible()
    resident = browser.new_context().new_page()
    sign_in_dev(resident, demo_portal)
    resident.goto(f"{demo_portal}/accounts/link")
    resident.locator("#account_no").fill("100001")
    resident.locator("#customer_id").fill("2000001")
    resident.locator("form.usa-form button[type=submit]").click()
    resident.wait_for_url(f"{demo_portal}/accounts/100001")
    resident.context.close()  # its session stays until it expires or is ended
    guest.context.close()

    page, words, _context = sized
    page.goto(f"{demo_portal}/sign-in")
    expect(page.locator("main")).to_contain_text(words["typed"])
    page.locator("main a[href^='/login']").last.click()
    page.get_by_role("button", name="staff@example.org").click()
    page.wait_for_url(f"{demo_portal}/")
    page.goto(f"{demo_portal}/staff/")
    main = page.locator("main")
    expect(main).to_contain_text(words["guest"])
    expect(main).to_contain_text(words["guest_wrong"])
    assert_fits(page)
    assert_accessible(page)

    page.goto(f"{demo_portal}/staff/residents")
    box = page.get_by_label(words["search"])
    border = box.evaluate("e => getComputedStyle(e).borderRightWidth + ' ' + getComputedStyle(e).borderRightStyle")
    assert border == "1px solid", border
    box.fill("100001")
    page.locator("form.portal-search button[type=submit]").click()
    expect(page.get_by_role("link", name="resident@example.org")).to_be_visible()
    assert_fits(page)
    assert_accessible(page)
    page.get_by_role("link", name="resident@example.org").click()
    page.locator("a[href$='/sign-out']").click()
    expect(page.locator("main")).not_to_contain_text(" 0 ")
    assert_fits(page)
    assert_accessible(page)
    page.locator("main form button[type=submit]").click()
    page.locator("a[href$='/sign-out']").click()
    expect(page.locator("main")).to_contain_text(words["none"])


def test_development_provider_page_has_an_icon_and_says_typed_users_are_unverified(
    sized: Any, demo_portal: str
) -> None:
    page, _words, _context = sized
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(f"{demo_portal}/sign-in")
    page.locator("main a[href^='/login']").last.click()
    page.wait_for_selector("#portal-typed-users")
    expect(page.locator("#portal-typed-users")).to_contain_text("not verified")
    assert page.evaluate("fetch('/favicon.ico').then(r => r.status)") == 200
    assert errors == [], errors
    assert_fits(page)
