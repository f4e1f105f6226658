"""Auto Pay: enrol with a method saved at the processor and an optional maximum, change it, turn it off.

Every change needs a recent sign-in (``REAUTH_MINUTES``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from app.accounts.pages import own_link_or_404
from app.accounts.service import LinkedPair
from app.auth.security import login_required
from app.auth.signin import CARRY_KEY
from app.billing import city_today
from app.billing.types import AccountSummary
from app.core.clock import utcnow
from app.database.db import db
from app.payments import bp
from app.payments.autopay import active_enrolment, apply_setup, cancel_enrolment, change_maximum, start_enrolment
from app.payments.configured import payment_processor
from app.payments.forms import AutopayForm, AutopayMaximumForm
from app.payments.models import AutopayEnrolment
from app.payments.pages import external_url, link_summary, unavailable
from app.payments.processor import ProcessorUnavailable
from app.payments.rules import Urls, can_pay
from app.web.forms import EmptyForm
from app.web.languages import local_typed_money


def _setup_urls(account_no: str) -> Callable[[str], Urls]:
    """The processor's addresses for an enrolment's setup page: back to ``autopay_return``, and the webhook."""

    def urls(enrolment_id: str) -> Urls:
        return Urls(
            success=external_url("payments.autopay_return", account_no=account_no, enrolment_id=enrolment_id),
            cancel=external_url("payments.autopay_return", account_no=account_no, enrolment_id=enrolment_id),
            webhook=external_url("payments.webhook"),
        )

    return urls


def _recent_sign_in() -> bool:
    """Whether the resident signed in within ``REAUTH_MINUTES``."""
    stamp = session.get("auth_time") or session.get("login_at") or 0
    return time.time() - float(stamp) <= int(current_app.config["REAUTH_MINUTES"]) * 60


#: How long the choices kept over a re-authentication stay usable.
DRAFT_TTL = 15 * 60


def _reauthenticate(account_no: str, kind: str, **values: str | None) -> ResponseReturnValue:
    """Send the resident to sign in again, then back to the Auto Pay page, keeping what they chose (server-side,
    in the session, as typed: the page checks it again when they send it)."""
    session[CARRY_KEY] = {
        "autopay": {
            "account_no": account_no,
            "kind": kind,
            "values": {name: str(value or "")[:40] for name, value in values.items()},
            "at": int(time.time()),
        }
    }
    return redirect(url_for("auth.login", reauth="1", next=url_for("payments.autopay", account_no=account_no)))


def _take_draft(account_no: str) -> tuple[str, dict[str, str]] | None:
    """The choices kept over a re-authentication for this account (once), as (kind, values); None otherwise."""
    carried = session.get(CARRY_KEY)
    draft = carried.get("autopay") if isinstance(carried, dict) else None
    if not isinstance(draft, dict) or draft.get("account_no") != account_no:
        return None
    session.pop(CARRY_KEY)
    values = draft.get("values")
    if int(time.time()) - int(draft.get("at", 0)) > DRAFT_TTL or not isinstance(values, dict):
        return None
    return str(draft.get("kind")), {str(k): str(v) for k, v in values.items()}


def _enrol(form: AutopayForm, link: LinkedPair, summary: AccountSummary) -> ResponseReturnValue:
    """Start the enrolment and send the resident to the processor's page that saves the method."""
    try:
        started = start_enrolment(
            db.session(),
            payment_processor(),
            summary,
            resident_id=g.resident.id,
            email=g.resident.email or "",
            method=form.method.data,
            max_cents=form.max_cents,
            attempt=form.attempt.data,
            urls=_setup_urls(link.account_no),
            today=city_today(),
            now=utcnow(),
        )
    except ProcessorUnavailable:
        db.session.rollback()
        return unavailable()
    db.session.commit()
    return redirect(started.setup_url, code=303)


def _changed(account_no: str, message: str) -> ResponseReturnValue:
    """Commit a change to an enrolment, say so and go back to the Auto Pay page (the caller reads both first)."""
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("payments.autopay", account_no=account_no))


