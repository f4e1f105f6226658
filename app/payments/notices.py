"""The emails payments send after a commit: receipts, bank debits processing, failed or returned, and Auto Pay's
notices. The pages, the webhook and ``flask payments run`` send them."""

from __future__ import annotations

from flask import current_app
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from app.mail import send_mail
from app.payments.rules import Notice
from app.web.languages import local_money

#: Each kind of notice's subject and body (any other kind: ``failed``), filled in from the notice when sent.
MAILS: dict[str, tuple[LazyString, LazyString]] = {
    "receipt": (
        _l("Payment receipt %(receipt)s"),
        _l(
            "Thank you. We received your payment of %(amount)s for account %(number)s.\n"
            "Receipt number: %(receipt)s\n"
            "It will show on your account once Utility Billing posts it."
        ),
    ),
    "processing": (
        _l("We are processing your bank payment %(receipt)s"),
        _l(
            "We are processing your bank payment of %(amount)s for account %(number)s (receipt number "
            "%(receipt)s). Bank payments take a few business days; we will email you when it has gone through. "
            "Please don't pay again."
        ),
    ),
    "bank_failed": (
        _l("Your bank payment for account %(number)s did not go through"),
        _l(
            "Your bank did not accept the payment of %(amount)s for account %(number)s (receipt number "
            "%(receipt)s), so it was not taken. Please pay your bill another way by its due date."
        ),
    ),
    "returned": (
        _l("Your payment for account %(number)s was returned"),
        _l(
            "The payment of %(amount)s for account %(number)s (receipt number %(receipt)s) was returned by your "
            "bank after it had gone through, so it no longer counts toward your bill. Please pay again by the due "
            "date, or call Utility Billing at %(phone)s."
        ),
    ),
    "over_max": (
        _l("Auto Pay did not pay your bill for account %(number)s"),
        _l(
            "Your new bill of %(amount)s is more than your Auto Pay maximum of %(max)s, so it was not charged. "
            "Please pay it by its due date."
        ),
    ),
    "charged": (
        _l("Payment receipt %(receipt)s"),
        _l("Auto Pay paid %(amount)s on account %(number)s. Receipt number: %(receipt)s"),
    ),
    "failed": (
        _l("Auto Pay could not pay your bill for account %(number)s"),
        _l("The payment was declined. Please pay your bill by its due date."),
    ),
}


def send_notice(notice: Notice) -> None:
    """Email a payment or Auto Pay notice (after commit), in the language of the request or the job."""
    subject, body = MAILS.get(notice.kind, MAILS["failed"])
    values = {
        "amount": local_money(notice.amount_cents),
        "number": notice.account_no,
        "receipt": notice.receipt_no,
        "max": local_money(notice.max_cents or 0),
        "phone": current_app.config["UTILITY_PHONE"],
    }
    send_mail(current_app.config, notice.to, str(subject) % values, str(body) % values)
