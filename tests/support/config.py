"""The test configuration every test app starts from."""

from __future__ import annotations

from typing import Any

CLIENT_ID = "citizen-portal"
CLIENT_SECRET = "test-client-secret"
SECRET_KEY = "test-secret-key-0123456789abcdef-0123456789"
#: The instant every test app's clock starts from (city time): the suite means the same on every day it runs.
#: ``tests.support.demo.TODAY`` is its date; a test that needs another day passes its own ``CLOCK_START``.
CLOCK_START = "2026-11-23T09:00:00"
#: Overrides that make a test app a production portal that still starts (the test secret key is strong enough;
#: the mock provider is reached over http).
PRODUCTION: dict[str, Any] = {
    "PORTAL_ENV": "production",
    "OIDC_ALLOW_HTTP_ISSUER": True,
    "PORTAL_BASE_URL": "https://pay.example.gov",
}


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
        "CLOCK_START": CLOCK_START,
    }
    if overrides.get("PORTAL_ENV") == "production":
        del config["CLOCK_START"]  # refused there: production runs on the machine's clock
    config.update(overrides)
    return config
