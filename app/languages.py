"""Languages: Flask-Babel set up per app, the visitor's choice (else the browser's), and links to the others."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flask_babel
from flask import Flask, current_app, g, request, url_for
from flask.globals import _cv_request
from flask_babel import get_locale, get_timezone, get_translations
from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup

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
    # The templates' url_for (memoized per app in create_app): every page of a session builds the same links.
    build: Callable[..., str] = current_app.jinja_env.globals.get("url_for", url_for)  # type: ignore[assignment]
    return [
        (code, LANGUAGE_NAMES.get(code, code), build("main.choose_language", code=code, next=here))
        for code in get_settings().babel_supported_locales
        if code != current
    ]


#: Formatted values kept per filter (see :func:`memoized_format`); emptied when one holds this many.
FORMAT_MEMO_SIZE = 20_000


def _locale_and_zone() -> tuple[str, str]:
    """The request's locale and time zone as text, worked out once per request (the filters' hot path)."""
    ctx = _cv_request.get(None)
    found: tuple[str, str] | None = getattr(ctx, "_portal_locale_and_zone", None)
    if found is None:
        found = (str(get_locale()), str(get_timezone()))
        if ctx is not None:
            ctx._portal_locale_and_zone = found  # type: ignore[attr-defined]
    return found


def memoized_format(format_value: Callable[..., str]) -> Callable[..., str]:
    """A Flask-Babel formatting filter that remembers what it printed (per process).

    Formatting is a pure function of the request's locale and time zone, the value and the arguments, and
    Babel resolves the locale's patterns on every call: a bill history prints some 150 dates and amounts.
    The key holds the value's type and text as well, so ``Decimal("1.0")`` and ``1.0``, or equal instants in
    different zones, never share an entry.
    """
    memo: dict[tuple[Any, ...], str] = {}

    def formatted(value: Any, *args: Any, **kwargs: Any) -> str:
        if value is None:  # Babel's "now": never the same twice
            return format_value(value, *args, **kwargs)
        try:
            key = (
                _locale_and_zone(),
                type(value),
                value,
                str(value),
                getattr(value, "tzinfo", None),
                args,
                tuple(sorted(kwargs.items())),
            )
            found = memo.get(key)
        except TypeError:  # an unhashable value: format it every time
            return format_value(value, *args, **kwargs)
        if found is None:
            if len(memo) >= FORMAT_MEMO_SIZE:
                memo.clear()
            found = memo[key] = format_value(value, *args, **kwargs)
        return found

    return formatted


def _translations() -> Any:
    """This request's translations, looked up once per request rather than once per string."""
    ctx = _cv_request.get(None)
    holder: Any = ctx if ctx is not None else g
    found = getattr(holder, "_portal_translations", None)
    if found is None:
        found = holder._portal_translations = get_translations()
    return found


@pass_eval_context
def template_gettext(eval_ctx: EvalContext, string: str, /, **variables: Any) -> str:
    """``_()`` and ``gettext()`` in templates: Jinja's new-style gettext (escaped when autoescaping, always
    ``%``-formatted), in one call where Jinja's own takes three."""
    text = _translations().ugettext(string)
    if eval_ctx.autoescape:
        text = Markup(text)
    if not variables and "%" not in text:  # what ``%`` would give back unchanged
        return text
    return text % variables  # type: ignore[no-any-return]


def init_app(app: Flask) -> None:
    """Flask-Babel with :func:`select_locale`, fast template gettext, and the language switcher's context."""
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.filters.update(
        {
            name: memoized_format(function)
            for name, function in (
                ("dateformat", flask_babel.format_date),
                ("datetimeformat", flask_babel.format_datetime),
                ("numberformat", flask_babel.format_number),
                ("currencyformat", flask_babel.format_currency),
            )
        }
    )
    currency = app.jinja_env.filters["currencyformat"]
    app.jinja_env.globals["format_usd"] = lambda amount: currency(amount, "USD")
    # Template gettext callables that reuse the request's translations (Flask-Babel looks them up per call).
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
        newstyle=True,
    )
    app.jinja_env.globals.update(gettext=template_gettext, _=template_gettext)

    @app.context_processor
    def language_context() -> dict[str, Any]:
        return {"current_locale": str(get_locale() or "en"), "language_links": language_links}
