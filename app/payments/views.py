"""Pay a bill, Pay Now without an account, Auto Pay, the return from the processor and its webhook.

Views validate the form, call one service function, commit, then redirect or render. The outcome of a
payment is learnt from the processor only: its signed webhook, or a status check when the resident returns.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from flask import abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.accounts.models import AccountLink
from app.accounts.proof_flow import ProofStep, client_addr
from app.accounts.service import get_link, verify_guest
from app.auth.security import login_required
from app.billing import billing_source, city_today
from app.billing.types import AccountSummary
from app.core.clock import utcnow
from app.database.commits import connection_lost
from app.database.db import db
from app.database.retry import end_unit_of_work
from app.mail import send_mail, sends_mail
from app.payments import bp, payment_processor, payment_rules
from app.payments.autopay import active_enrolment, apply_setup, cancel_enrolment, change_maximum, start_enrolment
from app.payments.charges import find_attempt, find_payment, refresh, start_payment
from app.payments.forms import AutopayForm, AutopayMaximumForm, GuestLookupForm, GuestPayForm, PayForm
from app.payments.models import AutopayEnrolment, Payment
from app.payments.owed import amount_owed
from app.payments.processor import InvalidWebhook, ProcessorUnavailable
from app.payments.rules import Notice, Urls, can_pay, money
from app.payments.webhooks import handle_event
from app.web.errors import render_error
from app.web.forms import EmptyForm

log = logging.getLogger(__name__)

#: How long a verified Pay Now lookup stays usable in the browser session.
GUEST_TTL = 15 * 60


def _external(endpoint: str, **values: Any) -> str:
    base = current_app.config.get("PORTAL_BASE_URL")
    if base:
        return str(base).rstrip("/") + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def _payment_urls(public_id: str) -> Urls:
    return Urls(
        success=_external("payments.finish", public_id=public_id),
        cancel=_external("payments.cancelled", public_id=public_id),
        webhook=_external("payments.webhook"),
    )


def _setup_urls(account_no: str) -> Callable[[str], Urls]:
    def urls(enrolment_id: str) -> Urls:
        return Urls(
            success=_external("payments.autopay_return", account_no=account_no, enrolment_id=enrolment_id),
            cancel=_external("payments.autopay_return", account_no=account_no, enrolment_id=enrolment_id),
            webhook=_external("payments.webhook"),
        )

    return urls


def _summary(link: AccountLink) -> AccountSummary:
    found = billing_source().summaries([(link.account_no, link.customer_id)], today=city_today())
    summary = found.get((link.account_no, link.customer_id))
    if summary is None:
        abort(404)
    return summary


def _own_link(account_no: str) -> AccountLink:
    link = get_link(db.session(), g.resident.id, account_no)
    if link is None:
        abort(404)
    return link


def _nothing_charged(title: str, message: str, retry_after: int) -> ResponseReturnValue:
    """A 503 page that says nothing was charged, with ``Retry-After``."""
    response = current_app.make_response(render_error(503, title=title, message=message))
    response.headers["Retry-After"] = str(retry_after)
    return response


def _unavailable() -> ResponseReturnValue:
    return _nothing_charged(
        _("Online payments are unavailable right now"),
        _(
            "We couldn't reach the payment processor. Nothing was charged. Please try again in a few minutes, "
            "or call Utility Billing at %(phone)s.",
            phone=current_app.config["UTILITY_PHONE"],
        ),
        120,
    )


def _not_saved() -> ResponseReturnValue:
    """The page for a payment whose database transaction was lost after the processor answered."""
    return _nothing_charged(
        _("Your payment was not started"),
        _(
            "We lost contact with our database before your payment was saved. Nothing was charged. "
            "Please try again, or call Utility Billing at %(phone)s.",
            phone=current_app.config["UTILITY_PHONE"],
        ),
        10,
    )


def send_notice(notice: Notice) -> None:
    """Email a payment or Auto Pay notice (after commit)."""
    amount, number, receipt = money(notice.amount_cents), notice.account_no, notice.receipt_no
    if notice.kind == "receipt":
        subject = _("Payment receipt %(receipt)s", receipt=receipt)
        body = _(
            "Thank you. We received your payment of %(amount)s for account %(number)s.\n"
            "Receipt number: %(receipt)s\n"
            "It will show on your account once Utility Billing posts it.",
            amount=amount,
            number=number,
            receipt=receipt,
        )
    elif notice.kind == "processing":
        subject = _("We are processing your bank payment %(receipt)s", receipt=receipt)
        body = _(
            "We are processing your bank payment of %(amount)s for account %(number)s (receipt number "
            "%(receipt)s). Bank payments take a few business days; we will email you when it has gone through. "
            "Please don't pay again.",
            amount=amount,
            number=number,
            receipt=receipt,
        )
    elif notice.kind == "bank_failed":
        subject = _("Your bank payment for account %(number)s did not go through", number=number)
        body = _(
            "Your bank did not accept the payment of %(amount)s for account %(number)s (receipt number "
            "%(receipt)s), so it was not taken. Please pay your bill another way by its due date.",
            amount=amount,
            number=number,
            receipt=receipt,
        )
    elif notice.kind == "returned":
        subject = _("Your payment for account %(number)s was returned", number=number)
        body = _(
            "The payment of %(amount)s for account %(number)s (receipt number %(receipt)s) was returned by your "
            "bank after it had gone through, so it no longer counts toward your bill. Please pay again by the due "
            "date, or call Utility Billing at %(phone)s.",
            amount=amount,
            number=number,
            receipt=receipt,
            phone=current_app.config["UTILITY_PHONE"],
        )
    elif notice.kind == "over_max":
        subject = _("Auto Pay did not pay your bill for account %(number)s", number=notice.account_no)
        body = _(
            "Your new bill of %(amount)s is more than your Auto Pay maximum of %(max)s, so it was not charged. "
            "Please pay it by its due date.",
            amount=money(notice.amount_cents),
            max=money(notice.max_cents or 0),
        )
    elif notice.kind == "charged":
        subject = _("Payment receipt %(receipt)s", receipt=notice.receipt_no)
        body = _(
            "Auto Pay paid %(amount)s on account %(number)s. Receipt number: %(receipt)s",
            amount=money(notice.amount_cents),
            number=notice.account_no,
            receipt=notice.receipt_no,
        )
    else:
        subject = _("Auto Pay could not pay your bill for account %(number)s", number=notice.account_no)
        body = _("The payment was declined. Please pay your bill by its due date.")
    send_mail(current_app.config, notice.to, subject, body)


# --- pay a bill -------------------------------------------------------------------------------------------


def _start(form: PayForm, *, source: str, account_no: str, customer_id: str, email: str) -> ResponseReturnValue:
    """Create the payment and send the resident to the processor; the same form twice gives one payment."""
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
        return _unavailable()
    except IntegrityError:  # the same form, submitted twice at the same moment
        db.session.rollback()
        first = find_attempt(db.session(), form.attempt.data)
        if first is None:
            abort(409)
        public_id, status, checkout_url = first.public_id, first.status, first.checkout_url
    except DBAPIError as exc:
        return _lost(exc)
    else:
        # read before the commit expires them: after it, no query may fail the committed answer
        public_id, status, checkout_url = payment.public_id, payment.status, payment.checkout_url
        try:
            db.session.commit()
        except DBAPIError as exc:
            return _lost(exc)
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
    return _not_saved()


def _amount_error(form: PayForm) -> None:
    rules = payment_rules()
    form.amount.errors = [
        _(
            "Enter an amount from %(low)s to %(high)s.",
            low=money(rules.min_cents),
            high=money(rules.max_cents),
        )
    ]


@bp.route("/accounts/<account_no>/pay", methods=["GET", "POST"])
@login_required
def pay_bill(account_no: str) -> ResponseReturnValue:
    """Pay a bill: the amount due or another amount, card or bank account, fees shown before paying."""
    link = _own_link(account_no)
    summary = _summary(link)
    owed = amount_owed(db.session(), summary)
    allowed = can_pay(summary)
    due = owed.cents
    form = PayForm(data={"amount": f"{due / 100:.2f}", "method": "card"} if request.method == "GET" else None)
    status = 200
    if request.method == "POST" and not allowed:
        status = 409
    elif form.validate_on_submit():
        rules = payment_rules()
        if rules.min_cents <= (form.cents or 0) <= rules.max_cents:
            return _start(
                form,
                source="resident",
                account_no=link.account_no,
                customer_id=link.customer_id,
                email=g.resident.email or "",
            )
        _amount_error(form)
    return (
        render_template(
            "payments/pay.html",
            link=link,
            summary=summary,
            form=form,
            allowed=allowed,
            due_cents=due,
            pending=owed.pending,
            rules=payment_rules(),
            action=url_for("payments.pay_bill", account_no=link.account_no),
        ),
        status,
    )


def _own_payment(public_id: str) -> Payment:
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
    return render_template(
        "payments/receipt.html", payment=payment, money=money, emailed=sends_mail(current_app.config)
    )


@bp.post("/payments/webhook")
def webhook() -> ResponseReturnValue:
    """The processor's signed event: verified, applied once, answered 200 (400 when forged or malformed)."""
    try:
        event = payment_processor().parse_webhook(request.get_data(), dict(request.headers))
    except InvalidWebhook as exc:
        log.warning("webhook refused: %s", exc)
        return {"error": "invalid signature"}, 400
    except ProcessorUnavailable:
        return {"error": "payments are not configured"}, 503
    try:
        handled = handle_event(db.session(), event, now=utcnow())
        db.session.commit()
    except IntegrityError:  # the same event delivered twice at once: the other delivery applied it
        db.session.rollback()
        return {"result": "duplicate"}, 200
    if handled.notice is not None:
        send_notice(handled.notice)
    return {"result": handled.result}, 200


