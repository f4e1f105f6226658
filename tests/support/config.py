"""The test configuration every test app starts from."""

from __future__ import annotations

from typing import Any

CLIENT_ID = "citizen-portal"
CLIENT_SECRET = "test-client-secret"
SECRET_KEY = "test-secret-key-0123456789abcdef-0123456789"


def base_config(database_url: str, issuer: str | None, **overrides: Any) -> dict[str, Any]:
    """A complete test configuration."""
    config: dict[str, Any] = {
        "PORTAL_ENV": "testing",
        "TESTING": True,
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": database_url,
        "OIDC_ISSUER": issuer,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "CITY_NAME": "City of Testville",
    }
    config.update(overrides)
    return config
