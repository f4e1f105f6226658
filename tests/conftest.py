"""The suite's shared fixtures and helpers live in ``tests/support/``; this registers them for every test.

Import helpers from their module there (``from tests.support.signin import sign_in``), never from a conftest.
"""

import pytest

pytest_plugins = [
    "tests.support.databases",
    "tests.support.apps",
    "tests.support.signin",
    "tests.support.demo",
    "tests.support.payments",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``--dist loadgroup``), the Keycloak tests share one worker and so one Keycloak."""
    for item in items:
        if item.get_closest_marker("keycloak") is not None:
            item.add_marker(pytest.mark.xdist_group("keycloak"))
