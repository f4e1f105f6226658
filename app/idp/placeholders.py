"""``${ENV}`` and ``${ENV:default}`` placeholders, resolved the way Keycloak's ``--import-realm`` resolves them.

Keycloak replaces placeholders in the raw JSON text before parsing it, from environment variables only,
without JSON-escaping the values; this module does the same, so ``flask idp apply`` and Keycloak's start-up
import read the same realm from the same environment. A value holding ``"``, ``\\`` or a line break must
therefore be written JSON-escaped in the environment (e.g. the Apple ``.p8`` key with ``\\n`` between lines).

Only upper-case names are environment placeholders here; Keycloak's own message keys such as ``${username}``
stay literal, as they do in Keycloak when no such environment variable exists.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)(?::([^}]*))?\}")
_NEEDS_ESCAPING = re.compile(r'["\\\x00-\x1f]')


@dataclass(frozen=True)
class Placeholder:
    """One placeholder name, and its default when it has one."""

    name: str
    default: str | None


class MissingValues(Exception):
    """Required placeholders have no value in the environment."""

    def __init__(self, names: list[str]) -> None:
        super().__init__("missing required environment variables: " + ", ".join(names))
        self.names = names


class BadValues(ValueError):
    """The filled-in text is not JSON; ``names`` are the variables whose values are the likely cause."""

    def __init__(self, detail: str, names: list[str]) -> None:
        hint = (
            f" - check {', '.join(names)}: Keycloak inserts values as they are, so a quote, backslash or line "
            'break must be written JSON-escaped (\\", \\\\, \\n)'
            if names
            else ""
        )
        super().__init__(f"the realm is not valid JSON once filled in: {detail}{hint}")
        self.names = names


def placeholders(text: str) -> dict[str, Placeholder]:
    """Every placeholder in ``text`` by name (a default anywhere makes the name optional)."""
    found: dict[str, Placeholder] = {}
    for match in PLACEHOLDER.finditer(text):
        name, default = match.group(1), match.group(2)
        if name not in found or (found[name].default is None and default is not None):
            found[name] = Placeholder(name, default)
    return found


def required_names(text: str) -> list[str]:
    """Names without a default: these must be set to render the realm."""
    return sorted(name for name, p in placeholders(text).items() if p.default is None)


def fill(text: str, environ: Mapping[str, str]) -> str:
    """Replace every placeholder from ``environ`` as Keycloak does; raise :class:`MissingValues` naming each one unset.

    A required placeholder whose variable is unset or empty is missing; a placeholder with a default takes the
    variable's value when it is set (even to the empty string, as in Keycloak), else the default.
    """
    missing = sorted(
        {m.group(1) for m in PLACEHOLDER.finditer(text) if m.group(2) is None and not environ.get(m.group(1))}
    )
    if missing:
        raise MissingValues(missing)

    def value(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        return environ.get(name, default or "")

    return PLACEHOLDER.sub(value, text)


def render(text: str, environ: Mapping[str, str]) -> str:
    """Fill the placeholders and check that the result is JSON; raise :class:`BadValues` naming suspect variables."""
    filled = fill(text, environ)
    try:
        json.loads(filled)
    except ValueError as exc:
        suspects = sorted(
            name
            for name in placeholders(text)
            if name in environ and _NEEDS_ESCAPING.search(environ[name]) and _breaks_json(environ[name])
        )
        raise BadValues(str(exc), suspects) from None
    return filled


def _breaks_json(value: str) -> bool:
    try:
        json.loads(f'"{value}"')
    except ValueError:
        return True
    return False
