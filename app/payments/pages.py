"""What the payment pages share: the resident's own account, the portal's addresses for the processor, and the
page that says nothing was charged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import abort, current_app, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_date
from flask_babel import gettext as _

from app.accounts.service import LinkedPair
from app.billing import billing_source, city_today
from app.billing.types import AccountSummary
from app.payments.owed import Due, what_is_due
from app.web.errors import render_error
from app.web.languages import local_money


def external_url(endpoint: str, **values: Any) -> str:
    """An absolute URL of the portal (under ``PORTAL_BASE_URL`` when set): where the processor sends people back."""
    base = current_app.config.get("PORTAL_BASE_URL")
    if base:
        return str(base).rstrip("/") + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def link_summary(link: LinkedPair) -> AccountSummary:
    """The Account Summary of a linked account; 404 when the billing system has none."""
    found = billing_source().summaries([(link.account_no, link.customer_id)], today=city_today())
    summary = found.get((link.account_no, link.customer_id))
    if summary is None:
        abort(404)
    return summary


@dataclass(frozen=True)
class DueWords:
    """What is due in the page's words: the figure, whether it is past due, and what is still being posted."""

    due: Due
    figure: str
    posting: str = ""

    @property
    def past_due(self) -> bool:
        """True when some of the amount was due before today."""
        return bool(self.due.past_due)


def due_words(balance_cents: int, pending_cents: int, past_due_cents: int, due_date: date | None) -> DueWords:
    """The one figure of what is due ("$93.78 due Dec 25, 2026", past due in its own words, nothing due) and a
    note for the portal payments Utility Billing has not posted yet, from plain values (``what_is_due``).
    The home card, the Account Summary, the Pay page and Pay Now all show this and nothing else."""
    due = what_is_due(balance_cents, pending_cents, past_due_cents, due_date)
    amount = local_money(due.amount)
    when = format_date(due.due_date, "medium") if due.due_date else ""
    if due.nothing_due:
        figure = (
            _("Nothing due. You have a credit of %(credit)s.", credit=local_money(due.credit))
            if due.credit
            else _("Nothing due")
        )
    elif due.past_due == due.amount:
        figure = (
            _("%(amount)s past due since %(date)s", amount=amount, date=when)
            if when
            else _("%(amount)s past due", amount=amount)
        )
    elif due.past_due:
        figure = _(
            "%(amount)s due, of which %(past_due)s is past due since %(date)s",
            amount=amount,
            past_due=local_money(due.past_due),
            date=when,
        )
    else:
        figure = _("%(amount)s due %(date)s", amount=amount, date=when) if when else _("%(amount)s due", amount=amount)
    posting = ""
    if due.pending:
        posting = _(
            "Your online payment of %(amount)s is still being posted by Utility Billing. It is already taken off "
            "what is due.",
            amount=local_money(due.pending),
        )
    return DueWords(due=due, figure=figure, posting=posting)


def summary_due(summary: AccountSummary, pending_cents: int) -> DueWords:
    """``due_words`` for an account's summary and its pending portal payments."""
    return due_words(summary.current_balance.cents, pending_cents, summary.amount_due_now.cents, summary.due_date)


def nothing_charged(title: str, message: str, retry_after: int) -> ResponseReturnValue:
    """A 503 page that says nothing was charged, with ``Retry-After``."""
    response = current_app.make_response(render_error(503, title=title, message=message))
    response.headers["Retry-After"] = str(retry_after)
    return response


def unavailable() -> ResponseReturnValue:
    """The page for a processor that could not be reached: nothing was charged."""
    return nothing_charged(
        _("Online payments are unavailable right now"),
        _(
            "We couldn't reach the payment processor. Nothing was charged. Please try again in a few minutes, "
            "or call Utility Billing at %(phone)s.",
            phone=current_app.config["UTILITY_PHONE"],
        ),
        120,
    )
