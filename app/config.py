"""Configuration: defaults, then ``instance/config.py``, then the environment, then checks.

The environment variable names here are an interface relied on by deployment docs: keep them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"

#: Development defaults. Production must set every secret itself (see ``check_config``).
DEFAULTS: dict[str, Any] = {
    "PORTAL_ENV": "development",
    "SECRET_KEY": None,
    "DATABASE_URL": f"sqlite:///{INSTANCE / 'portal.sqlite'}",
    "OIDC_ISSUER": None,
    "OIDC_CLIENT_ID": "citizen-portal",
    "OIDC_CLIENT_SECRET": None,
    "OIDC_CLIENT_AUTH_METHOD": "client_secret_basic",
    "OIDC_PRIVATE_KEY_FILE": None,
    "OIDC_SCOPES": "openid profile email",
    "OIDC_ID_TOKEN_ALGS": "RS256,PS256,ES256",
    "OIDC_TRUSTED_AUDIENCES": "",
    "OIDC_ROLES_CLAIM": "realm_access.roles",
    "OIDC_STAFF_ROLE": "staff",
    "OIDC_TIMEOUT": 5.0,
    "OIDC_CLOCK_SKEW": 60,
    "OIDC_MAX_TOKEN_AGE": 600,
    "OIDC_ALLOW_HTTP_ISSUER": False,
    "OIDC_METADATA_TTL": 3600,
    "OIDC_PROVIDER_RETRY_AFTER": 120,
    "LOGOUT_TOKEN_MAX_AGE": 300,
    "DEV_OIDC_PORT": 5001,
    "PORTAL_BASE_URL": None,
    "CITY_NAME": "City of Springfield",
    "CITY_URL": "https://www.example.gov",
    "UTILITY_PHONE": "(555) 010-0100",
    "CITY_TIMEZONE": "America/Chicago",
    "UTILITY_EMAIL": "utilitybilling@example.gov",
    "SOCIAL_PROVIDERS": "google,apple,microsoft,facebook",
    "ACCOUNT_NUMBER_LENGTH": 6,
    "CUSTOMER_ID_LENGTH": 7,
    "MAX_LINKED_ACCOUNTS": 10,
    "LINK_FAILURES_PER_RESIDENT": 5,
    "LINK_FAILURES_PER_ADDRESS": 30,
    "LINK_FAILURE_WINDOW_MINUTES": 15,
    "SESSION_IDLE_TIMEOUT": 30 * 60,
    "SESSION_ABSOLUTE_TIMEOUT": 12 * 60 * 60,
    "PROXY_FIX_HOPS": 0,
    "REDIS_URL": None,
    "CACHE_KEY_PREFIX": "portal:",
    "CACHE_TIMEOUT": 0.25,
    "CACHE_RETRY_SECONDS": 30,
    "BILLING_CACHE_SECONDS": 60,
    "LOG_FORMAT": "text",
    "LOG_LEVEL": "INFO",
    "BABEL_DEFAULT_LOCALE": "en",
    "BABEL_SUPPORTED_LOCALES": "en,es",
    "WTF_CSRF_TIME_LIMIT": None,
}

#: Settings read from the environment, with the type each is parsed to.
ENV_SETTINGS: dict[str, type] = {
    "PORTAL_ENV": str,
    "SECRET_KEY": str,
    "DATABASE_URL": str,
    "OIDC_ISSUER": str,
    "OIDC_CLIENT_ID": str,
    "OIDC_CLIENT_SECRET": str,
    "OIDC_CLIENT_AUTH_METHOD": str,
    "OIDC_PRIVATE_KEY_FILE": str,
    "OIDC_SCOPES": str,
    "OIDC_ID_TOKEN_ALGS": str,
    "OIDC_TRUSTED_AUDIENCES": str,
    "OIDC_ROLES_CLAIM": str,
    "OIDC_STAFF_ROLE": str,
    "OIDC_TIMEOUT": float,
    "OIDC_CLOCK_SKEW": int,
    "OIDC_MAX_TOKEN_AGE": int,
    "OIDC_ALLOW_HTTP_ISSUER": bool,
    "OIDC_METADATA_TTL": int,
    "OIDC_PROVIDER_RETRY_AFTER": int,
    "LOGOUT_TOKEN_MAX_AGE": int,
    "DEV_OIDC_PORT": int,
    "PORTAL_BASE_URL": str,
    "CITY_NAME": str,
    "CITY_URL": str,
    "UTILITY_PHONE": str,
    "CITY_TIMEZONE": str,
    "UTILITY_EMAIL": str,
    "SOCIAL_PROVIDERS": str,
    "ACCOUNT_NUMBER_LENGTH": int,
    "CUSTOMER_ID_LENGTH": int,
    "MAX_LINKED_ACCOUNTS": int,
    "LINK_FAILURES_PER_RESIDENT": int,
    "LINK_FAILURES_PER_ADDRESS": int,
    "LINK_FAILURE_WINDOW_MINUTES": int,
    "SESSION_IDLE_TIMEOUT": int,
    "SESSION_ABSOLUTE_TIMEOUT": int,
    "PROXY_FIX_HOPS": int,
    "REDIS_URL": str,
    "CACHE_KEY_PREFIX": str,
    "CACHE_TIMEOUT": float,
    "CACHE_RETRY_SECONDS": int,
    "BILLING_CACHE_SECONDS": int,
    "LOG_FORMAT": str,
    "LOG_LEVEL": str,
    "BABEL_SUPPORTED_LOCALES": str,
}

KNOWN_SOCIAL_PROVIDERS = ("google", "apple", "microsoft", "facebook")
DEV_SECRET_KEY = "development-only-secret-key-do-not-use-in-production"


class ConfigError(RuntimeError):
    """The configuration is missing or malformed; the message names every problem."""


def _parse(name: str, kind: type, raw: str) -> Any:
    if kind is bool:
        value = raw.strip().lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{name} must be true or false, not {raw!r}")
    try:
        return kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a {kind.__name__}, not {raw!r}") from None


def settings_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Read the documented settings that are set (and not empty) in ``environ``."""
    environ = os.environ if environ is None else environ
    settings: dict[str, Any] = {}
    problems: list[str] = []
    for name, kind in ENV_SETTINGS.items():
        raw = environ.get(name)
        if raw is None or raw == "":
            continue
        try:
            settings[name] = _parse(name, kind, raw)
        except ConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError("Invalid configuration: " + "; ".join(problems))
    return settings


