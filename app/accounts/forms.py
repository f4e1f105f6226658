"""Account linking forms: shape checks only; whether the pair exists is the service's business."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, StringField
from wtforms.validators import ValidationError

from app.accounts.proofs import InvalidProof, LinkProof, check_name, parse_bill_amount
from app.accounts.service import InvalidNumber, normalise_number
from app.web.languages import local_typed_money

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


class ProofForm(FlaskForm):
    """The account number and the city's proof (``LINK_PROOF``) from the bill: linking's and Pay Now's first step.

    Only the proof's field stays on the form (the others are removed). On success the account number and a
    customer ID hold the normalised numbers (separators stripped, zero-padded); a last name or an amount is
    kept as typed, stripped, and compared by the service.
    """

    account_no = StringField(_l("What is the account number?"))
    customer_id = StringField(_l("What is the customer ID?"))
    last_name = StringField(_l("What is the last name on the account?"))
    last_bill_amount = StringField(_l("What was the amount of your last bill?"))

    def __init__(
        self,
        *args: Any,
        account_length: int = 0,
        customer_length: int = 0,
        proof: LinkProof = LinkProof.CUSTOMER_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.account_length = account_length
        self.customer_length = customer_length
        self.proof = proof
        for other in LinkProof:
            if other is not proof:
                delattr(self, other.value)

    @property
    def proof_field(self) -> Field:
        """The field of the city's proof: customer ID, last name or last bill amount."""
        field: Field = self[self.proof.value]
        return field

    def validate_account_no(self, field: Field) -> None:
        """Digits only (after stripping spaces, dashes and periods), at most the configured length."""
        _check(field, self.account_length, account=True)

    def validate_customer_id(self, field: Field) -> None:
        """Digits only (after stripping spaces, dashes and periods), at most the configured length."""
        _check(field, self.customer_length, account=False)

    def validate_last_name(self, field: Field) -> None:
        """Some letters, at most the extract's 100 characters."""
        try:
            field.data = check_name(field.data)
        except InvalidProof as exc:
            if exc.reason == "too_long":
                raise ValidationError(_("The last name is too long.")) from None
            raise ValidationError(_("Enter the last name.")) from None

    def validate_last_bill_amount(self, field: Field) -> None:
        """Dollars and cents, such as 84.50 or $1,234.50."""
        raw = (field.data or "").strip()
        field.data = raw
        try:
            if len(raw) > MAX_INPUT:
                raise InvalidProof("format")
            parse_bill_amount(raw)
        except InvalidProof as exc:
            if exc.reason == "empty":
                raise ValidationError(_("Enter the amount of your last bill.")) from None
            example = local_typed_money(4250)
            raise ValidationError(
                _("Enter the amount in dollars and cents, for example %(example)s.", example=example)
            ) from None


class LinkAccountForm(ProofForm):
    """Account Link Setup: the pair that links an account to the resident's profile."""


class RemoveLinkForm(FlaskForm):
    """The confirmation button that removes a linked account (CSRF token only)."""
