"""Configuration is read from the environment, checked at start, and fails with a clear message."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask

from app import create_app
from app.accounts.service import LinkRules
from app.core.config import (
    DECLARED,
    DEFAULTS,
    ConfigError,
    Settings,
    build_settings,
    get_settings,
    normalise_database_url,
    settings_from_env,
)
from app.core.config_doc import CONFIG_DOC, doc_with_table
from app.web.cookies import cookie_policy


def test_settings_from_env_parses_types() -> None:
    settings = settings_from_env(
        {"OIDC_TIMEOUT": "2.5", "SESSION_IDLE_TIMEOUT": "60", "OIDC_ALLOW_HTTP_ISSUER": "yes", "UNRELATED": "x"}
    )
    assert settings == {"OIDC_TIMEOUT": 2.5, "SESSION_IDLE_TIMEOUT": 60, "OIDC_ALLOW_HTTP_ISSUER": True}


def test_malformed_settings_are_all_named() -> None:
    with pytest.raises(ConfigError) as error:
        settings_from_env({"OIDC_TIMEOUT": "soon", "SESSION_IDLE_TIMEOUT": "half an hour"})
    assert "OIDC_TIMEOUT" in str(error.value) and "SESSION_IDLE_TIMEOUT" in str(error.value)


def test_create_app_reads_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("CITY_NAME", "City of Minot")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite'}")
    monkeypatch.setenv("OIDC_ISSUER", "https://id.example.org/realms/city")
    app = create_app()
    assert app.config["CITY_NAME"] == "City of Minot"
    assert app.config["OIDC_ISSUER"] == "https://id.example.org/realms/city"
    assert not app.config["DEV_OIDC_ENABLED"]


def test_development_defaults_use_embedded_provider(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.delenv("OIDC_ISSUER", raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite'}")
    app = create_app()
    assert app.config["DEV_OIDC_ENABLED"] is True
    assert app.config["OIDC_ISSUER"] == "http://localhost:5001"


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"OIDC_ISSUER": "ftp://id.example.org"}, "OIDC_ISSUER"),
        ({"OIDC_CLIENT_AUTH_METHOD": "client_secret_post"}, "OIDC_CLIENT_AUTH_METHOD"),
        ({"OIDC_CLIENT_AUTH_METHOD": "private_key_jwt"}, "OIDC_PRIVATE_KEY_FILE"),
        ({"OIDC_ID_TOKEN_ALGS": "none"}, "OIDC_ID_TOKEN_ALGS"),
        ({"OIDC_ID_TOKEN_ALGS": "HS256"}, "OIDC_ID_TOKEN_ALGS"),
        ({"SOCIAL_PROVIDERS": "google,myspace"}, "SOCIAL_PROVIDERS"),
        ({"PORTAL_ENV": "staging"}, "PORTAL_ENV"),
        ({"PORTAL_BASE_URL": "pay.city.example"}, "PORTAL_BASE_URL"),
        ({"SESSION_IDLE_TIMEOUT": 0}, "SESSION_IDLE_TIMEOUT"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
    ],
)
def test_bad_settings_refuse_to_start(overrides: dict, named: str) -> None:
    config = {"PORTAL_ENV": "testing", "DATABASE_URL": "sqlite://", "OIDC_ISSUER": "http://localhost:1"}
    with pytest.raises(ConfigError) as error:
        create_app({**config, **overrides})
    assert named in str(error.value)


def test_production_refuses_the_development_provider() -> None:
    with pytest.raises(ConfigError) as error:
        create_app({"PORTAL_ENV": "production", "SECRET_KEY": "k" * 40, "DATABASE_URL": "sqlite://"})
    assert "development provider" in str(error.value)


def test_production_names_every_problem_at_once() -> None:
    with pytest.raises(ConfigError) as error:
        create_app({"PORTAL_ENV": "production", "DATABASE_URL": "sqlite://", "OIDC_ISSUER": "http://id.example"})
    message = str(error.value)
    assert "SECRET_KEY" in message and "http://" in message and "OIDC_CLIENT_SECRET" in message


def test_production_requires_the_public_base_url() -> None:
    """Behind a proxy, the forwarded host of whoever reaches gunicorn must not choose the redirect URIs."""
    config = {
        "PORTAL_ENV": "production",
        "SECRET_KEY": "k" * 40,
        "DATABASE_URL": "sqlite://",
        "OIDC_ISSUER": "https://id.city.example/realms/citizens",
        "OIDC_CLIENT_SECRET": "s" * 32,
        "PROXY_FIX_HOPS": 1,
    }
    with pytest.raises(ConfigError) as error:
        create_app(config)
    assert "PORTAL_BASE_URL is required in production" in str(error.value)
    assert create_app({**config, "PORTAL_BASE_URL": "https://pay.city.example"}).config["PORTAL_BASE_URL"]


def test_postgres_urls_use_psycopg3() -> None:
    assert normalise_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("sqlite:///x") == "sqlite:///x"


def test_configuration_doc_table_matches_the_declarations() -> None:
    doc = CONFIG_DOC.read_text(encoding="utf-8")
    assert doc_with_table(doc) == doc, (
        "the settings table of docs/configuration.md is stale: run python -m app.core.config_doc"
    )
    for declared in DECLARED:
        assert f"| `{declared.name}` |" in doc


def test_every_declared_setting_has_a_default_and_a_meaning() -> None:
    assert {d.name: getattr(Settings(), d.attr) for d in DECLARED} == DEFAULTS
    assert [d.name for d in DECLARED if not d.spec.doc] == []


def test_environment_lists_and_optional_text_are_parsed() -> None:
    settings = settings_from_env(
        {"SOCIAL_PROVIDERS": " google, apple ,", "OIDC_TRUSTED_AUDIENCES": "billing-api", "PORTAL_BASE_URL": ""}
    )
    assert settings == {"SOCIAL_PROVIDERS": ("google", "apple"), "OIDC_TRUSTED_AUDIENCES": ("billing-api",)}


def test_test_config_values_are_parsed_to_the_declared_types() -> None:
    settings = build_settings(
        {**DEFAULTS, "OIDC_TIMEOUT": 1, "SESSION_IDLE_TIMEOUT": "60", "SOCIAL_PROVIDERS": "google", "REDIS_URL": ""}
    )
    assert settings.oidc_timeout == 1.0 and isinstance(settings.oidc_timeout, float)
    assert settings.session_idle_timeout == 60
    assert settings.social_providers == ("google",)
    assert settings.redis_url is None


def test_values_of_the_wrong_type_are_all_named() -> None:
    with pytest.raises(ConfigError) as error:
        build_settings({**DEFAULTS, "MAX_LINKED_ACCOUNTS": 2.5, "OIDC_ALLOW_HTTP_ISSUER": "maybe", "CITY_NAME": None})
    message = str(error.value)
    assert "MAX_LINKED_ACCOUNTS must be a whole number" in message
    assert "OIDC_ALLOW_HTTP_ISSUER must be true or false" in message
    assert "CITY_NAME is required" in message


def test_app_config_holds_the_parsed_settings(make_app: Callable[..., Flask]) -> None:
    app = make_app(SESSION_IDLE_TIMEOUT="90", BABEL_SUPPORTED_LOCALES="en")
    assert get_settings(app).session_idle_timeout == app.config["SESSION_IDLE_TIMEOUT"] == 90
    assert app.config["BABEL_SUPPORTED_LOCALES"] == ("en",)


def test_feature_settings_are_built_once_from_the_settings(make_app: Callable[..., Flask]) -> None:
    app = make_app(MAX_LINKED_ACCOUNTS=3, LINK_FAILURE_WINDOW_MINUTES=5, OIDC_TRUSTED_AUDIENCES="billing-api")
    rules = app.extensions["link_rules"]
    assert rules == LinkRules.from_settings(get_settings(app))
    assert (rules.max_links, rules.window, rules.account_length) == (3, timedelta(minutes=5), 6)
    oidc = app.extensions["oidc"].settings
    assert oidc.trusted_audiences == ("billing-api",) and oidc.algorithms == ("RS256", "PS256", "ES256")


def test_cookies_are_secure_under_an_https_base_url(make_app: Callable[..., Flask]) -> None:
    assert not cookie_policy(make_app()).always_secure
    app = make_app(PORTAL_BASE_URL="https://pay.example.gov")
    assert cookie_policy(app).flags() == {"path": "/", "secure": True, "httponly": True, "samesite": "Lax"}
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_secrets_stay_out_of_the_settings_repr() -> None:
    settings = build_settings(
        {**DEFAULTS, "SECRET_KEY": "s3cret-key", "OIDC_CLIENT_SECRET": "hunter2", "REDIS_URL": "redis://:pw@cache/0"}
    )
    shown = repr(settings)
    assert "city_name='City of Springfield'" in shown
    assert not any(secret in shown for secret in ("s3cret-key", "hunter2", ":pw@"))
