"""Which language a page is in: the visitor's own choice, else the browser's, and links to the others."""

from __future__ import annotations

from flask import g, request, url_for
from flask_babel import get_locale

from app.config import split_list

#: The cookie that keeps a visitor's language choice (``/language/<code>``); not a secret, not a session.
LANGUAGE_COOKIE = "portal_lang"
#: Each supported language's name in that language, for the switcher.
LANGUAGE_NAMES = {"en": "English", "es": "Español"}


def select_locale() -> str:
    """The visitor's chosen language if supported, else the browser's best match, else the first one."""
    supported = split_list(g.get("supported_locales")) or ["en"]
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in supported:
        return chosen
    return request.accept_languages.best_match(supported) or supported[0]


def language_links() -> list[tuple[str, str, str]]:
    """``(code, name, url)`` of each language the page is not in, for the header's switcher."""
    current = str(get_locale() or "en")
    here = request.full_path if request.query_string else request.path
    return [
        (code, LANGUAGE_NAMES.get(code, code), url_for("main.choose_language", code=code, next=here))
        for code in split_list(g.get("supported_locales"))
        if code != current
    ]
