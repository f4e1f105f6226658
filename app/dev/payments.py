"""The embedded development payment processor: a hosted page, an API and signed webhooks, on its own port.

It stands in for a real processor when ``PAYMENT_PROCESSOR`` is unset or ``dev``: ``flask dev run`` starts it in a
daemon thread (like the development OpenID provider), on ``localhost:DEV_PAYMENTS_PORT``, and it refuses
``PORTAL_ENV=production``. The card and bank numbers typed on its page stay in this server; the portal only
gets ids, outcomes and a label. Test cards (any future expiry, any CVC): 4242 4242 4242 4242 approves,
4000 0000 0000 0002 is declined, 4000 0000 0000 9995 fails for insufficient funds. Bank accounts: any
nine-digit routing number; account number 000123456789 approves, 000111111113 fails for insufficient funds,
and 000222222227 is a debit that stays ``processing`` like a real one, until it is settled.

Bank debits settle days later and can be returned after that. ``POST /v1/charges/<reference>/settle`` with
``{"outcome": "succeeded" | "failed" | "returned", "failure": "..."}`` settles a processing debit, fails it,
or returns one that succeeded, and sends the webhook (``charge.succeeded``, ``charge.failed``,
``charge.returned``; with ``"notify": false`` the webhook is lost on its way, and the portal's job finds
the outcome). ``GET /v1/charges`` and ``GET /v1/refunds`` (``created_gte`` and ``created_lt``, Unix seconds)
list the processor's own books, and ``POST /v1/refunds`` refunds a charge, as a processor's dashboard would.
Times in the books come from ``now`` (tests give it the portal's clock).
"""

from __future__ import annotations

import html
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import requests
import werkzeug.serving
from werkzeug.exceptions import HTTPException, NotFound, Unauthorized
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from app.core.money import format_money
from app.dev.ports import accepts_connections, port_taken
from app.payments.devprocessor import DEV_API_KEY, DEV_WEBHOOK_SECRET, SIGNATURE_HEADER, TIMEOUT
from app.payments.processor import (
    CANCELLED,
    FAILED,
    OPEN,
    PROCESSING,
    RETURNED,
    SUCCEEDED,
    sign,
)

log = logging.getLogger(__name__)

#: What its health check answers, so that ``ensure_running`` reuses only one of ours.
SERVICE = "citizen-portal development payment processor"
REFUSES_PRODUCTION = "the embedded development payment processor refuses to run with PORTAL_ENV=production"

CARDS = {
    "4242424242424242": (SUCCEEDED, ""),
    "4000000000000002": (FAILED, "declined"),
    "4000000000009995": (FAILED, "insufficient_funds"),
}
BANK_ACCOUNTS = {
    "000123456789": (SUCCEEDED, ""),
    "000111111113": (FAILED, "insufficient_funds"),
    "000222222227": (PROCESSING, ""),
}
#: What settling may do to a charge: a processing debit settles or fails; a succeeded charge is returned.
SETTLEMENTS = {PROCESSING: (SUCCEEDED, FAILED), SUCCEEDED: (RETURNED,)}


@dataclass
class _Session:
    id: str
    mode: str  # payment, setup
    amount_cents: int
    method: str
    description: str
    success_url: str
    cancel_url: str
    webhook_url: str
    status: str = OPEN
    reference: str | None = None
    failure: str = ""
    method_id: str = ""
    method_label: str = ""


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    sessions: dict[str, _Session] = field(default_factory=dict)
    idempotent: dict[str, dict[str, Any]] = field(default_factory=dict)
    methods: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (status, failure) when charged
    method_webhooks: dict[str, str] = field(default_factory=dict)  # id -> the webhook URL of its setup page
    charges: list[dict[str, Any]] = field(default_factory=list)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    webhooks: list[dict[str, Any]] = field(default_factory=list)


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def _future_expiry(value: str, today: date) -> bool:
    month, _, year = value.replace(" ", "").partition("/")
    if not (month.isdigit() and year.isdigit() and 1 <= int(month) <= 12):
        return False
    full_year = int(year) + 2000 if len(year) == 2 else int(year)
    return (full_year, int(month)) >= (today.year, today.month)


