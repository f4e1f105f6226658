"""``flask idp ...``: render, validate, plan and apply the realm in idp_config/, and unlock a resident."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup

from app.core.config import ROOT
from app.idp.admin import AdminError, AdminSettings, KeycloakAdmin
from app.idp.extensions import UnknownExtension, chosen, with_extensions
from app.idp.placeholders import BadValues, MissingValues, render
from app.idp.plan import apply, plan
from app.idp.users import ensure_users, unlock
from app.idp.validate import validate

idp_cli = AppGroup("idp", help="Render, validate, plan and apply the Keycloak realm in idp_config/.")
DEFAULT_REALM_FILE = ROOT / "idp_config" / "realm.json"
realm_file_option = click.option(
    "--realm-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=DEFAULT_REALM_FILE,
    show_default=True,
    help="The realm definition with ${ENV} placeholders.",
)

extension_option = click.option(
    "--extension",
    "extensions",
    multiple=True,
    metavar="NAME",
    help="Add idp_config/extensions/NAME.json (e.g. apple, where its Keycloak extension is installed); "
    "default: $KC_REALM_EXTENSIONS (comma-separated).",
)


def _realm_text(realm_file: Path, extensions: tuple[str, ...]) -> str:
    names = chosen(extensions, os.environ)
    try:
        return with_extensions(realm_file.read_text(), names)
    except UnknownExtension as exc:
        raise click.ClickException(str(exc)) from None
    except ValueError as exc:
        raise click.ClickException(f"{realm_file} is not valid JSON: {exc}") from None


def _rendered(realm_file: Path, extensions: tuple[str, ...] = ()) -> dict[str, Any]:
    try:
        return dict(json.loads(render(_realm_text(realm_file, extensions), os.environ)))
    except (MissingValues, BadValues) as exc:
        raise click.ClickException(str(exc)) from None
    except ValueError as exc:
        raise click.ClickException(f"{realm_file} does not render to valid JSON: {exc}") from None


def _admin(realm: str) -> KeycloakAdmin:
    url = os.environ.get("KEYCLOAK_URL")
    if not url:
        raise click.ClickException("set KEYCLOAK_URL to Keycloak's base URL, e.g. https://id.city.example")
    return KeycloakAdmin(
        AdminSettings(
            base_url=url,
            realm=realm,
            client_id=os.environ.get("KEYCLOAK_ADMIN_CLIENT_ID"),
            client_secret=os.environ.get("KEYCLOAK_ADMIN_CLIENT_SECRET"),
            username=os.environ.get("KEYCLOAK_ADMIN_USERNAME"),
            password=os.environ.get("KEYCLOAK_ADMIN_PASSWORD"),
            timeout=float(os.environ.get("KEYCLOAK_TIMEOUT", "10")),
        )
    )


@idp_cli.command("render")
@realm_file_option
@extension_option
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    default=None,
    help="Write here (mode 600: it holds secrets) instead of standard output; - is standard output.",
)
def render_command(realm_file: Path, extensions: tuple[str, ...], output: Path | None) -> None:
    """Write the realm with placeholders filled from the environment."""
    text = json.dumps(_rendered(realm_file, extensions), indent=2) + "\n"
    if output is None or str(output) == "-":
        click.echo(text, nl=False)
    else:
        output.write_text(text)
        output.chmod(0o600)  # it holds secrets
        click.echo(f"wrote {output}", err=True)


@idp_cli.command("validate")
@realm_file_option
@extension_option
def validate_command(realm_file: Path, extensions: tuple[str, ...]) -> None:
    """Check the realm without Keycloak: known keys only, and the portal's rules."""
    names = chosen(extensions, os.environ)
    problems = validate(_realm_text(realm_file, extensions) if names else realm_file.read_text())
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    if problems:
        raise click.ClickException(f"{len(problems)} problem(s) in {realm_file}")
    extra = f" with {', '.join(names)}" if names else ""
    click.echo(f"{realm_file}{extra}: valid for Keycloak 26.7")


def _plan(realm_file: Path, rotate: bool, extensions: tuple[str, ...]) -> tuple[KeycloakAdmin, list[Any]]:
    realm = _rendered(realm_file, extensions)
    admin = _admin(realm["realm"])
    try:
        return admin, plan(admin, realm, rotate_secrets=rotate)
    except AdminError as exc:
        raise click.ClickException(str(exc)) from None


rotate_option = click.option(
    "--rotate-secrets", is_flag=True, help="Also write client and identity-provider secrets from the environment."
)


@idp_cli.command("plan")
@realm_file_option
@extension_option
@rotate_option
def plan_command(realm_file: Path, extensions: tuple[str, ...], rotate_secrets: bool) -> None:
    """Show what ``apply`` would change in the live Keycloak (drift shows every time)."""
    _, changes = _plan(realm_file, rotate_secrets, extensions)
    for change in changes:
        click.echo(change.render())
    pending = [c for c in changes if c.action != "unchanged"]
    click.echo(
        f"\nPlan: {sum(c.action == 'create' for c in pending)} to create, "
        f"{sum(c.action == 'update' for c in pending)} to update."
        if pending
        else "\nNo changes."
    )


@idp_cli.command("apply")
@realm_file_option
@extension_option
@rotate_option
@click.option(
    "--dev-users",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Also create these test users (development only).",
)
def apply_command(realm_file: Path, extensions: tuple[str, ...], rotate_secrets: bool, dev_users: Path | None) -> None:
    """Make the live realm match the file; never deletes users or sessions."""
    admin, changes = _plan(realm_file, rotate_secrets, extensions)
    try:
        done = apply(changes)
        if dev_users is not None:
            from flask import current_app

            if current_app.config.get("PORTAL_ENV") == "production":
                raise click.ClickException("--dev-users refuses to run with PORTAL_ENV=production")
            created = ensure_users(admin, json.loads(dev_users.read_text()))
            for email in created:
                click.echo(f"  + user {email}")
    except AdminError as exc:
        raise click.ClickException(str(exc)) from None
    for change in done:
        click.echo(change.render())
    click.echo(f"\nApplied {len(done)} change(s)." if done else "No changes.")


@idp_cli.command("unlock")
@click.argument("email")
@click.option("--realm", default=lambda: os.environ.get("KC_REALM", "citizens"), show_default="$KC_REALM or citizens")
def unlock_command(email: str, realm: str) -> None:
    """Clear a resident's brute-force lockout ("I'm locked out" calls)."""
    try:
        user_id = unlock(_admin(realm), email)
    except AdminError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"unlocked {email} (user {user_id}) in realm {realm}")
