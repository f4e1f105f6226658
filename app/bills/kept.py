"""Signed-in pages kept per browser session: built once, then served while nothing they show has changed.

A kept page's key holds everything it depends on that can change: the session (its claims, roles and CSRF
token are fixed at sign-in), the resident's ``links_version`` (raised in the same transaction as linking,
removing, and every change written to the billing outbox: bill delivery, payments, Auto Pay), the language,
the city's date, the address with its query, and (through the cache) the epoch that every import raises.
Each request still checks its session in the database first, so a signed-out session gets nothing.
A page with a one-time message is never kept. With Redis the pages are shared by the instances; without it
each process keeps its own (``PAGE_CACHE_ENTRIES``), which is still exact because the versions come from
the database with the session.

What one session keeps is bounded: a page is kept only for a query string of the parameters it reads (bill
history: its two pagers), written as its own links write it; any other is built each time. And a session
keeps at most ``PAGES_PER_SESSION`` pages: a new one beyond that replaces its own oldest, never another's.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from urllib.parse import urlencode

from flask import g, request, session
from flask_babel import get_locale

from app.auth.sessions import session_cache_id
from app.billing import city_today
from app.billing.cache import PREFIX
from app.core.config import get_settings
from app.database.cache import Group, cached_texts, versioned_cache

#: The version changes when a kept page's markup or meaning does.
PAGES = PREFIX + "page:v2:"
#: The pages one browser session keeps at a time (some 20 KB each): enough for the ones a resident moves between.
PAGES_PER_SESSION = 30


def kept_page(build: Callable[[], str], *, reads: Collection[str] = ()) -> str:
    """The page ``build`` renders for this request, from the cache when this session has it.

    ``reads``: the query parameters the page reads; a request with any other (or one twice) is not kept.
    """
    resident = g.get("resident")
    ttl = get_settings().billing_cache_seconds
    page_id = session_cache_id()
    if resident is None or page_id is None or ttl <= 0 or "_flashes" in session or not _keeps_query(reads):
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
    group = Group(PAGES + "session:" + page_id, PAGES_PER_SESSION)
    return cached_texts(versioned_cache(), {key: build}, ttl, group=group)[key]


def _keeps_query(reads: Collection[str]) -> bool:
    """True when the query string holds only parameters in ``reads``, each once, written plainly (``page=2``):
    the page shows the query string it came with (its language links), so only that one may share its key."""
    args = request.args
    if any(name not in reads for name in args) or len(args) != len(list(args.items(multi=True))):
        return False
    return request.query_string.decode("latin-1") == urlencode(list(args.items()))
