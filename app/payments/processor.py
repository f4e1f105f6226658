"""The ``PaymentProcessor`` interface, its values, and the webhook signature scheme.

The portal hands the resident to the processor's hosted page and learns the outcome from the processor:
a signed webhook and a status check on return. Card and bank numbers never reach the portal.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

#: Outcomes a processor reports for a checkout or a charge.
OPEN = "open"
#: A bank (ACH) debit accepted and on its way: it settles (succeeded) or fails over the next business days.
PROCESSING = "processing"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
#: A charge that succeeded and was taken back later: a bank debit returned by the resident's bank, a dispute.
RETURNED = "returned"
OUTCOMES = (OPEN, PROCESSING, SUCCEEDED, FAILED, CANCELLED, RETURNED)
#: Webhook signatures older than this are refused (a captured request cannot be replayed later).
SIGNATURE_TOLERANCE = 300


class ProcessorUnavailable(Exception):
    """The processor did not answer in time or answered with a server error; nothing was charged by us."""


class InvalidWebhook(Exception):
    """A webhook whose signature, age or body is not acceptable."""


@dataclass(frozen=True)
class Checkout:
    """A hosted page at the processor: where to send the resident."""

    id: str
    url: str


@dataclass(frozen=True)
class Outcome:
    """What the processor says about a checkout or a charge."""

    status: str  #: one of OUTCOMES
    reference: str | None = None  #: the charge's reference at the processor
    failure: str = ""  #: declined, insufficient_funds, ...
    method_id: str = ""  #: a saved payment method (setup checkouts)
    method_label: str = ""


@dataclass(frozen=True)
class WebhookEvent:
    """A verified webhook: which checkout it is about, or which charge (by reference), and its outcome."""

    id: str
    checkout_id: str | None
    outcome: Outcome
    reference: str | None = None


@dataclass(frozen=True)
class ProcessorRecord:
    """One line of the processor's own books: a charge or a refund, as daily reconciliation reads them."""

    kind: str  #: charge or refund
    id: str  #: the processor's id of the charge or refund
    reference: str  #: the charge's reference (a refund: of the charge it refunds), as the portal stores it
    amount_cents: int
    status: str  #: a charge: one of OUTCOMES; a refund: the processor's word (succeeded, pending, failed)
    created: datetime  #: aware, UTC
    failure: str = ""


class PaymentProcessor(Protocol):
    """What the portal asks of a payment processor. Amounts are integer cents (US dollars)."""

    name: str

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
        """A hosted page that takes a one-time payment of ``amount_cents`` by ``method`` (card or ach)."""
        ...

    def create_setup(
        self, *, method: str, idempotency_key: str, success_url: str, cancel_url: str, webhook_url: str, email: str
    ) -> Checkout:
        """A hosted page that saves a payment method for later charges (Auto Pay); charges nothing."""
        ...

    def checkout_outcome(self, checkout_id: str) -> Outcome:
        """Ask the processor (server to server) how a checkout ended."""
        ...

    def charge_saved(self, *, method_id: str, amount_cents: int, idempotency_key: str, description: str) -> Outcome:
        """Charge a saved method now (Auto Pay); the same key never charges twice."""
        ...

    def find_charge(self, reference: str) -> ProcessorRecord | None:
        """The charge with this reference as the processor sees it now, None when it has none."""
        ...

    def records(self, start: datetime, end: datetime) -> list[ProcessorRecord]:
        """Every charge and refund the processor created from ``start`` up to (not including) ``end``."""
        ...

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        """Verify the signature and read the event; raises InvalidWebhook."""
        ...


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """A signature header value, ``t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">`` (Stripe's scheme)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def verify_signature(secret: str, body: bytes, header: str | None, *, now: float | None = None) -> None:
    """Check a ``t=...,v1=...`` header against ``body``; raises InvalidWebhook when it does not match or is old."""
    if not header or not secret:
        raise InvalidWebhook("no signature")
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        stamp = int(parts.get("t", [""])[0])
    except ValueError:
        raise InvalidWebhook("no timestamp") from None
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, candidate) for candidate in parts.get("v1", [])):
        raise InvalidWebhook("signature does not match")
    if abs((time.time() if now is None else now) - stamp) > SIGNATURE_TOLERANCE:
        raise InvalidWebhook("signature is too old")


def as_outcome(data: Mapping[str, Any]) -> Outcome:
    """An Outcome from the dev processor's JSON (unknown statuses count as still open)."""
    status = str(data.get("status") or OPEN)
    return Outcome(
        status=status if status in OUTCOMES else OPEN,
        reference=str(data["reference"]) if data.get("reference") else None,
        failure=str(data.get("failure") or "")[:40],
        method_id=str(data.get("method_id") or ""),
        method_label=str(data.get("method_label") or "")[:80],
    )
