"""Citizen Self Service portal: ``create_app`` wires configuration, extensions and features together."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app.core.config import INSTANCE, ROOT, get_settings, load_config
from app.database.db import db, migrate
from app.web.forms import csrf
from app.web.languages import PortalEnvironment


class PortalFlask(Flask):
    """Flask with the portal's Jinja environment (templates compiled once per locale)."""

    jinja_environment = PortalEnvironment


def portal_context() -> dict[str, Any]:
    """What every template may show: the city's names and contacts, and whether staff is signed in."""
    from app.auth.security import has_role

    settings = get_settings()
    return {
        "city_name": settings.city_name,
        "city_url": settings.city_url,
        "utility_phone": settings.utility_phone,
        "utility_email": settings.utility_email,
        "is_staff": has_role(settings.oidc_staff_role),
    }


#: URLs that templates built, kept per app (see :func:`memoize_template_url_for`); emptied at this many.
URL_MEMO_SIZE = 20_000


def memoize_template_url_for(app: Flask) -> None:
    """Let templates' ``url_for`` reuse the URLs it built before: a page links the same few dozen each time.

    A relative URL is a pure function of the script root, the endpoint and the values here: the one URL
    default (static fingerprints) is fixed for the app's life. External URLs, blueprint-relative endpoints
    and calls outside a request are built every time.
    """
    from flask.globals import _cv_request

    build = app.url_for
    memo: dict[tuple[Any, ...], str] = {}

    def url_for(endpoint: str, /, **values: Any) -> str:
        ctx = _cv_request.get(None)
        if ctx is None or endpoint.startswith(".") or values.get("_external"):
            return build(endpoint, **values)
        try:
            key = (ctx.request.root_path, endpoint, *sorted(values.items()))
            found = memo.get(key)
        except TypeError:  # an unhashable value
            return build(endpoint, **values)
        if found is None:
            if len(memo) >= URL_MEMO_SIZE:
                memo.clear()
            found = memo[key] = build(endpoint, **values)
        return found

    app.jinja_env.globals["url_for"] = url_for


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build a portal app; ``test_config`` replaces the instance file and the environment."""
    app = PortalFlask(
        __name__,
        instance_path=str(INSTANCE),
        template_folder=str(ROOT / "templates"),
        instance_relative_config=True,
    )
    settings = load_config(app, test_config)
    from app.core.clock import make_clock

    app.extensions["clock"] = make_clock(settings.city_timezone, settings.clock_start)
    from app.web.edge import init_edge

    init_edge(app)  # its URL converters must be in place before any route is added

    from app.core.logs import configure_logging

    configure_logging(app)
    hops = settings.proxy_fix_hops
    if hops > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops
        )

    from app import models  # noqa: F401  (every table, for migrations)
    from app.database import cache, reads, retry
    from app.web import cookies, frame, languages

    db.init_app(app)
    retry.init_app(app, db)
    reads.init_app(app)
    cache.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "app" / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    languages.init_app(app)
    frame.init_app(app)
    cookies.init_app(app)

    from app import accounts, auth, billing, bills, home, main, payments, staff
    from app.cli import register_cli
    from app.web.errors import register_error_handlers
    from app.web.headers import init_headers

    for feature in (auth, main, home, accounts, billing, bills, payments, staff):
        feature.init_app(app)
    if not settings.production:  # production never imports the development tools
        from app import dev

        dev.init_app(app)
    register_error_handlers(app)
    init_headers(app)
    register_cli(app)
    app.context_processor(portal_context)
    from app.web.static_files import init_static

    init_static(app)  # wraps wsgi_app, so after ProxyFix: static files skip the Flask app altogether
    memoize_template_url_for(app)
    return app
