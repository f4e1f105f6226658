"""Languages: Flask-Babel set up per app, the visitor's choice (else the browser's), and links to the others."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, request, url_for
from flask_babel import get_locale, get_translations

from app.config import get_settings
from app.extensions import babel

#: The cookie that keeps a visitor's language choice (``/language/<code>``); not a secret, not a session.
LANGUAGE_COOKIE = "portal_lang"
#: Each supported language's name in that language, for the switcher.
LANGUAGE_NAMES = {"en": "English", "es": "Español"}


def select_locale() -> str:
    """The visitor's chosen language if supported, else the browser's best match, else the first one."""
    supported = list(get_settings().babel_supported_locales) or ["en"]
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
        for code in get_settings().babel_supported_locales
        if code != current
    ]


def _translations() -> Any:
    """This request's translations, looked up once per request rather than once per string."""
    found = g.get("_portal_translations")
    if found is None:
        found = g._portal_translations = get_translations()
    return found


def init_app(app: Flask) -> None:
    """Flask-Babel with :func:`select_locale`, fast template gettext, and the language switcher's context."""
    babel.init_app(app, locale_selector=select_locale)
    # Template gettext callables that reuse the request's translations (Flask-Babel looks them up per call).
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
        newstyle=True,
    )

    @app.context_processor
    def language_context() -> dict[str, Any]:
        return {"current_locale": str(get_locale() or "en"), "language_links": language_links}
