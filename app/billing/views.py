"""Account Summary, bill history, one bill, and consumption history of a linked account.

Every page first finds the signed-in resident's own link to the account number in the URL and answers
404 when there is none, whatever number is guessed, so that no page reveals whether an account exists.
"""

from __future__ import annotations

from flask import abort, g, render_template
from flask.typing import ResponseReturnValue

from app.accounts.models import AccountLink
from app.accounts.service import get_link
from app.billing import billing_source, bp, city_today
from app.billing.service import consumption_history, get_statement
from app.reads import read_session
from app.security import login_required


def _own_link(account_no: str) -> AccountLink:
    link = get_link(read_session(), g.resident.id, account_no)
    if link is None:
        abort(404)
    return link


@bp.get("/accounts/<account_no>")
@login_required
def show_summary(account_no: str) -> ResponseReturnValue:
    """Account Summary: balance, payments, customer information and services."""
    link = _own_link(account_no)
    statement = get_statement(billing_source(), link.account_no, link.customer_id, today=city_today())
    if statement is None:
        abort(404)
    return render_template("billing/summary.html", link=link, statement=statement)


@bp.get("/accounts/<account_no>/bills")
@login_required
def list_bills(account_no: str) -> ResponseReturnValue:
    """Bill history and payments, over the resident's own time on the account."""
    link = _own_link(account_no)
    billing = billing_source()
    return render_template(
        "billing/bills.html",
        link=link,
        bills=billing.bills(link.account_no, link.customer_id),
        payments=billing.payments(link.account_no, link.customer_id),
    )


@bp.get("/accounts/<account_no>/bills/<bill_no>")
@login_required
def show_bill(account_no: str, bill_no: str) -> ResponseReturnValue:
    """One bill: its charges and the payments applied to it."""
    link = _own_link(account_no)
    billing = billing_source()
    bill = billing.bill(link.account_no, link.customer_id, bill_no)
    if bill is None:
        abort(404)
    payments = [p for p in billing.payments(link.account_no, link.customer_id) if p.bill_no == bill.bill_no]
    return render_template("billing/bill.html", link=link, bill=bill, payments=payments)


@bp.get("/accounts/<account_no>/consumption")
@login_required
def show_consumption(account_no: str) -> ResponseReturnValue:
    """Consumption history: a chart with a text alternative and a table of the last 24 months."""
    link = _own_link(account_no)
    history = consumption_history(billing_source(), link.account_no, link.customer_id, today=city_today())
    return render_template("billing/consumption.html", link=link, history=history)
