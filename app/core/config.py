"""Settings, each declared once as a field of :class:`Settings`: its default, meaning and check.

Environment parsing, the defaults, the settings table of docs/configuration.md (:mod:`app.core.config_doc`) and the
start-up check all come from these declarations. A field's upper-case name is its environment
variable, an interface relied on by deployment docs: keep the names and defaults. The annotation says
how a value is parsed: ``str``, ``int``, ``float``, ``bool`` or ``tuple[str, ...]`` (comma-separated);
``| None`` makes it optional; ``secret=True`` keeps a value out of ``repr``.
Adding a setting is one line::

    smtp_port: int = setting(587, "port of the mail server", check=positive)

``load_config`` fills ``app.config`` in order: defaults, ``instance/config.py``, the environment (or a
test's ``test_config`` instead of those two), then builds the typed settings once and refuses to start,
naming every problem, if any is missing or malformed.
"""

from __future__ import annotations

import copy
import logging
import os
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar, get_type_hints
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, current_app

ROOT = Path(__file__).resolve().parents[2]
INSTANCE = ROOT / "instance"
TRANSLATIONS = ROOT / "app" / "translations"

KNOWN_SOCIAL_PROVIDERS = ("google", "apple", "microsoft", "facebook")
DEV_SECRET_KEY = "development-only-secret-key-do-not-use-in-production"
DEV_CLIENT_SECRET = "development-client-secret"

#: Flask and extension keys with the portal's own defaults; not portal settings, not in the environment.
FLASK_DEFAULTS: dict[str, Any] = {
    "BABEL_DEFAULT_LOCALE": "en",
    "WTF_CSRF_TIME_LIMIT": None,
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
}

T = TypeVar("T")
#: A check of one setting's parsed value: None when it is fine, else what is wrong ("must be ...").
Check = Callable[[Any], str | None]


class ConfigError(RuntimeError):
    """The configuration is missing or malformed; the message names every problem."""


@dataclass(frozen=True)
class Setting:
    """What a declared setting means (its row in docs/configuration.md) and how it is checked."""

    doc: str
    #: The table's "Default" cell when the value itself would mislead (e.g. a value filled in later).
    shown: str | None = None
    check: Check | None = None


def setting(
    default: T, doc: str = "", *, shown: str | None = None, check: Check | None = None, secret: bool = False
) -> T:
    """Declare a setting: a :class:`Settings` field with its default, documented meaning and check.

    A ``secret`` is left out of the settings' ``repr``, so logging them never shows it.
    """
    return field(default=default, repr=not secret, metadata={"setting": Setting(doc, shown, check)})


