"""Account Link Setup under ``LINK_PROOF=last_name`` in real Chromium, in English and Spanish, on a desktop and
on a phone: the last-name field, its errors, the one message for a wrong pair, and a link; axe on every page."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect
from sqlalchemy import update

from app.billing.models import BillingCustomer
from app.database.db import db
from app.dev import provider as devprovider
from tests.billing.pages import load_demo
from tests.browser.test_first_use import assert_fits_the_window
from tests.support.browser import assert_accessible, sign_in_dev
from tests.support.ports import free_port
from tests.support.threads import serve

pytestmark = pytest.mark.browser

TEXTS = {
    "en": {
        "account": "What is the account number?",
        "name": "What is the last name on the account?",
        "link": "Link account",
        "empty": "Enter the last name.",
        "not_found": "We couldn't find an account with that account number and last name.",
        "figure": "Where to find the account number and name on your bill",
        "linked": "Account 100001 is now linked to your profile.",
    },
    "es": {
        "account": "¿Cuál es el número de cuenta?",
        "name": "¿Cuál es el apellido del titular de la cuenta?",
        "link": "Vincular cuenta",
        "empty": "Escriba el apellido.",
        "not_found": "No encontramos una cuenta con ese número de cuenta y ese apellido.",
        "figure": "Dónde encontrar el número de cuenta y el nombre en su factura",
        "linked": "La cuenta 100001 ahora está vinculada a su perfil.",
    },
}


@pytest.fixture
def name_portal(make_app: Callable[..., Flask]) -> Iterator[str]:
    """The portal with ``LINK_PROOF=last_name``, its development provider and demo data (2000001 is O'Brien)."""
    port = free_port()
    app = make_app(OIDC_ISSUER=None, OIDC_CLIENT_SECRET=None, DEV_OIDC_PORT=port, LINK_PROOF="last_name")
    load_demo(app, accounts=10)
    with app.app_context():
        db.session.execute(update(BillingCustomer).filter_by(customer_id="2000001").values(last_name="O'Brien"))
        db.session.commit()
    provider = devprovider.start(port, production=False)
    try:
        with serve(app) as url:
            yield url
    finally:
        provider.shutdown()
        provider.server_close()


@pytest.mark.parametrize("width", [1280, 390], ids=lambda width: f"{width}px")
@pytest.mark.parametrize("language", ["en", "es"])
def test_link_by_last_name(browser: Any, name_portal: str, language: str, width: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15000)
    text = TEXTS[language]
    portal = name_portal
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text) if "Refused" in message.text else None)
    sign_in_dev(page, portal)
    if language == "es":
        page.goto(f"{portal}/language/es?next=/accounts/link")
    else:
        page.goto(f"{portal}/accounts/link")
    page.wait_for_url(f"{portal}/accounts/link")
    name = page.get_by_label(text["name"])
    expect(name).to_be_visible()
    expect(name).to_have_attribute("autocomplete", "family-name")
    expect(page.locator("#customer_id")).to_have_count(0)
    expect(page.get_by_role("img", name=text["figure"])).to_be_visible()
    assert_fits_the_window(page)
    assert_accessible(page)

    page.get_by_label(text["account"]).fill("100001")
    page.get_by_role("button", name=text["link"]).click()  # no last name
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_role("link", name=text["empty"])).to_be_visible()
    expect(page.get_by_label(text["name"])).to_have_attribute("aria-invalid", "true")
    assert_fits_the_window(page)
    assert_accessible(page)

    page.get_by_label(text["name"]).fill("Obrian")
    page.get_by_role("button", name=text["link"]).click()
    expect(page.get_by_text(text["not_found"])).to_be_visible()
    expect(page.get_by_label(text["name"])).not_to_have_attribute("aria-invalid", "true")
    assert_accessible(page)

    page.get_by_label(text["account"]).fill("100-001")
    page.get_by_label(text["name"]).fill("o\u2019brien")
    page.get_by_role("button", name=text["link"]).click()
    page.wait_for_url(f"{portal}/accounts/100001")
    expect(page.get_by_text(text["linked"])).to_be_visible()
    assert_fits_the_window(page)
    assert_accessible(page)
    assert refused == []  # nothing was blocked by the Content-Security-Policy
    context.close()
