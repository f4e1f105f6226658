"""The signed-in home page, Account Settings, Account Link Setup and removing a linked account."""

from __future__ import annotations

from datetime import date

from flask import abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_datetime, get_locale
from flask_babel import gettext as _
from markupsafe import Markup

from app.accounts import bp, service
from app.accounts.forms import LinkAccountForm, RemoveLinkForm
from app.accounts.models import AccountLink
from app.accounts.service import LinkRules
from app.auth.models import Resident
from app.billing import billing_source, city_today
from app.billing.cache import home_fragment_key
from app.billing.service import account_summaries, current_announcements
from app.billing.types import AccountSummary
from app.cache import cache, cached_texts
from app.config import get_settings
from app.errors import render_error
from app.extensions import db
from app.reads import read_session
from app.security import login_required
from app.sessions import session_cache_id
from app.timeutil import utcnow


def link_rules() -> LinkRules:
    """This app's format rules and attempt limits (built once, in ``app.accounts.init_app``)."""
    rules: LinkRules = current_app.extensions["link_rules"]
    return rules


def _client_addr() -> str:
    # ProxyFix (PROXY_FIX_HOPS) has already put the real client address here when behind a proxy.
    return request.remote_addr or "unknown"


def _linked_summaries(resident_id: int, today: date) -> tuple[list[AccountLink], dict[tuple[str, str], AccountSummary]]:
    links = service.linked_accounts(read_session(), resident_id)
    pairs = [(link.account_no, link.customer_id) for link in links]
    return links, account_summaries(billing_source(), pairs, today=today)


@bp.get("/")
def home() -> ResponseReturnValue:
    """Home: announcements, profile and a card per linked account; anonymous visitors go to sign in.

    Kept in the shared cache for ``BILLING_CACHE_SECONDS``, at two levels. The whole page, per browser
    session: everything on it is fixed for the session (the resident's claims and roles come with the
    sign-in, the CSRF token is signed once per session) except what its key holds, and a page with a
    one-time message is never cached. Below that, the announcements (shared by everyone) and the account
    cards (per resident). Every key that depends on the links holds the resident's ``links_version``,
    which linking and removing raise in their own transaction, so a changed set of links is never shown
    from the cache; sessions are checked before the cache is read, so a signed-out session gets nothing.
    """
    if g.resident is None:
        return redirect(url_for("auth.sign_in"))
    resident, today = g.resident, city_today()
    context = (get_locale() or "en", today.isoformat(), request.script_root)
    ttl = get_settings().billing_cache_seconds
    page_id = session_cache_id()
    if page_id is None or "_flashes" in session:
        return _render_home(resident, today, context, ttl)
    key = home_fragment_key("page", page_id, resident.links_version, *context, request.host)
    return cached_texts(cache(), {key: lambda: _render_home(resident, today, context, ttl)}, ttl)[key]


def _render_home(resident: Resident, today: date, context: tuple[str, ...], ttl: int) -> str:
    announcements_key = home_fragment_key("announcements", *context)
    accounts_key = home_fragment_key("accounts", resident.id, resident.links_version, *context)

    def account_cards() -> str:
        from app.payments.service import can_pay, pending_totals

        links, summaries = _linked_summaries(resident.id, today)
        pending = pending_totals(read_session(), [(link.account_no, link.customer_id) for link in links])
        return render_template(
            "home/_account_cards.html", links=links, summaries=summaries, pending=pending, can_pay=can_pay
        )

    fragments = cached_texts(
        cache(),
        {
            announcements_key: lambda: render_template(
                "home/_announcements.html", announcements=current_announcements(read_session(), today=today)
            ),
            accounts_key: account_cards,
        },
        ttl,
    )
    return render_template(
        "home/index.html",
        resident=resident,
        announcements_html=Markup(fragments[announcements_key]),  # noqa: S704  (rendered by our templates)
        accounts_html=Markup(fragments[accounts_key]),  # noqa: S704
    )


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
    """Account Link Setup: the account number and customer ID from the bill."""
    rules = link_rules()
    form = LinkAccountForm(account_length=rules.account_length, customer_length=rules.customer_length)
    form_error = None
    if form.validate_on_submit():
        try:
            link = service.link_account(
                db.session(),
                g.resident.id,
                form.account_no.data,
                form.customer_id.data,
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
            return redirect(url_for("billing.show_summary", account_no=link.account_no))
    return render_template(
        "accounts/link.html",
        form=form,
        form_error=form_error,
        account_length=rules.account_length,
        customer_length=rules.customer_length,
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
    return _(
        "We couldn't find an account with that account number and customer ID. Check both numbers on your bill, "
        "or contact Utility Billing at %(phone)s.",
        phone=get_settings().utility_phone,
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
                time=format_datetime(exc.retry_at, "short"),
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
    summary = account_summaries(billing_source(), [(link.account_no, link.customer_id)], today=city_today())
    return render_template(
        "accounts/remove.html", form=form, link=link, summary=summary.get((link.account_no, link.customer_id))
    )
