"""The processor and the limits and fees this app's settings choose (``PAYMENT_PROCESSOR``, ``PAYMENT_*``)."""

from __future__ import annotations

from app.core.config import get_settings
from app.core.fees import Fee
from app.database.commits import not_repeatable
from app.payments.processor import PaymentProcessor, ProcessorUnavailable
from app.payments.rules import PaymentRules


def payment_processor() -> PaymentProcessor:
    """This app's processor: Stripe, or the development one that ``flask dev run`` starts (never in production).

    A request that uses it is never dispatched again after a lost database connection (``app.database.retry``): its
    calls carry idempotency keys, but a repeated start would send them with new return URLs.
    """
    not_repeatable()
    settings = get_settings()
    if settings.payment_processor == "stripe":
        from app.payments.stripe_processor import StripeProcessor

        return StripeProcessor(
            settings.stripe_secret_key or "", settings.stripe_webhook_secret or "", api_base=settings.stripe_api_base
        )
    from app.payments.devprocessor import DevProcessor

    if settings.production:
        raise ProcessorUnavailable("the development payment processor refuses to run with PORTAL_ENV=production")
    return DevProcessor(f"http://localhost:{settings.dev_payments_port}")


def payment_rules() -> PaymentRules:
    """Limits and fees from configuration."""
    settings = get_settings()
    return PaymentRules(
        min_cents=settings.payment_min_cents,
        max_cents=settings.payment_max_cents,
        fees=(("card", Fee.parse(settings.payment_card_fee)), ("ach", Fee.parse(settings.payment_ach_fee))),
    )
