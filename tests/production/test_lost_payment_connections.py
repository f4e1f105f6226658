"""A database connection lost right after the payment processor answered never gives a resident a 500.

The portal runs under real gunicorn on PostgreSQL with the development processor (in this process, its
webhooks held back so that the return page is what records the outcome). A request asks for its own
connection to be ended (``X-Test-Terminate``, tests/support/terminations.py) after the processor call: on
Pay, when the hosted page's id is written, when the audit row is, or at the COMMIT; on the return page, when
the payment row is locked, when the outbox row is written, or at the COMMIT. Such a request is not
dispatched again (the processor was called), so it answers with a page that says what happened, and the
next try finds the payment as it really is: never one whose transaction was rolled back.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import requests

from app.dev.payments import DevProcessorServer
from tests.support.gunicorn import BIN, ROOT, gunicorn, migrate, sign_in_over_http
from tests.support.ports import free_port
from tests.support.terminations import HEADER, MARK
from tests.support.threads import serve

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CSRF = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
ATTEMPT = re.compile(r'name="attempt" type="hidden" value="([^"]+)"')
CARD = {"number": "4242 4242 4242 4242", "expiry": "12/99", "cvc": "123", "action": "pay"}


@dataclass
class Portal:
    """The portal's URL, its server log and its database."""

    base: str
    log: Path
    database_url: str

    def terminations(self) -> int:
        return self.log.read_text().count(MARK)

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        with psycopg.connect(self.database_url) as conn:
            return list(conn.execute(sql).fetchall())


@pytest.fixture
def portal(gunicorn_env: dict[str, str], database_url: str, tmp_path: Path) -> Iterator[Portal]:
    """The portal with demo billing data under gunicorn with the termination hook, on a development processor
    that holds its webhooks back."""
    migrate(gunicorn_env)
    subprocess.run([BIN / "flask", "--app", "wsgi", "billing", "demo"], cwd=ROOT,
                   env={**os.environ, **gunicorn_env}, check=True, capture_output=True)  # fmt: skip
    with serve(DevProcessorServer(deliver_webhooks=False)) as processor_url:
        env = {**gunicorn_env, "DEV_PAYMENTS_PORT": str(urlsplit(processor_url).port)}
        log = tmp_path / "gunicorn.log"
        with gunicorn(env, free_port(), log, config="tests/support/terminations.conf.py") as base:
            yield Portal(base, log, database_url)


def _payer(portal: Portal) -> requests.Session:
    """A resident signed in over HTTP with account 100001 linked."""
    browser = requests.Session()
    sign_in_over_http(browser, portal.base, "payer")
    page = browser.get(f"{portal.base}/accounts/link", timeout=10)
    match = CSRF.search(page.text)
    assert match, page.text
    linked = browser.post(
        f"{portal.base}/accounts/link",
        data={"csrf_token": match.group(1), "account_no": "100001", "customer_id": "2000001"},
        allow_redirects=False,
        timeout=15,
    )
    assert linked.status_code == 302, linked.text
    return browser


def _pay_form(portal: Portal, browser: requests.Session) -> dict[str, str]:
    page = browser.get(f"{portal.base}/accounts/100001/pay", timeout=10)
    csrf, attempt = CSRF.search(page.text), ATTEMPT.search(page.text)
    assert page.status_code == 200 and csrf and attempt, page.text
    return {"csrf_token": csrf.group(1), "attempt": attempt.group(1), "amount": "42.50", "method": "card"}


def _pay(portal: Portal, browser: requests.Session, form: dict[str, str], terminate: str = "") -> requests.Response:
    return browser.post(
        f"{portal.base}/accounts/100001/pay",
        data=form,
        headers={HEADER: terminate} if terminate else {},
        allow_redirects=False,
        timeout=15,
    )


def _on_hosted_page(checkout_url: str) -> str:
    """Pay by card on the processor's page; the portal path it sends the resident back to."""
    paid = requests.post(checkout_url, data=CARD, allow_redirects=False, timeout=10)
    assert paid.status_code == 303, paid.text
    return urlsplit(paid.headers["Location"]).path


@pytest.mark.parametrize("point", ["UPDATE payment SET", "INSERT INTO payment_event", "COMMIT"])
def test_pay_cut_off_after_the_processor_answered_says_nothing_was_charged(portal: Portal, point: str) -> None:
    browser = _payer(portal)
    form = _pay_form(portal, browser)
    before = portal.terminations()
    response = _pay(portal, browser, form, terminate=point)
    assert portal.terminations() == before + 1, portal.log.read_text()
    assert response.status_code == 503, portal.log.read_text()
    assert "Your payment was not started" in response.text and "Nothing was charged" in response.text
    assert portal.rows("SELECT count(*) FROM payment") == [(0,)]  # rolled back: nothing to land on

    again = _pay(portal, browser, form)  # the same form sent again (the resident presses Try again)
    assert again.status_code == 303, portal.log.read_text()
    back = _on_hosted_page(again.headers["Location"])
    [(public_id,)] = portal.rows("SELECT public_id FROM payment")
    assert back == f"/payments/{public_id}/return"  # the row that exists, not the one rolled back
    done = browser.get(portal.base + back, allow_redirects=False, timeout=15)
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/payments/{public_id}")
    assert "Payment received" in browser.get(portal.base + done.headers["Location"], timeout=10).text
    assert portal.rows("SELECT status, amount_cents FROM payment") == [("succeeded", 4250)]
    assert portal.rows("SELECT kind FROM portal_change") == [("payment",)]


@pytest.mark.parametrize("point", ["UPDATE payment SET", "INSERT INTO portal_change", "COMMIT"])
def test_return_page_cut_off_after_the_status_check_says_we_are_checking(portal: Portal, point: str) -> None:
    browser = _payer(portal)
    started = _pay(portal, browser, _pay_form(portal, browser))
    assert started.status_code == 303, portal.log.read_text()
    back = _on_hosted_page(started.headers["Location"])
    before = portal.terminations()
    response = browser.get(portal.base + back, headers={HEADER: point}, allow_redirects=False, timeout=15)
    assert portal.terminations() == before + 1, portal.log.read_text()
    assert response.status_code == 302, portal.log.read_text()
    waiting = browser.get(portal.base + response.headers["Location"], timeout=10)
    assert waiting.status_code == 200 and "We are waiting for the payment processor to confirm" in waiting.text
    assert "Don't pay again" in waiting.text
    assert portal.rows("SELECT status FROM payment") == [("open",)]  # as the lost transaction left it
    assert portal.rows("SELECT count(*) FROM portal_change") == [(0,)]

    done = browser.get(portal.base + back, allow_redirects=False, timeout=15)  # "Refresh this page"
    assert done.status_code == 302
    assert "Payment received" in browser.get(portal.base + done.headers["Location"], timeout=10).text
    assert portal.rows("SELECT status FROM payment") == [("succeeded",)]
    assert portal.rows("SELECT kind FROM portal_change") == [("payment",)]  # once
