"""Payment forms: shape checks only (an amount, a method, an email); limits and rules are the service's."""

from __future__ import annotations

import re
import secrets
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, HiddenField, StringField
from wtforms.validators import ValidationError

from app.accounts.forms import ProofForm
from app.core.money import Money
from app.payments.rules import METHODS
from app.web.languages import local_typed_money

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,}$")


def parse_amount(raw: str | None) -> int | None:
    """Dollars as typed (``$1,234.5``, ``82,40``) to integer cents (:meth:`Money.parse`); None when it is not an
    amount, or is negative."""
    amount = Money.parse(raw)
    return amount.cents if amount is not None and amount.cents >= 0 else None


def _check_method(field: Field) -> None:
    if field.data not in METHODS:
        raise ValidationError(_("Choose how you want to pay."))


def _maximum(field: Field) -> int | None:
    """An Auto Pay maximum in cents, None when left empty."""
    if not (field.data or "").strip():
        return None
    cents = parse_amount(field.data)
    if not cents:
        raise ValidationError(_("Enter the maximum in dollars and cents, or leave it empty."))
    return cents


class _Attempt(FlaskForm):
    """A form with a random attempt token: submitting the same page twice makes one payment."""

    attempt = HiddenField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.attempt.data:
            self.attempt.data = secrets.token_urlsafe(18)

    def validate_attempt(self, field: Field) -> None:
        """The token the page was rendered with."""
        if not re.fullmatch(r"[A-Za-z0-9_-]{16,40}", field.data or ""):
            raise ValidationError(_("Please start the payment again."))


class PayForm(_Attempt):
    """Pay a bill: the amount (the amount due by default) and card or bank account."""

    amount = StringField(_l("Payment amount"))
    method = StringField(_l("How do you want to pay?"))

    def validate_amount(self, field: Field) -> None:
        """Dollars and cents; converted to integer cents in ``cents``."""
        self.cents = parse_amount(field.data)
        if self.cents is None:
            raise ValidationError(
                _("Enter the amount in dollars and cents, for example %(example)s.", example=local_typed_money(4250))
            )

    def validate_method(self, field: Field) -> None:
        """Card or bank account."""
        _check_method(field)


class GuestPayForm(PayForm):
    """Pay Now without signing in: also the email address the receipt goes to."""

    email = StringField(_l("Email address for the receipt"))

    def validate_email(self, field: Field) -> None:
        """Something that looks like an email address."""
        field.data = (field.data or "").strip()
        if not _EMAIL.match(field.data):
            raise ValidationError(_("Enter an email address like name@example.com."))


class GuestLookupForm(ProofForm):
    """Pay Now, first step: the account number and customer ID printed on the bill (checked like linking)."""


class AutopayForm(_Attempt):
    """Auto Pay: the method to save at the processor and an optional maximum amount."""

    method = StringField(_l("How do you want to pay?"))
    max_amount = StringField(_l("Maximum amount (optional)"))

    def validate_method(self, field: Field) -> None:
        """Card or bank account."""
        _check_method(field)

    def validate_max_amount(self, field: Field) -> None:
        """Empty (no maximum) or dollars and cents above zero."""
        self.max_cents = _maximum(field)


class AutopayMaximumForm(FlaskForm):
    """Change the maximum amount of an active enrolment."""

    max_amount = StringField(_l("Maximum amount (optional)"))

    def validate_max_amount(self, field: Field) -> None:
        """Empty (no maximum) or dollars and cents above zero."""
        self.max_cents = _maximum(field)