def split_list(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """Split a comma-separated setting into its non-empty, stripped items."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [item.strip() for item in value.split(",") if item.strip()]


# Checks, each naming the problem after the setting's name.


def positive(value: float) -> str | None:
    """More than zero."""
    return None if value > 0 else "must be a positive number"


def required(value: str) -> str | None:
    """Not empty."""
    return None if value else "is required"


def one_of(*choices: str) -> Check:
    """One of ``choices``."""
    listed = ", ".join(choices[:-1]) + f" or {choices[-1]}"
    return lambda value: None if value in choices else f"must be {listed}, not {value!r}"


def whole_number(low: int, high: int, meaning: str) -> Check:
    """An int from ``low`` to ``high``; ``meaning`` says so in the message."""
    return lambda value: None if low <= value <= high else f"must be a whole number {meaning}"


def _issuer_url(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"must be an http(s) URL, not {value!r}"
    return "must not contain a query or fragment" if parts.query or parts.fragment else None


def _absolute_url(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        return f"must be an absolute http(s) URL, not {value!r}"
    return None


def _redis_url(value: str) -> str | None:
    # Never echo the value: it may carry a password.
    return (
        None
        if urlsplit(value).scheme in ("redis", "rediss", "unix")
        else "must be a redis://, rediss:// or unix:// URL"
    )


def _asymmetric_algorithms(algs: tuple[str, ...]) -> str | None:
    if algs and not any(a.lower() == "none" or a.startswith("HS") for a in algs):
        return None
    return "must list asymmetric algorithms such as RS256 (never none or HS*)"


def _social_providers(aliases: tuple[str, ...]) -> str | None:
    unknown = [a for a in aliases if a not in KNOWN_SOCIAL_PROVIDERS]
    if not unknown:
        return None
    return f"has unknown entries {', '.join(unknown)}; choose from {', '.join(KNOWN_SOCIAL_PROVIDERS)}"


def _translated_locales(codes: tuple[str, ...]) -> str | None:
    missing = [code for code in codes if code != "en" and not (TRANSLATIONS / code).is_dir()]
    if codes and not missing:
        return None
    return "must list languages the portal has translations for (en, es)" + (
        f"; none for {', '.join(missing)}" if missing else ""
    )


def _time_zone(name: str) -> str | None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"must be a time zone such as America/Chicago, not {name!r}"
    return None


def _fee(value: str) -> str | None:
    from app.core.fees import Fee

    try:
        Fee.parse(value)
    except (ValueError, ArithmeticError):
        return "must be none, flat:<cents> or percent:<0 to 10>"
    return None


def _log_level(name: str) -> str | None:
    return None if isinstance(logging.getLevelName(name.upper()), int) else f"must be a logging level, not {name!r}"


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Every portal setting, typed; ``Settings()`` holds the defaults. Built once per app by ``load_config``."""

    portal_env: str = setting(
        "development",
        "`production` turns on the production refusals: a strong `SECRET_KEY`, a real `OIDC_ISSUER` over https, "
        "no development provider",
        check=one_of("development", "production", "testing"),
    )
    secret_key: str | None = setting(
        None, "32+ random characters; required in production", shown="development-only key", secret=True
    )
    database_url: str = setting(
        f"sqlite:///{INSTANCE / 'portal.sqlite'}",
        "`postgresql://portal@db.internal/portal` (psycopg 3 is used)",
        shown="`sqlite:///instance/portal.sqlite`",
        check=required,
    )
    oidc_issuer: str | None = setting(
        None,
        "`https://id.city.example/realms/citizens` (exact issuer; discovery must name the same)",
        shown="unset: the embedded development provider on `http://localhost:5001`",
        check=_issuer_url,
    )
    oidc_client_id: str = setting("citizen-portal", "the portal's client in the realm", check=required)
    oidc_client_secret: str | None = setting(
        None,
        "required in production with `client_secret_basic`",
        shown="dev value with the development provider",
        secret=True,
    )
    oidc_client_auth_method: str = setting(
        "client_secret_basic",
        'or `private_key_jwt` (Keycloak "Signed JWT")',
        check=one_of("client_secret_basic", "private_key_jwt"),
    )
    oidc_private_key_file: str | None = setting(None, "PEM private key for `private_key_jwt`")
    oidc_scopes: str = setting("openid profile email", "space-separated scopes asked for at sign-in")
    oidc_id_token_algs: tuple[str, ...] = setting(
        ("RS256", "PS256", "ES256"),
        "accepted ID-token algorithms (also must be advertised by the provider; never `none` or `HS*`)",
        check=_asymmetric_algorithms,
    )
    oidc_trusted_audiences: tuple[str, ...] = setting((), "other audiences an ID token may name besides this client")
    oidc_roles_claim: str = setting("realm_access.roles", "dotted path of the roles list in the ID token")
    oidc_staff_role: str = setting("staff", "role that opens the staff console")
    oidc_timeout: float = setting(5.0, "seconds for every call to the provider", check=positive)
    oidc_clock_skew: int = setting(60, "seconds of clock skew tolerated on `exp`/`iat`")
    oidc_max_token_age: int = setting(600, "seconds after `iat` an ID token is still accepted")
    oidc_metadata_ttl: int = setting(3600, "seconds the discovery document is cached")
    oidc_provider_retry_after: int = setting(120, "`Retry-After` seconds when the provider is down")
    oidc_refetch_interval: float = setting(
        10.0,
        "least seconds between provider fetches anyone can cause: `/readyz`'s discovery check, the JWKS "
        "refetch for an unknown `kid`",
        check=positive,
    )
    oidc_allow_http_issuer: bool = setting(
        False, "allow an `http://` issuer in production (TLS ended in front of a private network)"
    )
    oidc_password_reset_url: str | None = setting(
        None,
        "the provider's reset-password page, linked from the sign-in page",
        shown="unset: Keycloak's reset page under `OIDC_ISSUER` (none with the development provider)",
        check=_absolute_url,
    )
    dev_oidc_port: int = setting(5001, "port of the embedded development provider")
    portal_base_url: str | None = setting(
        None,
        "`https://pay.city.example`; redirect URIs are built from it exactly as the realm registers them; "
        "required in production",
        shown="unset (from the request)",
        check=_absolute_url,
    )
    city_name: str = setting("City of Springfield", "shown in the header and footer")
    city_url: str = setting("https://www.example.gov", "the city's home page, linked from the footer")
    city_timezone: str = setting("America/Chicago", "times are shown in this zone", check=_time_zone)
    clock_start: str | None = setting(
        None,
        "pins the calendar for demos, training and tests: the portal's clock starts at this date (09:00 city time) "
        "or ISO 8601 time (city time unless it carries an offset) and runs on from there; refused in production",
        shown="unset: the machine's clock",
    )
    utility_phone: str = setting("(555) 010-0100", "whom residents call, on help and error pages")
    utility_email: str = setting("utilitybilling@example.gov", "whom residents write to, on help and error pages")
    social_providers: tuple[str, ...] = setting(
        ("google", "microsoft", "facebook"),
        'which "Sign in with …" buttons show; values are the realm\'s identity-provider aliases '
        "(`apple` too where Keycloak has the Apple extension, see `idp_config/README.md`)",
        check=_social_providers,
    )
    account_number_length: int = setting(
        6,
        "digits of an account number; shorter input is padded with leading zeros (`0`: no fixed length)",
        check=whole_number(0, 20, "from 0 (no fixed length) to 20"),
    )
    customer_id_length: int = setting(
        7,
        "digits of a customer ID; shorter input is padded with leading zeros (`0`: no fixed length)",
        check=whole_number(0, 20, "from 0 (no fixed length) to 20"),
    )
    link_proof: str = setting(
        "customer_id",
        "what a resident types besides the account number to link it or to use Pay Now: `customer_id`, "
        "`last_name` (the current customer's last name) or `last_bill_amount` (the amount of their most recent "
        "bill); links always store account number + customer ID",
        check=one_of("customer_id", "last_name", "last_bill_amount"),
    )
    max_linked_accounts: int = setting(10, "accounts one resident may link", check=positive)
    link_failures_per_resident: int = setting(
        5,
        "wrong linking pairs (account number and the `LINK_PROOF` proof) allowed per resident per window,"
        " counted in the database",
        check=positive,
    )
    link_failures_per_address: int = setting(
        30,
        "wrong linking pairs (account number and the `LINK_PROOF` proof) allowed per client address per window",
        check=positive,
    )
    link_failures_per_account: int = setting(
        10,
        "wrong pairs allowed per account number per window, whoever types them: residents linking and Pay Now "
        "guests, from any address (the pages count down the last 2)",
        check=positive,
    )
    link_failure_window_minutes: int = setting(15, "the window for those limits", check=positive)
    logout_token_max_age: int = setting(
        300, "seconds after `iat` a back-channel logout token is accepted", check=positive
    )
    session_idle_timeout: int = setting(1800, "seconds without a request before a session ends", check=positive)
    session_absolute_timeout: int = setting(
        43200, "seconds after sign-in when a session ends regardless", check=positive
    )
    proxy_fix_hops: int = setting(0, "number of trusted proxies setting `X-Forwarded-*`")
    redis_url: str | None = setting(
        None,
        "`redis://cache.internal:6379/0` (or `rediss://`); the shared cache of account summaries and home-page "
        "fragments",
        shown="unset: no cache",
        check=_redis_url,
        secret=True,  # may carry a password
    )
    cache_key_prefix: str = setting(
        "portal:", "prefix of every cache key; give each deployment sharing a Redis its own"
    )
    billing_cache_seconds: int = setting(
        60,
        "how long an account summary, kept signed-in page or home-page fragment may be reused (`0`: never); "
        "without Redis, how long each process keeps the announcements (a change shows within it)",
        check=whole_number(0, 3600, "of seconds from 0 (no caching) to 3600"),
    )
    page_cache_entries: int = setting(
        1000,
        "without Redis, how many kept signed-in pages (home, account summary, bills, consumption) and account "
        "cards each process keeps, under keys holding the resident's links version and the cache epoch that "
        "every import raises, so never out of date (`0`: none)",
        check=whole_number(0, 100_000, "of entries from 0 to 100000"),
    )
    billing_extract_mapping: str = setting(
        str(INSTANCE / "extract-mapping.toml"),
        "the city's column names and formats for `flask billing import` (see `docs/billing-extract.md`)",
        shown="`instance/extract-mapping.toml`",
    )
    cache_timeout: float = setting(0.25, "seconds to wait for Redis", check=positive)
    cache_retry_seconds: float = setting(30.0, "seconds to leave Redis alone after it failed", check=positive)
    babel_supported_locales: tuple[str, ...] = setting(
        ("en", "es"), "languages offered; `en` alone hides the language switch", check=_translated_locales
    )
    log_format: str = setting("text", "`json` for one JSON object per line", check=one_of("text", "json"))
    log_level: str = setting("INFO", "`DEBUG`, `INFO`, `WARNING` or `ERROR`", check=_log_level)
    payment_processor: str = setting(
        "dev",
        "`dev`: the embedded development processor (never in production); `stripe`",
        check=one_of("dev", "stripe"),
    )
    stripe_secret_key: str | None = setting(
        None, "Stripe secret key (`sk_live_…`) for `PAYMENT_PROCESSOR=stripe`", secret=True
    )
    stripe_webhook_secret: str | None = setting(
        None, "signing secret of the Stripe webhook endpoint (`whsec_…`)", secret=True
    )
    stripe_api_base: str | None = setting(
        None, "another address for Stripe's API (the tests' stripe-mock)", check=_absolute_url
    )
    dev_payments_port: int = setting(5002, "port of the embedded development payment processor")
    payment_min_cents: int = setting(
        100, "smallest payment, in cents", check=whole_number(50, 10**9, "of cents, at least 50")
    )
    payment_max_cents: int = setting(500_000, "largest payment, in cents", check=positive)
    payment_card_fee: str = setting(
        "none", "card convenience fee: `none`, `flat:150` (cents) or `percent:2.5`", check=_fee
    )
    payment_ach_fee: str = setting("none", "bank account (ACH) convenience fee, as `PAYMENT_CARD_FEE`", check=_fee)
    autopay_days_before_due: int = setting(
        0,
        "Auto Pay charges a bill this many days before its due date",
        check=whole_number(0, 28, "of days from 0 to 28"),
    )
    reauth_minutes: int = setting(
        5, "Auto Pay changes need a sign-in at most this old", check=whole_number(1, 60, "of minutes from 1 to 60")
    )
    smtp_host: str | None = setting(
        None,
        "mail server for receipts and Auto Pay notices (unset: outside production the development mail catcher "
        "keeps them, shown at `/_dev/mail`; in production nothing is sent)",
    )
    smtp_port: int = setting(587, "port of the mail server", check=positive)
    smtp_user: str | None = setting(None, "user name at the mail server")
    smtp_password: str | None = setting(None, "password at the mail server", secret=True)
    smtp_from: str | None = setting(None, "sender of the portal's email", shown="`UTILITY_EMAIL`")
    smtp_starttls: bool = setting(True, "upgrade the mail connection with STARTTLS")

    #: Derived, not a setting: no ``OIDC_ISSUER`` outside production means the embedded development provider.
    dev_oidc_enabled: bool = False

    @property
    def production(self) -> bool:
        """True when the portal runs as a production deployment."""
        return self.portal_env == "production"

    @property
    def database_uri(self) -> str:
        """``DATABASE_URL`` as SQLAlchemy takes it (psycopg 3 for PostgreSQL)."""
        return normalise_database_url(self.database_url)

    def as_config(self) -> dict[str, Any]:
        """Every setting under its variable name, and the keys Flask and its extensions read."""
        config = {d.name: getattr(self, d.attr) for d in DECLARED}
        config.update(
            DEV_OIDC_ENABLED=self.dev_oidc_enabled,
            SQLALCHEMY_DATABASE_URI=self.database_uri,
            BABEL_DEFAULT_TIMEZONE=self.city_timezone,
            BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS),
        )
        return config


