"""Two portal instances under gunicorn share one PostgreSQL database: sessions and logouts are shared.

Needs PostgreSQL (``TEST_POSTGRES_URL``, set up by ``make test``); in CI its absence fails the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.auth.provider import HostileProvider, running
from tests.browser.conftest import free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture
def provider() -> Iterator[HostileProvider]:
    with running(HostileProvider()) as p:
        yield p


def _wait_healthy(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.2)
    raise AssertionError(f"{base} did not become healthy")


@pytest.fixture
def instances(database_url: str, provider: HostileProvider, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two gunicorn instances (two workers each) on different ports, one database."""
    env = {
        **os.environ,
        "PORTAL_ENV": "development",
        "SECRET_KEY": "two-instances-secret-key-0123456789abcdef",
        "DATABASE_URL": database_url,
        "OIDC_ISSUER": provider.issuer,
        "OIDC_CLIENT_ID": provider.client_id,
        "OIDC_CLIENT_SECRET": provider.client_secret,
        "GUNICORN_WORKERS": "2",
        "GUNICORN_ACCESS_LOG": os.devnull,
    }
    subprocess.run(
        [BIN / "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    processes, bases, logs = [], [], []
    for n in range(2):
        port = free_port()
        log = tmp_path / f"gunicorn-{n}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [BIN / "gunicorn", "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}", "wsgi:app"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=out,
            )
        processes.append(process)
        bases.append(f"http://127.0.0.1:{port}")
        logs.append(log)
    try:
        for base, process, log in zip(bases, processes, logs, strict=True):
            _wait_healthy(base, process, log)
        yield bases[0], bases[1]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(10)


def _sign_in(browser: requests.Session, base: str, sub: str) -> None:
    start = browser.get(f"{base}/login", allow_redirects=False)
    assert start.status_code == 302, start.text
    at_provider = requests.get(start.headers["Location"] + f"&login_hint={sub}", allow_redirects=False, timeout=5)
    callback = browser.get(at_provider.headers["Location"], allow_redirects=False)
    assert callback.status_code == 302, callback.text


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
    _sign_in(resident, a, "resident-1")
    provider.claims = {"sid": "kc-sid-neighbour"}
    _sign_in(neighbour, b, "resident-2")
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