# --- Pay Now without signing in ---------------------------------------------------------------------------


def mask_address(address: str) -> str:
    """The service address with its house number hidden but its first digit: "1•• Elm St"."""
    first, _, rest = address.partition(" ")
    if first[:1].isdigit():
        return first[0] + "•" * (len(first) - 1) + (" " + rest if rest else "")
    return address[:3] + "•" * max(len(address) - 3, 0)


@bp.route("/pay", methods=["GET", "POST"])
def guest_lookup() -> ResponseReturnValue:
    """Pay Now: the account number and the linking proof from the bill; the same attempt limits as linking."""
    step = ProofStep(GuestLookupForm)
    tenure = step.check(
        lambda account_no, proof: verify_guest(
            db.session(),
            account_no,
            proof,
            billing=billing_source(),
            rules=step.rules,
            client_addr=client_addr(),
            now=utcnow(),
        )
    )
    if step.refusal is not None:
        return step.refusal
    if tenure is not None:
        db.session.commit()
        session["guest_pay"] = {
            "account_no": tenure.account_no,
            "customer_id": tenure.customer_id,
            "at": int(time.time()),
        }
        return redirect(url_for("payments.guest_pay"))
    return render_template(
        "payments/guest_lookup.html", form=step.form, form_error=step.error, proof=step.rules.proof.value
    )