def split_list(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """Split a comma-separated setting into its non-empty, stripped items."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [item.strip() for item in value.split(",") if item.strip()]


def normalise_database_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgres://`` and ``postgresql://`` URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def is_production(config: Mapping[str, Any]) -> bool:
    """True when the portal runs as a production deployment."""
    return config.get("PORTAL_ENV") == "production"


def check_config(config: dict[str, Any]) -> list[str]:
    """Return every problem with ``config``; an empty list means it is usable."""
    problems: list[str] = []
    env = config.get("PORTAL_ENV")
    if env not in ("development", "production", "testing"):
        problems.append(f"PORTAL_ENV must be development, production or testing, not {env!r}")
    production = env == "production"

    secret = config.get("SECRET_KEY")
    if production:
        if not secret:
            problems.append("SECRET_KEY is required in production (at least 32 random characters)")
        elif len(str(secret)) < 32 or secret == DEV_SECRET_KEY:
            problems.append("SECRET_KEY is too weak for production: use at least 32 random characters")

    issuer = config.get("OIDC_ISSUER")
    if issuer:
        parts = urlsplit(issuer)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            problems.append(f"OIDC_ISSUER must be an http(s) URL, not {issuer!r}")
        elif parts.query or parts.fragment:
            problems.append("OIDC_ISSUER must not contain a query or fragment")
        elif production and parts.scheme == "http" and not config.get("OIDC_ALLOW_HTTP_ISSUER"):
            problems.append(
                "OIDC_ISSUER uses http:// in production; use https:// "
                "(or set OIDC_ALLOW_HTTP_ISSUER=true if TLS ends in front of a private network)"
            )
    elif production:
        problems.append("OIDC_ISSUER is required in production: the embedded development provider refuses to run there")
    if config.get("DEV_OIDC_ENABLED") and production:
        problems.append("the embedded development provider refuses to run with PORTAL_ENV=production")

    if not config.get("OIDC_CLIENT_ID"):
        problems.append("OIDC_CLIENT_ID is required")
    method = config.get("OIDC_CLIENT_AUTH_METHOD")
    if method == "client_secret_basic":
        if production and not config.get("OIDC_CLIENT_SECRET"):
            problems.append("OIDC_CLIENT_SECRET is required in production")
    elif method == "private_key_jwt":
        key_file = config.get("OIDC_PRIVATE_KEY_FILE")
        if not key_file:
            problems.append("OIDC_PRIVATE_KEY_FILE is required when OIDC_CLIENT_AUTH_METHOD=private_key_jwt")
        elif not Path(key_file).is_file():
            problems.append(f"OIDC_PRIVATE_KEY_FILE {key_file!r} does not exist")
    else:
        problems.append(f"OIDC_CLIENT_AUTH_METHOD must be client_secret_basic or private_key_jwt, not {method!r}")

    algs = split_list(config.get("OIDC_ID_TOKEN_ALGS"))
    bad_algs = [a for a in algs if a.lower() == "none" or a.startswith("HS")]
    if not algs or bad_algs:
        problems.append("OIDC_ID_TOKEN_ALGS must list asymmetric algorithms such as RS256 (never none or HS*)")

    unknown = [p for p in split_list(config.get("SOCIAL_PROVIDERS")) if p not in KNOWN_SOCIAL_PROVIDERS]
    if unknown:
        problems.append(
            f"SOCIAL_PROVIDERS has unknown entries {', '.join(unknown)}; "
            f"choose from {', '.join(KNOWN_SOCIAL_PROVIDERS)}"
        )

    base = config.get("PORTAL_BASE_URL")
    if base:
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            problems.append(f"PORTAL_BASE_URL must be an absolute http(s) URL, not {base!r}")
        elif production and parts.scheme != "https":
            problems.append("PORTAL_BASE_URL must use https:// in production")

    for name in (
        "SESSION_IDLE_TIMEOUT",
        "SESSION_ABSOLUTE_TIMEOUT",
        "OIDC_TIMEOUT",
        "MAX_LINKED_ACCOUNTS",
        "LINK_FAILURES_PER_RESIDENT",
        "LINK_FAILURES_PER_ADDRESS",
        "LINK_FAILURE_WINDOW_MINUTES",
        "LOGOUT_TOKEN_MAX_AGE",
        "CACHE_TIMEOUT",
        "CACHE_RETRY_SECONDS",
    ):
        value = config.get(name)
        if not isinstance(value, (int, float)) or value <= 0:
            problems.append(f"{name} must be a positive number")
    for name in ("ACCOUNT_NUMBER_LENGTH", "CUSTOMER_ID_LENGTH"):
        value = config.get(name)
        if not isinstance(value, int) or not 0 <= value <= 20:
            problems.append(f"{name} must be a whole number from 0 (no fixed length) to 20")
    redis_url = config.get("REDIS_URL")
    if redis_url and urlsplit(str(redis_url)).scheme not in ("redis", "rediss", "unix"):
        problems.append("REDIS_URL must be a redis://, rediss:// or unix:// URL")
    ttl = config.get("BILLING_CACHE_SECONDS")
    if not isinstance(ttl, int) or not 0 <= ttl <= 3600:
        problems.append("BILLING_CACHE_SECONDS must be a whole number of seconds from 0 (no caching) to 3600")
    locales = split_list(config.get("BABEL_SUPPORTED_LOCALES"))
    missing = [code for code in locales if code != "en" and not (ROOT / "app" / "translations" / code).is_dir()]
    if not locales or missing:
        problems.append(
            "BABEL_SUPPORTED_LOCALES must list languages the portal has translations for (en, es)"
            + (f"; none for {', '.join(missing)}" if missing else "")
        )
    if config.get("LOG_FORMAT") not in ("text", "json"):
        problems.append("LOG_FORMAT must be text or json")
    if not config.get("SQLALCHEMY_DATABASE_URI"):
        problems.append("DATABASE_URL is required")
    return problems


def load_config(config: dict[str, Any], test_config: Mapping[str, Any] | None) -> None:
    """Fill ``config`` in order: defaults, instance file, environment or ``test_config``; then check it."""
    config.update(DEFAULTS)
    if test_config is None:
        instance_file = INSTANCE / "config.py"
        if instance_file.is_file():
            values: dict[str, Any] = {}
            exec(compile(instance_file.read_text(), str(instance_file), "exec"), values)
            config.update({k: v for k, v in values.items() if k.isupper()})
        config.update(settings_from_env())
    else:
        config.update(test_config)

    if not config.get("SECRET_KEY") and not is_production(config):
        config["SECRET_KEY"] = DEV_SECRET_KEY
    if not config.get("OIDC_ISSUER") and not is_production(config) and config.get("DEV_OIDC_ENABLED", True):
        config["DEV_OIDC_ENABLED"] = True
        config["OIDC_ISSUER"] = f"http://localhost:{config['DEV_OIDC_PORT']}"
        if not config.get("OIDC_CLIENT_SECRET"):
            config["OIDC_CLIENT_SECRET"] = "development-client-secret"
    config.setdefault("DEV_OIDC_ENABLED", False)
    if config.get("OIDC_ISSUER"):
        config["OIDC_ISSUER"] = str(config["OIDC_ISSUER"])
    config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(str(config.get("DATABASE_URL") or ""))
    config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})
    config["BABEL_DEFAULT_TIMEZONE"] = config["CITY_TIMEZONE"]
    config["BABEL_TRANSLATION_DIRECTORIES"] = str(ROOT / "app" / "translations")

    problems = check_config(config)
    if problems:
        raise ConfigError("The portal cannot start:\n  - " + "\n  - ".join(problems))
