"""OpenID Connect sign-in and sign-out (the portal is a relying party of the city's provider)."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, current_app

from app.auth.oidc import OidcClient, OidcSettings
from app.config import is_production, split_list

bp = Blueprint("auth", __name__)


def init_app(app: Flask) -> None:
    """Build this app's OpenID client from its config and register the sign-in routes."""
    config = app.config
    private_key = None
    if config["OIDC_CLIENT_AUTH_METHOD"] == "private_key_jwt":
        private_key = Path(config["OIDC_PRIVATE_KEY_FILE"]).read_text()
    settings = OidcSettings(
        issuer=config["OIDC_ISSUER"],
        client_id=config["OIDC_CLIENT_ID"],
        client_secret=config.get("OIDC_CLIENT_SECRET"),
        auth_method=config["OIDC_CLIENT_AUTH_METHOD"],
        private_key_pem=private_key,
        scopes=config["OIDC_SCOPES"],
        algorithms=tuple(split_list(config["OIDC_ID_TOKEN_ALGS"])),
        trusted_audiences=tuple(split_list(config["OIDC_TRUSTED_AUDIENCES"])),
        timeout=float(config["OIDC_TIMEOUT"]),
        clock_skew=int(config["OIDC_CLOCK_SKEW"]),
        max_token_age=int(config["OIDC_MAX_TOKEN_AGE"]),
        metadata_ttl=int(config["OIDC_METADATA_TTL"]),
    )
    app.extensions["oidc"] = OidcClient(settings)
    from app.auth import backchannel, views  # noqa: F401  (register routes on bp)

    app.register_blueprint(bp)


def oidc_client() -> OidcClient:
    """This app's OpenID client; starts the development provider first when that is configured."""
    if current_app.config.get("DEV_OIDC_ENABLED"):
        from app.devprovider import ensure_running

        ensure_running(int(current_app.config["DEV_OIDC_PORT"]), production=is_production(current_app.config))
    client: OidcClient = current_app.extensions["oidc"]
    return client
