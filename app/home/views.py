"""The signed-in home page."""

from __future__ import annotations

from datetime import date

from flask import g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from markupsafe import Markup

from app.accounts.service import linked_summaries
from app.auth.models import Resident
from app.billing import billing_source, city_today
from app.billing.announcements import current_announcements
from app.bills.kept import kept_page
from app.core.config import get_settings
from app.database.cache import cached_texts, shared_cache, versioned_cache
from app.database.reads import read_session
from app.home import bp
from app.home.cache import fragment_key
from app.payments.owed import pending_totals
from app.payments.pages import summary_due
from app.payments.rules import can_pay


@bp.get("/")
def index() -> ResponseReturnValue:
    """Home: announcements, profile and a card per linked account; anonymous visitors go to sign in.

    The whole page is kept per browser session (``app.bills.kept``). Below that, for the first visit of
    a session, the announcements (shared by everyone; without Redis, kept in each process for
    ``BILLING_CACHE_SECONDS``) and the account cards (per resident and links version) are kept too.
    """
    if g.resident is None:
        return redirect(url_for("auth.sign_in"))
    resident, today = g.resident, city_today()
    context = (get_locale() or "en", today.isoformat(), request.script_root)
    ttl = get_settings().billing_cache_seconds
    return kept_page(lambda: _render_home(resident, today, context, ttl))


def _render_home(resident: Resident, today: date, context: tuple[str, ...], ttl: int) -> str:
    announcements_key = fragment_key("announcements", *context)
    accounts_key = fragment_key("accounts", resident.id, resident.links_version, *context)

    def account_cards() -> str:
        links, summaries = linked_summaries(read_session(), billing_source(), resident.id, today=today)
        pending = pending_totals(read_session(), [(link.account_no, link.customer_id) for link in links])
        return render_template(
            "home/_account_cards.html",
            links=links,
            summaries=summaries,
            pending=pending,
            can_pay=can_pay,
            due_of=summary_due,
        )

    store, shared = versioned_cache(), shared_cache()
    builders = {
        announcements_key: lambda: render_template(
            "home/_announcements.html",
            announcements=current_announcements(read_session(), today=today, language=str(context[0])),
        ),
        accounts_key: account_cards,
    }
    if shared is store:  # Redis: both in one round trip
        fragments = cached_texts(store, builders, ttl)
    else:  # no Redis: the announcements (the same for everyone) for their time to live, the cards by version
        fragments = cached_texts(shared, {announcements_key: builders[announcements_key]}, ttl)
        fragments.update(cached_texts(store, {accounts_key: account_cards}, ttl))
    return render_template(
        "home/index.html",
        resident=resident,
        announcements_html=Markup(fragments[announcements_key]),  # noqa: S704  (rendered by our templates)
        accounts_html=Markup(fragments[accounts_key]),  # noqa: S704
    )
