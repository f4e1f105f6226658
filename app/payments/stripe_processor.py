"""Stripe as the payment processor (``PAYMENT_PROCESSOR=stripe``), through the official ``stripe`` SDK.

One-time payments are Checkout Sessions (``mode=payment``); Auto Pay saves a method with a Checkout Session in
``mode=setup`` on a Stripe Customer and charges it off-session with a PaymentIntent. Webhooks are verified
with Stripe's signature scheme (``Stripe-Signature``, ``STRIPE_WEBHOOK_SECRET``). Every call that could
charge carries the portal's idempotency key. Network failures and Stripe's 5xx become ProcessorUnavailable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import stripe

from app.payments.processor import (
    CANCELLED,
    FAILED,
    OPEN,
    SUCCEEDED,
    Checkout,
    InvalidWebhook,
    Outcome,
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
        if _get(session, "payment_status") == "paid":
            intent = _get(session, "payment_intent")
            reference = intent if isinstance(intent, str) else _get(intent, "id")
            return Outcome(SUCCEEDED, reference=reference or str(_get(session, "id")))
        return Outcome(OPEN)  # complete but unpaid: a bank debit still processing

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
        if _get(intent, "status") == "succeeded":
            return Outcome(SUCCEEDED, reference=str(intent.id))
        if _get(intent, "status") == "processing":
            return Outcome(OPEN, reference=str(intent.id))
        return Outcome(FAILED, failure=str(_get(intent, "status") or "failed")[:40])

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        """Verify ``Stripe-Signature`` and read a Checkout Session event."""
        try:
            event = stripe.Webhook.construct_event(body, headers.get("Stripe-Signature"), self.webhook_secret)
        except (stripe.SignatureVerificationError, ValueError) as exc:
            raise InvalidWebhook(str(exc)[:100]) from None
        session = _get(_get(event, "data"), "object")
        kind = str(_get(event, "type") or "")
        checkout_id = str(_get(session, "id") or "") or None
        if kind == "checkout.session.async_payment_failed":
            outcome = Outcome(FAILED, failure="bank_debit_failed")
        elif kind == "checkout.session.expired":
            outcome = Outcome(CANCELLED)
        elif kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
            outcome = self._session_outcome(session)
        else:
            outcome = Outcome(OPEN)
        return WebhookEvent(id=str(_get(event, "id")), checkout_id=checkout_id, outcome=outcome)


class _Retrieve:
    """``retrieve(id, params)`` shaped like the ``create(params=..., options=...)`` calls ``_call`` makes."""

    def __init__(self, fn: Any, object_id: str, expand: list[str]) -> None:
        self.fn, self.object_id, self.expand = fn, object_id, expand

    def __call__(self, *, params: dict[str, Any], options: Any) -> Any:
        return self.fn(self.object_id, params={"expand": self.expand})
