"""Email: through SMTP, or, outside production without SMTP_HOST, into the development mail catcher."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.database.db import db
from app.mail import KEPT, DevMail, catches_mail, caught_mail, send_mail, sends_mail
from tests.support.config import PRODUCTION


@pytest.mark.parametrize(
    ("config", "catches", "sends"),
    [
        ({"PORTAL_ENV": "development"}, True, True),
        ({"PORTAL_ENV": "testing", "SMTP_HOST": ""}, True, True),
        ({"PORTAL_ENV": "development", "SMTP_HOST": "mail.example"}, False, True),
        ({"PORTAL_ENV": "production", "SMTP_HOST": "mail.example"}, False, True),
        ({"PORTAL_ENV": "production"}, False, False),
    ],
)
def test_only_a_portal_outside_production_without_smtp_host_catches_mail(
    config: dict[str, str], catches: bool, sends: bool
) -> None:
    assert (catches_mail(config), sends_mail(config)) == (catches, sends)


def test_without_smtp_host_the_catcher_keeps_each_part(app: Flask) -> None:
    with app.test_request_context(headers={"Accept-Language": "es"}):
        assert send_mail(app.config, "pat@example.org", "Recibo R1", "Uno\nDos", html="<p>Hola</p>")
        assert not send_mail(app.config, "", "Nobody", "To no one")
        (kept,) = caught_mail(db.session())
    assert (kept.recipient, kept.subject, kept.text, kept.html) == (
        "pat@example.org",
        "Recibo R1",
        "Uno\nDos",
        "<p>Hola</p>",
    )
    assert kept.sender == app.config["UTILITY_EMAIL"] and kept.language == "es" and kept.sent_at is not None


def test_the_catcher_keeps_only_the_newest_messages(app: Flask) -> None:
    with app.app_context():  # no request: the message is in the default language
        for n in range(KEPT + 3):
            assert send_mail(app.config, "pat@example.org", f"Message {n}", "Text")
        kept = caught_mail(db.session())
        assert db.session.scalar(select(func.count()).select_from(DevMail)) == KEPT
    assert [m.subject for m in kept][:2] == [f"Message {KEPT + 2}", f"Message {KEPT + 1}"]
    assert kept[-1].subject == "Message 3" and {m.language for m in kept} == {"en"}


def test_production_without_smtp_host_sends_and_keeps_nothing(make_app: Callable[..., Flask]) -> None:
    app = make_app(**PRODUCTION)
    with app.test_request_context():
        assert not send_mail(app.config, "pat@example.org", "Receipt", "Text")
        assert db.session.scalar(select(func.count()).select_from(DevMail)) == 0
