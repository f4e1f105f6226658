"""Account Summary, bill history, one bill, consumption history and bill delivery of a linked account.

Every page first finds the signed-in resident's own link to the account number in the URL
(``own_link_or_404``, next to the accounts' views) and answers 404 when there is none, whatever number is
guessed, so that no page reveals whether an account exists.
"""

from __future__ import annotations

from flask import abort, flash, g, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _

from app.accounts.pages import own_link_or_404
from app.auth.security import login_required
from app.billing import billing_source, city_today
from app.billing.labels import Labels, labels_for
from app.bills import bp, delivery
from app.bills.forms import DeliveryForm
from app.bills.kept import kept_page
from app.bills.service import PAGE_SIZE, consumption_history, get_statement, page_number, page_of
from app.core.clock import utcnow
from app.database.db import db
from app.database.reads import read_session
from app.payments.autopay import active_enrolment
from app.payments.owed import amount_owed
from app.payments.pages import summary_due
from app.payments.rules import can_pay


@bp.get("/accounts/<account_no>")
@login_required
def show_summary(account_no: str) -> ResponseReturnValue:
    """Account Summary: balance, payments, customer information and services (kept per session)."""
    return kept_page(lambda: _summary_page(account_no))


def _summary_page(account_no: str) -> str:
    link = own_link_or_404(account_no)
    statement = get_statement(billing_source(), link.account_no, link.customer_id, today=city_today())
    if statement is None:  # gone from the last full extract; the link stays in case it comes back
        message = _("This account is no longer in the billing system.")
        title = _("Account %(number)s", number=link.account_no)
        abort(make_response(render_template("errors/error.html", title=title, message=message, status=404), 404))
    owed = amount_owed(read_session(), statement.summary)
    return render_template(
        "bills/summary.html",
        link=link,
        statement=statement,
        pending=list(owed.pending),
        due=summary_due(statement.summary, owed.pending_cents),
        enrolment=active_enrolment(read_session(), link.account_no, link.customer_id),
        can_pay=can_pay(statement.summary),
        labels=_labels(),
    )


@bp.get("/accounts/<account_no>/bills")
@login_required
def list_bills(account_no: str) -> ResponseReturnValue:
    """Bill history and payments, over the resident's own time on the account (kept per session).

    ``page`` and ``payments_page`` choose the pages; one past the last is not found (404).
    """
    return kept_page(lambda: _bills_page(account_no), reads=("page", "payments_page"))


def _bills_page(account_no: str) -> str:
    link = own_link_or_404(account_no)
    billing = billing_source()
    bills_at, payments_at = page_number(request.args.get("page")), page_number(request.args.get("payments_page"))
    if bills_at is None or payments_at is None:
        abort(404)
    bills, bills_page = page_of(
        billing.bills(link.account_no, link.customer_id, limit=PAGE_SIZE + 1, offset=(bills_at - 1) * PAGE_SIZE),
        bills_at,
    )
    payments, payments_page = page_of(
        billing.payments(link.account_no, link.customer_id, limit=PAGE_SIZE + 1, offset=(payments_at - 1) * PAGE_SIZE),
        payments_at,
    )
    if (bills_at > 1 and not bills) or (payments_at > 1 and not payments):
        abort(404)  # past the last page
    return render_template(
        "bills/bills.html",
        link=link,
        bills=bills,
        payments=payments,
        bills_page=bills_page,
        payments_page=payments_page,
    )


@bp.get("/accounts/<account_no>/bills/<bill_no>")
@login_required
def show_bill(account_no: str, bill_no: str) -> ResponseReturnValue:
    """One bill: its charges and the payments applied to it (kept per session)."""
    return kept_page(lambda: _bill_page(account_no, bill_no))


def _bill_page(account_no: str, bill_no: str) -> str:
    link = own_link_or_404(account_no)
    billing = billing_source()
    bill = billing.bill(link.account_no, link.customer_id, bill_no)
    if bill is None:
        abort(404)
    payments = billing.payments(link.account_no, link.customer_id, bill_no=bill.bill_no)
    return render_template("bills/bill.html", link=link, bill=bill, payments=payments, labels=_labels())


def _labels() -> Labels:
    """The service and bill-line labels in the page's language (from the last import's mapping)."""
    return labels_for(read_session(), str(get_locale() or "en"))


@bp.get("/accounts/<account_no>/consumption")
@login_required
def show_consumption(account_no: str) -> ResponseReturnValue:
    """Consumption history: a chart with a text alternative and a table of the last 24 months (kept per session)."""
    return kept_page(lambda: _consumption_page(account_no))


def _consumption_page(account_no: str) -> str:
    link = own_link_or_404(account_no)
    history = consumption_history(billing_source(), link.account_no, link.customer_id, today=city_today())
    return render_template("bills/consumption.html", link=link, history=history)


@bp.route("/accounts/<account_no>/delivery", methods=["GET", "POST"])
@login_required
def change_delivery(account_no: str) -> ResponseReturnValue:
    """Bill delivery: paperless (email) or paper, for the account's current customer."""
    link = own_link_or_404(account_no)
    billing = billing_source()
    summary = billing.summaries([(link.account_no, link.customer_id)], today=city_today()).get(
        (link.account_no, link.customer_id)
    )
    if summary is None:
        abort(404)
    form = DeliveryForm(data={"delivery": summary.bill_delivery} if request.method == "GET" else None)
    status, form_error, can_change = 200, None, delivery.can_change(summary)
    if request.method == "POST":
        if not can_change:
            status = 409
        elif form.validate_on_submit():
            try:
                change = delivery.change_delivery(
                    db.session(),
                    billing,
                    summary,
                    form.delivery.data,
                    resident_id=g.resident.id,
                    email_verified=bool(g.resident.email_verified),
                    client_addr=request.remote_addr or "unknown",
                    now=utcnow(),
                )
            except delivery.DeliveryError as exc:
                db.session.rollback()
                form_error = _delivery_message(exc.reason)
            else:
                db.session.commit()
                billing.forget(link.account_no)
                flash(_delivery_done(change), "success")
                return redirect(url_for("bills.show_summary", account_no=link.account_no))
        else:
            status = 400 if form.delivery.data not in delivery.CHOICES and form.delivery.data else 200
    return (
        render_template(
            "bills/delivery.html",
            link=link,
            summary=summary,
            form=form,
            form_error=form_error,
            can_change=can_change,
        ),
        status,
    )


def _delivery_message(reason: str) -> str:
    if reason == "unverified":
        return _(
            "Paperless billing sends bills to your email address, which is not activated yet. Open the "
            "activation email we sent you, then try again."
        )
    return _("Choose how you want to get your bills.")


def _delivery_done(change: delivery.DeliveryChange) -> str:
    if not change.changed:
        return _("Nothing changed: account %(number)s already gets its bills this way.", number=change.account_no)
    if change.delivery == delivery.EMAIL:
        return _("Paperless billing is on for account %(number)s. Bills will come by email.", number=change.account_no)
    return _("Account %(number)s will get paper bills by mail.", number=change.account_no)
