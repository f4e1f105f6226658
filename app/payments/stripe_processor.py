"""Stripe as the payment processor (``PAYMENT_PROCESSOR=stripe``), through the official ``stripe`` SDK.

One-time payments are Checkout Sessions (``mode=payment``); Auto Pay saves a method with a Checkout Session in
``mode=setup`` on a Stripe Customer and charges it off-session with a PaymentIntent. Webhooks are verified
with Stripe's signature scheme (``Stripe-Signature``, ``STRIPE_WEBHOOK_SECRET``). Every call that could
charge carries the portal's idempotency key. Network failures and Stripe's 5xx become ProcessorUnavailable.

A bank debit (``us_bank_account``) is a PaymentIntent in ``processing`` for days: a completed Checkout Session
that is still ``unpaid``, or an off-session charge that answers ``processing``. It ends with
``payment_intent.succeeded``, or ``payment_intent.payment_failed`` (the intent goes back to
``requires_payment_method`` with its ``last_payment_error``); a debit taken back after it succeeded shows
as a dispute (``charge.dispute.created``, the intent's latest charge ``disputed``). The charge's reference is
its PaymentIntent's id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import stripe

from app.payments.processor import (
    CANCELLED,
    FAILED,
    OPEN,
    PROCESSING,
    RETURNED,
    SUCCEEDED,
    Checkout,
    InvalidWebhook,
    Outcome,
    ProcessorRecord,
    ProcessorUnavailable,
    WebhookEvent,
)

TIMEOUT = 10
_METHOD_TYPES = {"card": ["card"], "ach": ["us_bank_account"]}


def _get(obj: Any, name: str) -> Any:
    """A field of a Stripe object or plain dict (webhook payloads), None when absent."""
    if obj is None or isinstance(obj, str):
        return None
    try:
        return obj[name]
    except (KeyError, TypeError):
        return getattr(obj, name, None)


def _id(obj: Any) -> str | None:
    """The id of an expanded object, or the id itself when it was not expanded."""
    if isinstance(obj, str):
        return obj or None
    found = _get(obj, "id")
    return str(found) if found else None


def _failure(intent: Any) -> str:
    """Why a PaymentIntent's last attempt failed: the bank's or card's code, as short as Stripe gives it."""
    error = _get(intent, "last_payment_error")
    code = _get(error, "decline_code") or _get(error, "code") or _get(intent, "status") or "failed"
    return str(code)[:40]


def intent_outcome(intent: Any) -> Outcome:
    """What a PaymentIntent's state means to the portal (its id is the reference).

    ``processing`` is a bank debit on its way, never a failure; ``requires_payment_method`` after an attempt
    (``last_payment_error``) is a failed debit or a declined card; a succeeded intent whose latest charge is
    disputed was taken back (a returned debit, a chargeback).
    """
    status, reference = _get(intent, "status"), _id(intent)
    if status == "succeeded":
        return Outcome(RETURNED if _get(_get(intent, "latest_charge"), "disputed") else SUCCEEDED, reference=reference)
    if status == "processing":
        return Outcome(PROCESSING, reference=reference)
    if status == "requires_payment_method" and _get(intent, "last_payment_error") is not None:
        return Outcome(FAILED, failure=_failure(intent))
    if status == "canceled":
        return Outcome(CANCELLED)
    return Outcome(OPEN)


def _time(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value or 0), UTC)


def _label(method: Any) -> str:
    card, bank = _get(method, "card"), _get(method, "us_bank_account")
    if card is not None and _get(card, "last4"):
        return f"Card ending {_get(card, 'last4')}"
    if bank is not None and _get(bank, "last4"):
        return f"Bank account ending {_get(bank, 'last4')}"
    return ""


