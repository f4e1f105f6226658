"""The development processor for tests: its session fixture, the test card numbers, and its hosted page.

Registered for every test in ``tests/conftest.py`` (``processor`` is shared by ``tests/payments`` and the
browser's payment journeys). The SMTP server and the payment portals are fixtures of ``tests/payments/conftest.py``.
Test cards (``app.payments.devprocessor``): :data:`APPROVE` pays, :data:`DECLINE` is declined and
:data:`NO_FUNDS` fails for insufficient funds; saving any of them for Auto Pay works, and the charges show
how the card behaves. Bank accounts (with any nine-digit :data:`ROUTING`): :data:`BANK_OK` pays and
:data:`BANK_NO_FUNDS` fails for insufficient funds.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import Message
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.billing import city_today
from app.billing.models import BillingAccount, BillingBill
from app.database.db import db
from app.dev.payments import DevProcessorServer
from tests.support.pages import csrf_token_from
from tests.support.threads import serve

APPROVE = "4242 4242 4242 4242"
DECLINE = "4000 0000 0000 0002"
NO_FUNDS = "4000 0000 0000 9995"
ROUTING = "110000000"
BANK_OK = "000123456789"
BANK_NO_FUNDS = "000111111113"


@dataclass
class Processor:
    """The development processor under test: its URL and its in-memory state."""

    url: str
    server: DevProcessorServer

    @property
    def port(self) -> int:
        return int(urlsplit(self.url).port or 0)


@pytest.fixture(scope="session")
def processor() -> Iterator[Processor]:
    """The development processor on a free port, for the whole session."""
    server = DevProcessorServer()
    with serve(server) as url:
        yield Processor(url, server)


@dataclass
class Mailbox:
    """Messages received by the test SMTP server."""

    messages: list[Message] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def to(self, address: str) -> list[Message]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]


def pay_on_hosted_page(checkout_url: str, *, number: str = APPROVE, action: str = "pay", **extra: str) -> str:
    """Fill the processor's hosted page like a resident would; return the portal path it sends them back to."""
    assert requests.get(checkout_url, timeout=5).status_code == 200
    data = {"number": number, "expiry": "12/99", "cvc": "123", "action": action, **extra}
    response = requests.post(checkout_url, data=data, allow_redirects=False, timeout=10)
    assert response.status_code == 303, response.text
    location = urlsplit(response.headers["Location"])
    return location.path


def form_tokens(html: str) -> dict[str, str]:
    """The CSRF and attempt tokens of the page's payment form, to submit it as the browser would."""
    attempt = html.split('name="attempt" type="hidden" value="', 1)[1].split('"', 1)[0]
    return {"csrf_token": csrf_token_from(html), "attempt": attempt}


def enrol(client: FlaskClient, *, number: str = APPROVE, max_amount: str = "", method: str = "card") -> Any:
    """Submit the Auto Pay form and save a card on the processor's page; return the portal's answer."""
    html = client.get("/accounts/100001/autopay").get_data(as_text=True)
    attempt = html.split('name="attempt" type="hidden" value="', 1)[1].split('"', 1)[0]
    data = {"csrf_token": csrf_token_from(html), "attempt": attempt, "method": method, "max_amount": max_amount}
    started = client.post("/accounts/100001/autopay", data=data)
    assert started.status_code == 303, started.get_data(as_text=True)
    back = pay_on_hosted_page(started.headers["Location"], number=number)
    return client.get(back)


def new_bill(app: Flask, bill_no: str, cents: int, *, due_in_days: int = 0) -> None:
    """A bill arriving with the next import: dated today, due in ``due_in_days``."""
    with app.app_context():
        account = db.session.scalar(select(BillingAccount).filter_by(account_no="100001"))
        assert account is not None
        today = city_today()
        db.session.add(
            BillingBill(
                bill_no=bill_no,
                account_no=account.account_no,
                customer_id="2000001",
                bill_date=today,
                due_date=today + timedelta(days=due_in_days),
                amount_cents=cents,
                balance_cents=cents,
            )
        )
        db.session.commit()


def run_job(app: Flask) -> str:
    """``flask payments run``, which must succeed; its output."""
    result = app.test_cli_runner().invoke(args=["payments", "run"])
    assert result.exit_code == 0, result.output
    return result.output
