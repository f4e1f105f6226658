"""Payment fixtures: the development processor and a real SMTP server in threads, and a portal served over HTTP.

The portal is served on a real port as well as driven by Flask's test client, so that the processor's
signed webhooks reach it over HTTP exactly as they would in production.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient

from app.payments.devprocessor import DevProcessorServer
from tests.billing.pages import add_links, load_demo, resident_id
from tests.browser.conftest import free_port
from tests.support.signin import open_session
from tests.support.threads import serve

APPROVE = "4242 4242 4242 4242"
DECLINE = "4000 0000 0000 0002"
NO_FUNDS = "4000 0000 0000 9995"


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


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        with self.box.lock:
            self.box.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture(scope="session")
def smtp() -> Iterator[tuple[int, Mailbox]]:
    """A real SMTP server (aiosmtpd) on a free port; yields the port and its mailbox."""
    box = Mailbox()
    port = free_port()
    controller = Controller(_Handler(box), hostname="127.0.0.1", port=port)
    controller.start()
    yield port, box
    controller.stop()


@pytest.fixture
def mailbox(smtp: tuple[int, Mailbox]) -> Mailbox:
    """The test mailbox, emptied for this test."""
    with smtp[1].lock:
        smtp[1].messages.clear()
    return smtp[1]


@pytest.fixture
def pay_app(make_app: Callable[..., Flask], processor: Processor, smtp: tuple[int, Mailbox]) -> Iterator[Flask]:
    """A portal on the development processor, sending mail to the test SMTP server, also served over HTTP."""
    port = free_port()
    app = make_app(
        DEV_PAYMENTS_PORT=processor.port,
        PORTAL_BASE_URL=f"http://localhost:{port}",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=smtp[0],
        SMTP_STARTTLS=False,
        SMTP_FROM="billing@testville.example",
    )
    load_demo(app)
    with serve(app, port):
        yield app


@pytest.fixture
def pat(pay_app: Flask) -> FlaskClient:
    """Signed in as "pat" (pat@example.org) with an open account, a closed one and a previous occupant's."""
    client = pay_app.test_client()
    open_session(client, "pat")
    add_links(
        pay_app, resident_id(pay_app, "pat"), [("100001", "2000001"), ("100003", "2000003"), ("100004", "2000004")]
    )
    return client


def pay_on_hosted_page(checkout_url: str, *, number: str = APPROVE, action: str = "pay", **extra: str) -> str:
    """Fill the processor's hosted page like a resident would; return the portal path it sends them back to."""
    assert requests.get(checkout_url, timeout=5).status_code == 200
    data = {"number": number, "expiry": "12/39", "cvc": "123", "action": action, **extra}
    response = requests.post(checkout_url, data=data, allow_redirects=False, timeout=10)
    assert response.status_code == 303, response.text
    location = urlsplit(response.headers["Location"])
    return location.path
