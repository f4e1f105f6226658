"""Development tools: the embedded OpenID provider, the development payment processor, the mail catcher's page
at ``/_dev/mail`` and ``flask dev run``. Production never imports this package (``create_app`` skips it there)."""

from __future__ import annotations

from flask import Flask

from app.core.config import get_settings


def init_app(app: Flask) -> None:
    """Register the development pages and ``flask dev``, except with ``PORTAL_ENV=production``."""
    if get_settings(app).production:
        return
    from app.dev.cli import dev_cli
    from app.dev.views import bp

    app.register_blueprint(bp)
    app.cli.add_command(dev_cli)
