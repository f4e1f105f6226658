"""Staff console pages. Every view needs the staff role from the ID token."""

from __future__ import annotations

import logging

from flask import flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import SearchField
from wtforms.validators import Length, Optional

from app.auth.models import Resident
from app.auth.security import staff_required
from app.auth.sessions import end_sessions
from app.billing.importer import last_success, recent_imports
from app.core.clock import utcnow
from app.database.db import db
from app.payments import reconcile
from app.payments.autopay import enrolments
from app.payments.charges import recent_payments
from app.staff import bp, service
from app.web.forms import EmptyForm

log = logging.getLogger(__name__)


class ResidentSearchForm(FlaskForm):
    """Search residents by email, name, linked account number or account holder (GET, so no CSRF token)."""

    class Meta:
        csrf = False

    q = SearchField(validators=[Optional(), Length(max=200)])


@bp.before_request
@staff_required
def require_staff() -> None:
    """Anonymous visitors sign in; residents without the staff role get 403."""


@bp.get("/")
def index() -> ResponseReturnValue:
    """Overview numbers, the latest billing imports and the latest linking activity."""
    session = db.session()
    return render_template(
        "staff/index.html",
        overview=service.overview(session, utcnow()),
        events=service.audit_trail(session, limit=50),
        imports=recent_imports(db.engine, limit=10),
        last_import=last_success(db.engine),
        reconciliation=reconcile.last_run(session),
    )


@bp.get("/reconciliation")
def reconciliation() -> ResponseReturnValue:
    """The latest run of ``flask payments reconcile`` and every mismatch it found."""
    run, mismatches = reconcile.last_run(db.session())
    return render_template("staff/reconciliation.html", run=run, mismatches=mismatches)


@bp.get("/residents")
def residents() -> ResponseReturnValue:
    """Find a resident by email, name, a linked account's number or its holder's name."""
    form = ResidentSearchForm(request.args)
    found = None
    if form.q.data and form.validate():
        found = service.find_residents(db.session(), form.q.data)
    return render_template("staff/residents.html", form=form, found=found)


@bp.get("/residents/<int:resident_id>")
def resident(resident_id: int) -> ResponseReturnValue:
    """One resident: profile, linked accounts, sessions and activity."""
    person = db.get_or_404(Resident, resident_id)
    session = db.session()
    return render_template(
        "staff/resident.html",
        person=person,
        links=service.resident_links(session, resident_id),
        sessions=service.active_session_count(session, resident_id, utcnow()),
        events=service.audit_trail(session, resident_id=resident_id, limit=20),
        form=EmptyForm(),
        payments=recent_payments(session, resident_id=resident_id),
        enrolments=enrolments(session, resident_id=resident_id),
    )


@bp.get("/accounts/<account_no>/payments")
def account_payments(account_no: str) -> ResponseReturnValue:
    """Payments and Auto Pay enrolments on one account, whoever made them (refunds are made at the processor)."""
    session = db.session()
    return render_template(
        "staff/account_payments.html",
        account_no=account_no,
        payments=recent_payments(session, account_no=account_no, limit=200),
        enrolments=enrolments(session, account_no=account_no),
    )


@bp.route("/residents/<int:resident_id>/sign-out", methods=["GET", "POST"])
def sign_out_resident(resident_id: int) -> ResponseReturnValue:
    """Confirm, then end every portal session of a resident (e.g. after they report a lost phone)."""
    person = db.get_or_404(Resident, resident_id)
    form = EmptyForm()
    if request.method == "GET":
        sessions = service.active_session_count(db.session(), resident_id, utcnow())
        return render_template("staff/sign_out.html", person=person, sessions=sessions, form=form)
    if form.validate_on_submit():
        ended = end_sessions(resident_id=person.id)
        log.info("staff resident %s ended %s sessions of resident %s", g.resident.id, ended, person.id)
        flash(_("Ended %(count)s portal session(s) for this resident.", count=ended))
    return redirect(url_for("staff.resident", resident_id=person.id))
