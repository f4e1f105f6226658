"""Languages: Flask-Babel set up per app, the visitor's choice (else the browser's), and links to the others."""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping
from datetime import datetime
from typing import Any

import flask_babel
from flask import Flask, current_app, g, request, url_for
from flask.globals import _cv_request
from flask.templating import Environment as FlaskEnvironment
from flask_babel import Babel, get_locale, get_timezone, get_translations
from jinja2 import BytecodeCache, Template, pass_eval_context
from jinja2.ext import Extension
from jinja2.lexer import TOKEN_DOT, TOKEN_LPAREN, TOKEN_NAME, TOKEN_PIPE, TOKEN_RPAREN, TOKEN_STRING, Token, TokenStream
from jinja2.nodes import EvalContext
from markupsafe import Markup

from app.core.clock import as_utc
from app.core.config import get_settings
from app.core.money import Money, format_money, typed_money

babel = Babel()

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


def local_money(value: Money | int) -> str:
    """``value`` (Money, or integer cents) in the request's language, or the one an email is forced into:
    what the ``money`` filter prints."""
    return format_money(value, str(get_locale() or "en"))


def local_typed_money(value: Money | int) -> str:
    """``value`` as a form field of the request's language holds it: ``82.40``, ``82,40``."""
    return typed_money(value, str(get_locale() or "en"))


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


class FoldedGettext(Extension):
    """Writes each ``_("literal")`` (or ``gettext("literal")``) into a locale's templates as its translation.

    Only in a :class:`PortalEnvironment` overlay bound to one locale: the call becomes the translated text,
    marked safe as the runtime ``_`` marks it and ``%``-formatted as it formats it, so the page does the
    same without a call per string. Calls with variables, or whose formatting would fail, stay calls.
    """

    def filter_stream(self, stream: TokenStream) -> Iterable[Token]:
        translations = getattr(self.environment, "folded_translations", None)
        if translations is None:
            yield from stream
            return
        window: list[Token] = []
        for token in stream:
            window.append(token)
            if len(window) < 4:
                continue
            if len(window) > 5:
                yield window.pop(0)
            folded = _fold(window[-4:], window[-5] if len(window) == 5 else None, translations)
            if folded is not None:
                del window[-4:]
                window.extend(folded)
        yield from window


def _fold(tokens: list[Token], before: Token | None, translations: Any) -> list[Token] | None:
    """The tokens of ``("translation"|safe)`` for ``_ ( "literal" )``, else None."""
    name, lparen, literal, rparen = tokens
    if not (
        name.type == TOKEN_NAME
        and name.value in ("_", "gettext")
        and lparen.type == TOKEN_LPAREN
        and literal.type == TOKEN_STRING
        and rparen.type == TOKEN_RPAREN
        and (before is None or before.type != TOKEN_DOT)
    ):
        return None
    text = translations.ugettext(literal.value)
    if "%" in text:
        try:
            text = text % {}
        except (KeyError, ValueError, TypeError):
            return None
    line = name.lineno
    return [
        Token(line, TOKEN_LPAREN, "("),
        Token(line, TOKEN_STRING, text),
        Token(line, TOKEN_PIPE, "|"),
        Token(line, TOKEN_NAME, "safe"),
        Token(line, TOKEN_RPAREN, ")"),
    ]


class _LocaleBytecode(BytecodeCache):
    """The app's bytecode cache, with each locale's compiled templates under keys of their own."""

    def __init__(self, inner: BytecodeCache, locale: str) -> None:
        self.inner, self.locale = inner, locale

    def get_cache_key(self, name: str, filename: str | None = None) -> str:
        return f"{self.inner.get_cache_key(name, filename)}-{self.locale}"

    def load_bytecode(self, bucket: Any) -> None:
        self.inner.load_bytecode(bucket)

    def dump_bytecode(self, bucket: Any) -> None:
        self.inner.dump_bytecode(bucket)


class PortalEnvironment(FlaskEnvironment):
    """Flask's Jinja environment, rendering each request's templates in an overlay for its locale.

    Each overlay compiles the templates once with :class:`FoldedGettext`, so fixed strings cost nothing per
    page (a page calls ``_`` 40 to 70 times). Outside a request, or for a locale with no translations
    loaded, templates come from this environment, translated at run time as before.
    """

    folded_translations: Any = None

    def _load_template(self, name: str, globals: MutableMapping[str, Any] | None) -> Template:
        if self.folded_translations is None and _cv_request.get(None) is not None:
            return self._for_locale(str(get_locale() or "en"))._load_template(name, globals)
        return super()._load_template(name, globals)

    def _for_locale(self, locale: str) -> PortalEnvironment:
        overlays: dict[str, PortalEnvironment] = self.__dict__.setdefault("_locale_overlays", {})
        found = overlays.get(locale)
        if found is None:
            found = self.overlay(
                cache_size=400,
                bytecode_cache=_LocaleBytecode(self.bytecode_cache, locale) if self.bytecode_cache else None,
            )
            found.__dict__.pop("_locale_overlays", None)
            found.folded_translations = get_translations()
            overlays[locale] = found
        return found


def format_city_datetime(value: datetime, format: str = "medium") -> str:
    """A moment as the city reads it, with its zone's abbreviation (``11/1/26, 1:30 AM CDT``).

    The abbreviation tells the two readings of the fall-back hour apart (CDT, then CST) and says which
    zone a time is in to a resident who is elsewhere.
    """
    zone = get_timezone()
    return f"{flask_babel.format_datetime(value, format)} {as_utc(value).astimezone(zone).tzname()}"


def init_app(app: Flask) -> None:
    """Flask-Babel with :func:`select_locale`, fast template gettext, and the language switcher's context."""
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.filters.update(
        {
            name: memoized_format(function)
            for name, function in (
                ("dateformat", flask_babel.format_date),
                ("datetimeformat", format_city_datetime),
                ("numberformat", flask_babel.format_number),
                ("money", local_money),
            )
        }
    )
    # Template gettext callables that reuse the request's translations (Flask-Babel looks them up per call).
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
        newstyle=True,
    )
    app.jinja_env.globals.update(gettext=template_gettext, _=template_gettext)
    app.jinja_env.add_extension(FoldedGettext)

    @app.context_processor
    def language_context() -> dict[str, Any]:
        return {"current_locale": str(get_locale() or "en"), "language_links": language_links}
