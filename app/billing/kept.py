"""Signed-in pages kept per browser session: built once, then served while nothing they show has changed.

A kept page's key holds everything it depends on that can change: the session (its claims, roles and CSRF
token are fixed at sign-in), the resident's ``links_version`` (raised in the same transaction as linking,
removing, and every change written to the billing outbox: bill delivery, payments, Auto Pay), the language,
the city's date, the address with its query, and (through the cache) the epoch that every import raises.
Each request still checks its session in the database first, so a signed-out session gets nothing.
A page with a one-time message is never kept. With Redis the pages are shared by the instances; without it
each process keeps its own (``PAGE_CACHE_ENTRIES``), which is still exact because the versions come from
the database with the session.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import g, request, session
from flask_babel import get_locale

from app.auth.sessions import session_cache_id
from app.billing import city_today
from app.billing.cache import PREFIX
from app.cache import cached_texts, versioned_cache
from app.config import get_settings

#: The version changes when a kept page's markup or meaning does.
PAGES = PREFIX + "page:v2:"


def kept_page(build: Callable[[], str]) -> str:
    """The page ``build`` renders for this request, from the cache when this session has it."""
    resident = g.get("resident")
    ttl = get_settings().billing_cache_seconds
    page_id = session_cache_id()
    if resident is None or page_id is None or ttl <= 0 or "_flashes" in session:
        return build()
    key = ":".join(
        (
            PAGES + page_id,
            str(resident.links_version),
            str(get_locale() or "en"),
            city_today().isoformat(),
            request.host,
            request.script_root,
            request.full_path,
        )
    )
    return cached_texts(versioned_cache(), {key: build}, ttl)[key]
