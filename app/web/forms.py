"""Forms shared across features, and the CSRF protection that covers every POST."""

from __future__ import annotations

from flask_wtf import CSRFProtect, FlaskForm

csrf = CSRFProtect()


class EmptyForm(FlaskForm):
    """A form with nothing but its CSRF token: sign-out and confirmation buttons."""
