"""The last step the Pay page and Pay Now share: the amount checked, the payment made, the payer sent to the
processor's hosted page. The same form submitted twice makes one payment."""

from __future__ import annotations

import logging
from typing import TypeVar

from flask import abort, current_app, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.core.clock import utcnow
from app.database.commits import connection_lost
from app.database.db import db
from app.database.retry import end_unit_of_work
from app.payments.charges import find_attempt, start_payment
from app.payments.configured import payment_processor, payment_rules
from app.payments.forms import PayForm
from app.payments.pages import external_url, nothing_charged, unavailable
from app.payments.processor import ProcessorUnavailable
from app.payments.rules import Urls
from app.web.languages import local_money, local_typed_money

log = logging.getLogger(__name__)

F = TypeVar("F", bound=PayForm)


def amount_form(form_class: type[F], due_cents: int) -> F:
    """The pay form; on first view it holds card and the amount due as the page's language types it, or nothing
    when less than the smallest payment is due (the resident may still pay ahead)."""
    if request.method != "GET":
        return form_class()
    amount = local_typed_money(due_cents) if due_cents >= payment_rules().min_cents else ""
    return form_class(data={"amount": amount, "method": "card"})


def amount_submitted(form: PayForm, allowed: bool) -> tuple[bool, int]:
    """Whether the form holds an amount to pay now, and the page's status (409 when the account is not paid here)."""
    if request.method == "POST" and not allowed:
        return False, 409
    if form.validate_on_submit():
        rules = payment_rules()
        if rules.min_cents <= (form.cents or 0) <= rules.max_cents:
            return True, 200
        form.amount.errors = [
            _(
                "Enter an amount from %(low)s to %(high)s.",
                low=local_money(rules.min_cents),
                high=local_money(rules.max_cents),
            )
        ]
    return False, 200


def _payment_urls(public_id: str) -> Urls:
    """The processor's addresses for a payment's hosted page: back to ``finish`` or ``cancelled``, and the webhook."""
    return Urls(
        success=external_url("payments.finish", public_id=public_id),
        cancel=external_url("payments.cancelled", public_id=public_id),
        webhook=external_url("payments.webhook"),
    )


def start_checkout(form: PayForm, *, source: str, account_no: str, customer_id: str, email: str) -> ResponseReturnValue:
    """Create the payment and send the payer to the processor; the same form twice gives one payment."""
    try:
        payment = start_payment(
            db.session(),
            payment_processor(),
            source=source,
            account_no=account_no,
            customer_id=customer_id,
            resident_id=g.resident.id if g.resident is not None else None,
            email=email,
            method=form.method.data,
            amount_cents=form.cents or 0,
            rules=payment_rules(),
            attempt=form.attempt.data,
            urls=_payment_urls,
            now=utcnow(),
        )
    except ProcessorUnavailable as exc:
        db.session.rollback()
        log.warning("payment not started, processor unavailable: %s", exc)
        return unavailable()
    except IntegrityError:  # the same form, submitted twice at the same moment
        db.session.rollback()
        first = find_attempt(db.session(), form.attempt.data)
        if first is None:
            abort(409)
        public_id, status, checkout_url = first.public_id, first.status, first.checkout_url
    except DBAPIError as exc:
        return _lost(exc)
    else:
        try:
            db.session.commit()
        except DBAPIError as exc:
            return _lost(exc)
        public_id, status, checkout_url = payment.public_id, payment.status, payment.checkout_url
    if source == "guest":
        session["guest_payments"] = [*session.get("guest_payments", [])[-9:], public_id]
    if status != "open":
        return redirect(url_for("payments.receipt", public_id=public_id))
    return redirect(checkout_url, code=303)


def _lost(exc: DBAPIError) -> ResponseReturnValue:
    """The database connection died after the processor made the hosted page: nothing was kept or charged.

    The request is not dispatched again (``payment_processor`` marked it), so it answers with a page that
    says so; the same form sent again makes a new page at the processor (``charges.checkout_key``).
    """
    if not connection_lost(exc):
        raise exc
    end_unit_of_work()
    log.warning("payment not started, database connection lost after the processor answered: %s", exc.orig)
    return nothing_charged(
        _("Your payment was not started"),
        _(
            "We lost contact with our database before your payment was saved. Nothing was charged. "
            "Please try again, or call Utility Billing at %(phone)s.",
            phone=current_app.config["UTILITY_PHONE"],
        ),
        10,
    )
