"""Two portal instances under gunicorn share one PostgreSQL database: sessions and logouts are shared.

Needs PostgreSQL (``TEST_POSTGRES_URL``, set up by ``make test``); in CI its absence fails the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests

from tests.auth.provider import HostileProvider
from tests.support.gunicorn import gunicorn, prepare_database, sign_in_over_http
from tests.support.ports import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def instances(gunicorn_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two gunicorn instances (two workers each) on different ports, one database."""
    prepare_database(gunicorn_env)
    with ExitStack() as stack:
        bases = [
            stack.enter_context(gunicorn(gunicorn_env, free_port(), tmp_path / f"gunicorn-{n}.log")) for n in range(2)
        ]
        yield bases[0], bases[1]


def _signed_in(browser: requests.Session, base: str) -> bool:
    response = browser.get(f"{base}/account", allow_redirects=False)
    assert response.status_code in (200, 302)
    return response.status_code == 200


def test_session_is_shared_and_logout_token_ends_it_everywhere(
    instances: tuple[str, str], provider: HostileProvider
) -> None:
    a, b = instances
    resident, neighbour = requests.Session(), requests.Session()
    provider.claims = {"sid": "kc-sid-resident"}
    sign_in_over_http(resident, a, "resident-1")
    provider.claims = {"sid": "kc-sid-neighbour"}
    sign_in_over_http(neighbour, b, "resident-2")
    for _ in range(4):  # several requests, so both workers of each instance answer
        assert _signed_in(resident, a) and _signed_in(resident, b)
        assert _signed_in(neighbour, a) and _signed_in(neighbour, b)

    response = requests.post(
        f"{b}/auth/backchannel-logout", data={"logout_token": provider.logout_token(sid="kc-sid-resident")}, timeout=5
    )
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    for _ in range(4):
        assert not _signed_in(resident, a) and not _signed_in(resident, b)
        assert _signed_in(neighbour, a) and _signed_in(neighbour, b)

    replay = requests.post(
        f"{a}/auth/backchannel-logout",
        data={"logout_token": provider.logout_token(sid="kc-sid-neighbour")},
        timeout=5,
    )
    assert replay.status_code == 200
    assert not _signed_in(neighbour, b)
