"""A resident links two accounts in real Chromium, sees their summaries and chart, removes one; axe checks
every page for WCAG 2.1 A/AA violations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from tests.billing.pages import load_demo
from tests.support.browser import assert_accessible, sign_in_dev

pytestmark = pytest.mark.browser


def link(page: Any, portal: str, account_no: str, customer_id: str) -> None:
    page.goto(f"{portal}/account")
    page.get_by_role("link", name="Link to account").click()
    page.wait_for_url(f"{portal}/accounts/link")
    page.get_by_label("What is the account number?").fill(account_no)
    page.get_by_label("What is the customer ID?").fill(customer_id)
    page.get_by_role("button", name="Link account").click()


def test_link_two_accounts_view_and_remove_one(page: Any, live_portal: str, make_app: Callable[..., Flask]) -> None:
    load_demo(make_app(), accounts=10)  # same database as the live portal
    portal = live_portal
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text) if "Refused" in message.text else None)
    sign_in_dev(page, portal)
    assert_accessible(page)  # home without accounts, with announcements

    page.goto(f"{portal}/accounts/link")
    expect(page.get_by_role("img", name="Where to find the numbers on your bill")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Link account").click()  # empty form
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_label("What is the account number?")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page)
    page.get_by_label("What is the account number?").fill("100001")
    page.get_by_label("What is the customer ID?").fill("2000003")
    page.get_by_role("button", name="Link account").click()
    expect(page.get_by_text("We couldn't find an account with that account number and customer ID.")).to_be_visible()
    assert_accessible(page)

    link(page, portal, "100-001", "2000001")
    page.wait_for_url(f"{portal}/accounts/100001")
    expect(page.get_by_role("heading", name="Account Summary", level=1)).to_be_visible()
    expect(page.get_by_text("Account 100001 is now linked to your profile.")).to_be_visible()
    assert_accessible(page)

    link(page, portal, "100002", "2000001")
    page.wait_for_url(f"{portal}/accounts/100002")
    expect(page.get_by_role("heading", name="Customer information")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Consumption history").first.click()
    page.wait_for_url(f"{portal}/accounts/100002/consumption")
    chart = page.get_by_role("img", name="Monthly water use")
    expect(chart).to_be_visible()
    assert page.locator("rect.portal-chart__bar").count() == 24
    assert_accessible(page)

    page.get_by_role("link", name="Account 100002").click()
    page.get_by_role("link", name="Bill history and all payments").click()
    page.wait_for_url(f"{portal}/accounts/100002/bills")
    assert_accessible(page)
    page.locator("table a.usa-link").first.click()
    expect(page.get_by_role("heading", name="Charges")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Home").first.click()
    page.wait_for_url(f"{portal}/")
    expect(page.get_by_role("heading", name="Account 100001")).to_be_visible()
    expect(page.get_by_role("heading", name="Account 100002")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Account Settings").first.click()
    page.wait_for_url(f"{portal}/account")
    expect(page.get_by_role("link", name="100001", exact=True)).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Remove account 100002").click()
    page.wait_for_url(f"{portal}/accounts/100002/remove")
    assert_accessible(page)
    page.get_by_role("button", name="Remove account").click()
    page.wait_for_url(f"{portal}/account")
    expect(page.get_by_text("Account 100002 was removed from your profile.")).to_be_visible()
    assert page.get_by_role("link", name="100002", exact=True).count() == 0
    expect(page.get_by_role("cell", name="Removed")).to_be_visible()
    assert_accessible(page)
    assert refused == []  # nothing was blocked by the Content-Security-Policy


def test_switch_to_paperless(page: Any, live_portal: str, make_app: Callable[..., Flask]) -> None:
    load_demo(make_app(), accounts=10)
    portal = live_portal
    sign_in_dev(page, portal)
    link(page, portal, "100001", "2000001")
    page.wait_for_url(f"{portal}/accounts/100001")
    page.get_by_role("link", name="Change bill delivery").click()
    page.wait_for_url(f"{portal}/accounts/100001/delivery")
    expect(page.get_by_role("group", name="How do you want to get your bills?")).to_be_visible()
    assert_accessible(page)
    paperless = page.get_by_role("radio", name="By email (paperless)")
    value, message = (
        ("paper", "will get paper bills by mail")
        if paperless.is_checked()
        else ("email", "Paperless billing is on for account 100001")
    )
    page.locator(f'label[for="delivery-{value}"]').click()  # the tile's label selects it
    expect(page.locator(f"#delivery-{value}")).to_be_checked()
    page.get_by_role("button", name="Save bill delivery").click()
    page.wait_for_url(f"{portal}/accounts/100001")
    expect(page.get_by_text(message)).to_be_visible()
    assert_accessible(page)

    link(page, portal, "100003", "2000003")  # closed: the page explains instead of offering the choice
    page.wait_for_url(f"{portal}/accounts/100003")
    page.goto(f"{portal}/accounts/100003/delivery")
    expect(page.get_by_role("heading", name="You can't change bill delivery for this account")).to_be_visible()
    assert_accessible(page)