class DevProcessorServer:
    """The WSGI app of the development processor (state in memory, one lock)."""

    def __init__(self, *, deliver_webhooks: bool = True, now: Callable[[], datetime] | None = None) -> None:
        self.state = _State()
        self.deliver_webhooks = deliver_webhooks
        #: The processor's clock, for the times in its books (a test sets it to the portal's clock).
        self.now: Callable[[], datetime] = now or (lambda: datetime.now(UTC))
        self.url_map = Map(
            [
                Rule("/v1/health", endpoint="health", methods=["GET"]),
                Rule("/v1/checkouts", endpoint="create_checkout", methods=["POST"]),
                Rule("/v1/checkouts/<sid>", endpoint="get_checkout", methods=["GET"]),
                Rule("/v1/charges", endpoint="charge", methods=["POST"]),
                Rule("/v1/charges", endpoint="list_charges", methods=["GET"]),
                Rule("/v1/charges/<reference>", endpoint="get_charge", methods=["GET"]),
                Rule("/v1/charges/<reference>/settle", endpoint="settle", methods=["POST"]),
                Rule("/v1/refunds", endpoint="refund", methods=["POST"]),
                Rule("/v1/refunds", endpoint="list_refunds", methods=["GET"]),
                Rule("/v1/events", endpoint="events", methods=["GET"]),
                Rule("/pay/<sid>", endpoint="page", methods=["GET", "POST"]),
            ]
        )

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        adapter = self.url_map.bind_to_environ(environ)
        try:
            endpoint, args = adapter.match()
            if endpoint not in ("page",) and request.headers.get("Authorization") != f"Bearer {DEV_API_KEY}":
                raise Unauthorized()
            response = getattr(self, f"on_{endpoint}")(request, **args)
        except HTTPException as exc:
            response = exc.get_response()
        return response(environ, start_response)  # type: ignore[no-any-return]

    # --- API --------------------------------------------------------------------------------------

    @staticmethod
    def _json(data: object, status: int = 200) -> Response:
        return Response(json.dumps(data), status=status, mimetype="application/json")

    def on_health(self, request: Request) -> Response:
        return self._json({"ok": True, "service": SERVICE})

    def _once(self, request: Request, make: Any) -> Response:
        key = request.headers.get("Idempotency-Key", "")
        if not key:
            return self._json({"error": "Idempotency-Key is required"}, 400)
        with self.state.lock:
            if key not in self.state.idempotent:
                self.state.idempotent[key] = make()
            return self._json(self.state.idempotent[key])

    def on_create_checkout(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        mode = "setup" if body.get("mode") == "setup" else "payment"
        amount = body.get("amount_cents", 0)
        if mode == "payment" and (not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0):
            return self._json({"error": "amount_cents must be a positive whole number"}, 400)

        def make() -> dict[str, Any]:
            sid = "devcs_" + secrets.token_hex(12)
            self.state.sessions[sid] = _Session(
                id=sid,
                mode=mode,
                amount_cents=int(amount or 0),
                method="ach" if body.get("method") == "ach" else "card",
                description=str(body.get("description") or "")[:200],
                success_url=str(body.get("success_url") or ""),
                cancel_url=str(body.get("cancel_url") or ""),
                webhook_url=str(body.get("webhook_url") or ""),
            )
            return {"id": sid, "url": f"{request.host_url}pay/{sid}"}

        return self._once(request, make)

    def _outcome(self, s: _Session) -> dict[str, Any]:
        return {
            "id": s.id,
            "status": s.status,
            "reference": s.reference,
            "failure": s.failure,
            "method_id": s.method_id,
            "method_label": s.method_label,
        }

    def on_get_checkout(self, request: Request, sid: str) -> Response:
        with self.state.lock:
            found = self.state.sessions.get(sid)
            if found is None:
                raise NotFound()
            return self._json(self._outcome(found))

    def _record_charge(
        self, status: str, failure: str, amount: int, *, checkout: str | None = None, webhook_url: str = ""
    ) -> dict[str, Any]:
        """A charge in the books (the caller holds the lock); only an accepted one has a reference."""
        reference = "devch_" + secrets.token_hex(10) if status in (SUCCEEDED, PROCESSING) else None
        charge = {
            "status": status,
            "failure": failure,
            "reference": reference,
            "amount_cents": amount,
            "created": int(self.now().timestamp()),
            "checkout": checkout,
            "webhook_url": webhook_url,
        }
        self.state.charges.append(charge)
        return charge

    @staticmethod
    def _public(charge: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in charge.items() if k != "webhook_url"}

    def on_charge(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        method_id = str(body.get("method_id") or "")
        method = self.state.methods.get(method_id)
        amount = body.get("amount_cents")
        if method is None or not isinstance(amount, int) or amount <= 0:
            return self._json({"error": "unknown method or bad amount"}, 400)

        def make() -> dict[str, Any]:
            status, failure = method
            hook = self.state.method_webhooks.get(method_id, "")
            return self._public(self._record_charge(status, failure, amount, webhook_url=hook))

        return self._once(request, make)

    def _window(self, request: Request, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        try:
            low = int(request.args.get("created_gte", "0"))
            high = int(request.args.get("created_lt", str(2**62)))
        except ValueError:
            return []
        return [self._public(r) for r in rows if r.get("reference") and low <= r["created"] < high]

    def on_list_charges(self, request: Request) -> Response:
        with self.state.lock:
            return self._json({"data": self._window(request, self.state.charges)})

    def on_list_refunds(self, request: Request) -> Response:
        with self.state.lock:
            return self._json({"data": self._window(request, self.state.refunds)})

    def _find(self, reference: str) -> dict[str, Any]:
        found = next((c for c in self.state.charges if c["reference"] == reference), None)
        if found is None:
            raise NotFound()
        return found

    def on_get_charge(self, request: Request, reference: str) -> Response:
        with self.state.lock:
            return self._json(self._public(self._find(reference)))

    def on_settle(self, request: Request, reference: str) -> Response:
        """Settle a processing debit, fail it, or return a succeeded charge; then send the webhook."""
        body = request.get_json(silent=True) or {}
        outcome = str(body.get("outcome") or "")
        with self.state.lock:
            charge = self._find(reference)
            if outcome not in SETTLEMENTS.get(charge["status"], ()):
                return self._json({"error": f"a {charge['status']} charge cannot become {outcome!r}"}, 409)
            charge["status"] = outcome
            charge["failure"] = str(body.get("failure") or "")[:40] if outcome != SUCCEEDED else ""
            session = self.state.sessions.get(charge["checkout"] or "")
            if session is not None:
                session.status, session.failure = charge["status"], charge["failure"]
            event = self._event(f"charge.{outcome}", {"id": reference, "object": "charge", **self._public(charge)})
            hook = session.webhook_url if session is not None else charge["webhook_url"]
        if body.get("notify", True) is not False:  # false: the webhook is lost on its way
            self._deliver(event, hook)
        return self._json(self._public(charge))

    def on_refund(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        reference, amount = str(body.get("reference") or ""), body.get("amount_cents")
        with self.state.lock:
            charge = self._find(reference)
            refunded = sum(r["amount_cents"] for r in self.state.refunds if r["reference"] == reference)
            left = charge["amount_cents"] - refunded
            if charge["status"] != SUCCEEDED or not isinstance(amount, int) or not 0 < amount <= left:
                return self._json({"error": "only a succeeded charge, by at most what is left of it"}, 400)

        def make() -> dict[str, Any]:
            refund = {
                "id": "devre_" + secrets.token_hex(10),
                "reference": reference,
                "amount_cents": amount,
                "status": SUCCEEDED,
                "created": int(self.now().timestamp()),
            }
            self.state.refunds.append(refund)
            return refund

        return self._once(request, make)

    def on_events(self, request: Request) -> Response:
        with self.state.lock:
            return self._json(list(self.state.webhooks))

    # --- the hosted page --------------------------------------------------------------------------

    def on_page(self, request: Request, sid: str) -> Response:
        with self.state.lock:
            s = self.state.sessions.get(sid)
        if s is None:
            raise NotFound()
        if s.status != OPEN:
            return self._page(s, error="This payment page has already been used.", form=False)
        if request.method == "GET":
            return self._page(s)
        if request.form.get("action") == "cancel":
            with self.state.lock:
                s.status = CANCELLED
            self._send_webhook(s, "checkout.cancelled")
            return Response(status=303, headers={"Location": s.cancel_url})
        result = self._charge_from_form(s, request.form)
        if isinstance(result, str):
            return self._page(s, error=result)
        status, failure, label = result
        with self.state.lock:
            if s.status != OPEN:  # a second submit of the same page charges nothing
                return Response(status=303, headers={"Location": s.success_url})
            s.status, s.failure, s.method_label = status, failure, label
            if status in (SUCCEEDED, PROCESSING) and s.mode == "payment":
                s.reference = self._record_charge(status, "", s.amount_cents, checkout=s.id)["reference"]
            if status == SUCCEEDED and s.mode == "setup":
                s.method_id = "devpm_" + secrets.token_hex(10)
                key = _digits(request.form.get("number", "") or request.form.get("account", ""))
                table = CARDS if s.method == "card" else BANK_ACCOUNTS
                self.state.methods[s.method_id] = table.get(key, (SUCCEEDED, ""))
                self.state.method_webhooks[s.method_id] = s.webhook_url
        kind = {SUCCEEDED: "checkout.completed", PROCESSING: "checkout.processing"}.get(status, "checkout.failed")
        self._send_webhook(s, kind)
        return Response(status=303, headers={"Location": s.success_url})

    def _charge_from_form(self, s: _Session, form: Mapping[str, str]) -> tuple[str, str, str] | str:
        if s.method == "ach":
            routing, account = _digits(form.get("routing", "")), _digits(form.get("account", ""))
            if len(routing) != 9 or not 4 <= len(account) <= 17:
                return "Enter a nine-digit routing number and your account number."
            if s.mode == "setup":
                return SUCCEEDED, "", f"Bank account ending {account[-4:]}"
            status, failure = BANK_ACCOUNTS.get(account, (SUCCEEDED, ""))
            return status, failure, f"Bank account ending {account[-4:]}"
        number = _digits(form.get("number", ""))
        if number not in CARDS:
            return "Use one of the test card numbers."
        if not _future_expiry(form.get("expiry", ""), date.today()):
            return "Enter an expiry date in the future, as MM/YY."
        if not 3 <= len(_digits(form.get("cvc", ""))) <= 4:
            return "Enter the three or four digit security code."
        status, failure = CARDS[number]
        if s.mode == "setup":  # saving a card always works; the charge later shows how the card behaves
            return SUCCEEDED, "", f"Card ending {number[-4:]}"
        return status, failure, f"Card ending {number[-4:]}"

    def _event(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        """A webhook event, kept in the list ``/v1/events`` answers (the caller holds the lock)."""
        event = {"id": "devevt_" + secrets.token_hex(10), "type": kind, "created": int(time.time()), "data": data}
        self.state.webhooks.append(event)
        return event

    def _send_webhook(self, s: _Session, kind: str) -> None:
        with self.state.lock:
            event = self._event(kind, self._outcome(s))
        self._deliver(event, s.webhook_url)

    def _deliver(self, event: dict[str, Any], webhook_url: str) -> None:
        body = json.dumps(event).encode()
        if not (self.deliver_webhooks and webhook_url):
            return
        try:
            requests.post(
                webhook_url,
                data=body,
                headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(DEV_WEBHOOK_SECRET, body)},
                timeout=TIMEOUT,
            )
        except requests.RequestException as exc:  # the return page's status check still finds the outcome
            log.warning("development processor: webhook to %s failed: %s", webhook_url, type(exc).__name__)

    def _page(self, s: _Session, *, error: str = "", form: bool = True) -> Response:
        e = html.escape
        amount = format_money(s.amount_cents, "en")
        title = "Save a payment method" if s.mode == "setup" else f"Pay {amount}"
        parts = [
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
            "<meta name='viewport' content='width=device-width, initial-scale=1'>",
            f"<title>{e(title)} - Development payment processor</title></head><body><main>",
            f"<h1>{e(title)}</h1><p>{e(s.description)}</p>",
            "<p>Development processor: use a test number. Nothing is charged.</p>",
        ]
        if error:
            parts.append(f"<p role='alert'><strong>{e(error)}</strong></p>")
        if form:
            parts.append(f"<form method='post' action='/pay/{e(s.id)}'>")
            if s.method == "ach":
                parts += [
                    "<p><label for='routing'>Routing number</label><br>",
                    "<input id='routing' name='routing' inputmode='numeric' autocomplete='off'></p>",
                    "<p><label for='account'>Account number</label><br>",
                    "<input id='account' name='account' inputmode='numeric' autocomplete='off'></p>",
                ]
            else:
                parts += [
                    "<p><label for='number'>Card number</label><br>",
                    "<input id='number' name='number' inputmode='numeric' autocomplete='cc-number'></p>",
                    "<p><label for='expiry'>Expiry (MM/YY)</label><br>",
                    "<input id='expiry' name='expiry' autocomplete='cc-exp'></p>",
                    "<p><label for='cvc'>Security code</label><br>",
                    "<input id='cvc' name='cvc' inputmode='numeric' autocomplete='cc-csc'></p>",
                ]
            button = "Save" if s.mode == "setup" else f"Pay {amount}"
            parts.append(f"<p><button type='submit' name='action' value='pay'>{e(button)}</button> ")
            parts.append("<button type='submit' name='action' value='cancel'>Cancel</button></p></form>")
        parts.append("</main></body></html>")
        return Response("".join(parts), mimetype="text/html")


# --- the portal's side --------------------------------------------------------------------------------


class DevProcessorUnavailable(RuntimeError):
    """The development processor was asked for but cannot run here."""


def _ours_answering(base_url: str) -> bool:
    """True when a development processor of this portal answers at ``base_url`` (not merely something)."""
    try:
        response = requests.get(base_url + "/v1/health", headers={"Authorization": f"Bearer {DEV_API_KEY}"}, timeout=1)
        return response.ok and response.json().get("service") == SERVICE
    except (requests.RequestException, ValueError, AttributeError):  # AttributeError: JSON but not an object
        return False


def start(port: int, *, production: bool) -> werkzeug.serving.BaseWSGIServer:
    """Serve the development processor on ``localhost:port`` in a daemon thread; the caller may ``shutdown()`` it."""
    if production:
        raise DevProcessorUnavailable(REFUSES_PRODUCTION)
    try:
        server = werkzeug.serving.make_server("localhost", port, DevProcessorServer(), threaded=True)
    except (OSError, SystemExit):  # werkzeug exits when the port is taken
        raise DevProcessorUnavailable(port_taken(port, "DEV_PAYMENTS_PORT")) from None
    # A short poll: shutdown() waits up to one interval (the default 0.5 s is paid by every test that stops it).
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="dev-payments", daemon=True
    ).start()
    log.warning("development payment processor started at http://localhost:%s (never use it in production)", port)
    return server


def ensure_running(port: int, *, production: bool) -> bool:
    """Start the development processor on ``localhost:port`` unless one of ours already answers there.

    True when this call started it, False when it reuses the one another portal process started (the
    reloader's parent, or a second ``flask dev run``). Another program on the port is refused, naming
    ``DEV_PAYMENTS_PORT``.
    """
    if production:
        raise DevProcessorUnavailable(REFUSES_PRODUCTION)
    if _ours_answering(f"http://localhost:{port}"):
        return False
    if accepts_connections(port):
        raise DevProcessorUnavailable(port_taken(port, "DEV_PAYMENTS_PORT"))
    start(port, production=production)
    return True