@bp.route("/pay/amount", methods=["GET", "POST"])
def guest_pay() -> ResponseReturnValue:
    """Pay Now, second step: only the amount due and a masked service address; a receipt to the email typed."""
    found = session.get("guest_pay")
    if not isinstance(found, dict) or int(time.time()) - int(found.get("at", 0)) > GUEST_TTL:
        return redirect(url_for("payments.guest_lookup"))
    pair = (str(found["account_no"]), str(found["customer_id"]))
    summary = billing_source().summaries([pair], today=city_today()).get(pair)
    if summary is None:
        return redirect(url_for("payments.guest_lookup"))
    due = amount_owed(db.session(), summary).cents
    allowed = can_pay(summary)
    form = GuestPayForm(data={"amount": f"{due / 100:.2f}", "method": "card"} if request.method == "GET" else None)
    status = 200
    if request.method == "POST" and not allowed:
        status = 409
    elif form.validate_on_submit():
        rules = payment_rules()
        if rules.min_cents <= (form.cents or 0) <= rules.max_cents:
            return _start(form, source="guest", account_no=pair[0], customer_id=pair[1], email=form.email.data)
        _amount_error(form)
    return (
        render_template(
            "payments/guest_pay.html",
            form=form,
            allowed=allowed,
            due_cents=due,
            address=mask_address(summary.service_address),
            rules=payment_rules(),
        ),
        status,
    )


# --- Auto Pay ---------------------------------------------------------------------------------------------


def _recent_sign_in() -> bool:
    stamp = session.get("auth_time") or session.get("login_at") or 0
    return time.time() - float(stamp) <= int(current_app.config["REAUTH_MINUTES"]) * 60


def _reauthenticate(account_no: str) -> ResponseReturnValue:
    flash(_("For your security, please sign in again to change Auto Pay."), "info")
    return redirect(url_for("auth.login", reauth="1", next=url_for("payments.autopay", account_no=account_no)))


