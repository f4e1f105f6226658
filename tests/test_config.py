"""Configuration is read from the environment, checked at start, and fails with a clear message."""

from __future__ import annotations

import pytest

from app import create_app
from app.config import ConfigError, normalise_database_url, settings_from_env


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


def test_postgres_urls_use_psycopg3() -> None:
    assert normalise_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("sqlite:///x") == "sqlite:///x"
