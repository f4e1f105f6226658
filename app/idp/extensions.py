"""Parts of the realm that need a Keycloak provider extension, kept apart so that stock Keycloak imports the rest.

``idp_config/extensions/<name>.json`` holds a fragment of a RealmRepresentation (e.g. the ``apple`` identity
provider, which needs the klausbetz/apple-identity-provider-keycloak jar); its lists are appended to the realm's.
Stock Keycloak 26.7.3 refuses the whole realm file on an unknown provider ("Invalid identity provider id
[apple]"), so the default realm names none, and ``flask idp ... --extension apple`` (or
``KC_REALM_EXTENSIONS=apple``) adds it where the jar is installed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from app.core.config import ROOT, split_list

EXTENSIONS_DIR = ROOT / "idp_config" / "extensions"
ENV_NAME = "KC_REALM_EXTENSIONS"


class UnknownExtension(ValueError):
    """No fragment file for this extension name."""


def available() -> list[str]:
    """The extension names that have a fragment file."""
    return sorted(p.stem for p in EXTENSIONS_DIR.glob("*.json"))


def chosen(names: Sequence[str], environ: Mapping[str, str]) -> list[str]:
    """The names given on the command line, else those in ``KC_REALM_EXTENSIONS`` (comma-separated)."""
    return list(names) or split_list(environ.get(ENV_NAME, ""))


def with_extensions(text: str, names: Sequence[str]) -> str:
    """The realm text with each named fragment's lists appended (placeholders untouched)."""
    if not names:
        return text
    realm = json.loads(text)
    for name in names:
        path = EXTENSIONS_DIR / f"{name}.json"
        if not path.is_file():
            raise UnknownExtension(f"no realm extension {name!r} (available: {', '.join(available()) or 'none'})")
        for key, items in json.loads(path.read_text()).items():
            realm[key] = [*(realm.get(key) or []), *items]
    return json.dumps(realm, indent=2, ensure_ascii=False) + "\n"