@dataclass(frozen=True)
class Declared:
    """A declared setting with what its annotation says: the parsed type, and whether it may be unset."""

    name: str
    attr: str
    kind: type
    optional: bool
    default: Any
    spec: Setting


def _declarations() -> tuple[Declared, ...]:
    hints = get_type_hints(Settings)
    declared = []
    for f in fields(Settings):
        spec = f.metadata.get("setting")
        if spec is None:
            continue
        hint = hints[f.name]
        args = [a for a in getattr(hint, "__args__", ()) if a is not type(None)]
        optional = isinstance(hint, types.UnionType)
        kind = args[0] if optional else getattr(hint, "__origin__", hint)
        if kind not in (str, int, float, bool, tuple):
            raise TypeError(f"setting {f.name}: declare it as str, int, float, bool or tuple[str, ...]")
        declared.append(Declared(f.name.upper(), f.name, kind, optional, f.default, spec))
    return tuple(declared)


DECLARED = _declarations()
#: Each setting's default under its variable name.
DEFAULTS: dict[str, Any] = {d.name: d.default for d in DECLARED}
_KIND_WORDS = {int: "a whole number", float: "a number", bool: "true or false", tuple: "a comma-separated list"}


def _parse(d: Declared, raw: str) -> Any:
    """A value given as text (the environment, or text in the instance file)."""
    if d.kind is str:
        return raw if raw or not d.optional else None
    if d.kind is tuple:
        return tuple(split_list(raw))
    if d.kind is bool:
        value = raw.strip().lower()
        if value in ("1", "true", "yes", "on", "0", "false", "no", "off", ""):
            return value in ("1", "true", "yes", "on")
    else:
        try:
            return d.kind(raw)
        except ValueError:
            pass
    raise ConfigError(f"{d.name} must be {_KIND_WORDS[d.kind]}, not {raw!r}")