@bp.route("/accounts/<account_no>/autopay", methods=["GET", "POST"])
@login_required
def autopay(account_no: str) -> ResponseReturnValue:
    """Auto Pay: enrol with a method saved at the processor and an optional maximum; change or cancel."""
    link = own_link_or_404(account_no, db.session())
    summary = link_summary(link)
    allowed = can_pay(summary)
    enrolment = active_enrolment(db.session(), link.account_no, link.customer_id)
    draft = _take_draft(link.account_no) if request.method == "GET" else None
    choices = draft[1] if draft and draft[0] == "enrol" else {"method": "card"}
    form = AutopayForm(data=choices if request.method == "GET" else None)
    current_max = local_typed_money(enrolment.max_cents) if enrolment and enrolment.max_cents else ""
    maximum = AutopayMaximumForm(
        data={"max_amount": draft[1].get("max_amount", "") if draft and draft[0] == "maximum" else current_max}
    )
    status = 200
    if request.method == "POST":
        if not allowed:
            status = 409
        elif not _recent_sign_in():
            return _reauthenticate(
                link.account_no, "enrol", method=request.form.get("method"), max_amount=request.form.get("max_amount")
            )
        elif form.validate_on_submit():
            return _enrol(form, link, summary)
    return (
        render_template(
            "payments/autopay.html",
            link=link,
            summary=summary,
            allowed=allowed,
            enrolment=enrolment,
            form=form,
            maximum=maximum,
            cancel_form=EmptyForm(),
            days_before=int(current_app.config["AUTOPAY_DAYS_BEFORE_DUE"]),
            recent=_recent_sign_in(),
            resumed=draft is not None,
        ),
        status,
    )


@bp.get("/accounts/<account_no>/autopay/<int:enrolment_id>/return")
@login_required
def autopay_return(account_no: str, enrolment_id: int) -> ResponseReturnValue:
    """Back from saving a method: ask the processor, then activate (or not) and show the result."""
    link = own_link_or_404(account_no, db.session())
    enrolment = db.session.get(AutopayEnrolment, enrolment_id)
    if enrolment is None or enrolment.resident_id != g.resident.id or enrolment.account_no != link.account_no:
        abort(404)
    if enrolment.status == "setup" and enrolment.setup_id:
        try:
            outcome = payment_processor().checkout_outcome(enrolment.setup_id)
            apply_setup(db.session(), enrolment, outcome, actor="return", now=utcnow())
        except ProcessorUnavailable:
            db.session.rollback()
            return unavailable()
        db.session.commit()
    number, status = link.account_no, enrolment.status
    if status == "active":
        flash(_("Auto Pay is on for account %(number)s.", number=number), "success")
    elif status != "setup":
        flash(_("Auto Pay was not turned on. Nothing was saved."), "warning")
    return redirect(url_for("payments.autopay", account_no=number))


@bp.post("/accounts/<account_no>/autopay/maximum")
@login_required
def autopay_maximum(account_no: str) -> ResponseReturnValue:
    """Change or clear the maximum amount (needs a recent sign-in)."""
    link = own_link_or_404(account_no, db.session())
    enrolment = active_enrolment(db.session(), link.account_no, link.customer_id)
    if enrolment is None or not can_pay(link_summary(link)):
        abort(409)
    if not _recent_sign_in():
        return _reauthenticate(link.account_no, "maximum", max_amount=request.form.get("max_amount"))
    form = AutopayMaximumForm()
    if not form.validate_on_submit():
        flash(form.max_amount.errors[0] if form.max_amount.errors else _("Please try again."), "error")
        return redirect(url_for("payments.autopay", account_no=link.account_no))
    change_maximum(db.session(), enrolment, form.max_cents, resident_id=g.resident.id, now=utcnow())
    return _changed(link.account_no, _("Auto Pay was updated for account %(number)s.", number=link.account_no))


@bp.post("/accounts/<account_no>/autopay/cancel")
@login_required
def autopay_cancel(account_no: str) -> ResponseReturnValue:
    """Turn Auto Pay off: nothing more is charged."""
    link = own_link_or_404(account_no, db.session())
    enrolment = active_enrolment(db.session(), link.account_no, link.customer_id)
    if enrolment is None:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    cancel_enrolment(db.session(), enrolment, resident_id=g.resident.id, now=utcnow())
    return _changed(link.account_no, _("Auto Pay is off for account %(number)s.", number=link.account_no))
