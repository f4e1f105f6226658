"""OpenID Connect sign-in and sign-out (the portal is a relying party of the city's provider)."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, current_app

from app.auth.oidc import OidcClient, OidcSettings
from app.config import Settings, get_settings

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
    )


def init_app(app: Flask) -> None:
    """Build this app's OpenID client from its settings and register the sign-in routes."""
    app.extensions["oidc"] = OidcClient(oidc_settings(get_settings(app)))
    from app.auth import backchannel, views  # noqa: F401  (register routes on bp)

    app.register_blueprint(bp)


def oidc_client() -> OidcClient:
    """This app's OpenID client."""
    client: OidcClient = current_app.extensions["oidc"]
    return client
