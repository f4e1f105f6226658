"""Account Settings, Account Link Setup and removing a linked account."""

from __future__ import annotations

from datetime import date
from functools import partial

from flask import abort, flash, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from app.accounts import bp, service
from app.accounts.forms import LinkAccountForm, RemoveLinkForm
from app.accounts.proof_flow import ProofStep, client_addr, link_rules
from app.auth.security import login_required
from app.billing import billing_source, city_today
from app.billing.client import Pair
from app.billing.types import AccountSummary
from app.core.clock import utcnow
from app.database.db import db
from app.database.reads import read_session


def _linked_summaries(resident_id: int, today: date) -> tuple[list[service.LinkedPair], dict[Pair, AccountSummary]]:
    return service.linked_summaries(read_session(), billing_source(), resident_id, today=today)


@bp.get("/account")
@login_required
def settings() -> ResponseReturnValue:
    """Account Settings: profile, linked accounts (with "Remove") and recent linking activity."""
    links, summaries = _linked_summaries(g.resident.id, city_today())
    return render_template(
        "accounts/settings.html",
        resident=g.resident,
        links=links,
        summaries=summaries,
        activity=service.recent_activity(db.session(), g.resident.id),
        max_links=link_rules().max_links,
    )


@bp.route("/accounts/link", methods=["GET", "POST"])
@login_required
def link_account() -> ResponseReturnValue:
    """Account Link Setup: the account number and the city's proof (customer ID, last name or bill amount)."""
    step = ProofStep(LinkAccountForm)
    link = step.check(partial(service.link_account, resident_id=g.resident.id))
    if step.refusal is not None:
        return step.refusal
    if link is not None:
        db.session.commit()
        flash(_("Account %(number)s is now linked to your profile.", number=link.account_no), "success")
        return redirect(url_for("bills.show_summary", account_no=link.account_no))
    return render_template(
        "accounts/link.html",
        form=step.form,
        form_error=step.error,
        account_length=step.rules.account_length,
        customer_length=step.rules.customer_length,
        proof=step.rules.proof.value,
    )


@bp.route("/accounts/<account_no>/remove", methods=["GET", "POST"])
@login_required
def remove_account(account_no: str) -> ResponseReturnValue:
    """Confirm, then remove the resident's own link to an account (other residents' links stay)."""
    link = service.get_link(db.session(), g.resident.id, account_no)
    if link is None:
        abort(404)
    form = RemoveLinkForm()
    if form.validate_on_submit():
        service.unlink_account(db.session(), g.resident.id, account_no, client_addr=client_addr(), now=utcnow())
        db.session.commit()
        flash(_("Account %(number)s was removed from your profile.", number=account_no), "success")
        return redirect(url_for("accounts.settings"))
    summary = service.account_summaries(billing_source(), [(link.account_no, link.customer_id)], today=city_today())
    return render_template(
        "accounts/remove.html", form=form, link=link, summary=summary.get((link.account_no, link.customer_id))
    )
