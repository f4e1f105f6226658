"""The page frame: header, navigation and footer, rendered once per language and kept in this process.

Every page extends ``base.html``, whose frame (``_frame.html``) is the same for every request with the same
language, host, script root, navigation item and sign-in state (signed in, staff). It is rendered once for
each such combination with marks where the page's own parts go, split there, and kept; a request then only
writes in its CSRF token and the language links back to its own address.
"""

from __future__ import annotations

import secrets
from typing import Any, NamedTuple

from flask import Flask, current_app, g, render_template, request
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from app.web.languages import language_links

#: Frames kept per app; emptied when it holds this many (the host is part of the key, and any client sets it).
FRAME_MEMO_SIZE = 256
#: Endpoints (or blueprints) the navigation marks as the current page.
NAV_ENDPOINTS = frozenset({"home.index", "accounts.settings", "main.help_page", "payments.guest_lookup"})


class Frame(NamedTuple):
    """The frame's four parts: around the title, then the description, then the page's main content."""

    top: Markup
    after_title: Markup
    header: Markup
    footer: Markup


class _Marks(NamedTuple):
    title: str
    description: str
    main: str
    csrf: str
    language: str


def _nav() -> str:
    endpoint = request.endpoint or ""
    if endpoint in NAV_ENDPOINTS:
        return endpoint
    if endpoint == "payments.guest_pay":
        return "payments.guest_lookup"
    return "staff" if request.blueprint == "staff" else ""


@pass_context
def page_frame(context: Context) -> Frame:
    """This request's frame (``base.html`` calls it once per page)."""
    signed_in = g.get("resident") is not None
    locale = str(context.get("current_locale") or "en")
    key = (locale, signed_in, bool(context.get("is_staff")), _nav(), request.host, request.script_root)
    store: dict[tuple[Any, ...], tuple[tuple[str, ...], _Marks]] = current_app.extensions["page_frames"]
    found = store.get(key)
    if found is None:
        if len(store) >= FRAME_MEMO_SIZE:
            store.clear()
        found = store[key] = _render(key[3], signed_in)
    parts, marks = found
    links = language_links()
    header = parts[2]
    if signed_in:
        header = header.replace(marks.csrf, str(escape(context["csrf_token"]())))
    for code, _name, href in links:
        header = header.replace(f"{marks.language}{code}", str(escape(href)))
    return Frame(Markup(parts[0]), Markup(parts[1]), Markup(header), Markup(parts[3]))  # noqa: S704


def _render(nav: str, signed_in: bool) -> tuple[tuple[str, ...], _Marks]:
    token = secrets.token_hex(8)
    marks = _Marks(*(f"portal-frame-{token}-{name}" for name in _Marks._fields))
    languages = [(code, name, f"{marks.language}{code}") for code, name, _href in language_links()]
    html = render_template(
        "_frame.html", marks=marks, nav=nav, signed_in=signed_in, languages=languages, host=request.host
    )
    top, rest = html.split(marks.title)
    after_title, rest = rest.split(marks.description)
    header, footer = rest.split(marks.main)
    return (top, after_title, header, footer), marks


def init_app(app: Flask) -> None:
    """Offer ``page_frame()`` to templates, with a store of frames for this app."""
    app.extensions["page_frames"] = {}
    app.jinja_env.globals["page_frame"] = page_frame
