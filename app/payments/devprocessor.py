"""The portal's side of the development payment processor (:mod:`app.dev.payments`): its API, server to server.

The server itself is development tooling and lives in :mod:`app.dev`; production never imports it. This
client only speaks HTTP to it, and ``payment_processor()`` refuses it with ``PORTAL_ENV=production``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import requests

from app.payments.processor import (
    Checkout,
    InvalidWebhook,
    Outcome,
    ProcessorRecord,
    ProcessorUnavailable,
    WebhookEvent,
    as_outcome,
    verify_signature,
)

#: Development-only keys shared by the portal and the development server (a real processor issues its own).
DEV_API_KEY = "dev_sk_citizen_portal"
DEV_WEBHOOK_SECRET = "dev_whsec_citizen_portal"
SIGNATURE_HEADER = "Dev-Signature"
TIMEOUT = 5.0


class DevProcessor:
    """``PaymentProcessor`` for the development processor at ``base_url`` (server to server, with timeouts)."""

    name = "dev"

    def __init__(self, base_url: str, *, timeout: float = TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        key: str | None = None,
        params: dict[str, int] | None = None,
        missing_ok: bool = False,
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {DEV_API_KEY}"}
        if key:
            headers["Idempotency-Key"] = key
        try:
            response = requests.request(
                method, self.base_url + path, json=json_body, headers=headers, params=params, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise ProcessorUnavailable(type(exc).__name__) from None
        if response.status_code == 404 and missing_ok:
            return {}
        if response.status_code >= 500:
            raise ProcessorUnavailable(f"HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise ProcessorUnavailable("answer is not JSON") from None
        if response.status_code >= 400 or not isinstance(data, dict):
            raise ProcessorUnavailable(f"HTTP {response.status_code}: {str(data)[:100]}")
        return data

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
        """A hosted payment page for ``amount_cents``."""
        body = {
            "mode": "payment",
            "amount_cents": amount_cents,
            "method": method,
            "description": description,
            "success_url": success_url,
            "cancel_url": cancel_url,
            "webhook_url": webhook_url,
        }
        data = self._call("POST", "/v1/checkouts", json_body=body, key=idempotency_key)
        return Checkout(id=str(data["id"]), url=str(data["url"]))

    def create_setup(
        self, *, method: str, idempotency_key: str, success_url: str, cancel_url: str, webhook_url: str, email: str
    ) -> Checkout:
        """A hosted page that saves a method."""
        body = {
            "mode": "setup",
            "method": method,
            "description": "Auto Pay",
            "success_url": success_url,
            "cancel_url": cancel_url,
            "webhook_url": webhook_url,
        }
        data = self._call("POST", "/v1/checkouts", json_body=body, key=idempotency_key)
        return Checkout(id=str(data["id"]), url=str(data["url"]))

    def checkout_outcome(self, checkout_id: str) -> Outcome:
        """The checkout's state, asked of the processor."""
        return as_outcome(self._call("GET", f"/v1/checkouts/{checkout_id}"))

    def find_charge(self, reference: str) -> ProcessorRecord | None:
        """A charge by its reference (``GET /v1/charges/<reference>``), None when the processor has none."""
        found = self._call("GET", f"/v1/charges/{reference}", missing_ok=True)
        return _record("charge", found) if found else None

    def records(self, start: datetime, end: datetime) -> list[ProcessorRecord]:
        """The charges and refunds created in ``[start, end)``."""
        window = {"created_gte": int(start.timestamp()), "created_lt": int(end.timestamp())}
        found = []
        for kind, path in (("charge", "/v1/charges"), ("refund", "/v1/refunds")):
            found += [_record(kind, row) for row in self._call("GET", path, params=window).get("data", [])]
        return found

    def charge_saved(self, *, method_id: str, amount_cents: int, idempotency_key: str, description: str) -> Outcome:
        """Charge a saved method."""
        body = {"method_id": method_id, "amount_cents": amount_cents, "description": description}
        return as_outcome(self._call("POST", "/v1/charges", json_body=body, key=idempotency_key))

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        """Verify ``Dev-Signature`` and read the event: a checkout's, or a charge's (``charge.*``, by reference)."""
        verify_signature(DEV_WEBHOOK_SECRET, body, headers.get(SIGNATURE_HEADER))
        try:
            event = json.loads(body)
            data = event["data"]
            if data.get("object") == "charge":
                checkout = str(data["checkout"]) if data.get("checkout") else None
                reference = str(data["reference"])
                return WebhookEvent(str(event["id"]), checkout, as_outcome(data), reference=reference)
            return WebhookEvent(id=str(event["id"]), checkout_id=str(data["id"]), outcome=as_outcome(data))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise InvalidWebhook("malformed event") from None


def _record(kind: str, row: Mapping[str, Any]) -> ProcessorRecord:
    """A charge or refund of the development processor's books."""
    try:
        return ProcessorRecord(
            kind=kind,
            id=str(row.get("id") or row["reference"]),
            reference=str(row["reference"]),
            amount_cents=int(row["amount_cents"]),
            status=str(row["status"]),
            created=datetime.fromtimestamp(int(row["created"]), UTC),
            failure=str(row.get("failure") or "")[:40],
        )
    except (KeyError, TypeError, ValueError):
        raise ProcessorUnavailable(f"unreadable {kind}: {str(row)[:100]}") from None


# --- starting it ---------------------------------------------------------------------------------------
