"""The development mail catcher's page in real Chromium: axe finds nothing, and an email's HTML stays inert."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from app.mail import send_mail
from tests.support.browser import assert_accessible
from tests.support.threads import serve

pytestmark = pytest.mark.browser

HOSTILE = '<p>Hello <b>Pat</b></p><script>parent.document.title = "taken"; document.body.append("ran")</script>'


def test_the_mail_page_is_accessible_and_an_emails_html_cannot_act(page: Any, make_app: Callable[..., Flask]) -> None:
    app = make_app()
    with app.test_request_context():
        send_mail(app.config, "pat@example.org", "Payment receipt R1", "Thank you.\nReceipt R1\n\nBye", html=HOSTILE)
        send_mail(app.config, "sam@example.org", "Auto Pay notice", "Plain only")
    with serve(app) as url:
        for path in ("/_dev/mail", "/language/es?next=/_dev/mail"):
            page.goto(url + path)
            expect(page.locator("h1")).to_have_count(1)
            frame = page.frame_locator("iframe.portal-mail-html")
            expect(frame.get_by_text("Hello")).to_be_visible()
            expect(frame.get_by_text("ran")).to_have_count(0)  # its script never ran
            assert "taken" not in page.title()
            assert_accessible(page)
        expect(page.get_by_role("heading", name="Correo de desarrollo", level=1)).to_be_visible()