def _coerce(d: Declared, value: Any) -> Any:
    """A configured value as its declared type; ConfigError names the setting when it is not one."""
    if value is None:
        if d.optional:
            return None
        raise ConfigError(f"{d.name} is required")
    if isinstance(value, str):
        return _parse(d, value)
    if d.kind is str:
        return str(value)
    if d.kind is tuple and isinstance(value, (list, tuple)):
        return tuple(split_list(value))
    if d.kind is bool and isinstance(value, bool):
        return value
    # An int where a float is declared is fine; a float (or a bool) where an int is declared is not.
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and (d.kind is float or (d.kind is int and isinstance(value, int))):
        return d.kind(value)
    raise ConfigError(f"{d.name} must be {_KIND_WORDS[d.kind]}, not {value!r}")


def settings_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Parse the declared settings that are set (and not empty) in ``environ``."""
    environ = os.environ if environ is None else environ
    settings: dict[str, Any] = {}
    problems: list[str] = []
    for d in DECLARED:
        raw = environ.get(d.name)
        if raw is None or raw == "":
            continue
        try:
            settings[d.name] = _parse(d, raw)
        except ConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError("Invalid configuration: " + "; ".join(problems))
    return settings


def normalise_database_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgres://`` and ``postgresql://`` URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


# Checks that need more than one setting.


def _production_secret_key(s: Settings) -> Iterator[str]:
    if not s.production:
        return
    if not s.secret_key:
        yield "SECRET_KEY is required in production (at least 32 random characters)"
    elif len(s.secret_key) < 32 or s.secret_key == DEV_SECRET_KEY:
        yield "SECRET_KEY is too weak for production: use at least 32 random characters"


def _production_issuer(s: Settings) -> Iterator[str]:
    if not s.production:
        return
    if not s.oidc_issuer:
        yield "OIDC_ISSUER is required in production: the embedded development provider refuses to run there"
    elif urlsplit(s.oidc_issuer).scheme == "http" and not s.oidc_allow_http_issuer:
        yield (
            "OIDC_ISSUER uses http:// in production; use https:// "
            "(or set OIDC_ALLOW_HTTP_ISSUER=true if TLS ends in front of a private network)"
        )


def _client_authentication(s: Settings) -> Iterator[str]:
    if s.oidc_client_auth_method == "client_secret_basic" and s.production and not s.oidc_client_secret:
        yield "OIDC_CLIENT_SECRET is required in production"
    if s.oidc_client_auth_method == "private_key_jwt":
        if not s.oidc_private_key_file:
            yield "OIDC_PRIVATE_KEY_FILE is required when OIDC_CLIENT_AUTH_METHOD=private_key_jwt"
        elif not Path(s.oidc_private_key_file).is_file():
            yield f"OIDC_PRIVATE_KEY_FILE {s.oidc_private_key_file!r} does not exist"


def _production_base_url(s: Settings) -> Iterator[str]:
    # Without it, redirect URIs would follow the request's (forwarded) host, which whoever reaches the
    # portal directly may choose.
    if s.production and not s.portal_base_url:
        yield "PORTAL_BASE_URL is required in production (the public https:// URL registered in the realm)"
    elif s.production and s.portal_base_url and urlsplit(s.portal_base_url).scheme == "http":
        yield "PORTAL_BASE_URL must use https:// in production"


def _payments(s: Settings) -> Iterator[str]:
    if s.payment_processor == "stripe" and not (s.stripe_secret_key and s.stripe_webhook_secret):
        yield "PAYMENT_PROCESSOR=stripe needs STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET"
    if s.payment_min_cents > s.payment_max_cents:
        yield "PAYMENT_MIN_CENTS must not be more than PAYMENT_MAX_CENTS"


def _clock_start(s: Settings) -> Iterator[str]:
    if s.clock_start is None:
        return
    if s.production:
        yield "CLOCK_START must not be set in production: the portal's calendar is the machine's clock there"
        return
    from app.core.clock import parse_instant

    try:
        parse_instant(s.clock_start, ZoneInfo(s.city_timezone))
    except (ValueError, ZoneInfoNotFoundError) as exc:
        yield f"CLOCK_START must be a date (2026-11-23) or an ISO 8601 time (2026-11-23T09:00:00-06:00): {exc}"


RULES: tuple[Callable[[Settings], Iterator[str]], ...] = (
    _production_secret_key,
    _production_issuer,
    _client_authentication,
    _production_base_url,
    _payments,
    _clock_start,
)


def check_settings(settings: Settings, *, skip: frozenset[str] = frozenset()) -> list[str]:
    """Every problem with ``settings`` (each declared check, then the rules across settings); [] if usable."""
    problems = []
    for d in DECLARED:
        value = getattr(settings, d.attr)
        if d.name not in skip and d.spec.check is not None and value is not None:
            problem = d.spec.check(value)
            if problem:
                problems.append(f"{d.name} {problem}")
    for rule in RULES:
        problems.extend(rule(settings))
    return problems


def _with_development_defaults(settings: Settings) -> Settings:
    """Outside production: a development secret key, and the embedded provider when no issuer is set."""
    if settings.production:
        return settings
    changes: dict[str, Any] = {"secret_key": settings.secret_key or DEV_SECRET_KEY}
    if not settings.oidc_issuer:
        changes.update(
            dev_oidc_enabled=True,
            oidc_issuer=f"http://localhost:{settings.dev_oidc_port}",
            oidc_client_secret=settings.oidc_client_secret or DEV_CLIENT_SECRET,
        )
    return replace(settings, **changes)


def build_settings(config: Mapping[str, Any]) -> Settings:
    """The typed settings of a flat configuration; ConfigError names every problem at once."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    for d in DECLARED:
        try:
            values[d.attr] = _coerce(d, config.get(d.name, d.default))
        except ConfigError as exc:
            problems.append(str(exc))
    settings = _with_development_defaults(Settings(**values))
    malformed = frozenset(d.name for d in DECLARED if d.attr not in values)
    problems.extend(check_settings(settings, skip=malformed))
    if problems:
        raise ConfigError("The portal cannot start:\n  - " + "\n  - ".join(problems))
    return settings


def load_config(app: Flask, test_config: Mapping[str, Any] | None) -> Settings:
    """Fill ``app.config`` (defaults, instance file, environment or ``test_config``) and keep its settings.

    The typed settings go to ``app.extensions["settings"]`` and back into ``app.config``, parsed.
    """
    app.config.from_mapping(copy.deepcopy(FLASK_DEFAULTS))
    app.config.from_mapping(DEFAULTS)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.update(settings_from_env())
    else:
        app.config.update(test_config)
    settings = build_settings(app.config)
    app.config.update(settings.as_config())
    app.extensions["settings"] = settings
    return settings


def get_settings(app: Flask | None = None) -> Settings:
    """The settings of ``app`` (by default the current one)."""
    found: Settings = (app or current_app).extensions["settings"]
    return found
