"""Payment fixtures: the development processor and a real SMTP server in threads, and a portal served over HTTP.

The portal is served on a real port as well as driven by Flask's test client, so that the processor's
signed webhooks reach it over HTTP exactly as they would in production.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient

from app.payments.devprocessor import DevProcessorServer
from tests.billing.pages import add_links, load_demo, resident_id
from tests.browser.conftest import free_port
from tests.support.payments import APPROVE, DECLINE, NO_FUNDS, Mailbox, Processor, pay_on_hosted_page
from tests.support.signin import open_session
from tests.support.threads import serve

# Kept importable from here for the modules that still do; new code imports them from tests.support.payments.
__all__ = ["APPROVE", "DECLINE", "NO_FUNDS", "Mailbox", "Processor", "pay_on_hosted_page"]


@pytest.fixture(scope="session")
def processor() -> Iterator[Processor]:
    """The development processor on a free port, for the whole session."""
    server = DevProcessorServer()
    with serve(server) as url:
        yield Processor(url, server)


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
