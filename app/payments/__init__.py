"""Payments: pay a bill, Pay Now without an account, Auto Pay, the processor's webhooks and ``flask payments``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask

from app.core.config import Settings, get_settings

if TYPE_CHECKING:
    from app.billing.types import AccountSummary

bp = Blueprint("payments", __name__)


def init_app(app: Flask) -> None:
    """Register the payment pages and the webhook (exempt from CSRF: it is verified by its signature)."""
    from app.payments import autopay_views, guest_views, pay_views, webhook_views  # noqa: F401  (register on bp)
    from app.web.forms import csrf

    csrf.exempt(webhook_views.webhook)
    app.extensions.setdefault("billing_summary_extras", []).append(_summary_extras)
    app.extensions.setdefault("form_action_origins", []).append(processor_origin(get_settings(app)))
    app.register_blueprint(bp)


def _summary_extras(account_no: str, customer_id: str, summary: AccountSummary) -> dict[str, Any]:
    """The Account Summary's pending payments, what is owed after them, and whether it offers Pay (billing sits
    below payments)."""
    from app.database.reads import read_session
    from app.payments.owed import amount_owed
    from app.payments.rules import can_pay

    owed = amount_owed(read_session(), summary)
    return {"pending": list(owed.pending), "owed_cents": owed.cents, "can_pay": can_pay(summary)}


def processor_origin(settings: Settings) -> str:
    """The origin of the processor's hosted pages (the payment forms redirect there)."""
    if settings.payment_processor == "stripe":
        return "https://checkout.stripe.com"
    if settings.production:  # the development processor never runs there
        return ""
    return f"http://localhost:{settings.dev_payments_port}"
