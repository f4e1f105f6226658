"""Payments: pay a bill, Pay Now without an account, Auto Pay, the processor's webhooks and ``flask payments``."""

from __future__ import annotations

from flask import Blueprint, Flask

from app.core.config import Settings, get_settings

bp = Blueprint("payments", __name__)


def init_app(app: Flask) -> None:
    """Register the payment pages and the webhook (exempt from CSRF: it is verified by its signature)."""
    from app.payments import autopay_views, guest_views, pay_views, webhook_views  # noqa: F401  (register on bp)
    from app.web.forms import csrf

    csrf.exempt(webhook_views.webhook)
    app.extensions.setdefault("form_action_origins", []).append(processor_origin(get_settings(app)))
    app.register_blueprint(bp)


def processor_origin(settings: Settings) -> str:
    """The origin of the processor's hosted pages (the payment forms redirect there)."""
    if settings.payment_processor == "stripe":
        return "https://checkout.stripe.com"
    if settings.production:  # the development processor never runs there
        return ""
    return f"http://localhost:{settings.dev_payments_port}"
