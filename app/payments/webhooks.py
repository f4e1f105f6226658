"""The processor's verified webhooks, each applied once: to a payment, or to an Auto Pay enrolment's setup."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.payments.autopay import apply_setup
from app.payments.charges import settle
from app.payments.models import AutopayEnrolment, Payment, ProcessorWebhook
from app.payments.processor import WebhookEvent
from app.payments.rules import Notice


@dataclass(frozen=True)
class Handled:
    """What a webhook did (``applied``, ``ignored``, ``duplicate``, ``unknown``) and the email it calls for."""

    result: str
    notice: Notice | None = None


def handle_event(session: Session, event: WebhookEvent, *, now: datetime) -> Handled:
    """Apply a verified webhook once, about a checkout (by its id) or a charge (by its reference).

    The event id is recorded in the same transaction as its effect; the same event delivered twice at the
    same moment makes the second commit fail on the unique id (IntegrityError: the caller rolls back).
    """
    if session.scalar(select(ProcessorWebhook.id).filter_by(event_id=event.id[:200])) is not None:
        return Handled("duplicate")
    session.add(ProcessorWebhook(event_id=event.id[:200], received_at=now))
    session.flush()
    payment = None
    if event.checkout_id:
        payment = session.scalar(select(Payment).filter_by(checkout_id=event.checkout_id))
        if payment is None:
            enrolment = session.scalar(select(AutopayEnrolment).filter_by(setup_id=event.checkout_id))
            if enrolment is not None:
                changed = apply_setup(session, enrolment, event.outcome, actor="webhook", now=now)
                return Handled("applied" if changed else "ignored")
    if payment is None and event.reference:
        payment = session.scalar(select(Payment).filter_by(reference=event.reference))
    if payment is None:
        return Handled("unknown")
    settled = settle(session, payment, event.outcome, actor="webhook", now=now)
    return Handled("applied", settled.notice) if settled.changed else Handled("ignored")
