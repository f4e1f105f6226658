"""The realm file under test, and values for its placeholders (the realm-as-code tests render it with them)."""

from __future__ import annotations

from pathlib import Path

REALM_FILE = Path(__file__).resolve().parents[2] / "idp_config" / "realm.json"
#: A value for each placeholder of the realm; the secrets are strings a test can look for in what is rendered.
ENV = {
    "PORTAL_BASE_URL": "https://pay.springfield.example",
    "PORTAL_CLIENT_SECRET": "portal-client-secret-value",
    "SMTP_HOST": "smtp.springfield.example",
    "SMTP_FROM": "noreply@springfield.example",
    "SMTP_PASSWORD": "smtp-password-value",
    "GOOGLE_CLIENT_ID": "google-id",
    "GOOGLE_CLIENT_SECRET": "google-secret-value",
    "MICROSOFT_CLIENT_ID": "ms-id",
    "MICROSOFT_CLIENT_SECRET": "ms-secret-value",
    "FACEBOOK_CLIENT_ID": "fb-id",
    "FACEBOOK_CLIENT_SECRET": "fb-secret-value",
    "APPLE_CLIENT_ID": "org.springfield.pay",
    "APPLE_TEAM_ID": "TEAM123",
    "APPLE_KEY_ID": "KEY123",
    "APPLE_P8_CONTENT": "MIGTAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBHkwdwIBAQQg",
    # The stand-in knows the Apple provider, as a Keycloak with the extension does.
    "KC_REALM_EXTENSIONS": "apple",
}
