"""Account Settings, Account Link Setup and removing a linked account."""

from __future__ import annotations

from datetime import date, datetime

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_datetime
from flask_babel import gettext as _

from app.accounts import bp, service
from app.accounts.forms import LinkAccountForm, RemoveLinkForm
from app.accounts.proofs import LinkProof
from app.accounts.service import LinkRules
from app.auth.security import login_required
from app.billing import billing_source, city_today
from app.billing.client import Pair
from app.billing.types import AccountSummary
from app.core.clock import utcnow
from app.core.config import get_settings
from app.database.db import db
from app.database.reads import read_session
from app.web.errors import render_error


def link_rules() -> LinkRules:
    """This app's format rules and attempt limits (built once, in ``app.accounts.init_app``)."""
    rules: LinkRules = current_app.extensions["link_rules"]
    return rules


def own_link_or_404(account_no: str) -> service.LinkedPair:
    """The signed-in resident's own link to ``account_no``; 404 when there is none, whoever else linked it."""
    link = service.find_link(read_session(), g.resident.id, account_no)
    if link is None:
        abort(404)
    return link


def _client_addr() -> str:
    # ProxyFix (PROXY_FIX_HOPS) has already put the real client address here when behind a proxy.
    return request.remote_addr or "unknown"


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
    rules = link_rules()
    form = LinkAccountForm(
        account_length=rules.account_length, customer_length=rules.customer_length, proof=rules.proof
    )
    form_error = None
    if form.validate_on_submit():
        try:
            link = service.link_account(
                db.session(),
                g.resident.id,
                form.account_no.data,
                form.proof_field.data,
                billing=billing_source(),
                rules=rules,
                client_addr=_client_addr(),
                now=utcnow(),
            )
        except service.RateLimited as exc:
            db.session.commit()
            return _too_many_attempts(exc)
        except service.LinkError as exc:
            db.session.commit()  # keep the audit row: the attempt limits count it
            form_error = _link_error_message(exc, rules, form.account_no.data)
        else:
            db.session.commit()
            flash(_("Account %(number)s is now linked to your profile.", number=link.account_no), "success")
            return redirect(url_for("bills.show_summary", account_no=link.account_no))
    return render_template(
        "accounts/link.html",
        form=form,
        form_error=form_error,
        account_length=rules.account_length,
        customer_length=rules.customer_length,
        proof=rules.proof.value,
    )


def _link_error_message(exc: service.LinkError, rules: LinkRules, account_no: str) -> str:
    if isinstance(exc, service.EmailNotVerified):
        return _("Activate your email address before you link an account: open the link we emailed you.")
    if isinstance(exc, service.AlreadyLinked):
        return _(
            "Account %(number)s is already linked to your profile. You'll find it under Account Settings.",
            number=account_no,
        )
    if isinstance(exc, service.TooManyLinks):
        return _("You can link up to %(num)d accounts. Remove one you no longer need, then try again.", num=exc.limit)
    return not_found_message(rules.proof, exc if isinstance(exc, service.AccountNotFound) else None)


def not_found_message(proof: LinkProof, found: service.AccountNotFound | None = None) -> str:
    """The one message for a pair that matched nothing (it never says which half was wrong), then the last
    tries counted down, or when the next try is allowed after the last one."""
    message = _pair_not_found(proof)
    if found is None or found.tries_left is None or found.tries_left > service.WARN_TRIES:
        return message
    if found.tries_left == 0 and found.retry_at is not None:
        return (
            message
            + " "
            + _(
                "For your security, that was the last try for now. Please try again after %(time)s.",
                time=pause_end(found.retry_at),
            )
        )
    if found.tries_left == 1:  # WARN_TRIES is small: two messages, not plural forms
        return message + " " + _("1 try left. After that, for your security, you will have to wait a few minutes.")
    return (
        message
        + " "
        + _(
            "%(num)d tries left. After that, for your security, you will have to wait a few minutes.",
            num=found.tries_left,
        )
    )


def pause_end(when: datetime) -> str:
    """When a pause ends, in the city's time with its zone spelled out ("11/23/26, 9:15 AM Central Standard Time")."""
    return f"{format_datetime(when, 'short')} {format_datetime(when, 'zzzz')}"


def _pair_not_found(proof: LinkProof) -> str:
    phone = get_settings().utility_phone
    if proof is LinkProof.LAST_NAME:
        return _(
            "We couldn't find an account with that account number and last name. Check both on your bill, "
            "or contact Utility Billing at %(phone)s.",
            phone=phone,
        )
    if proof is LinkProof.LAST_BILL_AMOUNT:
        return _(
            "We couldn't find an account with that account number and last bill amount. Check both on your most "
            "recent bill, or contact Utility Billing at %(phone)s.",
            phone=phone,
        )
    return _(
        "We couldn't find an account with that account number and customer ID. Check both numbers on your bill, "
        "or contact Utility Billing at %(phone)s.",
        phone=phone,
    )


def _too_many_attempts(exc: service.RateLimited) -> ResponseReturnValue:
    wait = max(int((exc.retry_at - utcnow()).total_seconds()) + 1, 1)
    response = current_app.make_response(
        render_error(
            429,
            title=_("Too many attempts to link an account"),
            message=_(
                "For your security, linking is paused after several numbers that didn't match. "
                "Please try again after %(time)s.",
                time=pause_end(exc.retry_at),
            ),
        )
    )
    response.headers["Retry-After"] = str(wait)
    return response


@bp.route("/accounts/<account_no>/remove", methods=["GET", "POST"])
@login_required
def remove_account(account_no: str) -> ResponseReturnValue:
    """Confirm, then remove the resident's own link to an account (other residents' links stay)."""
    link = service.get_link(db.session(), g.resident.id, account_no)
    if link is None:
        abort(404)
    form = RemoveLinkForm()
    if form.validate_on_submit():
        service.unlink_account(db.session(), g.resident.id, account_no, client_addr=_client_addr(), now=utcnow())
        db.session.commit()
        flash(_("Account %(number)s was removed from your profile.", number=account_no), "success")
        return redirect(url_for("accounts.settings"))
    summary = service.account_summaries(billing_source(), [(link.account_no, link.customer_id)], today=city_today())
    return render_template(
        "accounts/remove.html", form=form, link=link, summary=summary.get((link.account_no, link.customer_id))
    )