@bp.route("/accounts/<account_no>/autopay", methods=["GET", "POST"])
@login_required
def autopay(account_no: str) -> ResponseReturnValue:
    """Auto Pay: enrol with a method saved at the processor and an optional maximum; change or cancel."""
    link = _own_link(account_no)
    summary = _summary(link)
    allowed = can_pay(summary)
    enrolment = active_enrolment(db.session(), link.account_no, link.customer_id)
    form = AutopayForm(data={"method": "card"} if request.method == "GET" else None)
    maximum = AutopayMaximumForm(
        data={"max_amount": f"{enrolment.max_cents / 100:.2f}" if enrolment and enrolment.max_cents else ""}
    )
    status = 200
    if request.method == "POST":
        if not allowed:
            status = 409
        elif not _recent_sign_in():
            return _reauthenticate(link.account_no)
        elif form.validate_on_submit():
            try:
                started = start_enrolment(
                    db.session(),
                    payment_processor(),
                    summary,
                    resident_id=g.resident.id,
                    email=g.resident.email or "",
                    method=form.method.data,
                    max_cents=form.max_cents,
                    attempt=form.attempt.data,
                    urls=_setup_urls(link.account_no),
                    today=city_today(),
                    now=utcnow(),
                )
            except ProcessorUnavailable:
                db.session.rollback()
                return _unavailable()
            db.session.commit()
            return redirect(started.setup_url, code=303)
    return (
        render_template(
            "payments/autopay.html",
            link=link,
            summary=summary,
            allowed=allowed,
            enrolment=enrolment,
            form=form,
            maximum=maximum,
            cancel_form=EmptyForm(),
            days_before=int(current_app.config["AUTOPAY_DAYS_BEFORE_DUE"]),
            recent=_recent_sign_in(),
        ),
        status,
    )


@bp.get("/accounts/<account_no>/autopay/<int:enrolment_id>/return")
@login_required
def autopay_return(account_no: str, enrolment_id: int) -> ResponseReturnValue:
    """Back from saving a method: ask the processor, then activate (or not) and show the result."""
    link = _own_link(account_no)
    enrolment = db.session.get(AutopayEnrolment, enrolment_id)
    if enrolment is None or enrolment.resident_id != g.resident.id or enrolment.account_no != link.account_no:
        abort(404)
    if enrolment.status == "setup" and enrolment.setup_id:
        try:
            outcome = payment_processor().checkout_outcome(enrolment.setup_id)
            apply_setup(db.session(), enrolment, outcome, actor="return", now=utcnow())
        except ProcessorUnavailable:
            db.session.rollback()
            return _unavailable()
        number, status = link.account_no, enrolment.status  # read before the commit expires them
        db.session.commit()
    else:
        number, status = link.account_no, enrolment.status
    if status == "active":
        flash(_("Auto Pay is on for account %(number)s.", number=number), "success")
    elif status != "setup":
        flash(_("Auto Pay was not turned on. Nothing was saved."), "warning")
    return redirect(url_for("payments.autopay", account_no=number))


@bp.post("/accounts/<account_no>/autopay/maximum")
@login_required
def autopay_maximum(account_no: str) -> ResponseReturnValue:
    """Change or clear the maximum amount (needs a recent sign-in)."""
    link = _own_link(account_no)
    enrolment = active_enrolment(db.session(), link.account_no, link.customer_id)
    if enrolment is None or not can_pay(_summary(link)):
        abort(409)
    if not _recent_sign_in():
        return _reauthenticate(link.account_no)
    form = AutopayMaximumForm()
    if not form.validate_on_submit():
        flash(form.max_amount.errors[0] if form.max_amount.errors else _("Please try again."), "error")
        return redirect(url_for("payments.autopay", account_no=link.account_no))
    change_maximum(db.session(), enrolment, form.max_cents, resident_id=g.resident.id, now=utcnow())
    number = link.account_no  # read before the commit expires it
    db.session.commit()
    flash(_("Auto Pay was updated for account %(number)s.", number=number), "success")
    return redirect(url_for("payments.autopay", account_no=number))


@bp.post("/accounts/<account_no>/autopay/cancel")
@login_required
def autopay_cancel(account_no: str) -> ResponseReturnValue:
    """Turn Auto Pay off: nothing more is charged."""
    link = _own_link(account_no)
    enrolment = active_enrolment(db.session(), link.account_no, link.customer_id)
    if enrolment is None:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    cancel_enrolment(db.session(), enrolment, resident_id=g.resident.id, now=utcnow())
    number = link.account_no  # read before the commit expires it
    db.session.commit()
    flash(_("Auto Pay is off for account %(number)s.", number=number), "success")
    return redirect(url_for("payments.autopay", account_no=number))
