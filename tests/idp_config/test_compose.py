"""The local Keycloak compose files, checked by construction (no container engine runs here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from app.idp.placeholders import required_names
from app.idp.schema import unknown_keys
from tests.support.keycloak import KEYCLOAK_VERSION, MAILPIT_VERSION
from tests.support.realm import REALM_FILE

HERE = REALM_FILE.parent


def _load(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((HERE / name).read_text()))


def test_keycloak_service() -> None:
    keycloak = _load("compose.yaml")["services"]["keycloak"]
    assert keycloak["image"] == f"quay.io/keycloak/keycloak:{KEYCLOAK_VERSION}"  # what the keycloak tests run
    assert keycloak["command"] == ["start-dev", "--import-realm"]
    env = keycloak["environment"]
    assert {"KC_BOOTSTRAP_ADMIN_USERNAME", "KC_BOOTSTRAP_ADMIN_PASSWORD"} <= env.keys()
    assert env["KC_HEALTH_ENABLED"] == "true"
    assert "9000" in " ".join(keycloak["healthcheck"]["test"]) and "/health/ready" in " ".join(
        keycloak["healthcheck"]["test"]
    )
    assert "9000:9000" in keycloak["ports"] and "8080:8080" in keycloak["ports"]
    assert "./realm.json:/opt/keycloak/data/import/realm.json:ro" in keycloak["volumes"]
    missing = [name for name in required_names(REALM_FILE.read_text()) if name not in env]
    assert missing == [], f"realm placeholders without a value in compose: {missing}"


def test_portal_points_at_the_same_issuer_keycloak_issues() -> None:
    services = _load("compose.yaml")["services"]
    keycloak_env, portal = services["keycloak"]["environment"], services["portal"]
    assert portal["network_mode"] == "service:keycloak"
    issuer = f"{keycloak_env['KC_HOSTNAME']}/realms/{keycloak_env['KC_REALM']}"
    assert portal["environment"]["OIDC_ISSUER"] == issuer
    assert portal["environment"]["PORTAL_BASE_URL"] == keycloak_env["PORTAL_BASE_URL"]
    assert portal["environment"]["OIDC_CLIENT_SECRET"] == keycloak_env["PORTAL_CLIENT_SECRET"]
    assert portal["depends_on"]["keycloak"]["condition"] == "service_healthy"
    assert services["keycloak"]["environment"]["SMTP_HOST"] == "mailpit"
    assert services["mailpit"]["image"] == f"axllent/mailpit:{MAILPIT_VERSION}"


def test_postgres_overlay_switches_keycloaks_database() -> None:
    overlay = _load("compose.postgres.yaml")["services"]
    env = overlay["keycloak"]["environment"]
    assert env["KC_DB"] == "postgres" and env["KC_DB_URL"] == "jdbc:postgresql://keycloak-db:5432/keycloak"
    assert overlay["keycloak"]["depends_on"]["keycloak-db"]["condition"] == "service_healthy"
    assert overlay["keycloak-db"]["environment"]["POSTGRES_DB"] == "keycloak"
    assert "pg_isready" in " ".join(overlay["keycloak-db"]["healthcheck"]["test"])
    base = _load("compose.yaml")["services"]["keycloak"]["environment"]
    assert base["KC_DB"] == "dev-file" and "KC_DB_URL" not in base  # a JDBC URL would override dev-file


def test_dev_overlay_adds_the_three_test_users() -> None:
    overlay = _load("compose.dev.yaml")["services"]["realm-setup"]
    assert "idp apply --dev-users idp_config/dev/users.json" in overlay["command"]
    users = json.loads((HERE / "dev" / "users.json").read_text())
    for user in users:
        assert unknown_keys({k: v for k, v in user.items() if k != "realmRoles"}, "UserRepresentation") == []
    by_email = {u["email"]: u for u in users}
    assert by_email["resident@example.org"]["emailVerified"] is True
    assert by_email["unverified@example.org"]["emailVerified"] is False
    assert "staff" in by_email["staff@example.org"]["realmRoles"]
    keycloak_env = _load("compose.yaml")["services"]["keycloak"]["environment"]
    assert [n for n in required_names(REALM_FILE.read_text()) if n not in overlay["environment"]] == []
    assert overlay["environment"]["PORTAL_CLIENT_SECRET"] == keycloak_env["PORTAL_CLIENT_SECRET"]


def test_compose_files_exist_where_the_readme_says() -> None:
    readme = (HERE / "README.md").read_text()
    assert "docker compose -f idp_config/compose.yaml -f idp_config/compose.dev.yaml up" in readme
    assert Path(HERE / "providers").is_dir()
