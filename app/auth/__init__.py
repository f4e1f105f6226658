"""OpenID Connect sign-in and sign-out, the server-side sessions and the guards of signed-in pages.

The portal is a relying party of the city's provider.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from flask import Blueprint, Flask, current_app

from app.auth.oidc import OidcClient, OidcSettings
from app.core.config import Settings, get_settings

bp = Blueprint("auth", __name__)


def oidc_settings(settings: Settings) -> OidcSettings:
    """The relying party's settings (reads the private key file for ``private_key_jwt``)."""
    private_key = None
    if settings.oidc_client_auth_method == "private_key_jwt" and settings.oidc_private_key_file:
        private_key = Path(settings.oidc_private_key_file).read_text()
    assert settings.oidc_issuer is not None  # the development provider's when none is configured
    return OidcSettings(
        issuer=settings.oidc_issuer,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        auth_method=settings.oidc_client_auth_method,
        private_key_pem=private_key,
        scopes=settings.oidc_scopes,
        algorithms=settings.oidc_id_token_algs,
        trusted_audiences=settings.oidc_trusted_audiences,
        timeout=settings.oidc_timeout,
        clock_skew=settings.oidc_clock_skew,
        max_token_age=settings.oidc_max_token_age,
        metadata_ttl=settings.oidc_metadata_ttl,
        refetch_interval=settings.oidc_refetch_interval,
    )


def init_app(app: Flask) -> None:
    """Build this app's OpenID client, sessions and guards from its settings; register the sign-in routes."""
    from app.auth import backchannel, views  # noqa: F401  (register routes and the error page on bp)
    from app.auth.security import init_security
    from app.auth.sessions import DatabaseSessionInterface
    from app.web import cookies

    settings = get_settings(app)
    app.extensions["oidc"] = OidcClient(oidc_settings(settings))
    app.session_interface = DatabaseSessionInterface(
        cookies=cookies.cookie_policy(app),
        idle_timeout=timedelta(seconds=settings.session_idle_timeout),
        absolute_timeout=timedelta(seconds=settings.session_absolute_timeout),
    )
    init_security(app)
    app.register_blueprint(bp)


def oidc_client() -> OidcClient:
    """This app's OpenID client."""
    client: OidcClient = current_app.extensions["oidc"]
    return client
