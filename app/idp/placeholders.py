"""``${ENV}`` and ``${ENV:default}`` placeholders, as Keycloak's ``--import-realm`` resolves them.

Only upper-case names are environment placeholders; Keycloak's own message keys such as ``${username}``
are left alone, as Keycloak leaves them. Values are JSON-escaped so that any secret renders valid JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)(?::([^}]*))?\}")


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


def render(text: str, environ: Mapping[str, str]) -> str:
    """Fill every placeholder from ``environ``; raise :class:`MissingValues` naming each one unset."""
    missing = sorted(
        {m.group(1) for m in PLACEHOLDER.finditer(text) if m.group(2) is None and not environ.get(m.group(1))}
    )
    if missing:
        raise MissingValues(missing)

    def fill(match: re.Match[str]) -> str:
        value = environ.get(match.group(1)) or match.group(2) or ""
        return json.dumps(value)[1:-1]

    return PLACEHOLDER.sub(fill, text)
