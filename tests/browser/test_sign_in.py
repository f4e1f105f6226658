"""A resident signs in through the development provider in real Chromium; axe checks every page."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.browser import assert_accessible, sign_in_dev

pytestmark = pytest.mark.browser


def test_sign_in_account_settings_sign_out(page: Any, live_portal: str) -> None:
    page.goto(f"{live_portal}/sign-in")
    assert page.get_by_role("heading", level=1).inner_text() == "Sign in to Citizen Self Service"
    expect(page.get_by_text("Development sign-in.")).to_be_visible()
    for provider in ("Google", "Microsoft", "Facebook"):
        expect(page.get_by_role("link", name=f"Sign in with {provider}")).to_be_visible()
    assert page.get_by_role("link", name="Sign in with Apple").count() == 0  # needs Keycloak's Apple extension
    assert page.locator("html").get_attribute("lang") == "en"
    assert_accessible(page)

    page.get_by_role("link", name="Help", exact=True).first.click()
    page.wait_for_url(f"{live_portal}/help")
    expect(page.get_by_role("heading", name="Locked out after too many attempts")).to_be_visible()
    assert_accessible(page)

    sign_in_dev(page, live_portal)
    page.get_by_role("link", name="Account Settings").first.click()
    page.wait_for_url(f"{live_portal}/account")
    expect(page.get_by_text("resident@example.org").first).to_be_visible()
    expect(page.get_by_text("Now logged in as")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="End session").click()  # the development provider's logout page
    page.wait_for_url(f"{live_portal}/signed-out*")
    expect(page.get_by_role("heading", name="You have signed out")).to_be_visible()
    assert_accessible(page)
    page.goto(f"{live_portal}/account")
    assert page.url.startswith(f"{live_portal}/sign-in")


def test_unverified_resident_sees_activation_notice(page: Any, live_portal: str) -> None:
    sign_in_dev(page, live_portal, "unverified@example.org")
    expect(page.get_by_role("heading", name="Check your email to activate your account")).to_be_visible()
    assert_accessible(page)


def test_error_page_is_accessible(page: Any, live_portal: str) -> None:
    response = page.goto(f"{live_portal}/auth/callback?state=forged&code=x")
    assert response is not None and response.status == 400
    expect(page.get_by_role("link", name="Try again")).to_be_visible()
    assert_accessible(page)


def test_mobile_layout_has_menu_button(browser: Any, live_portal: str) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    page.goto(f"{live_portal}/sign-in")
    menu = page.get_by_role("button", name="Menu")
    expect(menu).to_be_visible()
    menu.click()
    expect(page.get_by_role("link", name="Help", exact=True).first).to_be_visible()
    assert_accessible(page)
    context.close()


def test_spanish_pages_are_accessible(browser: Any, live_portal: str) -> None:
    context = browser.new_context(locale="es-US")  # the browser asks for Spanish first
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        page.goto(f"{live_portal}/sign-in")
        expect(page.locator("html")).to_have_attribute("lang", "es")
        assert_accessible(page)
        page.get_by_role("link", name="English").click()  # the visitor's own choice wins over the browser's
        expect(page.locator("html")).to_have_attribute("lang", "en")
        sign_in_dev(page, live_portal)
        page.get_by_role("link", name="Español").click()
        page.wait_for_url(f"{live_portal}/")
        expect(page.locator("html")).to_have_attribute("lang", "es")
        assert_accessible(page)
        for path in ("/account", "/accounts/link", "/help"):
            page.goto(f"{live_portal}{path}")
            expect(page.locator("html")).to_have_attribute("lang", "es")
            assert_accessible(page)
    finally:
        context.close()
