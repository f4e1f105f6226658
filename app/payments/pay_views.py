"""The Pay page, the return from the processor's hosted page and the confirmation (residents' and Pay Now's).

The outcome of a payment is learnt from the processor only: its signed webhook, or a status check when the
payer returns.
"""

from __future__ import annotations

import logging

from flask import abort, current_app, g, redirect, render_template, session, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import DBAPIError

from app.accounts.pages import own_link_or_404
from app.auth.security import login_required
from app.core.clock import utcnow
from app.database.commits import connection_lost
from app.database.db import db
from app.database.retry import end_unit_of_work
from app.mail import sends_mail
from app.payments import bp
from app.payments.charges import find_payment, refresh
from app.payments.checkout import amount_form, amount_submitted, start_checkout
from app.payments.configured import payment_processor, payment_rules
from app.payments.forms import PayForm
from app.payments.models import Payment
from app.payments.notices import send_notice
from app.payments.owed import amount_owed
from app.payments.pages import link_summary, summary_due
from app.payments.processor import ProcessorUnavailable
from app.payments.rules import can_pay

log = logging.getLogger(__name__)


@bp.route("/accounts/<account_no>/pay", methods=["GET", "POST"])
@login_required
def pay_bill(account_no: str) -> ResponseReturnValue:
    """Pay a bill: the amount due or another amount, card or bank account, fees shown before paying."""
    link = own_link_or_404(account_no, db.session())
    summary = link_summary(link)
    owed = amount_owed(db.session(), summary)
    allowed = can_pay(summary)
    form = amount_form(PayForm, owed.cents)
    accepted, status = amount_submitted(form, allowed)
    if accepted:
        return start_checkout(
            form,
            source="resident",
            account_no=link.account_no,
            customer_id=link.customer_id,
            email=g.resident.email or "",
        )
    return (
        render_template(
            "payments/pay.html",
            link=link,
            summary=summary,
            form=form,
            allowed=allowed,
            due=summary_due(summary, owed.pending_cents),
            rules=payment_rules(),
            action=url_for("payments.pay_bill", account_no=link.account_no),
        ),
        status,
    )


def _own_payment(public_id: str) -> Payment:
    """The signed-in resident's payment, or one this browser made with Pay Now; 404 otherwise."""
    payment = find_payment(db.session(), public_id)
    if payment is None:
        abort(404)
    mine = g.resident is not None and payment.resident_id == g.resident.id
    if not mine and public_id not in session.get("guest_payments", []):
        abort(404)
    return payment


@bp.get("/payments/<public_id>/return")
def finish(public_id: str) -> ResponseReturnValue:
    """Back from the hosted page: ask the processor how it ended, then show the confirmation.

    A database connection lost after the processor answered leaves the payment as the webhook or the job
    makes it: the confirmation then says that we are checking it.
    """
    payment = _own_payment(public_id)
    payment_id = payment.id
    notice = None
    try:
        notice = refresh(db.session(), payment_processor(), payment, actor="return", now=utcnow()).notice
        db.session.commit()
    except ProcessorUnavailable as exc:
        db.session.rollback()
        log.warning("payment %s status check failed: %s", payment_id, exc)
    except DBAPIError as exc:
        if not connection_lost(exc):
            raise
        end_unit_of_work()
        log.warning("payment %s: database connection lost after the status check; left to the webhook", payment_id)
    if notice is not None:
        send_notice(notice)
    return redirect(url_for("payments.receipt", public_id=public_id))


@bp.get("/payments/<public_id>/cancelled")
def cancelled(public_id: str) -> ResponseReturnValue:
    """The resident left the hosted page: the processor confirms, and nothing was charged."""
    return finish(public_id)


@bp.get("/payments/<public_id>")
def receipt(public_id: str) -> ResponseReturnValue:
    """Confirmation: receipt number when paid; declined, cancelled or still waiting otherwise."""
    payment = _own_payment(public_id)
    return render_template("payments/receipt.html", payment=payment, emailed=sends_mail(current_app.config))
