"""The development mail catcher's page: each kept message, its HTML part sandboxed; none of it in production."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from flask import Flask

from app.core.config import get_settings
from app.mail import send_mail
from tests.support.config import PRODUCTION
from tests.support.pages import html_page

HOSTILE = '<p>Hello <b>Pat</b></p><script>parent.document.title = "taken"</script><form action="/logout"></form>'


def test_the_page_lists_each_message_with_its_parts(app: Flask) -> None:
    with app.test_request_context():
        send_mail(app.config, "pat@example.org", "Payment receipt R1", "Thank you.\nReceipt R1\n\nBye", html=HOSTILE)
        send_mail(app.config, "sam@example.org", "Auto Pay notice", "Plain only")
    page = html_page(app.test_client().get("/_dev/mail"))
    assert page.status == 200 and page.h1 == "Development mail"
    notice, receipt = page.select('section[aria-labelledby^="mail-"]')
    assert [notice.h2.get_text(), receipt.h2.get_text()] == ["Auto Pay notice", "Payment receipt R1"]  # newest first
    assert receipt.h2["id"] == receipt["aria-labelledby"]
    facts = receipt.select_one("dl").get_text(" ")
    assert "pat@example.org" in facts and app.config["UTILITY_EMAIL"] in facts and "Sent" in facts
    assert [p.decode_contents() for p in receipt.select("div[lang] p")] == ["Thank you.<br/>Receipt R1", "Bye"]
    (frame,) = receipt.select("iframe")
    assert 'sandbox=""' in str(frame) and frame["srcdoc"] == HOSTILE and frame["title"].endswith("Payment receipt R1")
    assert "<script>" not in page.html and "<b>Pat</b>" not in page.html  # only ever inside the escaped attribute
    assert not notice.select("iframe")  # no HTML part, no frame
    assert "style=" not in page.html


def test_the_page_says_when_there_is_nothing_yet_and_where_mail_goes(make_app: Callable[..., Flask]) -> None:
    page = html_page(make_app().test_client().get("/_dev/mail"))
    assert page.status == 200 and "No SMTP_HOST is set" in page.text and "No email yet." in page.text
    smtp = html_page(make_app(SMTP_HOST="mail.example").test_client().get("/_dev/mail"))
    assert "Email goes to the mail server mail.example, so nothing is kept here." in smtp.text


def test_the_page_does_not_exist_in_production(make_app: Callable[..., Flask]) -> None:
    assert make_app(**PRODUCTION).test_client().get("/_dev/mail").status_code == 404
    app = make_app()  # registered outside production; refused all the same if the settings say production
    app.extensions["settings"] = replace(get_settings(app), portal_env="production")
    assert app.test_client().get("/_dev/mail").status_code == 404
