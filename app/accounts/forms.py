"""Account linking forms: shape checks only; whether the pair exists is the service's business."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, StringField
from wtforms.validators import ValidationError

from app.accounts.service import InvalidNumber, normalise_number

#: Longest raw input accepted, separators included (a six-digit number typed with spaces fits easily).
MAX_INPUT = 40


def _check(field: Field, length: int, *, account: bool) -> None:
    raw = field.data or ""
    try:
        if len(raw) > MAX_INPUT:
            raise InvalidNumber("too_long")
        field.data = normalise_number(raw, length)
    except InvalidNumber as exc:
        field.data = raw
        if exc.reason == "empty":
            message = _("Enter the account number.") if account else _("Enter the customer ID.")
        elif exc.reason == "characters":
            message = (
                _("Enter the account number using only the numbers 0 to 9.")
                if account
                else _("Enter the customer ID using only the numbers 0 to 9.")
            )
        elif length > 0:
            message = (
                _("The account number is too long. It has %(num)d digits.", num=length)
                if account
                else _("The customer ID is too long. It has %(num)d digits.", num=length)
            )
        else:
            message = _("The account number is too long.") if account else _("The customer ID is too long.")
        raise ValidationError(message) from None


class LinkAccountForm(FlaskForm):
    """Account Link Setup: the account number and customer ID printed on the bill.

    On success both fields hold the normalised numbers (separators stripped, zero-padded).
    """

    account_no = StringField(_l("What is the account number?"))
    customer_id = StringField(_l("What is the customer ID?"))

    def __init__(self, *args: Any, account_length: int = 0, customer_length: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account_length = account_length
        self.customer_length = customer_length

    def validate_account_no(self, field: Field) -> None:
        """Digits only (after stripping spaces, dashes and periods), at most the configured length."""
        _check(field, self.account_length, account=True)

    def validate_customer_id(self, field: Field) -> None:
        """Digits only (after stripping spaces, dashes and periods), at most the configured length."""
        _check(field, self.customer_length, account=False)


class RemoveLinkForm(FlaskForm):
    """The confirmation button that removes a linked account (CSRF token only)."""
