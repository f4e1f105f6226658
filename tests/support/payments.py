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
from email.message import Message
from urllib.parse import urlsplit

import pytest
import requests

from app.payments.devprocessor import DevProcessorServer
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
