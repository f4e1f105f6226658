"""What can go wrong between the portal and its OpenID provider.

Raised while signing in, while validating a back-channel logout token and by the readiness check, so the
base class is named for the exchange with the provider, not for sign-in alone.
"""

from __future__ import annotations

from app.core.refusals import Refused


class OidcError(Refused):
    """The OpenID exchange failed; ``reason`` is for the log, the caller chooses what the resident reads."""

    status = 400


class SignInExpired(OidcError):
    """The callback's ``state`` is unknown, used or expired (a stale tab, a replayed link)."""


class ProviderUnavailable(OidcError):
    """The provider could not be reached, timed out or answered 5xx: try again later."""

    status = 503


class ProviderMisconfigured(OidcError):
    """The provider answered, but with something the portal must not trust (e.g. a different issuer)."""

    status = 502


class TokenRejected(OidcError):
    """An ID token, logout token or userinfo answer failed validation."""

    status = 502
