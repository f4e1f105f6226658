"""How pytest-xdist shares the suite between workers: test by test, except the Keycloak tests, which go together.

The Keycloak tests share one Keycloak, started once per session (``tests/browser/keycloak/conftest.py``); on two
workers they would start two, on the same ports. xdist's own ``--dist loadgroup`` (by ``xdist_group`` marks) does
not group them under pytest 9, so the scheduler is chosen here, by path.
"""

from __future__ import annotations

from typing import Any

import pytest

#: Tests under this folder run on one worker, one after another.
TOGETHER = "tests/browser/keycloak/"


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Load scheduling in which every test is its own unit, and the Keycloak tests are one."""
    if config.getvalue("dist") not in ("load", "loadgroup"):
        return None
    from xdist.scheduler import LoadScopeScheduling

    class KeycloakTogether(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return "keycloak" if nodeid.startswith(TOGETHER) else nodeid

    return KeycloakTogether(config, log)
