"""The Stripe adapter against stripe-mock (Stripe's own API mock), and Stripe's webhook signature scheme.

stripe-mock (pinned in ``tests/support/keycloak.py``) is built from the Go module proxy into the cache by
``make keycloak-deps``; in CI a missing binary fails these tests, elsewhere they are skipped. It answers every call
with fixed fixture objects and keeps no state, so these tests check the requests the SDK makes are accepted
by Stripe's OpenAPI description and that the answers are read correctly; they cannot check Stripe's behaviour
over time (a session being paid, a card declined). The webhook tests use Stripe's documented scheme.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from app.payments.processor import CANCELLED, OPEN, SUCCEEDED, InvalidWebhook, Outcome, sign
from app.payments.stripe_processor import StripeProcessor
from tests.support import keycloak as deps
from tests.support.pages import csrf_token_from
from tests.support.ports import free_port

SECRET = "whsec_test_secret"


@pytest.fixture(scope="session")
def stripe_mock() -> Iterator[str]:
    """The pinned stripe-mock from the cache on a free port; yields its base URL."""
    binary = deps.stripe_mock_binary()
    if not binary.exists():
        message = f"stripe-mock {deps.STRIPE_MOCK_VERSION} is not built ({binary} is missing): run make keycloak-deps"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    # Its HTTPS side would take 12112 by default, which a second run (another xdist worker) then cannot.
    listen = ["-http-addr", f"127.0.0.1:{port}", "-https-addr", "127.0.0.1:0"]
    process = subprocess.Popen([str(binary), *listen], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # It listens once it has loaded Stripe's API description: seconds, more on a busy machine.
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert process.poll() is None, f"stripe-mock exited with {process.returncode}"
                assert time.monotonic() < deadline, "stripe-mock did not listen within 60 s"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def stripe_processor(stripe_mock: str) -> StripeProcessor:
    return StripeProcessor("sk_test_123", SECRET, api_base=stripe_mock)


def test_checkout_session_and_status_check(stripe_processor: StripeProcessor) -> None:
    checkout = stripe_processor.create_checkout(
        amount_cents=4250,
        method="card",
        description="Account 100001",
        idempotency_key="pay-test-1",
        success_url="https://portal.example/payments/x/return",
        cancel_url="https://portal.example/payments/x/cancelled",
        webhook_url="https://portal.example/payments/webhook",
        email="pat@example.org",
    )
    assert checkout.id.startswith("cs_") and checkout.url
    outcome = stripe_processor.checkout_outcome(checkout.id)
    assert outcome.status in (OPEN, SUCCEEDED, CANCELLED)


def test_setup_and_off_session_charge(stripe_processor: StripeProcessor) -> None:
    setup = stripe_processor.create_setup(
        method="ach",
        idempotency_key="setup-test-1",
        success_url="https://portal.example/a",
        cancel_url="https://portal.example/b",
        webhook_url="https://portal.example/payments/webhook",
        email="pat@example.org",
    )
    assert setup.id.startswith("cs_")
    outcome = stripe_processor.charge_saved(
        method_id="cus_123:pm_123", amount_cents=1000, idempotency_key="autopay-test-1", description="Auto Pay"
    )
    assert outcome.status in (SUCCEEDED, OPEN, "failed")
    if outcome.status == SUCCEEDED:
        assert outcome.reference and outcome.reference.startswith("pi_")


def stripe_event(kind: str, session: dict[str, Any], event_id: str = "evt_1") -> bytes:
    return json.dumps({"id": event_id, "object": "event", "type": kind, "data": {"object": session}}).encode()


def test_webhook_signature_follows_stripes_scheme(stripe_processor: StripeProcessor) -> None:
    session = {"id": "cs_test_1", "object": "checkout.session", "mode": "payment", "status": "complete"}
    session |= {"payment_status": "paid", "payment_intent": "pi_123"}
    body = stripe_event("checkout.session.completed", session)
    event = stripe_processor.parse_webhook(body, {"Stripe-Signature": sign(SECRET, body)})
    assert (event.id, event.checkout_id) == ("evt_1", "cs_test_1")
    assert (event.outcome.status, event.outcome.reference) == (SUCCEEDED, "pi_123")
    expired = stripe_event("checkout.session.expired", {**session, "status": "expired"}, "evt_2")
    assert (
        stripe_processor.parse_webhook(expired, {"Stripe-Signature": sign(SECRET, expired)}).outcome.status == CANCELLED
    )
    for header in (sign("whsec_wrong", body), sign(SECRET, body, int(time.time()) - 3600), "", "t=1,v1=00"):
        with pytest.raises(InvalidWebhook):
            stripe_processor.parse_webhook(body, {"Stripe-Signature": header})
    with pytest.raises(InvalidWebhook):
        stripe_processor.parse_webhook(body + b" ", {"Stripe-Signature": sign(SECRET, body)})


def test_the_portal_pays_through_stripe(make_app: Any, stripe_mock: str) -> None:
    from tests.billing.pages import add_links, load_demo, resident_id
    from tests.support.signin import open_session

    app: Flask = make_app(
        PAYMENT_PROCESSOR="stripe",
        STRIPE_SECRET_KEY="sk_test_123",
        STRIPE_WEBHOOK_SECRET=SECRET,
        STRIPE_API_BASE=stripe_mock,
    )
    load_demo(app)
    client = app.test_client()
    open_session(client, "pat")
    add_links(app, resident_id(app, "pat"), [("100001", "2000001")])
    html = client.get("/accounts/100001/pay").get_data(as_text=True)
    attempt = html.split('name="attempt" type="hidden" value="', 1)[1].split('"', 1)[0]
    data = {"csrf_token": csrf_token_from(html), "attempt": attempt, "amount": "42.50", "method": "card"}
    response = client.post("/accounts/100001/pay", data=data)
    assert response.status_code == 303 and response.headers["Location"].startswith("https://")

    from sqlalchemy import select

    from app.database.db import db
    from app.payments.models import Payment

    with app.app_context():
        payment = db.session.scalar(select(Payment))
        assert payment is not None and payment.processor == "stripe" and payment.checkout_id
        checkout_id = payment.checkout_id
    session = {"id": checkout_id, "object": "checkout.session", "mode": "payment", "status": "complete"}
    body = stripe_event("checkout.session.completed", session | {"payment_status": "paid", "payment_intent": "pi_9"})
    forged = client.post("/payments/webhook", data=body, headers={"Stripe-Signature": sign("whsec_x", body)})
    assert forged.status_code == 400
    signed = client.post("/payments/webhook", data=body, headers={"Stripe-Signature": sign(SECRET, body)})
    assert signed.status_code == 200 and signed.get_json() == {"result": "applied"}
    with app.app_context():
        paid = db.session.scalar(select(Payment))
        assert paid is not None and (paid.status, paid.reference) == ("succeeded", "pi_9")


def _signed_event(kind: str, obj: dict[str, Any], event_id: str) -> tuple[bytes, dict[str, str]]:
    body = stripe_event(kind, obj, event_id)
    return body, {"Stripe-Signature": sign(SECRET, body)}


def test_payment_intent_states_mean_what_stripe_documents() -> None:
    from app.payments.processor import FAILED, PROCESSING, RETURNED
    from app.payments.stripe_processor import intent_outcome

    assert intent_outcome({"id": "pi_1", "status": "processing"}) == Outcome(PROCESSING, reference="pi_1")
    assert intent_outcome({"id": "pi_1", "status": "succeeded"}) == Outcome(SUCCEEDED, reference="pi_1")
    failed = {"id": "pi_1", "status": "requires_payment_method", "last_payment_error": {"code": "account_closed"}}
    assert intent_outcome(failed) == Outcome(FAILED, failure="account_closed")
    assert intent_outcome({"id": "pi_1", "status": "requires_payment_method"}).status == OPEN  # not tried yet
    disputed = {"id": "pi_1", "status": "succeeded", "latest_charge": {"id": "ch_1", "disputed": True}}
    assert intent_outcome(disputed) == Outcome(RETURNED, reference="pi_1")


def test_bank_debit_webhooks_finish_a_processing_debit_and_a_dispute_returns_it(
    stripe_processor: StripeProcessor,
) -> None:
    from app.payments.processor import FAILED, PROCESSING, RETURNED

    unpaid = {"id": "cs_ach", "object": "checkout.session", "mode": "payment", "status": "complete"}
    unpaid |= {"payment_status": "unpaid", "payment_intent": "pi_ach"}
    event = stripe_processor.parse_webhook(*_signed_event("checkout.session.completed", unpaid, "evt_a"))
    assert (event.checkout_id, event.outcome) == ("cs_ach", Outcome(PROCESSING, reference="pi_ach"))
    intent = {"id": "pi_ach", "object": "payment_intent", "status": "succeeded"}
    event = stripe_processor.parse_webhook(*_signed_event("payment_intent.succeeded", intent, "evt_b"))
    assert (event.checkout_id, event.reference, event.outcome.status) == (None, "pi_ach", SUCCEEDED)
    bounced = {**intent, "status": "requires_payment_method", "last_payment_error": {"code": "insufficient_funds"}}
    event = stripe_processor.parse_webhook(*_signed_event("payment_intent.payment_failed", bounced, "evt_c"))
    assert (event.reference, event.outcome) == ("pi_ach", Outcome(FAILED, failure="insufficient_funds"))
    dispute = {"id": "dp_1", "object": "dispute", "payment_intent": "pi_ach", "reason": "debit_not_authorized"}
    event = stripe_processor.parse_webhook(*_signed_event("charge.dispute.created", dispute, "evt_d"))
    assert (event.reference, event.outcome.status, event.outcome.failure) == (
        "pi_ach",
        RETURNED,
        "debit_not_authorized",
    )


def test_the_adapter_reads_charges_refunds_and_intents_from_stripe(stripe_processor: StripeProcessor) -> None:
    from datetime import UTC, datetime

    records = stripe_processor.records(datetime(2009, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))
    kinds = sorted(r.kind for r in records)
    assert kinds == ["charge", "refund"]  # stripe-mock's fixture list: one of each, every page read
    charge = next(r for r in records if r.kind == "charge")
    refund = next(r for r in records if r.kind == "refund")
    assert charge.id.startswith("ch_") and charge.amount_cents > 0 and charge.created.tzinfo is not None
    assert refund.id.startswith("re_") and refund.reference == charge.reference  # refunded by the charge's id
    found = stripe_processor.find_charge("pi_123")
    assert found is not None and found.kind == "charge" and found.reference.startswith("pi_")
    assert found.amount_cents > 0 and found.status in (OPEN, SUCCEEDED, "failed", "processing")
    assert stripe_processor.find_charge("cs_test_1") is None  # a Checkout Session id has no charge of its own


def test_an_ach_payment_through_stripe_processes_settles_and_is_returned(make_app: Any, stripe_mock: str) -> None:
    from sqlalchemy import select

    from app.billing.models import PortalChange
    from app.database.db import db
    from app.payments.models import Payment
    from tests.billing.pages import add_links, load_demo, resident_id
    from tests.support.signin import open_session

    app: Flask = make_app(
        PAYMENT_PROCESSOR="stripe",
        STRIPE_SECRET_KEY="sk_test_123",
        STRIPE_WEBHOOK_SECRET=SECRET,
        STRIPE_API_BASE=stripe_mock,
    )
    load_demo(app)
    client = app.test_client()
    open_session(client, "pat")
    add_links(app, resident_id(app, "pat"), [("100001", "2000001")])
    html = client.get("/accounts/100001/pay").get_data(as_text=True)
    attempt = html.split('name="attempt" type="hidden" value="', 1)[1].split('"', 1)[0]
    data = {"csrf_token": csrf_token_from(html), "attempt": attempt, "amount": "42.50", "method": "ach"}
    assert client.post("/accounts/100001/pay", data=data).status_code == 303

    def payment() -> Payment:
        with app.app_context():
            found = db.session.scalar(select(Payment))
            assert found is not None
            db.session.expunge(found)
            return found

    def kinds() -> list[str]:
        with app.app_context():
            return list(db.session.scalars(select(PortalChange.kind).order_by(PortalChange.id)))

    def deliver(kind: str, obj: dict[str, Any], event_id: str) -> Any:
        body, headers = _signed_event(kind, obj, event_id)
        return client.post("/payments/webhook", data=body, headers=headers).get_json()

    session = {"id": payment().checkout_id, "object": "checkout.session", "mode": "payment", "status": "complete"}
    unpaid = session | {"payment_status": "unpaid", "payment_intent": "pi_ach9"}
    assert deliver("checkout.session.completed", unpaid, "e1") == {"result": "applied"}
    assert (payment().status, payment().reference) == ("processing", "pi_ach9")
    page = client.get(f"/payments/{payment().public_id}").get_data(as_text=True)
    assert "We are processing your bank payment" in page and "declined" not in page
    assert kinds() == []
    intent = {"id": "pi_ach9", "object": "payment_intent", "status": "succeeded", "amount": 4250}
    assert deliver("payment_intent.succeeded", intent, "e2") == {"result": "applied"}
    assert deliver("checkout.session.async_payment_succeeded", session | {"payment_status": "paid"}, "e3") == {
        "result": "ignored"  # the same news from the session: counted once
    }
    assert payment().status == "succeeded" and kinds() == ["payment"]
    dispute = {"id": "dp_9", "object": "dispute", "payment_intent": "pi_ach9", "reason": "insufficient_funds"}
    assert deliver("charge.dispute.created", dispute, "e4") == {"result": "applied"}
    assert (payment().status, payment().failure) == ("returned", "insufficient_funds")
    assert kinds() == ["payment", "payment_returned"]


def test_reconcile_reads_stripes_books(make_app: Any, stripe_mock: str) -> None:
    app: Flask = make_app(
        PAYMENT_PROCESSOR="stripe",
        STRIPE_SECRET_KEY="sk_test_123",
        STRIPE_WEBHOOK_SECRET=SECRET,
        STRIPE_API_BASE=stripe_mock,
    )
    result = app.test_cli_runner().invoke(args=["payments", "reconcile", "--date", "2009-02-13"])
    # stripe-mock answers every list with its fixture charge and its refund, which the portal has not got.
    assert result.exit_code == 1, result.output
    assert "1 charges and 1 refunds at the processor, 0 payments in the portal" in result.output
    assert result.output.count("processor_only") == 2 and "2 mismatches." in result.output