class StripeProcessor:
    """``PaymentProcessor`` on Stripe; ``api_base`` points the SDK elsewhere (stripe-mock in tests)."""

    name = "stripe"

    def __init__(self, secret_key: str, webhook_secret: str, *, api_base: str | None = None) -> None:
        self.webhook_secret = webhook_secret
        options: dict[str, Any] = {"max_network_retries": 1, "http_client": stripe.RequestsClient(timeout=TIMEOUT)}
        if api_base:
            options["base_addresses"] = {"api": api_base}
        self.client = stripe.StripeClient(secret_key, **options)

    def _call(self, fn: Any, params: dict[str, Any], key: str | None = None) -> Any:
        try:
            return fn(params=params, options={"idempotency_key": key} if key else None)
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            raise ProcessorUnavailable(type(exc).__name__) from None
        except stripe.APIError as exc:
            raise ProcessorUnavailable(f"Stripe API error {exc.http_status}") from None

    def create_checkout(
        self,
        *,
        amount_cents: int,
        method: str,
        description: str,
        idempotency_key: str,
        success_url: str,
        cancel_url: str,
        webhook_url: str,
        email: str,
    ) -> Checkout:
        """A Checkout Session for one payment (the webhook URL is configured in Stripe's dashboard)."""
        params: dict[str, Any] = {
            "mode": "payment",
            "payment_method_types": _METHOD_TYPES.get(method, ["card"]),
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": amount_cents,
                        "product_data": {"name": description},
                    },
                }
            ],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "metadata": {"portal_key": idempotency_key},
        }
        if email:
            params["customer_email"] = email
        session = self._call(self.client.v1.checkout.sessions.create, params, idempotency_key)
        return Checkout(id=str(session.id), url=str(session.url or ""))

    def create_setup(
        self, *, method: str, idempotency_key: str, success_url: str, cancel_url: str, webhook_url: str, email: str
    ) -> Checkout:
        """A Stripe Customer and a setup-mode Checkout Session that saves a method on it."""
        customer = self._call(
            self.client.v1.customers.create, {"email": email} if email else {}, f"{idempotency_key}-customer"
        )
        params = {
            "mode": "setup",
            "currency": "usd",
            "customer": customer.id,
            "payment_method_types": _METHOD_TYPES.get(method, ["card"]),
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
        session = self._call(self.client.v1.checkout.sessions.create, params, idempotency_key)
        return Checkout(id=str(session.id), url=str(session.url or ""))

    def _session_outcome(self, session: Any) -> Outcome:
        status, mode = _get(session, "status"), _get(session, "mode")
        if status == "expired":
            return Outcome(CANCELLED)
        if status != "complete":
            return Outcome(OPEN)
        if mode == "setup":
            intent = _get(session, "setup_intent")
            if isinstance(intent, str):
                intent = self._call(_Retrieve(self.client.v1.setup_intents.retrieve, intent, ["payment_method"]), {})
            method = _get(intent, "payment_method")
            customer = _get(session, "customer")
            customer_id = customer if isinstance(customer, str) else _get(customer, "id")
            method_id = method if isinstance(method, str) else _get(method, "id")
            if not method_id or not customer_id:
                return Outcome(FAILED, failure="no_method")
            return Outcome(SUCCEEDED, method_id=f"{customer_id}:{method_id}", method_label=_label(method))
        intent = _get(session, "payment_intent")
        if _get(session, "payment_status") == "paid":
            return Outcome(SUCCEEDED, reference=_id(intent) or str(_get(session, "id")))
        # Complete but unpaid: a bank debit on its way (the intent, when expanded, says how far it got).
        if isinstance(intent, str) or _get(intent, "status") in (None, "processing"):
            return Outcome(PROCESSING, reference=_id(intent)) if _id(intent) else Outcome(OPEN)
        return intent_outcome(intent)

    def checkout_outcome(self, checkout_id: str) -> Outcome:
        """Retrieve the Checkout Session server to server."""
        session = self._call(_Retrieve(self.client.v1.checkout.sessions.retrieve, checkout_id, ["payment_intent"]), {})
        return self._session_outcome(session)

    def charge_saved(self, *, method_id: str, amount_cents: int, idempotency_key: str, description: str) -> Outcome:
        """An off-session PaymentIntent on the saved method, confirmed at once."""
        customer, _, payment_method = method_id.partition(":")
        params = {
            "amount": amount_cents,
            "currency": "usd",
            "customer": customer,
            "payment_method": payment_method,
            "off_session": True,
            "confirm": True,
            "description": description,
        }
        try:
            intent = self._call(self.client.v1.payment_intents.create, params, idempotency_key)
        except stripe.CardError as exc:
            code = _get(exc.error, "decline_code") or exc.code or "declined"
            return Outcome(FAILED, failure=str(code)[:40])
        outcome = intent_outcome(intent)
        if outcome.status in (SUCCEEDED, PROCESSING, FAILED):
            return outcome
        # Off-session there is nobody to authenticate or pick another method: not charged.
        return Outcome(FAILED, failure=str(_get(intent, "status") or "failed")[:40])

    def find_charge(self, reference: str) -> ProcessorRecord | None:
        """The PaymentIntent ``reference`` (with its latest charge), None when Stripe has no such intent."""
        if not reference.startswith("pi_"):
            return None  # a Checkout Session id stored as the reference: it has no charge of its own
        try:
            intent = self._call(_Retrieve(self.client.v1.payment_intents.retrieve, reference, ["latest_charge"]), {})
        except stripe.InvalidRequestError:
            return None
        outcome = intent_outcome(intent)
        return ProcessorRecord(
            kind="charge",
            id=str(_get(intent, "id") or reference),
            reference=str(_get(intent, "id") or reference),
            amount_cents=int(_get(intent, "amount") or 0),
            status=outcome.status,
            created=_time(_get(intent, "created")),
            failure=outcome.failure,
        )

    def records(self, start: datetime, end: datetime) -> list[ProcessorRecord]:
        """Charges and refunds created in ``[start, end)``, every page of Stripe's lists."""
        window = {"created": {"gte": int(start.timestamp()), "lt": int(end.timestamp())}, "limit": 100}
        charges = self._call(self.client.v1.charges.list, dict(window))
        refunds = self._call(self.client.v1.refunds.list, dict(window))
        return [*map(_charge_record, self._pages(charges)), *map(_refund_record, self._pages(refunds))]

    @staticmethod
    def _pages(first: Any) -> Iterable[Any]:
        try:
            yield from first.auto_paging_iter()
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
            raise ProcessorUnavailable(type(exc).__name__) from None

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        """Verify ``Stripe-Signature`` and read a Checkout Session event."""
        try:
            event = stripe.Webhook.construct_event(body, headers.get("Stripe-Signature"), self.webhook_secret)
        except (stripe.SignatureVerificationError, ValueError) as exc:
            raise InvalidWebhook(str(exc)[:100]) from None
        session = _get(_get(event, "data"), "object")
        kind = str(_get(event, "type") or "")
        event_id = str(_get(event, "id"))
        if kind.startswith("payment_intent."):  # an Auto Pay charge, or a Checkout payment's intent
            return WebhookEvent(event_id, None, intent_outcome(session), reference=_id(session))
        if kind == "charge.dispute.created":  # taken back after it succeeded: a returned debit, a chargeback
            reference = _id(_get(session, "payment_intent"))
            reason = str(_get(session, "reason") or "disputed")[:40]
            return WebhookEvent(event_id, None, Outcome(RETURNED, reference=reference, failure=reason), reference)
        checkout_id = str(_get(session, "id") or "") or None
        if kind == "checkout.session.async_payment_failed":
            outcome = Outcome(FAILED, failure="bank_debit_failed")
        elif kind == "checkout.session.expired":
            outcome = Outcome(CANCELLED)
        elif kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
            outcome = self._session_outcome(session)
        else:
            outcome = Outcome(OPEN)
        return WebhookEvent(id=event_id, checkout_id=checkout_id, outcome=outcome)


def _charge_record(charge: Any) -> ProcessorRecord:
    """A Stripe Charge as a line of the books: ``pending`` is a debit on its way, a disputed one was taken back."""
    status = {"succeeded": SUCCEEDED, "pending": PROCESSING, "failed": FAILED}.get(str(_get(charge, "status")), OPEN)
    if status == SUCCEEDED and _get(charge, "disputed"):
        status = RETURNED
    return ProcessorRecord(
        kind="charge",
        id=str(_get(charge, "id")),
        reference=_id(_get(charge, "payment_intent")) or str(_get(charge, "id")),
        amount_cents=int(_get(charge, "amount") or 0),
        status=status,
        created=_time(_get(charge, "created")),
        failure=str(_get(charge, "failure_code") or "")[:40],
    )


def _refund_record(refund: Any) -> ProcessorRecord:
    """A Stripe Refund, by the reference of the payment it refunds."""
    return ProcessorRecord(
        kind="refund",
        id=str(_get(refund, "id")),
        reference=_id(_get(refund, "payment_intent")) or _id(_get(refund, "charge")) or "",
        amount_cents=int(_get(refund, "amount") or 0),
        status=str(_get(refund, "status") or ""),
        created=_time(_get(refund, "created")),
    )


class _Retrieve:
    """``retrieve(id, params)`` shaped like the ``create(params=..., options=...)`` calls ``_call`` makes."""

    def __init__(self, fn: Any, object_id: str, expand: list[str]) -> None:
        self.fn, self.object_id, self.expand = fn, object_id, expand

    def __call__(self, *, params: dict[str, Any], options: Any) -> Any:
        return self.fn(self.object_id, params={"expand": self.expand})
