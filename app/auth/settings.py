"""Settings of the relying party, as plain values."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OidcSettings:
    """Plain settings for the relying party, built from the app's settings (``app.auth.oidc_settings``)."""

    issuer: str
    client_id: str
    client_secret: str | None
    auth_method: str
    private_key_pem: str | None
    scopes: str
    algorithms: tuple[str, ...]
    trusted_audiences: tuple[str, ...]
    timeout: float
    clock_skew: int
    max_token_age: int
    metadata_ttl: int
    #: Least time between two fetches that anyone on the internet can cause (``/readyz``, unknown ``kid``).
    refetch_interval: float
