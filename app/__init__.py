"""Citizen Self Service portal: ``create_app`` wires configuration, extensions and features together."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, g
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import INSTANCE, ROOT, load_config
from app.extensions import babel, csrf, db, migrate
from app.languages import language_links, select_locale


def _translations() -> Any:
    """This request's translations, looked up once per request rather than once per string."""
    from flask_babel import get_translations

    found = g.get("_portal_translations")
    if found is None:
        found = g._portal_translations = get_translations()
    return found


def install_fast_gettext(app: Flask) -> None:
    """Template gettext callables that reuse the request's translations (Flask-Babel looks them up per call)."""
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
        newstyle=True,
    )


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build a portal app; ``test_config`` replaces the instance file and the environment."""
    app = Flask(
        __name__,
        instance_path=str(INSTANCE),
        template_folder=str(ROOT / "templates"),
        instance_relative_config=True,
    )
    load_config(app.config, test_config)
    from app.edge import init_edge

    init_edge(app)  # its URL converters must be in place before any route is added
    app.config["SESSION_COOKIE_SECURE"] = bool(
        app.config.get("SESSION_COOKIE_SECURE")
        or str(app.config.get("PORTAL_BASE_URL") or "").startswith("https://")
        or app.config["PORTAL_ENV"] == "production"
    )
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"

    from app.logs import configure_logging

    configure_logging(app)
    hops = int(app.config["PROXY_FIX_HOPS"])
    if hops > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops
        )

    from app import cache, models, reads  # noqa: F401  (models: every table, for migrations)

    db.init_app(app)
    reads.init_app(app)
    cache.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "app" / "migrations"), render_as_batch=True)
    csrf.init_app(app)

    @app.before_request
    def set_locales() -> None:
        g.supported_locales = app.config["BABEL_SUPPORTED_LOCALES"]

    babel.init_app(app, locale_selector=select_locale)
    install_fast_gettext(app)

    from app.sessions import DatabaseSessionInterface

    app.session_interface = DatabaseSessionInterface()

    from app import accounts, auth, billing, main, staff
    from app.cli import register_cli
    from app.errors import register_error_handlers
    from app.headers import init_headers
    from app.security import has_role, init_security

    init_security(app)
    auth.init_app(app)
    app.register_blueprint(main.bp)
    for feature in (accounts, billing, staff):
        init_feature = getattr(feature, "init_app", None)
        if init_feature is not None:
            init_feature(app)
    register_error_handlers(app)
    init_headers(app)
    register_cli(app)

    @app.context_processor
    def portal_context() -> dict[str, Any]:
        from flask_babel import get_locale

        return {
            "city_name": app.config["CITY_NAME"],
            "city_url": app.config["CITY_URL"],
            "utility_phone": app.config["UTILITY_PHONE"],
            "utility_email": app.config["UTILITY_EMAIL"],
            "current_locale": str(get_locale() or "en"),
            "language_links": language_links,
            "is_staff": has_role(app.config["OIDC_STAFF_ROLE"]),
        }

    return app
