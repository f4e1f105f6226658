"""What the payment pages share: the resident's own account, the portal's addresses for the processor, and the
page that says nothing was charged."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from app.accounts.service import LinkedPair
from app.billing import billing_source, city_today
from app.billing.types import AccountSummary
from app.web.errors import render_error


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
