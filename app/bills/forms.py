"""The bill delivery form: one of two choices; whether the resident may make it is the domain's business."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, StringField
from wtforms.validators import ValidationError

from app.bills.delivery import CHOICES


class DeliveryForm(FlaskForm):
    """How bills reach the resident: by email (paperless) or on paper by mail."""

    #: Rendered as two USWDS radio tiles by ``bills/delivery.html``; checked here.
    delivery = StringField(_l("How do you want to get your bills?"))

    def validate_delivery(self, field: Field) -> None:
        """A choice of the two on offer; anything else is a tampered request."""
        if field.data not in CHOICES:
            raise ValidationError(_("Choose how you want to get your bills."))
