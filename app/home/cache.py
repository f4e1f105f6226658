"""Cache keys of the home page and its fragments.

The fragments are rendered from billing data, so their keys live under the billing cache's prefix: loading
new billing data (``clear_billing_cache``) drops them with the summaries.
"""

from __future__ import annotations

from app.billing.cache import PREFIX

#: The version changes when a fragment's markup or meaning does.
HOME = PREFIX + "home:v1:"


def fragment_key(name: str, *parts: object) -> str:
    """The cache key of a home-page fragment; ``parts`` name everything the fragment depends on."""
    return HOME + name + ":" + ":".join(str(part) for part in parts)
